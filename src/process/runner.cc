// ShardRunner (runner.h) and Supervisor (service_impl.h).
#include "runner.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <set>
#include <unordered_map>

#include "freshet/common/base64.h"
#include "freshet/common/clock.h"
#include "freshet/common/thread_name.h"
#include "freshet/delivery/delivery.h"
#include "freshet/stream/names.h"
#include "json_util.h"

namespace freshet::process {
namespace {

std::string request_id() {
  static thread_local std::mt19937_64 g(std::random_device{}());
  const uint64_t a = g(), b = g();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

constexpr int64_t kIdleAgeMs = 1500;  // caught up this long with nothing new: IteratorAge 0
constexpr int64_t kCheckpointEveryMs = 1000;  // checkpoints that only move the position
constexpr int64_t kSteadyPollGapMs = 50;     // reads of a caught-up shard under load
constexpr size_t kTableChunk = 256;    // ops per batch_write (it rejects duplicate keys)
constexpr size_t kStreamChunk = 500;   // records per put_records / put_record_batch
constexpr size_t kDeliveryBatchBytes = 4 * 1000 * 1000;  // PutRecordBatch's 4 MB
constexpr size_t kFailureRecordBytes = 900 * 1024;  // below Kinesis' 1 MiB record limit

// The key of an item in its table, for de-duplicating a batch's puts (last one wins): per
// key attribute its type and length, then its bytes (key values are S, N or B: str() holds
// them; validate_item_keys has checked them first).
std::string key_of(const table::TableDesc& d, const table::Item& item) {
  std::string k;
  auto add = [&](const std::string& name) {
    auto it = item.find(name);
    if (it == item.end()) return;
    const std::string& v = it->second.str();
    k.push_back(static_cast<char>(it->second.type()));
    const uint32_t n = static_cast<uint32_t>(v.size());
    k.append(reinterpret_cast<const char*>(&n), sizeof n);
    k += v;
  };
  add(d.key.hash.name);
  if (d.key.range) add(d.key.range->name);
  return k;
}

// At least DynamoDB's size of the item (value.h): numbers counted as their text plus 2,
// which bounds ceil(significant digits / 2) + 1 or 2 from above. Cheaper than item_size (no
// number parsing): only an item this bound puts over the limit is measured exactly.
size_t item_size_bound(const table::Item& item) {
  size_t n = 0;
  for (const auto& [k, v] : item) {
    n += k.size();
    switch (v.type()) {
      case table::Type::kS:
      case table::Type::kB: n += v.str().size(); break;
      case table::Type::kN: n += v.str().size() + 2; break;
      case table::Type::kSS:
      case table::Type::kBS:
      case table::Type::kNS:
        for (const auto& m : v.members()) n += m.size() + 2;
        break;
      default: n += table::value_size(v); break;
    }
  }
  return n;
}

// A runner thread's name, "m:<function>/<shard number>" ("m:tweets-extr/3"): the function's
// name is cut so that the shard's number stays within Linux's 15 characters, so that perf
// and top -H tell the mappings' runners apart.
std::string runner_thread_name(const std::string& function, const std::string& shard_id) {
  size_t at = shard_id.find_last_not_of("0123456789");
  at = at == std::string::npos ? 0 : at + 1;
  while (at + 1 < shard_id.size() && shard_id[at] == '0') ++at;
  std::string suffix = "/" + shard_id.substr(at);
  if (suffix.size() > 7) suffix = "/" + suffix.substr(suffix.size() - 6);
  return "m:" + function.substr(0, 13 - suffix.size()) + suffix;
}

}  // namespace

ShardRunner::ShardRunner(ProcessService::Impl& impl, Mapping m, FunctionConfig fc,
                         stream::Shard shard, std::string region, std::string stream,
                         bool new_shard, int64_t lease_counter)
    : impl_(impl),
      m_(std::move(m)),
      fc_(std::move(fc)),
      shard_(std::move(shard)),
      region_(std::move(region)),
      stream_(std::move(stream)),
      new_shard_(new_shard),
      lease_counter_(lease_counter) {
  function_arn_ = impl_.function_arn(fc_.name);
  fseries_ = &impl_.function_series(fc_.name);
  mseries_ = &impl_.mapping_series(m_.uuid);
  sseries_ = &impl_.shard_series(m_.uuid, shard_.shard_id);
}

ShardRunner::~ShardRunner() {
  stop();
  sseries_->iterator_age->set(0);
  fseries_->iterator_age->forget(m_.uuid + "/" + shard_.shard_id);
  mseries_->iterator_age->forget(shard_.shard_id);
}

// Lambda's IteratorAge: the age of the last record of the batch being invoked (0 once the
// shard is caught up: nothing read is waiting).
void ShardRunner::report_age(double ms) {
  last_age_ms_ = ms;
  last_age_report_ms_ = wall_clock_ms();
  sseries_->iterator_age->set(ms);
  fseries_->iterator_age->set(m_.uuid + "/" + shard_.shard_id, ms);
  mseries_->iterator_age->set(shard_.shard_id, ms);
}

void ShardRunner::start() {
  thread_ = std::thread([this] {
    name_this_thread(runner_thread_name(fc_.name, shard_.shard_id));
    run();
    done_.store(true);
  });
}

void ShardRunner::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stop_.store(true);
  }
  wait_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ShardRunner::wait_ms(int64_t ms) {
  std::unique_lock lock(wait_mu_);
  wait_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_.load();
}

ShardProgress ShardRunner::progress() const {
  ShardProgress p;
  p.shard_id = shard_.shard_id;
  {
    std::lock_guard lock(progress_mu_);
    p.checkpoint = checkpoint_seq_;
  }
  p.finished = finished_.load();
  p.running = !done_.load();
  p.records = records_.load();
  p.invocations = invocations_.load();
  p.failed_records = failed_.load();
  return p;
}

bool ShardRunner::retry_until_ok(const char* what, const std::function<Status()>& step) {
  int64_t backoff = 50;
  LogLimiter limiter(std::chrono::seconds(10));
  while (true) {
    Status s = step();
    if (s.ok()) return true;
    if (auto held = limiter.allow()) {
      logging::warn("process: mapping {} shard {}: {} failed, retrying: {} ({} more)", m_.uuid,
                   shard_.shard_id, what, s.to_string(), *held);
    }
    impl_.set_last_result(m_.uuid, std::string("PROBLEM: ") + what + ": " + s.error().message());
    if (!wait_ms(backoff)) return false;
    backoff = std::min<int64_t>(backoff * 2, impl_.opt.retry_backoff_max_ms);
  }
}

Result<std::string> ShardRunner::iterator_from(const std::string& after_seq) {
  Backend& e = *impl_.backend;
  if (!after_seq.empty()) {
    auto it = e.get_shard_iterator(region_, stream_, shard_.shard_id,
                                   stream::IteratorType::kAfterSequenceNumber, after_seq, 0);
    if (it.ok() || it.code() == ErrorCode::kNotFound) return it;
    // The checkpoint is older than the stream's retention: what it named is gone.
    logging::warn("process: mapping {} shard {}: cannot resume after {} ({}); from TRIM_HORIZON",
                 m_.uuid, shard_.shard_id, after_seq, it.error().message());
    return e.get_shard_iterator(region_, stream_, shard_.shard_id,
                                stream::IteratorType::kTrimHorizon, "", 0);
  }
  // AT_TIMESTAMP reads a shard made after the timestamp from its beginning: every record of
  // it arrived later.
  if (m_.starting_position == StartingPosition::kAtTimestamp) {
    return e.get_shard_iterator(region_, stream_, shard_.shard_id,
                                stream::IteratorType::kAtTimestamp, "",
                                m_.starting_position_timestamp_ms);
  }
  if (new_shard_ || m_.starting_position == StartingPosition::kTrimHorizon) {
    return e.get_shard_iterator(region_, stream_, shard_.shard_id,
                                stream::IteratorType::kTrimHorizon, "", 0);
  }
  // LATEST as the first runner of the shard resolved it (run() wrote it before reading).
  if (cp_.start_ms >= 0) {
    return e.get_shard_iterator(region_, stream_, shard_.shard_id,
                                stream::IteratorType::kAtTimestamp, "", cp_.start_ms);
  }
  return e.get_shard_iterator(region_, stream_, shard_.shard_id, stream::IteratorType::kLatest,
                              "", 0);
}

void ShardRunner::run() {
  // The function instance: made here so an exec worker belongs to this thread.
  while (!fn_) {
    auto fn = impl_.instantiate(fc_);
    if (fn.ok()) {
      fn_ = std::move(fn).value();
      break;
    }
    impl_.set_last_result(m_.uuid, "PROBLEM: Function call failed: " + fn.error().message());
    if (!wait_ms(1000)) return;
  }
  {
    auto f = FilterSet::compile(m_.filter_patterns);
    if (f.ok()) filters_ = std::move(f).value();  // validated at create/update
  }
  if (!retry_until_ok("reading the checkpoint", [&]() -> Status {
        auto c = impl_.read_checkpoint(m_.uuid, shard_.shard_id);
        if (!c.ok()) return c.error();
        cp_ = std::move(c).value();
        return {};
      })) {
    return;
  }
  if (cp_.finished) {
    finished_.store(true);
    return;
  }
  window_start_ = cp_.window_start_ms;
  window_state_ = cp_.window_state;
  window_closed_ = cp_.window_closed;
  {
    std::lock_guard lock(progress_mu_);
    checkpoint_seq_ = cp_.sequence;
  }
  if (cp_.sequence.empty() && cp_.start_ms < 0 && !new_shard_ &&
      m_.starting_position == StartingPosition::kLatest) {
    // LATEST is resolved once per shard and kept, before anything is read (Checkpoint::start_ms).
    CommitSet cs;
    cs.checkpoint = true;
    cs.write_now = true;
    cs.cp = cp_;
    cs.cp.start_ms = wall_clock_ms();
    if (!commit(cs)) return;
  }
  std::string read_seq = cp_.sequence;  // the last record read (batched or filtered out)
  std::string iterator;
  if (!retry_until_ok("getting a shard iterator", [&]() -> Status {
        auto it = iterator_from(read_seq);
        if (!it.ok()) return it.error();
        iterator = std::move(it).value();
        return {};
      })) {
    return;
  }
  const size_t batch_size = static_cast<size_t>(m_.batch_size);
  const int64_t batching_window_ms = static_cast<int64_t>(m_.maximum_batching_window_s) * 1000;
  std::vector<Record> pending;
  std::vector<std::shared_ptr<const void>> storage;
  int64_t first_pending_ms = 0;
  bool ended = false;
  while (!stopping()) {
    size_t got = 0;
    bool caught_up = false;
    const int64_t read_started_ms = wall_clock_ms();
    if (!ended) {
      const uint32_t limit = static_cast<uint32_t>(std::min<size_t>(10000, batch_size - pending.size()));
      auto r = impl_.backend->get_records(iterator, limit);
      if (!r.ok()) {
        if (r.code() == ErrorCode::kExpired || r.code() == ErrorCode::kInvalidArgument) {
          if (!retry_until_ok("getting a shard iterator", [&]() -> Status {
                auto it = iterator_from(read_seq);
                if (!it.ok()) return it.error();
                iterator = std::move(it).value();
                return {};
              })) {
            return;
          }
          continue;
        }
        impl_.set_last_result(m_.uuid, "PROBLEM: " + r.error().message());
        if (!wait_ms(500)) return;
        continue;
      }
      got = r->records.size();
      caught_up = got < limit;
      for (const auto& rec : r->records) {
        Record x{rec.sequence_number(), rec.partition_key, rec.data, rec.arrival_ms};
        read_seq.assign(rec.sequence_number());
        if (!filters_.empty() && !filters_.matches(x, &parser_)) {
          mseries_->filtered_out->inc();
          continue;
        }
        if (pending.empty()) first_pending_ms = wall_clock_ms();
        pending.push_back(x);
      }
      if (got > 0) {
        // The views point into the result's storage and, for sequence numbers, into its
        // records vector, whose buffer a move keeps in place.
        auto holder = std::make_shared<stream::GetRecordsResult>(std::move(r).value());
        storage.push_back(holder);
        records_.fetch_add(got);
        mseries_->polled->inc(got);
        sseries_->records_in->inc(got);
        if (!holder->next_iterator) {
          ended = true;
        } else {
          iterator = *holder->next_iterator;
        }
      } else if (!r->next_iterator) {
        ended = true;
      } else {
        iterator = *r->next_iterator;
      }
    }
    const bool full = pending.size() >= batch_size;
    const bool window_due =
        batching_window_ms == 0 || wall_clock_ms() - first_pending_ms >= batching_window_ms;
    if (!pending.empty() && (full || ended || window_due)) {
      if (!process_batch(pending, read_seq)) return;
      pending.clear();
      storage.clear();
      // Caught up under a steady load: the next read waits until kSteadyPollGapMs after this
      // one began, so that batches gather what arrives meanwhile instead of a few records
      // each (every batch has fixed costs: a read, an invocation, a commit).
      if (caught_up && batching_window_ms == 0) {
        const int64_t gap = std::min<int64_t>(impl_.opt.poll_interval_ms, kSteadyPollGapMs) -
                            (wall_clock_ms() - read_started_ms);
        if (gap > 0 && !wait_ms(gap)) break;
      }
      continue;
    }
    if (pending.empty()) {
      // Caught up and idle for a while: nothing is waiting, the age is 0. (Not at once:
      // between batches under steady load the last batch's age is what the sampler, which
      // reads the gauge once a second, should see.)
      if (caught_up && last_age_ms_ != 0 && wall_clock_ms() - last_age_report_ms_ >= kIdleAgeMs) {
        report_age(0);
      }
      if (read_seq != cp_.sequence && (caught_up || ended)) {
        // Everything read was filtered out: move the checkpoint past it.
        CommitSet cs;
        cs.checkpoint = true;
        cs.cp = cp_;
        cs.cp.sequence = read_seq;
        if (!commit(cs)) return;
      }
      // Caught up: the put-off checkpoint is written once its interval has passed (reads
      // that find nothing new are frequent under a steady load too: appends become readable
      // in bursts, as their syncs complete).
      if ((caught_up || ended) && !flush_checkpoint(false)) return;
      if (m_.tumbling_window_s > 0 && window_start_ >= 0 && !window_closed_ &&
          wall_clock_ms() >= window_start_ + static_cast<int64_t>(m_.tumbling_window_s) * 1000) {
        if (!close_window()) return;
      }
      if (ended) {
        if (m_.tumbling_window_s > 0 && window_start_ >= 0 && !window_closed_ && !close_window()) {
          return;
        }
        CommitSet cs;
        cs.checkpoint = true;
        cs.cp = cp_;
        cs.cp.sequence = read_seq;
        cs.cp.finished = true;
        if (!commit(cs)) return;
        finished_.store(true);
        return;
      }
    }
    if (caught_up && !wait_ms(pending.empty() ? impl_.opt.poll_interval_ms
                                              : std::min<int64_t>(impl_.opt.poll_interval_ms, 50))) {
      break;
    }
  }
  // Stopped between batches (every invocation committed): a put-off checkpoint is written,
  // with one try (the thread is stopping), so a clean stop replays nothing.
  if (checkpoint_deferred_) flush_checkpoint(true);
}

InvokeResult ShardRunner::invoke(std::span<const Record> recs, bool final_window, Function& fn) {
  Batch b;
  b.event_source_arn = m_.event_source_arn;
  b.region = region_;
  b.shard_id = shard_.shard_id;
  b.records.assign(recs.begin(), recs.end());
  if (m_.tumbling_window_s > 0) {
    Window w;
    w.start_ms = window_start_;
    w.end_ms = window_start_ + static_cast<int64_t>(m_.tumbling_window_s) * 1000;
    if (state_in_fn_ && &fn == fn_.get()) {
      w.continues = true;  // the function has the state: it is not passed as text
    } else {
      w.state = window_state_;
    }
    w.is_final = final_window;
    b.window = std::move(w);
  }
  if (!recs.empty()) report_age(static_cast<double>(wall_clock_ms() - recs.back().arrival_ms));
  fseries_->concurrent->inc();
  const auto t0 = std::chrono::steady_clock::now();
  InvokeResult r = fn.invoke(b);
  if (b.window && &fn == fn_.get() && fn.keeps_window_state()) {
    // After the final invocation the function's state is empty; window_state_ keeps the
    // window's (close_window synced it) in case a late record reopens the window.
    state_in_fn_ = !final_window;
    if (!final_window && !r.window_state) window_state_stale_ = true;
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  fseries_->concurrent->dec();
  fseries_->invocations->inc();
  fseries_->duration->observe(ms);
  mseries_->invoked->inc(recs.size());
  invocations_.fetch_add(1);
  if (!r.function_error.empty()) {
    fseries_->errors->inc();
    mseries_->failed_invoke->inc(recs.size());
  }
  return r;
}

bool ShardRunner::process_lanes(std::span<const Record> recs, const std::string& end_seq) {
  const size_t lanes = static_cast<size_t>(m_.parallelization_factor);
  while (lane_fns_.size() < lanes) {
    auto fn = impl_.instantiate(fc_);
    if (!fn.ok()) {
      impl_.set_last_result(m_.uuid, "PROBLEM: Function call failed: " + fn.error().message());
      if (!wait_ms(1000)) return false;
      continue;
    }
    lane_fns_.push_back(std::move(fn).value());
  }
  if (!ensure_sink()) return false;
  std::vector<std::vector<Record>> by_lane(lanes);
  for (const Record& r : recs) {
    by_lane[std::hash<std::string_view>{}(r.partition_key) % lanes].push_back(r);
  }
  std::atomic<bool> all_done{true};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < lanes; ++i) {
    if (by_lane[i].empty()) continue;
    threads.emplace_back([this, i, &by_lane, &all_done] {
      if (!handle(by_lane[i], "", 0, *lane_fns_[i], false)) all_done.store(false);
    });
  }
  for (auto& t : threads) t.join();
  if (!all_done.load()) return false;  // stopping: the batch is replayed from the checkpoint
  CommitSet cs;
  cs.checkpoint = true;
  cs.cp = cp_;
  cs.cp.sequence = end_seq;
  if (!commit(cs)) return false;
  impl_.set_last_result(m_.uuid, "OK");
  return true;
}

bool ShardRunner::process_batch(std::span<const Record> recs, const std::string& end_seq) {
  if (m_.tumbling_window_s <= 0 && m_.parallelization_factor > 1) {
    return process_lanes(recs, end_seq);
  }
  if (m_.tumbling_window_s <= 0) return handle(recs, end_seq, 0, *fn_, true);
  // Tumbling windows: split the batch where records enter a later window (by arrival time);
  // close the open window before the first record of the next.
  const int64_t w = static_cast<int64_t>(m_.tumbling_window_s) * 1000;
  size_t i = 0;
  while (i < recs.size()) {
    const int64_t start = recs[i].arrival_ms / w * w;
    if (window_start_ >= 0 && start > window_start_ && !window_closed_) {
      if (!close_window()) return false;
    }
    if (window_start_ < 0 || start > window_start_) {
      window_start_ = start;
      window_state_ = "{}";
      state_in_fn_ = false;
      window_state_stale_ = false;
    }
    // A record of a window closed already (readable only after the close) reopens it with
    // its state, so the next final invocation has every record of the window.
    window_closed_ = false;
    size_t j = i;
    while (j < recs.size() && recs[j].arrival_ms / w * w <= window_start_) ++j;
    const std::string& seq = j == recs.size() ? end_seq : std::string(recs[j - 1].sequence_number);
    if (!handle(recs.subspan(i, j - i), seq, 0, *fn_, true)) return false;
    i = j;
  }
  return true;
}

void ShardRunner::sync_window_state() {
  if (!window_state_stale_) return;
  window_state_ = fn_->window_state();
  window_state_stale_ = false;
}

bool ShardRunner::flush_checkpoint(bool now) {
  if (!checkpoint_deferred_) return true;
  if (!now && wall_clock_ms() - last_checkpoint_write_ms_ < kCheckpointEveryMs) return true;
  CommitSet cs;
  cs.checkpoint = true;
  cs.cp = cp_;
  cs.write_now = true;
  return commit(cs);
}

bool ShardRunner::close_window() {
  // The final invocation of the window: no records, the state so far (kept as text with the
  // closed window's checkpoint).
  sync_window_state();
  int64_t backoff = 50;
  while (true) {
    InvokeResult r = invoke({}, true, *fn_);
    if (r.function_error.empty()) {
      CommitSet cs;
      cs.outputs = std::move(r.outputs);
      cs.checkpoint = true;
      cs.cp = cp_;
      cs.cp.window_start_ms = window_start_;
      cs.cp.window_state = window_state_;
      cs.cp.window_closed = true;
      if (!commit(cs)) return false;
      window_closed_ = true;
      return true;
    }
    impl_.set_last_result(m_.uuid, "PROBLEM: Function call failed: " + r.error_message);
    if (!wait_ms(backoff)) return false;
    backoff = std::min<int64_t>(backoff * 2, impl_.opt.retry_backoff_max_ms);
  }
}

bool ShardRunner::handle(std::span<const Record> recs, const std::string& end_seq, int attempts,
                         Function& fn, bool checkpoints) {
  int64_t backoff = 50;
  while (!recs.empty()) {
    if (stopping()) return false;
    InvokeResult r = invoke(recs, false, fn);
    std::string reason, function_error;
    if (r.function_error.empty()) {
      size_t first = recs.size();  // the first transient failure (ReportBatchItemFailures)
      if (m_.report_batch_item_failures) {
        for (const RecordFailure& f : r.failures) {
          if (!f.permanent && f.record < first) first = f.record;
        }
      }
      CommitSet cs;
      cs.recs = recs;
      if (first == recs.size()) {
        cs.outputs = std::move(r.outputs);  // every output is committed
      } else {
        for (Output& o : r.outputs) {
          if (o.record == Output::kNoRecord || o.record < first) cs.outputs.push_back(std::move(o));
        }
      }
      for (const RecordFailure& f : r.failures) {
        if (f.permanent && f.record < first) {
          cs.failed.push_back({{recs[f.record]}, f.reason, "RecordRejected", "", attempts + 1});
        }
      }
      if (first == recs.size()) {
        cs.checkpoint = checkpoints;
        cs.cp = cp_;
        cs.cp.sequence = end_seq;
        if (m_.tumbling_window_s > 0) {
          if (r.window_state) window_state_ = *r.window_state;
          cs.cp.window_start_ms = window_start_;
          cs.cp.window_state = window_state_;
          cs.cp.window_closed = window_closed_;
        }
        if (!commit(cs)) return false;
        impl_.set_last_result(m_.uuid, "OK");
        return true;
      }
      if (first > 0 && checkpoints) {
        cs.checkpoint = true;
        cs.cp = cp_;
        cs.cp.sequence = std::string(recs[first - 1].sequence_number);
      }
      if (!cs.outputs.empty() || !cs.failed.empty() || cs.checkpoint) {
        if (!commit(cs)) return false;
      }
      recs = recs.subspan(first);
      reason = "the function reported the record in batchItemFailures";
      function_error = "";
    } else {
      reason = r.error_message;
      function_error = r.function_error;
      if (!r.log.empty()) {
        if (auto held = impl_.drop_log_.allow()) {
          logging::info("process: function {} failed on shard {}: {} ({} more)", fc_.name,
                       shard_.shard_id, r.error_message, *held);
        }
      }
    }
    ++attempts;
    if (!function_error.empty() && m_.bisect_batch_on_function_error && recs.size() > 1) {
      const size_t mid = recs.size() / 2;
      if (!handle(recs.subspan(0, mid), std::string(recs[mid - 1].sequence_number), attempts, fn,
                  checkpoints)) {
        return false;
      }
      return handle(recs.subspan(mid), end_seq, attempts, fn, checkpoints);
    }
    std::string condition;
    if (m_.maximum_retry_attempts >= 0 && attempts > m_.maximum_retry_attempts) {
      condition = "RetryAttemptsExhausted";
    } else if (m_.maximum_record_age_s >= 0 &&
               wall_clock_ms() - recs.front().arrival_ms >
                   static_cast<int64_t>(m_.maximum_record_age_s) * 1000) {
      condition = "RecordAgeExceeded";
    }
    if (!condition.empty()) {
      CommitSet cs;
      cs.failed.push_back({std::vector<Record>(recs.begin(), recs.end()), reason, condition,
                           function_error, attempts});
      cs.checkpoint = checkpoints;
      cs.cp = cp_;
      cs.cp.sequence = end_seq;
      if (!commit(cs)) return false;
      impl_.set_last_result(m_.uuid, "PROBLEM: Function call failed");
      return true;
    }
    impl_.set_last_result(m_.uuid, "PROBLEM: Function call failed");
    if (!wait_ms(backoff)) return false;
    backoff = std::min<int64_t>(backoff * 2, impl_.opt.retry_backoff_max_ms);
  }
  // Everything left was committed piecewise; move the checkpoint to the end.
  if (!checkpoints) return true;
  CommitSet cs;
  cs.checkpoint = true;
  cs.cp = cp_;
  cs.cp.sequence = end_seq;
  return commit(cs);
}

bool ShardRunner::write_failures(std::vector<Failed>& failed) {
  if (failed.empty()) return true;
  size_t count = 0;
  for (const Failed& f : failed) count += f.records.size();
  failed_.fetch_add(count);
  sseries_->records_failed->inc(count);
  if (m_.on_failure_destination.empty()) {
    mseries_->dropped->inc(count);
    if (auto held = impl_.drop_log_.allow()) {
      logging::warn("process: mapping {} shard {}: {} failed records dropped (no OnFailure "
                   "destination): {} ({} more)",
                   m_.uuid, shard_.shard_id, count, failed.front().reason, *held);
    }
    return true;
  }
  auto arn = stream::parse_stream_arn(m_.on_failure_destination);
  if (!arn.ok()) return true;  // validated at create/update
  // Lambda's failure record for Kinesis, with the records themselves (Freshet's extension),
  // split so that each stays below the destination's record size limit. Each document is
  // written in place, its records' data base64-encoded straight into it: an oversized record
  // (hundreds of kilobytes) is copied once, not once per intermediate string.
  const auto omitted = [](const Record& r) {
    return r.data.size() * 4 / 3 + 4096 > kFailureRecordBytes;
  };
  // At least what a record adds to a document (its partition key fully escaped).
  const auto record_bytes = [&](const Record& r) {
    return 160 + r.sequence_number.size() + 6 * r.partition_key.size() +
           (omitted(r) ? 48 : base64_encoded_size(r.data.size()));
  };
  std::vector<std::string> docs;
  for (const Failed& f : failed) {
    size_t i = 0;
    while (i < f.records.size()) {
      size_t j = i;
      size_t bytes = 0;
      while (j < f.records.size()) {
        const size_t one = record_bytes(f.records[j]);
        if (j > i && bytes + one + 4096 + 6 * f.reason.size() > kFailureRecordBytes) break;
        bytes += one;
        ++j;
      }
      const Record& first = f.records[i];
      const Record& last = f.records[j - 1];
      std::string d;
      d.reserve(bytes + 1024 + 6 * (f.reason.size() + f.function_error.size()));
      d += "{\"requestContext\":{\"requestId\":\"";
      d += request_id();
      d += "\",\"functionArn\":";
      append_json_string(d, function_arn_);
      d += ",\"condition\":\"" + f.condition + "\",\"approximateInvokeCount\":" +
           std::to_string(f.attempts) + "},\"responseContext\":{\"statusCode\":200,"
           "\"executedVersion\":\"$LATEST\",\"functionError\":";
      append_json_string(d, f.function_error);
      d += "},\"version\":\"1.0\",\"timestamp\":\"" + iso8601_ms(wall_clock_ms()) +
           "\",\"KinesisBatchInfo\":{\"shardId\":\"" + shard_.shard_id +
           "\",\"startSequenceNumber\":\"";
      d += first.sequence_number;
      d += "\",\"endSequenceNumber\":\"";
      d += last.sequence_number;
      d += "\",\"approximateArrivalOfFirstRecord\":\"" + iso8601_ms(first.arrival_ms) +
           "\",\"approximateArrivalOfLastRecord\":\"" + iso8601_ms(last.arrival_ms) +
           "\",\"batchSize\":" + std::to_string(j - i) + ",\"streamArn\":";
      append_json_string(d, m_.event_source_arn);
      d += "},\"errorMessage\":";
      append_json_string(d, f.reason);
      d += ",\"records\":[";
      for (size_t k = i; k < j; ++k) {
        const Record& r = f.records[k];
        if (k > i) d.push_back(',');
        d += "{\"sequenceNumber\":\"";
        d += r.sequence_number;
        d += "\",\"partitionKey\":";
        append_json_string(d, r.partition_key);
        d += ",\"approximateArrivalTimestamp\":\"" + iso8601_ms(r.arrival_ms) + "\"";
        if (omitted(r)) {
          d += ",\"dataOmitted\":true,\"dataBytes\":" + std::to_string(r.data.size());
        } else {
          d += ",\"data\":\"";
          base64_encode_append(r.data, d);
          d.push_back('"');
        }
        d.push_back('}');
      }
      d += "]}";
      docs.push_back(std::move(d));
      i = j;
    }
  }
  for (size_t i = 0; i < docs.size(); i += kStreamChunk) {
    const size_t n = std::min(kStreamChunk, docs.size() - i);
    std::vector<stream::PutEntry> entries;
    for (size_t k = 0; k < n; ++k) entries.push_back({docs[i + k], shard_.shard_id, ""});
    std::vector<bool> done(n, false);
    const bool ok = retry_until_ok("writing to the OnFailure destination", [&]() -> Status {
      std::vector<stream::PutEntry> left;
      std::vector<size_t> idx;
      for (size_t k = 0; k < n; ++k) {
        if (!done[k]) {
          left.push_back(entries[k]);
          idx.push_back(k);
        }
      }
      auto r = impl_.backend->put_records(arn->region, arn->stream_name, left);
      if (!r.ok()) {
        fseries_->dead_letter_errors->inc();
        return r.error();
      }
      bool all = true;
      for (size_t k = 0; k < r->size(); ++k) {
        if ((*r)[k].error_code.empty()) {
          done[idx[k]] = true;
        } else {
          all = false;
        }
      }
      if (!all) {
        fseries_->dead_letter_errors->inc();
        return Error(ErrorCode::kUnavailable, "some failure records were throttled");
      }
      return {};
    });
    if (!ok) return false;
  }
  mseries_->on_failure_delivered->inc(count);
  sseries_->records_to_destination->inc(count);
  return true;
}

bool ShardRunner::write_outputs(std::vector<Output>& outputs, CommitSet& cs) {
  const SinkConfig& sink = fc_.sink;
  if (outputs.empty() || sink.kind == SinkConfig::Kind::kNone) return true;
  if (sink.kind == SinkConfig::Kind::kTable) {
    // Table sinks: puts by key, de-duplicated within the batch (the last one wins).
    return true;  // written with the checkpoint in commit()
  }
  std::vector<std::string> datas(outputs.size());
  std::vector<std::string> keys(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    Output& o = outputs[i];
    if (!o.data.empty()) {
      datas[i] = std::move(o.data);
    } else {
      append_item_json(datas[i], o.item);
    }
    if (!o.partition_key.empty()) {
      keys[i] = o.partition_key;
    } else if (o.record != Output::kNoRecord && o.record < cs.recs.size()) {
      keys[i] = std::string(cs.recs[o.record].partition_key);
    }
  }
  if (sink.kind == SinkConfig::Kind::kDelivery) {
    // PutRecordBatch: up to 500 records and 4 MiB a call; what fails is sent again alone.
    size_t i = 0;
    while (i < datas.size()) {
      size_t n = 0, bytes = 0;
      while (i + n < datas.size() && n < kStreamChunk &&
             (n == 0 || bytes + datas[i + n].size() <= kDeliveryBatchBytes)) {
        bytes += datas[i + n].size();
        ++n;
      }
      std::vector<bool> done(n, false);
      if (!retry_until_ok("writing to the delivery stream", [&]() -> Status {
            std::vector<std::string_view> left;
            std::vector<size_t> idx;
            for (size_t k = 0; k < n; ++k) {
              if (done[k]) continue;
              left.push_back(datas[i + k]);
              idx.push_back(k);
            }
            auto r = impl_.backend->put_record_batch(sink.name, left);
            if (!r.ok()) return r.error();
            bool all = true;
            for (size_t k = 0; k < r->size(); ++k) {
              if ((*r)[k].empty()) {
                done[idx[k]] = true;
              } else {
                all = false;
              }
            }
            return all ? Status() : Status(Error(ErrorCode::kUnavailable, "throttled"));
          })) {
        return false;
      }
      i += n;
    }
    return true;
  }
  const std::string region = sink.region.empty() ? impl_.opt.region : sink.region;
  for (size_t i = 0; i < datas.size(); i += kStreamChunk) {
    const size_t n = std::min(kStreamChunk, datas.size() - i);
    std::vector<bool> done(n, false);
    if (!retry_until_ok("writing to the sink stream", [&]() -> Status {
          std::vector<stream::PutEntry> left;
          std::vector<size_t> idx;
          for (size_t k = 0; k < n; ++k) {
            if (done[k]) continue;
            const std::string& pk = keys[i + k].empty() ? shard_.shard_id : keys[i + k];
            left.push_back({datas[i + k], pk, ""});
            idx.push_back(k);
          }
          auto r = impl_.backend->put_records(region, sink.name, left);
          if (!r.ok()) return r.error();
          bool all = true;
          for (size_t k = 0; k < r->size(); ++k) {
            if ((*r)[k].error_code.empty()) {
              done[idx[k]] = true;
            } else {
              all = false;
            }
          }
          return all ? Status() : Status(Error(ErrorCode::kUnavailable, "throttled"));
        })) {
      return false;
    }
  }
  return true;
}

// A window of a stream with several shards has one window per shard (as in Lambda), but the
// items of window_count are keyed by value and window start only: every shard of the stream
// writes the same items. So each item keeps the count of every shard in the map `shards`
// (shard id -> count) and `count` is their sum; a shard sets its own entry, read-modify-write
// under a condition on the `count` it read (it only grows, so a concurrent shard's change
// always shows). Setting an entry is idempotent: a replay after a crash computes the same
// count for the same window and shard and leaves the item as it was, so every record is
// counted once. The items are durable before the checkpoint that closes the window is written.
bool ShardRunner::merge_window_counts(std::vector<table::Item>& items) {
  if (items.empty()) return true;
  Backend& tables = *impl_.backend;
  const table::KeySchema& ks = sink_desc_->key;
  std::vector<char> done(items.size(), 0);  // written by the callbacks under mu
  return retry_until_ok("writing window counts", [&]() -> Status {
    std::mutex mu;
    std::condition_variable cv;
    size_t in_flight = 0;  // GUARDED_BY(mu)
    Status first_error;    // GUARDED_BY(mu)
    std::vector<size_t> conflicts;  // GUARDED_BY(mu): condition failed, read again
    std::vector<size_t> todo;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!done[i]) todo.push_back(i);
    }
    while (!todo.empty()) {
      for (size_t i : todo) {
        const table::Item& mine = items[i];
        table::Item key;
        key.emplace(ks.hash.name, mine.at(ks.hash.name));
        if (ks.range) key.emplace(ks.range->name, mine.at(ks.range->name));
        auto old = tables.get_item(sink_desc_->name, key);
        if (!old.ok()) {
          std::lock_guard lock(mu);
          if (first_error.ok()) first_error = old.error();
          break;
        }
        table::Item next = mine;
        table::Item shards;
        WriteExpr cond;
        if (old->has_value()) {
          auto s = (*old)->find("shards");
          if (s != (*old)->end() && s->second.is(table::Type::kM)) shards = s->second.as_map();
          auto c = (*old)->find("count");
          cond.condition = "#c = :c";
          cond.names = {{"#c", "count"}};
          cond.values = {{":c", c != (*old)->end() ? c->second : table::Value::n("0")}};
        } else {
          cond.condition = "attribute_not_exists(#h)";
          cond.names = {{"#h", ks.hash.name}};
        }
        const table::Value& count = mine.at("count");
        auto here = shards.find(shard_.shard_id);
        if (here != shards.end() && here->second == count) {
          done[i] = 1;  // a replay: this shard's count is already in the item
          continue;
        }
        shards.insert_or_assign(shard_.shard_id, count);
        int64_t total = 0;
        for (const auto& [id, n] : shards) {
          if (n.is(table::Type::kN)) total += std::strtoll(n.str().c_str(), nullptr, 10);
        }
        next.insert_or_assign("shards", table::Value::map(std::move(shards)));
        next.insert_or_assign("count", table::Value::n(std::to_string(total)));
        {
          std::lock_guard lock(mu);
          ++in_flight;
        }
        tables.put_item_async(sink_desc_->name, std::move(next), cond,
                              [&, i](Result<table::WriteOutcome> r) {
                                std::lock_guard lock(mu);
                                if (!r.ok()) {
                                  if (first_error.ok()) first_error = r.error();
                                } else if (r->condition_failed) {
                                  conflicts.push_back(i);
                                } else {
                                  done[i] = 1;
                                }
                                if (--in_flight == 0) cv.notify_all();
                              });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
      if (!first_error.ok()) return first_error;
      todo.swap(conflicts);
      conflicts.clear();
    }
    return {};
  });
}

bool ShardRunner::ensure_sink() {
  const SinkConfig& sink = fc_.sink;
  if (sink.kind != SinkConfig::Kind::kTable || sink_desc_) return true;
  Backend& tables = *impl_.backend;
  return retry_until_ok("opening the sink table", [&]() -> Status {
            auto d = tables.describe_table(sink.name);
            if (!d.ok() && d.code() == ErrorCode::kNotFound && sink.create_key) {
              table::TableDesc desc;
              desc.name = sink.name;
              desc.key = *sink.create_key;
              desc.attribute_definitions.push_back(sink.create_key->hash);
              if (sink.create_key->range) desc.attribute_definitions.push_back(*sink.create_key->range);
              desc.pay_per_request = true;
              auto c = tables.create_table(desc);
              if (!c.ok() && c.code() != ErrorCode::kAlreadyExists) return c.error();
              d = tables.describe_table(sink.name);
            }
            if (!d.ok()) return d.error();
            if (!tables.is_active(*d)) return Error(ErrorCode::kUnavailable, "table is being created");
            sink_desc_ = std::move(d).value();
            return {};
          });
}

bool ShardRunner::commit(CommitSet& cs) {
  Backend& tables = *impl_.backend;
  const bool leased = lease_counter_ >= 0;
  if (cs.checkpoint && !cs.write_now && !leased && !cs.cp.finished && cs.outputs.empty() &&
      (cs.failed.empty() || m_.on_failure_destination.empty()) &&
      wall_clock_ms() - last_checkpoint_write_ms_ < kCheckpointEveryMs) {
    // Only the position moves (failed records without a destination are only counted): put
    // off, written with a later commit, when the shard is caught up, or at the interval.
    if (!write_failures(cs.failed)) return false;
    cp_ = cs.cp;
    checkpoint_deferred_ = true;
    return true;
  }
  if (cs.checkpoint && window_state_stale_ && cs.cp.window_start_ms == window_start_) {
    // The function's state is that of the records up to this checkpoint (see runner.h).
    sync_window_state();
    cs.cp.window_state = window_state_;
  }
  const SinkConfig& sink = fc_.sink;
  std::vector<table::WriteOp> ops;
  std::vector<table::Item> merges;  // window_count's window items
  const bool merges_counts = fc_.kind == FunctionConfig::Kind::kWindowCount;
  if (sink.kind == SinkConfig::Kind::kTable && !cs.outputs.empty()) {
    if (!ensure_sink()) return false;
    // Items the table would reject (missing or mistyped key, too large) are failures of
    // their record, with the table's reason.
    // De-duplication by key (the last put of a key wins). With only a hash key the map's keys
    // are views of the key values inside the items' map nodes, which stay in place while the
    // items move (into ops; the views are not used after this loop); with a range key, views
    // of key_of's encodings kept in `composite`.
    std::unordered_map<std::string_view, size_t> by_key;
    std::deque<std::string> composite;
    const auto key_view = [&](const table::Item& item) -> std::string_view {
      if (!sink_desc_->key.range) return item.find(sink_desc_->key.hash.name)->second.str();
      composite.push_back(key_of(*sink_desc_, item));
      return composite.back();
    };
    by_key.reserve(cs.outputs.size());
    ops.reserve(cs.outputs.size() + 1);
    for (Output& o : cs.outputs) {
      Status v = table::TableStore::validate_item_keys(*sink_desc_, o.item);
      if (v.ok() && item_size_bound(o.item) > table::kMaxItemBytes &&
          table::item_size(o.item) > table::kMaxItemBytes) {
        v = Error(ErrorCode::kInvalidArgument, "Item size has exceeded the maximum allowed size");
      }
      if (!v.ok()) {
        if (o.record == Output::kNoRecord || o.record >= cs.recs.size()) {
          // Outputs of the window itself have no record to send: count and log them.
          mseries_->dropped->inc();
          if (auto held = impl_.drop_log_.allow()) {
            logging::warn("process: function {}: the sink table rejected an item: {} ({} more)",
                         fc_.name, v.error().message(), *held);
          }
        } else {
          Failed f;
          f.reason = "the sink table rejected the item: " + v.error().message();
          f.condition = "RecordRejected";
          f.records.push_back(cs.recs[o.record]);
          cs.failed.push_back(std::move(f));
        }
        continue;
      }
      if (merges_counts && o.record == Output::kNoRecord && o.item.contains("count")) {
        merges.push_back(std::move(o.item));
        continue;
      }
      auto [it, fresh] = by_key.try_emplace(key_view(o.item), ops.size());
      table::WriteOp op;
      op.kind = table::WriteOp::Kind::kPut;
      op.table = sink.name;
      op.item = std::move(o.item);
      if (fresh) {
        ops.push_back(std::move(op));
      } else {
        // The replaced item's nodes (its key's view) go: the entry is made again from the new.
        const size_t at = it->second;
        by_key.erase(it);
        ops[at] = std::move(op);
        by_key.emplace(key_view(ops[at].item), at);
      }
    }
  }
  if (!write_failures(cs.failed)) return false;
  if (!write_outputs(cs.outputs, cs)) return false;
  if (!merge_window_counts(merges)) return false;
  if (cs.checkpoint && !leased) ops.push_back(impl_.checkpoint_op(m_.uuid, shard_.shard_id, cs.cp));
  if (!ops.empty()) {
    // Chunks written without waiting, then one wait for all: they share the WAL syncs. A
    // chunk that fails is retried alone (puts by key: idempotent). The chunks are cut once.
    std::vector<std::vector<table::WriteOp>> chunks;
    chunks.reserve((ops.size() + kTableChunk - 1) / kTableChunk);
    for (size_t i = 0; i < ops.size(); i += kTableChunk) {
      const size_t end = std::min(ops.size(), i + kTableChunk);
      chunks.emplace_back(std::make_move_iterator(ops.begin() + static_cast<ptrdiff_t>(i)),
                          std::make_move_iterator(ops.begin() + static_cast<ptrdiff_t>(end)));
    }
    std::vector<char> written(chunks.size(), 0);  // GUARDED_BY(mu) below while in flight
    const bool ok = retry_until_ok("writing to the table", [&]() -> Status {
      std::mutex mu;
      std::condition_variable cv;
      size_t left = 0;  // GUARDED_BY(mu)
      Status first_error;  // GUARDED_BY(mu)
      for (char w : written) left += w ? 0 : 1;
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (written[i]) continue;
        tables.batch_write_async(chunks[i], [&, i](Status s) {
          std::lock_guard lock(mu);
          if (s.ok()) {
            written[i] = 1;
          } else if (first_error.ok()) {
            first_error = s;
          }
          if (--left == 0) cv.notify_all();
        });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return left == 0; });
      return first_error;
    });
    if (!ok) return false;
  }
  if (cs.checkpoint && leased) {
    // With leases the checkpoint is written after the outputs, and only while this worker
    // still holds the lease with the counter it started with: a worker whose lease was taken
    // over stops here (its last outputs are written again by the new owner: puts by key).
    bool lost = false;
    if (!retry_until_ok("writing the checkpoint", [&]() -> Status {
          auto r = impl_.write_leased_checkpoint(m_.uuid, shard_.shard_id, cs.cp, lease_counter_);
          if (!r.ok()) return r.error();
          lost = !*r;
          return {};
        })) {
      return false;
    }
    if (lost) {
      logging::info("process: mapping {} shard {}: the lease was taken over; stopping", m_.uuid,
                   shard_.shard_id);
      return false;
    }
  }
  if (cs.checkpoint) {
    cp_ = cs.cp;
    checkpoint_deferred_ = false;
    last_checkpoint_write_ms_ = wall_clock_ms();
    std::lock_guard lock(progress_mu_);
    checkpoint_seq_ = cp_.sequence;
  }
  return true;
}

// ---- Supervisor ----

Supervisor::Supervisor(ProcessService::Impl& impl, std::string uuid)
    : impl_(impl), uuid_(std::move(uuid)) {}

Supervisor::~Supervisor() { stop(); }

void Supervisor::start() {
  thread_ = std::thread([this] {
    name_this_thread("map-supervisor");
    run();
  });
}

void Supervisor::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  stop_runners();
  // A clean stop gives the leases back: the runners have stopped (none writes a checkpoint
  // any more), and the other workers take the shards at their next round.
  for (const auto& [shard, counter] : held_) {
    auto r = impl_.release_lease(uuid_, shard, counter);
    if (!r.ok()) {
      logging::warn("process: mapping {} shard {}: cannot give the lease back ({}); it expires",
                   uuid_, shard, r.error().to_string());
    }
  }
  held_.clear();
}

bool Supervisor::wait(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  return !stop_;
}

void Supervisor::stop_runners() {
  std::map<std::string, std::unique_ptr<ShardRunner>> runners;
  {
    std::lock_guard lock(mu_);
    runners.swap(runners_);
  }
  for (auto& [id, r] : runners) r->stop();
}

std::vector<ShardProgress> Supervisor::progress() const {
  std::lock_guard lock(mu_);
  std::vector<ShardProgress> out;
  for (const auto& [id, r] : runners_) out.push_back(r->progress());
  for (const auto& [id, fin] : finished_) {
    if (fin && !runners_.contains(id)) {
      ShardProgress p;
      p.shard_id = id;
      p.finished = true;
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ShardProgress& a, const ShardProgress& b) { return a.shard_id < b.shard_id; });
  return out;
}

// Leases: renews the ones held (dropping those taken over), takes free or expired ones up to
// this worker's share (the active shards divided by the workers holding live leases, this
// one included, rounded up), and below its share steals one lease per round from the worker
// holding the most, if that one holds more than its share (the KCL's balancing).
void Supervisor::balance_leases(const std::vector<std::string>& active) {
  const std::string& me = impl_.opt.worker_id;
  const std::set<std::string> is_active(active.begin(), active.end());
  for (auto it = held_.begin(); it != held_.end();) {
    if (!is_active.contains(it->first)) {  // finished
      it = held_.erase(it);
      continue;
    }
    auto r = impl_.renew_lease(uuid_, it->first, it->second);
    if (r.ok() && !*r) {
      logging::info("process: mapping {} shard {}: lease taken over by another worker", uuid_,
                   it->first);
      it = held_.erase(it);
    } else {
      ++it;  // renewed, or an error: tried again next round (the lease may expire meanwhile)
    }
  }
  auto leases = impl_.read_leases(uuid_);
  if (!leases.ok()) return;
  const int64_t now = wall_clock_ms();
  std::map<std::string, const Lease*> by_shard;
  for (const Lease& l : *leases) by_shard[l.shard] = &l;
  std::map<std::string, std::vector<const Lease*>> others;  // live leases by owner
  std::vector<std::string> free;
  for (const std::string& id : active) {
    if (held_.contains(id)) continue;
    auto it = by_shard.find(id);
    if (it == by_shard.end() || it->second->owner.empty() || it->second->owner == me ||
        it->second->expires_ms < now) {
      free.push_back(id);
    } else {
      others[it->second->owner].push_back(it->second);
    }
  }
  const size_t workers = others.size() + 1;
  const size_t share = (active.size() + workers - 1) / workers;
  for (const std::string& id : free) {
    if (held_.size() >= share) break;
    int64_t counter = 0;
    auto r = impl_.acquire_lease(uuid_, id, nullptr, counter);
    if (r.ok() && *r) held_[id] = counter;
  }
  if (held_.size() >= share) return;
  const std::vector<const Lease*>* most = nullptr;
  for (const auto& [owner, ls] : others) {
    if (ls.size() > share && (most == nullptr || ls.size() > most->size())) most = &ls;
  }
  if (most == nullptr) return;
  const Lease* victim = most->front();
  int64_t counter = 0;
  auto r = impl_.acquire_lease(uuid_, victim->shard, victim, counter);
  if (r.ok() && *r) {
    logging::info("process: mapping {} shard {}: lease taken from {} to balance", uuid_,
                 victim->shard, victim->owner);
    held_[victim->shard] = counter;
  }
}

void Supervisor::run() {
  int64_t applied_modified = -1;
  uint64_t applied_functions = 0;
  while (true) {
    auto m = impl_.mapping(uuid_);
    if (!m.ok()) return;
    if (m->state == "Deleting") {
      stop_runners();
      impl_.forget_mapping(uuid_);
      return;
    }
    if (!m->enabled) {
      stop_runners();
      impl_.set_state(uuid_, "Disabling", "Disabled");
      impl_.set_state(uuid_, "Creating", "Disabled");
      impl_.set_state(uuid_, "Updating", "Disabled");
      applied_modified = -1;
      if (!wait(impl_.opt.discovery_interval_ms / 4 + 1)) return;
      continue;
    }
    uint64_t fversion;
    {
      std::lock_guard lock(impl_.mu_);
      fversion = impl_.functions_version_;
    }
    if (m->last_modified_ms != applied_modified || fversion != applied_functions) {
      stop_runners();
      applied_modified = m->last_modified_ms;
      applied_functions = fversion;
    }
    auto fc = impl_.function_config(m->function_name);
    auto arn = stream::parse_stream_arn(m->event_source_arn);
    auto info = arn.ok() ? impl_.backend->describe_stream(arn->region, arn->stream_name)
                         : Result<stream::StreamInfo>(arn.error());
    if (!fc.ok() || !info.ok()) {
      impl_.set_last_result(uuid_, "PROBLEM: " + (!fc.ok() ? fc.error().message()
                                                           : info.error().message()));
    } else {
      impl_.set_state(uuid_, "Creating", "Enabled");
      impl_.set_state(uuid_, "Updating", "Enabled");
      impl_.set_state(uuid_, "Enabling", "Enabled");
      std::map<std::string, const stream::Shard*> by_id;
      for (const auto& s : info->shards) by_id.emplace(s.shard_id, &s);
      auto is_finished = [&](const std::string& id) {
        {
          std::lock_guard lock(mu_);
          if (finished_[id]) return true;
        }
        auto c = impl_.read_checkpoint(uuid_, id);
        if (c.ok() && c->finished) {
          std::lock_guard lock(mu_);
          finished_[id] = true;
          return true;
        }
        return false;
      };
      if (impl_.leases()) {
        std::vector<std::string> active;
        for (const auto& s : info->shards) {
          if (!is_finished(s.shard_id)) active.push_back(s.shard_id);
        }
        balance_leases(active);
      }
      for (const auto& s : info->shards) {
        const bool may_run = !impl_.leases() || held_.contains(s.shard_id);
        {
          std::lock_guard lock(mu_);
          if (stop_) return;
          if (finished_[s.shard_id]) continue;
          auto it = runners_.find(s.shard_id);
          if (it != runners_.end()) {
            if (!it->second->done() && may_run) continue;
            if (it->second->finished()) finished_[s.shard_id] = true;
            auto r = std::move(it->second);
            runners_.erase(it);
            r->stop();
            continue;  // restarted on the next round if it stopped without finishing
          }
        }
        if (!may_run) continue;
        // Parents first: a child starts once every parent this mapping knows is finished.
        bool parents_done = true;
        for (const std::string* p : {&s.parent_shard_id, &s.adjacent_parent_shard_id}) {
          if (!p->empty() && by_id.contains(*p) && !is_finished(*p)) parents_done = false;
        }
        if (!parents_done) continue;
        // Shards made after the mapping are read from their beginning; only LATEST needs
        // to know (TRIM_HORIZON reads every shard so, AT_TIMESTAMP reads a newer shard whole).
        bool new_shard = false;
        if (m->starting_position == StartingPosition::kLatest) {
          auto after = impl_.backend->created_after(arn->region, arn->stream_name, s, m->created_ms);
          new_shard = !after.ok() || *after;  // unknown: from the beginning (at-least-once)
        }
        auto r = std::make_unique<ShardRunner>(impl_, *m, *fc, s, arn->region, arn->stream_name,
                                               new_shard,
                                               impl_.leases() ? held_.at(s.shard_id) : -1);
        r->start();
        std::lock_guard lock(mu_);
        runners_.emplace(s.shard_id, std::move(r));
      }
    }
    if (!wait(impl_.opt.discovery_interval_ms)) return;
  }
}

}  // namespace freshet::process

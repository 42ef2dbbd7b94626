// KinesisStreamAsSource: a delivery stream reads its source stream straight from the engine
// (no copy into a buffer log: the source stream is the durable buffer) on its own thread.
//
// Exactly once into objects, across kill -9: a batch is a range of records per source shard,
// (delivered, end]. Before its objects are written, the checkpoint
// (state/<name>.<create_ms>.source) names it as pending with its ends, its time and the seed
// of its object names; after they are written, the checkpoint moves `delivered` to the ends.
// After a crash the pending batch is read again from the source, range by range, and written
// again under the same keys with the same records: an object is replaced, never doubled.
#include "freshet/common/logging.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "freshet/common/thread_name.h"
#include "freshet/stream/names.h"
#include "service_impl.h"

namespace freshet::delivery {
namespace {

constexpr uint32_t kMaxReadRecords = 10'000;

const char* flag(bool b) { return b ? "1" : "0"; }
std::string seq_or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    size_t sp = line.find(' ');
    out.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return out;
}

template <typename T>
bool parse_int(std::string_view s, T* out) {
  if (s.empty()) return false;
  T v = 0;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = static_cast<T>(v * 10 + static_cast<T>(s[i] - '0'));
  }
  *out = neg ? static_cast<T>(0 - v) : v;
  return true;
}

}  // namespace

Status DeliveryService::Impl::save_source(Stream& s) {
  std::string text = "freshet-kinesis-source 2\n";
  for (const auto& [shard, st] : s.source) {
    text += "shard " + shard + " " + seq_or_dash(st.delivered) + " " + flag(st.finished) + "\n";
  }
  if (s.source_pending) {
    text += "pending " + std::to_string(s.source_pending_id.time_ms) + " " +
            std::to_string(s.source_pending_id.seed) + " " +
            std::to_string(s.source_pending_id.version) + "\n";
    for (const auto& [shard, e] : s.source_pending_ends) {
      text += "end " + shard + " " + seq_or_dash(e.first) + " " + flag(e.second) + "\n";
    }
  }
  return write_file_atomically(*fs_, opt_.root + "/state", s.state_name + ".source", text);
}

Status DeliveryService::Impl::load_source(Stream& s) {
  Result<std::string> text =
      read_whole_file(*fs_, opt_.root + "/state/" + s.state_name + ".source");
  if (text.ok()) {
    std::string_view t = *text;
    size_t nl = t.find('\n');
    const std::string_view head = t.substr(0, nl);
    const bool v1 = head == "freshet-kinesis-source 1";
    if (!v1 && head != "freshet-kinesis-source 2") {
      return Error(ErrorCode::kCorruption, "bad Kinesis source checkpoint of " + s.name);
    }
    t.remove_prefix(nl == std::string_view::npos ? t.size() : nl + 1);
    auto bad = [&] {
      return Error(ErrorCode::kCorruption, "bad Kinesis source checkpoint line of " + s.name);
    };
    while (!t.empty()) {
      nl = t.find('\n');
      std::string_view line = t.substr(0, nl);
      t.remove_prefix(nl == std::string_view::npos ? t.size() : nl + 1);
      if (line.empty()) continue;
      std::vector<std::string_view> f = split_spaces(line);
      if (v1) {  // "<shard> <last sequence copied into the buffer> <finished>"
        if (f.size() != 3) return bad();
        Stream::SourceShard& st = s.source[std::string(f[0])];
        st.delivered = f[1] == "-" ? "" : std::string(f[1]);
        st.finished = f[2] == "1";
      } else if (f[0] == "shard" && f.size() == 4) {
        Stream::SourceShard& st = s.source[std::string(f[1])];
        st.delivered = f[2] == "-" ? "" : std::string(f[2]);
        st.finished = f[3] == "1";
      } else if (f[0] == "pending" && f.size() == 4) {
        s.source_pending = true;
        if (!parse_int(f[1], &s.source_pending_id.time_ms) ||
            !parse_int(f[2], &s.source_pending_id.seed) ||
            !parse_int(f[3], &s.source_pending_id.version)) {
          return bad();
        }
      } else if (f[0] == "end" && f.size() == 4) {
        s.source_pending_ends[std::string(f[1])] = {f[2] == "-" ? "" : std::string(f[2]),
                                                    f[3] == "1"};
      } else {
        return bad();
      }
    }
  } else if (text.code() != ErrorCode::kNotFound) {
    return text.error();
  }
  // Version 1 copied source records into the buffer log (partition key "<shardId> <seq>")
  // before its checkpoint: records copied after the last checkpoint are in the buffer, to be
  // delivered from there (deliver_buffer), so resume after them, not before.
  uint64_t at = s.state.delivered;
  const uint64_t tip = s.log->committed_tip();
  while (at < tip) {
    FRESHET_ASSIGN_OR_RETURN(log::ReadResult r, s.log->read(at, 100'000, 64 * kMiB));
    if (r.records.empty()) break;
    for (const auto& rec : r.records) {
      at = rec.offset + 1;
      size_t sp = rec.partition_key.find(' ');
      if (sp == std::string_view::npos) continue;
      Stream::SourceShard& st = s.source[std::string(rec.partition_key.substr(0, sp))];
      std::string_view seq = rec.partition_key.substr(sp + 1);
      if (st.delivered.empty() || seq_less(st.delivered, seq)) st.delivered = std::string(seq);
    }
  }
  for (auto& [id, st] : s.source) {
    st.read = st.delivered;
    st.read_end = st.finished;
  }
  return {};
}

void DeliveryService::Impl::start_source_thread(const std::shared_ptr<Stream>& s) {
  if (s->info.type != "KinesisStreamAsSource" || s->source_thread.joinable()) return;
  s->source_quit = false;
  s->source_thread = std::thread([this, s] {
    name_this_thread("firehose-src");
    source_loop(s);
  });
}

void DeliveryService::Impl::stop_source_thread(Stream& s) {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    s.source_quit = true;
    t = std::move(s.source_thread);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

void DeliveryService::Impl::source_loop(std::shared_ptr<Stream> s) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_ || s->source_quit) return;
    }
    bool busy;
    {
      std::lock_guard sl(s->source_mu);
      busy = source_step(*s);
    }
    if (busy) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(opt_.tick_ms),
                 [&] { return stop_ || s->source_quit; });
  }
}

bool DeliveryService::Impl::source_step(Stream& s) {
  const bool busy = source_step_inner(s);
  if (!busy && s.source_dirty) {
    if (Status st = save_source(s); !st.ok()) {
      logging::error("delivery stream {}: cannot save the source checkpoint: {}", s.name,
                    st.to_string());
    } else {
      s.source_dirty = false;
    }
  }
  return busy;
}

bool DeliveryService::Impl::source_step_inner(Stream& s) {
  DeliveryStreamInfo cfg;
  bool deleting, force;
  {
    std::lock_guard lock(mu_);
    cfg = s.info;
    deleting = s.deleting;
    force = s.force_delete;
  }
  if ((deleting && force) || !s.buffer_drained || opt_.engine == nullptr) return false;
  int64_t now = now_ms();
  if (s.source_pending && !s.sealed) {
    if (Status st = reread_pending(s, cfg); !st.ok()) {
      logging::warn("delivery stream {}: cannot read the pending batch again: {}", cfg.name,
                   st.to_string());
      return false;
    }
  }
  if (s.sealed) {
    if (now < s.source_next_attempt_ms) return false;
    if (!write_sealed(s, cfg)) return false;
  }
  const uint64_t limit = static_cast<uint64_t>(cfg.destination.size_mb) * kMiB;
  if (!deleting) read_source(s, cfg, limit);
  now = now_ms();
  uint64_t unsealed = 0;
  int64_t oldest = -1;
  for (const auto& [id, st] : s.source) {
    unsealed += st.unsealed_bytes;
    if (!st.unsealed.empty() && (oldest < 0 || st.unsealed.front().read_ms < oldest)) {
      oldest = st.unsealed.front().read_ms;
    }
  }
  s.freshness->set(oldest < 0 ? 0.0
                              : static_cast<double>(std::max<int64_t>(0, now - oldest)) / 1000.0);
  if (unsealed >= limit) {  // a full buffer goes at once; more may be waiting
    seal(s, cfg, limit);
    return write_sealed(s, cfg);
  }
  if (oldest >= 0 &&
      (deleting || now - oldest >= int64_t{cfg.destination.interval_seconds} * 1000)) {
    seal(s, cfg, UINT64_MAX);
    if (!write_sealed(s, cfg)) return false;
    s.freshness->set(0);
  }
  if (deleting && !s.sealed) {
    bool empty = true;
    for (const auto& [id, st] : s.source) empty = empty && st.unsealed.empty();
    if (empty && !s.source_drained) {
      s.source_drained = true;
      {
        std::lock_guard lock(mu_);
        wake_ = true;
      }
      cv_.notify_all();
    }
  }
  return false;
}

bool DeliveryService::Impl::read_source(Stream& s, const DeliveryStreamInfo& cfg,
                                        uint64_t limit) {
  stream::Engine* engine = opt_.engine;
  Result<stream::StreamArn> arn = stream::parse_stream_arn(cfg.source_stream_arn);
  if (!arn.ok()) return false;
  Result<std::vector<stream::Shard>> shards =
      engine->list_shards(arn->region, arn->stream_name, stream::ListShardsFilter{});
  if (!shards.ok()) {  // the source stream is gone or not readable now
    logging::warn("delivery stream {}: cannot list the source's shards: {}", cfg.name,
                 shards.error().to_string());
    return false;
  }
  std::map<std::string, bool> present;
  for (const auto& sh : *shards) present[sh.shard_id] = true;
  uint64_t total = 0;
  for (const auto& [id, st] : s.source) total += st.unsealed_bytes;
  int64_t behind = 0;
  bool any = false;
  // Rounds over the shards until a buffer is full or nothing new: every shard gets its turn.
  for (bool got = true; got && total < limit;) {
    got = false;
    for (const auto& sh : *shards) {
      if (total >= limit) break;
      Stream::SourceShard& st = s.source[sh.shard_id];
      if (st.finished || st.read_end) continue;
      // Parents before children: a child waits until its parents are read to their end.
      bool parents_done = true;
      for (const std::string& p : {sh.parent_shard_id, sh.adjacent_parent_shard_id}) {
        if (p.empty() || !present.count(p)) continue;
        const Stream::SourceShard& ps = s.source[p];
        if (!ps.finished && !ps.read_end) parents_done = false;
      }
      if (!parents_done) continue;
      if (st.iterator.empty()) {
        Result<std::string> it =
            st.read.empty()
                ? engine->get_shard_iterator(arn->region, arn->stream_name, sh.shard_id,
                                             stream::IteratorType::kTrimHorizon, "", 0)
                : engine->get_shard_iterator(arn->region, arn->stream_name, sh.shard_id,
                                             stream::IteratorType::kAfterSequenceNumber,
                                             st.read, 0);
        if (!it.ok()) {
          logging::warn("delivery stream {}: no iterator for {}: {}", cfg.name, sh.shard_id,
                       it.error().to_string());
          continue;
        }
        st.iterator = std::move(*it);
      }
      const uint64_t want = (limit - total) / std::max<uint64_t>(1, s.avg_record_bytes) + 1;
      const uint32_t n = static_cast<uint32_t>(std::clamp<uint64_t>(want, 100, kMaxReadRecords));
      Result<stream::GetRecordsResult> r = engine->get_records(st.iterator, n);
      if (!r.ok()) {  // an expired iterator, a throttled read: a new iterator next time
        logging::debug("delivery stream {}: reading {}: {}", cfg.name, sh.shard_id,
                      r.error().to_string());
        st.iterator.clear();
        continue;
      }
      behind = std::max(behind, r->millis_behind_latest);
      if (r->next_iterator) {
        st.iterator = std::move(*r->next_iterator);
      } else {
        st.iterator.clear();
        st.read_end = true;
      }
      if (r->records.empty()) continue;
      got = any = true;
      auto res = std::make_shared<stream::GetRecordsResult>(std::move(*r));
      uint64_t bytes = 0;
      for (const auto& rec : res->records) bytes += rec.data.size();
      s.avg_record_bytes = std::max<uint64_t>(1, bytes / res->records.size());
      st.read = std::string(res->records.back().sequence_number());
      s.read_records->inc(res->records.size());
      s.read_bytes->inc(bytes);
      st.unsealed.push_back(Stream::SourceShard::Chunk{std::move(res), 0, now_ms()});
      st.unsealed_bytes += bytes;
      total += bytes;
    }
  }
  s.millis_behind->set(static_cast<double>(behind));
  return any;
}

// Takes records read from the shards (round robin, so every shard advances) up to `limit`
// bytes into the sealed batch; in the batch each shard's records are together, in order, so
// reading the same ranges again gives the same objects.
void DeliveryService::Impl::seal(Stream& s, const DeliveryStreamInfo& cfg, uint64_t limit) {
  Stream::Sealed b;
  // Per shard (in s.source's order, the ids' order): what it gives to the batch. The last
  // record's sequence number is a view into its result, which b.keep holds.
  struct Taken {
    const std::string* id = nullptr;
    Stream::SourceShard* st = nullptr;
    std::vector<BatchRecord> records;
    const stream::GetRecordsResult* kept = nullptr;
    std::string_view last_seq;
  };
  std::vector<Taken> shards;
  shards.reserve(s.source.size());
  for (auto& [id, st] : s.source) shards.push_back(Taken{&id, &st, {}, nullptr, {}});
  uint64_t bytes = 0;
  int64_t oldest = -1;
  for (bool progress = true; progress && bytes < limit;) {
    progress = false;
    for (Taken& t : shards) {
      Stream::SourceShard& st = *t.st;
      if (st.unsealed.empty() || bytes >= limit) continue;
      Stream::SourceShard::Chunk& c = st.unsealed.front();
      const stream::GetRecordsRecord& rec = c.result->records[c.next];
      t.records.push_back(BatchRecord{rec.data, c.read_ms});
      if (oldest < 0 || c.read_ms < oldest) oldest = c.read_ms;
      bytes += rec.data.size();
      st.unsealed_bytes -= rec.data.size();
      t.last_seq = rec.sequence_number();
      if (t.kept != c.result.get()) {
        t.kept = c.result.get();
        b.keep.push_back(c.result);
      }
      if (++c.next == c.result->records.size()) st.unsealed.pop_front();
      progress = true;
    }
  }
  size_t count = 0;
  for (const Taken& t : shards) count += t.records.size();
  b.records.reserve(count);
  for (Taken& t : shards) {
    const Stream::SourceShard& st = *t.st;
    if (!t.records.empty()) {
      b.ends[*t.id] = {std::string(t.last_seq), false};
      b.records.insert(b.records.end(), t.records.begin(), t.records.end());
    }
    if (st.read_end && !st.finished && st.unsealed.empty()) {
      b.ends[*t.id] = {st.read, true};  // closed and read to its end: finished once delivered
    }
  }
  b.id.time_ms = oldest < 0 ? now_ms() : oldest;
  b.id.seed = std::random_device{}() * 0x100000000ull ^ std::random_device{}();
  b.id.version = cfg.version;
  s.sealed = std::move(b);
}

// After a crash: the batch the checkpoint names as pending, read again range by range.
Status DeliveryService::Impl::reread_pending(Stream& s, const DeliveryStreamInfo& cfg) {
  stream::Engine* engine = opt_.engine;
  FRESHET_ASSIGN_OR_RETURN(stream::StreamArn arn, stream::parse_stream_arn(cfg.source_stream_arn));
  Stream::Sealed b;
  b.id = s.source_pending_id;
  b.ends = s.source_pending_ends;
  b.saved = true;
  const int64_t now = now_ms();
  for (const auto& [id, e] : s.source_pending_ends) {
    Stream::SourceShard& st = s.source[id];
    const std::string& end = e.first;
    if (!end.empty() && (st.delivered.empty() || seq_less(st.delivered, end))) {
      FRESHET_ASSIGN_OR_RETURN(
          std::string it,
          st.delivered.empty()
              ? engine->get_shard_iterator(arn.region, arn.stream_name, id,
                                           stream::IteratorType::kTrimHorizon, "", 0)
              : engine->get_shard_iterator(arn.region, arn.stream_name, id,
                                           stream::IteratorType::kAfterSequenceNumber,
                                           st.delivered, 0));
      bool done = false;
      while (!done) {
        FRESHET_ASSIGN_OR_RETURN(stream::GetRecordsResult r,
                                 engine->get_records(it, kMaxReadRecords));
        auto res = std::make_shared<stream::GetRecordsResult>(std::move(r));
        for (const auto& rec : res->records) {
          if (seq_less(end, rec.sequence_number())) {
            done = true;
            break;
          }
          b.records.push_back(BatchRecord{rec.data, now});
          if (rec.sequence_number() == end) done = true;
        }
        if (!res->records.empty()) b.keep.push_back(res);
        if (!res->next_iterator || (res->records.empty() && !done)) {
          // The range's end is not in the stream (trimmed by its retention): what is there.
          if (!done) {
            logging::warn("delivery stream {}: shard {} ends before {} (trimmed?)", cfg.name,
                         id, end);
          }
          break;
        }
        it = *res->next_iterator;
      }
    }
    st.read = end.empty() ? st.delivered : end;
    st.read_end = e.second;
    st.iterator.clear();
    st.unsealed.clear();
    st.unsealed_bytes = 0;
  }
  s.sealed = std::move(b);
  return {};
}

bool DeliveryService::Impl::write_sealed(Stream& s, const DeliveryStreamInfo& cfg) {
  Stream::Sealed& b = *s.sealed;
  const int64_t now = now_ms();
  auto failed = [&](const std::string& why) {
    s.delivery_failures->inc();
    if (s.source_first_failure_ms == 0) s.source_first_failure_ms = now;
    s.source_backoff_ms =
        std::min(s.source_backoff_ms == 0 ? 1000 : s.source_backoff_ms * 2, opt_.max_backoff_ms);
    s.source_next_attempt_ms = now + s.source_backoff_ms;
    logging::warn("delivery stream {}: delivery failed (retrying in {} ms): {}", cfg.name,
                 s.source_backoff_ms, why);
    return false;
  };
  if (!b.saved) {  // the checkpoint names the batch before any of its objects is written
    s.source_pending = true;
    s.source_pending_id = b.id;
    s.source_pending_ends = b.ends;
    if (Status st = save_source(s); !st.ok()) {
      s.source_pending = false;
      return failed("cannot save the checkpoint: " + st.to_string());
    }
    b.saved = true;
    s.source_dirty = false;
  }
  if (!b.prepared) {
    Result<PreparedBatch> p = prepare_batch(cfg.name, cfg.destination, b.records, b.id, "");
    if (!p.ok()) return failed(p.error().to_string());
    b.prepared = std::move(*p);
  }
  Status st = b.records.empty() ? Status{} : put_batch(s, *b.prepared);
  // Past RetryOptions.DurationInSeconds of failures, a batch the destination still refuses
  // goes to the error prefix instead (both keep being retried while the source keeps them).
  if (!st.ok() && s.source_first_failure_ms != 0 &&
      now - s.source_first_failure_ms >= int64_t{cfg.destination.retry_seconds} * 1000) {
    Result<PreparedBatch> p =
        prepare_batch(cfg.name, cfg.destination, b.records, b.id, st.error().message());
    if (p.ok()) {
      Status es = put_batch(s, *p);
      if (es.ok()) st = es;
    }
  }
  if (!st.ok()) return failed(st.to_string());
  for (const auto& [id, e] : b.ends) {
    Stream::SourceShard& sh = s.source[id];
    if (!e.first.empty()) sh.delivered = e.first;
    if (e.second) sh.finished = true;
  }
  s.source_pending = false;
  s.source_pending_ends.clear();
  s.sealed.reset();
  s.source_first_failure_ms = 0;
  s.source_backoff_ms = 0;
  s.source_next_attempt_ms = 0;
  // The new `delivered` goes into the next batch's pending checkpoint, or is saved when the
  // step ends (source_step): one checkpoint write per batch under load. A crash before then
  // writes this batch again: the same records under the same keys.
  s.source_dirty = true;
  return true;
}

}  // namespace freshet::delivery

// stream::Engine: lifecycle (open, shutdown, the background thread) and the control plane.
// Every control-plane change copies the published catalog, edits the copy, persists it and
// only then publishes it (engine_impl.h). Resharding is in engine_reshard.cc, the data plane
// in write_path.cc and read_path.cc.
#include "freshet/common/thread_name.h"
#include "freshet/stream/engine.h"

#include <openssl/rand.h>
#include "freshet/common/logging.h"

#include <algorithm>
#include <set>

#include "catalog_file.h"
#include "engine_impl.h"
#include "freshet/stream/names.h"
#include "freshet/stream/resharding.h"

namespace freshet::stream {

const char* to_string(StreamStatus s) {
  switch (s) {
    case StreamStatus::kCreating:
      return "CREATING";
    case StreamStatus::kDeleting:
      return "DELETING";
    case StreamStatus::kActive:
      return "ACTIVE";
    case StreamStatus::kUpdating:
      return "UPDATING";
  }
  return "ACTIVE";
}

const char* to_string(StreamMode m) {
  return m == StreamMode::kOnDemand ? "ON_DEMAND" : "PROVISIONED";
}

const char* to_string(ConsumerStatus s) {
  switch (s) {
    case ConsumerStatus::kCreating:
      return "CREATING";
    case ConsumerStatus::kDeleting:
      return "DELETING";
    case ConsumerStatus::kActive:
      return "ACTIVE";
  }
  return "ACTIVE";
}

uint32_t StreamInfo::open_shard_count() const {
  uint32_t n = 0;
  for (const auto& s : shards) n += s.closed ? 0 : 1;
  return n;
}

namespace {

constexpr int64_t kRetentionCheckMs = 10 * 1000;

const std::vector<std::string>& all_shard_level_metrics() {
  static const std::vector<std::string> kAll = {"IncomingBytes",
                                                "IncomingRecords",
                                                "IteratorAgeMilliseconds",
                                                "OutgoingBytes",
                                                "OutgoingRecords",
                                                "ReadProvisionedThroughputExceeded",
                                                "WriteProvisionedThroughputExceeded"};
  return kAll;
}


// A copy of the published catalog, to change. REQUIRES: control_mu_ held.
std::shared_ptr<Catalog> copy_of(const Engine::Impl& m) {
  return std::make_shared<Catalog>(*m.current());
}

// Copies the catalog and one stream (which must exist, and be ACTIVE if `active`), lets
// `edit` change the stream's copy, optionally starts a transitional status, and commits.
template <class Edit>
Status change_stream(Engine::Impl& m, const std::string& region, const std::string& name,
                     bool active, std::optional<StreamStatus> transition, Edit edit) {
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  std::shared_ptr<const StreamView> cur;
  if (active) {
    FRESHET_ASSIGN_OR_RETURN(cur, m.find_active(*next, region, name));
  } else {
    FRESHET_ASSIGN_OR_RETURN(cur, Engine::Impl::find(*next, m.options_.account_id, region, name));
  }
  auto s = std::make_shared<StreamView>(*cur);
  AfterCommit after;
  FRESHET_RETURN_IF_ERROR(edit(*next, *s, after));
  if (transition) {
    s->info.status = *transition;
    s->status_until_ms = m.now() + m.options_.state_delay_ms;
  }
  s->build_routing();
  next->streams[{region, name}] = std::move(s);
  return m.settle(std::move(next), std::move(after));
}

}  // namespace

// ---- lifecycle ----

Status Engine::Impl::open() {
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs_, options_.data_dir));
  log::LogStoreOptions lo;
  lo.on_fsync = options_.on_fsync;
  lo.on_round = options_.on_round;
  FRESHET_ASSIGN_OR_RETURN(logs_, log::LogStore::open(options_.data_dir + "/logs", fs_, lo));

  // The shard-iterator key: created once, so iterators outlive a restart.
  const std::string key_path = options_.data_dir + "/iterator.key";
  auto key = read_whole_file(*fs_, key_path);
  if (key.ok() && key->size() == kShardIteratorKeySize) {
    std::copy(key->begin(), key->end(), iterator_key_.begin());
  } else if (!key.ok() && key.code() == ErrorCode::kNotFound) {
    if (RAND_bytes(iterator_key_.data(), static_cast<int>(iterator_key_.size())) != 1) {
      return Error(ErrorCode::kFailed, "no randomness for the iterator key");
    }
    FRESHET_RETURN_IF_ERROR(
        write_file_atomically(*fs_, options_.data_dir, "iterator.key",
                              std::string_view(reinterpret_cast<const char*>(iterator_key_.data()),
                                               iterator_key_.size())));
  } else {
    return Error(ErrorCode::kCorruption, key_path + " is damaged");
  }
  {
    std::lock_guard w(control_mu_);
    FRESHET_RETURN_IF_ERROR(load_catalog());
  }
  bg_ = std::thread([this] {
    name_this_thread("stream-bg");
    background();
  });
  return {};
}

void Engine::Impl::shutdown() {
  {
    std::lock_guard lock(bg_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  std::lock_guard w(control_mu_);
  if (auto c = current()) {
    for (const auto& [k, s] : c->streams) {
      for (const auto& sh : s->shards) (void)sh->log()->close();
    }
  }
  if (logs_) logs_->close();
}

void Engine::Impl::background() {
  std::unique_lock lock(bg_mu_);
  while (!stopping_) {
    // With no state delay, transitions complete inside the call that starts them and the
    // thread only enforces retention and reopens failed logs.
    const auto wait = std::chrono::milliseconds(
        options_.state_delay_ms == 0 ? 1000
                                     : std::clamp<int64_t>(options_.state_delay_ms / 4, 10, 1000));
    bg_cv_.wait_for(lock, wait, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    tick();
    lock.lock();
  }
}

void Engine::Impl::tick() {
  const int64_t now_ms = now();
  {
    std::lock_guard w(control_mu_);
    auto next = copy_of(*this);
    AfterCommit after;
    if (apply_transitions(*next, now_ms, &after)) {
      (void)commit(std::move(next), std::move(after));  // a failure is logged; retried next tick
    }
    reopen_failed_logs(*current());
  }
  int64_t last = last_retention_ms_.load();
  if (now_ms - last < kRetentionCheckMs || !last_retention_ms_.compare_exchange_strong(last, now_ms)) {
    return;
  }
  std::vector<std::shared_ptr<log::Log>> logs;
  // Hold the catalog while iterating it: a range-for over current()->streams would destroy
  // the temporary shared_ptr before the loop runs, and a concurrent commit could free it.
  const std::shared_ptr<const Catalog> cat = current();
  for (const auto& [k, s] : cat->streams) {
    for (const auto& sh : s->shards) logs.push_back(sh->log());
  }
  for (const auto& l : logs) {
    auto r = l->enforce_retention(now_ms);
    if (!r.ok() && r.code() != ErrorCode::kClosed) {
      logging::warn("retention: {}", r.error().to_string());
    }
  }
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& options) {
  if (options.data_dir.empty()) return Error(ErrorCode::kInvalidArgument, "data_dir is required");
  auto impl = std::make_unique<Impl>(options);
  FRESHET_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const std::string& Engine::account_id() const { return impl_->options_.account_id; }

void Engine::tick() { impl_->tick(); }

Status Engine::health() const {
  Impl& m = *impl_;
  {
    std::lock_guard h(m.health_mu_);
    if (!m.catalog_error_.empty()) {
      return Error(ErrorCode::kUnavailable, "catalog cannot be persisted: " + m.catalog_error_);
    }
    if (m.last_write_error_ms_.load() > m.last_write_ok_ms_.load()) {
      return Error(ErrorCode::kUnavailable, "writes are failing: " + m.write_error_);
    }
  }
  if (Status s = m.logs_->health(); !s.ok()) return s;
  const std::shared_ptr<const Catalog> cat = m.current();  // held: see tick()
  for (const auto& [k, s] : cat->streams) {
    for (const auto& sh : s->shards) {
      if (Status h = sh->log()->health(); !h.ok()) {
        return Error(ErrorCode::kUnavailable, "shard " + sh->shard_id + " of stream " + k.second +
                                                  " in " + k.first + ": " + h.error().message());
      }
    }
  }
  return {};
}

// ---- control plane ----

Status Engine::create_stream(const std::string& region, const std::string& name,
                             std::optional<uint32_t> shard_count, StreamMode mode,
                             const std::map<std::string, std::string>& tags,
                             std::optional<int32_t> max_record_size_kib) {
  Impl& m = *impl_;
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  if (next->streams.count({region, name}) != 0) {
    return Error(ErrorCode::kResourceInUse,
                 "Stream " + name + " under account " + m.options_.account_id + " already exists.");
  }
  const uint32_t count = shard_count.value_or(m.options_.on_demand_shards);
  FRESHET_RETURN_IF_ERROR(m.check_shard_limit(*next, region, count));
  FRESHET_ASSIGN_OR_RETURN(auto ranges, uniform_hash_key_ranges(count));
  auto s = std::make_shared<StreamView>();
  const int64_t now_ms = m.now();
  s->info.region = region;
  s->info.name = name;
  s->info.arn = format_stream_arn(region, m.options_.account_id, name);
  s->info.epoch = next->next_epoch++;
  s->info.mode = mode;
  s->info.created_ms = now_ms;
  s->info.tags = tags;
  if (max_record_size_kib) s->info.max_record_size_kib = *max_record_size_kib;
  for (const auto& r : ranges) {
    auto added = m.add_shard(*s, r, "", "", now_ms);
    if (!added.ok()) {
      m.remove_stream_files(*s);
      return added.error();
    }
  }
  s->info.status = StreamStatus::kCreating;
  s->status_until_ms = now_ms + m.options_.state_delay_ms;
  s->build_routing();
  next->streams[{region, name}] = s;
  Status st = m.settle(std::move(next), {});
  if (!st.ok()) m.remove_stream_files(*s);  // no catalog names these logs
  return st;
}

Status Engine::delete_stream(const std::string& region, const std::string& name,
                             bool enforce_consumer_deletion) {
  Impl& m = *impl_;
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  FRESHET_ASSIGN_OR_RETURN(auto cur, Impl::find(*next, m.options_.account_id, region, name));
  if (cur->info.status == StreamStatus::kDeleting) return {};
  if (!cur->info.consumers.empty() && !enforce_consumer_deletion) {
    return Error(ErrorCode::kResourceInUse,
                 "Stream " + name + " under account " + m.options_.account_id +
                     " has registered consumers. Deregister the consumers or set "
                     "EnforceConsumerDeletion to true.");
  }
  // The deletion is durable in the catalog before any file goes (AfterCommit::remove).
  auto s = std::make_shared<StreamView>(*cur);
  s->info.status = StreamStatus::kDeleting;
  s->status_until_ms = m.now() + m.options_.state_delay_ms;
  next->streams[{region, name}] = std::move(s);
  return m.settle(std::move(next), {});
}

Result<StreamInfo> Engine::describe_stream(const std::string& region,
                                           const std::string& name) const {
  auto c = impl_->current();
  FRESHET_ASSIGN_OR_RETURN(auto s, Impl::find(*c, impl_->options_.account_id, region, name));
  return impl_->describe(*s);
}

std::vector<std::string> Engine::list_streams(const std::string& region) const {
  auto c = impl_->current();
  std::vector<std::string> out;
  for (const auto& [k, s] : c->streams) {
    if (k.first == region) out.push_back(k.second);
  }
  return out;  // std::map orders by (region, name): already sorted
}

Result<std::vector<Shard>> Engine::list_shards(const std::string& region, const std::string& name,
                                               const ListShardsFilter& filter) const {
  auto c = impl_->current();
  FRESHET_ASSIGN_OR_RETURN(auto s, Impl::find(*c, impl_->options_.account_id, region, name));
  StreamInfo info = impl_->describe(*s);
  const int64_t now_ms = impl_->now();
  const int64_t horizon_ms = now_ms - int64_t{info.retention_hours} * kHourMs;
  uint64_t after_index = 0;
  if (filter.type == ListShardsFilter::Type::kAfterShardId) {
    FRESHET_ASSIGN_OR_RETURN(after_index, resolve_shard_id(filter.shard_id));
  }
  std::vector<Shard> out;
  for (auto& sh : info.shards) {
    bool keep = true;
    switch (filter.type) {
      case ListShardsFilter::Type::kNone:
        break;
      case ListShardsFilter::Type::kAfterShardId:
        keep = sh.index > after_index;
        break;
      case ListShardsFilter::Type::kAtTrimHorizon:
        keep = sh.created_ms <= std::max(horizon_ms, info.created_ms) &&
               (!sh.closed || sh.closed_ms >= horizon_ms);
        break;
      case ListShardsFilter::Type::kFromTrimHorizon:
        keep = !sh.closed || sh.closed_ms >= horizon_ms;
        break;
      case ListShardsFilter::Type::kAtLatest:
        keep = !sh.closed;
        break;
      case ListShardsFilter::Type::kAtTimestamp:
        keep = sh.created_ms <= std::max(filter.timestamp_ms, info.created_ms) &&
               (!sh.closed || sh.closed_ms >= filter.timestamp_ms);
        break;
      case ListShardsFilter::Type::kFromTimestamp:
        keep = !sh.closed || sh.closed_ms >= filter.timestamp_ms;
        break;
    }
    if (keep) out.push_back(std::move(sh));
  }
  return out;
}

namespace {
Status set_retention(Engine::Impl& m, const std::string& region, const std::string& name,
                     int32_t hours, bool increase) {
  return change_stream(
      m, region, name, true, StreamStatus::kUpdating,
      [&](Catalog&, StreamView& s, AfterCommit&) -> Status {
        const int32_t current = s.info.retention_hours;
        if (increase && hours < current) {
          return Error(ErrorCode::kInvalidArgument,
                       "Requested retention period (" + std::to_string(hours) +
                           " hours) for stream " + name +
                           " can not be shorter than existing retention period (" +
                           std::to_string(current) + " hours). Use DecreaseRetentionPeriod API.");
        }
        if (!increase && hours > current) {
          return Error(ErrorCode::kInvalidArgument,
                       "Requested retention period (" + std::to_string(hours) +
                           " hours) for stream " + name +
                           " can not be longer than existing retention period (" +
                           std::to_string(current) + " hours). Use IncreaseRetentionPeriod API.");
        }
        s.info.retention_hours = hours;
        return Status();
      });
}
}  // namespace

Status Engine::increase_retention(const std::string& region, const std::string& name,
                                  int32_t hours) {
  FRESHET_RETURN_IF_ERROR(set_retention(*impl_, region, name, hours, true));
  return impl_->apply_retention(region, name);
}

Status Engine::decrease_retention(const std::string& region, const std::string& name,
                                  int32_t hours) {
  FRESHET_RETURN_IF_ERROR(set_retention(*impl_, region, name, hours, false));
  return impl_->apply_retention(region, name);
}

Status Engine::update_max_record_size(const std::string& region, const std::string& name,
                                      int32_t kib) {
  return change_stream(*impl_, region, name, true, StreamStatus::kUpdating,
                       [&](Catalog&, StreamView& s, AfterCommit&) {
                         s.info.max_record_size_kib = kib;
                         return Status();
                       });
}

Status Engine::update_stream_mode(const std::string& region, const std::string& name,
                                  StreamMode mode) {
  return change_stream(*impl_, region, name, true, StreamStatus::kUpdating,
                       [&](Catalog&, StreamView& s, AfterCommit&) {
                         s.info.mode = mode;
                         return Status();
                       });
}

Status Engine::add_tags(const std::string& region, const std::string& name,
                        const std::map<std::string, std::string>& tags) {
  const std::string& account = impl_->options_.account_id;
  return change_stream(*impl_, region, name, false, std::nullopt,
                       [&](Catalog&, StreamView& s, AfterCommit&) -> Status {
                         std::map<std::string, std::string> merged = s.info.tags;
                         for (const auto& [k, v] : tags) merged[k] = v;
                         if (merged.size() > 50) {
                           return Error(ErrorCode::kInvalidArgument,
                                        "Failed to add tags to stream " + name +
                                            " under account " + account +
                                            " because a given stream cannot have more than 50 "
                                            "tags.");
                         }
                         s.info.tags = std::move(merged);
                         return Status();
                       });
}

Status Engine::remove_tags(const std::string& region, const std::string& name,
                           const std::vector<std::string>& keys) {
  return change_stream(*impl_, region, name, false, std::nullopt,
                       [&](Catalog&, StreamView& s, AfterCommit&) {
                         for (const auto& k : keys) s.info.tags.erase(k);
                         return Status();
                       });
}

Status Engine::start_encryption(const std::string& region, const std::string& name,
                                const std::string& key_id) {
  return change_stream(*impl_, region, name, true, StreamStatus::kUpdating,
                       [&](Catalog&, StreamView& s, AfterCommit&) {
                         s.info.encryption_type = "KMS";
                         s.info.key_id = key_id;
                         return Status();
                       });
}

Status Engine::stop_encryption(const std::string& region, const std::string& name) {
  return change_stream(*impl_, region, name, true, StreamStatus::kUpdating,
                       [&](Catalog&, StreamView& s, AfterCommit&) {
                         s.info.encryption_type = "NONE";
                         s.info.key_id.clear();
                         return Status();
                       });
}

Result<std::pair<std::vector<std::string>, std::vector<std::string>>>
Engine::set_enhanced_monitoring(const std::string& region, const std::string& name,
                                const std::vector<std::string>& metrics, bool enable) {
  std::vector<std::string> before;
  std::vector<std::string> after_set;
  FRESHET_RETURN_IF_ERROR(change_stream(
      *impl_, region, name, true, std::nullopt, [&](Catalog&, StreamView& s, AfterCommit&) {
        std::set<std::string> current(s.info.shard_level_metrics.begin(),
                                      s.info.shard_level_metrics.end());
        before.assign(current.begin(), current.end());
        for (const auto& metric : metrics) {
          const std::vector<std::string> expanded =
              metric == "ALL" ? all_shard_level_metrics() : std::vector<std::string>{metric};
          for (const auto& e : expanded) {
            if (enable) {
              current.insert(e);
            } else {
              current.erase(e);
            }
          }
        }
        s.info.shard_level_metrics.assign(current.begin(), current.end());
        after_set = s.info.shard_level_metrics;
        return Status();
      }));
  return std::make_pair(before, after_set);
}

AccountSettings Engine::account_settings() const { return impl_->current()->account; }

Status Engine::update_account_settings(const AccountSettings& settings) {
  Impl& m = *impl_;
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  next->account = settings;
  return m.commit(std::move(next), {});
}

Result<Consumer> Engine::register_consumer(const std::string& region, const std::string& stream,
                                           const std::string& consumer_name) {
  Impl& m = *impl_;
  Consumer c;
  FRESHET_RETURN_IF_ERROR(change_stream(
      m, region, stream, true, std::nullopt, [&](Catalog&, StreamView& s, AfterCommit&) -> Status {
        for (const auto& existing : s.info.consumers) {
          if (existing.name == consumer_name) {
            return Error(ErrorCode::kResourceInUse, "Consumer " + existing.arn + " already exists.");
          }
        }
        if (s.info.consumers.size() >= 20) {
          return Error(ErrorCode::kLimitExceeded,
                       "Consumer limit of 20 has been reached for stream " + s.info.arn + ".");
        }
        c.name = consumer_name;
        c.created_ms = m.now();
        ConsumerArn arn;
        arn.stream.region = region;
        arn.stream.account_id = m.options_.account_id;
        arn.stream.stream_name = stream;
        arn.consumer_name = consumer_name;
        arn.creation_epoch_seconds = static_cast<uint64_t>(c.created_ms / 1000);
        c.arn = format_consumer_arn(arn);
        c.status = ConsumerStatus::kCreating;
        s.info.consumers.push_back(c);
        return Status();
      }));
  return c;  // as registered: CREATING (DescribeStreamConsumer shows it move on)
}

Status Engine::deregister_consumer(const std::string& region, const std::string& stream,
                                   const std::string& consumer_name) {
  Impl& m = *impl_;
  return change_stream(
      m, region, stream, false, std::nullopt, [&](Catalog&, StreamView& s, AfterCommit&) -> Status {
        for (auto& c : s.info.consumers) {
          if (c.name == consumer_name) {
            c.status = ConsumerStatus::kDeleting;
            c.created_ms = m.now();  // the deletion delay counts from now
            return Status();
          }
        }
        return Error(ErrorCode::kNotFound, "Consumer " + consumer_name + " under stream " + stream +
                                               " under account " + m.options_.account_id +
                                               " not found.");
      });
}

Result<std::pair<StreamInfo, Consumer>> Engine::find_consumer(
    const std::string& region, const std::string& stream, const std::string& consumer_name) const {
  auto c = impl_->current();
  FRESHET_ASSIGN_OR_RETURN(auto s, Impl::find(*c, impl_->options_.account_id, region, stream));
  for (const auto& con : s->info.consumers) {
    if (con.name == consumer_name) return std::make_pair(impl_->describe(*s), con);
  }
  return Error(ErrorCode::kNotFound, "Consumer " + consumer_name + " under stream " + stream +
                                         " under account " + impl_->options_.account_id +
                                         " not found.");
}

Result<std::pair<StreamInfo, Consumer>> Engine::find_consumer_by_arn(const std::string& arn) const {
  auto parsed = parse_consumer_arn(arn);
  if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, "Invalid ConsumerARN " + arn);
  auto c = impl_->current();
  FRESHET_ASSIGN_OR_RETURN(auto s, Impl::find(*c, impl_->options_.account_id,
                                              parsed->stream.region, parsed->stream.stream_name));
  for (const auto& con : s->info.consumers) {
    if (con.arn == arn) return std::make_pair(impl_->describe(*s), con);
  }
  return Error(ErrorCode::kNotFound, "Consumer " + arn + " not found.");
}

namespace {
// Checks that an ARN names an existing stream or consumer of catalog `c`.
Status check_resource(const Engine::Impl& m, const Catalog& c, const std::string& arn) {
  const std::string& account = m.options_.account_id;
  if (auto con = parse_consumer_arn(arn); con.ok()) {
    FRESHET_ASSIGN_OR_RETURN(
        auto s, Engine::Impl::find(c, account, con->stream.region, con->stream.stream_name));
    for (const auto& x : s->info.consumers) {
      if (x.arn == arn) return {};
    }
    return Error(ErrorCode::kNotFound, "Consumer " + arn + " not found.");
  }
  auto s = parse_stream_arn(arn);
  if (!s.ok()) return Error(ErrorCode::kInvalidArgument, "Invalid ResourceARN " + arn);
  return Engine::Impl::find(c, account, s->region, s->stream_name).status();
}
}  // namespace

Status Engine::put_policy(const std::string& arn, const std::string& policy) {
  Impl& m = *impl_;
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  FRESHET_RETURN_IF_ERROR(check_resource(m, *next, arn));
  next->policies[arn] = policy;
  return m.commit(std::move(next), {});
}

Result<std::string> Engine::get_policy(const std::string& arn) const {
  auto c = impl_->current();
  FRESHET_RETURN_IF_ERROR(check_resource(*impl_, *c, arn));
  auto it = c->policies.find(arn);
  return it == c->policies.end() ? std::string() : it->second;
}

Status Engine::delete_policy(const std::string& arn) {
  Impl& m = *impl_;
  std::lock_guard w(m.control_mu_);
  auto next = copy_of(m);
  FRESHET_RETURN_IF_ERROR(check_resource(m, *next, arn));
  if (next->policies.erase(arn) == 0) {
    return Error(ErrorCode::kNotFound, "No resource policy found for resource ARN " + arn + ".");
  }
  return m.commit(std::move(next), {});
}

// ---- stats ----

std::optional<Engine::WalStats> Engine::wal_stats() const {
  // logs_ is set in open() and never changes after, so no lock is needed.
  if (!impl_->logs_) return std::nullopt;
  const log::LogStore& store = *impl_->logs_;
  WalStats w;
  w.bytes = store.wal_bytes();
  w.checkpoints = store.wal_checkpoints();
  w.recovered_batches = store.wal_recovery().restored;
  w.recovery_failures = store.wal_recovery().failed;
  w.recovery_gaps = store.wal_recovery().gaps;
  w.checkpoint_failures = store.wal_checkpoint_failures();
  w.write_failures = store.wal_write_failures();
  w.stalled = !store.health().ok();
  return w;
}

Engine::EngineStats Engine::engine_stats() const {
  EngineStats s;
  s.put_failures = impl_->put_failures_.load(std::memory_order_relaxed);
  s.catalog_failures = impl_->catalog_failures_.load(std::memory_order_relaxed);
  s.reopened_logs = impl_->reopened_logs_.load(std::memory_order_relaxed);
  return s;
}

std::vector<Engine::ShardStats> Engine::shard_stats() const {
  auto c = impl_->current();
  std::vector<ShardStats> out;
  for (const auto& [k, s] : c->streams) {
    for (const auto& sh : s->shards) {
      auto log = sh->log();
      ShardStats st;
      st.region = k.first;
      st.stream = k.second;
      st.shard_id = sh->shard_id;
      st.tip = log->committed_tip();
      st.trim_horizon = log->trim_horizon();
      st.log = log->counters();
      st.failed = !log->health().ok();
      out.push_back(std::move(st));
    }
  }
  return out;
}

}  // namespace freshet::stream

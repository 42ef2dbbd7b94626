#include "freshet/stream/engine.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>

#include "catalog_file.h"
#include "freshet/log/log_store.h"
#include "freshet/stream/names.h"
#include "freshet/stream/resharding.h"
#include "freshet/stream/sequence_number.h"
#include "freshet/stream/shard_iterator.h"

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

constexpr int64_t kHourMs = 3600 * 1000;
constexpr size_t kMaxGetRecordsBytes = 10 << 20;
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

// A fixed one-second window of usage, for the opt-in per-shard limits.
struct RateWindow {
  int64_t second = 0;
  uint64_t bytes = 0;
  uint64_t count = 0;
  // Adds (bytes, count) if the window stays within both limits.
  bool try_add(int64_t now_ms, uint64_t b, uint64_t c, uint64_t max_bytes, uint64_t max_count) {
    const int64_t sec = now_ms / 1000;
    if (sec != second) {
      second = sec;
      bytes = 0;
      count = 0;
    }
    if (bytes + b > max_bytes || count + c > max_count) return false;
    bytes += b;
    count += c;
    return true;
  }
};

struct ShardRt {
  Shard meta;
  std::shared_ptr<log::Log> log;
  SequenceNumberFormatter seqs{0, 0};  // set with meta.index; the stream's epoch never changes
  std::mutex rate_mu;                  // guards the two windows
  RateWindow write_window;
  RateWindow read_window;
};

struct StreamRt {
  StreamInfo info;  // info.shards is kept in step with `shards` by snapshot()
  int64_t status_until_ms = 0;
  uint64_t next_shard_index = 0;
  std::vector<std::shared_ptr<ShardRt>> shards;  // by index
};

uint32_t open_count(const StreamRt& s) {
  uint32_t n = 0;
  for (const auto& sh : s.shards) n += sh->meta.closed ? 0 : 1;
  return n;
}

std::string log_name(const StreamInfo& s, const std::string& shard_id) {
  return "kinesis/" + s.region + "/" + s.name + "." + std::to_string(s.epoch) + "/" + shard_id;
}

Error not_found(const std::string& name, const std::string& account) {
  return Error(ErrorCode::kNotFound,
               "Stream " + name + " under account " + account + " not found.");
}

}  // namespace

class Engine::Impl {
 public:
  explicit Impl(const EngineOptions& o) : options_(o) {
    clock_ = o.clock != nullptr ? o.clock : &system_clock_;
    fs_ = o.fs ? o.fs : posix_file_system();
  }
  ~Impl() { shutdown(); }

  Status open();
  void shutdown();

  EngineOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<log::LogStore> logs_;
  ShardIteratorKey iterator_key_{};

  // mu_ guards everything below. Data-plane calls hold it shared while they append or read,
  // so a reshard (exclusive) sees no append in flight when it records a shard's end offset.
  mutable std::shared_mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<StreamRt>> streams_;
  std::map<std::string, std::string> policies_;
  AccountSettings account_;
  uint64_t next_epoch_ = 1;

  std::mutex bg_mu_;  // guards stopping_ for the background thread
  std::condition_variable bg_cv_;
  bool stopping_ = false;
  std::thread bg_;
  std::atomic<int64_t> last_retention_ms_{0};  // tick() may run on two threads (tests)

  int64_t now() const { return clock_->now_ms(); }

  // REQUIRES: mu_ held (any mode).
  Result<std::shared_ptr<StreamRt>> find(const std::string& region, const std::string& name) const {
    auto it = streams_.find({region, name});
    if (it == streams_.end()) return not_found(name, options_.account_id);
    return it->second;
  }
  Result<std::shared_ptr<StreamRt>> find_active(const std::string& region,
                                                const std::string& name) const {
    FRESHET_ASSIGN_OR_RETURN(auto s, find(region, name));
    if (s->info.status != StreamStatus::kActive) {
      return Error(ErrorCode::kResourceInUse,
                   "Stream " + name + " under account " + options_.account_id +
                       " not ACTIVE, instead in state " + to_string(s->info.status));
    }
    return s;
  }

  uint32_t open_shards_in_region(const std::string& region) const {
    uint32_t n = 0;
    for (const auto& [k, s] : streams_) {
      if (k.first == region) n += open_count(*s);
    }
    return n;
  }

  Status check_shard_limit(const std::string& region, uint32_t additional) const {
    const uint32_t current = open_shards_in_region(region);
    if (current + additional > options_.shard_limit) {
      return Error(ErrorCode::kLimitExceeded,
                   "This request would exceed the shard limit for the account " +
                       options_.account_id + " in " + region +
                       ". Current shard count for the account: " + std::to_string(current) +
                       ". Limit: " + std::to_string(options_.shard_limit) +
                       ". Number of additional shards that would have resulted from this "
                       "request: " +
                       std::to_string(additional) +
                       ". Refer to the AWS Service Limits page "
                       "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
                       "for current limits and how to request higher limits.");
    }
    return {};
  }

  log::LogOptions log_options(const StreamInfo& s) const {
    log::LogOptions o;
    o.durability = options_.durability;
    o.segment_bytes = options_.segment_bytes;
    o.retention_ms = int64_t{s.retention_hours} * kHourMs;
    o.segment_ms = std::min<int64_t>(o.retention_ms, kHourMs);
    return o;
  }

  // REQUIRES: mu_ held exclusively.
  Result<std::shared_ptr<ShardRt>> add_shard(StreamRt& s, HashKeyRange range, std::string parent,
                                             std::string adjacent, int64_t now_ms) {
    auto sh = std::make_shared<ShardRt>();
    sh->meta.index = s.next_shard_index++;
    sh->meta.shard_id = format_shard_id(sh->meta.index);
    sh->meta.parent_shard_id = std::move(parent);
    sh->meta.adjacent_parent_shard_id = std::move(adjacent);
    sh->meta.range = range;
    sh->meta.created_ms = now_ms;
    sh->seqs = SequenceNumberFormatter(s.info.epoch, sh->meta.index);
    FRESHET_ASSIGN_OR_RETURN(
        sh->log, logs_->open_log(log_name(s.info, sh->meta.shard_id), log_options(s.info)));
    s.shards.push_back(sh);
    return sh;
  }

  // REQUIRES: mu_ held exclusively. Closes a shard after every append begun so far (some
  // may still be waiting for their sync: put_records completes them without mu_).
  void close_shard(StreamRt& s, ShardRt& sh, int64_t now_ms) {
    sh.meta.closed = true;
    sh.meta.closed_ms = now_ms;
    sh.meta.end_offset = sh.log->next_offset();
  }

  std::string seq(const StreamInfo& s, uint64_t shard_index, uint64_t offset) const {
    return encode_sequence_number({s.epoch, shard_index, offset});
  }

  // A copy of the stream's info with shards and their sequence ranges filled in.
  // REQUIRES: mu_ held (any mode).
  StreamInfo snapshot(const StreamRt& s) const {
    StreamInfo info = s.info;
    info.shards.clear();
    for (const auto& sh : s.shards) {
      Shard m = sh->meta;
      m.starting_sequence_number = seq(s.info, m.index, 0);
      if (m.closed) {
        m.ending_sequence_number = seq(s.info, m.index, m.end_offset == 0 ? 0 : m.end_offset - 1);
      }
      info.shards.push_back(std::move(m));
    }
    return info;
  }

  // Writes the whole catalog. REQUIRES: mu_ held (exclusively, so nothing changes under it).
  Status persist() const {
    CatalogData d;
    d.next_epoch = next_epoch_;
    d.account = account_;
    d.policies = policies_;
    for (const auto& [k, s] : streams_) {
      CatalogData::StreamEntry e;
      e.info = s->info;
      e.info.shards.clear();
      for (const auto& sh : s->shards) e.info.shards.push_back(sh->meta);
      e.status_until_ms = s->status_until_ms;
      e.next_shard_index = s->next_shard_index;
      d.streams.push_back(std::move(e));
    }
    Status st = write_file_atomically(*fs_, options_.data_dir, "catalog.json", encode_catalog(d));
    if (!st.ok()) spdlog::error("catalog: could not persist: {}", st.to_string());
    return st;
  }

  // Starts a transitional status that ends after the state delay (or at once).
  // REQUIRES: mu_ held exclusively.
  void begin_transition(StreamRt& s, StreamStatus status) {
    s.info.status = status;
    s.status_until_ms = now() + options_.state_delay_ms;
  }

  // Applies due transitions. REQUIRES: mu_ held exclusively. Returns whether anything changed.
  bool apply_transitions_locked(int64_t now_ms) {
    bool changed = false;
    for (auto it = streams_.begin(); it != streams_.end();) {
      StreamRt& s = *it->second;
      if (s.info.status != StreamStatus::kActive && s.status_until_ms <= now_ms) {
        changed = true;
        if (s.info.status == StreamStatus::kDeleting) {
          remove_stream_files(s);
          policies_.erase(s.info.arn);
          for (const auto& c : s.info.consumers) policies_.erase(c.arn);
          it = streams_.erase(it);
          continue;
        }
        s.info.status = StreamStatus::kActive;
      }
      for (auto c = s.info.consumers.begin(); c != s.info.consumers.end();) {
        if (c->status != ConsumerStatus::kActive &&
            c->created_ms + options_.state_delay_ms <= now_ms) {
          changed = true;
          if (c->status == ConsumerStatus::kDeleting) {
            policies_.erase(c->arn);
            c = s.info.consumers.erase(c);
            continue;
          }
          c->status = ConsumerStatus::kActive;
        }
        ++c;
      }
      ++it;
    }
    return changed;
  }

  void remove_stream_files(StreamRt& s) {
    for (const auto& sh : s.shards) {
      (void)sh->log->close();
      Status r = logs_->remove_log(log_name(s.info, sh->meta.shard_id));
      if (!r.ok()) spdlog::warn("delete stream {}: {}", s.info.name, r.to_string());
    }
  }

  // After a status change that may complete at once (delay 0).
  // REQUIRES: mu_ held exclusively.
  Status settle() {
    if (options_.state_delay_ms == 0) apply_transitions_locked(now());
    return persist();
  }

  void background() {
    std::unique_lock lock(bg_mu_);
    while (!stopping_) {
      // With no state delay, transitions complete inside the call that starts them and the
      // thread only enforces retention.
      const auto wait = std::chrono::milliseconds(
          options_.state_delay_ms == 0
              ? 1000
              : std::clamp<int64_t>(options_.state_delay_ms / 4, 10, 1000));
      bg_cv_.wait_for(lock, wait, [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      tick();
      lock.lock();
    }
  }

  void tick() {
    const int64_t now_ms = now();
    {
      std::unique_lock lock(mu_);
      if (apply_transitions_locked(now_ms)) (void)persist();
    }
    int64_t last = last_retention_ms_.load();
    if (now_ms - last < kRetentionCheckMs ||
        !last_retention_ms_.compare_exchange_strong(last, now_ms)) {
      return;
    }
    std::vector<std::shared_ptr<log::Log>> logs;
    {
      std::shared_lock lock(mu_);
      for (const auto& [k, s] : streams_) {
        for (const auto& sh : s->shards) logs.push_back(sh->log);
      }
    }
    for (const auto& l : logs) {
      auto r = l->enforce_retention(now_ms);
      if (!r.ok() && r.code() != ErrorCode::kClosed) {
        spdlog::warn("retention: {}", r.error().to_string());
      }
    }
  }
};

Status Engine::Impl::open() {
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs_, options_.data_dir));
  FRESHET_ASSIGN_OR_RETURN(logs_, log::LogStore::open(options_.data_dir + "/logs", fs_));

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

  auto text = read_whole_file(*fs_, options_.data_dir + "/catalog.json");
  if (!text.ok() && text.code() != ErrorCode::kNotFound) return text.error();
  std::unique_lock lock(mu_);
  next_epoch_ = static_cast<uint64_t>(now());  // unique across a lost catalog too
  if (text.ok()) {
    FRESHET_ASSIGN_OR_RETURN(CatalogData d, decode_catalog(*text));
    next_epoch_ = std::max(next_epoch_, d.next_epoch);
    account_ = d.account;
    policies_ = d.policies;
    for (auto& e : d.streams) {
      auto s = std::make_shared<StreamRt>();
      s->info = std::move(e.info);
      s->info.arn = format_stream_arn(s->info.region, options_.account_id, s->info.name);
      s->status_until_ms = e.status_until_ms;
      s->next_shard_index = e.next_shard_index;
      std::vector<Shard> metas = std::move(s->info.shards);
      s->info.shards.clear();
      for (auto& m : metas) {
        auto sh = std::make_shared<ShardRt>();
        sh->meta = std::move(m);
        sh->meta.shard_id = format_shard_id(sh->meta.index);
        sh->seqs = SequenceNumberFormatter(s->info.epoch, sh->meta.index);
        FRESHET_ASSIGN_OR_RETURN(
            sh->log, logs_->open_log(log_name(s->info, sh->meta.shard_id), log_options(s->info)));
        s->shards.push_back(std::move(sh));
      }
      streams_[{s->info.region, s->info.name}] = std::move(s);
    }
  }
  apply_transitions_locked(now());
  FRESHET_RETURN_IF_ERROR(persist());
  lock.unlock();
  bg_ = std::thread([this] { background(); });
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
  std::unique_lock lock(mu_);
  for (const auto& [k, s] : streams_) {
    for (const auto& sh : s->shards) (void)sh->log->close();
  }
  if (logs_) logs_->close();
}

// ---- Engine ----

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

Status Engine::create_stream(const std::string& region, const std::string& name,
                             std::optional<uint32_t> shard_count, StreamMode mode,
                             const std::map<std::string, std::string>& tags,
                             std::optional<int32_t> max_record_size_kib) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  if (m.streams_.count({region, name}) != 0) {
    return Error(ErrorCode::kResourceInUse,
                 "Stream " + name + " under account " + m.options_.account_id + " already exists.");
  }
  const uint32_t count = shard_count.value_or(m.options_.on_demand_shards);
  FRESHET_RETURN_IF_ERROR(m.check_shard_limit(region, count));
  FRESHET_ASSIGN_OR_RETURN(auto ranges, uniform_hash_key_ranges(count));
  auto s = std::make_shared<StreamRt>();
  const int64_t now_ms = m.now();
  s->info.region = region;
  s->info.name = name;
  s->info.arn = format_stream_arn(region, m.options_.account_id, name);
  s->info.epoch = m.next_epoch_++;
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
  m.begin_transition(*s, StreamStatus::kCreating);
  m.streams_[{region, name}] = s;
  return m.settle();
}

Status Engine::delete_stream(const std::string& region, const std::string& name,
                             bool enforce_consumer_deletion) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find(region, name));
  if (s->info.status == StreamStatus::kDeleting) return {};
  if (!s->info.consumers.empty() && !enforce_consumer_deletion) {
    return Error(ErrorCode::kResourceInUse,
                 "Stream " + name + " under account " + m.options_.account_id +
                     " has registered consumers. Deregister the consumers or set "
                     "EnforceConsumerDeletion to true.");
  }
  m.begin_transition(*s, StreamStatus::kDeleting);
  return m.settle();
}

Result<StreamInfo> Engine::describe_stream(const std::string& region,
                                           const std::string& name) const {
  std::shared_lock lock(impl_->mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, impl_->find(region, name));
  return impl_->snapshot(*s);
}

std::vector<std::string> Engine::list_streams(const std::string& region) const {
  std::shared_lock lock(impl_->mu_);
  std::vector<std::string> out;
  for (const auto& [k, s] : impl_->streams_) {
    if (k.first == region) out.push_back(k.second);
  }
  return out;  // std::map orders by (region, name): already sorted
}

Result<std::vector<Shard>> Engine::list_shards(const std::string& region, const std::string& name,
                                               const ListShardsFilter& filter) const {
  std::shared_lock lock(impl_->mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, impl_->find(region, name));
  StreamInfo info = impl_->snapshot(*s);
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
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  const int32_t current = s->info.retention_hours;
  if (increase && hours < current) {
    return Error(ErrorCode::kInvalidArgument,
                 "Requested retention period (" + std::to_string(hours) + " hours) for stream " +
                     name + " can not be shorter than existing retention period (" +
                     std::to_string(current) + " hours). Use DecreaseRetentionPeriod API.");
  }
  if (!increase && hours > current) {
    return Error(ErrorCode::kInvalidArgument,
                 "Requested retention period (" + std::to_string(hours) + " hours) for stream " +
                     name + " can not be longer than existing retention period (" +
                     std::to_string(current) + " hours). Use IncreaseRetentionPeriod API.");
  }
  s->info.retention_hours = hours;
  for (const auto& sh : s->shards) sh->log->set_retention(int64_t{hours} * kHourMs, 0);
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}
}  // namespace

Status Engine::increase_retention(const std::string& region, const std::string& name,
                                  int32_t hours) {
  return set_retention(*impl_, region, name, hours, true);
}

Status Engine::decrease_retention(const std::string& region, const std::string& name,
                                  int32_t hours) {
  return set_retention(*impl_, region, name, hours, false);
}

Status Engine::update_max_record_size(const std::string& region, const std::string& name,
                                      int32_t kib) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  s->info.max_record_size_kib = kib;
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Status Engine::update_stream_mode(const std::string& region, const std::string& name,
                                  StreamMode mode) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  s->info.mode = mode;
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Result<uint32_t> Engine::update_shard_count(const std::string& region, const std::string& name,
                                            uint32_t target) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  const uint32_t current = open_count(*s);
  Status valid = validate_uniform_scaling(current, target);
  if (!valid.ok()) return Error(ErrorCode::kLimitExceeded, valid.error().message());
  if (target > current) FRESHET_RETURN_IF_ERROR(m.check_shard_limit(region, target - current));
  FRESHET_ASSIGN_OR_RETURN(auto ranges, uniform_scaling_ranges(target));
  const int64_t now_ms = m.now();
  std::vector<std::shared_ptr<ShardRt>> open;
  for (const auto& sh : s->shards) {
    if (!sh->meta.closed) open.push_back(sh);
  }
  std::sort(open.begin(), open.end(),
            [](const auto& a, const auto& b) { return a->meta.range.start < b->meta.range.start; });
  std::vector<HashKeyRange> old_ranges;
  for (const auto& sh : open) old_ranges.push_back(sh->meta.range);
  for (const auto& sh : open) m.close_shard(*s, *sh, now_ms);
  for (const auto& r : ranges) {
    auto span = overlapping_ranges(old_ranges, r);
    std::string parent = span ? open[span->first]->meta.shard_id : "";
    std::string adjacent =
        span && span->last > span->first ? open[span->first + 1]->meta.shard_id : "";
    FRESHET_RETURN_IF_ERROR(m.add_shard(*s, r, parent, adjacent, now_ms).status());
  }
  m.begin_transition(*s, StreamStatus::kUpdating);
  FRESHET_RETURN_IF_ERROR(m.settle());
  return current;
}

namespace {
Result<std::shared_ptr<ShardRt>> find_shard(const Engine::Impl& m, const StreamRt& s,
                                            const std::string& shard_id) {
  auto index = resolve_shard_id(shard_id);
  if (index.ok()) {
    for (const auto& sh : s.shards) {
      if (sh->meta.index == *index) return sh;
    }
  }
  return Error(ErrorCode::kNotFound, "Could not find shard " + shard_id + " in stream " +
                                         s.info.name + " under account " + m.options_.account_id +
                                         ".");
}
}  // namespace

Status Engine::split_shard(const std::string& region, const std::string& name,
                           const std::string& shard_id, HashKey new_starting_hash_key) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  FRESHET_ASSIGN_OR_RETURN(auto parent, find_shard(m, *s, shard_id));
  if (parent->meta.closed) {
    return Error(ErrorCode::kResourceInUse, "Shard " + parent->meta.shard_id + " in stream " +
                                                name + " under account " + m.options_.account_id +
                                                " has already been merged or split, and thus is " +
                                                "not eligible for merging or splitting.");
  }
  auto ranges = split_hash_key_range(parent->meta.range, new_starting_hash_key);
  if (!ranges.ok()) {
    return Error(ErrorCode::kInvalidArgument,
                 "NewStartingHashKey " + format_hash_key(new_starting_hash_key) +
                     " used in SplitShard() on shard " + parent->meta.shard_id + " in stream " +
                     name + " under account " + m.options_.account_id + " is not both greater " +
                     "than one plus the shard's StartingHashKey " +
                     format_hash_key(parent->meta.range.start) +
                     " and less than the shard's EndingHashKey " +
                     format_hash_key(parent->meta.range.end) + ".");
  }
  FRESHET_RETURN_IF_ERROR(m.check_shard_limit(region, 1));
  const int64_t now_ms = m.now();
  m.close_shard(*s, *parent, now_ms);
  FRESHET_RETURN_IF_ERROR(
      m.add_shard(*s, ranges->lower, parent->meta.shard_id, "", now_ms).status());
  FRESHET_RETURN_IF_ERROR(
      m.add_shard(*s, ranges->upper, parent->meta.shard_id, "", now_ms).status());
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Status Engine::merge_shards(const std::string& region, const std::string& name,
                            const std::string& shard_id, const std::string& adjacent_shard_id) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  FRESHET_ASSIGN_OR_RETURN(auto a, find_shard(m, *s, shard_id));
  FRESHET_ASSIGN_OR_RETURN(auto b, find_shard(m, *s, adjacent_shard_id));
  for (const auto& sh : {a, b}) {
    if (sh->meta.closed) {
      return Error(ErrorCode::kResourceInUse,
                   "Shard " + sh->meta.shard_id + " in stream " + name + " under account " +
                       m.options_.account_id + " has already been merged or split, and thus is " +
                       "not eligible for merging or splitting.");
    }
  }
  auto merged = merge_hash_key_ranges(a->meta.range, b->meta.range);
  if (a == b || !merged.ok()) {
    return Error(ErrorCode::kInvalidArgument,
                 "Shards " + a->meta.shard_id + " and " + b->meta.shard_id + " in stream " + name +
                     " under account " + m.options_.account_id +
                     " are not an adjacent pair of shards eligible for merging");
  }
  const int64_t now_ms = m.now();
  m.close_shard(*s, *a, now_ms);
  m.close_shard(*s, *b, now_ms);
  FRESHET_RETURN_IF_ERROR(
      m.add_shard(*s, *merged, a->meta.shard_id, b->meta.shard_id, now_ms).status());
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Status Engine::add_tags(const std::string& region, const std::string& name,
                        const std::map<std::string, std::string>& tags) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find(region, name));
  std::map<std::string, std::string> merged = s->info.tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > 50) {
    return Error(ErrorCode::kInvalidArgument,
                 "Failed to add tags to stream " + name + " under account " +
                     m.options_.account_id +
                     " because a given stream cannot have more than 50 tags.");
  }
  s->info.tags = std::move(merged);
  return m.persist();
}

Status Engine::remove_tags(const std::string& region, const std::string& name,
                           const std::vector<std::string>& keys) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find(region, name));
  for (const auto& k : keys) s->info.tags.erase(k);
  return m.persist();
}

Status Engine::start_encryption(const std::string& region, const std::string& name,
                                const std::string& key_id) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  s->info.encryption_type = "KMS";
  s->info.key_id = key_id;
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Status Engine::stop_encryption(const std::string& region, const std::string& name) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  s->info.encryption_type = "NONE";
  s->info.key_id.clear();
  m.begin_transition(*s, StreamStatus::kUpdating);
  return m.settle();
}

Result<std::pair<std::vector<std::string>, std::vector<std::string>>>
Engine::set_enhanced_monitoring(const std::string& region, const std::string& name,
                                const std::vector<std::string>& metrics, bool enable) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, name));
  std::set<std::string> current(s->info.shard_level_metrics.begin(),
                                s->info.shard_level_metrics.end());
  const std::vector<std::string> before(current.begin(), current.end());
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
  s->info.shard_level_metrics.assign(current.begin(), current.end());
  FRESHET_RETURN_IF_ERROR(m.persist());
  return std::make_pair(before, s->info.shard_level_metrics);
}

AccountSettings Engine::account_settings() const {
  std::shared_lock lock(impl_->mu_);
  return impl_->account_;
}

Status Engine::update_account_settings(const AccountSettings& settings) {
  std::unique_lock lock(impl_->mu_);
  impl_->account_ = settings;
  return impl_->persist();
}

Result<Consumer> Engine::register_consumer(const std::string& region, const std::string& stream,
                                           const std::string& consumer_name) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find_active(region, stream));
  for (const auto& c : s->info.consumers) {
    if (c.name == consumer_name) {
      return Error(ErrorCode::kResourceInUse, "Consumer " + c.arn + " already exists.");
    }
  }
  if (s->info.consumers.size() >= 20) {
    return Error(ErrorCode::kLimitExceeded,
                 "Consumer limit of 20 has been reached for stream " + s->info.arn + ".");
  }
  Consumer c;
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
  s->info.consumers.push_back(c);
  FRESHET_RETURN_IF_ERROR(m.settle());
  return c;
}

Status Engine::deregister_consumer(const std::string& region, const std::string& stream,
                                   const std::string& consumer_name) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find(region, stream));
  for (auto& c : s->info.consumers) {
    if (c.name == consumer_name) {
      c.status = ConsumerStatus::kDeleting;
      c.created_ms = m.now();  // the deletion delay counts from now
      return m.settle();
    }
  }
  return Error(ErrorCode::kNotFound, "Consumer " + consumer_name + " under stream " + stream +
                                         " under account " + m.options_.account_id + " not found.");
}

Result<std::pair<StreamInfo, Consumer>> Engine::find_consumer(
    const std::string& region, const std::string& stream, const std::string& consumer_name) const {
  std::shared_lock lock(impl_->mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, impl_->find(region, stream));
  for (const auto& c : s->info.consumers) {
    if (c.name == consumer_name) return std::make_pair(impl_->snapshot(*s), c);
  }
  return Error(ErrorCode::kNotFound, "Consumer " + consumer_name + " under stream " + stream +
                                         " under account " + impl_->options_.account_id +
                                         " not found.");
}

Result<std::pair<StreamInfo, Consumer>> Engine::find_consumer_by_arn(const std::string& arn) const {
  auto parsed = parse_consumer_arn(arn);
  if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, "Invalid ConsumerARN " + arn);
  std::shared_lock lock(impl_->mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, impl_->find(parsed->stream.region, parsed->stream.stream_name));
  for (const auto& c : s->info.consumers) {
    if (c.arn == arn) return std::make_pair(impl_->snapshot(*s), c);
  }
  return Error(ErrorCode::kNotFound, "Consumer " + arn + " not found.");
}

namespace {
// Checks that an ARN names an existing stream or consumer. REQUIRES: mu_ held.
Status check_resource(const Engine::Impl& m, const std::string& arn) {
  if (auto c = parse_consumer_arn(arn); c.ok()) {
    FRESHET_ASSIGN_OR_RETURN(auto s, m.find(c->stream.region, c->stream.stream_name));
    for (const auto& con : s->info.consumers) {
      if (con.arn == arn) return {};
    }
    return Error(ErrorCode::kNotFound, "Consumer " + arn + " not found.");
  }
  auto s = parse_stream_arn(arn);
  if (!s.ok()) return Error(ErrorCode::kInvalidArgument, "Invalid ResourceARN " + arn);
  return m.find(s->region, s->stream_name).status();
}
}  // namespace

Status Engine::put_policy(const std::string& arn, const std::string& policy) {
  std::unique_lock lock(impl_->mu_);
  FRESHET_RETURN_IF_ERROR(check_resource(*impl_, arn));
  impl_->policies_[arn] = policy;
  return impl_->persist();
}

Result<std::string> Engine::get_policy(const std::string& arn) const {
  std::shared_lock lock(impl_->mu_);
  FRESHET_RETURN_IF_ERROR(check_resource(*impl_, arn));
  auto it = impl_->policies_.find(arn);
  return it == impl_->policies_.end() ? std::string() : it->second;
}

Status Engine::delete_policy(const std::string& arn) {
  std::unique_lock lock(impl_->mu_);
  FRESHET_RETURN_IF_ERROR(check_resource(*impl_, arn));
  if (impl_->policies_.erase(arn) == 0) {
    return Error(ErrorCode::kNotFound, "No resource policy found for resource ARN " + arn + ".");
  }
  return impl_->persist();
}

std::string_view PutBatchResult::error_code(const Record& r) const {
  switch (r.status) {
    case Status::kOk:
      return {};
    case Status::kThrottled:
      return "ProvisionedThroughputExceededException";
    case Status::kInternal:
      return "InternalFailure";
  }
  return "InternalFailure";
}

std::string PutBatchResult::error_message(const Record& r) const {
  switch (r.status) {
    case Status::kOk:
      return {};
    case Status::kThrottled:
      return "Rate exceeded for shard " + shards[r.shard].shard_id + " in stream " + stream +
             " under account " + account_id + ".";
    case Status::kInternal:
      break;
  }
  return "Internal service failure.";
}

Result<std::vector<PutOutcome>> Engine::put_records(const std::string& region,
                                                    const std::string& name,
                                                    std::span<const PutEntry> entries) {
  std::promise<Result<PutBatchResult>> promise;
  std::future<Result<PutBatchResult>> future = promise.get_future();
  put_records_async(region, name, entries,
                    [&promise](Result<PutBatchResult> r) { promise.set_value(std::move(r)); });
  Result<PutBatchResult> r = future.get();
  if (!r.ok()) return r.error();
  std::vector<PutOutcome> outcomes(r->records.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PutBatchResult::Record& rec = r->records[i];
    PutOutcome& o = outcomes[i];
    if (rec.status == PutBatchResult::Status::kOk) {
      o.shard_id = r->shards[rec.shard].shard_id;
      o.sequence_number = r->shards[rec.shard].seqs.format(rec.offset);
    } else {
      o.error_code = std::string(r->error_code(rec));
      o.error_message = r->error_message(rec);
    }
  }
  return outcomes;
}

namespace {

// One put_records_async call between writing its batches and their syncs: the last shard to
// become durable hands the result to the caller. Shared by the shards' completions (on the
// group-commit thread, or inline); `remaining` orders them.
struct PutInFlight {
  PutBatchResult result;
  Engine::PutCallback done;
  std::atomic<size_t> remaining{0};
  std::shared_ptr<StreamRt> stream;  // keeps the shards and their logs alive until done
};

}  // namespace

void Engine::put_records_async(const std::string& region, const std::string& name,
                               std::span<const PutEntry> entries, PutCallback done) {
  Impl& m = *impl_;
  std::shared_lock lock(m.mu_);
  auto found = m.find(region, name);
  if (!found.ok()) {
    lock.unlock();
    return done(found.error());
  }
  std::shared_ptr<StreamRt> s = std::move(found).value();
  if (s->info.status == StreamStatus::kCreating || s->info.status == StreamStatus::kDeleting) {
    lock.unlock();
    return done(not_found(name, m.options_.account_id));
  }
  const size_t max_size = static_cast<size_t>(s->info.max_record_size_kib) * 1024;
  // Open shards sorted by range, for routing.
  std::vector<std::shared_ptr<ShardRt>> open;
  for (const auto& sh : s->shards) {
    if (!sh->meta.closed) open.push_back(sh);
  }
  std::sort(open.begin(), open.end(),
            [](const auto& a, const auto& b) { return a->meta.range.start < b->meta.range.start; });
  std::vector<HashKeyRange> ranges;
  ranges.reserve(open.size());
  for (const auto& sh : open) ranges.push_back(sh->meta.range);

  auto fl = std::make_shared<PutInFlight>();
  PutBatchResult& res = fl->result;
  res.records.resize(entries.size());
  std::vector<uint32_t> slot_of(open.size(), UINT32_MAX);  // open index -> res.shards index
  std::vector<std::vector<size_t>> by_shard(open.size());
  PartitionKeyHasher hasher;
  auto reject = [&](Error e) {
    lock.unlock();
    done(std::move(e));
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const PutEntry& e = entries[i];
    // The data blob and the partition key together count against the record size.
    if (e.data.size() + e.partition_key.size() > max_size) {
      return reject(
          Error(ErrorCode::kInvalidArgument,
                "Record of " + std::to_string(e.data.size() + e.partition_key.size()) +
                    " bytes (data and partition key) exceeds the maximum record size of " +
                    std::to_string(max_size) + " bytes for stream " + name + " under account " +
                    m.options_.account_id + ". Use UpdateMaxRecordSize to raise it."));
    }
    Result<HashKey> key = !e.explicit_hash_key.empty() ? parse_hash_key(e.explicit_hash_key)
                                                       : hasher.hash(e.partition_key);
    if (!key.ok()) return reject(key.error());
    auto at = route_hash_key(ranges, *key);
    if (!at) {
      return reject(
          Error(ErrorCode::kFailed, "no open shard covers hash key " + format_hash_key(*key)));
    }
    if (slot_of[*at] == UINT32_MAX) {
      slot_of[*at] = static_cast<uint32_t>(res.shards.size());
      res.shards.push_back(PutBatchResult::Shard{open[*at]->meta.shard_id, open[*at]->seqs});
    }
    res.records[i].shard = slot_of[*at];
    by_shard[*at].push_back(i);
  }
  res.stream = name;
  res.account_id = m.options_.account_id;
  const int64_t now_ms = m.now();
  // Write every shard's batch first, then wait for all of their syncs: they share group-commit
  // rounds, so a request touching N shards waits for one round, not N.
  struct Pending {
    std::shared_ptr<ShardRt> shard;
    std::vector<size_t> accepted;
    Result<log::PendingAppend> append{log::PendingAppend{}};
  };
  std::vector<Pending> pending;
  std::vector<log::Record> batch;
  for (size_t si = 0; si < open.size(); ++si) {
    const auto& idx = by_shard[si];
    if (idx.empty()) continue;
    ShardRt& sh = *open[si];
    std::vector<size_t> accepted;
    if (m.options_.enforce_limits) {
      std::lock_guard rl(sh.rate_mu);
      for (size_t i : idx) {
        const uint64_t bytes = entries[i].data.size() + entries[i].partition_key.size();
        if (sh.write_window.try_add(now_ms, bytes, 1, 1 << 20, 1000)) {
          accepted.push_back(i);
        } else {
          res.records[i].status = PutBatchResult::Status::kThrottled;
        }
      }
    } else {
      accepted = idx;
    }
    if (accepted.empty()) continue;
    batch.clear();
    for (size_t i : accepted) {
      batch.push_back(log::Record{entries[i].partition_key, entries[i].explicit_hash_key,
                                  entries[i].data, now_ms});
    }
    pending.push_back(Pending{open[si], std::move(accepted), sh.log->begin_append(batch)});
  }
  // Wait for durability without mu_: a control-plane change (which takes mu_ exclusively)
  // must not wait for fsyncs, nor starve behind a steady stream of puts. The shards and the
  // stream stay alive through fl->stream and the shards' references.
  lock.unlock();
  fl->done = std::move(done);
  fl->stream = std::move(s);
  if (pending.empty()) {
    PutInFlight& f = *fl;
    return f.done(std::move(f.result));
  }
  fl->remaining.store(pending.size(), std::memory_order_relaxed);
  for (Pending& p : pending) {
    auto finish = [fl, shard = p.shard, accepted = std::move(p.accepted)](Result<uint64_t> first) {
      PutBatchResult& r = fl->result;
      if (!first.ok()) {
        spdlog::error("put to {}/{}: {}", r.stream, shard->meta.shard_id,
                      first.error().to_string());
        for (size_t i : accepted) r.records[i].status = PutBatchResult::Status::kInternal;
      } else {
        for (size_t k = 0; k < accepted.size(); ++k) r.records[accepted[k]].offset = *first + k;
      }
      // acq_rel: the last completion sees every other shard's writes to r.records.
      if (fl->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        fl->done(std::move(r));
      }
    };
    if (!p.append.ok()) {
      finish(p.append.error());
      continue;
    }
    p.shard->log->complete_append_async(std::move(*p.append), std::move(finish));
  }
}

Result<std::string> Engine::get_shard_iterator(const std::string& region, const std::string& name,
                                               const std::string& shard_id, IteratorType type,
                                               const std::string& sequence_number,
                                               int64_t timestamp_ms) {
  Impl& m = *impl_;
  std::shared_lock lock(m.mu_);
  FRESHET_ASSIGN_OR_RETURN(auto s, m.find(region, name));
  if (s->info.status == StreamStatus::kCreating || s->info.status == StreamStatus::kDeleting) {
    return not_found(name, m.options_.account_id);
  }
  FRESHET_ASSIGN_OR_RETURN(auto sh, find_shard(m, *s, shard_id));
  const log::Log& lg = *sh->log;
  uint64_t position = 0;
  switch (type) {
    case IteratorType::kTrimHorizon:
      position = lg.trim_horizon();
      break;
    case IteratorType::kLatest:
      position = sh->meta.closed ? sh->meta.end_offset : lg.committed_tip();
      break;
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      auto offset =
          decode_sequence_number_for_shard(sequence_number, s->info.epoch, sh->meta.index);
      if (!offset.ok()) {
        return Error(
            ErrorCode::kInvalidArgument,
            "Invalid SequenceNumber for ShardIteratorType " +
                std::string(type == IteratorType::kAtSequenceNumber ? "AT_SEQUENCE_NUMBER"
                                                                    : "AFTER_SEQUENCE_NUMBER") +
                " for shard " + sh->meta.shard_id + " in stream " + name + " under account " +
                m.options_.account_id + ".");
      }
      position = *offset + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
      break;
    }
    case IteratorType::kAtTimestamp: {
      FRESHET_ASSIGN_OR_RETURN(position, lg.offset_for_timestamp(timestamp_ms));
      break;
    }
  }
  ShardIteratorState st;
  st.region = region;
  st.account_id = m.options_.account_id;
  st.stream_name = name;
  st.stream_epoch = s->info.epoch;
  st.shard_index = sh->meta.index;
  st.position = position;
  st.issued_at_ms = m.now();
  return encode_shard_iterator(st, m.iterator_key_);
}

Result<GetRecordsResult> Engine::get_records(std::string_view iterator, uint32_t limit) {
  Impl& m = *impl_;
  const int64_t now_ms = m.now();
  auto st = open_shard_iterator(iterator, m.iterator_key_, now_ms, m.options_.iterator_lifetime_ms);
  if (!st.ok()) {
    if (st.code() == kExpiredShardIterator) return Error(ErrorCode::kExpired, st.error().message());
    return Error(ErrorCode::kInvalidArgument, "Invalid ShardIterator.");
  }
  std::shared_lock lock(m.mu_);
  auto found = m.find(st->region, st->stream_name);
  if (!found.ok() || (*found)->info.epoch != st->stream_epoch ||
      (*found)->info.status == StreamStatus::kDeleting) {
    return not_found(st->stream_name, m.options_.account_id);
  }
  const StreamRt& s = **found;
  std::shared_ptr<ShardRt> sh;
  for (const auto& x : s.shards) {
    if (x->meta.index == st->shard_index) sh = x;
  }
  if (!sh) return Error(ErrorCode::kInvalidArgument, "Invalid ShardIterator.");
  if (m.options_.enforce_limits) {
    std::lock_guard rl(sh->rate_mu);
    if (!sh->read_window.try_add(now_ms, 0, 1, UINT64_MAX, 5)) {
      return Error(ErrorCode::kThrottled, "Rate exceeded for shard " + sh->meta.shard_id +
                                              " in stream " + st->stream_name + " under account " +
                                              m.options_.account_id + ".");
    }
  }
  const log::Log& lg = *sh->log;
  const uint64_t end = sh->meta.closed ? sh->meta.end_offset : UINT64_MAX;
  uint64_t position = std::max(st->position, lg.trim_horizon());
  GetRecordsResult out;
  uint64_t next = position;
  if (position < end) {
    auto r = lg.read(position, limit, kMaxGetRecordsBytes);
    if (!r.ok() && r.code() == ErrorCode::kOutOfRange) {  // trimmed since: start at the horizon
      position = lg.trim_horizon();
      r = lg.read(position, limit, kMaxGetRecordsBytes);
    }
    if (!r.ok()) return r.error();
    uint64_t bytes = 0;
    const SequenceNumberFormatter& seqs = sh->seqs;
    out.records.reserve(r->records.size());
    for (const auto& rec : r->records) {
      if (rec.offset >= end) break;
      GetRecordsRecord& g = out.records.emplace_back();
      seqs.format(rec.offset, g.sequence_digits.data());
      g.arrival_ms = rec.timestamp_ms;
      g.data = rec.data;
      g.partition_key = rec.partition_key;
      bytes += rec.data.size() + rec.partition_key.size();
      next = rec.offset + 1;
    }
    if (out.records.empty()) next = std::min(r->next_offset, end);
    out.storage.push_back(r->storage);
    if (m.options_.enforce_limits) {
      std::lock_guard rl(sh->rate_mu);
      sh->read_window.bytes += bytes;  // reads over 2 MiB/s throttle the next call
      if (sh->read_window.bytes > (2u << 20)) sh->read_window.count = 5;
    }
  }
  const uint64_t tip = std::min(lg.committed_tip(), end);
  if (next >= tip || out.records.empty()) {
    out.millis_behind_latest = 0;
  } else {
    out.millis_behind_latest =
        std::max<int64_t>(0, lg.last_timestamp_ms() - out.records.back().arrival_ms);
  }
  if (sh->meta.closed && next >= end) {
    for (const auto& c : s.shards) {
      if (c->meta.parent_shard_id == sh->meta.shard_id ||
          c->meta.adjacent_parent_shard_id == sh->meta.shard_id) {
        ChildShard child;
        child.shard_id = c->meta.shard_id;
        child.parent_shards.push_back(c->meta.parent_shard_id);
        if (!c->meta.adjacent_parent_shard_id.empty()) {
          child.parent_shards.push_back(c->meta.adjacent_parent_shard_id);
        }
        child.range = c->meta.range;
        out.child_shards.push_back(std::move(child));
      }
    }
    return out;
  }
  ShardIteratorState ns = *st;
  ns.position = next;
  ns.issued_at_ms = now_ms;
  FRESHET_ASSIGN_OR_RETURN(std::string token, encode_shard_iterator(ns, m.iterator_key_));
  out.next_iterator = std::move(token);
  return out;
}

std::optional<Engine::WalStats> Engine::wal_stats() const {
  // logs_ is set in open() and never changes after, so no lock is needed.
  if (!impl_->logs_) return std::nullopt;
  const log::LogStore& store = *impl_->logs_;
  WalStats w;
  w.bytes = store.wal_bytes();
  w.checkpoints = store.wal_checkpoints();
  w.recovered_batches = store.wal_recovery().restored;
  w.recovery_failures = store.wal_recovery().failed;
  return w;
}

std::vector<Engine::ShardStats> Engine::shard_stats() const {
  std::shared_lock lock(impl_->mu_);
  std::vector<ShardStats> out;
  for (const auto& [k, s] : impl_->streams_) {
    for (const auto& sh : s->shards) {
      ShardStats st;
      st.region = k.first;
      st.stream = k.second;
      st.shard_id = sh->meta.shard_id;
      st.tip = sh->log->committed_tip();
      st.trim_horizon = sh->log->trim_horizon();
      st.log = sh->log->counters();
      out.push_back(std::move(st));
    }
  }
  return out;
}

}  // namespace freshet::stream

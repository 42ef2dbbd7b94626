// stream::Engine: the Kinesis Data Streams domain. Streams per region, their shards and
// hash-key ranges, resharding, tags, consumers, policies and settings (the catalog), and the
// data plane over one shard log per shard.
//
// The API layer validates request shapes (lengths, patterns, enums: ValidationException) and
// calls the engine with typed values; the engine enforces domain rules and returns Errors whose
// codes the API layer maps to AWS errors:
//   kNotFound        -> ResourceNotFoundException
//   kResourceInUse   -> ResourceInUseException (exists already, or not ACTIVE)
//   kLimitExceeded   -> LimitExceededException
//   kInvalidArgument -> InvalidArgumentException
//   kExpired         -> ExpiredIteratorException
//   kThrottled       -> ProvisionedThroughputExceededException
//   others           -> InternalFailure
// Error messages follow AWS's wording and are returned to clients as they are.
//
// Persistence: the catalog is one file, <data-dir>/catalog.json, rewritten atomically (temp
// file, fsync, rename, fsync directory) by every control-plane change before it is
// acknowledged; records live in <data-dir>/logs/kinesis/<region>/<stream>.<epoch>/<shardId>.
// The shard-iterator key is <data-dir>/iterator.key (32 random bytes, created once).
//
// Threads: every method may be called from any thread. The catalog is an immutable value,
// replaced by control-plane changes after it is persisted (copy, persist, publish); data-plane
// calls read the published value without waiting for a change in progress. A background
// thread applies delayed status transitions and retention, and reopens failed logs.
// Internals: src/stream/engine_impl.h.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/clock.h"
#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/log/log.h"
#include "freshet/stream/hash_key.h"
#include "freshet/stream/sequence_number.h"

namespace freshet::stream {

enum class StreamStatus { kCreating, kDeleting, kActive, kUpdating };
enum class StreamMode { kProvisioned, kOnDemand };
enum class ConsumerStatus { kCreating, kDeleting, kActive };

const char* to_string(StreamStatus s);  // "CREATING", ...
const char* to_string(StreamMode m);    // "PROVISIONED", "ON_DEMAND"
const char* to_string(ConsumerStatus s);

struct EngineOptions {
  std::string data_dir;
  std::string account_id = "000000000000";
  int64_t state_delay_ms = 0;     // CREATING/UPDATING/DELETING last this long
  uint32_t shard_limit = 500;     // open shards per account and region
  uint32_t on_demand_shards = 4;  // shards an ON_DEMAND stream starts with
  log::Durability durability = log::Durability::kFsync;
  uint64_t segment_bytes = 64ull << 20;
  bool enforce_limits = false;             // per-shard throughput limits
  int64_t iterator_lifetime_ms = 300'000;  // Kinesis' 5 minutes; tests may shorten it
  const Clock* clock = nullptr;            // null: the system clock
  std::shared_ptr<FileSystem> fs;          // null: the real file system (tests inject faults)
  // Metrics hooks of the shard logs' group commit (see log::LogStoreOptions). May be empty.
  std::function<void(double ms)> on_fsync;
  std::function<void(size_t appends)> on_round;
};

struct Shard {
  uint64_t index = 0;
  std::string shard_id;                  // "shardId-000000000000"
  std::string parent_shard_id;           // "" = none
  std::string adjacent_parent_shard_id;  // "" = none
  HashKeyRange range;
  int64_t created_ms = 0;
  bool closed = false;
  int64_t closed_ms = 0;
  uint64_t end_offset = 0;  // closed shards: one past the last record
  // Sequence numbers of the range, as DescribeStream shows them.
  std::string starting_sequence_number;
  std::string ending_sequence_number;  // "" while open
};

struct Consumer {
  std::string name;
  std::string arn;
  ConsumerStatus status = ConsumerStatus::kActive;
  int64_t created_ms = 0;
};

struct StreamInfo {
  std::string region;
  std::string name;
  std::string arn;
  uint64_t epoch = 0;  // unique per created stream; part of sequence numbers and iterators
  StreamStatus status = StreamStatus::kActive;
  StreamMode mode = StreamMode::kProvisioned;
  int64_t created_ms = 0;
  int32_t retention_hours = 24;
  int32_t max_record_size_kib = 1024;
  std::string encryption_type = "NONE";          // "NONE" or "KMS"
  std::string key_id;                            // "" unless KMS
  std::vector<std::string> shard_level_metrics;  // enhanced monitoring, sorted
  std::vector<Shard> shards;                     // every shard, open and closed, by index
  std::map<std::string, std::string> tags;
  std::vector<Consumer> consumers;
  uint32_t open_shard_count() const;
};

enum class IteratorType {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp
};

struct PutEntry {
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // "" = none (already validated as a decimal)
};

struct PutOutcome {
  // Success: shard_id and sequence_number set, error empty. Failure: error_code is
  // "ProvisionedThroughputExceededException" or "InternalFailure", with error_message.
  std::string shard_id;
  std::string sequence_number;
  std::string error_code;
  std::string error_message;
};

// What put_records_async reports, without allocating per record: each record's shard and
// log offset, or why it failed. Callers format sequence numbers straight into their output
// with the shard's formatter.
struct PutBatchResult {
  enum class Status : uint8_t { kOk, kThrottled, kInternal };
  struct Shard {
    std::string shard_id;
    SequenceNumberFormatter seqs;
  };
  struct Record {
    uint32_t shard = 0;  // index into shards
    Status status = Status::kOk;
    uint64_t offset = 0;  // kOk only
  };
  std::vector<Shard> shards;    // the shards the request's records routed to
  std::vector<Record> records;  // one per entry, in request order
  std::string stream;
  std::string account_id;

  // AWS's ErrorCode and ErrorMessage for a failed record.
  std::string_view error_code(const Record& r) const;
  std::string error_message(const Record& r) const;
};

struct GetRecordsRecord {
  std::array<char, kSequenceNumberDigits> sequence_digits;  // no allocation per record
  std::string_view sequence_number() const {
    return std::string_view(sequence_digits.data(), sequence_digits.size());
  }
  int64_t arrival_ms = 0;
  std::string_view data;           // points into GetRecordsResult::storage
  std::string_view partition_key;  // idem
};

struct ChildShard {
  std::string shard_id;
  std::vector<std::string> parent_shards;
  HashKeyRange range;
};

struct GetRecordsResult {
  std::vector<GetRecordsRecord> records;
  std::optional<std::string> next_iterator;  // none once a closed shard is read to its end
  int64_t millis_behind_latest = 0;
  std::vector<ChildShard> child_shards;  // set when next_iterator is none
  std::vector<std::shared_ptr<const void>> storage;
};

struct ListShardsFilter {
  enum class Type {
    kNone,
    kAfterShardId,
    kAtTrimHorizon,
    kFromTrimHorizon,
    kAtLatest,
    kAtTimestamp,
    kFromTimestamp
  };
  Type type = Type::kNone;
  std::string shard_id;      // kAfterShardId
  int64_t timestamp_ms = 0;  // kAtTimestamp, kFromTimestamp
};

struct AccountSettings {
  // UpdateAccountSettings' MinimumThroughputBillingCommitment, kept as given.
  std::string minimum_throughput_billing_commitment_status = "DISABLED";
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::string& account_id() const;

  // ---- control plane ----
  Status create_stream(const std::string& region, const std::string& name,
                       std::optional<uint32_t> shard_count, StreamMode mode,
                       const std::map<std::string, std::string>& tags,
                       std::optional<int32_t> max_record_size_kib);
  Status delete_stream(const std::string& region, const std::string& name,
                       bool enforce_consumer_deletion);
  Result<StreamInfo> describe_stream(const std::string& region, const std::string& name) const;
  // Names of the region's streams, sorted.
  std::vector<std::string> list_streams(const std::string& region) const;
  // Shards of a stream that a ListShards filter selects, in index order.
  Result<std::vector<Shard>> list_shards(const std::string& region, const std::string& name,
                                         const ListShardsFilter& filter) const;
  Status increase_retention(const std::string& region, const std::string& name, int32_t hours);
  Status decrease_retention(const std::string& region, const std::string& name, int32_t hours);
  Status update_max_record_size(const std::string& region, const std::string& name, int32_t kib);
  Status update_stream_mode(const std::string& region, const std::string& name, StreamMode mode);
  // Returns the open shard count before the change.
  Result<uint32_t> update_shard_count(const std::string& region, const std::string& name,
                                      uint32_t target);
  Status split_shard(const std::string& region, const std::string& name,
                     const std::string& shard_id, HashKey new_starting_hash_key);
  Status merge_shards(const std::string& region, const std::string& name,
                      const std::string& shard_id, const std::string& adjacent_shard_id);
  Status add_tags(const std::string& region, const std::string& name,
                  const std::map<std::string, std::string>& tags);
  Status remove_tags(const std::string& region, const std::string& name,
                     const std::vector<std::string>& keys);
  Status start_encryption(const std::string& region, const std::string& name,
                          const std::string& key_id);
  Status stop_encryption(const std::string& region, const std::string& name);
  // Returns (before, after) sets of shard-level metrics. "ALL" expands to every metric.
  Result<std::pair<std::vector<std::string>, std::vector<std::string>>> set_enhanced_monitoring(
      const std::string& region, const std::string& name, const std::vector<std::string>& metrics,
      bool enable);
  AccountSettings account_settings() const;
  Status update_account_settings(const AccountSettings& settings);

  // Consumers (enhanced fan-out registry).
  Result<Consumer> register_consumer(const std::string& region, const std::string& stream,
                                     const std::string& consumer_name);
  Status deregister_consumer(const std::string& region, const std::string& stream,
                             const std::string& consumer_name);
  Result<std::pair<StreamInfo, Consumer>> find_consumer(const std::string& region,
                                                        const std::string& stream,
                                                        const std::string& consumer_name) const;
  Result<std::pair<StreamInfo, Consumer>> find_consumer_by_arn(const std::string& arn) const;

  // Resource policies, keyed by stream or consumer ARN (the resource must exist).
  Status put_policy(const std::string& arn, const std::string& policy);
  Result<std::string> get_policy(const std::string& arn) const;  // "" when none
  Status delete_policy(const std::string& arn);

  // ---- data plane ----
  // Appends each entry to the shard its hash key routes to; entries for one shard form one
  // batch, in request order. Fails as a whole only when the stream does not exist or is not
  // writable; per-record failures (throughput) are in the outcomes.
  Result<std::vector<PutOutcome>> put_records(const std::string& region, const std::string& name,
                                              std::span<const PutEntry> entries);
  // put_records without blocking on fsync: the records are written (and the entries' views
  // no longer needed) before this returns; done runs once every shard's batch is durable, on
  // the group-commit thread or inline (always inline for errors found before writing). done
  // must be quick: post the rest of the work to an executor.
  using PutCallback = std::function<void(Result<PutBatchResult>)>;
  void put_records_async(const std::string& region, const std::string& name,
                         std::span<const PutEntry> entries, PutCallback done);
  Result<std::string> get_shard_iterator(const std::string& region, const std::string& name,
                                         const std::string& shard_id, IteratorType type,
                                         const std::string& sequence_number, int64_t timestamp_ms);
  // shared_read_limits=false: the read does not count against (nor is throttled by) the
  // shard's shared GetRecords limits (5 calls/s, 2 MiB/s with enforce_limits): enhanced
  // fan-out (SubscribeToShard) has its own 2 MiB/s per consumer, enforced by the API layer.
  Result<GetRecordsResult> get_records(std::string_view iterator, uint32_t limit,
                                       bool shared_read_limits = true);

  // Metrics hooks: per-stream counters, read by the API layer's metrics.
  struct ShardStats {
    std::string region;
    std::string stream;
    std::string shard_id;
    uint64_t tip = 0;
    uint64_t trim_horizon = 0;
    log::LogCounters log;
    bool failed = false;  // the log failed and waits to be reopened
  };
  std::vector<ShardStats> shard_stats() const;
  // The data directory's write-ahead log (absent in memory mode).
  struct WalStats {
    uint64_t bytes = 0;
    uint64_t checkpoints = 0;
    uint64_t recovered_batches = 0;  // restored at startup
    uint64_t recovery_failures = 0;
    uint64_t recovery_gaps = 0;        // entries skipped after a gap at startup (warned)
    uint64_t checkpoint_failures = 0;  // checkpoints that could not complete
    uint64_t write_failures = 0;       // rounds whose WAL write failed (synced the logs)
    bool stalled = false;              // failed or stalled: batches sync their own files
  };
  std::optional<WalStats> wal_stats() const;
  struct EngineStats {
    uint64_t put_failures = 0;      // appends that failed (full disk, failed log)
    uint64_t catalog_failures = 0;  // control-plane changes that could not be persisted
    uint64_t reopened_logs = 0;     // failed logs brought back by the background thread
  };
  EngineStats engine_stats() const;
  // OK, or why the engine cannot take every write: the catalog cannot be persisted, the WAL
  // failed or stalled, or a shard's log failed (until it is reopened). For /health.
  Status health() const;

  // Applies due status transitions and retention now (also done by the background thread).
  void tick();

  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::stream

// ProcessService: functions and Lambda-style event source mappings on Freshet's streams.
//
// The in-process API that `freshet serve` (the Lambda API in src/api/lambda) and the pipeline
// (issue 15: its `mappings:` section) call:
//   set_functions(parse_functions(...))         declare functions (config.h)
//   create_mapping(Mapping{...})                 CreateEventSourceMapping
//   update_mapping(uuid, MappingUpdate{...})     UpdateEventSourceMapping
//   delete_mapping(uuid) / get_mapping / list_mappings
//   invoke(name, payload)                        Lambda's Invoke
//
// Each enabled mapping reads its stream in-process (stream::Engine, not HTTP) with one runner
// thread per shard: batches of up to BatchSize records, gathered for at most
// MaximumBatchingWindowInSeconds; FilterCriteria applied before the function; retries,
// bisection, ReportBatchItemFailures and OnFailure to a Freshet stream as Lambda does; and a
// checkpoint per shard written after the batch's outputs are durable (at-least-once; table
// sinks are idempotent by key, so a replay after a crash leaves the table as if exactly once).
// Parents are finished before their children start after a reshard.
//
// Errors (codes the Lambda API maps): kNotFound -> ResourceNotFoundException,
// kInvalidArgument -> InvalidParameterValueException, kAlreadyExists -> ResourceConflictException,
// kResourceInUse -> ResourceInUseException; messages follow Lambda's wording where known.
//
// Persistence (docs/format.md, "Processing"): the mappings are one file,
// <data-dir>/process/mappings.json, replaced atomically (temp, fsync, rename, fsync dir)
// before a change is acknowledged. Checkpoints are items of the table
// `freshet-process-checkpoints` (TableStore, fsynced WAL), created with the first mapping.
//
// Threads and locks: every public method is thread-safe. mu_ guards the function and mapping
// catalogs (held for the catalog file's fsync on changes; never while invoking a function).
// Each mapping has a supervisor thread (shard discovery, state transitions) that owns its
// shard runners; stop() and delete_mapping() stop and join them. Lock order: mu_ ->
// a mapping's runner mutex. Internals: src/process/service_impl.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/process/function.h"

namespace freshet::stream {
class Engine;
}
namespace freshet::table {
class TableStore;
}
namespace freshet::delivery {
class DeliveryService;
}
namespace freshet::metrics {
class Registry;
}

namespace freshet::process {

constexpr const char* kCheckpointTable = "freshet-process-checkpoints";

enum class StartingPosition { kTrimHorizon, kLatest, kAtTimestamp };
const char* to_string(StartingPosition p);  // "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"

// An event source mapping, with Lambda's names and defaults.
struct Mapping {
  std::string uuid;  // assigned by create_mapping, unless set (leases: the shared identity)
  std::string function_name;
  std::string event_source_arn;  // a Freshet (Kinesis) stream ARN
  int32_t batch_size = 100;                    // 1..10000
  int32_t maximum_batching_window_s = 0;       // 0..300
  StartingPosition starting_position = StartingPosition::kLatest;
  int64_t starting_position_timestamp_ms = 0;  // kAtTimestamp
  int32_t parallelization_factor = 1;          // 1..10 lanes per batch, split by partition key
  int32_t maximum_retry_attempts = -1;         // -1 (until the record expires) .. 10000
  int32_t maximum_record_age_s = -1;           // -1 (infinite) or 60..604800
  bool bisect_batch_on_function_error = false;
  bool report_batch_item_failures = false;     // FunctionResponseTypes
  std::string on_failure_destination;          // a stream ARN, or ""
  int32_t tumbling_window_s = 0;               // 0..900
  std::vector<std::string> filter_patterns;    // FilterCriteria.Filters[].Pattern
  bool enabled = true;
  // Kept by the service.
  std::string state;                    // Creating, Enabled, Disabling, Disabled, Updating, Deleting
  std::string state_transition_reason;  // "USER_INITIATED"
  int64_t created_ms = 0;
  int64_t last_modified_ms = 0;
  std::string last_processing_result = "No records processed";
};

// UpdateEventSourceMapping: only the fields set change.
struct MappingUpdate {
  std::optional<std::string> function_name;
  std::optional<bool> enabled;
  std::optional<int32_t> batch_size;
  std::optional<int32_t> maximum_batching_window_s;
  std::optional<int32_t> parallelization_factor;
  std::optional<int32_t> maximum_retry_attempts;
  std::optional<int32_t> maximum_record_age_s;
  std::optional<bool> bisect_batch_on_function_error;
  std::optional<bool> report_batch_item_failures;
  std::optional<std::string> on_failure_destination;  // "" removes it
  std::optional<int32_t> tumbling_window_s;
  std::optional<std::vector<std::string>> filter_patterns;

  // Sets the fields that are set, except function_name and enabled, which the caller
  // resolves (a function name or ARN) and turns into state transitions.
  void apply_to(Mapping& m) const;
};

// Checks a mapping's values against Lambda's limits (kInvalidArgument with its message).
Status validate_mapping(const Mapping& m);

struct ProcessOptions {
  std::string data_dir;  // the service keeps its files in <data_dir>/process
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  stream::Engine* engine = nullptr;            // required, unless endpoint is set
  table::TableStore* tables = nullptr;         // required (checkpoints, table sinks), idem
  // A worker of another Freshet server (`freshet process --endpoint URL`): when set, engine
  // and tables are not used; the streams are read and written through the Kinesis API and
  // the checkpoints, leases and table sinks through the DynamoDB API of this endpoint
  // (http://host:port), signed with these keys (SigV4, opt.region). Delivery sinks are not
  // available to a remote worker. src/process/README.md, "Workers".
  std::string endpoint;
  std::string access_key = "test";
  std::string secret_key = "test";
  delivery::DeliveryService* delivery = nullptr;  // optional (delivery sinks)
  metrics::Registry* metrics = nullptr;        // optional
  std::shared_ptr<FileSystem> fs;              // null: the real file system
  bool sync = true;                            // fsync the mapping catalog
  int64_t poll_interval_ms = 100;              // a runner's wait when its shard has nothing new
  int64_t discovery_interval_ms = 1000;        // how often a mapping looks for new shards
  int64_t retry_backoff_max_ms = 2000;         // backoff between retries of a failed batch
  // Leases (the KCL's model): several ProcessService instances that share the stream engine
  // and the table store, each with its own worker id, divide the shards of a mapping they
  // all declare with the same UUID (Mapping::uuid set before create_mapping). "" = no
  // leases: this service runs every shard of its mappings. docs/process.md, "Leases".
  std::string worker_id;
  int64_t lease_ms = 10'000;  // a lease not renewed for this long may be taken over
};

// What Invoke returns, with what Lambda's REPORT line shows.
struct InvokeOutcome {
  InvokeResult result;
  double duration_ms = 0;
  std::string request_id;
};

// Progress of one shard of a mapping (tests, the dashboard).
struct ShardProgress {
  std::string shard_id;
  std::string checkpoint;  // the last sequence number whose batch is done ("" = none)
  bool finished = false;   // a closed shard read to its end
  bool running = false;
  uint64_t records = 0;        // records read
  uint64_t invocations = 0;
  uint64_t failed_records = 0;  // sent to the failure destination (or dropped without one)
};

class ProcessService {
 public:
  static Result<std::unique_ptr<ProcessService>> open(ProcessOptions options);
  ~ProcessService();  // stop()
  ProcessService(const ProcessService&) = delete;
  ProcessService& operator=(const ProcessService&) = delete;

  // Starts the runners of enabled mappings (and those created later). Once.
  void start();
  // Stops every runner (a batch in flight finishes or is abandoned before its checkpoint)
  // and joins their threads. Idempotent.
  void stop();

  // ---- functions ----
  // Replaces the declared functions (checked with make_function first; nothing changes on
  // error). Runners of mappings whose function changed pick up the new one.
  Status set_functions(std::vector<FunctionConfig> functions);
  // Compiled-in functions: `kind: compiled` with `compiled: NAME` uses this factory.
  void register_compiled(const std::string& name, FunctionFactory factory);
  std::vector<FunctionConfig> list_functions() const;  // by name
  Result<FunctionConfig> get_function(std::string_view name) const;
  std::string function_arn(std::string_view name) const;
  // Lambda's Invoke (RequestResponse): runs the payload on the function's Invoke instance.
  Result<InvokeOutcome> invoke(std::string_view name, std::string_view payload);

  // ---- event source mappings ----
  Result<Mapping> create_mapping(Mapping m);
  Result<Mapping> update_mapping(std::string_view uuid, const MappingUpdate& update);
  Result<Mapping> delete_mapping(std::string_view uuid);
  Result<Mapping> get_mapping(std::string_view uuid) const;
  // Filtered by function name (or ARN) and/or source ARN when not empty; by creation.
  std::vector<Mapping> list_mappings(std::string_view function_name,
                                     std::string_view event_source_arn) const;
  std::vector<ShardProgress> progress(std::string_view uuid) const;

  class Impl;

 private:
  explicit ProcessService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::process

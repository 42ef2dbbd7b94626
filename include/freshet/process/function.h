// Functions: what an event source mapping (or Lambda's Invoke) runs on a batch of Kinesis
// records, and what they answer.
//
// A Function gets a Batch (records of one shard, in order, with their sequence numbers and
// arrival times) and returns an InvokeResult: the outputs to write to the function's sink,
// per-record failures (Lambda's batchItemFailures), or a failure of the whole invocation
// (Lambda's FunctionError), plus the log lines it wrote. Built-in functions (extract, filter,
// window_count) run in-process; `exec` runs a long-lived worker process (exec.cc).
//
// Failures:
//  - RecordFailure::permanent: the record itself is bad (not JSON, a required field missing,
//    a wrong type, an invalid key). Retrying gives the same answer, so the runtime sends it to
//    the mapping's failure destination at once with its reason and moves on: a malformed
//    record never stalls a shard. Built-in functions report these.
//  - RecordFailure (not permanent): Lambda's batchItemFailures. With ReportBatchItemFailures
//    the runtime checkpoints before the first failed item and retries from it (retry policy).
//  - function_error set: the whole invocation failed (an exception in an exec worker, a
//    timeout, a crash): retried per MaximumRetryAttempts / bisected / sent to OnFailure.
//
// Threads: one Function instance is used by one thread at a time (each shard runner makes
// its own with make_function; the Lambda API serializes Invoke on its instance).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/table/store.h"
#include "freshet/table/value.h"

namespace freshet::process {

// One Kinesis record. Views point into Batch::storage (or the caller's buffers).
struct Record {
  std::string_view sequence_number;
  std::string_view partition_key;
  std::string_view data;
  int64_t arrival_ms = 0;
};

// A tumbling window (TumblingWindowInSeconds): the state the previous invocation returned for
// this window, carried between invocations; is_final on the last invocation of the window.
struct Window {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string state = "{}";  // a JSON object
  bool is_final = false;
  // Functions that keep_window_state(): go on from the state the function holds from its
  // previous invocation of this window (`state` is not set), and answer no state text
  // (InvokeResult::window_state empty; the caller asks window_state() when it needs it).
  bool continues = false;
};

struct Batch {
  std::string event_source_arn;  // the stream's ARN
  std::string region;            // awsRegion
  std::string shard_id;
  std::vector<Record> records;
  std::optional<Window> window;
  std::vector<std::shared_ptr<const void>> storage;  // keeps the records' bytes alive
};

// One write to the function's sink. Table sinks write `item` (a put, idempotent by key);
// stream and delivery sinks write `data` (or the item as JSON when data is empty).
struct Output {
  static constexpr uint32_t kNoRecord = UINT32_MAX;
  uint32_t record = kNoRecord;  // index of the record it came from (kNoRecord: the window)
  table::Item item;
  std::string data;
  std::string partition_key;  // stream sinks; empty: the record's partition key
};

struct RecordFailure {
  uint32_t record = 0;  // index in Batch::records
  std::string reason;
  bool permanent = false;
};

struct InvokeResult {
  std::vector<Output> outputs;
  std::vector<RecordFailure> failures;  // sorted by record
  std::string function_error;           // "" = the invocation succeeded ("Unhandled", ...)
  std::string error_message;
  std::optional<std::string> window_state;  // the state for the next invocation (windows)
  std::string log;                          // what the function wrote to its log
  std::string payload;                      // the response payload (Lambda Invoke)
  uint64_t max_memory_kb = 0;               // peak resident memory of the worker (exec)
};

// Where a function's outputs go. Lambda's mappings have no sink; Freshet declares it with the
// function (docs/process.md).
struct SinkConfig {
  enum class Kind { kNone, kTable, kStream, kDelivery };
  Kind kind = Kind::kNone;
  std::string name;  // table, stream or delivery stream name
  std::string region;  // streams: "" = the server's region
  // Tables: when set, the table is created with this key if it does not exist (on demand).
  std::optional<table::KeySchema> create_key;
};

// extract: JSON paths to typed attributes.
struct ExtractField {
  enum class Type { kS, kN, kBool, kSS, kNS, kJson };
  std::string name;  // the attribute
  std::string path;  // "user.screen_name", "entities.hashtags[*].text", "coordinates[0]"
  Type type = Type::kS;
  bool required = false;
  std::optional<std::string> default_value;  // as YAML gave it (text)
};

// window_count: counts the values found at each path per tumbling window.
struct CountField {
  std::string name;  // "hashtags"
  std::string path;  // "entities.hashtags[*].text"
};

// exec: a long-lived worker process. With runtime "python" or "node", Freshet runs its
// bootstrap (python3 -c / node -e) that imports `handler` ("module.function" / "file.function")
// from working_dir and calls it like Lambda's runtime does: handler(event, context). Without a
// runtime, `command` is run and speaks the line protocol itself (docs/process.md): one JSON
// request per line on stdin ({"id":..,"deadline_ms":..,"function_name":..,"memory_mb":..,
// "event":<payload>}), one JSON answer per line on stdout ({"ok":<response>} or
// {"error":{"errorType":..,"errorMessage":..,"stackTrace":[..]}}); stderr is the log.
struct ExecSpec {
  std::string runtime;               // "python", "node" or "" (command speaks the protocol)
  std::string handler;               // runtimes: "module.function"
  std::vector<std::string> command;  // no runtime: argv, e.g. ["./worker"]
  std::string working_dir;           // "" = the server's
  std::vector<std::pair<std::string, std::string>> environment;
};

struct FunctionConfig {
  enum class Kind { kExtract, kFilter, kWindowCount, kExec, kCompiled };
  std::string name;
  Kind kind = Kind::kExtract;
  std::string description;
  int32_t memory_mb = 128;  // Lambda's MemorySize; exec: the worker's address-space limit
  int32_t timeout_s = 3;    // Lambda's Timeout, per invocation
  SinkConfig sink;
  std::vector<ExtractField> extract;
  std::vector<std::string> filter_patterns;  // FilterCriteria patterns (JSON text)
  std::vector<CountField> counts;
  size_t max_window_keys = 10'000;  // distinct values per window; more count as "(other)"
  ExecSpec exec;
  std::string compiled;  // kCompiled: the registered factory's name
};

const char* kind_name(FunctionConfig::Kind k);  // "extract", "filter", ...
// Lambda's Runtime shown for a function: "python3.11"-like for exec programs it recognizes,
// "provided.al2023" otherwise (built-ins included).
std::string runtime_of(const FunctionConfig& c);

class Function {
 public:
  virtual ~Function() = default;
  virtual InvokeResult invoke(const Batch& batch) = 0;
  // Tumbling windows: a function that keeps a window's state itself between invocations
  // answers true (the built-in window_count), so that a mapping passes Window::continues
  // instead of the state text on the next invocation of the same window and asks for the
  // text only when it writes a checkpoint: the state (up to max_window_keys values) is then
  // not parsed and written out again on every batch. Such a function never fails a whole
  // invocation (function_error), which would leave its state ahead of the records it took.
  virtual bool keeps_window_state() const { return false; }
  // The state after the last invocation, as the JSON text a Window carries ("{}" after a
  // final invocation). Only for functions that keep_window_state().
  virtual std::string window_state() const { return "{}"; }
  // Lambda's Invoke: an arbitrary JSON payload. Built-ins read it as a Kinesis event (the
  // JSON a mapping sends) and answer Lambda's response ({"batchItemFailures": [...]}, with
  // Freshet's "outputs" extension); exec passes it to the worker as it is.
  virtual InvokeResult invoke_payload(std::string_view payload);
};

// Compiled-in functions: register a factory under a name, then declare `kind: compiled` with
// `compiled: NAME` (see FunctionRegistry in service.h).
using FunctionFactory = std::function<std::unique_ptr<Function>(const FunctionConfig&)>;

// Builds a function of a built-in kind. kInvalidArgument for a bad configuration (a bad
// filter pattern or path). Exec functions start their worker lazily, on the first invoke.
Result<std::unique_ptr<Function>> make_function(const FunctionConfig& config);

// Lambda's Kinesis event (what mappings send and exec workers read):
// {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":..,"sequenceNumber":..,
//   "data":<base64>,"approximateArrivalTimestamp":<seconds>},"eventSource":"aws:kinesis",
//   "eventVersion":"1.0","eventID":"<shard>:<seq>","eventName":"aws:kinesis:record",
//   "invokeIdentityArn":..,"awsRegion":..,"eventSourceARN":..}], plus window, state,
//   shardId, eventSourceARN, isFinalInvokeForWindow, isWindowTerminatedEarly with windows}
std::string encode_kinesis_event(const Batch& batch, std::string_view function_arn);
// The inverse, for Invoke with a Kinesis event payload; record bytes go into batch.storage.
Result<Batch> decode_kinesis_event(std::string_view json);
// Lambda's response to a Kinesis batch: {"batchItemFailures":[{"itemIdentifier":seq}], "state":..}.
// Items and records named by the response are mapped back to indexes of `batch`.
Status decode_kinesis_response(std::string_view json, const Batch& batch, InvokeResult& out);

}  // namespace freshet::process

// Backend: what a mapping's supervisor and shard runners need from the streams and tables,
// behind one interface, so that the same runners work in two places (README.md, "Workers"):
//  - in `freshet serve`: LocalBackend calls stream::Engine and table::TableStore directly
//    (no HTTP, no copies beyond what the engine and the store do themselves);
//  - in a worker process (`freshet process --endpoint URL`): RemoteBackend (remote.cc) speaks
//    the Kinesis and DynamoDB wire protocols to another Freshet server over HTTP.
//
// Conditional writes are given as DynamoDB expression text (with #names and :values), which
// LocalBackend parses and RemoteBackend sends as it is.
//
// Thread safety: every method may be called from any thread at once (each shard runner and
// each lane calls it from its own thread).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"

namespace freshet::delivery {
class DeliveryService;
}  // namespace freshet::delivery

namespace freshet::process {

// An expression of a conditional write (DynamoDB's syntax).
struct WriteExpr {
  std::string condition;  // ConditionExpression ("" = none)
  std::string update;     // UpdateExpression (update_item only)
  std::map<std::string, std::string> names;
  std::map<std::string, table::Value> values;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- streams ----
  virtual Result<stream::StreamInfo> describe_stream(const std::string& region,
                                                     const std::string& name) = 0;
  virtual Result<std::string> get_shard_iterator(const std::string& region,
                                                 const std::string& name,
                                                 const std::string& shard_id,
                                                 stream::IteratorType type,
                                                 const std::string& sequence_number,
                                                 int64_t timestamp_ms) = 0;
  // A processing read: outside the shard's shared read limits where the backend can tell.
  virtual Result<stream::GetRecordsResult> get_records(std::string_view iterator,
                                                       uint32_t limit) = 0;
  virtual Result<std::vector<stream::PutOutcome>> put_records(
      const std::string& region, const std::string& name,
      std::span<const stream::PutEntry> entries) = 0;
  // Whether the shard was made (by a reshard) after ts_ms, so that a mapping created at ts_ms
  // reads it from its beginning (after its parents) rather than from the mapping's starting
  // position. Local: the catalog's creation time. Remote: the Kinesis API shows no creation
  // time, but ListShards' ShardFilter does: a shard of FROM_TIMESTAMP ts (open at or after
  // ts) that is not of AT_TIMESTAMP ts (open at ts) was made after ts.
  virtual Result<bool> created_after(const std::string& region, const std::string& name,
                                     const stream::Shard& shard, int64_t ts_ms) = 0;

  // ---- delivery streams ----
  // Firehose's PutRecordBatch (DirectPut): at most 500 records and 4 MiB. One error code per
  // record, in order: "" for a record stored durably, else Firehose's ErrorCode (the record
  // may be sent again). An Error when the call failed as a whole (no such delivery stream,
  // none on this server, the endpoint unreachable).
  virtual Result<std::vector<std::string>> put_record_batch(
      const std::string& name, const std::vector<std::string_view>& records) = 0;

  // ---- tables ----
  virtual Result<table::TableDesc> describe_table(std::string_view name) = 0;
  virtual Result<table::TableDesc> create_table(table::TableDesc desc) = 0;
  virtual bool is_active(const table::TableDesc& d) = 0;
  virtual Result<std::optional<table::Item>> get_item(std::string_view table,
                                                      const table::Item& key) = 0;
  virtual Result<table::Page> scan(const table::ScanSpec& spec) = 0;
  // WriteOutcome::condition_failed when the condition failed; new_item is the item after.
  virtual Result<table::WriteOutcome> update_item(std::string_view table, const table::Item& key,
                                                  const WriteExpr& e) = 0;
  // A put under e.condition; done runs once it is durable (maybe before this returns).
  virtual void put_item_async(std::string_view table, table::Item item, const WriteExpr& e,
                              table::WriteDone done) = 0;
  // Puts only (WriteOp::Kind::kPut), at most 256 of them, no key twice. done runs once all
  // are durable (maybe before this returns); on an error some may be written (idempotent).
  virtual void batch_write_async(const std::vector<table::WriteOp>& ops,
                                 std::function<void(Status)> done) = 0;
};

// delivery: the server's delivery streams (nullptr: none; delivery sinks then fail).
std::unique_ptr<Backend> make_local_backend(stream::Engine& engine, table::TableStore& tables,
                                            delivery::DeliveryService* delivery);

struct RemoteOptions {
  // http://host:port of a Freshet server (or any Kinesis + DynamoDB + Firehose endpoint)
  std::string endpoint;
  std::string region = "us-east-1";
  std::string access_key = "test";
  std::string secret_key = "test";
  long timeout_ms = 10'000;
};
// Checks the endpoint's form only; nothing is sent until the first call.
Result<std::unique_ptr<Backend>> make_remote_backend(const RemoteOptions& o);

}  // namespace freshet::process

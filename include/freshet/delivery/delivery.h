// Firehose delivery streams: records put by producers (or read from a Kinesis stream) are
// kept in a durable buffer (a shard log per delivery stream), batched by size and time,
// compressed, and written as objects into an ObjectStore bucket under a prefix.
//
// Durability: put() returns only once its records are fsynced in the buffer log (the same
// group-commit log as Kinesis shards). The delivery thread writes an object, then advances a
// durable per-stream checkpoint. The batch about to be written (its offsets and object key) is
// persisted first, so a crash between the write and the checkpoint rewrites the same object
// under the same key: at-least-once, and no record lands in two objects.
//
// A KinesisStreamAsSource stream has no buffer of its own: it reads the source stream (the
// durable buffer) and checkpoints per shard the records in objects; a batch being written is
// named in the checkpoint first, so a retry after a crash writes the same objects too.
//
// Threads: put()/create()/... are called from API handler threads (thread-safe); one delivery
// thread (start()/stop()) batches and writes the DirectPut buffers, and each Kinesis-sourced
// stream has a thread of its own that reads, batches and writes. Locks and their order:
// src/delivery/service_impl.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/metrics/registry.h"
#include "freshet/objstore/object_store.h"

namespace freshet::stream {
class Engine;
}

namespace freshet::delivery {

enum class Compression { kUncompressed, kGzip, kZip, kSnappy, kHadoopSnappy, kZstd };
// "UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD".
std::string_view compression_name(Compression c);
std::optional<Compression> parse_compression(std::string_view name);

// One S3 destination (ExtendedS3DestinationConfiguration; the older S3DestinationConfiguration
// is the same without processing, partitioning and extension).
struct S3Destination {
  bool extended = true;  // created through ExtendedS3DestinationConfiguration
  std::string role_arn;
  std::string bucket_arn;  // arn:aws:s3:::<bucket>
  std::string prefix;
  std::string error_output_prefix;
  int size_mb = 5;           // BufferingHints.SizeInMBs, 1..128
  int interval_seconds = 300;  // BufferingHints.IntervalInSeconds, 0..900
  Compression compression = Compression::kUncompressed;
  std::string file_extension;  // "" -> the compression's (".gz" ...)
  bool append_delimiter = false;  // ProcessingConfiguration AppendDelimiterToRecord
  bool processing_enabled = false;
  std::string processing_json;  // the ProcessingConfiguration as given (echoed by Describe)
  bool dynamic_partitioning = false;
  std::string metadata_query;  // MetadataExtraction's MetadataExtractionQuery (JQ subset)
  int retry_seconds = 300;     // RetryOptions.DurationInSeconds
  std::string cloudwatch_json;  // CloudWatchLoggingOptions as given ("" if absent)
  std::string encryption_json;  // EncryptionConfiguration as given ("" -> NoEncryption)
  std::string s3_backup_mode = "Disabled";

  std::string bucket() const;  // the bucket name from bucket_arn
};

struct Encryption {
  std::string status = "DISABLED";  // ENABLED / DISABLED
  std::string key_type;             // AWS_OWNED_CMK / CUSTOMER_MANAGED_CMK
  std::string key_arn;
};

struct DeliveryStreamInfo {
  std::string name;
  std::string arn;
  std::string type = "DirectPut";  // or KinesisStreamAsSource
  std::string status = "ACTIVE";
  int64_t create_ms = 0;
  int64_t update_ms = 0;  // 0 if never updated
  uint64_t version = 1;   // VersionId
  std::string source_stream_arn;  // KinesisStreamAsSource
  std::string source_role_arn;
  S3Destination destination;
  std::vector<std::pair<std::string, std::string>> tags;  // in insertion order
  Encryption encryption;
};

struct DeliveryOptions {
  std::string root;                // <data-dir>/firehose
  std::shared_ptr<FileSystem> fs;  // null: POSIX
  objstore::ObjectStore* store = nullptr;  // required
  stream::Engine* engine = nullptr;        // for KinesisStreamAsSource (may be null)
  metrics::Registry* metrics = nullptr;    // required
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  bool fsync = true;                 // buffer durability (false: acknowledged after write())
  int64_t tick_ms = 100;             // how often the delivery thread looks at each stream
  // How long a new delivery stream is CREATING (DescribeDeliveryStream), refusing records and
  // deletion as AWS does; 0: ACTIVE at once (`freshet serve --state-delay-ms`).
  int64_t create_delay_ms = 0;
  int64_t max_backoff_ms = 10'000;   // retry backoff cap (1 s doubling)
  // Firehose's per-stream quotas on PutRecord/PutRecordBatch, as AWS's defaults: 500,000
  // records/s, 2,000 requests/s and 5 MiB/s in us-east-1, us-west-2 and eu-west-1; 100,000,
  // 1,000 and 1 MiB/s elsewhere. A put past them fails with kThrottled ("Slow down.") and
  // counts its records in ThrottledRecords. `freshet serve --enforce-limits`.
  bool enforce_limits = false;
};

// The per-stream put quotas of a region (DeliveryOptions::enforce_limits).
struct PutQuotas {
  double records_per_s = 0;
  double requests_per_s = 0;
  double bytes_per_s = 0;
};
PutQuotas put_quotas(std::string_view region);

// Errors: kNotFound (no such stream), kAlreadyExists, kInvalidArgument (with AWS's message),
// kResourceInUse (wrong state / type), kLimitExceeded, kFailed (version mismatch).
class DeliveryService {
 public:
  static Result<std::unique_ptr<DeliveryService>> open(DeliveryOptions options);
  ~DeliveryService();  // stop()

  void start();
  // Stops the delivery thread. Records still buffered stay in the log for the next start.
  void stop();

  Status create(DeliveryStreamInfo info);
  Result<DeliveryStreamInfo> describe(std::string_view name);
  // Names in order, optionally of one type, starting after `start_after`.
  std::vector<std::string> list(std::string_view type, std::string_view start_after, size_t limit,
                                bool* has_more);
  // Delivers what is buffered first (bounded wait) unless force; then removes the stream.
  Status remove(std::string_view name, bool force);
  // Replaces the destination if current_version matches (kFailed otherwise); bumps VersionId.
  Status update_destination(std::string_view name, std::string_view current_version,
                            const S3Destination& dest);
  Status tag(std::string_view name, const std::vector<std::pair<std::string, std::string>>& tags);
  Status untag(std::string_view name, const std::vector<std::string>& keys);
  Status set_encryption(std::string_view name, std::optional<Encryption> enc);

  // Appends records durably; returns one RecordId per record, in order. DirectPut only
  // (kInvalidArgument for a Kinesis-sourced stream); kThrottled past the stream's quotas
  // (enforce_limits), nothing appended.
  Result<std::vector<std::string>> put(std::string_view name,
                                       const std::vector<std::string_view>& records);

  // Runs one delivery pass over every stream now (tests; the thread does this every tick).
  void deliver_now();

  class Impl;

 private:
  explicit DeliveryService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --- building blocks (exposed for tests) ---

// Compresses one object's bytes. entry_name names the file inside a ZIP archive.
Result<std::string> compress(Compression c, std::string_view data, std::string_view entry_name);
// The object name's extension for a compression (".gz", ".zip", ".snappy", ...; "" none).
std::string_view default_extension(Compression c);

// Prefix expressions: !{timestamp:<Java DateTimeFormatter pattern>}, !{firehose:random-string},
// !{firehose:error-output-type}, !{partitionKeyFromQuery:<key>}. Checks the syntax and the
// namespaces allowed where (error_prefix: firehose error-output-type allowed, partition keys
// not). Returns AWS's InvalidArgumentException message on failure.
Status validate_prefix(std::string_view prefix, bool error_prefix, bool dynamic_partitioning);
bool prefix_has_expressions(std::string_view prefix);

struct PrefixContext {
  int64_t time_ms = 0;                 // UTC arrival time of the batch's oldest record
  std::string random_string;           // 11 characters, fixed per object
  std::string error_output_type;       // "processing-failed", ...
  std::map<std::string, std::string> partition_keys;
};
// Evaluates a validated prefix. An empty prefix gives the default "yyyy/MM/dd/HH/"; a prefix
// without expressions gets that default appended (as Firehose does).
std::string evaluate_prefix(std::string_view prefix, const PrefixContext& ctx);
// Formats time_ms (UTC) with a Java DateTimeFormatter pattern (letters y u M d H h m s S D E a
// and 'quoted' literals). kInvalidArgument for a letter it does not support.
Result<std::string> format_java_time(std::string_view pattern, int64_t time_ms);

// The JQ subset of MetadataExtractionQuery: "{a: .x.y, b: .z}" objects of field paths.
// Returns the partition keys for one JSON record, or an error (the record goes to the error
// prefix, as "partitioning-failed").
Result<std::map<std::string, std::string>> extract_partition_keys(std::string_view query,
                                                                  std::string_view record);
Status validate_metadata_query(std::string_view query);

}  // namespace freshet::delivery

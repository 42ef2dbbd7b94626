// A pipeline file (YAML, docs/pipeline.md): everything `freshet up` starts, as typed values.
//
// parse_pipeline() checks the whole file (types, ranges, names, references between sections,
// unknown keys) and reports every problem it finds as "FILE:LINE:COLUMN: PATH: what was
// expected, and what was found" (lines and columns from 1), so a bad file is fixed in one go.
// Nothing here touches a node: plan.h compares a spec with a node and changes the node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/delivery/delivery.h"
#include "freshet/process/function.h"
#include "freshet/table/store.h"

namespace freshet::pipeline {

struct Location {
  int line = 0;  // 1-based; 0: unknown
  int column = 0;
};

// The node's settings a file may give (flags of `freshet up` override them).
struct NodeSpec {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<std::string> region;
  std::optional<std::string> durability;  // "fsync" | "os"
  // Firehose objects go to this S3-compatible endpoint instead of the local buckets.
  std::optional<std::string> s3_endpoint;
  std::optional<std::string> s3_region;
};

struct StreamSpec {
  std::string name;
  Location at;
  bool on_demand = false;
  uint32_t shards = 1;  // provisioned streams
  int32_t retention_hours = 24;
  std::vector<std::string> enhanced_monitoring;  // shard-level metrics, sorted; "ALL" expanded
  std::map<std::string, std::string> tags;
};

struct IndexSpec {
  std::string name;
  Location at;
  table::KeySchema key;
  table::Projection projection;
};

struct TableSpec {
  std::string name;
  Location at;
  table::KeySchema key;
  std::vector<IndexSpec> indexes;  // global secondary indexes
  std::string ttl_attribute;       // "" = no TTL
  bool pay_per_request = true;
  table::Throughput throughput;    // provisioned tables
  std::map<std::string, std::string> tags;
};

struct BucketSpec {
  std::string name;
  Location at;
};

struct DeliverySpec {
  std::string name;
  Location at;
  std::string source_stream;  // "" = DirectPut
  std::string bucket;
  std::string prefix;
  std::string error_prefix;
  int size_mb = 5;
  int interval_seconds = 300;
  delivery::Compression compression = delivery::Compression::kUncompressed;
  bool append_newline = true;  // AppendDelimiterToRecord
};

struct ProducerSpec {
  std::string name;
  Location at;
  std::string stream;
  // Exactly one of: generate ("tweets") or file (JSON lines; replay paces by their times).
  std::string generate;
  std::string file;
  bool replay = false;
  double speed = 1.0;
  std::string shape = "v1";  // tweets: v1, v2, mixed
  uint64_t seed = 1;
  double malformed = 0;  // share, 0..1
  uint32_t users = 50'000;
  uint32_t hashtags = 2'000;
  double rate = 1000;     // records/s; 0: as fast as the stream takes them
  int64_t count = -1;     // -1: no limit
  double duration_s = 0;  // 0: no limit
  int senders = 2;
  bool via_http = false;  // through the node's own port instead of in process
};

// An event source mapping (Lambda's names; docs/process.md): `function` reads `source`.
// Identified on a node by its function and source (Lambda allows one mapping per pair).
struct MappingSpec {
  std::string name;  // the file's name for it (messages only)
  Location at;
  std::string function;
  std::string source;  // a stream of the file
  int32_t batch_size = 100;
  int32_t batching_window_s = 0;
  std::string starting_position = "TRIM_HORIZON";  // TRIM_HORIZON | LATEST
  int32_t parallelization = 1;
  int32_t retries = -1;           // MaximumRetryAttempts (-1: until the record expires)
  int32_t max_record_age_s = -1;  // MaximumRecordAgeInSeconds
  bool bisect = false;
  bool report_batch_item_failures = false;
  std::string on_failure;         // a stream of the file, or ""
  int32_t tumbling_window_s = 0;
  std::vector<std::string> filters;  // FilterCriteria patterns, JSON text
  bool enabled = true;
};

// A CloudWatch metric alarm (PutMetricAlarm's parameters), evaluated by the node's CloudWatch
// on its metric store: any metric the node samples (AWS/Kinesis, AWS/Firehose, ...) or one
// sent with PutMetricData.
struct AlarmSpec {
  std::string name;  // AlarmName
  Location at;
  std::string description;
  std::string ns;      // Namespace, e.g. AWS/Kinesis
  std::string metric;  // MetricName
  std::map<std::string, std::string> dimensions;
  std::string statistic = "Average";  // SampleCount | Average | Sum | Minimum | Maximum
  int32_t period_s = 60;              // 10, 30 or a multiple of 60
  int32_t evaluation_periods = 1;
  int32_t datapoints_to_alarm = 0;  // 0: evaluation_periods
  double threshold = 0;
  std::string comparison;  // GreaterThanThreshold, LessThanOrEqualToThreshold, ...
  std::string treat_missing_data = "missing";  // breaching | notBreaching | ignore | missing
  bool actions_enabled = true;
};

struct PipelineSpec {
  std::string path;  // as given to load_pipeline / parse_pipeline
  std::string name;  // the file's `name:`, or the file name without extension
  NodeSpec node;
  std::vector<StreamSpec> streams;
  std::vector<TableSpec> tables;
  std::vector<BucketSpec> buckets;
  std::vector<DeliverySpec> deliveries;
  std::vector<ProducerSpec> producers;
  std::vector<process::FunctionConfig> functions;  // parsed by process::parse_functions
  std::vector<MappingSpec> mappings;
  std::vector<AlarmSpec> alarms;

  const StreamSpec* find_stream(std::string_view name) const;
};

// Parses a pipeline file's text. `path` names the file in messages. Errors are
// kInvalidArgument with one line per problem.
Result<PipelineSpec> parse_pipeline(std::string_view text, const std::string& path);
// Reads and parses a file.
Result<PipelineSpec> load_pipeline(const std::string& path);

}  // namespace freshet::pipeline

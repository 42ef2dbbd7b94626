// register_kinesis: the operation table (name, input ShapeHint, handler).
#include "freshet/api/kinesis.h"

#include <memory>

#include "handlers.h"
#include "kinesis_service.h"

namespace freshet::api {

using namespace kinesis;  // NOLINT: this file only wires the table

namespace {

struct OperationEntry {
  const char* name;
  HandlerFn fn;
};

// Every operation of kinesis-2013-12-02 but the asynchronous ones below, alphabetically.
constexpr OperationEntry kOperations[] = {
    {"AddTagsToStream", add_tags_to_stream},
    {"CreateStream", create_stream},
    {"DecreaseStreamRetentionPeriod", decrease_stream_retention_period},
    {"DeleteResourcePolicy", delete_resource_policy},
    {"DeleteStream", delete_stream},
    {"DeregisterStreamConsumer", deregister_stream_consumer},
    {"DescribeAccountSettings", describe_account_settings},
    {"DescribeLimits", describe_limits},
    {"DescribeStream", describe_stream},
    {"DescribeStreamConsumer", describe_stream_consumer},
    {"DescribeStreamSummary", describe_stream_summary},
    {"DisableEnhancedMonitoring", disable_enhanced_monitoring},
    {"EnableEnhancedMonitoring", enable_enhanced_monitoring},
    {"GetRecords", get_records},
    {"GetResourcePolicy", get_resource_policy},
    {"GetShardIterator", get_shard_iterator},
    {"IncreaseStreamRetentionPeriod", increase_stream_retention_period},
    {"ListShards", list_shards},
    {"ListStreamConsumers", list_stream_consumers},
    {"ListStreams", list_streams},
    {"ListTagsForResource", list_tags_for_resource},
    {"ListTagsForStream", list_tags_for_stream},
    {"MergeShards", merge_shards},
    {"PutResourcePolicy", put_resource_policy},
    {"RegisterStreamConsumer", register_stream_consumer},
    {"RemoveTagsFromStream", remove_tags_from_stream},
    {"SplitShard", split_shard},
    {"StartStreamEncryption", start_stream_encryption},
    {"StopStreamEncryption", stop_stream_encryption},
    {"SubscribeToShard", subscribe_to_shard},
    {"TagResource", tag_resource},
    {"UntagResource", untag_resource},
    {"UpdateAccountSettings", update_account_settings},
    {"UpdateMaxRecordSize", update_max_record_size},
    {"UpdateShardCount", update_shard_count},
    {"UpdateStreamMode", update_stream_mode},
    {"UpdateStreamWarmThroughput", update_stream_warm_throughput},
};

using RawHandlerFn = bool (*)(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                              std::string_view body, Responder& respond);

struct AsyncOperationEntry {
  const char* name;
  AsyncHandlerFn fn;
  RawHandlerFn raw;  // the JSON fast path, or null
};

constexpr AsyncOperationEntry kAsyncOperations[] = {
    {"PutRecord", put_record, put_record_raw},
    {"PutRecords", put_records, put_records_raw},
};

// Blob and timestamp members of each operation's input (model shapes Data and Timestamp).
ShapeHint shape_for(std::string_view op) {
  if (op == "PutRecord") return ShapeHint().blob("Data");
  if (op == "PutRecords") return ShapeHint().blob("Records[].Data");
  if (op == "GetShardIterator") return ShapeHint().timestamp("Timestamp");
  if (op == "ListShards") {
    return ShapeHint().timestamp("StreamCreationTimestamp").timestamp("ShardFilter.Timestamp");
  }
  if (op == "ListStreamConsumers") return ShapeHint().timestamp("StreamCreationTimestamp");
  if (op == "SubscribeToShard") return ShapeHint().timestamp("StartingPosition.Timestamp");
  return ShapeHint();
}

}  // namespace

Status register_kinesis(ServiceRegistry& registry, stream::Engine& engine,
                        metrics::Registry& metrics, const KinesisApiOptions& options) {
  FRESHET_RETURN_IF_ERROR(registry.add_service(kKinesisTargetPrefix, "kinesis"));
  auto service = std::make_shared<KinesisService>(engine, metrics, options);
  for (const OperationEntry& op : kOperations) {
    HandlerFn fn = op.fn;
    FRESHET_RETURN_IF_ERROR(registry.add_operation(
        kKinesisTargetPrefix, op.name, shape_for(op.name),
        [service, fn](RequestContext& ctx) -> ApiResult { return fn(*service, ctx); }));
  }
  for (const AsyncOperationEntry& op : kAsyncOperations) {
    AsyncHandlerFn fn = op.fn;
    RawHandlerFn raw_fn = op.raw;
    RawHandler raw;
    if (raw_fn != nullptr && options.raw_put_path) {
      raw = [service, raw_fn](RequestContext& ctx, std::string_view body, Responder& respond) {
        return raw_fn(service, ctx, body, respond);
      };
    }
    FRESHET_RETURN_IF_ERROR(registry.add_async_operation(
        kKinesisTargetPrefix, op.name, shape_for(op.name),
        [service, fn](RequestContext& ctx, Responder respond) {
          fn(service, ctx, std::move(respond));
        },
        std::move(raw)));
  }
  return {};
}

}  // namespace freshet::api

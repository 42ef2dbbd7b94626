// One function per Kinesis operation. Each validates ctx.input against the model, calls the
// engine through `k`, and returns the response Document or an ApiError.
#pragma once

#include "freshet/api/aws_error.h"
#include "freshet/api/service.h"
#include "convert.h"
#include "kinesis_service.h"

namespace freshet::api::kinesis {

using HandlerFn = ApiResult (*)(KinesisService& k, RequestContext& ctx);
using AsyncHandlerFn = void (*)(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                                Responder respond);

// control.cc
ApiResult create_stream(KinesisService& k, RequestContext& ctx);
ApiResult delete_stream(KinesisService& k, RequestContext& ctx);
ApiResult describe_stream(KinesisService& k, RequestContext& ctx);
ApiResult describe_stream_summary(KinesisService& k, RequestContext& ctx);
ApiResult list_streams(KinesisService& k, RequestContext& ctx);
ApiResult list_shards(KinesisService& k, RequestContext& ctx);
ApiResult describe_limits(KinesisService& k, RequestContext& ctx);
ApiResult describe_account_settings(KinesisService& k, RequestContext& ctx);
ApiResult update_account_settings(KinesisService& k, RequestContext& ctx);
ApiResult increase_stream_retention_period(KinesisService& k, RequestContext& ctx);
ApiResult decrease_stream_retention_period(KinesisService& k, RequestContext& ctx);
ApiResult update_shard_count(KinesisService& k, RequestContext& ctx);
ApiResult split_shard(KinesisService& k, RequestContext& ctx);
ApiResult merge_shards(KinesisService& k, RequestContext& ctx);
ApiResult update_stream_mode(KinesisService& k, RequestContext& ctx);
ApiResult update_max_record_size(KinesisService& k, RequestContext& ctx);
ApiResult update_stream_warm_throughput(KinesisService& k, RequestContext& ctx);
ApiResult start_stream_encryption(KinesisService& k, RequestContext& ctx);
ApiResult stop_stream_encryption(KinesisService& k, RequestContext& ctx);
ApiResult enable_enhanced_monitoring(KinesisService& k, RequestContext& ctx);
ApiResult disable_enhanced_monitoring(KinesisService& k, RequestContext& ctx);

// data.cc
// Asynchronous: they answer once the group commit made the records durable.
void put_record(const std::shared_ptr<KinesisService>& k, RequestContext& ctx, Responder respond);
void put_records(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                 Responder respond);

// A put request whose members passed validation (model shapes), in either path: decoded
// (views into ctx.input) or raw (views into the raw handler's buffers). The views must stay
// valid until submit_* returns; the answer may come later.
struct PlainPutRecord {
  std::optional<std::string> name, arn;
  std::optional<std::string_view> sequence_for_ordering;
  stream::PutEntry entry;
};
struct PlainPutRecords {
  std::optional<std::string> name, arn;
  std::vector<stream::PutEntry> entries;
};
// The rest of the operation after validation: the stream, domain checks, the write, the answer.
void submit_put_record(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                       const PlainPutRecord& p, Responder respond);
void submit_put_records(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                        const PlainPutRecords& p, Responder respond);

// put_raw.cc: the raw paths (RawHandler) of PutRecord and PutRecords for JSON bodies.
bool put_record_raw(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                    std::string_view body, Responder& respond);
bool put_records_raw(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                     std::string_view body, Responder& respond);
ApiResult get_shard_iterator(KinesisService& k, RequestContext& ctx);
ApiResult get_records(KinesisService& k, RequestContext& ctx);
// GetShardIterator's checks and the engine call, shared with SubscribeToShard (whose
// StartingPosition has the same members). `op` names the operation in messages.
struct IteratorRequest {
  const std::string& shard_id;
  const std::string& type;
  const std::optional<std::string>& seq;
  const std::optional<int64_t>& ts;
  std::string_view op;
};
struct OpenedIterator {
  std::string token;
  uint64_t index = 0;
  std::string shard_id;  // canonical
  stream::StreamInfo info;
};

std::optional<ApiError> open_iterator(KinesisService& k, const StreamRef& s,
                                      const IteratorRequest& r, OpenedIterator* out);

// subscribe.cc: answers with an event stream (StreamingBody) fed by KinesisService's
// Subscriptions.
ApiResult subscribe_to_shard(KinesisService& k, RequestContext& ctx);

// consumers.cc
ApiResult register_stream_consumer(KinesisService& k, RequestContext& ctx);
ApiResult deregister_stream_consumer(KinesisService& k, RequestContext& ctx);
ApiResult describe_stream_consumer(KinesisService& k, RequestContext& ctx);
ApiResult list_stream_consumers(KinesisService& k, RequestContext& ctx);

// tags_policies.cc
ApiResult add_tags_to_stream(KinesisService& k, RequestContext& ctx);
ApiResult remove_tags_from_stream(KinesisService& k, RequestContext& ctx);
ApiResult list_tags_for_stream(KinesisService& k, RequestContext& ctx);
ApiResult tag_resource(KinesisService& k, RequestContext& ctx);
ApiResult untag_resource(KinesisService& k, RequestContext& ctx);
ApiResult list_tags_for_resource(KinesisService& k, RequestContext& ctx);
ApiResult put_resource_policy(KinesisService& k, RequestContext& ctx);
ApiResult get_resource_policy(KinesisService& k, RequestContext& ctx);
ApiResult delete_resource_policy(KinesisService& k, RequestContext& ctx);

// Shared by several handlers (control.cc).
// Checks a NextToken's kind, region and age.
std::optional<ApiError> check_page_token(const KinesisService& k, std::string_view op,
                                         const std::string& region, const std::string& text,
                                         PageToken* out);

}  // namespace freshet::api::kinesis

// SubscribeToShard: validates the request as AWS does, opens an iterator at StartingPosition
// and answers with an event stream that KinesisService's Subscriptions feed.
#include "freshet/common/base64.h"
#include "freshet/stream/names.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

// The position (next log offset) of an iterator the engine has just issued, read from its
// documented layout (shard_iterator.h: bytes 26..33, little-endian).
uint64_t iterator_position(std::string_view token) {
  auto bytes = freshet::base64_decode_bytes(token);
  if (!bytes.ok() || bytes->size() < 34) return 0;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | (*bytes)[26 + static_cast<size_t>(i)];
  return v;
}

}  // namespace

ApiResult subscribe_to_shard(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto consumer_arn = in.str(d, "", "ConsumerARN", kConsumerArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  auto shard_id = in.str(d, "", "ShardId", kShardIdRule, true);
  std::optional<std::string> type, seq;
  std::optional<int64_t> ts;
  if (const Document* p = in.structure(d, "", "StartingPosition", true)) {
    type = in.str(*p, "startingPosition", "Type", enum_rule(kShardIteratorTypes), true);
    seq = in.str(*p, "startingPosition", "SequenceNumber", kSequenceNumberRule);
    ts = in.timestamp_ms(*p, "startingPosition", "Timestamp");
  }
  if (auto e = in.error()) return *e;
  auto parsed = stream::parse_consumer_arn(*consumer_arn);
  if (!parsed.ok()) {
    return ApiError{AwsError::kInvalidArgument, "ConsumerARN " + *consumer_arn + " is invalid."};
  }
  if (auto e = k.check_arn_scope(ctx, *consumer_arn, parsed->stream.region,
                                 parsed->stream.account_id, parsed->stream.stream_name)) {
    return *e;
  }
  auto found = k.engine().find_consumer_by_arn(*consumer_arn);
  if (!found.ok()) return engine_error(found.error());
  const auto& [info, consumer] = *found;
  if (consumer.status != stream::ConsumerStatus::kActive) {
    return ApiError{AwsError::kResourceInUse,
                    "Consumer " + *consumer_arn + " is not in ACTIVE state."};
  }
  const StreamRef s{parsed->stream.region, parsed->stream.stream_name};
  OpenedIterator opened;
  if (auto e = open_iterator(k, s, IteratorRequest{*shard_id, *type, seq, ts, "SubscribeToShard"},
                             &opened)) {
    return *e;
  }
  SubscriptionStart start;
  start.consumer_arn = *consumer_arn;
  start.region = s.region;
  start.stream = s.name;
  start.shard_id = opened.shard_id;
  start.start_offset = iterator_position(opened.token);
  start.iterator = std::move(opened.token);
  start.stream_epoch = opened.info.epoch;
  start.shard_index = opened.index;
  for (const auto& sh : opened.info.shards) {
    if (sh.index == opened.index) start.shard_starting_sequence = sh.starting_sequence_number;
  }
  start.kms = opened.info.encryption_type == "KMS";
  start.protocol = ctx.protocol;
  ApiError in_use{AwsError::kResourceInUse, ""};
  auto stream = k.subscriptions().subscribe(std::move(start), &in_use);
  if (!stream.ok()) {
    if (stream.code() == ErrorCode::kResourceInUse) return in_use;
    return engine_error(stream.error());
  }
  return StreamingBody{std::string(kEventStreamContentType), std::move(*stream)};
}

}  // namespace freshet::api::kinesis

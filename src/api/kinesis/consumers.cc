// Enhanced fan-out consumer registry: Register/Deregister/Describe/ListStreamConsumers.
#include <algorithm>

#include "convert.h"
#include "freshet/stream/names.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

// Finds a consumer by ConsumerARN, or by StreamARN + ConsumerName.
std::optional<ApiError> find_consumer(KinesisService& k, const RequestContext& ctx,
                                      const std::optional<std::string>& stream_arn,
                                      const std::optional<std::string>& consumer_name,
                                      const std::optional<std::string>& consumer_arn,
                                      StreamRef* stream_out, stream::Consumer* out,
                                      std::string* stream_arn_out) {
  if (consumer_arn) {
    auto parsed = stream::parse_consumer_arn(*consumer_arn);
    if (!parsed.ok()) {
      return ApiError{AwsError::kInvalidArgument, "ConsumerARN " + *consumer_arn + " is invalid."};
    }
    if (auto e = k.check_arn_scope(ctx, *consumer_arn, parsed->stream.region,
                                   parsed->stream.account_id, parsed->stream.stream_name)) {
      return e;
    }
    if (consumer_name && *consumer_name != parsed->consumer_name) {
      return ApiError{AwsError::kInvalidArgument, "ConsumerARN " + *consumer_arn +
                                                      " and ConsumerName " + *consumer_name +
                                                      " do not match."};
    }
    if (stream_arn) {
      StreamRef s;
      if (auto e = k.resolve_stream_arn(ctx, *stream_arn, &s)) return e;
      if (s.name != parsed->stream.stream_name) {
        return ApiError{AwsError::kInvalidArgument, "ConsumerARN " + *consumer_arn +
                                                        " and StreamARN " + *stream_arn +
                                                        " do not match."};
      }
    }
    auto found = k.engine().find_consumer_by_arn(*consumer_arn);
    if (!found.ok()) return engine_error(found.error());
    stream_out->region = found->first.region;
    stream_out->name = found->first.name;
    *stream_arn_out = found->first.arn;
    *out = found->second;
    return std::nullopt;
  }
  if (!stream_arn || !consumer_name) {
    return ApiError{AwsError::kInvalidArgument,
                    "Either ConsumerARN or both ConsumerName and StreamARN must be provided."};
  }
  if (auto e = k.resolve_stream_arn(ctx, *stream_arn, stream_out)) return e;
  auto found = k.engine().find_consumer(stream_out->region, stream_out->name, *consumer_name);
  if (!found.ok()) return engine_error(found.error());
  *stream_arn_out = found->first.arn;
  *out = found->second;
  return std::nullopt;
}

}  // namespace

ApiResult register_stream_consumer(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule, true);
  auto name = in.str(d, "", "ConsumerName", kConsumerNameRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  (void)in.tag_map(d, "", "Tags");
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream_arn(ctx, *arn, &s)) return *e;
  auto c = k.engine().register_consumer(s.region, s.name, *name);
  if (!c.ok()) return engine_error(c.error());
  Document out = Document::make_map();
  out.set("Consumer", consumer_doc(*c, nullptr));
  return out;
}

// The consumer a Deregister/DescribeStreamConsumer request names (by StreamARN and
// ConsumerName, or by ConsumerARN), after validating the request's members.
std::optional<ApiError> read_named_consumer(KinesisService& k, RequestContext& ctx, StreamRef* s,
                                            stream::Consumer* c, std::string* stream_arn) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  auto name = in.str(d, "", "ConsumerName", kConsumerNameRule);
  auto consumer_arn = in.str(d, "", "ConsumerARN", kConsumerArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return e;
  return find_consumer(k, ctx, arn, name, consumer_arn, s, c, stream_arn);
}

ApiResult deregister_stream_consumer(KinesisService& k, RequestContext& ctx) {
  StreamRef s;
  stream::Consumer c;
  std::string stream_arn;
  if (auto e = read_named_consumer(k, ctx, &s, &c, &stream_arn)) return *e;
  Status st = k.engine().deregister_consumer(s.region, s.name, c.name);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult describe_stream_consumer(KinesisService& k, RequestContext& ctx) {
  StreamRef s;
  stream::Consumer c;
  std::string stream_arn;
  if (auto e = read_named_consumer(k, ctx, &s, &c, &stream_arn)) return *e;
  Document out = Document::make_map();
  out.set("ConsumerDescription", consumer_doc(c, &stream_arn));
  return out;
}

ApiResult list_stream_consumers(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule, true);
  auto token = in.str(d, "", "NextToken", kNextTokenRule);
  auto max_results = in.integer(d, "", "MaxResults", IntRule{1, 10000});
  auto created = in.timestamp_ms(d, "", "StreamCreationTimestamp");
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream_arn(ctx, *arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  std::string after;
  if (token) {
    if (created) {
      return ApiError{AwsError::kInvalidArgument,
                      "NextToken and StreamCreationTimestamp cannot be provided together."};
    }
    PageToken t;
    if (auto e = check_page_token(k, "ListStreamConsumers", s.region, *token, &t)) return *e;
    if (t.stream != s.name || t.stream_epoch != info->epoch) {
      return ApiError{AwsError::kInvalidArgument,
                      "NextToken does not belong to stream " + info->arn + "."};
    }
    after = t.after;
  }
  if (created && (*created / 1000) != (info->created_ms / 1000)) {
    return ApiError{AwsError::kResourceNotFound, "Stream " + s.name + " under account " +
                                                     k.account() + " not found."};
  }
  std::vector<stream::Consumer> consumers = info->consumers;
  std::sort(consumers.begin(), consumers.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  const size_t max = static_cast<size_t>(max_results.value_or(100));
  Document list = Document::make_list();
  bool more = false;
  std::string last;
  size_t n = 0;
  for (const auto& c : consumers) {
    if (!after.empty() && c.name <= after) continue;
    if (n == max) {
      more = true;
      break;
    }
    list.push_back(consumer_doc(c, nullptr));
    last = c.name;
    ++n;
  }
  Document out = Document::make_map();
  out.set("Consumers", std::move(list));
  if (more) {
    PageToken t;
    t.op = "ListStreamConsumers";
    t.issued_ms = k.now_ms();
    t.region = s.region;
    t.stream = s.name;
    t.stream_epoch = info->epoch;
    t.after = last;
    out.set("NextToken", encode_page_token(t));
  }
  return out;
}

}  // namespace freshet::api::kinesis

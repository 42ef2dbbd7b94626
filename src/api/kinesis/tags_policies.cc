// Tags (by stream name/ARN and by resource ARN) and resource policies.
#include "convert.h"
#include "freshet/stream/names.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

Document tags_doc(const std::map<std::string, std::string>& tags, const std::string& after,
                  size_t max, bool* more) {
  Document list = Document::make_list();
  size_t n = 0;
  *more = false;
  for (const auto& [key, value] : tags) {
    if (!after.empty() && key <= after) continue;
    if (n == max) {
      *more = true;
      break;
    }
    Document t = Document::make_map();
    t.set("Key", key);
    t.set("Value", value);
    list.push_back(std::move(t));
    ++n;
  }
  return list;
}

// A ResourceARN: a stream ARN or a consumer ARN, of this account and the request's region.
struct Resource {
  bool is_consumer = false;
  StreamRef stream;
};

std::optional<ApiError> resolve_resource(KinesisService& k, const RequestContext& ctx,
                                         const std::string& arn, Resource* out) {
  if (auto c = stream::parse_consumer_arn(arn); c.ok()) {
    if (auto e = k.check_arn_scope(ctx, arn, c->stream.region, c->stream.account_id,
                                   c->stream.stream_name)) {
      return e;
    }
    auto found = k.engine().find_consumer_by_arn(arn);
    if (!found.ok()) return engine_error(found.error());
    out->is_consumer = true;
    out->stream = StreamRef{c->stream.region, c->stream.stream_name};
    return std::nullopt;
  }
  auto s = stream::parse_stream_arn(arn);
  if (!s.ok()) return ApiError{AwsError::kInvalidArgument, "ResourceARN " + arn + " is invalid."};
  if (auto e = k.check_arn_scope(ctx, arn, s->region, s->account_id, s->stream_name)) return e;
  out->stream = StreamRef{s->region, s->stream_name};
  return std::nullopt;
}

ApiError consumer_tags_unsupported() {
  return ApiError{AwsError::kInvalidArgument,
                  "Tags on consumers are not supported by this server yet."};
}

}  // namespace

ApiResult add_tags_to_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto tags = in.tag_map(d, "", "Tags", true);
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  std::map<std::string, std::string> m(tags->begin(), tags->end());
  Status st = k.engine().add_tags(s.region, s.name, m);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult remove_tags_from_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto keys = in.string_list(d, "", "TagKeys", 1, 50, kTagKeyRule, true);
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  Status st = k.engine().remove_tags(s.region, s.name, *keys);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult list_tags_for_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto start = in.str(d, "", "ExclusiveStartTagKey", kTagKeyRule);
  auto limit = in.integer(d, "", "Limit", IntRule{1, 50});
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  bool more = false;
  Document out = Document::make_map();
  out.set("Tags", tags_doc(info->tags, start.value_or(""),
                           static_cast<size_t>(limit.value_or(50)), &more));
  out.set("HasMoreTags", more);
  return out;
}

ApiResult tag_resource(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto tags = in.tag_map(d, "", "Tags", true);
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  if (r.is_consumer) return consumer_tags_unsupported();
  std::map<std::string, std::string> m(tags->begin(), tags->end());
  Status st = k.engine().add_tags(r.stream.region, r.stream.name, m);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult untag_resource(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto keys = in.string_list(d, "", "TagKeys", 1, 50, kTagKeyRule, true);
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  if (r.is_consumer) return consumer_tags_unsupported();
  Status st = k.engine().remove_tags(r.stream.region, r.stream.name, *keys);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult list_tags_for_resource(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  Document out = Document::make_map();
  if (r.is_consumer) {
    out.set("Tags", Document::make_list());  // consumers carry no tags here
    return out;
  }
  auto info = k.engine().describe_stream(r.stream.region, r.stream.name);
  if (!info.ok()) return engine_error(info.error());
  bool more = false;
  out.set("Tags", tags_doc(info->tags, "", 200, &more));
  return out;
}

ApiResult put_resource_policy(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  auto policy = in.str(d, "", "Policy", kAnyString, true);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  Status st = k.engine().put_policy(*arn, *policy);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

ApiResult get_resource_policy(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  auto policy = k.engine().get_policy(*arn);
  if (!policy.ok()) return engine_error(policy.error());
  Document out = Document::make_map();
  out.set("Policy", policy->empty() ? std::string("{}") : *policy);
  return out;
}

ApiResult delete_resource_policy(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "ResourceARN", kResourceArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  Resource r;
  if (auto e = resolve_resource(k, ctx, *arn, &r)) return *e;
  Status st = k.engine().delete_policy(*arn);
  if (!st.ok()) return engine_error(st.error());
  return Document::make_map();
}

}  // namespace freshet::api::kinesis

// Control-plane operations: streams, shards, retention, scaling, encryption, monitoring,
// limits and account settings.
#include <algorithm>
#include <limits>

#include "convert.h"
#include "freshet/stream/hash_key.h"
#include "freshet/stream/names.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

const IntRule kPositive{1, std::nullopt};
const IntRule kNatural{0, std::nullopt};

// Reads StreamARN and StreamId (the trailing members of most inputs).
std::optional<std::string> read_arn_and_id(Input& in, const Document& d) {
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  return arn;
}

Document empty_doc() { return Document::make_map(); }

std::string stream_arn(const KinesisService& k, const StreamRef& s) {
  return stream::format_stream_arn(s.region, k.account(), s.name);
}

// "Stream x under account y not found." for streams that vanished between calls.
ApiError not_found(const KinesisService& k, const std::string& name) {
  return ApiError{AwsError::kResourceNotFound,
                  "Stream " + name + " under account " + k.account() + " not found."};
}

}  // namespace

std::optional<ApiError> check_page_token(const KinesisService& k, std::string_view op,
                                         const std::string& region, const std::string& text,
                                         PageToken* out) {
  auto t = decode_page_token(text);
  if (!t || t->op != op || t->region != region) {
    return ApiError{AwsError::kInvalidArgument, "Invalid NextToken: " + text};
  }
  const int64_t age = k.now_ms() - t->issued_ms;
  if (age > k.options().next_token_lifetime_ms || age < -k.options().next_token_lifetime_ms) {
    return ApiError{AwsError::kExpiredNextToken,
                    "The NextToken has expired. Tokens expire " +
                        std::to_string(k.options().next_token_lifetime_ms / 1000) +
                        " seconds after they are issued."};
  }
  *out = std::move(*t);
  return std::nullopt;
}

ApiResult create_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule, true);
  auto shard_count = in.integer(d, "", "ShardCount", kPositive);
  std::optional<std::string> mode;
  if (const Document* md = in.structure(d, "", "StreamModeDetails")) {
    mode = in.str(*md, "streamModeDetails", "StreamMode", enum_rule(kStreamModes), true);
  }
  auto tags = in.tag_map(d, "", "Tags");
  (void)in.integer(d, "", "WarmThroughputMiBps", kNatural);
  auto max_kib = in.integer(d, "", "MaxRecordSizeInKiB", IntRule{1024, 10240});
  if (auto e = in.error()) return *e;

  std::string region;
  if (auto e = k.region_of(ctx, &region)) return *e;
  stream::StreamMode m = stream::StreamMode::kProvisioned;
  if (mode == "ON_DEMAND") {
    m = stream::StreamMode::kOnDemand;
  } else if (!mode && !shard_count) {
    m = stream::StreamMode::kOnDemand;  // neither given: on-demand, as the console and CLI do
  }
  if (m == stream::StreamMode::kProvisioned && !shard_count) {
    return ApiError{AwsError::kInvalidArgument,
                    "ShardCount must be specified for streams in PROVISIONED mode."};
  }
  if (m == stream::StreamMode::kOnDemand && shard_count) {
    return ApiError{AwsError::kInvalidArgument,
                    "ShardCount must not be specified for streams in ON_DEMAND mode."};
  }
  std::optional<uint32_t> count;
  if (shard_count) {
    count = static_cast<uint32_t>(std::min<int64_t>(*shard_count, stream::kMaxUniformShards + 1));
  }
  std::map<std::string, std::string> tag_map;
  if (tags) {
    for (auto& [key, value] : *tags) tag_map[key] = value;
  }
  std::optional<int32_t> kib;
  if (max_kib) kib = static_cast<int32_t>(*max_kib);
  Status st = k.engine().create_stream(region, *name, count, m, tag_map, kib);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult delete_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto enforce = in.boolean(d, "", "EnforceConsumerDeletion");
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  Status st = k.engine().delete_stream(s.region, s.name, enforce.value_or(false));
  if (!st.ok()) return engine_error(st.error());
  k.forget_facts(s.region, s.name);
  return empty_doc();
}

ApiResult describe_stream(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto limit = in.integer(d, "", "Limit", IntRule{1, 10000});
  auto start = in.str(d, "", "ExclusiveStartShardId", kShardIdRule);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());

  const size_t max = static_cast<size_t>(limit.value_or(100));
  Document shards = Document::make_list();
  bool more = false;
  size_t n = 0;
  for (const auto& sh : info->shards) {
    if (start && sh.shard_id <= *start) continue;  // zero-padded IDs sort like their indexes
    if (n == max) {
      more = true;
      break;
    }
    shards.push_back(shard_doc(sh));
    ++n;
  }
  Document desc = Document::make_map();
  desc.set("StreamName", info->name);
  desc.set("StreamARN", info->arn);
  desc.set("StreamStatus", stream::to_string(info->status));
  desc.set("StreamModeDetails", stream_mode_doc(info->mode));
  desc.set("Shards", std::move(shards));
  desc.set("HasMoreShards", more);
  desc.set("RetentionPeriodHours", int64_t{info->retention_hours});
  desc.set("StreamCreationTimestamp", Document::timestamp_ms(info->created_ms));
  desc.set("EnhancedMonitoring", enhanced_monitoring_doc(info->shard_level_metrics));
  desc.set("EncryptionType", info->encryption_type);
  if (!info->key_id.empty()) desc.set("KeyId", info->key_id);
  Document out = Document::make_map();
  out.set("StreamDescription", std::move(desc));
  return out;
}

ApiResult describe_stream_summary(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  Document desc = Document::make_map();
  desc.set("StreamName", info->name);
  desc.set("StreamARN", info->arn);
  desc.set("StreamStatus", stream::to_string(info->status));
  desc.set("StreamModeDetails", stream_mode_doc(info->mode));
  desc.set("RetentionPeriodHours", int64_t{info->retention_hours});
  desc.set("StreamCreationTimestamp", Document::timestamp_ms(info->created_ms));
  desc.set("EnhancedMonitoring", enhanced_monitoring_doc(info->shard_level_metrics));
  desc.set("EncryptionType", info->encryption_type);
  if (!info->key_id.empty()) desc.set("KeyId", info->key_id);
  desc.set("OpenShardCount", int64_t{info->open_shard_count()});
  desc.set("ConsumerCount", static_cast<int64_t>(info->consumers.size()));
  desc.set("MaxRecordSizeInKiB", int64_t{info->max_record_size_kib});
  Document out = Document::make_map();
  out.set("StreamDescriptionSummary", std::move(desc));
  return out;
}

ApiResult list_streams(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto limit = in.integer(d, "", "Limit", IntRule{1, 10000});
  auto start = in.str(d, "", "ExclusiveStartStreamName", kStreamNameRule);
  auto token = in.str(d, "", "NextToken", kNextTokenRule);
  if (auto e = in.error()) return *e;
  std::string region;
  if (auto e = k.region_of(ctx, &region)) return *e;
  std::string after = start.value_or("");
  if (token) {
    PageToken t;
    if (auto e = check_page_token(k, "ListStreams", region, *token, &t)) return *e;
    after = t.after;
  }
  // "If you specify a value greater than 100, at most 100 results are returned."
  const size_t max = static_cast<size_t>(std::min<int64_t>(limit.value_or(100), 100));
  const std::vector<std::string> names = k.engine().list_streams(region);
  Document list = Document::make_list();
  Document summaries = Document::make_list();
  bool more = false;
  std::string last;
  size_t n = 0;
  for (const auto& nm : names) {
    if (!after.empty() && nm <= after) continue;
    if (n == max) {
      more = true;
      break;
    }
    auto info = k.engine().describe_stream(region, nm);
    if (!info.ok()) continue;  // deleted meanwhile
    list.push_back(nm);
    Document sum = Document::make_map();
    sum.set("StreamName", info->name);
    sum.set("StreamARN", info->arn);
    sum.set("StreamStatus", stream::to_string(info->status));
    sum.set("StreamModeDetails", stream_mode_doc(info->mode));
    sum.set("StreamCreationTimestamp", Document::timestamp_ms(info->created_ms));
    summaries.push_back(std::move(sum));
    last = nm;
    ++n;
  }
  Document out = Document::make_map();
  out.set("StreamNames", std::move(list));
  out.set("HasMoreStreams", more);
  if (more) {
    PageToken t;
    t.op = "ListStreams";
    t.issued_ms = k.now_ms();
    t.region = region;
    t.after = last;
    out.set("NextToken", encode_page_token(t));
  }
  out.set("StreamSummaries", std::move(summaries));
  return out;
}

ApiResult list_shards(KinesisService& k, RequestContext& ctx) {
  using FilterType = stream::ListShardsFilter::Type;
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto token = in.str(d, "", "NextToken", kNextTokenRule);
  auto start = in.str(d, "", "ExclusiveStartShardId", kShardIdRule);
  auto max_results = in.integer(d, "", "MaxResults", IntRule{1, 10000});
  auto created = in.timestamp_ms(d, "", "StreamCreationTimestamp");
  const Document* filter_doc = in.structure(d, "", "ShardFilter");
  std::optional<std::string> filter_type, filter_shard;
  std::optional<int64_t> filter_ts;
  if (filter_doc != nullptr) {
    filter_type = in.str(*filter_doc, "shardFilter", "Type", enum_rule(kShardFilterTypes), true);
    filter_shard = in.str(*filter_doc, "shardFilter", "ShardId", kShardIdRule);
    filter_ts = in.timestamp_ms(*filter_doc, "shardFilter", "Timestamp");
  }
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;

  std::string region;
  if (auto e = k.region_of(ctx, &region)) return *e;
  StreamRef s;
  stream::ListShardsFilter filter;
  std::string after = start.value_or("");
  std::optional<uint64_t> epoch;
  if (token) {
    auto together = [](const char* what) {
      return ApiError{AwsError::kInvalidArgument,
                      std::string("NextToken and ") + what + " cannot be provided together."};
    };
    if (name) return together("StreamName");
    if (start) return together("ExclusiveStartShardId");
    if (created) return together("StreamCreationTimestamp");
    if (filter_doc != nullptr) return together("ShardFilter");
    PageToken t;
    if (auto e = check_page_token(k, "ListShards", region, *token, &t)) return *e;
    s.region = t.region;
    s.name = t.stream;
    if (arn) {
      StreamRef from_arn;
      if (auto e = k.resolve_stream_arn(ctx, *arn, &from_arn)) return *e;
      if (from_arn.name != s.name) {
        return ApiError{AwsError::kInvalidArgument,
                        "StreamARN " + *arn + " does not match the stream of the NextToken."};
      }
    }
    after = t.after;
    epoch = t.stream_epoch;
    filter.type = static_cast<FilterType>(std::clamp(t.filter_type, 0, 6));
    filter.shard_id = t.filter_shard_id;
    filter.timestamp_ms = t.filter_timestamp_ms;
  } else {
    if (!name && !arn) {
      return ApiError{AwsError::kInvalidArgument,
                      "Either NextToken or StreamName should be provided."};
    }
    if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
    if (filter_type) {
      static constexpr std::pair<std::string_view, FilterType> kTypes[] = {
          {"AFTER_SHARD_ID", FilterType::kAfterShardId},
          {"AT_TRIM_HORIZON", FilterType::kAtTrimHorizon},
          {"FROM_TRIM_HORIZON", FilterType::kFromTrimHorizon},
          {"AT_LATEST", FilterType::kAtLatest},
          {"AT_TIMESTAMP", FilterType::kAtTimestamp},
          {"FROM_TIMESTAMP", FilterType::kFromTimestamp}};
      for (const auto& [text, type] : kTypes) {
        if (*filter_type == text) filter.type = type;
      }
      if (filter.type == FilterType::kAfterShardId) {
        if (!filter_shard) {
          return ApiError{AwsError::kInvalidArgument,
                          "ShardId must be specified for ShardFilter type AFTER_SHARD_ID."};
        }
        filter.shard_id = *filter_shard;
      }
      if (filter.type == FilterType::kAtTimestamp || filter.type == FilterType::kFromTimestamp) {
        if (!filter_ts) {
          return ApiError{AwsError::kInvalidArgument, "Timestamp must be specified for ShardFilter type " +
                                                          *filter_type + "."};
        }
        filter.timestamp_ms = *filter_ts;
      }
    }
  }
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  if (epoch && *epoch != info->epoch) return not_found(k, s.name);
  if (created && (*created / 1000) != (info->created_ms / 1000)) return not_found(k, s.name);
  if (filter.type == FilterType::kAfterShardId && !stream::resolve_shard_id(filter.shard_id).ok()) {
    return ApiError{AwsError::kInvalidArgument,
                    "ShardId " + filter.shard_id + " in ShardFilter is not a valid shard ID."};
  }
  auto shards = k.engine().list_shards(s.region, s.name, filter);
  if (!shards.ok()) return engine_error(shards.error());

  const size_t max = static_cast<size_t>(max_results.value_or(1000));
  Document list = Document::make_list();
  bool more = false;
  std::string last;
  size_t n = 0;
  for (const auto& sh : *shards) {
    if (!after.empty() && sh.shard_id <= after) continue;
    if (n == max) {
      more = true;
      break;
    }
    list.push_back(shard_doc(sh));
    last = sh.shard_id;
    ++n;
  }
  Document out = Document::make_map();
  out.set("Shards", std::move(list));
  if (more) {
    PageToken t;
    t.op = "ListShards";
    t.issued_ms = k.now_ms();
    t.region = s.region;
    t.stream = s.name;
    t.stream_epoch = info->epoch;
    t.after = last;
    t.filter_type = static_cast<int>(filter.type);
    t.filter_shard_id = filter.shard_id;
    t.filter_timestamp_ms = filter.timestamp_ms;
    out.set("NextToken", encode_page_token(t));
  }
  return out;
}

ApiResult describe_limits(KinesisService& k, RequestContext& ctx) {
  std::string region;
  if (auto e = k.region_of(ctx, &region)) return *e;
  int64_t open = 0;
  int64_t on_demand = 0;
  for (const auto& nm : k.engine().list_streams(region)) {
    auto info = k.engine().describe_stream(region, nm);
    if (!info.ok()) continue;
    open += info->open_shard_count();
    on_demand += info->mode == stream::StreamMode::kOnDemand ? 1 : 0;
  }
  Document out = Document::make_map();
  out.set("ShardLimit", int64_t{k.options().shard_limit});
  out.set("OpenShardCount", open);
  out.set("OnDemandStreamCount", on_demand);
  out.set("OnDemandStreamCountLimit", int64_t{k.options().on_demand_stream_count_limit});
  return out;
}

namespace {
Document commitment_doc(const stream::AccountSettings& s) {
  Document c = Document::make_map();
  c.set("Status", s.minimum_throughput_billing_commitment_status);
  Document out = Document::make_map();
  out.set("MinimumThroughputBillingCommitment", std::move(c));
  return out;
}
}  // namespace

ApiResult describe_account_settings(KinesisService& k, RequestContext& ctx) {
  return commitment_doc(k.engine().account_settings());
}

ApiResult update_account_settings(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  std::optional<std::string> status;
  if (const Document* c = in.structure(d, "", "MinimumThroughputBillingCommitment", true)) {
    status = in.str(*c, "minimumThroughputBillingCommitment", "Status",
                    enum_rule(kCommitmentInputStatuses), true);
  }
  if (auto e = in.error()) return *e;
  stream::AccountSettings s;
  s.minimum_throughput_billing_commitment_status = *status;
  Status st = k.engine().update_account_settings(s);
  if (!st.ok()) return engine_error(st.error());
  return commitment_doc(k.engine().account_settings());
}

namespace {
ApiResult change_retention(KinesisService& k, RequestContext& ctx, bool increase) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto hours = in.integer(d, "", "RetentionPeriodHours", IntRule{}, true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  if (*hours < 24) {
    return ApiError{AwsError::kInvalidArgument,
                    "Minimum allowed retention period is 24 hours. Requested retention period (" +
                        std::to_string(*hours) + " hours) is too short."};
  }
  if (*hours > 8760) {
    return ApiError{AwsError::kInvalidArgument,
                    "Maximum allowed retention period is 8760 hours. Requested retention period (" +
                        std::to_string(*hours) + " hours) is too long."};
  }
  const int32_t h = static_cast<int32_t>(*hours);
  Status st = increase ? k.engine().increase_retention(s.region, s.name, h)
                       : k.engine().decrease_retention(s.region, s.name, h);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}
}  // namespace

ApiResult increase_stream_retention_period(KinesisService& k, RequestContext& ctx) {
  return change_retention(k, ctx, true);
}

ApiResult decrease_stream_retention_period(KinesisService& k, RequestContext& ctx) {
  return change_retention(k, ctx, false);
}

ApiResult update_shard_count(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto target = in.integer(d, "", "TargetShardCount", kPositive, true);
  (void)in.str(d, "", "ScalingType", enum_rule(kScalingTypes), true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  // As AWS: an on-demand stream scales itself; asking is a ValidationException.
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  if (info->mode == stream::StreamMode::kOnDemand) {
    return ApiError{AwsError::kValidation, "Request is invalid. Stream " + s.name +
                                               " under account " + k.account() +
                                               " is in On-Demand mode."};
  }
  const uint32_t t =
      static_cast<uint32_t>(std::min<int64_t>(*target, std::numeric_limits<uint32_t>::max()));
  auto before = k.engine().update_shard_count(s.region, s.name, t);
  if (!before.ok()) return engine_error(before.error());
  Document out = Document::make_map();
  out.set("StreamName", s.name);
  out.set("CurrentShardCount", int64_t{*before});
  out.set("TargetShardCount", *target);
  out.set("StreamARN", stream_arn(k, s));
  return out;
}

namespace {

// AWS answers a shard id it cannot parse before it looks the stream up.
std::optional<ApiError> unparsable_shard(const KinesisService& k, const StreamRef& s,
                                         const std::string& shard_id) {
  if (stream::resolve_shard_id(shard_id).ok()) return std::nullopt;
  return ApiError{AwsError::kResourceNotFound, "Could not find shard " + shard_id + " in stream " +
                                                   s.name + " under account " + k.account() + "."};
}

}  // namespace

ApiResult split_shard(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto shard = in.str(d, "", "ShardToSplit", kShardIdRule, true);
  auto key = in.str(d, "", "NewStartingHashKey", kHashKeyRule, true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  if (auto e = unparsable_shard(k, s, *shard)) return *e;  // before the stream, as AWS
  auto hk = stream::parse_hash_key(*key);
  if (!hk.ok()) {
    return ApiError{AwsError::kInvalidArgument,
                    "NewStartingHashKey " + *key + " used in SplitShard() on shard " + *shard +
                        " in stream " + s.name + " under account " + k.account() +
                        " is not in the range: [0, 2^128-1]."};
  }
  Status st = k.engine().split_shard(s.region, s.name, *shard, *hk);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult merge_shards(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto a = in.str(d, "", "ShardToMerge", kShardIdRule, true);
  auto b = in.str(d, "", "AdjacentShardToMerge", kShardIdRule, true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  if (auto e = unparsable_shard(k, s, *a)) return *e;  // before the stream, as AWS
  if (auto e = unparsable_shard(k, s, *b)) return *e;
  Status st = k.engine().merge_shards(s.region, s.name, *a, *b);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult update_stream_mode(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  std::optional<std::string> mode;
  if (const Document* md = in.structure(d, "", "StreamModeDetails", true)) {
    mode = in.str(*md, "streamModeDetails", "StreamMode", enum_rule(kStreamModes), true);
  }
  (void)in.integer(d, "", "WarmThroughputMiBps", kNatural);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream_arn(ctx, *arn, &s)) return *e;
  Status st = k.engine().update_stream_mode(
      s.region, s.name,
      *mode == "ON_DEMAND" ? stream::StreamMode::kOnDemand : stream::StreamMode::kProvisioned);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult update_max_record_size(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  auto kib = in.integer(d, "", "MaxRecordSizeInKiB", IntRule{1024, 10240}, true);
  if (auto e = in.error()) return *e;
  if (!arn) {
    return ApiError{AwsError::kInvalidArgument, "StreamARN should be provided."};
  }
  StreamRef s;
  if (auto e = k.resolve_stream_arn(ctx, *arn, &s)) return *e;
  Status st = k.engine().update_max_record_size(s.region, s.name, static_cast<int32_t>(*kib));
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult update_stream_warm_throughput(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  (void)in.integer(d, "", "WarmThroughputMiBps", kNatural, true);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  return ApiError{AwsError::kInvalidArgument,
                  "UpdateStreamWarmThroughput is not supported by this server yet."};
}

ApiResult start_stream_encryption(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto type = in.str(d, "", "EncryptionType", enum_rule(kEncryptionTypes), true);
  auto key = in.str(d, "", "KeyId", kKeyIdRule, true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  if (*type != "KMS") {
    return ApiError{AwsError::kInvalidArgument,
                    "EncryptionType " + *type + " is not valid for StartStreamEncryption; use KMS."};
  }
  Status st = k.engine().start_encryption(s.region, s.name, *key);
  k.forget_facts(s.region, s.name);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

ApiResult stop_stream_encryption(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  (void)in.str(d, "", "EncryptionType", enum_rule(kEncryptionTypes), true);
  (void)in.str(d, "", "KeyId", kKeyIdRule, true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  Status st = k.engine().stop_encryption(s.region, s.name);
  k.forget_facts(s.region, s.name);
  if (!st.ok()) return engine_error(st.error());
  return empty_doc();
}

namespace {
ApiResult set_monitoring(KinesisService& k, RequestContext& ctx, bool enable) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto metrics = in.string_list(d, "", "ShardLevelMetrics", 1, 7, enum_rule(kMetricsNames), true);
  auto arn = read_arn_and_id(in, d);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  auto r = k.engine().set_enhanced_monitoring(s.region, s.name, *metrics, enable);
  k.forget_facts(s.region, s.name);
  if (!r.ok()) return engine_error(r.error());
  Document out = Document::make_map();
  out.set("StreamName", s.name);
  out.set("CurrentShardLevelMetrics", string_list_doc(r->first));
  out.set("DesiredShardLevelMetrics", string_list_doc(r->second));
  out.set("StreamARN", stream_arn(k, s));
  return out;
}
}  // namespace

ApiResult enable_enhanced_monitoring(KinesisService& k, RequestContext& ctx) {
  return set_monitoring(k, ctx, true);
}

ApiResult disable_enhanced_monitoring(KinesisService& k, RequestContext& ctx) {
  return set_monitoring(k, ctx, false);
}

}  // namespace freshet::api::kinesis

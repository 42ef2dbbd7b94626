#include "kinesis_service.h"

#include <algorithm>
#include <chrono>

#include "freshet/stream/names.h"

namespace freshet::api::kinesis {

ApiError engine_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound:
      return ApiError{AwsError::kResourceNotFound, e.message()};
    case ErrorCode::kResourceInUse:
    case ErrorCode::kAlreadyExists:
      return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kLimitExceeded:
      return ApiError{AwsError::kLimitExceeded, e.message()};
    case ErrorCode::kInvalidArgument:
      return ApiError{AwsError::kInvalidArgument, e.message()};
    case ErrorCode::kExpired:
      return ApiError{AwsError::kExpiredIterator, e.message()};
    case ErrorCode::kThrottled:
      return ApiError{AwsError::kProvisionedThroughputExceeded, e.message()};
    case ErrorCode::kUnavailable:
      return ApiError{AwsError::kServiceUnavailable, e.message()};
    default:
      return ApiError{AwsError::kInternalFailure, e.message()};
  }
}

bool StreamFacts::monitors(std::string_view metric) const {
  return std::binary_search(shard_level_metrics.begin(), shard_level_metrics.end(), metric);
}

KinesisService::KinesisService(stream::Engine& engine, metrics::Registry& metrics,
                               KinesisApiOptions options)
    : engine_(engine), metrics_(metrics), options_(std::move(options)) {
  SubscriptionOptions so;
  so.lifetime_ms = options_.subscription_lifetime_ms;
  so.heartbeat_ms = options_.subscription_heartbeat_ms;
  so.enforce_limits = options_.enforce_limits;
  subscriptions_ = std::make_unique<Subscriptions>(engine_, metrics_, so);
}

int64_t KinesisService::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<ApiError> KinesisService::region_of(const RequestContext& ctx,
                                                  std::string* region) const {
  *region = ctx.region.empty() ? options_.default_region : ctx.region;
  if (!stream::validate_region(*region).ok()) {
    return ApiError{AwsError::kInvalidArgument,
                    "The region '" + *region + "' in the credential scope is not valid."};
  }
  return std::nullopt;
}

std::optional<ApiError> KinesisService::check_arn_scope(const RequestContext& ctx,
                                                        std::string_view arn,
                                                        std::string_view arn_region,
                                                        std::string_view arn_account,
                                                        std::string_view resource_name) const {
  std::string region;
  if (auto e = region_of(ctx, &region)) return e;
  if (arn_account != account()) {
    return ApiError{AwsError::kAccessDenied,
                    "User is not authorized to perform: kinesis:" + std::string(ctx.operation) +
                        " on resource: " + std::string(arn) +
                        " because the resource belongs to another account."};
  }
  if (arn_region != region) {
    return ApiError{AwsError::kResourceNotFound, "Stream " + std::string(resource_name) +
                                                     " under account " + account() +
                                                     " not found."};
  }
  return std::nullopt;
}

std::optional<ApiError> KinesisService::resolve_stream_arn(const RequestContext& ctx,
                                                           const std::string& arn,
                                                           StreamRef* out) const {
  auto parsed = stream::parse_stream_arn(arn);
  if (!parsed.ok()) {
    return ApiError{AwsError::kInvalidArgument, "StreamARN " + arn + " is invalid."};
  }
  if (auto e = check_arn_scope(ctx, arn, parsed->region, parsed->account_id,
                               parsed->stream_name)) {
    return e;
  }
  out->region = parsed->region;
  out->name = parsed->stream_name;
  return std::nullopt;
}

std::optional<ApiError> KinesisService::resolve_stream(const RequestContext& ctx,
                                                       const std::optional<std::string>& name,
                                                       const std::optional<std::string>& arn,
                                                       StreamRef* out) const {
  if (!name && !arn) {
    return ApiError{AwsError::kInvalidArgument,
                    "Either StreamName or StreamARN should be provided."};
  }
  if (arn) {
    if (auto e = resolve_stream_arn(ctx, *arn, out)) return e;
    if (name && *name != out->name) {
      return ApiError{AwsError::kInvalidArgument,
                      "StreamARN " + *arn + " and StreamName " + *name + " do not match."};
    }
    return std::nullopt;
  }
  if (auto e = region_of(ctx, &out->region)) return e;
  out->name = *name;
  return std::nullopt;
}

std::shared_ptr<const StreamFacts> KinesisService::facts(const std::string& region,
                                                 const std::string& name) {
  const std::string key = region + "/" + name;
  const int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    auto it = facts_.find(key);
    if (it != facts_.end() && now - it->second.fetched_ms < 1000 && now >= it->second.fetched_ms) {
      return it->second.facts;
    }
  }
  auto info = engine_.describe_stream(region, name);
  if (!info.ok()) return nullptr;
  auto f = std::make_shared<StreamFacts>();
  f->encryption_type = info->encryption_type;
  f->shard_level_metrics = info->shard_level_metrics;
  std::sort(f->shard_level_metrics.begin(), f->shard_level_metrics.end());
  std::lock_guard lock(mu_);
  facts_[key] = CachedFacts{f, now};
  return f;
}

void KinesisService::forget_facts(const std::string& region, const std::string& name) {
  std::lock_guard lock(mu_);
  facts_.erase(region + "/" + name);
}

namespace {
std::string cw(std::string_view name) { return metrics::cloudwatch_metric_name("kinesis", name); }
}  // namespace

StreamSeries& KinesisService::stream_series(const std::string& stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  if (it != streams_.end()) return *it->second;
  metrics::Registry& r = metrics_;
  const metrics::Labels l = {{"stream", stream}};
  auto s = std::make_unique<StreamSeries>(StreamSeries{
      r.counter(cw("IncomingRecords"), l, "Records successfully put (PutRecord, PutRecords)"),
      r.counter(cw("IncomingBytes"), l, "Bytes successfully put"),
      r.counter(cw("PutRecord.Success"), l, "Successful PutRecord calls"),
      r.counter(cw("PutRecords.Records"), l, "Records in PutRecords calls"),
      r.counter(cw("PutRecords.SuccessfulRecords"), l, "Records PutRecords stored"),
      r.counter(cw("PutRecords.FailedRecords"), l, "Records PutRecords rejected"),
      r.counter(cw("GetRecords.Records"), l, "Records returned by GetRecords"),
      r.counter(cw("GetRecords.Bytes"), l, "Bytes returned by GetRecords"),
      r.counter(cw("GetRecords.Success"), l, "Successful GetRecords calls"),
      r.gauge(cw("GetRecords.IteratorAgeMilliseconds"), l,
              "Age of the last record returned by GetRecords"),
      r.histogram(cw("PutRecord.Latency"), l, "PutRecord latency in milliseconds"),
      r.histogram(cw("PutRecords.Latency"), l, "PutRecords latency in milliseconds"),
      r.histogram(cw("GetRecords.Latency"), l, "GetRecords latency in milliseconds"),
      r.counter(cw("ReadProvisionedThroughputExceeded"), l, "Throttled GetRecords calls"),
      r.counter(cw("WriteProvisionedThroughputExceeded"), l, "Records throttled on write"),
  });
  StreamSeries& ref = *s;
  streams_.emplace(stream, std::move(s));
  return ref;
}

ShardSeries& KinesisService::shard_series(const std::string& stream, const std::string& shard_id) {
  const std::string key = stream + "/" + shard_id;
  std::lock_guard lock(mu_);
  auto it = shards_.find(key);
  if (it != shards_.end()) return *it->second;
  metrics::Registry& r = metrics_;
  const metrics::Labels l = {{"stream", stream}, {"shard", shard_id}};
  auto s = std::make_unique<ShardSeries>(ShardSeries{
      r.counter(cw("IncomingRecords"), l), r.counter(cw("IncomingBytes"), l),
      r.counter(cw("OutgoingRecords"), l), r.counter(cw("OutgoingBytes"), l),
      r.gauge(cw("IteratorAgeMilliseconds"), l),
      r.counter(cw("ReadProvisionedThroughputExceeded"), l),
      r.counter(cw("WriteProvisionedThroughputExceeded"), l),
  });
  ShardSeries& ref = *s;
  shards_.emplace(key, std::move(s));
  return ref;
}

}  // namespace freshet::api::kinesis

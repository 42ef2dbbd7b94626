// register_firehose: one handler per operation of firehose-2015-08-04.
#include "freshet/api/firehose.h"

#include <chrono>
#include <optional>
#include <string_view>

#include "freshet/api/codec.h"
#include "patterns.h"

namespace freshet::api {
namespace {

using firehose_patterns::kBucketArnPattern;
using firehose_patterns::kDestinationIdPattern;
using firehose_patterns::kFileExtensionPattern;
using firehose_patterns::kKinesisArnPattern;
using firehose_patterns::kNamePattern;
using firehose_patterns::kRoleArnPattern;
using firehose_patterns::kVersionIdPattern;
using firehose_patterns::Pattern;

using delivery::Compression;
using delivery::DeliveryService;
using delivery::DeliveryStreamInfo;
using delivery::S3Destination;

ApiError invalid(std::string m) { return ApiError{AwsError::kInvalidArgument, std::move(m)}; }
ApiError not_found(const Error& e) { return ApiError{AwsError::kResourceNotFound, e.message()}; }

ApiResult from_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound: return not_found(e);
    case ErrorCode::kAlreadyExists: return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kResourceInUse: return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kInvalidArgument: return invalid(e.message());
    case ErrorCode::kLimitExceeded: return ApiError{AwsError::kLimitExceeded, e.message()};
    case ErrorCode::kFailed: return ApiError{AwsError::kConcurrentModification, e.message()};
    default: return ApiError{AwsError::kServiceUnavailable, e.message()};
  }
}

// Model checks of a string member: length and pattern.
void check_string(ValidationErrors& v, const std::string& path, std::string_view value,
                  size_t min, size_t max, const Pattern* pattern = nullptr) {
  if (value.size() < min) {
    v.add(path, value, ValidationErrors::length_at_least(static_cast<int64_t>(min)));
  } else if (value.size() > max) {
    v.add(path, value, ValidationErrors::length_at_most(static_cast<int64_t>(max)));
  }
  if (pattern != nullptr && !pattern->match(value)) {
    v.add(path, value, ValidationErrors::pattern(pattern->text));
  }
}

Result<std::string> stream_name(const Document& in, ValidationErrors& v) {
  Result<std::string_view> n = get_string(in, "DeliveryStreamName");
  if (!n.ok()) return n.error();
  check_string(v, "deliveryStreamName", *n, 1, 64, &kNamePattern);
  return std::string(*n);
}

#define FH_MEMBER(var, expr, member)                  \
  auto var##_r = (expr);                              \
  if (!var##_r.ok()) return member_error(var##_r.error(), member); \
  auto var = std::move(var##_r).value()

// Reads an S3/ExtendedS3 destination configuration (or update, which may omit members) onto
// dest. path is the validation path prefix ("extendedS3DestinationConfiguration").
std::optional<ApiError> read_destination(const Document& c, const std::string& path,
                                         bool extended, bool update, S3Destination& d,
                                         ValidationErrors& v) {
  auto str = [&](const char* member, std::string& out, bool required, size_t min, size_t max,
                 const Pattern* pattern) -> std::optional<ApiError> {
    Result<std::optional<std::string_view>> r = get_optional_string(c, member);
    if (!r.ok()) return member_error(r.error(), member);
    if (!r->has_value()) {
      if (required && !update) v.add_null(path + "." + ValidationErrors::lower_first(member));
      return std::nullopt;
    }
    check_string(v, path + "." + ValidationErrors::lower_first(member), **r, min, max, pattern);
    out = std::string(**r);
    return std::nullopt;
  };
  if (auto e = str("RoleARN", d.role_arn, true, 1, 512, &kRoleArnPattern)) return e;
  if (auto e = str("BucketARN", d.bucket_arn, true, 1, 2048, &kBucketArnPattern)) return e;
  if (auto e = str("Prefix", d.prefix, false, 0, 1024, nullptr)) return e;
  if (auto e = str("ErrorOutputPrefix", d.error_output_prefix, false, 0, 1024, nullptr)) return e;
  Result<const Document*> hints = get_optional_map(c, "BufferingHints");
  if (!hints.ok()) return member_error(hints.error(), "BufferingHints");
  if (*hints != nullptr) {
    Result<std::optional<int64_t>> size = get_optional_int(**hints, "SizeInMBs");
    Result<std::optional<int64_t>> interval = get_optional_int(**hints, "IntervalInSeconds");
    if (!size.ok()) return member_error(size.error(), "SizeInMBs");
    if (!interval.ok()) return member_error(interval.error(), "IntervalInSeconds");
    const std::string hp = path + ".bufferingHints";
    if (size->has_value()) {
      int64_t n = **size;
      if (n < 1) v.add(hp + ".sizeInMBs", std::to_string(n), ValidationErrors::value_at_least(1));
      else if (n > 128) v.add(hp + ".sizeInMBs", std::to_string(n), ValidationErrors::value_at_most(128));
      d.size_mb = static_cast<int>(std::clamp<int64_t>(n, 1, 128));
    }
    if (interval->has_value()) {
      int64_t n = **interval;
      if (n < 0) v.add(hp + ".intervalInSeconds", std::to_string(n), ValidationErrors::value_at_least(0));
      else if (n > 900) v.add(hp + ".intervalInSeconds", std::to_string(n), ValidationErrors::value_at_most(900));
      d.interval_seconds = static_cast<int>(std::clamp<int64_t>(n, 0, 900));
    }
  }
  Result<std::optional<std::string_view>> comp = get_optional_string(c, "CompressionFormat");
  if (!comp.ok()) return member_error(comp.error(), "CompressionFormat");
  if (comp->has_value()) {
    std::optional<Compression> parsed = delivery::parse_compression(**comp);
    if (!parsed) {
      static constexpr std::string_view kValues[] = {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy",
                                                     "HADOOP_SNAPPY"};
      v.add(path + ".compressionFormat", **comp, ValidationErrors::enum_values(kValues));
    } else {
      d.compression = *parsed;
    }
  }
  // Kept as given, echoed by Describe.
  auto keep = [&](const char* member, std::string& out) -> std::optional<ApiError> {
    Result<const Document*> m = get_optional_map(c, member);
    if (!m.ok()) return member_error(m.error(), member);
    if (*m != nullptr) out = encode_json(**m);
    return std::nullopt;
  };
  if (auto e = keep("CloudWatchLoggingOptions", d.cloudwatch_json)) return e;
  if (auto e = keep("EncryptionConfiguration", d.encryption_json)) return e;
  if (!extended) return std::nullopt;
  d.extended = true;
  if (auto e = str("FileExtension", d.file_extension, false, 0, 128, &kFileExtensionPattern))
    return e;
  Result<std::optional<std::string_view>> backup = get_optional_string(c, "S3BackupMode");
  if (!backup.ok()) return member_error(backup.error(), "S3BackupMode");
  if (backup->has_value()) {
    if (**backup == "Enabled") return invalid("S3BackupMode Enabled is not supported by this server.");
    if (**backup != "Disabled") {
      static constexpr std::string_view kModes[] = {"Disabled", "Enabled"};
      v.add(path + ".s3BackupMode", **backup, ValidationErrors::enum_values(kModes));
    }
  }
  Result<const Document*> conv = get_optional_map(c, "DataFormatConversionConfiguration");
  if (!conv.ok()) return member_error(conv.error(), "DataFormatConversionConfiguration");
  if (*conv != nullptr) {
    Result<std::optional<bool>> en = get_optional_bool(**conv, "Enabled");
    if (en.ok() && en->value_or(true)) {
      return invalid("DataFormatConversionConfiguration is not supported by this server.");
    }
  }
  Result<const Document*> dp = get_optional_map(c, "DynamicPartitioningConfiguration");
  if (!dp.ok()) return member_error(dp.error(), "DynamicPartitioningConfiguration");
  if (*dp != nullptr) {
    Result<std::optional<bool>> en = get_optional_bool(**dp, "Enabled");
    if (!en.ok()) return member_error(en.error(), "Enabled");
    d.dynamic_partitioning = en->value_or(false);
    Result<const Document*> retry = get_optional_map(**dp, "RetryOptions");
    if (!retry.ok()) return member_error(retry.error(), "RetryOptions");
    if (*retry != nullptr) {
      Result<std::optional<int64_t>> secs = get_optional_int(**retry, "DurationInSeconds");
      if (!secs.ok()) return member_error(secs.error(), "DurationInSeconds");
      if (secs->has_value()) {
        int64_t n = **secs;
        const std::string rp = path + ".dynamicPartitioningConfiguration.retryOptions.durationInSeconds";
        if (n < 0) v.add(rp, std::to_string(n), ValidationErrors::value_at_least(0));
        else if (n > 7200) v.add(rp, std::to_string(n), ValidationErrors::value_at_most(7200));
        d.retry_seconds = static_cast<int>(std::clamp<int64_t>(n, 0, 7200));
      }
    }
  }
  Result<const Document*> proc = get_optional_map(c, "ProcessingConfiguration");
  if (!proc.ok()) return member_error(proc.error(), "ProcessingConfiguration");
  if (*proc != nullptr) {
    d.processing_json = encode_json(**proc);
    Result<std::optional<bool>> en = get_optional_bool(**proc, "Enabled");
    if (!en.ok()) return member_error(en.error(), "Enabled");
    d.processing_enabled = en->value_or(false);
    d.append_delimiter = false;
    d.metadata_query.clear();
    Result<const List*> procs = get_optional_list(**proc, "Processors");
    if (!procs.ok()) return member_error(procs.error(), "Processors");
    if (*procs != nullptr && d.processing_enabled) {
      for (const Document& p : **procs) {
        Result<std::string_view> type = get_string(p, "Type");
        if (!type.ok()) return member_error(type.error(), "Type");
        Result<const List*> params = get_optional_list(p, "Parameters");
        if (!params.ok()) return member_error(params.error(), "Parameters");
        auto param = [&](std::string_view name) -> std::string {
          if (*params == nullptr) return {};
          for (const Document& pp : **params) {
            Result<std::string_view> n = get_string(pp, "ParameterName");
            Result<std::string_view> val = get_string(pp, "ParameterValue");
            if (n.ok() && val.ok() && *n == name) return std::string(*val);
          }
          return {};
        };
        if (*type == "AppendDelimiterToRecord") {
          d.append_delimiter = true;
        } else if (*type == "MetadataExtraction") {
          d.metadata_query = param("MetadataExtractionQuery");
          if (Status st = delivery::validate_metadata_query(d.metadata_query); !st.ok()) {
            return invalid(st.error().message());
          }
          std::string engine = param("JsonParsingEngine");
          if (!engine.empty() && engine != "JQ-1.6") {
            return invalid("JsonParsingEngine must be JQ-1.6.");
          }
        } else {
          return invalid("Processor type " + std::string(*type) +
                         " is not supported by this server.");
        }
      }
    }
  }
  return std::nullopt;
}

// Rules of the service over a complete destination.
std::optional<ApiError> check_destination(const S3Destination& d) {
  if (Status st = delivery::validate_prefix(d.prefix, false, d.dynamic_partitioning); !st.ok()) {
    return invalid(st.error().message());
  }
  if (Status st = delivery::validate_prefix(d.error_output_prefix, true, false); !st.ok()) {
    return invalid(st.error().message());
  }
  if (delivery::prefix_has_expressions(d.prefix) && d.error_output_prefix.empty()) {
    return invalid(
        "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions.");
  }
  if (d.dynamic_partitioning) {
    if (d.size_mb < 64) {
      return invalid("BufferingHints.SizeInMBs must be at least 64 when Dynamic Partitioning is "
                     "enabled.");
    }
    if (d.prefix.find("!{partitionKeyFrom") == std::string::npos) {
      return invalid("Prefix must contain at least one partitionKeyFromQuery or "
                     "partitionKeyFromLambda expression when Dynamic Partitioning is enabled.");
    }
    if (d.error_output_prefix.empty()) {
      return invalid("ErrorOutputPrefix is required when Dynamic Partitioning is enabled.");
    }
    if (d.metadata_query.empty()) {
      return invalid("A MetadataExtraction processor with a MetadataExtractionQuery is required "
                     "for partitionKeyFromQuery expressions.");
    }
  } else if (!d.metadata_query.empty()) {
    return invalid("MetadataExtraction requires Dynamic Partitioning to be enabled.");
  }
  return std::nullopt;
}

Document parse_kept(const std::string& json) {
  if (json.empty()) return Document();
  Result<Document> d = decode_json(json, DecodeLimits{});
  return d.ok() ? std::move(d).value() : Document();
}

Document describe_destination(const S3Destination& d, bool extended_view) {
  Document o = Document::make_map();
  o.set("RoleARN", d.role_arn);
  o.set("BucketARN", d.bucket_arn);
  o.set("Prefix", d.prefix);
  o.set("ErrorOutputPrefix", d.error_output_prefix);
  Document hints = Document::make_map();
  hints.set("SizeInMBs", int64_t{d.size_mb});
  hints.set("IntervalInSeconds", int64_t{d.interval_seconds});
  o.set("BufferingHints", std::move(hints));
  o.set("CompressionFormat", std::string(delivery::compression_name(d.compression)));
  Document enc = parse_kept(d.encryption_json);
  if (enc.is_null()) {
    enc = Document::make_map();
    enc.set("NoEncryptionConfig", "NoEncryption");
  }
  o.set("EncryptionConfiguration", std::move(enc));
  Document cw = parse_kept(d.cloudwatch_json);
  if (cw.is_null()) {
    cw = Document::make_map();
    cw.set("Enabled", false);
  }
  o.set("CloudWatchLoggingOptions", std::move(cw));
  if (!extended_view) return o;
  Document proc = parse_kept(d.processing_json);
  if (proc.is_null()) {
    proc = Document::make_map();
    proc.set("Enabled", false);
    proc.set("Processors", Document::make_list());
  }
  o.set("ProcessingConfiguration", std::move(proc));
  o.set("S3BackupMode", d.s3_backup_mode);
  Document dp = Document::make_map();
  dp.set("Enabled", d.dynamic_partitioning);
  Document retry = Document::make_map();
  retry.set("DurationInSeconds", int64_t{d.retry_seconds});
  dp.set("RetryOptions", std::move(retry));
  o.set("DynamicPartitioningConfiguration", std::move(dp));
  if (!d.file_extension.empty()) o.set("FileExtension", d.file_extension);
  return o;
}

struct Ctx {
  DeliveryService& svc;
  metrics::Registry& metrics;
  FirehoseApiOptions options;
};

std::optional<ApiError> read_tags(const Document& in, const char* member,
                                  std::vector<std::pair<std::string, std::string>>& tags,
                                  ValidationErrors& v, bool required) {
  Result<const List*> list = required ? get_list(in, member) : get_optional_list(in, member);
  if (!list.ok()) return member_error(list.error(), member);
  if (*list == nullptr) return std::nullopt;
  const std::string path = ValidationErrors::lower_first(member);
  if ((*list)->empty() || (*list)->size() > 50) {
    v.add(path, "[...]", (*list)->empty() ? ValidationErrors::length_at_least(1)
                                          : ValidationErrors::length_at_most(50));
  }
  size_t i = 0;
  for (const Document& t : **list) {
    ++i;
    Result<std::string_view> k = get_string(t, "Key");
    if (!k.ok()) return member_error(k.error(), "Key");
    Result<std::optional<std::string_view>> val = get_optional_string(t, "Value");
    if (!val.ok()) return member_error(val.error(), "Value");
    check_string(v, path + "." + std::to_string(i) + ".member.key", *k, 1, 128);
    if (val->has_value()) {
      check_string(v, path + "." + std::to_string(i) + ".member.value", **val, 0, 256);
    }
    tags.emplace_back(std::string(*k), std::string(val->value_or("")));
  }
  return std::nullopt;
}

ApiResult create(Ctx& c, RequestContext& ctx) {
  const Document& in = ctx.input;
  ValidationErrors v;
  FH_MEMBER(name, stream_name(in, v), "DeliveryStreamName");
  DeliveryStreamInfo info;
  info.name = name;
  FH_MEMBER(type, get_optional_string(in, "DeliveryStreamType"), "DeliveryStreamType");
  if (type.has_value()) {
    static constexpr std::string_view kTypes[] = {"DirectPut", "KinesisStreamAsSource",
                                                  "MSKAsSource", "DatabaseAsSource"};
    if (std::find(std::begin(kTypes), std::end(kTypes), *type) == std::end(kTypes)) {
      v.add("deliveryStreamType", *type, ValidationErrors::enum_values(kTypes));
    }
    info.type = std::string(*type);
  }
  FH_MEMBER(ext, get_optional_map(in, "ExtendedS3DestinationConfiguration"),
            "ExtendedS3DestinationConfiguration");
  FH_MEMBER(plain, get_optional_map(in, "S3DestinationConfiguration"), "S3DestinationConfiguration");
  if (ext != nullptr) {
    if (auto e = read_destination(*ext, "extendedS3DestinationConfiguration", true, false,
                                  info.destination, v)) {
      return *e;
    }
  } else if (plain != nullptr) {
    info.destination.extended = false;
    if (auto e = read_destination(*plain, "s3DestinationConfiguration", false, false,
                                  info.destination, v)) {
      return *e;
    }
  }
  FH_MEMBER(src, get_optional_map(in, "KinesisStreamSourceConfiguration"),
            "KinesisStreamSourceConfiguration");
  if (src != nullptr) {
    FH_MEMBER(arn, get_string(*src, "KinesisStreamARN"), "KinesisStreamARN");
    FH_MEMBER(role, get_string(*src, "RoleARN"), "RoleARN");
    check_string(v, "kinesisStreamSourceConfiguration.kinesisStreamARN", arn, 1, 512,
                 &kKinesisArnPattern);
    check_string(v, "kinesisStreamSourceConfiguration.roleARN", role, 1, 512, &kRoleArnPattern);
    info.source_stream_arn = std::string(arn);
    info.source_role_arn = std::string(role);
  }
  std::vector<std::pair<std::string, std::string>> tags;
  if (auto e = read_tags(in, "Tags", tags, v, false)) return *e;
  FH_MEMBER(enc, get_optional_map(in, "DeliveryStreamEncryptionConfigurationInput"),
            "DeliveryStreamEncryptionConfigurationInput");
  if (!v.empty()) return v.to_error();
  // Rules of the service.
  for (const char* other :
       {"RedshiftDestinationConfiguration", "ElasticsearchDestinationConfiguration",
        "AmazonopensearchserviceDestinationConfiguration", "SplunkDestinationConfiguration",
        "HttpEndpointDestinationConfiguration",
        "AmazonOpenSearchServerlessDestinationConfiguration",
        "SnowflakeDestinationConfiguration", "IcebergDestinationConfiguration"}) {
    if (in.find(other) != nullptr) {
      return invalid(std::string(other) + " is not supported by this server: use an S3 "
                                          "destination.");
    }
  }
  if (ext != nullptr && plain != nullptr) {
    return invalid("Exactly one destination configuration must be specified.");
  }
  if (ext == nullptr && plain == nullptr) {
    return invalid("A destination configuration must be specified.");
  }
  if (info.type == "KinesisStreamAsSource") {
    if (src == nullptr) {
      return invalid("KinesisStreamSourceConfiguration is required when DeliveryStreamType is "
                     "KinesisStreamAsSource.");
    }
    if (info.encryption.status == "ENABLED" || enc != nullptr) {
      return invalid("Server-side encryption is not supported for delivery streams of type "
                     "KinesisStreamAsSource.");
    }
  } else if (info.type != "DirectPut") {
    return invalid("DeliveryStreamType " + info.type + " is not supported by this server.");
  }
  if (info.type == "DirectPut" && src != nullptr) {
    return invalid("KinesisStreamSourceConfiguration is not allowed for DirectPut delivery "
                   "streams.");
  }
  if (auto e = check_destination(info.destination)) return *e;
  if (enc != nullptr) {
    FH_MEMBER(kt, get_string(*enc, "KeyType"), "KeyType");
    FH_MEMBER(karn, get_optional_string(*enc, "KeyARN"), "KeyARN");
    if (kt != "AWS_OWNED_CMK" && kt != "CUSTOMER_MANAGED_CMK") {
      return invalid("KeyType must be AWS_OWNED_CMK or CUSTOMER_MANAGED_CMK.");
    }
    if (kt == "CUSTOMER_MANAGED_CMK" && !karn.has_value()) {
      return invalid("KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.");
    }
    info.encryption.status = "ENABLED";
    info.encryption.key_type = std::string(kt);
    info.encryption.key_arn = std::string(karn.value_or(""));
  }
  info.tags = std::move(tags);
  if (Status s = c.svc.create(info); !s.ok()) return from_error(s.error());
  Result<DeliveryStreamInfo> created = c.svc.describe(name);
  Document out = Document::make_map();
  out.set("DeliveryStreamARN", created.ok() ? created->arn : std::string());
  return out;
}

ApiResult describe(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  if (!v.empty()) return v.to_error();
  Result<DeliveryStreamInfo> info = c.svc.describe(name);
  if (!info.ok()) return from_error(info.error());
  Document d = Document::make_map();
  d.set("DeliveryStreamName", info->name);
  d.set("DeliveryStreamARN", info->arn);
  d.set("DeliveryStreamStatus", info->status);
  Document enc = Document::make_map();
  if (info->encryption.status == "ENABLED") {
    if (!info->encryption.key_arn.empty()) enc.set("KeyARN", info->encryption.key_arn);
    enc.set("KeyType", info->encryption.key_type);
  }
  enc.set("Status", info->encryption.status);
  d.set("DeliveryStreamEncryptionConfiguration", std::move(enc));
  d.set("DeliveryStreamType", info->type);
  d.set("VersionId", std::to_string(info->version));
  d.set("CreateTimestamp", Document::timestamp_ms(info->create_ms));
  if (info->update_ms != 0) d.set("LastUpdateTimestamp", Document::timestamp_ms(info->update_ms));
  if (!info->source_stream_arn.empty()) {
    Document ks = Document::make_map();
    ks.set("KinesisStreamARN", info->source_stream_arn);
    ks.set("RoleARN", info->source_role_arn);
    ks.set("DeliveryStartTimestamp", Document::timestamp_ms(info->create_ms));
    Document src = Document::make_map();
    src.set("KinesisStreamSourceDescription", std::move(ks));
    d.set("Source", std::move(src));
  }
  Document dest = Document::make_map();
  dest.set("DestinationId", "destinationId-000000000001");
  dest.set("S3DestinationDescription", describe_destination(info->destination, false));
  if (info->destination.extended) {
    dest.set("ExtendedS3DestinationDescription", describe_destination(info->destination, true));
  }
  Document dests = Document::make_list();
  dests.push_back(std::move(dest));
  d.set("Destinations", std::move(dests));
  d.set("HasMoreDestinations", false);
  Document out = Document::make_map();
  out.set("DeliveryStreamDescription", std::move(d));
  return out;
}

ApiResult list(Ctx& c, RequestContext& ctx) {
  const Document& in = ctx.input;
  ValidationErrors v;
  FH_MEMBER(limit, get_optional_int(in, "Limit"), "Limit");
  FH_MEMBER(type, get_optional_string(in, "DeliveryStreamType"), "DeliveryStreamType");
  FH_MEMBER(start, get_optional_string(in, "ExclusiveStartDeliveryStreamName"),
            "ExclusiveStartDeliveryStreamName");
  if (limit.has_value() && (*limit < 1 || *limit > 10000)) {
    v.add("limit", std::to_string(*limit), *limit < 1 ? ValidationErrors::value_at_least(1)
                                                      : ValidationErrors::value_at_most(10000));
  }
  if (type.has_value()) {
    static constexpr std::string_view kTypes[] = {"DirectPut", "KinesisStreamAsSource",
                                                  "MSKAsSource", "DatabaseAsSource"};
    if (std::find(std::begin(kTypes), std::end(kTypes), *type) == std::end(kTypes)) {
      v.add("deliveryStreamType", *type, ValidationErrors::enum_values(kTypes));
    }
  }
  if (start.has_value()) check_string(v, "exclusiveStartDeliveryStreamName", *start, 1, 64, &kNamePattern);
  if (!v.empty()) return v.to_error();
  bool more = false;
  std::vector<std::string> names = c.svc.list(type.value_or(""), start.value_or(""),
                                              static_cast<size_t>(limit.value_or(10)), &more);
  Document list = Document::make_list();
  for (auto& n : names) list.push_back(std::move(n));
  Document out = Document::make_map();
  out.set("DeliveryStreamNames", std::move(list));
  out.set("HasMoreDeliveryStreams", more);
  return out;
}

ApiResult remove(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(force, get_optional_bool(ctx.input, "AllowForceDelete"), "AllowForceDelete");
  if (!v.empty()) return v.to_error();
  if (Status s = c.svc.remove(name, force.value_or(false)); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

std::string_view errcode_for(const Error& e) {
  return e.code() == ErrorCode::kNotFound ? "ResourceNotFoundException"
                                          : "ServiceUnavailableException";
}

ApiResult put_record(Ctx& c, RequestContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(record, get_map(ctx.input, "Record"), "Record");
  FH_MEMBER(data, get_blob(*record, "Data"), "Data");
  if (data.size() > 1024000) {
    v.add("record.data", ValidationErrors::blob_value(data.size()),
          ValidationErrors::length_at_most(1024000));
  }
  if (!v.empty()) return v.to_error();
  Result<std::vector<std::string>> ids = c.svc.put(name, {data});
  if (!ids.ok()) return from_error(ids.error());
  c.metrics
      .histogram(metrics::cloudwatch_metric_name("firehose", "PutRecord.Latency"),
                 {{"DeliveryStreamName", name}}, "PutRecord latency in milliseconds")
      ->observe(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  Document out = Document::make_map();
  out.set("RecordId", (*ids)[0]);
  out.set("Encrypted", false);
  return out;
}

ApiResult put_record_batch(Ctx& c, RequestContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(records, get_list(ctx.input, "Records"), "Records");
  if (records->empty()) v.add("records", "[]", ValidationErrors::length_at_least(1));
  if (records->size() > 500) {
    v.add("records", "[...]", ValidationErrors::length_at_most(500));
  }
  std::vector<std::string_view> data;
  data.reserve(records->size());
  size_t total = 0, i = 0;
  for (const Document& r : *records) {
    ++i;
    FH_MEMBER(d, get_blob(r, "Data"), "Data");
    if (d.size() > 1024000) {
      v.add("records." + std::to_string(i) + ".member.data", ValidationErrors::blob_value(d.size()),
            ValidationErrors::length_at_most(1024000));
    }
    total += d.size();
    data.push_back(d);
  }
  if (!v.empty()) return v.to_error();
  if (total > c.options.put_record_batch_max_bytes) {
    return invalid("Records size exceeds 4 MB limit");
  }
  Result<std::vector<std::string>> ids = c.svc.put(name, data);
  Document responses = Document::make_list();
  int64_t failed = 0;
  if (!ids.ok()) {
    if (ids.code() == ErrorCode::kNotFound || ids.code() == ErrorCode::kInvalidArgument) {
      return from_error(ids.error());
    }
    // Nothing was appended: every record failed and may be retried.
    const std::string message = ids.code() == ErrorCode::kThrottled
                                    ? ids.error().message()  // "Slow down."
                                    : "Internal service failure. " + ids.error().message();
    for (size_t k = 0; k < data.size(); ++k) {
      Document e = Document::make_map();
      e.set("ErrorCode", std::string(errcode_for(ids.error())));
      e.set("ErrorMessage", message);
      responses.push_back(std::move(e));
    }
    failed = static_cast<int64_t>(data.size());
  } else {
    for (std::string& id : *ids) {
      Document e = Document::make_map();
      e.set("RecordId", std::move(id));
      responses.push_back(std::move(e));
    }
  }
  c.metrics
      .histogram(metrics::cloudwatch_metric_name("firehose", "PutRecordBatch.Latency"),
                 {{"DeliveryStreamName", name}}, "PutRecordBatch latency in milliseconds")
      ->observe(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  Document out = Document::make_map();
  out.set("FailedPutCount", failed);
  out.set("Encrypted", false);
  out.set("RequestResponses", std::move(responses));
  return out;
}

ApiResult update_destination(Ctx& c, RequestContext& ctx) {
  const Document& in = ctx.input;
  ValidationErrors v;
  FH_MEMBER(name, stream_name(in, v), "DeliveryStreamName");
  FH_MEMBER(version, get_string(in, "CurrentDeliveryStreamVersionId"),
            "CurrentDeliveryStreamVersionId");
  FH_MEMBER(dest_id, get_string(in, "DestinationId"), "DestinationId");
  check_string(v, "currentDeliveryStreamVersionId", version, 1, 50, &kVersionIdPattern);
  check_string(v, "destinationId", dest_id, 1, 100, &kDestinationIdPattern);
  Result<DeliveryStreamInfo> info = c.svc.describe(name);
  if (!info.ok() && v.empty()) return from_error(info.error());
  S3Destination d = info.ok() ? info->destination : S3Destination{};
  FH_MEMBER(ext, get_optional_map(in, "ExtendedS3DestinationUpdate"), "ExtendedS3DestinationUpdate");
  FH_MEMBER(plain, get_optional_map(in, "S3DestinationUpdate"), "S3DestinationUpdate");
  if (ext != nullptr) {
    if (auto e = read_destination(*ext, "extendedS3DestinationUpdate", true, true, d, v)) return *e;
  } else if (plain != nullptr) {
    if (auto e = read_destination(*plain, "s3DestinationUpdate", false, true, d, v)) return *e;
  }
  if (!v.empty()) return v.to_error();
  if (dest_id != "destinationId-000000000001") {
    return invalid("Destination " + std::string(dest_id) + " not found.");
  }
  if (ext == nullptr && plain == nullptr) return invalid("A destination update must be specified.");
  if (auto e = check_destination(d)) return *e;
  if (Status s = c.svc.update_destination(name, version, d); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

ApiResult tag(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  std::vector<std::pair<std::string, std::string>> tags;
  if (auto e = read_tags(ctx.input, "Tags", tags, v, true)) return *e;
  if (!v.empty()) return v.to_error();
  if (Status s = c.svc.tag(name, tags); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

ApiResult untag(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(keys, get_list(ctx.input, "TagKeys"), "TagKeys");
  if (keys->empty() || keys->size() > 50) {
    v.add("tagKeys", "[...]", keys->empty() ? ValidationErrors::length_at_least(1)
                                            : ValidationErrors::length_at_most(50));
  }
  std::vector<std::string> ks;
  for (const Document& k : *keys) {
    if (!k.is_string()) return ApiError{AwsError::kSerialization, "TagKeys must be strings"};
    check_string(v, "tagKeys.member", k.as_string(), 1, 128);
    ks.push_back(k.as_string());
  }
  if (!v.empty()) return v.to_error();
  if (Status s = c.svc.untag(name, ks); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

ApiResult list_tags(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(start, get_optional_string(ctx.input, "ExclusiveStartTagKey"), "ExclusiveStartTagKey");
  FH_MEMBER(limit, get_optional_int(ctx.input, "Limit"), "Limit");
  if (limit.has_value() && (*limit < 1 || *limit > 50)) {
    v.add("limit", std::to_string(*limit), *limit < 1 ? ValidationErrors::value_at_least(1)
                                                      : ValidationErrors::value_at_most(50));
  }
  if (!v.empty()) return v.to_error();
  Result<DeliveryStreamInfo> info = c.svc.describe(name);
  if (!info.ok()) return from_error(info.error());
  auto tags = info->tags;
  std::sort(tags.begin(), tags.end());
  Document list = Document::make_list();
  bool more = false;
  const size_t max = static_cast<size_t>(limit.value_or(50));
  for (const auto& [k, val] : tags) {
    if (start.has_value() && k <= *start) continue;
    if (list.as_list().size() == max) {
      more = true;
      break;
    }
    Document t = Document::make_map();
    t.set("Key", k);
    t.set("Value", val);
    list.push_back(std::move(t));
  }
  Document out = Document::make_map();
  out.set("Tags", std::move(list));
  out.set("HasMoreTags", more);
  return out;
}

ApiResult start_encryption(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  FH_MEMBER(enc, get_optional_map(ctx.input, "DeliveryStreamEncryptionConfigurationInput"),
            "DeliveryStreamEncryptionConfigurationInput");
  if (!v.empty()) return v.to_error();
  delivery::Encryption e;
  e.key_type = "AWS_OWNED_CMK";
  if (enc != nullptr) {
    FH_MEMBER(kt, get_string(*enc, "KeyType"), "KeyType");
    FH_MEMBER(karn, get_optional_string(*enc, "KeyARN"), "KeyARN");
    if (kt != "AWS_OWNED_CMK" && kt != "CUSTOMER_MANAGED_CMK") {
      static constexpr std::string_view kTypes[] = {"AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"};
      v.add("deliveryStreamEncryptionConfigurationInput.keyType", kt,
            ValidationErrors::enum_values(kTypes));
      return v.to_error();
    }
    if (kt == "CUSTOMER_MANAGED_CMK" && !karn.has_value()) {
      return invalid("KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.");
    }
    if (kt == "AWS_OWNED_CMK" && karn.has_value()) {
      return invalid("KeyARN must not be specified when KeyType is AWS_OWNED_CMK.");
    }
    e.key_type = std::string(kt);
    e.key_arn = std::string(karn.value_or(""));
  }
  Result<DeliveryStreamInfo> info = c.svc.describe(name);
  if (!info.ok()) return from_error(info.error());
  if (info->type != "DirectPut") {
    return invalid("Server-side encryption is not supported for delivery streams of type " +
                   info->type + ".");
  }
  if (Status s = c.svc.set_encryption(name, e); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

ApiResult stop_encryption(Ctx& c, RequestContext& ctx) {
  ValidationErrors v;
  FH_MEMBER(name, stream_name(ctx.input, v), "DeliveryStreamName");
  if (!v.empty()) return v.to_error();
  if (Status s = c.svc.set_encryption(name, std::nullopt); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

using Fn = ApiResult (*)(Ctx&, RequestContext&);
struct Entry {
  const char* name;
  Fn fn;
};
constexpr Entry kOperations[] = {
    {"CreateDeliveryStream", create},
    {"DeleteDeliveryStream", remove},
    {"DescribeDeliveryStream", describe},
    {"ListDeliveryStreams", list},
    {"ListTagsForDeliveryStream", list_tags},
    {"PutRecord", put_record},
    {"PutRecordBatch", put_record_batch},
    {"StartDeliveryStreamEncryption", start_encryption},
    {"StopDeliveryStreamEncryption", stop_encryption},
    {"TagDeliveryStream", tag},
    {"UntagDeliveryStream", untag},
    {"UpdateDestination", update_destination},
};

}  // namespace

Status register_firehose(ServiceRegistry& registry, DeliveryService& service,
                         metrics::Registry& metrics, const FirehoseApiOptions& options) {
  FRESHET_RETURN_IF_ERROR(registry.add_service(kFirehoseTargetPrefix, "firehose"));
  auto ctx = std::make_shared<Ctx>(Ctx{service, metrics, options});
  for (const Entry& e : kOperations) {
    ShapeHint shape;
    if (std::string_view(e.name) == "PutRecord") shape.blob("Record.Data");
    if (std::string_view(e.name) == "PutRecordBatch") shape.blob("Records[].Data");
    Fn fn = e.fn;
    FRESHET_RETURN_IF_ERROR(registry.add_operation(
        kFirehoseTargetPrefix, e.name, shape,
        [ctx, fn](RequestContext& rc) -> ApiResult { return fn(*ctx, rc); }));
  }
  return {};
}

}  // namespace freshet::api

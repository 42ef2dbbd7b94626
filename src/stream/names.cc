#include "freshet/stream/names.h"

#include <array>
#include <cstdio>

namespace freshet::stream {
namespace {

constexpr std::string_view kShardIdPrefix = "shardId-";
constexpr size_t kShardIdDigits = 12;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '.' ||
         c == '-';
}

bool all_digits(std::string_view s) {
  for (const char c : s) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

Error invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

Status validate_name(std::string_view name, size_t max_len, const char* what) {
  if (name.empty() || name.size() > max_len) {
    return invalid(std::string(what) + " must have length between 1 and " +
                   std::to_string(max_len));
  }
  for (const char c : name) {
    if (!is_name_char(c)) {
      return invalid(std::string(what) +
                     " must satisfy regular expression pattern: " + "[a-zA-Z0-9_.-]+");
    }
  }
  return Status::ok_status();
}

// Parses 1..max_digits decimal digits into a uint64 (leading zeros allowed).
bool parse_u64(std::string_view s, size_t max_digits, uint64_t* out) {
  if (s.empty() || s.size() > max_digits || !all_digits(s)) {
    return false;
  }
  uint64_t v = 0;
  for (const char c : s) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Consumes the text up to the next ':' from `rest`; false if there is no ':'.
bool take_field(std::string_view* rest, std::string_view* field) {
  const size_t colon = rest->find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  *field = rest->substr(0, colon);
  rest->remove_prefix(colon + 1);
  return true;
}

// Parses "arn:<partition>:kinesis:<region>:<account>:" and leaves the resource in `rest`.
Status parse_arn_prefix(std::string_view text, StreamArn* arn, std::string_view* rest) {
  if (text.empty() || text.size() > kMaxArnLength) {
    return invalid("ARN has an invalid length");
  }
  std::string_view r = text, arn_tag, partition, service, region, account;
  if (!take_field(&r, &arn_tag) || !take_field(&r, &partition) || !take_field(&r, &service) ||
      !take_field(&r, &region) || !take_field(&r, &account)) {
    return invalid("ARN must have the form arn:aws:kinesis:<region>:<account>:<resource>");
  }
  if (arn_tag != "arn") {
    return invalid("ARN must start with 'arn:'");
  }
  const bool aws_partition =
      partition == "aws" || (partition.size() > 4 && partition.substr(0, 4) == "aws-" &&
                             validate_region(partition.substr(4)).ok());
  if (!aws_partition) {
    return invalid("ARN partition must be 'aws' or 'aws-<suffix>'");
  }
  if (service != "kinesis") {
    return invalid("ARN service must be 'kinesis'");
  }
  FRESHET_RETURN_IF_ERROR(validate_region(region));
  FRESHET_RETURN_IF_ERROR(validate_account_id(account));
  arn->partition = std::string(partition);
  arn->region = std::string(region);
  arn->account_id = std::string(account);
  *rest = r;
  return Status::ok_status();
}

}  // namespace

Status validate_stream_name(std::string_view name) {
  return validate_name(name, kMaxStreamNameLength, "stream name");
}

Status validate_consumer_name(std::string_view name) {
  return validate_name(name, kMaxConsumerNameLength, "consumer name");
}

Status validate_region(std::string_view region) {
  if (region.empty() || region.size() > kMaxRegionLength) {
    return invalid("region must have length between 1 and " + std::to_string(kMaxRegionLength));
  }
  for (const char c : region) {
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
      return invalid("region must contain only [a-z0-9-]");
    }
  }
  return Status::ok_status();
}

Status validate_account_id(std::string_view account_id) {
  if (account_id.size() != kAccountIdLength || !all_digits(account_id)) {
    return invalid("account ID must be exactly 12 decimal digits");
  }
  return Status::ok_status();
}

std::string format_shard_id(uint64_t index) {
  std::array<char, 32> buf;
  const int n = std::snprintf(buf.data(), buf.size(), "shardId-%012llu",
                              static_cast<unsigned long long>(index));
  return std::string(buf.data(), static_cast<size_t>(n));
}

Result<uint64_t> parse_shard_id(std::string_view shard_id) {
  uint64_t index = 0;
  if (shard_id.size() != kShardIdPrefix.size() + kShardIdDigits ||
      shard_id.substr(0, kShardIdPrefix.size()) != kShardIdPrefix ||
      !parse_u64(shard_id.substr(kShardIdPrefix.size()), kShardIdDigits, &index)) {
    return invalid("shard ID must have the form shardId-<12 digits>");
  }
  return index;
}

Result<uint64_t> resolve_shard_id(std::string_view shard_id) {
  // As AWS: the digits between the first '-' and the next one (the whole id when there is no
  // '-', or nothing after it), below 2^31.
  std::string_view digits = shard_id;
  if (const size_t dash = shard_id.find('-'); dash != std::string_view::npos) {
    std::string_view part = shard_id.substr(dash + 1);
    part = part.substr(0, part.find('-'));
    if (!part.empty()) digits = part;
  }
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  uint64_t index = 0;
  if (!parse_u64(digits, 10, &index) || index >= kMaxRequestShardIndex) {
    return invalid("shard ID must hold a shard index below 2^31 after its first '-'");
  }
  return index;
}

std::string format_stream_arn(const StreamArn& arn) {
  std::string out;
  out.reserve(32 + arn.partition.size() + arn.region.size() + arn.stream_name.size());
  out.append("arn:").append(arn.partition).append(":kinesis:").append(arn.region);
  out.append(":").append(arn.account_id).append(":stream/").append(arn.stream_name);
  return out;
}

std::string format_stream_arn(std::string_view region, std::string_view account_id,
                              std::string_view stream_name) {
  return format_stream_arn(
      StreamArn{"aws", std::string(region), std::string(account_id), std::string(stream_name)});
}

std::string format_consumer_arn(const ConsumerArn& arn) {
  return format_stream_arn(arn.stream) + "/consumer/" + arn.consumer_name + ":" +
         std::to_string(arn.creation_epoch_seconds);
}

Result<StreamArn> parse_stream_arn(std::string_view text) {
  StreamArn arn;
  std::string_view resource;
  FRESHET_RETURN_IF_ERROR(parse_arn_prefix(text, &arn, &resource));
  constexpr std::string_view kStream = "stream/";
  if (resource.substr(0, kStream.size()) != kStream) {
    return invalid("ARN resource must be 'stream/<name>'");
  }
  resource.remove_prefix(kStream.size());
  FRESHET_RETURN_IF_ERROR(validate_stream_name(resource));
  arn.stream_name = std::string(resource);
  return arn;
}

Result<ConsumerArn> parse_consumer_arn(std::string_view text) {
  ConsumerArn arn;
  std::string_view resource;
  FRESHET_RETURN_IF_ERROR(parse_arn_prefix(text, &arn.stream, &resource));
  // resource = "stream/<name>/consumer/<consumer>:<epoch>"; names hold no '/' or ':'.
  constexpr std::string_view kStream = "stream/";
  constexpr std::string_view kConsumer = "/consumer/";
  if (resource.substr(0, kStream.size()) != kStream) {
    return invalid("consumer ARN resource must start with 'stream/'");
  }
  resource.remove_prefix(kStream.size());
  const size_t slash = resource.find('/');
  if (slash == std::string_view::npos || resource.substr(slash, kConsumer.size()) != kConsumer) {
    return invalid("consumer ARN must contain '/consumer/' after the stream name");
  }
  const std::string_view stream_name = resource.substr(0, slash);
  resource.remove_prefix(slash + kConsumer.size());
  const size_t colon = resource.rfind(':');
  if (colon == std::string_view::npos) {
    return invalid("consumer ARN must end with ':<creation epoch seconds>'");
  }
  const std::string_view consumer_name = resource.substr(0, colon);
  FRESHET_RETURN_IF_ERROR(validate_stream_name(stream_name));
  FRESHET_RETURN_IF_ERROR(validate_consumer_name(consumer_name));
  if (!parse_u64(resource.substr(colon + 1), 20, &arn.creation_epoch_seconds)) {
    return invalid("consumer ARN creation time must be a decimal number of seconds");
  }
  arn.stream.stream_name = std::string(stream_name);
  arn.consumer_name = std::string(consumer_name);
  return arn;
}

}  // namespace freshet::stream

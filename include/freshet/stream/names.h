// Names and identifiers of the Kinesis domain: stream and consumer names, shard IDs, account
// IDs, regions, and the stream / consumer ARNs built from them.
//
//   stream ARN:   arn:aws:kinesis:<region>:<account>:stream/<name>
//   consumer ARN: arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<epoch s>
//   shard ID:     shardId-<12-digit zero-padded index>, e.g. shardId-000000000007
//
// Validators return kInvalidArgument with a message saying what is wrong; the API layer
// decides the AWS error (model-shape violations are ValidationException there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet::stream {

// StreamName and ConsumerName shapes: 1..128 characters from [a-zA-Z0-9_.-].
inline constexpr size_t kMaxStreamNameLength = 128;
inline constexpr size_t kMaxConsumerNameLength = 128;
// Regions are 1..32 characters from [a-z0-9-] (e.g. "us-east-1", "local").
inline constexpr size_t kMaxRegionLength = 32;
// Account IDs are exactly 12 decimal digits.
inline constexpr size_t kAccountIdLength = 12;
// ARN shapes allow 2048 characters; parse rejects longer input before looking at it.
inline constexpr size_t kMaxArnLength = 2048;

Status validate_stream_name(std::string_view name);
Status validate_consumer_name(std::string_view name);
Status validate_region(std::string_view region);
Status validate_account_id(std::string_view account_id);

// ---- Shard IDs -------------------------------------------------------------------------------

// Shard indexes fit the 12 digits of a shard ID.
inline constexpr uint64_t kMaxShardIndex = 999'999'999'999;

// "shardId-" followed by `index` zero-padded to 12 digits.
// REQUIRES: index <= kMaxShardIndex (indexes come from the catalog, never from a request).
std::string format_shard_id(uint64_t index);

// Parses the canonical form only: "shardId-" and exactly 12 digits. kInvalidArgument otherwise.
Result<uint64_t> parse_shard_id(std::string_view shard_id);

// Resolves a ShardId request parameter as AWS does: the digits after the first '-' (up to the
// next '-'), or the whole id when it has no '-' or nothing follows it, naming an index below
// 2^31. So "shardId-000000000001", "shardId-1", "shard-1", "x-1-y", "-1" and "1" all name
// shard 1 (recorded against AWS in kinesalite's suite). kInvalidArgument otherwise.
inline constexpr uint64_t kMaxRequestShardIndex = uint64_t{1} << 31;
Result<uint64_t> resolve_shard_id(std::string_view shard_id);

// ---- ARNs ------------------------------------------------------------------------------------

struct StreamArn {
  std::string partition = "aws";  // "aws", or "aws-<suffix>" (aws-cn, aws-us-gov)
  std::string region;
  std::string account_id;
  std::string stream_name;

  friend bool operator==(const StreamArn&, const StreamArn&) = default;
};

struct ConsumerArn {
  StreamArn stream;
  std::string consumer_name;
  uint64_t creation_epoch_seconds = 0;

  friend bool operator==(const ConsumerArn&, const ConsumerArn&) = default;
};

// "arn:<partition>:kinesis:<region>:<account>:stream/<name>". Pure formatting.
// REQUIRES: the fields are valid (validate request input first).
std::string format_stream_arn(const StreamArn& arn);
std::string format_stream_arn(std::string_view region, std::string_view account_id,
                              std::string_view stream_name);

// "<stream ARN>/consumer/<consumer name>:<creation epoch seconds>". Pure formatting.
std::string format_consumer_arn(const ConsumerArn& arn);

// Parses and validates a stream ARN: partition "aws" or "aws-*", service "kinesis", a valid
// region, a 12-digit account, and "stream/<valid stream name>" with nothing after the name.
Result<StreamArn> parse_stream_arn(std::string_view text);

// Parses and validates a consumer ARN as produced by format_consumer_arn; the creation time
// must be 1..20 decimal digits that fit in 64 bits.
Result<ConsumerArn> parse_consumer_arn(std::string_view text);

}  // namespace freshet::stream

// Shard iterators: opaque, tamper-proof tokens that carry a reader's position in a shard.
//
// A token is base64 (standard alphabet, padded) of a small little-endian record followed by
// an HMAC-SHA256 tag over "freshet-shard-iterator/v1" and the record, keyed with a 32-byte
// server key that the server persists so tokens survive restarts:
//
//   offset  size  field
//        0     1  version            = 1
//        1     1  flags              = 0 (reserved; non-zero is rejected)
//        2     8  issued_at_ms       int64, Unix epoch milliseconds
//       10     8  stream_epoch       uint64, the stream's creation epoch (see sequence_number.h)
//       18     8  shard_index        uint64, <= kMaxShardIndex
//       26     8  position           uint64, next log offset to read
//       34     8  account_id         uint64, the 12-digit account as a number (< 10^12)
//       42     1  region length R    1..32
//       43     R  region             [a-z0-9-]
//     43+R     1  name length L      1..128
//     44+R     L  stream name        [a-zA-Z0-9_.-]
//   44+R+L    32  HMAC-SHA256 tag
//
// The largest record is 236 bytes, i.e. 316 base64 characters, inside the model's 512 limit.
// Any change to a token (or a token from another key) fails the tag check, compared in
// constant time. Tokens live 5 minutes, as in Kinesis.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet::stream {

inline constexpr size_t kShardIteratorKeySize = 32;
using ShardIteratorKey = std::array<uint8_t, kShardIteratorKeySize>;

// ShardIterator shape: 1..512 characters.
inline constexpr size_t kMaxShardIteratorLength = 512;
// An iterator is usable for 5 minutes after it was issued (age == 300000 ms is still valid).
inline constexpr int64_t kShardIteratorLifetimeMs = 300'000;

// Error codes of decode/open: the API layer maps kInvalidShardIterator to
// InvalidArgumentException ("Invalid ShardIterator.") and kExpiredShardIterator to
// ExpiredIteratorException.
inline constexpr ErrorCode kInvalidShardIterator = ErrorCode::kInvalidArgument;
inline constexpr ErrorCode kExpiredShardIterator = ErrorCode::kOutOfRange;

// What a shard iterator carries.
struct ShardIteratorState {
  std::string region;
  std::string account_id;  // 12 digits
  std::string stream_name;
  uint64_t stream_epoch = 0;
  uint64_t shard_index = 0;
  uint64_t position = 0;  // next log offset to read
  int64_t issued_at_ms = 0;

  friend bool operator==(const ShardIteratorState&, const ShardIteratorState&) = default;
};

// Serializes and authenticates `state`. kInvalidArgument if a field is out of bounds (invalid
// region, account, stream name, or shard index); kFailed if the crypto library fails.
Result<std::string> encode_shard_iterator(const ShardIteratorState& state,
                                          const ShardIteratorKey& key);

// Verifies and parses a token; does not look at its age. kInvalidShardIterator for anything
// that is not a token this key issued: bad length, bad base64, wrong tag, unknown version,
// non-zero flags, inconsistent lengths, out-of-bounds fields.
Result<ShardIteratorState> decode_shard_iterator(std::string_view token,
                                                 const ShardIteratorKey& key);

// kExpiredShardIterator if the iterator is more than kShardIteratorLifetimeMs old at `now_ms`,
// or claims to be issued more than that far in the future (the clock was stepped back; the
// client should get a fresh iterator either way). The message follows AWS's wording.
// `lifetime_ms` is Kinesis' 5 minutes unless a test server shortens it.
Status check_shard_iterator_age(const ShardIteratorState& state, int64_t now_ms,
                                int64_t lifetime_ms = kShardIteratorLifetimeMs);

// decode_shard_iterator, then check_shard_iterator_age.
Result<ShardIteratorState> open_shard_iterator(std::string_view token, const ShardIteratorKey& key,
                                               int64_t now_ms,
                                               int64_t lifetime_ms = kShardIteratorLifetimeMs);

}  // namespace freshet::stream

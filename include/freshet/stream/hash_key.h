// Hash keys: the 128-bit space that Kinesis maps partition keys into, and shard ranges over it.
//
// A record's hash key is MD5(partition key bytes) read as a big-endian unsigned 128-bit
// integer, or the caller's ExplicitHashKey. Each open shard owns an inclusive range
// [start, end]; the open shards of a stream tile [0, 2^128 - 1] with no gaps or overlaps.
// On the wire hash keys are decimal strings matching the model pattern "0|([1-9]\d{0,38})".
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::stream {

using uint128 = unsigned __int128;

// An unsigned 128-bit hash key. A value type: cheap to copy, totally ordered.
struct HashKey {
  uint128 value = 0;

  static constexpr HashKey min() { return HashKey{0}; }
  static constexpr HashKey max() { return HashKey{~uint128{0}}; }
  static constexpr HashKey from_parts(uint64_t high, uint64_t low) {
    return HashKey{(uint128{high} << 64) | low};
  }
  constexpr uint64_t high() const { return static_cast<uint64_t>(value >> 64); }
  constexpr uint64_t low() const { return static_cast<uint64_t>(value); }

  friend constexpr bool operator==(HashKey a, HashKey b) { return a.value == b.value; }
  friend constexpr std::strong_ordering operator<=>(HashKey a, HashKey b) {
    return a.value <=> b.value;
  }
};

// Longest decimal form of a hash key: 2^128 - 1 has 39 digits.
inline constexpr size_t kMaxHashKeyDigits = 39;

// Parses a decimal hash key as the model's HashKey shape allows: 1..39 ASCII digits, no sign,
// no whitespace, no leading zero unless the value is exactly "0", value <= 2^128 - 1.
// kInvalidArgument otherwise.
Result<HashKey> parse_hash_key(std::string_view text);

// Formats a hash key in decimal without leading zeros ("0" for zero).
std::string format_hash_key(HashKey key);

// The hash key Kinesis assigns to a partition key: MD5 of the key's bytes (the caller passes
// the UTF-8 bytes as received), read as a big-endian 128-bit integer. Fails only if the crypto
// library cannot compute MD5 (kFailed).
Result<HashKey> partition_key_hash(std::string_view partition_key);

// The same for many keys in a row (a PutRecords request): fetches MD5 from the crypto
// library and allocates its context once, not per key. OpenSSL 3's EVP_Digest(EVP_md5())
// fetched the algorithm (a global read-write lock) and allocated a context on every call,
// 7% of the server's CPU under PutRecords load. Not thread-safe: one per thread or call.
class PartitionKeyHasher {
 public:
  PartitionKeyHasher();
  ~PartitionKeyHasher();
  PartitionKeyHasher(const PartitionKeyHasher&) = delete;
  PartitionKeyHasher& operator=(const PartitionKeyHasher&) = delete;
  Result<HashKey> hash(std::string_view partition_key);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// An inclusive range of hash keys; valid when start <= end.
struct HashKeyRange {
  HashKey start;
  HashKey end;

  constexpr bool contains(HashKey key) const { return start <= key && key <= end; }
  friend constexpr bool operator==(const HashKeyRange&, const HashKeyRange&) = default;
};

// The whole hash key space [0, 2^128 - 1].
constexpr HashKeyRange full_hash_key_range() { return {HashKey::min(), HashKey::max()}; }

// Bound on shard counts accepted by the range helpers; bounds allocation before it happens.
inline constexpr uint32_t kMaxUniformShards = 1'000'000;

// Splits [0, 2^128 - 1] into `shard_count` contiguous ranges the way CreateStream does: with
// q = floor(2^128 / shard_count), shard i gets [i*q, (i+1)*q - 1] and the last shard ends at
// 2^128 - 1, taking the remainder. kInvalidArgument if shard_count is 0 or above
// kMaxUniformShards.
Result<std::vector<HashKeyRange>> uniform_hash_key_ranges(uint32_t shard_count);

// True if `ranges`, in order, tile the whole hash key space: the first starts at 0, each next
// one starts at the previous end + 1, and the last ends at 2^128 - 1.
bool ranges_cover_hash_key_space(std::span<const HashKeyRange> ranges);

// Index of the range containing `key`. `ranges` must be sorted by start and non-overlapping
// (as open shards are); gaps are allowed and yield std::nullopt. O(log n).
std::optional<size_t> route_hash_key(std::span<const HashKeyRange> ranges, HashKey key);

}  // namespace freshet::stream

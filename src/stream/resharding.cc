#include "freshet/stream/resharding.h"

#include <algorithm>
#include <string>

namespace freshet::stream {

bool is_valid_split_point(HashKeyRange parent, HashKey key) {
  // start + 1 < key, written so that start + 1 cannot wrap at 2^128 - 1.
  return key > parent.start && key.value - parent.start.value > 1 && key < parent.end;
}

Result<SplitRanges> split_hash_key_range(HashKeyRange parent, HashKey key) {
  if (!is_valid_split_point(parent, key)) {
    return Error(ErrorCode::kInvalidArgument,
                 "NewStartingHashKey " + format_hash_key(key) +
                     " is not both greater than one plus the shard's StartingHashKey " +
                     format_hash_key(parent.start) + " and less than the shard's EndingHashKey " +
                     format_hash_key(parent.end) + ".");
  }
  return SplitRanges{{parent.start, HashKey{key.value - 1}}, {key, parent.end}};
}

bool are_adjacent(HashKeyRange a, HashKeyRange b) {
  const auto follows = [](HashKeyRange lo, HashKeyRange hi) {
    return lo.end != HashKey::max() && lo.end.value + 1 == hi.start.value;
  };
  return follows(a, b) || follows(b, a);
}

Result<HashKeyRange> merge_hash_key_ranges(HashKeyRange a, HashKeyRange b) {
  if (!are_adjacent(a, b)) {
    return Error(ErrorCode::kInvalidArgument,
                 "the shards are not an adjacent pair of shards eligible for merging");
  }
  return HashKeyRange{std::min(a.start, b.start), std::max(a.end, b.end)};
}

Status validate_uniform_scaling(uint32_t current_open, uint32_t target, uint32_t max_shards) {
  const std::string counts = "Current open shard count: " + std::to_string(current_open) +
                             ", Target shard count: " + std::to_string(target);
  if (target == 0) {
    return Error(ErrorCode::kInvalidArgument, "Target shard count must be at least 1. " + counts);
  }
  if (target > max_shards) {
    return Error(ErrorCode::kInvalidArgument,
                 "Target shard count or number of open shards cannot be greater than " +
                     std::to_string(max_shards) + ". " + counts);
  }
  if (uint64_t{target} > 2 * uint64_t{current_open}) {
    return Error(
        ErrorCode::kInvalidArgument,
        "UpdateShardCount cannot scale up over double your current open shard count. " + counts);
  }
  if (2 * uint64_t{target} < uint64_t{current_open}) {
    return Error(
        ErrorCode::kInvalidArgument,
        "UpdateShardCount cannot scale down below half your current open shard count. " + counts);
  }
  return Status::ok_status();
}

Result<std::vector<HashKeyRange>> uniform_scaling_ranges(uint32_t target) {
  return uniform_hash_key_ranges(target);
}

}  // namespace freshet::stream

// Hash-key arithmetic for resharding: SplitShard, MergeShards and UpdateShardCount.
//
// These helpers only compute and check ranges; the catalog decides shard IDs, closes parents
// and records parent/child links.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/stream/hash_key.h"

namespace freshet::stream {

// ---- SplitShard ------------------------------------------------------------------------------

struct SplitRanges {
  HashKeyRange lower;  // [parent.start, new_starting_hash_key - 1]
  HashKeyRange upper;  // [new_starting_hash_key, parent.end]
};

// True if `new_starting_hash_key` may split `parent`. AWS requires it to be "both greater than
// one plus the shard's StartingHashKey and less than the shard's EndingHashKey", i.e.
// start + 1 < key < end, so each child owns at least two hash keys.
bool is_valid_split_point(HashKeyRange parent, HashKey new_starting_hash_key);

// The two child ranges, or kInvalidArgument (InvalidArgumentException at the API layer) if
// the split point is not valid. The message carries the AWS wording's range part; the API
// layer adds shard, stream and account.
Result<SplitRanges> split_hash_key_range(HashKeyRange parent, HashKey new_starting_hash_key);

// ---- MergeShards -----------------------------------------------------------------------------

// True if the union of `a` and `b` is one contiguous range: a.end + 1 == b.start or
// b.end + 1 == a.start. Either order of arguments.
bool are_adjacent(HashKeyRange a, HashKeyRange b);

// The merged range [min start, max end], or kInvalidArgument (InvalidArgumentException: "...
// are not an adjacent pair of shards eligible for merging") if they are not adjacent.
Result<HashKeyRange> merge_hash_key_ranges(HashKeyRange a, HashKeyRange b);

// ---- UpdateShardCount (UNIFORM_SCALING) ------------------------------------------------------

// The default per-stream shard limit named in the UpdateShardCount documentation.
inline constexpr uint32_t kDefaultMaxShardsPerStream = 10'000;

// Checks the documented UpdateShardCount limits for a stream with `current_open` open shards:
// target >= 1; target <= 2 * current_open; target >= current_open / 2 (exact half allowed);
// target <= max_shards. kInvalidArgument with kinesalite's/AWS's wording otherwise; the API
// layer reports LimitExceededException.
Status validate_uniform_scaling(uint32_t current_open, uint32_t target,
                                uint32_t max_shards = kDefaultMaxShardsPerStream);

// The open shards' ranges after UNIFORM_SCALING to `target`: equal slices, as CreateStream.
Result<std::vector<HashKeyRange>> uniform_scaling_ranges(uint32_t target);

}  // namespace freshet::stream

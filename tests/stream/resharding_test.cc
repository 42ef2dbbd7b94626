#include "freshet/stream/resharding.h"

#include <gtest/gtest.h>

namespace freshet::stream {
namespace {

constexpr HashKeyRange range(uint64_t start, uint64_t end) {
  return {HashKey{start}, HashKey{end}};
}

TEST(ReshardingTest, SplitPointRulesFollowAwsWording) {
  const HashKeyRange parent = range(100, 200);
  // Valid iff start + 1 < key < end.
  EXPECT_FALSE(is_valid_split_point(parent, HashKey{99}));
  EXPECT_FALSE(is_valid_split_point(parent, HashKey{100}));
  EXPECT_FALSE(is_valid_split_point(parent, HashKey{101}));
  EXPECT_TRUE(is_valid_split_point(parent, HashKey{102}));
  EXPECT_TRUE(is_valid_split_point(parent, HashKey{150}));
  EXPECT_TRUE(is_valid_split_point(parent, HashKey{199}));
  EXPECT_FALSE(is_valid_split_point(parent, HashKey{200}));
  EXPECT_FALSE(is_valid_split_point(parent, HashKey{201}));
  // Tiny shards cannot be split.
  EXPECT_FALSE(is_valid_split_point(range(5, 7), HashKey{6}));
  EXPECT_TRUE(is_valid_split_point(range(5, 8), HashKey{7}));
}

TEST(ReshardingTest, SplitProducesTwoContiguousChildren) {
  auto r = split_hash_key_range(range(100, 200), HashKey{150});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lower, range(100, 149));
  EXPECT_EQ(r->upper, range(150, 200));

  auto err = split_hash_key_range(range(100, 200), HashKey{200});
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(err.error().message().find("NewStartingHashKey 200"), std::string::npos);
}

TEST(ReshardingTest, SplitTheWholeSpaceAtTheMidpoint) {
  const HashKey mid = *parse_hash_key("170141183460469231731687303715884105728");
  auto r = split_hash_key_range(full_hash_key_range(), mid);
  ASSERT_TRUE(r.ok());
  const HashKeyRange children[] = {r->lower, r->upper};
  EXPECT_TRUE(ranges_cover_hash_key_space(children));
  EXPECT_EQ(children[0], (*uniform_hash_key_ranges(2))[0]);
  // Extremes of the space: key 0, 1 and 2^128 - 1 are never valid split points of the full range.
  EXPECT_FALSE(is_valid_split_point(full_hash_key_range(), HashKey{0}));
  EXPECT_FALSE(is_valid_split_point(full_hash_key_range(), HashKey{1}));
  EXPECT_TRUE(is_valid_split_point(full_hash_key_range(), HashKey{2}));
  EXPECT_FALSE(is_valid_split_point(full_hash_key_range(), HashKey::max()));
  EXPECT_TRUE(is_valid_split_point(full_hash_key_range(), HashKey{HashKey::max().value - 1}));
}

TEST(ReshardingTest, Adjacency) {
  // The MergeShards documentation's example: 276...381 and 382...454.
  EXPECT_TRUE(are_adjacent(range(276, 381), range(382, 454)));
  EXPECT_TRUE(are_adjacent(range(382, 454), range(276, 381)));
  EXPECT_FALSE(are_adjacent(range(276, 381), range(383, 454)));  // gap
  EXPECT_FALSE(are_adjacent(range(276, 381), range(381, 454)));  // overlap
  EXPECT_FALSE(are_adjacent(range(276, 381), range(276, 381)));  // same
  // The top of the space does not wrap around to 0 (max + 1 must not equal 0).
  const HashKeyRange top{HashKey{5}, HashKey::max()};
  EXPECT_TRUE(are_adjacent(range(0, 4), top));
  EXPECT_FALSE(are_adjacent(top, range(0, 3)));
}

TEST(ReshardingTest, MergeEitherOrder) {
  auto a = merge_hash_key_ranges(range(276, 381), range(382, 454));
  auto b = merge_hash_key_ranges(range(382, 454), range(276, 381));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, range(276, 454));
  EXPECT_EQ(*b, range(276, 454));
  auto bad = merge_hash_key_ranges(range(0, 10), range(12, 20));
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);

  auto halves = *uniform_hash_key_ranges(2);
  auto whole = merge_hash_key_ranges(halves[0], halves[1]);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, full_hash_key_range());
}

TEST(ReshardingTest, UniformScalingLimits) {
  EXPECT_TRUE(validate_uniform_scaling(4, 8).ok());
  EXPECT_TRUE(validate_uniform_scaling(4, 2).ok());
  EXPECT_TRUE(validate_uniform_scaling(5, 3).ok());  // 3 >= 2.5
  EXPECT_TRUE(validate_uniform_scaling(4, 4).ok());
  EXPECT_FALSE(validate_uniform_scaling(4, 9).ok());  // over double
  EXPECT_FALSE(validate_uniform_scaling(5, 2).ok());  // below half
  EXPECT_FALSE(validate_uniform_scaling(4, 1).ok());
  EXPECT_FALSE(validate_uniform_scaling(4, 0).ok());
  EXPECT_FALSE(validate_uniform_scaling(8000, 10001).ok());  // over the per-stream limit
  EXPECT_TRUE(validate_uniform_scaling(8000, 10000).ok());
  EXPECT_TRUE(validate_uniform_scaling(8000, 12000, 20000).ok());
  Status s = validate_uniform_scaling(1, 3);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("Current open shard count: 1, Target shard count: 3"),
            std::string::npos);
  // No overflow for huge counts.
  EXPECT_TRUE(validate_uniform_scaling(UINT32_MAX, UINT32_MAX, UINT32_MAX).ok());
}

TEST(ReshardingTest, UniformScalingRanges) {
  const auto from = *uniform_hash_key_ranges(3);
  const auto to = *uniform_scaling_ranges(4);
  ASSERT_EQ(to.size(), 4u);
  EXPECT_TRUE(ranges_cover_hash_key_space(to));
  EXPECT_EQ(uniform_scaling_ranges(0).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace freshet::stream

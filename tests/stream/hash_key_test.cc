#include "freshet/stream/hash_key.h"

#include <gtest/gtest.h>

#include <string>

namespace freshet::stream {
namespace {

constexpr const char* kMax = "340282366920938463463374607431768211455";  // 2^128 - 1

HashKey key(std::string_view text) {
  auto r = parse_hash_key(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : HashKey{};
}

TEST(HashKeyTest, ParsesAndFormatsBounds) {
  EXPECT_EQ(key("0"), HashKey::min());
  EXPECT_EQ(key(kMax), HashKey::max());
  EXPECT_EQ(format_hash_key(HashKey::max()), kMax);
  EXPECT_EQ(format_hash_key(HashKey::min()), "0");
  EXPECT_EQ(key("18446744073709551616"), HashKey::from_parts(1, 0));  // 2^64
  EXPECT_EQ(key("18446744073709551615"), HashKey::from_parts(0, ~uint64_t{0}));
}

TEST(HashKeyTest, FormatParseRoundTrip) {
  uint128 v = 1;
  for (int i = 0; i < 128; ++i, v = v * 3 + 7) {
    const HashKey k{v};
    auto back = parse_hash_key(format_hash_key(k));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
  }
}

TEST(HashKeyTest, RejectsMalformed) {
  const char* bad[] = {
      "",
      "-1",
      "+1",
      " 1",
      "1 ",
      "01",
      "00",
      "1a",
      "0x10",
      "1.0",
      "340282366920938463463374607431768211456",   // 2^128
      "999999999999999999999999999999999999999",   // 39 digits, too large
      "1000000000000000000000000000000000000000",  // 40 digits
  };
  for (const char* text : bad) {
    auto r = parse_hash_key(text);
    EXPECT_FALSE(r.ok()) << "accepted: '" << text << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    }
  }
}

// Expected values: python3 -c "import hashlib;print(int(hashlib.md5(b'key').hexdigest(),16))"
TEST(HashKeyTest, PartitionKeyHashMatchesMd5) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", "281949768489412648962353822266799178366"},
      {"key", "80325066489831061459460196859901989661"},
      {"a", "16955237001963240173058271559858726497"},
      {"partitionKey", "193318062818912349798954611745638949166"},
      {"hello world", "125893641179230474042701625388361764291"},
      {"\xc3\xa9t\xc3\xa9", "295999419373203071729176520050689792210"},  // "été" in UTF-8
      {"0", "276215275525073243129443018166533317850"},
      {"shard-key-12345", "270292956169345237788860176059805235155"},
  };
  for (const auto& [pk, expected] : vectors) {
    auto h = partition_key_hash(pk);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(format_hash_key(*h), expected) << "partition key '" << pk << "'";
  }
}

TEST(HashKeyTest, UniformRangesMatchAwsForTwoAndThreeShards) {
  auto two = uniform_hash_key_ranges(2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ(format_hash_key((*two)[0].start), "0");
  EXPECT_EQ(format_hash_key((*two)[0].end), "170141183460469231731687303715884105727");
  EXPECT_EQ(format_hash_key((*two)[1].start), "170141183460469231731687303715884105728");
  EXPECT_EQ(format_hash_key((*two)[1].end), kMax);

  auto three = uniform_hash_key_ranges(3);
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ(format_hash_key((*three)[0].start), "0");
  EXPECT_EQ(format_hash_key((*three)[0].end), "113427455640312821154458202477256070484");
  EXPECT_EQ(format_hash_key((*three)[1].start), "113427455640312821154458202477256070485");
  EXPECT_EQ(format_hash_key((*three)[1].end), "226854911280625642308916404954512140969");
  EXPECT_EQ(format_hash_key((*three)[2].start), "226854911280625642308916404954512140970");
  EXPECT_EQ(format_hash_key((*three)[2].end), kMax);
}

TEST(HashKeyTest, UniformRangesOtherCounts) {
  // Starts computed with Python: q = 2**128 // n; start of the last shard = (n - 1) * q.
  struct Case {
    uint32_t n;
    const char* q;
    const char* last_start;
  };
  const Case cases[] = {
      {4, "85070591730234615865843651857942052864", "255211775190703847597530955573826158592"},
      {7, "48611766702991209066196372490252601636", "291670600217947254397178234941515609816"},
      {500, "680564733841876926926749214863536422", "339601802187096586536447858216904674578"},
  };
  for (const Case& c : cases) {
    auto ranges = uniform_hash_key_ranges(c.n);
    ASSERT_TRUE(ranges.ok());
    ASSERT_EQ(ranges->size(), c.n);
    EXPECT_EQ(format_hash_key((*ranges)[1].start), c.q) << c.n;
    EXPECT_EQ(format_hash_key(ranges->back().start), c.last_start) << c.n;
    EXPECT_EQ(ranges->back().end, HashKey::max());
  }
}

TEST(HashKeyTest, UniformRangesTileTheSpace) {
  for (uint32_t n : {1u, 2u, 3u, 4u, 7u, 500u, 1000u}) {
    auto ranges = uniform_hash_key_ranges(n);
    ASSERT_TRUE(ranges.ok());
    ASSERT_EQ(ranges->size(), n);
    EXPECT_TRUE(ranges_cover_hash_key_space(*ranges)) << n;
    // Explicit no-gap/no-overlap check, independent of ranges_cover_hash_key_space.
    EXPECT_EQ(ranges->front().start.value, 0u);
    EXPECT_EQ(ranges->back().end, HashKey::max());
    for (size_t i = 1; i < ranges->size(); ++i) {
      EXPECT_EQ((*ranges)[i].start.value, (*ranges)[i - 1].end.value + 1) << n << " " << i;
      EXPECT_LE((*ranges)[i].start, (*ranges)[i].end);
    }
    // All but the last shard have the same size; the last has at least that size.
    if (n >= 2) {
      const uint128 size0 = (*ranges)[0].end.value - (*ranges)[0].start.value;
      for (size_t i = 1; i + 1 < ranges->size(); ++i) {
        EXPECT_EQ((*ranges)[i].end.value - (*ranges)[i].start.value, size0);
      }
      EXPECT_GE(ranges->back().end.value - ranges->back().start.value, size0);
    }
  }
}

TEST(HashKeyTest, UniformRangesRejectBadCounts) {
  EXPECT_EQ(uniform_hash_key_ranges(0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(uniform_hash_key_ranges(kMaxUniformShards + 1).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(uniform_hash_key_ranges(kMaxUniformShards).ok());
}

TEST(HashKeyTest, CoverDetectsGapsAndOverlaps) {
  auto ranges = *uniform_hash_key_ranges(3);
  EXPECT_TRUE(ranges_cover_hash_key_space(ranges));
  auto gap = ranges;
  gap[1].start.value += 1;
  EXPECT_FALSE(ranges_cover_hash_key_space(gap));
  auto overlap = ranges;
  overlap[1].start.value -= 1;
  EXPECT_FALSE(ranges_cover_hash_key_space(overlap));
  auto short_end = ranges;
  short_end[2].end.value -= 1;
  EXPECT_FALSE(ranges_cover_hash_key_space(short_end));
  EXPECT_FALSE(ranges_cover_hash_key_space({}));
}

TEST(HashKeyTest, RoutesAtBoundaries) {
  for (uint32_t n : {1u, 2u, 3u, 7u, 500u}) {
    auto ranges = *uniform_hash_key_ranges(n);
    for (size_t i = 0; i < ranges.size(); ++i) {
      EXPECT_EQ(route_hash_key(ranges, ranges[i].start), i);
      EXPECT_EQ(route_hash_key(ranges, ranges[i].end), i);
      if (i > 0) {
        EXPECT_EQ(route_hash_key(ranges, HashKey{ranges[i].start.value - 1}), i - 1);
      }
      if (i + 1 < ranges.size()) {
        EXPECT_EQ(route_hash_key(ranges, HashKey{ranges[i].end.value + 1}), i + 1);
      }
    }
  }
  auto two = *uniform_hash_key_ranges(2);
  EXPECT_EQ(route_hash_key(two, key("170141183460469231731687303715884105727")), 0u);
  EXPECT_EQ(route_hash_key(two, key("170141183460469231731687303715884105728")), 1u);
  EXPECT_EQ(route_hash_key(two, HashKey::max()), 1u);
  EXPECT_EQ(route_hash_key(two, HashKey::min()), 0u);
}

TEST(HashKeyTest, RoutesPartitionKeyHashes) {
  auto four = *uniform_hash_key_ranges(4);
  // "key" hashes to 80325066489831061459460196859901989661 < 2^126 -> shard 0;
  // "" hashes to 281949768489412648962353822266799178366 >= 3 * 2^126 -> shard 3.
  PartitionKeyHasher hasher;  // reused across keys, it must agree with the one-shot function
  for (const char* k : {"key", "", "partitionKey", "ключ", "a much longer partition key"}) {
    EXPECT_EQ(hasher.hash(k)->value, partition_key_hash(k)->value) << k;
  }
  EXPECT_EQ(route_hash_key(four, *partition_key_hash("key")), 0u);
  EXPECT_EQ(route_hash_key(four, *partition_key_hash("")), 3u);
  EXPECT_EQ(route_hash_key(four, *partition_key_hash("partitionKey")), 2u);
}

TEST(HashKeyTest, RouteReportsGapsAndEmpty) {
  const HashKeyRange ranges[] = {{HashKey{0}, HashKey{9}}, {HashKey{20}, HashKey{29}}};
  EXPECT_EQ(route_hash_key(ranges, HashKey{9}), 0u);
  EXPECT_EQ(route_hash_key(ranges, HashKey{10}), std::nullopt);
  EXPECT_EQ(route_hash_key(ranges, HashKey{19}), std::nullopt);
  EXPECT_EQ(route_hash_key(ranges, HashKey{20}), 1u);
  EXPECT_EQ(route_hash_key(ranges, HashKey{30}), std::nullopt);
  EXPECT_EQ(route_hash_key({}, HashKey{0}), std::nullopt);
}

}  // namespace
}  // namespace freshet::stream

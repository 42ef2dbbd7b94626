#include "freshet/stream/sequence_number.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

constexpr uint64_t kEpoch = 1700000000123;

// Compares two non-negative decimal strings as integers, independently of the code under test.
int compare_as_integers(const std::string& a, const std::string& b) {
  const auto strip = [](const std::string& s) {
    const size_t nz = s.find_first_not_of('0');
    return nz == std::string::npos ? std::string("0") : s.substr(nz);
  };
  const std::string x = strip(a), y = strip(b);
  if (x.size() != y.size()) {
    return x.size() < y.size() ? -1 : 1;
  }
  return x.compare(y) < 0 ? -1 : (x.compare(y) > 0 ? 1 : 0);
}

// Vectors computed independently in Python (version 2, AWS's layout):
//   ct = epoch // 1000
//   str((2 << 184) | (ct << 148) | ((shard & 15) << 144) | (offset << 80) |
//       ((epoch % 256) << 72) | (ct << 36) | ((shard & 0xffffffff) << 4) | 2)
TEST(SequenceNumberTest, KnownEncodings) {
  EXPECT_EQ(encode_sequence_number({0, 0, 0}),
            "49039857307708443467467104868809893875799651909875269634");
  EXPECT_EQ(encode_sequence_number({kEpoch, 7, 42}),
            "49646437577264581633306590767868035188995175598516076658");
  EXPECT_EQ(encode_sequence_number({(uint64_t{1} << 36) * 1000 - 1, 0xFFFFFFFF, UINT64_MAX}),
            "73559785961562665201200657303214840813699477864812904434");
}

// Version 1 (Freshet's first layout) is still written for shard indexes above 32 bits:
//   p = '41' + str(epoch).zfill(20) + str(shard).zfill(12) + str(offset).zfill(20)
//   p + str(98 - int(p) * 100 % 97).zfill(2)
TEST(SequenceNumberTest, KnownVersion1Encodings) {
  EXPECT_EQ(encode_sequence_number({UINT64_MAX, kMaxShardIndex, UINT64_MAX}),
            "41184467440737095516159999999999991844674407370955161572");
  auto old = decode_sequence_number("41000000017000000001230000000000070000000000000000004288");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->version, 1);
  EXPECT_EQ(old->stream_epoch, kEpoch);
  EXPECT_EQ(old->shard_index, 7u);
  EXPECT_EQ(old->offset, 42u);
  // Old numbers keep working against their stream and shard.
  auto off = decode_sequence_number_for_shard(
      "41000000017000000001230000000000070000000000000000004288", kEpoch, 7);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 42u);
}

TEST(SequenceNumberTest, DecodesAwsNumbers) {
  // A number AWS handed out: its shard index (6) and version are where the layout says.
  auto aws = decode_sequence_number("49590338271490256608559692538361571095921575989136588898");
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ(aws->version, 2);
  EXPECT_EQ(aws->shard_index, 6u);
  EXPECT_FALSE(aws->from_stream(kEpoch));
}

TEST(SequenceNumberTest, ShapeIs56DigitsStartingWith4To7) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const SequenceNumberParts parts{rng() % 4'000'000'000'000, rng() % (kMaxShardIndex + 1),
                                    rng()};
    const std::string s = encode_sequence_number(parts);
    ASSERT_EQ(s.size(), kSequenceNumberDigits);
    EXPECT_GE(s[0], '4');
    EXPECT_LE(s[0], '7');
    EXPECT_EQ(s.find_first_not_of("0123456789"), std::string::npos);
  }
}

TEST(SequenceNumberTest, RoundTrips) {
  std::mt19937_64 rng(11);
  std::vector<SequenceNumberParts> cases = {
      {0, 0, 0}, {UINT64_MAX, kMaxShardIndex, UINT64_MAX}, {kEpoch, 1, 1}, {1, 0, UINT64_MAX - 1}};
  for (int i = 0; i < 1000; ++i) {
    cases.push_back({rng(), rng() % (kMaxShardIndex + 1), rng()});
  }
  for (const auto& parts : cases) {
    const std::string s = encode_sequence_number(parts);
    auto back = decode_sequence_number(s);
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(back->shard_index, parts.shard_index) << s;
    EXPECT_EQ(back->offset, parts.offset) << s;
    EXPECT_TRUE(back->from_stream(parts.stream_epoch)) << s;
    auto offset = decode_sequence_number_for_shard(s, parts.stream_epoch, parts.shard_index);
    ASSERT_TRUE(offset.ok());
    EXPECT_EQ(*offset, parts.offset);
  }
}

TEST(SequenceNumberTest, StrictlyIncreasesWithOffsetAsStringsAndIntegers) {
  std::vector<uint64_t> offsets;
  for (uint64_t o = 0; o < 3000; ++o) {
    offsets.push_back(o);
  }
  // Carries across every decimal position, and the top of the 64-bit range.
  for (uint64_t p = 10; p <= 1'000'000'000'000'000'000ull; p *= 10) {
    offsets.push_back(p - 1);
    offsets.push_back(p);
    offsets.push_back(p + 1);
  }
  for (uint64_t o = UINT64_MAX - 2000; o != 0 && o <= UINT64_MAX - 1; ++o) {
    offsets.push_back(o);
  }
  offsets.push_back(UINT64_MAX);
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());

  for (const uint64_t shard : {uint64_t{0}, uint64_t{3}, kMaxShardIndex}) {
    std::string prev = encode_sequence_number({kEpoch, shard, offsets[0]});
    for (size_t i = 1; i < offsets.size(); ++i) {
      const std::string cur = encode_sequence_number({kEpoch, shard, offsets[i]});
      ASSERT_LT(prev, cur) << "offset " << offsets[i];                           // as strings
      ASSERT_EQ(compare_as_integers(prev, cur), -1) << "offset " << offsets[i];  // as integers
      auto a = DecimalSequenceNumber::parse(prev);
      auto b = DecimalSequenceNumber::parse(cur);
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_LT(*a, *b);
      prev = cur;
    }
  }
}

TEST(SequenceNumberTest, RandomOffsetPairsKeepOrder) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = rng() >> (rng() % 64), y = rng() >> (rng() % 64);
    const std::string sx = encode_sequence_number({kEpoch, 5, x});
    const std::string sy = encode_sequence_number({kEpoch, 5, y});
    EXPECT_EQ(x < y, sx < sy) << x << " " << y;
    EXPECT_EQ(x == y, sx == sy);
  }
}

TEST(SequenceNumberTest, DetectsOtherShardAndOtherStream) {
  const std::string s = encode_sequence_number({kEpoch, 1, 500});
  auto other_shard = decode_sequence_number_for_shard(s, kEpoch, 0);
  ASSERT_FALSE(other_shard.ok());
  EXPECT_EQ(other_shard.code(), kForeignSequenceNumber);
  EXPECT_NE(other_shard.code(), kMalformedSequenceNumber);
  EXPECT_NE(other_shard.error().message().find("It encodes shardId-000000000001"),
            std::string::npos);
  EXPECT_NE(other_shard.error().message().find("shard with shardId-000000000000"),
            std::string::npos);

  auto other_stream = decode_sequence_number_for_shard(s, kEpoch + 1, 1);
  ASSERT_FALSE(other_stream.ok());
  EXPECT_EQ(other_stream.code(), kForeignSequenceNumber);

  auto malformed = decode_sequence_number_for_shard(s.substr(1), kEpoch, 1);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.code(), kMalformedSequenceNumber);
}

TEST(SequenceNumberTest, RejectsMalformed) {
  const std::string good = encode_sequence_number({kEpoch, 7, 42});
  const std::string v1 = "41000000017000000001230000000000070000000000000000004288";
  std::vector<std::string> bad = {
      "",
      "0",
      "4",
      good.substr(0, 55),                          // 55 digits
      good + "0",                                  // 57 digits
      "0" + good.substr(1),                        // leading zero
      "1" + good.substr(1),                        // below 2 * 16^46: leading hex digit not 2
      "9" + good.substr(1),                        // 3 * 16^46 or more: leading hex digit not 2
      good.substr(0, 10) + "a" + good.substr(11),  // letter
      good.substr(0, 10) + " " + good.substr(11),  // space
      "-" + good.substr(1),                        // sign
      "+" + good.substr(1),                        // sign
      good.substr(0, 55) + "\n",                   // trailing newline
      good.substr(0, 55) + "5",                    // version nibble not 2
      // Epoch field above 2^64 - 1, with valid check digits (computed with Python).
      "41184467440737095516160000000000070000000000000000004223",
      // Offset field above 2^64 - 1, with valid check digits.
      "41000000017000000001230000000000071844674407370955161631",
  };
  // Version 1: every single-digit change is caught by the check digits (or a field check),
  // and so is swapping two different neighbouring digits.
  for (size_t i = 2; i < v1.size(); ++i) {
    for (char d = '0'; d <= '9'; ++d) {
      if (d == v1[i]) continue;
      std::string t = v1;
      t[i] = d;
      bad.push_back(t);
    }
  }
  for (size_t i = 2; i + 1 < v1.size(); ++i) {
    if (v1[i] == v1[i + 1]) continue;
    std::string t = v1;
    std::swap(t[i], t[i + 1]);
    bad.push_back(t);
  }
  for (const std::string& text : bad) {
    auto r = decode_sequence_number(text);
    EXPECT_FALSE(r.ok()) << "accepted: '" << text << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.code(), kMalformedSequenceNumber);
    }
  }
}

TEST(SequenceNumberTest, OverflowVectorsHaveValidCheckDigits) {
  // Guards the two overflow vectors above: they must fail on the field, not the check.
  const auto mod97 = [](const std::string& s) {
    unsigned r = 0;
    for (char c : s) {
      r = (r * 10 + static_cast<unsigned>(c - '0')) % 97;
    }
    return r;
  };
  EXPECT_EQ(mod97("41184467440737095516160000000000070000000000000000004223"), 1u);
  EXPECT_EQ(mod97("41000000017000000001230000000000071844674407370955161631"), 1u);
}

TEST(DecimalSequenceNumberTest, ParsesTheModelPattern) {
  EXPECT_TRUE(DecimalSequenceNumber::parse("0").ok());
  EXPECT_TRUE(DecimalSequenceNumber::parse("1").ok());
  EXPECT_TRUE(
      DecimalSequenceNumber::parse("49590338271490256608559692538361571095921575989136588898")
          .ok());
  EXPECT_TRUE(DecimalSequenceNumber::parse("1" + std::string(128, '0')).ok());  // 129 digits
  for (const std::string& bad :
       {std::string(""), std::string("01"), std::string("00"), std::string("-1"), std::string("+1"),
        std::string("1e5"), std::string(" 1"), std::string("1" + std::string(129, '0'))}) {
    auto r = DecimalSequenceNumber::parse(bad);
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(DecimalSequenceNumberTest, OrdersNumerically) {
  const auto p = [](const std::string& s) { return *DecimalSequenceNumber::parse(s); };
  EXPECT_LT(p("9"), p("10"));
  EXPECT_LT(p("0"), p("1"));
  EXPECT_LT(p("99999999999999999999999999999999999999999"),
            p("100000000000000000000000000000000000000000"));
  EXPECT_GT(p("49590338271490256608559692538361571095921575989136588898"),
            p("49590338271490256608559692538361571095921575989136588897"));
  EXPECT_EQ(p("123"), p("123"));
  EXPECT_LT(p(std::string(128, '9')), p("1" + std::string(128, '0')));
}

}  // namespace
}  // namespace freshet::stream

namespace freshet::stream {
namespace {

TEST(SequenceNumberFormatterTest, MatchesTheReferenceEncoder) {
  const uint64_t offsets[] = {0, 1, 9, 10, 99, 100, 12345, 999999999, 1ull << 40,
                              UINT64_MAX - 1, UINT64_MAX};
  for (uint64_t epoch : {uint64_t{1}, uint64_t{1700000000123}, UINT64_MAX}) {
    for (uint64_t shard : {uint64_t{0}, uint64_t{7}, kMaxShardIndex}) {
      SequenceNumberFormatter f(epoch, shard);
      for (uint64_t off : offsets) {
        EXPECT_EQ(f.format(off), encode_sequence_number({epoch, shard, off}));
      }
      for (uint64_t off = 0; off < 2000; ++off) {
        ASSERT_EQ(f.format(off), encode_sequence_number({epoch, shard, off}));
      }
    }
  }
}

}  // namespace
}  // namespace freshet::stream

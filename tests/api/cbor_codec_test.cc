#include <gtest/gtest.h>

#include <random>

#include "freshet/api/codec.h"

namespace freshet::api {
namespace {

std::string hex(std::string_view h) {
  std::string digits;
  for (char c : h) {
    if (c != ' ') digits.push_back(c);
  }
  std::string out;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Document sample() {
  Document d = Document::make_map();
  d.set("StreamName", "s1")
      .set("Data", Document::blob(std::string("\x00\xFF\x10", 3)))
      .set("PartitionKey", "pk")
      .set("Small", 23)
      .set("Byte", 255)
      .set("Short", 65535)
      .set("Int", int64_t{4294967295})
      .set("Long", int64_t{-4294967297})
      .set("Min", std::numeric_limits<int64_t>::min())
      .set("D", 1.5)
      .set("At", Document::timestamp_ms(1700000000123))
      .set("Null", nullptr)
      .set("B", true)
      .set("L", Document(List{1, "x", Document(List{})}))
      .set("M", Document(Map{{"k", "v"}}));
  return d;
}

TEST(CborCodecTest, RoundTrip) {
  Document d = sample();
  std::string bytes = encode_cbor(d);
  auto r = decode_cbor(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r.value(), d);
}

TEST(CborCodecTest, KnownEncodings) {
  EXPECT_EQ(encode_cbor(Document(0)), hex("00"));
  EXPECT_EQ(encode_cbor(Document(24)), hex("1818"));
  EXPECT_EQ(encode_cbor(Document(-1)), hex("20"));
  EXPECT_EQ(encode_cbor(Document(-500)), hex("3901f3"));
  EXPECT_EQ(encode_cbor(Document("a")), hex("6161"));
  EXPECT_EQ(encode_cbor(Document::blob("\x01")), hex("4101"));
  // AWS CBOR 1.1: tag 1 around integer epoch milliseconds.
  EXPECT_EQ(encode_cbor(Document::timestamp_ms(1500)), hex("c11905dc"));
  EXPECT_EQ(encode_cbor(Document(Map{{"a", nullptr}})), hex("a16161f6"));
}

TEST(CborCodecTest, DecodesIndefiniteLengthsTagsAndFloats) {
  // {_ "__type": "X", "t": 1(1700000000), "h": half 1.5, "f": float 0.5,
  //   "s": (_ "ab" "c"), "b": (_ h'01' h'02'), "l": [_ 1, 2]}
  std::string in =
      hex("bf"
          "665f5f74797065"
          "6158"
          "6174"
          "c11a6553f100"
          "6168"
          "f93e00"
          "6166"
          "fa3f000000"
          "6173"
          "7f62616261"
          "63ff"
          "6162"
          "5f41014102ff"
          "616c"
          "9f0102ff"
          "ff");
  auto r = decode_cbor(in);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Document& d = r.value();
  EXPECT_EQ(get_string(d, "__type").value(), "X");
  // An integer inside tag 1 is epoch milliseconds (AWS CBOR 1.1).
  EXPECT_EQ(get_timestamp_ms(d, "t").value(), 1700000000);
  EXPECT_DOUBLE_EQ(get_double(d, "h").value(), 1.5);
  EXPECT_DOUBLE_EQ(get_double(d, "f").value(), 0.5);
  EXPECT_EQ(get_string(d, "s").value(), "abc");
  EXPECT_EQ(get_blob(d, "b").value(), std::string("\x01\x02"));
  EXPECT_EQ(get_list(d, "l").value()->size(), 2u);
}

TEST(CborCodecTest, FloatTimestampWithMillis) {
  auto r = decode_cbor(hex("c1fb41d954fc4007df3b"));  // 1700000000.123 as float64
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().as_timestamp_ms(), 1700000000123);
}

TEST(CborCodecTest, TruncatedAtEveryByteFailsCleanly) {
  std::string bytes = encode_cbor(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_cbor(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(r.ok()) << n;
  }
}

TEST(CborCodecTest, HugeDeclaredLengthsAreRejectedBeforeAllocating) {
  EXPECT_FALSE(decode_cbor(hex("5bffffffffffffffff")).ok());      // byte string 2^64-1
  EXPECT_FALSE(decode_cbor(hex("7a7fffffff61")).ok());            // text 2^31-1
  EXPECT_FALSE(decode_cbor(hex("9bffffffffffffffff00")).ok());    // array
  EXPECT_FALSE(decode_cbor(hex("bb00000000ffffffff6161")).ok());  // map
  DecodeLimits limits;
  limits.max_string_bytes = 4;
  EXPECT_FALSE(decode_cbor(hex("4501020304 05"), limits).ok());
  EXPECT_FALSE(decode_cbor(hex("5f430102034201 02ff"), limits).ok());
}

TEST(CborCodecTest, DepthIsBounded) {
  auto nested = [](size_t n) { return std::string(n, '\x81') + std::string(1, '\x00'); };
  EXPECT_TRUE(decode_cbor(nested(100)).ok());
  EXPECT_FALSE(decode_cbor(nested(101)).ok());
  EXPECT_FALSE(decode_cbor(std::string(100000, '\x9f')).ok());
  EXPECT_FALSE(decode_cbor(std::string(100000, '\xc6') + "\x00").ok());  // nested tags
}

TEST(CborCodecTest, RejectsMalformedItems) {
  for (std::string_view h : {
           "",                      // empty
           "1c",                    // reserved additional info
           "ff",                    // lone break
           "1f",                    // indefinite integer
           "6261ff",                // invalid UTF-8 text
           "a10101",                // non-text map key
           "7f4161ff",              // byte chunk inside text
           "7f7f6161ffff",          // nested indefinite chunk
           "f818",                  // simple value 24
           "c16161",                // tag 1 with text
           "c1fb7ff0000000000000",  // tag 1 with +inf
           "0000",                  // trailing bytes
           "9f01",                  // unterminated indefinite array
       }) {
    auto r = decode_cbor(hex(h));
    EXPECT_FALSE(r.ok()) << h;
  }
}

TEST(CborCodecTest, RandomBytesNeverCrash) {
  std::mt19937 rng(42);
  std::string base = encode_cbor(sample());
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    (void)decode_cbor(s);
  }
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 32, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    (void)decode_cbor(s);
  }
}

TEST(CborCodecTest, NodeCountIsBounded) {
  DecodeLimits limits;
  limits.max_nodes = 3;
  EXPECT_TRUE(decode_cbor(hex("820102"), limits).ok());
  EXPECT_FALSE(decode_cbor(hex("83010203"), limits).ok());
}

}  // namespace
}  // namespace freshet::api

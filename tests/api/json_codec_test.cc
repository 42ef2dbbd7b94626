#include <gtest/gtest.h>

#include "freshet/api/codec.h"

namespace freshet::api {
namespace {

TEST(JsonCodecTest, DecodesScalarsAndKeepsOrder) {
  auto r = decode_json(
      R"({"b":1,"a":-2.5,"s":"h\u00e9\n","t":true,"n":null,"l":[1,[2]],"big":18446744073709551615})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Document& d = r.value();
  ASSERT_TRUE(d.is_map());
  EXPECT_EQ(d.as_map()[0].key, "b");
  EXPECT_EQ(get_int(d, "b").value(), 1);
  EXPECT_DOUBLE_EQ(get_double(d, "a").value(), -2.5);
  EXPECT_EQ(get_string(d, "s").value(), "h\xC3\xA9\n");
  EXPECT_TRUE(d.find("n")->is_null());
  EXPECT_TRUE(d.find("big")->is_double());
}

TEST(JsonCodecTest, EncodesEscapesBlobsTimestamps) {
  Document d = Document::make_map();
  d.set("s", std::string("q\"b\\\x01\t\xC3\xA9", 8))
      .set("blob", Document::blob("foo"))
      .set("ts", Document::timestamp_ms(1700000000123))
      .set("neg", Document::timestamp_ms(-1))
      .set("d", 0.1)
      .set("i", int64_t{-42})
      .set("inf", std::numeric_limits<double>::infinity())
      .set("l", Document(List{nullptr, false}));
  EXPECT_EQ(encode_json(d),
            R"({"s":"q\"b\\\u0001\té","blob":"Zm9v","ts":1700000000.123,"neg":-0.001,)"
            R"("d":0.1,"i":-42,"inf":"Infinity","l":[null,false]})");
}

TEST(JsonCodecTest, InvalidUtf8IsReplacedOnEncode) {
  Document d(
      std::string("a\xFF"
                  "b\xED\xA0\x80"
                  "c",
                  7));
  std::string out = encode_json(d);
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "c\"");
  EXPECT_TRUE(decode_json(out).ok());
}

// append_json_string scans eight bytes at a time; every byte that needs escaping, at every
// position of a word, must still be found. Reference: escape each ASCII byte on its own (the
// strings are ASCII, so UTF-8 handling is not involved) and compare.
TEST(JsonCodecTest, EscapesEveryByteAtEveryPositionOfAWord) {
  auto reference = [](std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\b') {
        out += "\\b";
      } else if (c == '\f') {
        out += "\\f";
      } else if (c < 0x20) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  for (int c = 0; c < 0x80; ++c) {
    for (size_t len = 1; len <= 24; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(c);
        std::string got;
        append_json_string(s, got);
        ASSERT_EQ(got, reference(s)) << "byte " << c << " at " << at << " of " << len;
      }
    }
  }
}

TEST(JsonCodecTest, RoundTrip) {
  std::string text = R"({"a":[1,2,{"b":"c"}],"d":{"e":null},"f":1.25,"g":"\u0000x"})";
  auto r = decode_json(text);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(encode_json(r.value()), text);
}

TEST(JsonCodecTest, RejectsMalformedInput) {
  for (std::string bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "nul", "{'a':1}",
                          "{\"a\":\"\xFF\"}", "{\"a\":1e999999}", "\"unterminated"}) {
    auto r = decode_json(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(JsonCodecTest, DepthIsBounded) {
  auto nest = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  EXPECT_TRUE(decode_json(nest(100)).ok());
  auto r = decode_json(nest(101));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Nesting too deep");
  EXPECT_FALSE(decode_json(nest(100000)).ok());
}

TEST(JsonCodecTest, SizeAndNodeCountAreBounded) {
  DecodeLimits limits;
  limits.max_input_bytes = 10;
  EXPECT_FALSE(decode_json(R"({"a":"0123456789"})", limits).ok());
  DecodeLimits nodes;
  nodes.max_nodes = 5;
  EXPECT_TRUE(decode_json("[1,2,3,4]", nodes).ok());
  EXPECT_FALSE(decode_json("[1,2,3,4,5]", nodes).ok());
}

TEST(ShapeTest, JsonBlobsAndTimestampsFollowTheHint) {
  ShapeHint hint{{"Data", ShapeHint::Kind::kBlob},
                 {"Records[].Data", ShapeHint::Kind::kBlob},
                 {"Timestamp", ShapeHint::Kind::kTimestamp},
                 {"Tags.*", ShapeHint::Kind::kBlob}};
  auto r = decode_json(R"({"Data":"Zm9v","Other":"Zm9v","Records":[{"Data":"YQ=="},{"Data":""}],)"
                       R"("Timestamp":1700000000.123,"Tags":{"x":"Yg==","y":"Yw=="}})");
  ASSERT_TRUE(r.ok());
  Document d = std::move(r).value();
  ASSERT_TRUE(apply_shape(d, hint, true).ok());
  EXPECT_EQ(get_blob(d, "Data").value(), "foo");
  EXPECT_EQ(get_string(d, "Other").value(), "Zm9v");
  const List& recs = *get_list(d, "Records").value();
  EXPECT_EQ(get_blob(recs[0], "Data").value(), "a");
  EXPECT_EQ(get_blob(recs[1], "Data").value(), "");
  EXPECT_EQ(get_timestamp_ms(d, "Timestamp").value(), 1700000000123);
  EXPECT_EQ(get_blob(*get_map(d, "Tags").value(), "y").value(), "c");
  // Encoding brings it back to the wire form.
  EXPECT_EQ(encode_json(*d.find("Data")), "\"Zm9v\"");
  EXPECT_EQ(encode_json(*d.find("Timestamp")), "1700000000.123");
}

TEST(ShapeTest, InvalidBase64IsASerializationErrorWithAwsWording) {
  auto r = decode_json(R"({"Data":"abc"})");
  ASSERT_TRUE(r.ok());
  Document d = std::move(r).value();
  Status s = apply_shape(d, ShapeHint().blob("Data"), true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple "
            "of 4 bytes but found: 3");
}

TEST(ShapeTest, WrongTypesAreLeftForTheTypedGetters) {
  auto r = decode_json(R"({"Data":12,"Timestamp":"yesterday"})");
  Document d = std::move(r).value();
  ShapeHint hint;
  hint.blob("Data").timestamp("Timestamp");
  ASSERT_TRUE(apply_shape(d, hint, true).ok());
  EXPECT_EQ(get_blob(d, "Data").error().message(),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
            "to a Blob");
  EXPECT_FALSE(get_timestamp_ms(d, "Timestamp").ok());
}

TEST(ShapeTest, OutOfRangeTimestampIsRejected) {
  Document d = std::move(decode_json(R"({"T":1e300})")).value();
  EXPECT_FALSE(apply_shape(d, ShapeHint().timestamp("T"), true).ok());
}

}  // namespace
}  // namespace freshet::api

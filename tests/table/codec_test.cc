#include "freshet/table/codec.h"

#include <gtest/gtest.h>

#include "freshet/common/crc32c.h"

namespace freshet::table {
namespace {

Item sample() {
  Item nested{{"x", Value::n("1")}, {"y", Value::list({Value::s("a"), Value::null()})}};
  return Item{{"s", Value::s("hello")},
              {"n", Value::n("-12.5")},
              {"b", Value::b(std::string("\0\1\2", 3))},
              {"t", Value::boolean(true)},
              {"z", Value::null()},
              {"m", Value::map(nested)},
              {"l", Value::list({Value::n("1"), Value::map({})})},
              {"ss", Value::set(Type::kSS, {"b", "a"})},
              {"ns", Value::set(Type::kNS, {"10", "9", "-1"})},
              {"bs", Value::set(Type::kBS, {std::string("\xff", 1), "a"})}};
}

TEST(ItemCodec, RoundTripsEveryType) {
  Item item = sample();
  std::string bytes = encode_item(item);
  auto back = decode_item(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, item);
  EXPECT_EQ(to_debug_string(*back), to_debug_string(item));
}

TEST(ItemCodec, DetectsCorruption) {
  std::string bytes = encode_item(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    EXPECT_FALSE(decode_item(bad).ok()) << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_item(bytes.substr(0, n)).ok()) << n;
  }
}

// Records what walk_item reports, as a text, to compare with the item it walked.
class Recorder final : public ItemVisitor {
 public:
  std::string text;
  void name(std::string_view n) override { text += "name:" + std::string(n) + ";"; }
  void scalar(Type t, std::string_view b) override {
    text += std::string(type_name(t)) + ":" + std::string(b) + ";";
  }
  void boolean(bool b) override { text += b ? "BOOL:1;" : "BOOL:0;"; }
  void null() override { text += "NULL;"; }
  void begin(Type t) override { text += "begin " + std::string(type_name(t)) + ";"; }
  void set_member(Type t, std::string_view b) override {
    text += std::string(type_name(t)) + " member:" + std::string(b) + ";";
  }
  void end(Type t) override { text += "end " + std::string(type_name(t)) + ";"; }
};

void record_value(const Value& v, std::string& text);
void record_item(const Item& item, std::string& text) {
  for (const auto& [k, v] : item) {
    text += "name:" + k + ";";
    record_value(v, text);
  }
}
void record_value(const Value& v, std::string& text) {
  const std::string t(type_name(v.type()));
  switch (v.type()) {
    case Type::kS:
    case Type::kN:
    case Type::kB: text += t + ":" + v.str() + ";"; break;
    case Type::kBool: text += v.as_bool() ? "BOOL:1;" : "BOOL:0;"; break;
    case Type::kNull: text += "NULL;"; break;
    case Type::kM:
      text += "begin M;";
      record_item(v.as_map(), text);
      text += "end M;";
      break;
    case Type::kL:
      text += "begin L;";
      for (const Value& e : v.as_list()) record_value(e, text);
      text += "end L;";
      break;
    case Type::kSS:
    case Type::kNS:
    case Type::kBS:
      text += "begin " + t + ";";
      for (const auto& m : v.members()) text += t + " member:" + m + ";";
      text += "end " + t + ";";
      break;
  }
}

TEST(ItemCodec, WalkReportsTheDecodedItemAndItsSize) {
  Value nested = Value::n("0.000123");
  for (int i = 0; i < kMaxDepth - 1; ++i) {  // the deepest nesting decode_item accepts
    nested = i % 2 ? Value::map({{"d", nested}, {"e", Value::boolean(false)}})
                   : Value::list({nested, Value::s("e")});
  }
  const Item deep{{"d", nested}};
  ASSERT_TRUE(decode_item(encode_item(deep)).ok());
  const std::vector<Item> items = {
      sample(),
      Item{{"only", Value::s("")}},
      Item{{"n", Value::n("123456789012345678901234567890.12345678")}, {"m", Value::map({})}},
      Item{{"l", Value::list({})}, {"ns", Value::set(Type::kNS, {"1E+10", "-0.5"})}},
      deep,
  };
  for (const Item& item : items) {
    const std::string bytes = encode_item(item);
    Recorder r;
    size_t size = 0;
    ASSERT_TRUE(walk_item(bytes, &r, &size).ok()) << to_debug_string(item);
    std::string want;
    record_item(item, want);
    EXPECT_EQ(r.text, want);
    EXPECT_EQ(size, item_size(item)) << to_debug_string(item);
    EXPECT_TRUE(walk_item(bytes, nullptr, nullptr).ok());
  }
}

TEST(ItemCodec, WalkDetectsWhatDecodeDetects) {
  const std::string bytes = encode_item(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    size_t size = 0;
    Status s = walk_item(bad, nullptr, &size);
    ASSERT_FALSE(s.ok()) << i;
    EXPECT_EQ(s.error().code(), ErrorCode::kCorruption);
    EXPECT_EQ(s.error().message(), decode_item(bad).error().message()) << i;
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    Status s = walk_item(bytes.substr(0, n), nullptr, nullptr);
    ASSERT_FALSE(s.ok()) << n;
    EXPECT_EQ(s.error().message(), decode_item(bytes.substr(0, n)).error().message()) << n;
  }
  // Bad structure behind a good CRC: every truncation of the body, resealed.
  auto seal = [](std::string body) {
    const uint32_t crc = crc32c::value(body);
    for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
    return body;
  };
  const std::string body = bytes.substr(0, bytes.size() - 4);
  for (size_t n = 1; n < body.size(); ++n) {
    const std::string bad = seal(body.substr(0, n));
    Status s = walk_item(bad, nullptr, nullptr);
    ASSERT_FALSE(s.ok()) << n;
    EXPECT_EQ(s.error().message(), decode_item(bad).error().message()) << n;
  }
  EXPECT_EQ(walk_item(seal(body + "x"), nullptr, nullptr).error().message(),
            "trailing bytes in item value");
  // Nesting past the limit (which encode_item does not check): both refuse it.
  Value v = Value::s("x");
  for (int i = 0; i < kMaxDepth + 2; ++i) v = Value::list({v});
  const std::string too_deep = encode_item(Item{{"a", v}});
  ASSERT_FALSE(decode_item(too_deep).ok());
  EXPECT_FALSE(walk_item(too_deep, nullptr, nullptr).ok());
}

TEST(KeyCodec, StringsAndBinariesOrderAndDelimit) {
  std::vector<std::string> v = {"", std::string("\0", 1), std::string("\0\0", 2), "a",
                                std::string("a\0", 2), "ab", "b", "\xff"};
  for (size_t i = 0; i < v.size(); ++i) {
    for (size_t j = 0; j < v.size(); ++j) {
      std::string ei, ej;
      encode_key_component(Value::b(v[i]), ei);
      encode_key_component(Value::b(v[j]), ej);
      EXPECT_EQ(ei < ej, v[i] < v[j]) << i << " " << j;
      // Prefix-free: a component followed by anything still sorts by the component first.
      if (v[i] < v[j]) {
        EXPECT_LT(ei + "\xff\xff", ej) << i << " " << j;
      }
    }
    std::string e;
    encode_key_component(Value::s(v[i]), e);
    e += "tail";
    std::string_view in = e;
    Value back;
    ASSERT_TRUE(decode_key_component(in, Type::kS, back));
    EXPECT_EQ(back.str(), v[i]);
    EXPECT_EQ(in, "tail");
  }
}

TEST(KeyCodec, ZeroBytesAreEscapedWhereverTheyAre) {
  // The byte-by-byte definition (codec.h) against the encoder, zeros at the ends and in runs.
  for (const std::string& s :
       {std::string("\0abc", 4), std::string("abc\0", 4), std::string("a\0\0b\0", 5),
        std::string(300, 'x') + std::string("\0", 1) + "y"}) {
    std::string want;
    for (char c : s) {
      want.push_back(c);
      if (c == '\0') want.push_back('\xff');
    }
    want += std::string("\0\x01", 2);
    std::string got = "pre";
    encode_key_component(Value::s(s), got);
    EXPECT_EQ(got, "pre" + want);
  }
}

TEST(ItemCodec, SubsetEncodesAsTheProjectedItem) {
  const Item item = sample();
  Item projected{{"s", item.at("s")}, {"m", item.at("m")}, {"bs", item.at("bs")}};
  // Any order, repeats, names the item lacks.
  EXPECT_EQ(encode_item_subset(item, {"s", "nope", "m", "bs", "s", "m"}), encode_item(projected));
  EXPECT_EQ(encode_item_subset(item, {}), encode_item(Item{}));
  EXPECT_EQ(encode_item_subset(item, {"z"}), encode_item(Item{{"z", Value::null()}}));
}

TEST(ItemSize, FollowsDynamoDbRules) {
  EXPECT_EQ(item_size({{"ab", Value::s("xyz")}}), 5u);
  EXPECT_EQ(item_size({{"a", Value::boolean(true)}}), 2u);
  EXPECT_EQ(item_size({{"a", Value::list({Value::s("x")})}}), 1u + 3 + 1 + 1);
  EXPECT_EQ(item_size({{"a", Value::map({{"k", Value::s("x")}})}}), 1u + 3 + 1 + 1 + 1);
  EXPECT_EQ(item_size({{"a", Value::set(Type::kSS, {"xy", "z"})}}), 1u + 3);
}

}  // namespace
}  // namespace freshet::table

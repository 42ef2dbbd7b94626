#include "freshet/table/codec.h"

#include <gtest/gtest.h>

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

TEST(ItemSize, FollowsDynamoDbRules) {
  EXPECT_EQ(item_size({{"ab", Value::s("xyz")}}), 5u);
  EXPECT_EQ(item_size({{"a", Value::boolean(true)}}), 2u);
  EXPECT_EQ(item_size({{"a", Value::list({Value::s("x")})}}), 1u + 3 + 1 + 1);
  EXPECT_EQ(item_size({{"a", Value::map({{"k", Value::s("x")}})}}), 1u + 3 + 1 + 1 + 1);
  EXPECT_EQ(item_size({{"a", Value::set(Type::kSS, {"xy", "z"})}}), 1u + 3);
}

}  // namespace
}  // namespace freshet::table

#include "freshet/api/document.h"

#include <gtest/gtest.h>

namespace freshet::api {
namespace {

Document sample() {
  Document d = Document::make_map();
  d.set("StreamName", "s1")
      .set("Limit", 10)
      .set("Ratio", 1.5)
      .set("Whole", 3.0)
      .set("Flag", true)
      .set("Data", Document::blob("\x01\x02"))
      .set("At", Document::timestamp_ms(1700000000123))
      .set("Nothing", nullptr)
      .set("Items", Document(List{1, "two"}));
  return d;
}

TEST(DocumentTest, TypedGettersReturnValues) {
  Document d = sample();
  EXPECT_EQ(get_string(d, "StreamName").value(), "s1");
  EXPECT_EQ(get_int(d, "Limit").value(), 10);
  EXPECT_EQ(get_int(d, "Whole").value(), 3);
  EXPECT_DOUBLE_EQ(get_double(d, "Limit").value(), 10.0);
  EXPECT_TRUE(get_bool(d, "Flag").value());
  EXPECT_EQ(get_blob(d, "Data").value(), std::string("\x01\x02"));
  EXPECT_EQ(get_timestamp_ms(d, "At").value(), 1700000000123);
  EXPECT_EQ(get_list(d, "Items").value()->size(), 2u);
}

TEST(DocumentTest, MissingAndWrongTypeAreDistinct) {
  Document d = sample();
  auto missing = get_string(d, "Nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(is_missing_member(missing.error()));
  auto null_member = get_string(d, "Nothing");
  ASSERT_FALSE(null_member.ok());
  EXPECT_TRUE(is_missing_member(null_member.error()));
  auto wrong = get_string(d, "Limit");
  ASSERT_FALSE(wrong.ok());
  EXPECT_FALSE(is_missing_member(wrong.error()));
  EXPECT_EQ(wrong.error().message(),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
            "to an String");
  EXPECT_EQ(get_int(d, "Ratio").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(get_list(d, "StreamName").error().message(), "Expected list or null");
  EXPECT_EQ(get_string(d, "Items").error().message(), "Start of list found where not expected");
  // Not a map at all: everything is missing.
  EXPECT_TRUE(is_missing_member(get_string(Document(5), "x").error()));
}

TEST(DocumentTest, OptionalGetters) {
  Document d = sample();
  EXPECT_FALSE(get_optional_string(d, "Nope").value().has_value());
  EXPECT_EQ(*get_optional_string(d, "StreamName").value(), "s1");
  EXPECT_FALSE(get_optional_string(d, "Limit").ok());
  EXPECT_EQ(get_optional_list(d, "Nope").value(), nullptr);
  EXPECT_EQ(get_optional_map(d, "Nope").value(), nullptr);
}

TEST(DocumentTest, MapKeepsInsertionOrderAndLastDuplicateWins) {
  Document d(Map{{"b", 1}, {"a", 2}, {"b", 3}});
  EXPECT_EQ(d.as_map()[0].key, "b");
  EXPECT_EQ(d.as_map()[1].key, "a");
  EXPECT_EQ(get_int(d, "b").value(), 3);
  d.set("a", 9);
  EXPECT_EQ(d.as_map().size(), 3u);
  EXPECT_EQ(get_int(d, "a").value(), 9);
}

TEST(DocumentTest, Equality) {
  EXPECT_EQ(sample(), sample());
  Document other = sample();
  other.set("Limit", 11);
  EXPECT_NE(sample(), other);
  EXPECT_NE(Document("x"), Document::blob("x"));
}

}  // namespace
}  // namespace freshet::api

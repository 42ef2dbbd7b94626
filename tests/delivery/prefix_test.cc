#include <gtest/gtest.h>

#include "freshet/delivery/delivery.h"

namespace freshet::delivery {
namespace {

// 2026-11-30T07:05:09.123Z (a Monday).
constexpr int64_t kTime = 1796022309123;

TEST(JavaTime, Patterns) {
  EXPECT_EQ(format_java_time("yyyy/MM/dd/HH/", kTime).value(), "2026/11/30/07/");
  EXPECT_EQ(format_java_time("yyyy-MM-dd-HH-mm-ss", kTime).value(), "2026-11-30-07-05-09");
  EXPECT_EQ(format_java_time("yy M d H m s SSS", kTime).value(), "26 11 30 7 5 9 123");
  EXPECT_EQ(format_java_time("'year='yyyy'/month='MM", kTime).value(), "year=2026/month=11");
  EXPECT_EQ(format_java_time("MMM EEE D ''", kTime).value(), "Nov Mon 334 '");
  EXPECT_FALSE(format_java_time("yyyy-QQ", kTime).ok());
  EXPECT_FALSE(format_java_time("'open", kTime).ok());
}

TEST(Prefix, DefaultsAndExpressions) {
  PrefixContext ctx;
  ctx.time_ms = kTime;
  ctx.random_string = "abcdefghijk";
  ctx.error_output_type = "processing-failed";
  ctx.partition_keys = {{"customer", "c42"}};
  EXPECT_EQ(evaluate_prefix("", ctx), "2026/11/30/07/");
  EXPECT_EQ(evaluate_prefix("logs/", ctx), "logs/2026/11/30/07/");
  EXPECT_EQ(evaluate_prefix("a/!{timestamp:yyyy}/!{firehose:random-string}/", ctx),
            "a/2026/abcdefghijk/");
  EXPECT_EQ(evaluate_prefix("err/!{firehose:error-output-type}/", ctx),
            "err/processing-failed/");
  EXPECT_EQ(evaluate_prefix("c=!{partitionKeyFromQuery:customer}/", ctx), "c=c42/");
}

TEST(Prefix, Validation) {
  EXPECT_TRUE(validate_prefix("a/!{timestamp:yyyy-MM}/", false, false).ok());
  EXPECT_FALSE(validate_prefix("a/!{timestamp:yyyy", false, false).ok());
  EXPECT_FALSE(validate_prefix("!{firehose:error-output-type}", false, false).ok());
  EXPECT_TRUE(validate_prefix("!{firehose:error-output-type}", true, false).ok());
  EXPECT_FALSE(validate_prefix("!{partitionKeyFromQuery:x}", false, false).ok());
  EXPECT_TRUE(validate_prefix("!{partitionKeyFromQuery:x}", false, true).ok());
  EXPECT_FALSE(validate_prefix("!{partitionKeyFromQuery:x}", true, true).ok());
  EXPECT_FALSE(validate_prefix("!{bogus:x}", false, false).ok());
  EXPECT_FALSE(validate_prefix("!{timestamp:}", false, false).ok());
  EXPECT_FALSE(validate_prefix("!{firehose:nope}", true, false).ok());
}

TEST(PartitionKeys, FieldPathsAndConcatenation) {
  auto k = extract_partition_keys("{customer: .customer.id, kind: .type, n: .n}",
                                  R"({"customer":{"id":"c1"},"type":"click","n":7})");
  ASSERT_TRUE(k.ok()) << k.error().to_string();
  EXPECT_EQ((*k)["customer"], "c1");
  EXPECT_EQ((*k)["kind"], "click");
  EXPECT_EQ((*k)["n"], "7");
  auto c = extract_partition_keys(R"({day: .y + "-" + .m})", R"({"y":"2026","m":"11"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)["day"], "2026-11");
  EXPECT_FALSE(extract_partition_keys("{a: .missing}", R"({"b":1})").ok());
  EXPECT_FALSE(extract_partition_keys("{a: .x}", "not json").ok());
  EXPECT_FALSE(extract_partition_keys("{a: .x}", R"({"x":null})").ok());
  EXPECT_FALSE(validate_metadata_query("{a .x}").ok());
  EXPECT_FALSE(validate_metadata_query(".x").ok());
  EXPECT_TRUE(validate_metadata_query("{a:.x,b:.y.z}").ok());
}

}  // namespace
}  // namespace freshet::delivery

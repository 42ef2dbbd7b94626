#include "freshet/stream/names.h"

#include <gtest/gtest.h>

#include <string>

namespace freshet::stream {
namespace {

TEST(NamesTest, StreamNameValidation) {
  EXPECT_TRUE(validate_stream_name("a").ok());
  EXPECT_TRUE(validate_stream_name("My_Stream-1.v2").ok());
  EXPECT_TRUE(validate_stream_name(std::string(128, 'x')).ok());
  EXPECT_FALSE(validate_stream_name("").ok());
  EXPECT_FALSE(validate_stream_name(std::string(129, 'x')).ok());
  for (const char* bad : {"a b", "a/b", "a:b", "ström", "a\nb", "a*", "a@b"}) {
    Status s = validate_stream_name(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(validate_stream_name(std::string_view("a\0b", 3)).ok());
  EXPECT_TRUE(validate_consumer_name("consumer-1").ok());
  EXPECT_FALSE(validate_consumer_name("consumer/1").ok());
}

TEST(NamesTest, AccountAndRegion) {
  EXPECT_TRUE(validate_account_id("123456789012").ok());
  EXPECT_TRUE(validate_account_id("000000000000").ok());
  EXPECT_FALSE(validate_account_id("12345678901").ok());
  EXPECT_FALSE(validate_account_id("1234567890123").ok());
  EXPECT_FALSE(validate_account_id("12345678901a").ok());
  EXPECT_TRUE(validate_region("us-east-1").ok());
  EXPECT_TRUE(validate_region("local").ok());
  EXPECT_FALSE(validate_region("").ok());
  EXPECT_FALSE(validate_region("US-EAST-1").ok());
  EXPECT_FALSE(validate_region("us_east_1").ok());
  EXPECT_FALSE(validate_region(std::string(33, 'a')).ok());
}

TEST(NamesTest, ShardIdFormatAndParse) {
  EXPECT_EQ(format_shard_id(0), "shardId-000000000000");
  EXPECT_EQ(format_shard_id(7), "shardId-000000000007");
  EXPECT_EQ(format_shard_id(kMaxShardIndex), "shardId-999999999999");
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{42}, uint64_t{123456789}, kMaxShardIndex}) {
    auto r = parse_shard_id(format_shard_id(i));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, i);
  }
}

TEST(NamesTest, ShardIdParseIsStrict) {
  for (const char* bad :
       {"", "shardId-", "shardId-1", "shardId-00000000000", "shardId-0000000000000",
        "shardid-000000000000", "ShardId-000000000000", "shardId-00000000000a",
        "shardId--00000000001", "000000000000", "shardId-000000000000 "}) {
    auto r = parse_shard_id(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(NamesTest, ResolveShardIdIsLenientButBounded) {
  EXPECT_EQ(*resolve_shard_id("shardId-000000000003"), 3u);
  EXPECT_EQ(*resolve_shard_id("shardId-3"), 3u);
  EXPECT_EQ(*resolve_shard_id("3"), 3u);
  EXPECT_EQ(*resolve_shard_id("shard-3"), 3u);
  EXPECT_EQ(*resolve_shard_id("a-00002147483647"), 2147483647u);
  EXPECT_EQ(*resolve_shard_id("-00002147483647"), 2147483647u);
  EXPECT_EQ(*resolve_shard_id("x-7-y"), 7u);
  EXPECT_EQ(*resolve_shard_id("2147483647"), 2147483647u);
  for (const char* bad : {"", "shardId-", "shardId-2147483648", "2147483648", "x", "ABKLFD8",
                          "2.14E4", "shardId-+1", "shardId-1x"}) {
    EXPECT_FALSE(resolve_shard_id(bad).ok()) << bad;
  }
}

TEST(NamesTest, StreamArnFormatAndParse) {
  const std::string arn = format_stream_arn("us-east-1", "123456789012", "my.stream_1");
  EXPECT_EQ(arn, "arn:aws:kinesis:us-east-1:123456789012:stream/my.stream_1");
  auto parsed = parse_stream_arn(arn);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->partition, "aws");
  EXPECT_EQ(parsed->region, "us-east-1");
  EXPECT_EQ(parsed->account_id, "123456789012");
  EXPECT_EQ(parsed->stream_name, "my.stream_1");
  EXPECT_EQ(format_stream_arn(*parsed), arn);

  auto cn = parse_stream_arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s");
  ASSERT_TRUE(cn.ok());
  EXPECT_EQ(cn->partition, "aws-cn");
}

TEST(NamesTest, StreamArnRejectsMalformed) {
  const char* bad[] = {
      "",
      "arn:aws:kinesis:us-east-1:123456789012:stream/",
      "arn:aws:kinesis:us-east-1:123456789012:stream/a/b",
      "arn:aws:kinesis:us-east-1:123456789012:stream/a b",
      "arn:aws:kinesis:us-east-1:123456789012:streams/a",
      "arn:aws:kinesis:us-east-1:123456789012:stream/a/consumer/c:1",
      "arn:aws:kinesis:us-east-1:12345678901:stream/a",
      "arn:aws:kinesis:us-east-1:1234567890123:stream/a",
      "arn:aws:kinesis::123456789012:stream/a",
      "arn:aws:firehose:us-east-1:123456789012:stream/a",
      "arn:gcp:kinesis:us-east-1:123456789012:stream/a",
      "arn:aws-:kinesis:us-east-1:123456789012:stream/a",
      "arx:aws:kinesis:us-east-1:123456789012:stream/a",
      "arn:aws:kinesis:us-east-1:123456789012",
      "arn:aws:kinesis:us-east-1:123456789012:stream/a:extra",
  };
  for (const char* text : bad) {
    auto r = parse_stream_arn(text);
    EXPECT_FALSE(r.ok()) << "accepted: " << text;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    }
  }
  std::string long_name = "arn:aws:kinesis:us-east-1:123456789012:stream/" + std::string(129, 'a');
  EXPECT_FALSE(parse_stream_arn(long_name).ok());
  EXPECT_FALSE(parse_stream_arn(std::string(5000, 'a')).ok());
}

TEST(NamesTest, ConsumerArnFormatAndParse) {
  ConsumerArn c{{"aws", "eu-west-1", "000000000000", "orders"}, "app-1", 1700000000};
  const std::string text = format_consumer_arn(c);
  EXPECT_EQ(text, "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/app-1:1700000000");
  auto parsed = parse_consumer_arn(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(*parsed, c);

  const char* bad[] = {
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/app-1",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/app-1:",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/app-1:12x",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/:1",
      "arn:aws:kinesis:eu-west-1:000000000000:stream//consumer/app:1",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumers/app-1:1",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/a/b:1",
      "arn:aws:kinesis:eu-west-1:000000000000:stream/orders/consumer/app-1:99999999999999999999",
  };
  for (const char* t : bad) {
    EXPECT_FALSE(parse_consumer_arn(t).ok()) << "accepted: " << t;
  }
}

}  // namespace
}  // namespace freshet::stream

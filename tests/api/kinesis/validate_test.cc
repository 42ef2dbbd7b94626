#include "validate.h"

#include "convert.h"

#include <gtest/gtest.h>

namespace freshet::api::kinesis {
namespace {

TEST(KinesisPatterns, StreamArn) {
  EXPECT_TRUE(match_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s"));
  EXPECT_TRUE(match_stream_arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b-c"));
  EXPECT_FALSE(match_stream_arn("arn:aws:kinesis:us-east-1:12345678901:stream/s"));
  EXPECT_FALSE(match_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/"));
  EXPECT_FALSE(match_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/a b"));
  EXPECT_FALSE(match_stream_arn("arn:aws:sqs:us-east-1:123456789012:stream/s"));
  EXPECT_FALSE(match_stream_arn("arn:aws:kinesis:123456789012:stream/s"));  // needs two ':'
}

TEST(KinesisPatterns, ResourceAndConsumerArn) {
  const char* consumer = "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1700000000";
  EXPECT_TRUE(match_consumer_arn(consumer));
  EXPECT_TRUE(match_resource_arn(consumer));
  EXPECT_TRUE(match_resource_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s"));
  EXPECT_FALSE(match_consumer_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:"));
  EXPECT_FALSE(match_consumer_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c"));
  EXPECT_FALSE(match_consumer_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s"));
  EXPECT_FALSE(match_consumer_arn("arn:aws:kinesis:us-east-1:1234:stream/s/consumer/c:1"));
}

TEST(KinesisPatterns, Decimals) {
  EXPECT_TRUE(match_hash_key("0"));
  EXPECT_TRUE(match_hash_key("340282366920938463463374607431768211455"));
  EXPECT_TRUE(match_hash_key("999999999999999999999999999999999999999"));  // 39 digits
  EXPECT_FALSE(match_hash_key("1000000000000000000000000000000000000000"));  // 40 digits
  EXPECT_FALSE(match_hash_key("01"));
  EXPECT_FALSE(match_hash_key(""));
  EXPECT_FALSE(match_hash_key("-1"));
  EXPECT_TRUE(match_sequence_number(std::string(129, '9')));
  EXPECT_FALSE(match_sequence_number(std::string(130, '9')));
  EXPECT_TRUE(match_stream_id("abcdefghij0123456789-abc"));
  EXPECT_FALSE(match_stream_id("abcdefghij0123456789_abc"));
}

TEST(KinesisPatterns, Utf16Length) {
  EXPECT_EQ(utf16_length("abc"), 3u);
  EXPECT_EQ(utf16_length("\xc3\xa9"), 1u);          // é
  EXPECT_EQ(utf16_length("\xf0\x9f\x98\x80"), 2u);  // emoji: a surrogate pair
}

TEST(KinesisPageToken, RoundTripsAndRejectsGarbage) {
  PageToken t;
  t.op = "ListShards";
  t.issued_ms = 123;
  t.region = "us-east-1";
  t.stream = "s";
  t.stream_epoch = 9;
  t.after = "shardId-000000000001";
  t.filter_type = 2;
  auto back = decode_page_token(encode_page_token(t));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->op, "ListShards");
  EXPECT_EQ(back->issued_ms, 123);
  EXPECT_EQ(back->stream, "s");
  EXPECT_EQ(back->stream_epoch, 9u);
  EXPECT_EQ(back->after, "shardId-000000000001");
  EXPECT_EQ(back->filter_type, 2);
  EXPECT_FALSE(decode_page_token("garbage").has_value());
  EXPECT_FALSE(decode_page_token("Zm9v").has_value());  // "foo"
}

}  // namespace
}  // namespace freshet::api::kinesis

#include "freshet/stream/shard_iterator.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <string>

#include "freshet/common/base64.h"
#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

constexpr int64_t kIssued = 1'700'000'000'000;

ShardIteratorKey test_key(uint8_t seed) {
  ShardIteratorKey key;
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return key;
}

ShardIteratorState sample_state() {
  ShardIteratorState s;
  s.region = "us-east-1";
  s.account_id = "000000000042";
  s.stream_name = "orders.v1";
  s.stream_epoch = 1'699'999'999'000;
  s.shard_index = 12;
  s.position = 123456789;
  s.issued_at_ms = kIssued;
  return s;
}

std::string encode_or_die(const ShardIteratorState& s, const ShardIteratorKey& key) {
  auto r = encode_shard_iterator(s, key);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : std::string();
}

TEST(ShardIteratorTest, RoundTrip) {
  const ShardIteratorKey key = test_key(1);
  const ShardIteratorState s = sample_state();
  const std::string token = encode_or_die(s, key);
  EXPECT_FALSE(token.empty());
  EXPECT_TRUE(base64_decode(token).ok());  // plain standard base64
  auto back = decode_shard_iterator(token, key);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(*back, s);
}

TEST(ShardIteratorTest, ExtremeValuesRoundTripWithinLengthLimit) {
  const ShardIteratorKey key = test_key(2);
  ShardIteratorState s = sample_state();
  s.region = std::string(kMaxRegionLength, 'z');
  s.account_id = "999999999999";
  s.stream_name = std::string(kMaxStreamNameLength, 'N');
  s.stream_epoch = UINT64_MAX;
  s.shard_index = kMaxShardIndex;
  s.position = UINT64_MAX;
  s.issued_at_ms = INT64_MAX;
  const std::string token = encode_or_die(s, key);
  EXPECT_LE(token.size(), kMaxShardIteratorLength);
  auto back = decode_shard_iterator(token, key);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);

  s.region = "a";
  s.stream_name = "b";
  s.account_id = "000000000000";
  s.stream_epoch = s.shard_index = s.position = 0;
  s.issued_at_ms = INT64_MIN;
  auto small = decode_shard_iterator(encode_or_die(s, key), key);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*small, s);
}

TEST(ShardIteratorTest, EncodeRejectsInvalidFields) {
  const ShardIteratorKey key = test_key(3);
  ShardIteratorState s = sample_state();
  s.stream_name = std::string(129, 'a');
  EXPECT_EQ(encode_shard_iterator(s, key).code(), ErrorCode::kInvalidArgument);
  s = sample_state();
  s.region = "";
  EXPECT_EQ(encode_shard_iterator(s, key).code(), ErrorCode::kInvalidArgument);
  s = sample_state();
  s.account_id = "12345";
  EXPECT_EQ(encode_shard_iterator(s, key).code(), ErrorCode::kInvalidArgument);
  s = sample_state();
  s.shard_index = kMaxShardIndex + 1;
  EXPECT_EQ(encode_shard_iterator(s, key).code(), ErrorCode::kInvalidArgument);
}

TEST(ShardIteratorTest, FlippingAnyBitOfTheRecordIsRejected) {
  const ShardIteratorKey key = test_key(4);
  const std::string token = encode_or_die(sample_state(), key);
  std::vector<uint8_t> rec = *base64_decode_bytes(token);
  for (size_t i = 0; i < rec.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> t = rec;
      t[i] ^= static_cast<uint8_t>(1u << bit);
      auto r = decode_shard_iterator(base64_encode(std::span<const uint8_t>(t)), key);
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.code(), kInvalidShardIterator);
    }
  }
}

TEST(ShardIteratorTest, ChangingAnyCharacterOfTheTokenIsRejected) {
  const ShardIteratorKey key = test_key(5);
  const std::string token = encode_or_die(sample_state(), key);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .";
  for (size_t i = 0; i < token.size(); ++i) {
    for (const char c : alphabet) {
      if (c == token[i]) {
        continue;
      }
      std::string t = token;
      t[i] = c;
      auto r = decode_shard_iterator(t, key);
      ASSERT_FALSE(r.ok()) << "position " << i << " char " << c;
      EXPECT_EQ(r.code(), kInvalidShardIterator);
    }
  }
}

TEST(ShardIteratorTest, TruncatedExtendedAndGarbageAreRejected) {
  const ShardIteratorKey key = test_key(6);
  const std::string token = encode_or_die(sample_state(), key);
  for (size_t len = 0; len < token.size(); ++len) {
    EXPECT_EQ(decode_shard_iterator(token.substr(0, len), key).code(), kInvalidShardIterator);
  }
  EXPECT_EQ(decode_shard_iterator(token + "AAAA", key).code(), kInvalidShardIterator);
  EXPECT_EQ(decode_shard_iterator(std::string(513, 'A'), key).code(), kInvalidShardIterator);
  EXPECT_EQ(decode_shard_iterator("not a token", key).code(), kInvalidShardIterator);
  EXPECT_EQ(decode_shard_iterator(std::string(400, 'A'), key).code(), kInvalidShardIterator);
  // A well-formed record with a zeroed tag.
  std::vector<uint8_t> rec = *base64_decode_bytes(token);
  std::fill(rec.end() - 32, rec.end(), 0);
  EXPECT_EQ(decode_shard_iterator(base64_encode(std::span<const uint8_t>(rec)), key).code(),
            kInvalidShardIterator);
}

// Re-signs a record body (all but the old tag) the way the server does, so the checks behind
// the tag can be reached: HMAC-SHA256(key, "freshet-shard-iterator/v1" || body).
std::string reseal(std::vector<uint8_t> body, const ShardIteratorKey& key) {
  std::vector<uint8_t> input = {};
  const std::string label = "freshet-shard-iterator/v1";
  input.insert(input.end(), label.begin(), label.end());
  input.insert(input.end(), body.begin(), body.end());
  uint8_t tag[32];
  unsigned int len = 0;
  EXPECT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), input.data(), input.size(),
                 tag, &len),
            nullptr);
  body.insert(body.end(), tag, tag + 32);
  return base64_encode(std::span<const uint8_t>(body));
}

TEST(ShardIteratorTest, ValidlySignedButMalformedRecordsAreRejected) {
  const ShardIteratorKey key = test_key(12);
  const ShardIteratorState s = sample_state();  // region "us-east-1" (9), name "orders.v1" (9)
  std::vector<uint8_t> body = *base64_decode_bytes(encode_or_die(s, key));
  body.resize(body.size() - 32);
  ASSERT_TRUE(decode_shard_iterator(reseal(body, key), key).ok());  // the helper itself works

  const auto expect_invalid = [&](std::vector<uint8_t> b, const char* what) {
    auto r = decode_shard_iterator(reseal(std::move(b), key), key);
    EXPECT_FALSE(r.ok()) << what;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), kInvalidShardIterator) << what;
    }
  };
  auto b = body;
  b[0] = 2;
  expect_invalid(b, "unknown version");
  b = body;
  b[1] = 1;
  expect_invalid(b, "non-zero flags");
  b = body;
  const uint64_t big_shard = kMaxShardIndex + 1;
  std::memcpy(&b[18], &big_shard, 8);
  expect_invalid(b, "shard index above the maximum");
  b = body;
  const uint64_t big_account = 1'000'000'000'000;
  std::memcpy(&b[34], &big_account, 8);
  expect_invalid(b, "account with 13 digits");
  b = body;
  b[42] = 10;
  expect_invalid(b, "region length disagrees with the record");
  b = body;
  b[42] = 0;
  expect_invalid(b, "zero-length region");
  b = body;
  b[43] = 'U';
  expect_invalid(b, "upper-case region");
  b = body;
  b[b.size() - 1] = '/';
  expect_invalid(b, "stream name with '/'");
  b = body;
  b.push_back('x');
  expect_invalid(b, "trailing byte");
}

TEST(ShardIteratorTest, TokenFromAnotherKeyIsRejected) {
  const std::string token = encode_or_die(sample_state(), test_key(7));
  EXPECT_TRUE(decode_shard_iterator(token, test_key(7)).ok());
  auto r = decode_shard_iterator(token, test_key(8));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), kInvalidShardIterator);
  EXPECT_EQ(r.error().message(), "Invalid ShardIterator.");
}

TEST(ShardIteratorTest, ExpiresAfterExactlyFiveMinutes) {
  const ShardIteratorKey key = test_key(9);
  const std::string token = encode_or_die(sample_state(), key);
  EXPECT_TRUE(open_shard_iterator(token, key, kIssued).ok());
  EXPECT_TRUE(open_shard_iterator(token, key, kIssued + 299'999).ok());
  EXPECT_TRUE(open_shard_iterator(token, key, kIssued + 300'000).ok());
  auto expired = open_shard_iterator(token, key, kIssued + 300'001);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.code(), kExpiredShardIterator);
  EXPECT_NE(expired.code(), kInvalidShardIterator);
  EXPECT_EQ(
      expired.error().message().rfind("Iterator expired. The iterator was created at time ", 0),
      0u);
  EXPECT_NE(expired.error().message().find("tolerated delay of 300000 milliseconds"),
            std::string::npos);
  EXPECT_EQ(open_shard_iterator(token, key, kIssued + 86'400'000).code(), kExpiredShardIterator);
}

TEST(ShardIteratorTest, FutureIssueTimeBeyondLifetimeCountsAsExpired) {
  const ShardIteratorKey key = test_key(10);
  const std::string token = encode_or_die(sample_state(), key);
  EXPECT_TRUE(open_shard_iterator(token, key, kIssued - 300'000).ok());
  EXPECT_EQ(open_shard_iterator(token, key, kIssued - 300'001).code(), kExpiredShardIterator);
}

TEST(ShardIteratorTest, AgeCheckDoesNotOverflow) {
  ShardIteratorState s = sample_state();
  s.issued_at_ms = INT64_MIN;
  EXPECT_EQ(check_shard_iterator_age(s, INT64_MAX).code(), kExpiredShardIterator);
  s.issued_at_ms = INT64_MAX;
  EXPECT_EQ(check_shard_iterator_age(s, INT64_MIN).code(), kExpiredShardIterator);
  EXPECT_TRUE(check_shard_iterator_age(s, INT64_MAX).ok());
}

TEST(ShardIteratorTest, GarbageIsInvalidNotExpired) {
  // Tampering is reported as invalid even when the token would also be expired.
  const ShardIteratorKey key = test_key(11);
  std::string token = encode_or_die(sample_state(), key);
  token[5] = token[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(open_shard_iterator(token, key, kIssued + 10'000'000).code(), kInvalidShardIterator);
}

}  // namespace
}  // namespace freshet::stream

#include "format.h"

#include <gtest/gtest.h>

#include "freshet/common/crc32c.h"

namespace freshet::log::format {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(crc32c::value("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::value(ones), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c::value(inc), 0x46DD794Eu);
  // Extending piecewise equals one pass.
  std::string s = "The quick brown fox jumps over the lazy dog, twice over, and then some.";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c::extend(crc32c::value(s.data(), cut), s.data() + cut, s.size() - cut),
              crc32c::value(s));
  }
}

TEST(FormatTest, EncodesAndChecksABatch) {
  const std::string zs(1000, 'z');
  std::vector<Record> recs = {{"alpha", "", "one", 10},
                              {"b", "340282366920938463463374607431768211455", "", 5},
                              {"c", "", zs, 30}};
  std::string batch;
  encode_batch(recs, &batch);
  seal_header(batch.data(), 77);
  BatchHeader h = decode_header(batch.data());
  EXPECT_EQ(h.magic, kBatchMagic);
  EXPECT_EQ(h.base_offset, 77u);
  EXPECT_EQ(h.record_count, 3u);
  EXPECT_EQ(h.first_timestamp_ms, 10);
  EXPECT_EQ(h.max_timestamp_ms, 30);
  EXPECT_EQ(batch_size(h), batch.size());
  ASSERT_TRUE(check_header(h, batch.data()).ok());
  ASSERT_TRUE(check_payload(h, batch.data() + kBatchHeaderSize).ok());
  std::vector<StoredRecord> out;
  ASSERT_TRUE(for_each_record(h, batch.data() + kBatchHeaderSize, [&](uint32_t, const StoredRecord& r) {
    out.push_back(r);
    return true;
  }));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].offset, 77u);
  EXPECT_EQ(out[0].partition_key, "alpha");
  EXPECT_EQ(out[0].data, "one");
  EXPECT_EQ(out[1].explicit_hash_key, "340282366920938463463374607431768211455");
  EXPECT_EQ(out[1].data, "");
  EXPECT_EQ(out[1].timestamp_ms, 5);
  EXPECT_EQ(out[2].data, std::string(1000, 'z'));
}

TEST(FormatTest, EveryBitFlipIsDetected) {
  std::vector<Record> recs = {{"k1", "", "hello", 1}, {"k2", "", "world", 2}};
  std::string batch;
  encode_batch(recs, &batch);
  seal_header(batch.data(), 5);
  for (size_t byte = 0; byte < batch.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = batch;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      BatchHeader h = decode_header(bad.data());
      Status s = check_header(h, bad.data());
      if (s.ok() && batch_size(h) == bad.size()) s = check_payload(h, bad.data() + kBatchHeaderSize);
      if (s.ok() && batch_size(h) != bad.size()) s = Error(ErrorCode::kCorruption, "size");
      EXPECT_FALSE(s.ok()) << "flip of bit " << bit << " in byte " << byte << " went unnoticed";
    }
  }
}

TEST(FormatTest, ValidatesBounds) {
  std::string big(kMaxDataBytes + 1, 'x');
  std::vector<Record> recs = {{"k", "", big, 1}};
  EXPECT_FALSE(validate_records(recs).ok());
  std::string key(kMaxPartitionKeyBytes + 1, 'k');
  recs = {{key, "", "d", 1}};
  EXPECT_FALSE(validate_records(recs).ok());
  recs = {{"k", std::string(kMaxExplicitHashKeyBytes + 1, '1'), "d", 1}};
  EXPECT_FALSE(validate_records(recs).ok());
  EXPECT_FALSE(validate_records({}).ok());
  recs = {{"k", "", "d", 1}};
  EXPECT_EQ(*validate_records(recs), kRecordHeaderSize + 2);
}

TEST(FormatTest, MalformedRecordLengthsAreRejected) {
  std::vector<Record> recs = {{"key", "", "data", 1}};
  std::string batch;
  encode_batch(recs, &batch);
  // Make the record claim more data than the payload holds, and re-sign the payload so only
  // the structural check can catch it.
  char* rec = batch.data() + kBatchHeaderSize;
  rec[16] = 100;
  BatchHeader h = decode_header(batch.data());
  h.payload_crc = crc32c::value(rec, h.payload_size);
  encode_header(h, batch.data());
  seal_header(batch.data(), 0);
  h = decode_header(batch.data());
  ASSERT_TRUE(check_header(h, batch.data()).ok());
  EXPECT_EQ(check_payload(h, rec).code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace freshet::log::format

namespace freshet::log::format {
namespace {

// A header re-signed with a valid CRC but facts that disagree with its records is refused:
// only what the encoder writes is accepted.
TEST(FormatTest, HeaderMustAgreeWithItsRecords) {
  std::vector<Record> recs = {{"k", "", "a", 10}, {"k", "", "b", 30}};
  std::string good;
  encode_batch(recs, &good);
  seal_header(good.data(), 0);
  auto resign = [&](auto mutate) {
    std::string bad = good;
    BatchHeader h = decode_header(bad.data());
    mutate(h);
    encode_header(h, bad.data());
    seal_header(bad.data(), h.base_offset, h.synced_floor);
    BatchHeader back = decode_header(bad.data());
    Status s = check_header(back, bad.data());
    if (s.ok()) s = check_payload(back, bad.data() + kBatchHeaderSize);
    return s;
  };
  EXPECT_TRUE(resign([](BatchHeader&) {}).ok());
  EXPECT_EQ(resign([](BatchHeader& h) { h.first_timestamp_ms = 11; }).code(), ErrorCode::kCorruption);
  EXPECT_EQ(resign([](BatchHeader& h) { h.max_timestamp_ms = 31; }).code(), ErrorCode::kCorruption);
  EXPECT_TRUE(resign([](BatchHeader& h) { h.synced_floor = 4096; }).ok());  // a position
  EXPECT_EQ(resign([](BatchHeader& h) { h.reserved1 = 1ull << 60; }).code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace freshet::log::format

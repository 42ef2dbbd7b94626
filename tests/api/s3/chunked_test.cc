#include "chunked.h"

#include <gtest/gtest.h>

namespace freshet::api::s3 {
namespace {

TEST(AwsChunked, UnsignedWithTrailer) {
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  auto d = decode_aws_chunked(body);
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->bytes, "hello world");
  ASSERT_EQ(d->trailers.size(), 1u);
  EXPECT_EQ(d->trailers[0].first, "x-amz-checksum-crc32");
  EXPECT_EQ(d->trailers[0].second, checksum_base64("crc32", "hello world"));
}

TEST(AwsChunked, SignedChunks) {
  std::string sig(64, 'a');
  std::string body = "b;chunk-signature=" + sig + "\r\nhello world\r\n0;chunk-signature=" + sig +
                     "\r\n\r\n";
  auto d = decode_aws_chunked(body);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->bytes, "hello world");
  EXPECT_TRUE(d->trailers.empty());
}

TEST(AwsChunked, BrokenFramingIsAnError) {
  for (std::string body : {"", "zz\r\nab\r\n0\r\n\r\n", "10\r\nshort\r\n0\r\n\r\n",
                           "5\r\nhelloXX0\r\n\r\n", "5\r\nhello\r\n0\r\nno-colon\r\n\r\n",
                           "ffffffffffffffffff\r\n"}) {
    EXPECT_FALSE(decode_aws_chunked(body).ok()) << body;
  }
}

TEST(Checksums, KnownValues) {
  EXPECT_EQ(checksum_base64("crc32", "hello world"), "DUoRhQ==");
  EXPECT_EQ(checksum_base64("CRC32C", "hello world"), "yZRlqg==");
  EXPECT_EQ(crc64nvme("123456789"), 0xAE8B14860A799888ull);
  EXPECT_EQ(checksum_base64("sha256", ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(checksum_base64("md4", "x"), "");
}

}  // namespace
}  // namespace freshet::api::s3

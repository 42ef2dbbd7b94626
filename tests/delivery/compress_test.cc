#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <gtest/gtest.h>

#include "freshet/delivery/delivery.h"

namespace freshet::delivery {
namespace {

std::string sample() {
  std::string s;
  for (int i = 0; i < 200000; ++i) s += "{\"n\":" + std::to_string(i) + "}\n";
  return s;
}

std::string gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 31);
  std::string out(64 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

TEST(Compress, GzipRoundTrip) {
  std::string s = sample();
  auto c = compress(Compression::kGzip, s, "x");
  ASSERT_TRUE(c.ok());
  EXPECT_LT(c->size(), s.size() / 3);
  EXPECT_EQ(gunzip(*c), s);
}

TEST(Compress, ZstdRoundTrip) {
  std::string s = sample();
  auto c = compress(Compression::kZstd, s, "x");
  ASSERT_TRUE(c.ok());
  std::string out(s.size(), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), c->data(), c->size());
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  EXPECT_EQ(out, s);
}

TEST(Compress, HadoopSnappyBlocks) {
  std::string s = sample();
  auto c = compress(Compression::kHadoopSnappy, s, "x");
  ASSERT_TRUE(c.ok());
  std::string out;
  size_t pos = 0;
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t((*c)[at])) << 24) | (uint32_t(uint8_t((*c)[at + 1])) << 16) |
           (uint32_t(uint8_t((*c)[at + 2])) << 8) | uint32_t(uint8_t((*c)[at + 3]));
  };
  while (pos < c->size()) {
    uint32_t raw = be32(pos), comp = be32(pos + 4);
    std::string block;
    ASSERT_TRUE(snappy::Uncompress(c->data() + pos + 8, comp, &block));
    EXPECT_EQ(block.size(), raw);
    out += block;
    pos += 8 + comp;
  }
  EXPECT_EQ(out, s);
}

TEST(Compress, SnappyFramed) {
  std::string s = sample();
  auto c = compress(Compression::kSnappy, s, "x");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->substr(0, 10), std::string("\xff\x06\x00\x00sNaPpY", 10));
  std::string out;
  size_t pos = 10;
  while (pos < c->size()) {
    uint8_t type = uint8_t((*c)[pos]);
    uint32_t len = uint8_t((*c)[pos + 1]) | (uint8_t((*c)[pos + 2]) << 8) |
                   (uint8_t((*c)[pos + 3]) << 16);
    std::string_view body(c->data() + pos + 8, len - 4);
    if (type == 0) {
      std::string chunk;
      ASSERT_TRUE(snappy::Uncompress(body.data(), body.size(), &chunk));
      out += chunk;
    } else {
      ASSERT_EQ(type, 1);
      out += body;
    }
    pos += 4 + len;
  }
  EXPECT_EQ(out, s);
}

TEST(Compress, ZipHasOneEntry) {
  std::string s = "hello zip\n";
  auto c = compress(Compression::kZip, s, "entry-name");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_NE(c->find("entry-name"), std::string::npos);
  EXPECT_EQ(c->substr(c->size() - 22, 4), std::string("PK\x05\x06", 4));
}

TEST(Compress, NamesAndExtensions) {
  EXPECT_EQ(parse_compression("HADOOP_SNAPPY"), Compression::kHadoopSnappy);
  EXPECT_FALSE(parse_compression("gzip").has_value());
  EXPECT_EQ(default_extension(Compression::kGzip), ".gz");
  EXPECT_EQ(default_extension(Compression::kUncompressed), "");
}

}  // namespace
}  // namespace freshet::delivery

namespace freshet::delivery {
namespace {

// Large objects are several gzip members (compressed in parallel); decompressing member
// after member gives the input back.
TEST(Compress, LargeGzipIsMultiMember) {
  std::string s;
  while (s.size() < (20u << 20)) s += "{\"member\":" + std::to_string(s.size()) + "}\n";
  auto c = compress(Compression::kGzip, s, "x");
  ASSERT_TRUE(c.ok());
  std::string out;
  size_t pos = 0;
  int members = 0;
  while (pos < c->size()) {
    z_stream zs{};
    ASSERT_EQ(inflateInit2(&zs, 31), Z_OK);
    std::string buf(32u << 20, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(c->data() + pos));
    zs.avail_in = static_cast<uInt>(c->size() - pos);
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    ASSERT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
    out.append(buf.data(), zs.total_out);
    pos += zs.total_in;
    inflateEnd(&zs);
    ++members;
  }
  EXPECT_EQ(members, static_cast<int>((s.size() + (2u << 20) - 1) / (2u << 20)));  // 2 MiB each
  EXPECT_TRUE(out == s);
}

}  // namespace
}  // namespace freshet::delivery

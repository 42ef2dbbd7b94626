// Object compression: GZIP (libdeflate), ZIP (one deflated entry, written here), Snappy (the
// framing format, as Firehose's "Snappy"), HADOOP_SNAPPY (Hadoop's block stream), ZSTD.
#include <libdeflate.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <ctime>
#include <future>
#include <memory>
#include <vector>

#include "freshet/common/crc32c.h"
#include "freshet/delivery/delivery.h"

namespace freshet::delivery {
namespace {

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// gzip: a gzip member; else raw deflate (ZIP). libdeflate at level 1: about twice zlib's
// fastest level on JSON here, and smaller (docs/performance.md).
Result<std::string> deflate_with(std::string_view data, bool gzip) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(1);
  if (c == nullptr) return Error(ErrorCode::kFailed, "libdeflate_alloc_compressor failed");
  const size_t bound = gzip ? libdeflate_gzip_compress_bound(c, data.size())
                            : libdeflate_deflate_compress_bound(c, data.size());
  // Compressed into a buffer that is not zero-filled first (the bound exceeds the input),
  // then copied out at its size (a tenth of the input for JSON).
  auto buf = std::make_unique_for_overwrite<char[]>(bound);
  const size_t n = gzip ? libdeflate_gzip_compress(c, data.data(), data.size(), buf.get(), bound)
                        : libdeflate_deflate_compress(c, data.data(), data.size(), buf.get(), bound);
  libdeflate_free_compressor(c);
  if (n == 0) return Error(ErrorCode::kFailed, "deflate did not fit its bound");
  return std::string(buf.get(), n);
}

uint32_t zlib_crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uInt>(data.size())));
}

// A ZIP archive with one deflated entry (no ZIP64: objects are at most 128 MiB + framing).
Result<std::string> zip_one(std::string_view data, std::string_view name) {
  FRESHET_ASSIGN_OR_RETURN(std::string deflated, deflate_with(data, false));
  const uint32_t crc = zlib_crc32(data);
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const uint16_t dos_time =
      static_cast<uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  const uint16_t dos_date =
      static_cast<uint16_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  std::string out;
  auto header_fields = [&](std::string& h) {
    put_le(h, 20, 2);  // version needed
    put_le(h, 0, 2);   // flags
    put_le(h, 8, 2);   // deflate
    put_le(h, dos_time, 2);
    put_le(h, dos_date, 2);
    put_le(h, crc, 4);
    put_le(h, deflated.size(), 4);
    put_le(h, data.size(), 4);
    put_le(h, name.size(), 2);
    put_le(h, 0, 2);  // extra length
  };
  put_le(out, 0x04034b50, 4);
  header_fields(out);
  out.append(name);
  out.append(deflated);
  const size_t central = out.size();
  put_le(out, 0x02014b50, 4);
  put_le(out, 20, 2);  // version made by
  header_fields(out);
  put_le(out, 0, 2);  // comment length
  put_le(out, 0, 2);  // disk number
  put_le(out, 0, 2);  // internal attributes
  put_le(out, 0, 4);  // external attributes
  put_le(out, 0, 4);  // local header offset
  out.append(name);
  const size_t central_size = out.size() - central;
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, 1, 2);
  put_le(out, 1, 2);
  put_le(out, central_size, 4);
  put_le(out, central, 4);
  put_le(out, 0, 2);
  return out;
}

uint32_t masked_crc32c(std::string_view data) {
  uint32_t c = crc32c::value(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// Snappy framing format: stream identifier, then compressed chunks of up to 64 KiB input.
std::string snappy_framed(std::string_view data) {
  std::string out("\xff\x06\x00\x00sNaPpY", 10);
  constexpr size_t kChunk = 65536;
  std::string compressed;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    std::string_view chunk = data.substr(off, kChunk);
    compressed.clear();
    snappy::Compress(chunk.data(), chunk.size(), &compressed);
    const bool use_raw = compressed.size() >= chunk.size();
    std::string_view body = use_raw ? chunk : std::string_view(compressed);
    out.push_back(use_raw ? '\x01' : '\x00');
    put_le(out, body.size() + 4, 3);
    put_le(out, masked_crc32c(chunk), 4);
    out.append(body);
  }
  return out;
}

// Hadoop's BlockCompressorStream with SnappyCodec: per block of up to 256 KiB input,
// [u32 BE uncompressed length][u32 BE compressed length][snappy raw block].
std::string hadoop_snappy(std::string_view data) {
  std::string out;
  constexpr size_t kBlock = 256 * 1024;
  std::string compressed;
  for (size_t off = 0; off < data.size(); off += kBlock) {
    std::string_view block = data.substr(off, kBlock);
    compressed.clear();
    snappy::Compress(block.data(), block.size(), &compressed);
    put_be(out, block.size(), 4);
    put_be(out, compressed.size(), 4);
    out.append(compressed);
  }
  return out;
}

}  // namespace

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return "UNCOMPRESSED";
    case Compression::kGzip: return "GZIP";
    case Compression::kZip: return "ZIP";
    case Compression::kSnappy: return "Snappy";
    case Compression::kHadoopSnappy: return "HADOOP_SNAPPY";
    case Compression::kZstd: return "ZSTD";
  }
  return "UNCOMPRESSED";
}

std::optional<Compression> parse_compression(std::string_view name) {
  for (Compression c : {Compression::kUncompressed, Compression::kGzip, Compression::kZip,
                        Compression::kSnappy, Compression::kHadoopSnappy, Compression::kZstd}) {
    if (compression_name(c) == name) return c;
  }
  return std::nullopt;
}

std::string_view default_extension(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return "";
    case Compression::kGzip: return ".gz";
    case Compression::kZip: return ".zip";
    case Compression::kSnappy: return ".snappy";
    case Compression::kHadoopSnappy: return ".hsnappy";
    case Compression::kZstd: return ".zst";
  }
  return "";
}

Result<std::string> compress(Compression c, std::string_view data, std::string_view entry_name) {
  switch (c) {
    case Compression::kUncompressed: return std::string(data);
    case Compression::kGzip: {
      // Objects of several MiB: gzip members compressed on several threads and concatenated
      // (a multi-member file is one valid gzip stream: RFC 1952, section 2.2; gunzip, zcat,
      // Python's gzip and Java's GZIPInputStream read them whole).
      constexpr size_t kMember = 2u << 20;
      if (data.size() < 2 * kMember) return deflate_with(data, true);
      const size_t n = (data.size() + kMember - 1) / kMember;
      std::vector<std::future<Result<std::string>>> parts;
      for (size_t i = 0; i < n; ++i) {
        std::string_view piece = data.substr(i * kMember, kMember);
        parts.push_back(std::async(std::launch::async, [piece] { return deflate_with(piece, true); }));
      }
      std::string out;
      for (auto& p : parts) {
        Result<std::string> r = p.get();
        if (!r.ok()) return r.error();
        out += *r;
      }
      return out;
    }
    case Compression::kZip: return zip_one(data, entry_name);
    case Compression::kSnappy: return snappy_framed(data);
    case Compression::kHadoopSnappy: return hadoop_snappy(data);
    case Compression::kZstd: {
      std::string out(ZSTD_compressBound(data.size()), '\0');
      size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
      if (ZSTD_isError(n)) return Error(ErrorCode::kFailed, ZSTD_getErrorName(n));
      out.resize(n);
      return out;
    }
  }
  return Error(ErrorCode::kInvalidArgument, "unknown compression");
}

}  // namespace freshet::delivery

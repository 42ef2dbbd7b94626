#include "chunked.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <array>

#include "freshet/common/base64.h"
#include "freshet/common/crc32c.h"

namespace freshet::api::s3 {
namespace {

Error bad(std::string why) { return Error(ErrorCode::kInvalidArgument, std::move(why)); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::array<uint64_t, 256> make_crc64_table() {
  std::array<uint64_t, 256> t{};
  const uint64_t poly = 0x9A6C9329AC4BC9B5ull;  // 0xAD93D23594C93659 reflected
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[i] = c;
  }
  return t;
}

std::string big_endian(uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}

std::string digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

}  // namespace

uint64_t crc64nvme(std::string_view bytes) {
  static const std::array<uint64_t, 256> table = make_crc64_table();
  uint64_t c = ~0ull;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return ~c;
}

std::string checksum_base64(std::string_view algorithm, std::string_view bytes) {
  std::string a = lower(algorithm);
  std::string raw;
  if (a == "crc32") {
    uLong c = crc32(0L, Z_NULL, 0);
    // zlib takes uInt lengths: feed in pieces.
    size_t off = 0;
    while (off < bytes.size()) {
      size_t n = std::min<size_t>(bytes.size() - off, 1u << 30);
      c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data() + off), static_cast<uInt>(n));
      off += n;
    }
    raw = big_endian(c, 4);
  } else if (a == "crc32c") {
    raw = big_endian(crc32c::value(bytes), 4);
  } else if (a == "crc64nvme") {
    raw = big_endian(crc64nvme(bytes), 8);
  } else if (a == "sha1") {
    raw = digest(EVP_sha1(), bytes);
  } else if (a == "sha256") {
    raw = digest(EVP_sha256(), bytes);
  } else {
    return {};
  }
  return base64_encode(raw);
}

Result<DecodedBody> decode_aws_chunked(std::string_view body) {
  DecodedBody out;
  size_t pos = 0;
  for (;;) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos || eol - pos > 4096) return bad("bad chunk header");
    std::string_view line = body.substr(pos, eol - pos);
    std::string_view size_text = line.substr(0, line.find(';'));
    if (size_text.empty() || size_text.size() > 15) return bad("bad chunk size");
    uint64_t size = 0;
    for (char c : size_text) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return bad("bad chunk size");
      size = size * 16 + static_cast<uint64_t>(d);
    }
    pos = eol + 2;
    if (size == 0) break;
    if (size > body.size() - pos) return bad("chunk longer than the body");
    out.bytes.append(body.substr(pos, size));
    pos += size;
    if (body.substr(pos, 2) != "\r\n") return bad("chunk not followed by CRLF");
    pos += 2;
  }
  // Trailers until an empty line (or the end of the body, which some clients leave out).
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    std::string_view line =
        body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bad("bad trailer line");
    out.trailers.emplace_back(lower(trim(line.substr(0, colon))),
                              std::string(trim(line.substr(colon + 1))));
  }
  return out;
}

}  // namespace freshet::api::s3

#include "freshet/common/base64.h"

#include <array>
#include <cstdint>

namespace freshet {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> make_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  return t;
}
constexpr std::array<uint8_t, 256> kDecode = make_table();

Error invalid_char(char c) {
  return Error(ErrorCode::kInvalidArgument, std::string("Invalid Base64 character: '") + c + "'");
}

}  // namespace


void base64_encode_append(std::string_view bytes, std::string& out) {
  size_t start = out.size();
  out.resize(start + base64_encoded_size(bytes.size()));
  char* p = out.data() + start;
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{in[i]} << 16;
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = '=';
    *p++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = '=';
  }
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_encode_append(bytes, out);
  return out;
}

Status base64_decode_append(std::string_view text, std::string& dest) {
  size_t n = text.size();
  if (n % 4 != 0) {
    return Error(
        ErrorCode::kInvalidArgument,
        "Base64 encoded length is expected a multiple of 4 bytes but found: " + std::to_string(n));
  }
  if (n == 0) return {};
  size_t pad = 0;
  if (text[n - 1] == '=') pad = (text[n - 2] == '=') ? 2 : 1;
  size_t data_chars = n - pad;
  const size_t start = dest.size();
  dest.resize(start + n / 4 * 3 - pad);
  auto* o = reinterpret_cast<uint8_t*>(dest.data() + start);
  // On any error the bytes appended so far are cut off again.
  auto fail = [&](Error e) -> Status {
    dest.resize(start);
    return e;
  };
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());

  // Full quads without padding.
  size_t full = data_chars / 4 * 4;
  size_t j = 0;
  for (size_t i = 0; i < full; i += 4) {
    uint8_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]],
            d = kDecode[in[i + 3]];
    if ((a | b | c | d) == kInvalid || ((a | b | c | d) & 0xC0)) {
      for (size_t k = i; k < i + 4; ++k) {
        if (kDecode[in[k]] == kInvalid) return fail(invalid_char(static_cast<char>(in[k])));
      }
    }
    uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    o[j++] = static_cast<uint8_t>(v >> 16);
    o[j++] = static_cast<uint8_t>(v >> 8);
    o[j++] = static_cast<uint8_t>(v);
  }
  if (pad == 0) return {};

  // Last quad: 4 - pad data characters then pad '='.
  size_t rem = data_chars - full;  // 2 or 3
  uint8_t vals[3] = {0, 0, 0};
  for (size_t k = 0; k < rem; ++k) {
    uint8_t v = kDecode[in[full + k]];
    if (v == kInvalid) return fail(invalid_char(static_cast<char>(in[full + k])));
    vals[k] = v;
  }
  if (rem == 2) {
    if (vals[1] & 0x0F) {
      return fail(Error(ErrorCode::kInvalidArgument, "Invalid last non-pad Base64 character dectected"));
    }
    o[j++] = static_cast<uint8_t>((vals[0] << 2) | (vals[1] >> 4));
  } else {
    if (vals[2] & 0x03) {
      return fail(Error(ErrorCode::kInvalidArgument, "Invalid last non-pad Base64 character dectected"));
    }
    o[j++] = static_cast<uint8_t>((vals[0] << 2) | (vals[1] >> 4));
    o[j++] = static_cast<uint8_t>((vals[1] << 4) | (vals[2] >> 2));
  }
  return {};
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  FRESHET_RETURN_IF_ERROR(base64_decode_append(text, out));
  return out;
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

Result<std::vector<uint8_t>> base64_decode_bytes(std::string_view text) {
  FRESHET_ASSIGN_OR_RETURN(std::string s, base64_decode(text));
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace freshet

#include "freshet/stream/base64.h"

#include <array>

namespace freshet::stream {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

// Reverse lookup built at compile time: symbol -> 6-bit value, or kInvalid.
constexpr std::array<uint8_t, 256> make_reverse() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) {
    v = kInvalid;
  }
  for (uint8_t i = 0; i < 64; ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = i;
  }
  return table;
}
constexpr std::array<uint8_t, 256> kReverse = make_reverse();

Error invalid(const char* why) {
  return Error(ErrorCode::kInvalidArgument, std::string("invalid base64: ") + why);
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(base64_encoded_size(bytes.size()));
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  return base64_encode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return invalid("length is not a multiple of 4");
  }
  std::vector<uint8_t> out;
  if (text.empty()) {
    return out;
  }

  size_t padding = 0;
  if (text.back() == '=') {
    padding = text[text.size() - 2] == '=' ? 2 : 1;
  }
  out.reserve(text.size() / 4 * 3 - padding);

  const size_t groups = text.size() / 4;
  for (size_t g = 0; g < groups; ++g) {
    const bool last = g + 1 == groups;
    const size_t symbols = last ? 4 - padding : 4;  // 2, 3 or 4 data symbols
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = text[g * 4 + k];
      uint8_t d = 0;
      if (k < symbols) {
        d = kReverse[static_cast<uint8_t>(c)];
        if (d == kInvalid) {
          return invalid("character outside the alphabet");
        }
      } else if (c != '=') {
        return invalid("misplaced padding");  // unreachable by construction; kept as a guard
      }
      v = (v << 6) | d;
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (symbols >= 3) {
      out.push_back(static_cast<uint8_t>(v >> 8));
    }
    if (symbols == 4) {
      out.push_back(static_cast<uint8_t>(v));
    }
    // Canonical form: bits that do not belong to any output byte must be zero.
    if (symbols == 2 && (v & 0xFFFF) != 0) {
      return invalid("non-zero trailing bits");
    }
    if (symbols == 3 && (v & 0xFF) != 0) {
      return invalid("non-zero trailing bits");
    }
  }
  return out;
}

}  // namespace freshet::stream

// Base64 (RFC 4648 section 4, standard alphabet "A-Za-z0-9+/", '=' padding).
//
// Lives in the stream module for now because shard iterators need it; it will move to common.
// Decoding is strict: the input length must be a multiple of 4, only alphabet characters may
// appear before the padding, padding is 0, 1 or 2 '=' at the very end, and the unused low bits
// of the last symbol must be zero, so every byte string has exactly one accepted encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::stream {

// Length of the padded encoding of `n` bytes: 4 * ceil(n / 3).
constexpr size_t base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

// Encodes bytes with padding.
std::string base64_encode(std::span<const uint8_t> bytes);
std::string base64_encode(std::string_view bytes);

// Decodes a padded, canonical encoding. kInvalidArgument on anything else (including a
// non-zero unused bit in the last symbol). The empty string decodes to no bytes.
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace freshet::stream

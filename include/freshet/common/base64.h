// Strict standard base64 (RFC 4648 alphabet, '=' padding), as AWS JSON protocols use for blobs.
//
// decode rejects, with AWS's (Jackson's) wording in the error message:
//  - a length that is not a multiple of 4,
//  - characters outside [A-Za-z0-9+/=], '=' anywhere but the last one or two positions,
//  - non-zero unused bits in the last character before the padding ("non-canonical").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet {

std::string base64_encode(std::string_view bytes);
// Appends the encoding of `bytes` to `out`.
void base64_encode_append(std::string_view bytes, std::string& out);
constexpr size_t base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

// Returns the decoded bytes or Error(kInvalidArgument, message) where message is e.g.
// "Base64 encoded length is expected a multiple of 4 bytes but found: 5".
Result<std::string> base64_decode(std::string_view text);
// The same, appending the bytes to dest (unchanged on error): decodes many blobs into one
// buffer without an allocation each.
Status base64_decode_append(std::string_view text, std::string& dest);

// Byte-vector forms of the same, for binary tokens (shard iterators, NextTokens).
std::string base64_encode(std::span<const uint8_t> bytes);
Result<std::vector<uint8_t>> base64_decode_bytes(std::string_view text);

}  // namespace freshet

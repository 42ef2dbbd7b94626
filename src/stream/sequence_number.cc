#include "freshet/stream/sequence_number.h"

#include <cstring>

#include <cassert>
#include <cstdio>

#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

// Field positions; see the table in the header.
constexpr size_t kEpochPos = 2;
constexpr size_t kEpochDigits = 20;
constexpr size_t kShardPos = kEpochPos + kEpochDigits;  // 22
constexpr size_t kShardDigits = 12;
constexpr size_t kOffsetPos = kShardPos + kShardDigits;  // 34
constexpr size_t kOffsetDigits = 20;
constexpr size_t kCheckPos = kOffsetPos + kOffsetDigits;  // 54
static_assert(kCheckPos + 2 == kSequenceNumberDigits, "fields must fill 56 digits");

// Appends `v` zero-padded to `width` digits.
void append_padded(std::string* out, uint64_t v, size_t width) {
  char buf[21];
  size_t pos = sizeof(buf);
  do {
    buf[--pos] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  const size_t len = sizeof(buf) - pos;
  assert(len <= width);
  out->append(width - len, '0');
  out->append(buf + pos, len);
}

// Parses a fixed-width all-digit field; false if its value exceeds 2^64 - 1.
bool parse_field(std::string_view s, uint64_t* out) {
  uint64_t v = 0;
  for (const char c : s) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// The decimal number `digits` modulo 97. REQUIRES: all characters are digits.
unsigned mod97(std::string_view digits) {
  unsigned r = 0;
  for (const char c : digits) {
    r = (r * 10 + static_cast<unsigned>(c - '0')) % 97;
  }
  return r;
}

Error malformed(std::string_view text) {
  return Error(kMalformedSequenceNumber,
               "sequence number " + std::string(text.substr(0, 140)) + " is invalid");
}

}  // namespace

std::string encode_sequence_number(const SequenceNumberParts& parts) {
  assert(parts.shard_index <= kMaxShardIndex);
  std::string out;
  out.reserve(kSequenceNumberDigits);
  out.push_back('4');
  out.push_back(kSequenceNumberVersion);
  append_padded(&out, parts.stream_epoch, kEpochDigits);
  append_padded(&out, parts.shard_index, kShardDigits);
  append_padded(&out, parts.offset, kOffsetDigits);
  // ISO 7064 MOD 97-10: with r = (prefix * 100) mod 97, check = 98 - r makes the number == 1.
  const unsigned check = 98 - (mod97(out) * 100) % 97;
  append_padded(&out, check, 2);
  return out;
}

SequenceNumberFormatter::SequenceNumberFormatter(uint64_t stream_epoch, uint64_t shard_index) {
  const std::string full = encode_sequence_number({stream_epoch, shard_index, 0});
  static_assert(sizeof(prefix_) == kOffsetPos);
  std::memcpy(prefix_, full.data(), kOffsetPos);
  prefix_mod_ = mod97(std::string_view(prefix_, kOffsetPos));
}

// 10^20 mod 97: shifts the prefix's residue past the 20 offset digits.
constexpr unsigned pow10_mod97(size_t n) {
  unsigned r = 1;
  for (size_t i = 0; i < n; ++i) r = r * 10 % 97;
  return r;
}

void SequenceNumberFormatter::format(uint64_t offset, char* out) const {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  // The whole number is prefix * 10^20 + offset (an offset has at most 20 digits), so its
  // residue needs one division instead of one per digit.
  const unsigned r = static_cast<unsigned>(
      (uint64_t{prefix_mod_} * pow10_mod97(kOffsetDigits) + offset % 97) % 97);
  std::memcpy(out, prefix_, kOffsetPos);
  char* digits = out + kOffsetPos;
  size_t i = kOffsetDigits;
  while (i >= 2) {
    std::memcpy(digits + i - 2, kPairs + 2 * (offset % 100), 2);
    offset /= 100;
    i -= 2;
  }
  static_assert(kOffsetDigits % 2 == 0);
  const unsigned check = 98 - (r * 100) % 97;
  out[kCheckPos] = static_cast<char>('0' + check / 10);
  out[kCheckPos + 1] = static_cast<char>('0' + check % 10);
}

std::string SequenceNumberFormatter::format(uint64_t offset) const {
  std::string s(kSequenceNumberDigits, '0');
  format(offset, s.data());
  return s;
}

Result<SequenceNumberParts> decode_sequence_number(std::string_view text) {
  if (text.size() != kSequenceNumberDigits) {
    return malformed(text);
  }
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return malformed(text);
    }
  }
  if (text[0] != '4' || text[1] != kSequenceNumberVersion) {
    return malformed(text);
  }
  if (mod97(text) != 1) {
    return malformed(text);
  }
  SequenceNumberParts parts;
  if (!parse_field(text.substr(kEpochPos, kEpochDigits), &parts.stream_epoch) ||
      !parse_field(text.substr(kShardPos, kShardDigits), &parts.shard_index) ||
      !parse_field(text.substr(kOffsetPos, kOffsetDigits), &parts.offset)) {
    return malformed(text);
  }
  return parts;
}

Result<uint64_t> decode_sequence_number_for_shard(std::string_view text, uint64_t stream_epoch,
                                                  uint64_t shard_index) {
  FRESHET_ASSIGN_OR_RETURN(const SequenceNumberParts parts, decode_sequence_number(text));
  if (parts.stream_epoch != stream_epoch) {
    return Error(kForeignSequenceNumber,
                 "Invalid StartingSequenceNumber. It belongs to another stream, while it was "
                 "used in a call to a shard with " +
                     format_shard_id(shard_index));
  }
  if (parts.shard_index != shard_index) {
    return Error(kForeignSequenceNumber, "Invalid StartingSequenceNumber. It encodes " +
                                             format_shard_id(parts.shard_index) +
                                             ", while it was used in a call to a shard with " +
                                             format_shard_id(shard_index));
  }
  return parts.offset;
}

Result<DecimalSequenceNumber> DecimalSequenceNumber::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxDigits) {
    return Error(ErrorCode::kInvalidArgument, "sequence number must have 1 to 129 digits");
  }
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidArgument, "sequence number must be decimal digits");
    }
  }
  if (text.size() > 1 && text[0] == '0') {
    return Error(ErrorCode::kInvalidArgument, "sequence number must not have leading zeros");
  }
  return DecimalSequenceNumber(std::string(text));
}

std::strong_ordering operator<=>(const DecimalSequenceNumber& a, const DecimalSequenceNumber& b) {
  if (a.digits_.size() != b.digits_.size()) {
    return a.digits_.size() <=> b.digits_.size();
  }
  const int c = a.digits_.compare(b.digits_);
  return c < 0 ? std::strong_ordering::less
               : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

}  // namespace freshet::stream

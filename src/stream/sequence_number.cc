#include "freshet/stream/sequence_number.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <cassert>
#include <cstdio>

#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

// ---- version 1 (Freshet's first layout; still decoded) ----
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

Result<SequenceNumberParts> decode_v1(std::string_view text) {
  if (mod97(text) != 1) {
    return malformed(text);
  }
  SequenceNumberParts parts;
  parts.version = 1;
  if (!parse_field(text.substr(kEpochPos, kEpochDigits), &parts.stream_epoch) ||
      !parse_field(text.substr(kShardPos, kShardDigits), &parts.shard_index) ||
      !parse_field(text.substr(kOffsetPos, kOffsetDigits), &parts.offset)) {
    return malformed(text);
  }
  return parts;
}

// ---- version 2 (AWS's layout): a 188-bit number in 32-bit limbs, least significant first ----
using Wide = std::array<uint32_t, 6>;

void put_bits(Wide& w, unsigned pos, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    if ((v >> i) & 1) w[(pos + i) / 32] |= uint32_t{1} << ((pos + i) % 32);
  }
}

uint64_t get_bits(const Wide& w, unsigned pos, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) {
    v |= uint64_t{(w[(pos + i) / 32] >> ((pos + i) % 32)) & 1} << i;
  }
  return v;
}

// Base-10^9 limbs, least significant first (a 188-bit number has at most 57 digits: 7 limbs).
using Decimal = std::array<uint64_t, 7>;
constexpr uint64_t kBillion = 1'000'000'000;

Decimal to_base_billion(Wide w) {
  Decimal d{};
  for (uint64_t& limb : d) {
    uint64_t rem = 0;
    for (size_t i = w.size(); i-- > 0;) {
      const uint64_t cur = (rem << 32) | w[i];
      w[i] = static_cast<uint32_t>(cur / kBillion);
      rem = cur % kBillion;
    }
    limb = rem;
  }
  return d;
}

// Writes the 56 digits of d. REQUIRES: d has exactly 56 digits.
// "00" to "99": two digits per division (every record read formats its sequence number).
constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[static_cast<size_t>(2 * i)] = static_cast<char>('0' + i / 10);
    t[static_cast<size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
  }
  return t;
}();

void write_digits(const Decimal& d, char* out) {
  // The top limb holds the two leading digits; the others nine digits each.
  std::memcpy(out, &kDigitPairs[2 * d[6]], 2);
  for (int limb = 5; limb >= 0; --limb) {
    auto v = static_cast<uint32_t>(d[static_cast<size_t>(limb)]);  // below 10^9
    char* p = out + 2 + (5 - limb) * 9;
    for (int i = 7; i >= 1; i -= 2) {
      std::memcpy(p + i, &kDigitPairs[2 * (v % 100)], 2);
      v /= 100;
    }
    p[0] = static_cast<char>('0' + v);
  }
}

// The number with every field but the sequence index (offset) set.
Wide v2_base(uint64_t stream_epoch, uint64_t shard_index) {
  Wide w{};
  const uint64_t seconds = stream_epoch / 1000;
  put_bits(w, 0, 2, 4);                              // version
  put_bits(w, 4, shard_index, 32);                   // shard index
  put_bits(w, 36, seconds, 36);                      // "arrival": the stream's creation second
  put_bits(w, 72, stream_epoch % 256, 8);            // stream tag
  put_bits(w, 144, shard_index & 0xF, 4);            // shard index, last hex digit
  put_bits(w, 148, seconds, 36);                     // creation time, seconds
  put_bits(w, 184, 2, 4);                            // leading 2
  return w;
}

constexpr unsigned kSeqIxBit = 80;

// Sequence numbers of shards whose index needs more than 32 bits keep version 1.
constexpr uint64_t kMaxV2ShardIndex = 0xFFFFFFFF;
// 2^36 seconds: the creation-time field's range (year 4147).
constexpr uint64_t kMaxV2EpochMs = (uint64_t{1} << 36) * 1000 - 1;

bool v2_encodable(uint64_t stream_epoch, uint64_t shard_index) {
  return shard_index <= kMaxV2ShardIndex && stream_epoch <= kMaxV2EpochMs;
}

std::string encode_v1(const SequenceNumberParts& parts) {
  std::string out;
  out.reserve(kSequenceNumberDigits);
  out.push_back('4');
  out.push_back('1');
  append_padded(&out, parts.stream_epoch, kEpochDigits);
  append_padded(&out, parts.shard_index, kShardDigits);
  append_padded(&out, parts.offset, kOffsetDigits);
  // ISO 7064 MOD 97-10: with r = (prefix * 100) mod 97, check = 98 - r makes the number == 1.
  const unsigned check = 98 - (mod97(out) * 100) % 97;
  append_padded(&out, check, 2);
  return out;
}

Result<SequenceNumberParts> decode_v2(std::string_view text) {
  // Decimal to binary: w = w * 10 + digit, checking that nothing passes 192 bits.
  Wide w{};
  for (const char c : text) {
    uint64_t carry = static_cast<uint64_t>(c - '0');
    for (uint32_t& limb : w) {
      const uint64_t cur = uint64_t{limb} * 10 + carry;
      limb = static_cast<uint32_t>(cur);
      carry = cur >> 32;
    }
    if (carry != 0) return malformed(text);
  }
  if (get_bits(w, 188, 4) != 0 || get_bits(w, 184, 4) != 2 || get_bits(w, 0, 4) != 2) {
    return malformed(text);
  }
  SequenceNumberParts parts;
  parts.version = 2;
  parts.shard_index = get_bits(w, 4, 32);
  parts.offset = get_bits(w, kSeqIxBit, 64);
  const uint64_t seconds = get_bits(w, 148, 36);
  const uint64_t tag = get_bits(w, 72, 8);
  // The redundant shard digit catches some mistyped numbers (the arrival field is not
  // compared: AWS's own numbers carry real arrival times there, and they decode too).
  if (get_bits(w, 144, 4) != (parts.shard_index & 0xF)) return malformed(text);
  parts.stream_epoch = seconds * 1000;  // the epoch's second; see from_stream()
  parts.epoch_tag = static_cast<uint8_t>(tag);
  return parts;
}

}  // namespace

bool SequenceNumberParts::from_stream(uint64_t epoch) const {
  if (version == 1) return stream_epoch == epoch;
  return stream_epoch / 1000 == epoch / 1000 && epoch_tag == epoch % 256;
}

std::string encode_sequence_number(const SequenceNumberParts& parts) {
  assert(parts.shard_index <= kMaxShardIndex);
  if (!v2_encodable(parts.stream_epoch, parts.shard_index)) return encode_v1(parts);
  Wide w = v2_base(parts.stream_epoch, parts.shard_index);
  put_bits(w, kSeqIxBit, parts.offset, 64);
  std::string out(kSequenceNumberDigits, '0');
  write_digits(to_base_billion(w), out.data());
  return out;
}

SequenceNumberFormatter::SequenceNumberFormatter(uint64_t stream_epoch, uint64_t shard_index)
    : v1_(!v2_encodable(stream_epoch, shard_index)),
      epoch_(stream_epoch),
      shard_index_(shard_index) {
  const Decimal base = to_base_billion(v2_base(stream_epoch, shard_index));
  std::copy(base.begin(), base.end(), base_);
  Wide unit{};
  put_bits(unit, kSeqIxBit, 1, 1);  // 2^80: one step of the sequence index
  const Decimal step = to_base_billion(unit);
  std::copy(step.begin(), step.begin() + 3, step_);
}

void SequenceNumberFormatter::format(uint64_t offset, char* out) const {
  if (v1_) {
    const std::string s = encode_v1({epoch_, shard_index_, offset});
    std::memcpy(out, s.data(), kSequenceNumberDigits);
    return;
  }
  // base + offset * 2^80 in base 10^9: offset has at most 3 limbs and 2^80 has 3.
  const uint64_t o[3] = {offset % kBillion, offset / kBillion % kBillion,
                         offset / kBillion / kBillion};
  uint64_t acc[7];
  std::copy(base_, base_ + 7, acc);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      // Each product is below 10^18; an accumulator takes at most a few before the carry pass.
      const uint64_t p = o[i] * step_[j];
      acc[i + j] += p % kBillion;
      acc[i + j + 1] += p / kBillion;
    }
  }
  Decimal d{};
  uint64_t carry = 0;
  for (size_t k = 0; k < 7; ++k) {
    const uint64_t v = acc[k] + carry;
    d[k] = v % kBillion;
    carry = v / kBillion;
  }
  write_digits(d, out);
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
  // Version 1 numbers start with "41" (below 4.2e55); version 2 numbers are at least
  // 2 * 16^46 (4.9e55), so they start with "49" or higher.
  if (text[0] == '4' && text[1] == '1') return decode_v1(text);
  return decode_v2(text);
}

Result<uint64_t> decode_sequence_number_for_shard(std::string_view text, uint64_t stream_epoch,
                                                  uint64_t shard_index) {
  FRESHET_ASSIGN_OR_RETURN(const SequenceNumberParts parts, decode_sequence_number(text));
  if (!parts.from_stream(stream_epoch)) {
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

// Sequence numbers: the decimal strings Kinesis hands out for records, and Freshet's encoding.
//
// Freshet renders sequence numbers in AWS's 56-digit layout (version 2, as tools and the
// published reverse-engineered layouts decode AWS's numbers): the decimal form of a 47-hex-digit
// (188-bit) number whose fields are, from the most significant hex digit:
//
//   hex digits  bits       field
//   0           184..187   2 (AWS's leading digit)
//   1..9        148..183   creation time, Unix seconds (Freshet: the stream epoch / 1000)
//   10          144..147   shard index, last hex digit
//   11..26       80..143   sequence index within the shard (Freshet: the record's log offset)
//   27..28       72..79    AWS: unknown (Freshet: the stream epoch mod 256, a stream tag)
//   29..37       36..71    arrival time, seconds (Freshet: the creation second again, so that a
//                          record's number depends only on its stream, shard and offset)
//   38..45        4..35    shard index
//   46            0..3     version, 2
//
// Every such number lies in [2 * 16^46, 3 * 16^46), i.e. has exactly 56 digits (starting with
// 49..73). Within a shard the fields above the sequence index are fixed, so the numbers
// increase with the offset. A number names its shard (the shard index fields) and, through the
// creation second and tag, its stream incarnation. There are no check digits (AWS has none):
// a mistyped number is caught only when it breaks the structure (the leading and trailing 2,
// the redundant last shard digit). AWS's own numbers decode (their shard index is right; their
// creation time and tag name no Freshet stream).
//
// Version 1, Freshet's first layout, is still decoded (stored checkpoints keep working) and
// still written for the (theoretical) shards whose index needs more than 32 bits: 56 decimal
// digits "41" + stream epoch (20) + shard index (12) + offset (20) + ISO 7064 MOD 97-10 check
// digits (2). Version 1 numbers are below 4.2e55, version 2 numbers above 4.9e55.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet::stream {

inline constexpr size_t kSequenceNumberDigits = 56;

// Error codes of decode_sequence_number_for_shard (the API layer maps both to
// InvalidArgumentException, with different messages):
inline constexpr ErrorCode kMalformedSequenceNumber = ErrorCode::kInvalidArgument;
inline constexpr ErrorCode kForeignSequenceNumber = ErrorCode::kOutOfRange;

struct SequenceNumberParts {
  uint64_t stream_epoch = 0;  // version 2 decodes only its second: stream_epoch / 1000 * 1000
  uint64_t shard_index = 0;   // <= kMaxShardIndex (names.h)
  uint64_t offset = 0;
  uint8_t version = 0;    // set by decode: 1 or 2
  uint8_t epoch_tag = 0;  // version 2: the stream epoch mod 256

  // Whether the number comes from the stream incarnation with this epoch (version 2 compares
  // the epoch's second and tag: two incarnations of one name created within the same second
  // with equal tags are not told apart).
  bool from_stream(uint64_t epoch) const;

  friend bool operator==(const SequenceNumberParts&, const SequenceNumberParts&) = default;
};

// Encodes the parts as a 56-digit sequence number (version 2, or 1 for shard indexes above
// 2^32 - 1 or epochs past the year 4147).
// REQUIRES: parts.shard_index <= kMaxShardIndex (shard indexes come from the catalog).
std::string encode_sequence_number(const SequenceNumberParts& parts);

// Formats the sequence numbers of one shard fast: the number without its sequence index and
// the weight of one index step (2^80) are kept in base 10^9, so format() is 9 multiplications
// and a carry pass. format() equals encode_sequence_number({epoch, shard_index, offset}).
class SequenceNumberFormatter {
 public:
  SequenceNumberFormatter(uint64_t stream_epoch, uint64_t shard_index);
  // Writes exactly kSequenceNumberDigits characters to out.
  void format(uint64_t offset, char* out) const;
  std::string format(uint64_t offset) const;

 private:
  bool v1_ = false;  // the shard needs version 1
  uint64_t epoch_ = 0;
  uint64_t shard_index_ = 0;
  uint64_t base_[7] = {};  // the number with offset 0, base 10^9, least significant first
  uint64_t step_[3] = {};  // 2^80 in base 10^9
};

// Decodes a Freshet sequence number of either version. kMalformedSequenceNumber unless the
// text is exactly 56 ASCII digits and (version 1) starts with "41", has fields that fit in 64
// bits and valid check digits, or (version 2) fits in 188 bits with both 2s in place and a
// consistent last shard digit.
Result<SequenceNumberParts> decode_sequence_number(std::string_view text);

// Decodes a sequence number given for shard `shard_index` of the stream with `stream_epoch`
// and returns its log offset. kMalformedSequenceNumber as above; kForeignSequenceNumber if it
// is well formed but belongs to another stream (epoch) or another shard, with a message
// naming the shard it encodes.
Result<uint64_t> decode_sequence_number_for_shard(std::string_view text, uint64_t stream_epoch,
                                                  uint64_t shard_index);

// Any sequence number the model's SequenceNumber shape allows, "0|([1-9]\d{0,128})" (up to 129
// digits, so wider than 128 bits), kept as canonical decimal text and ordered numerically.
// Used for SequenceNumberForOrdering and for ordering numbers that need not be Freshet's own.
class DecimalSequenceNumber {
 public:
  static constexpr size_t kMaxDigits = 129;

  // kInvalidArgument unless `text` matches the pattern exactly (no sign, no leading zeros).
  static Result<DecimalSequenceNumber> parse(std::string_view text);

  const std::string& digits() const { return digits_; }

  // Numeric order: canonical decimals compare by length, then digit by digit.
  friend std::strong_ordering operator<=>(const DecimalSequenceNumber& a,
                                          const DecimalSequenceNumber& b);
  friend bool operator==(const DecimalSequenceNumber& a, const DecimalSequenceNumber& b) {
    return a.digits_ == b.digits_;
  }

 private:
  explicit DecimalSequenceNumber(std::string digits) : digits_(std::move(digits)) {}
  std::string digits_;
};

}  // namespace freshet::stream

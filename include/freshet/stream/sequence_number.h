// Sequence numbers: the decimal strings Kinesis hands out for records, and Freshet's encoding.
//
// Freshet's sequence numbers are 56 decimal digits starting with '4', like AWS's. They are
// built from fixed-width decimal fields, so equal-length string order equals numeric order and
// the parts can be read by eye (docs/stream.md has the same table):
//
//   digit  0       '4'                         marker, as in AWS numbers
//   digit  1       format version, '1'         a later format takes a higher digit
//   digits 2..21   stream epoch   (20 digits)  uint64 chosen when the stream is created; a
//                                              stream re-created under the same name differs
//   digits 22..33  shard index    (12 digits)  the N of shardId-N
//   digits 34..53  log offset     (20 digits)  uint64 offset of the record in its shard log
//   digits 54..55  check digits   ( 2 digits)  ISO 7064 MOD 97-10: the whole number mod 97 == 1
//
// Within one shard of one stream the number strictly increases with the offset: the leading
// 34 digits are fixed, the offset field grows, and the check digits (2..98) are dominated by the
// offset's last digit's weight of 100. A number from another stream or shard is detected by the
// epoch and shard fields; a mistyped digit or swapped neighbours are caught by the check.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet::stream {

inline constexpr size_t kSequenceNumberDigits = 56;
inline constexpr char kSequenceNumberVersion = '1';

// Error codes of decode_sequence_number_for_shard (the API layer maps both to
// InvalidArgumentException, with different messages):
inline constexpr ErrorCode kMalformedSequenceNumber = ErrorCode::kInvalidArgument;
inline constexpr ErrorCode kForeignSequenceNumber = ErrorCode::kOutOfRange;

struct SequenceNumberParts {
  uint64_t stream_epoch = 0;
  uint64_t shard_index = 0;  // <= kMaxShardIndex (names.h)
  uint64_t offset = 0;

  friend bool operator==(const SequenceNumberParts&, const SequenceNumberParts&) = default;
};

// Encodes the parts as a 56-digit sequence number.
// REQUIRES: parts.shard_index <= kMaxShardIndex (shard indexes come from the catalog).
std::string encode_sequence_number(const SequenceNumberParts& parts);

// Formats the sequence numbers of one shard fast: the 34-digit prefix (marker, version, epoch,
// shard) and its check-digit residue are computed once. format() equals
// encode_sequence_number({epoch, shard_index, offset}).
class SequenceNumberFormatter {
 public:
  SequenceNumberFormatter(uint64_t stream_epoch, uint64_t shard_index);
  // Writes exactly kSequenceNumberDigits characters to out.
  void format(uint64_t offset, char* out) const;
  std::string format(uint64_t offset) const;

 private:
  char prefix_[34];
  unsigned prefix_mod_ = 0;  // the prefix's value mod 97
};

// Decodes a Freshet sequence number. kMalformedSequenceNumber unless the text is exactly 56
// ASCII digits, starts with '4', has a known version digit, epoch and offset fields that fit
// in 64 bits, and valid check digits.
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

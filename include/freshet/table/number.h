// DynamoDB's Number: a decimal with at most 38 significant digits and a magnitude in
// [1e-130, 1e126), or zero. Parsed, compared, added and encoded exactly, never via a double.
//
// A Decimal is sign * 0.d1d2...dn * 10^exp with d1 != 0 and dn != 0 (n <= 38), or zero.
// canonical() prints it as DynamoDB returns numbers: plain notation without exponent, no
// leading or trailing zeros ("1.5", "-0.001", "100", "0").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/result.h"

namespace freshet::table {

class Decimal {
 public:
  static constexpr int kMaxDigits = 38;

  Decimal() = default;  // zero

  // Accepts [+-]digits[.digits][(e|E)[+-]digits] (also ".5" and "5."). Errors
  // (ErrorCode::kInvalidArgument) carry DynamoDB's messages:
  //   "The parameter cannot be converted to a numeric value: <text>"
  //   "Attempting to store more than 38 significant digits in a Number"
  //   "Number overflow. Attempting to store a number with magnitude larger than supported range"
  //   "Number underflow. Attempting to store a number with magnitude smaller than supported range"
  static Result<Decimal> parse(std::string_view text);

  bool is_zero() const { return digits_.empty(); }
  bool negative() const { return negative_; }
  const std::string& digits() const { return digits_; }  // '1'..'9' first and last
  int32_t exponent() const { return exp_; }

  std::string canonical() const;
  // -1, 0, 1.
  int compare(const Decimal& o) const;
  // Exact sum/difference; errors as parse() (more than 38 digits, overflow, underflow).
  static Result<Decimal> add(const Decimal& a, const Decimal& b);
  Decimal negated() const {
    Decimal d = *this;
    if (!d.is_zero()) d.negative_ = !d.negative_;
    return d;
  }

  // DynamoDB's storage size of this number in bytes.
  size_t size() const;
  // parse(text)->size(), or text.size() when text does not parse: what item sizes count for
  // an N. Integers (the common sort keys and counters) are measured without a parse.
  static size_t text_size(std::string_view text);

  // Order-preserving byte encoding (memcmp order == numeric order), self-delimiting:
  //   zero:      0x80
  //   positive:  0xC0, then u16 big-endian (exp + 0x8000), then each digit as d+1 (0x01..0x0A),
  //              then 0x00
  //   negative:  0x3F, then u16 big-endian (0x7FFF - exp), then each digit as 0xFE - d,
  //              then 0xFF
  void encode_key(std::string& out) const;
  // Reads one encoded number from the front of in (advancing it). False if malformed.
  static bool decode_key(std::string_view& in, Decimal& out);

 private:
  Result<Decimal> checked() const;
  bool negative_ = false;
  std::string digits_;  // significant digits, no leading/trailing zeros; empty = zero
  int32_t exp_ = 0;     // value = 0.digits * 10^exp_
};

}  // namespace freshet::table

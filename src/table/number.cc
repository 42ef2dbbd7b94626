#include "freshet/table/number.h"

#include <algorithm>

namespace freshet::table {
namespace {

constexpr int32_t kMinExp = -129;  // 1e-130 = 0.1 * 10^-129
constexpr int32_t kMaxExp = 126;   // 9.99..e125 = 0.999.. * 10^126

Error bad_number(std::string_view text) {
  return Error(ErrorCode::kInvalidArgument,
               "The parameter cannot be converted to a numeric value: " + std::string(text));
}

// Compares two digit strings as 0.a and 0.b (no trailing zeros needed).
int compare_fraction(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

}  // namespace

Result<Decimal> Decimal::checked() const {
  if (is_zero()) return *this;
  if (digits_.size() > static_cast<size_t>(kMaxDigits)) {
    return Error(ErrorCode::kInvalidArgument,
                 "Attempting to store more than 38 significant digits in a Number");
  }
  if (exp_ > kMaxExp) {
    return Error(ErrorCode::kInvalidArgument,
                 "Number overflow. Attempting to store a number with magnitude larger than "
                 "supported range");
  }
  if (exp_ < kMinExp) {
    return Error(ErrorCode::kInvalidArgument,
                 "Number underflow. Attempting to store a number with magnitude smaller than "
                 "supported range");
  }
  return *this;
}

Result<Decimal> Decimal::parse(std::string_view text) {
  size_t i = 0;
  Decimal d;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    d.negative_ = text[i] == '-';
    ++i;
  }
  std::string all;  // every mantissa digit
  int64_t point = -1;
  size_t mantissa_digits = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      if (all.size() < 4096) all.push_back(c);
      else return bad_number(text);
      ++mantissa_digits;
    } else if (c == '.' && point < 0) {
      point = static_cast<int64_t>(all.size());
    } else {
      break;
    }
  }
  if (mantissa_digits == 0) return bad_number(text);
  int64_t e = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      eneg = text[i] == '-';
      ++i;
    }
    size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (e < 1'000'000) e = e * 10 + (text[i] - '0');
    }
    if (i == start) return bad_number(text);
    if (eneg) e = -e;
  }
  if (i != text.size()) return bad_number(text);
  if (point < 0) point = static_cast<int64_t>(all.size());
  // value = 0.all * 10^point * 10^e; strip leading zeros (each lowers the exponent).
  size_t lead = 0;
  while (lead < all.size() && all[lead] == '0') ++lead;
  if (lead == all.size()) return Decimal();  // zero (sign dropped, as DynamoDB does)
  size_t end = all.size();
  while (end > lead && all[end - 1] == '0') --end;
  d.digits_ = all.substr(lead, end - lead);
  int64_t exp = point - static_cast<int64_t>(lead) + e;
  if (exp > 100'000) exp = 100'000;
  if (exp < -100'000) exp = -100'000;
  d.exp_ = static_cast<int32_t>(exp);
  return d.checked();
}

std::string Decimal::canonical() const {
  if (is_zero()) return "0";
  std::string s;
  if (negative_) s.push_back('-');
  const int32_t n = static_cast<int32_t>(digits_.size());
  if (exp_ <= 0) {
    s += "0.";
    s.append(static_cast<size_t>(-exp_), '0');
    s += digits_;
  } else if (exp_ >= n) {
    s += digits_;
    s.append(static_cast<size_t>(exp_ - n), '0');
  } else {
    s.append(digits_, 0, static_cast<size_t>(exp_));
    s.push_back('.');
    s.append(digits_, static_cast<size_t>(exp_), std::string::npos);
  }
  return s;
}

int Decimal::compare(const Decimal& o) const {
  int sa = is_zero() ? 0 : negative_ ? -1 : 1;
  int sb = o.is_zero() ? 0 : o.negative_ ? -1 : 1;
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int mag;
  if (exp_ != o.exp_) {
    mag = exp_ < o.exp_ ? -1 : 1;
  } else {
    mag = compare_fraction(digits_, o.digits_);
  }
  return sa > 0 ? mag : -mag;
}

Result<Decimal> Decimal::add(const Decimal& a, const Decimal& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  // Align both as integers scaled by 10^-(low): value = int * 10^low.
  auto low_of = [](const Decimal& d) { return d.exp_ - static_cast<int32_t>(d.digits_.size()); };
  const int32_t low = std::min(low_of(a), low_of(b));
  const int32_t high = std::max(a.exp_, b.exp_);
  if (high - low > 400) {
    // The smaller operand is far below 38 digits of the larger one: the exact sum has more
    // than 38 significant digits.
    return Error(ErrorCode::kInvalidArgument,
                 "Attempting to store more than 38 significant digits in a Number");
  }
  const size_t width = static_cast<size_t>(high - low) + 1;
  auto place = [&](const Decimal& d) {
    // digits positioned so that the last char is 10^low.
    std::string v(width, '0');
    size_t start = static_cast<size_t>(high - d.exp_) + 1;  // leading zero slot for carry
    for (size_t i = 0; i < d.digits_.size(); ++i) v[start + i] = d.digits_[i];
    return v;
  };
  std::string x = place(a), y = place(b);
  std::string r(width, '0');
  bool neg;
  if (a.negative_ == b.negative_) {
    int carry = 0;
    for (size_t i = width; i-- > 0;) {
      int s = (x[i] - '0') + (y[i] - '0') + carry;
      r[i] = static_cast<char>('0' + s % 10);
      carry = s / 10;
    }
    neg = a.negative_;
  } else {
    // Subtract the smaller magnitude from the larger.
    int c = x.compare(y);
    if (c == 0) return Decimal();
    const std::string& big = c > 0 ? x : y;
    const std::string& small = c > 0 ? y : x;
    neg = c > 0 ? a.negative_ : b.negative_;
    int borrow = 0;
    for (size_t i = width; i-- > 0;) {
      int s = (big[i] - '0') - (small[i] - '0') - borrow;
      borrow = s < 0;
      if (s < 0) s += 10;
      r[i] = static_cast<char>('0' + s);
    }
  }
  // r represents 0.r * 10^(high + 1).
  Decimal d;
  size_t lead = 0;
  while (lead < r.size() && r[lead] == '0') ++lead;
  if (lead == r.size()) return Decimal();
  size_t end = r.size();
  while (end > lead && r[end - 1] == '0') --end;
  d.digits_ = r.substr(lead, end - lead);
  d.exp_ = high + 1 - static_cast<int32_t>(lead);
  d.negative_ = neg;
  return d.checked();
}

size_t Decimal::size() const {
  if (is_zero()) return 3;  // as dynalite measures "0"
  // DynamoDB: about one byte per two significant digits plus one or two.
  const int32_t e = exp_ - 1;  // exponent of the first digit
  return (digits_.size() + 1) / 2 + ((e % 2) != 0 ? 1 : 2);
}

size_t Decimal::text_size(std::string_view text) {
  // Fast path: [-]digits without a leading zero. Its significant digits are the digits
  // without the trailing zeros and its exponent (of 0.digits) is their count, so size()
  // below is computed from the text; anything else (and more than 38 significant digits,
  // an error) goes through parse.
  std::string_view d = text;
  if (!d.empty() && d[0] == '-') d.remove_prefix(1);
  bool integer = !d.empty() && d.size() <= static_cast<size_t>(kMaxDigits) + 8;
  for (size_t i = 0; integer && i < d.size(); ++i) integer = d[i] >= '0' && d[i] <= '9';
  if (integer) {
    if (d == "0") return 3;  // zero, as size() measures it
    if (d[0] != '0') {
      size_t significant = d.size();
      while (d[significant - 1] == '0') --significant;
      if (significant <= static_cast<size_t>(kMaxDigits)) {
        const size_t e = d.size() - 1;  // exponent of the first digit
        return (significant + 1) / 2 + (e % 2 != 0 ? 1 : 2);
      }
    }
  }
  auto p = parse(text);
  return p.ok() ? p->size() : text.size();
}

void Decimal::encode_key(std::string& out) const {
  if (is_zero()) {
    out.push_back(static_cast<char>(0x80));
    return;
  }
  if (!negative_) {
    out.push_back(static_cast<char>(0xC0));
    uint16_t e = static_cast<uint16_t>(exp_ + 0x8000);
    out.push_back(static_cast<char>(e >> 8));
    out.push_back(static_cast<char>(e & 0xFF));
    for (char c : digits_) out.push_back(static_cast<char>(c - '0' + 1));
    out.push_back('\0');
  } else {
    out.push_back(static_cast<char>(0x3F));
    uint16_t e = static_cast<uint16_t>(0x7FFF - exp_);
    out.push_back(static_cast<char>(e >> 8));
    out.push_back(static_cast<char>(e & 0xFF));
    for (char c : digits_) out.push_back(static_cast<char>(0xFE - (c - '0')));
    out.push_back(static_cast<char>(0xFF));
  }
}

bool Decimal::decode_key(std::string_view& in, Decimal& out) {
  if (in.empty()) return false;
  const uint8_t tag = static_cast<uint8_t>(in[0]);
  out = Decimal();
  if (tag == 0x80) {
    in.remove_prefix(1);
    return true;
  }
  if ((tag != 0xC0 && tag != 0x3F) || in.size() < 4) return false;
  const bool neg = tag == 0x3F;
  const uint16_t e = static_cast<uint16_t>((static_cast<uint8_t>(in[1]) << 8) |
                                           static_cast<uint8_t>(in[2]));
  out.negative_ = neg;
  out.exp_ = neg ? 0x7FFF - static_cast<int32_t>(e) : static_cast<int32_t>(e) - 0x8000;
  size_t i = 3;
  for (; i < in.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(in[i]);
    if (b == (neg ? 0xFF : 0x00)) break;
    int d = neg ? 0xFE - b : b - 1;
    if (d < 0 || d > 9 || out.digits_.size() >= static_cast<size_t>(kMaxDigits)) return false;
    out.digits_.push_back(static_cast<char>('0' + d));
  }
  if (i == in.size() || out.digits_.empty()) return false;
  if (out.digits_.front() == '0' || out.digits_.back() == '0') return false;
  in.remove_prefix(i + 1);
  return true;
}

}  // namespace freshet::table

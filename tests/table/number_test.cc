#include "freshet/table/number.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace freshet::table {
namespace {

std::string canon(std::string_view s) {
  auto d = Decimal::parse(s);
  EXPECT_TRUE(d.ok()) << s;
  return d.ok() ? d->canonical() : "";
}

TEST(Decimal, CanonicalForms) {
  EXPECT_EQ(canon("0"), "0");
  EXPECT_EQ(canon("-0.000"), "0");
  EXPECT_EQ(canon("1.50"), "1.5");
  EXPECT_EQ(canon("+007"), "7");
  EXPECT_EQ(canon("1e2"), "100");
  EXPECT_EQ(canon("1.23E-3"), "0.00123");
  EXPECT_EQ(canon("-12345.6789"), "-12345.6789");
  EXPECT_EQ(canon(".5"), "0.5");
  EXPECT_EQ(canon("5."), "5");
  EXPECT_EQ(canon("12345678901234567890123456789012345678"),
            "12345678901234567890123456789012345678");
}

TEST(Decimal, RejectsWithDynamoDbMessages) {
  EXPECT_EQ(Decimal::parse("abc").error().message(),
            "The parameter cannot be converted to a numeric value: abc");
  EXPECT_FALSE(Decimal::parse("").ok());
  EXPECT_FALSE(Decimal::parse("1e").ok());
  EXPECT_FALSE(Decimal::parse(" 1").ok());
  EXPECT_EQ(Decimal::parse("123456789012345678901234567890123456789").error().message(),
            "Attempting to store more than 38 significant digits in a Number");
  EXPECT_EQ(Decimal::parse("1e126").error().message(),
            "Number overflow. Attempting to store a number with magnitude larger than supported "
            "range");
  EXPECT_TRUE(Decimal::parse("9.9999999999999999999999999999999999999e125").ok());
  EXPECT_TRUE(Decimal::parse("1e-130").ok());
  EXPECT_EQ(Decimal::parse("1e-131").error().message(),
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range");
  // Trailing zeros are not significant.
  EXPECT_TRUE(Decimal::parse("1000000000000000000000000000000000000000000").ok());
}

TEST(Decimal, ExactArithmetic) {
  auto add = [](const char* a, const char* b) {
    auto r = Decimal::add(*Decimal::parse(a), *Decimal::parse(b));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->canonical() : r.error().message();
  };
  EXPECT_EQ(add("0.1", "0.2"), "0.3");
  EXPECT_EQ(add("1", "-1"), "0");
  EXPECT_EQ(add("99999999999999999999999999999999999999", "-1"),
            "99999999999999999999999999999999999998");
  EXPECT_EQ(add("-5", "3"), "-2");
  EXPECT_EQ(add("123.456", "-0.456"), "123");
  EXPECT_EQ(add("1e100", "1e100"), "2" + std::string(100, '0'));
  auto r = Decimal::add(*Decimal::parse("99999999999999999999999999999999999999"),
                        *Decimal::parse("0.1"));
  EXPECT_FALSE(r.ok());
}

// text_size measures integers from their text: it must agree with parse()->size() (and
// with text.size() for what does not parse) on every shape.
TEST(Decimal, TextSizeMatchesParsedSize) {
  std::vector<std::string> texts = {"0", "-0", "00", "-00", "007", "+7", "7", "-7", "10", "100",
                                    "120", "1200", "-1200", "99", "999", "1000000", "",
                                    "-", "1.5", "-0.05", "1e3", "12E-2", ".5", "5.", "1-2", "x"};
  std::string digits;
  for (int n = 1; n <= 60; ++n) {
    digits.push_back(static_cast<char>('1' + n % 9));
    texts.push_back(digits);                           // n significant digits
    texts.push_back("-" + digits);
    texts.push_back("1" + std::string(n, '0'));        // trailing zeros
    texts.push_back(digits + std::string(n % 7, '0'));
  }
  for (const std::string& t : texts) {
    auto d = Decimal::parse(t);
    const size_t want = d.ok() ? d->size() : t.size();
    EXPECT_EQ(Decimal::text_size(t), want) << t;
  }
}

TEST(Decimal, KeyEncodingOrdersNumerically) {
  std::vector<std::string> texts = {"-1e125", "-100", "-99.5", "-1", "-0.5", "-0.05", "-1e-130",
                                    "0", "1e-130", "0.05", "0.5", "1", "1.5", "9", "10", "99.5",
                                    "100", "12345678901234567890123456789012345678", "1e125"};
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string t = std::to_string(static_cast<int64_t>(rng()) - (1ll << 31));
    t += "." + std::to_string(rng() % 1000);
    texts.push_back(t);
  }
  std::vector<Decimal> ds;
  for (auto& t : texts) ds.push_back(*Decimal::parse(t));
  for (size_t i = 0; i < ds.size(); ++i) {
    std::string ei;
    ds[i].encode_key(ei);
    std::string_view in = ei;
    Decimal back;
    ASSERT_TRUE(Decimal::decode_key(in, back));
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(back.canonical(), ds[i].canonical());
    for (size_t j = 0; j < ds.size(); ++j) {
      std::string ej;
      ds[j].encode_key(ej);
      int byte_order = ei < ej ? -1 : ei > ej ? 1 : 0;
      ASSERT_EQ(byte_order, ds[i].compare(ds[j])) << texts[i] << " vs " << texts[j];
    }
  }
}

}  // namespace
}  // namespace freshet::table

#include "freshet/common/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace freshet {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYg==").value(), "foob");
  EXPECT_EQ(base64_decode("Zm9vYmE=").value(), "fooba");
  EXPECT_EQ(base64_decode("").value(), "");
}

TEST(Base64Test, RoundTripsRandomBytes) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 300; ++n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_EQ(d.value(), s);
  }
}

TEST(Base64Test, RejectsBadLengthWithAwsMessage) {
  auto r = base64_decode("abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
}

TEST(Base64Test, RejectsInvalidCharacters) {
  for (const char* bad :
       {"ab!d", "ab d", "Zm9v\nYmFy", "Zm-v", "Zm_v", "Z===", "====", "Zg=a", "Z=g=", "Zm9vY=Fy"}) {
    auto r = base64_decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_EQ(base64_decode("ab!d").error().message(), "Invalid Base64 character: '!'");
}

TEST(Base64Test, RejectsNonCanonicalTrailingBits) {
  EXPECT_FALSE(base64_decode("Zh==").ok());  // 'h' has low bits set
  EXPECT_FALSE(base64_decode("Zm9=").ok());
  EXPECT_TRUE(base64_decode("Zg==").ok());
  EXPECT_TRUE(base64_decode("Zm8=").ok());
  EXPECT_EQ(base64_decode("Zh==").error().message(),
            "Invalid last non-pad Base64 character dectected");
}

}  // namespace
}  // namespace freshet

#include "freshet/stream/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace freshet::stream {
namespace {

std::string decode_to_string(std::string_view text) {
  auto r = base64_decode(text);
  EXPECT_TRUE(r.ok()) << text;
  if (!r.ok()) {
    return "<error>";
  }
  return std::string(r->begin(), r->end());
}

// RFC 4648 section 10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(std::string_view(plain)), encoded);
    EXPECT_EQ(decode_to_string(encoded), plain);
  }
}

TEST(Base64Test, UsesStandardAlphabetPlusAndSlash) {
  const uint8_t bytes[] = {0xFB, 0xFF, 0xBF};
  EXPECT_EQ(base64_encode(std::span<const uint8_t>(bytes)), "+/+/");
  auto r = base64_decode("+/+/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<uint8_t>(std::begin(bytes), std::end(bytes)));
}

TEST(Base64Test, RandomRoundTrips) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 200; ++len) {
    std::vector<uint8_t> bytes(len);
    for (auto& b : bytes) {
      b = static_cast<uint8_t>(rng());
    }
    const std::string text = base64_encode(std::span<const uint8_t>(bytes));
    EXPECT_EQ(text.size(), base64_encoded_size(len));
    auto back = base64_decode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, bytes);
  }
}

TEST(Base64Test, RejectsInvalidInput) {
  const char* bad[] = {
      "Zg",        // missing padding
      "Zg=",       // length not a multiple of 4
      "Zm9v\n",    // whitespace
      " Zm9v",     // leading space
      "Zm9-",      // URL-safe alphabet
      "Zm9_",      // URL-safe alphabet
      "Z===",      // too much padding
      "====",      // only padding
      "Zg==Zm9v",  // padding in the middle
      "Zm=v",      // padding before data
      "Zh==",      // non-zero trailing bits (canonical is Zg==)
      "Zm9=",      // non-zero trailing bits (canonical is Zm8=)
      "Zm9v*A==",  // character outside the alphabet
  };
  for (const char* text : bad) {
    auto r = base64_decode(text);
    EXPECT_FALSE(r.ok()) << "accepted: " << text;
    if (!r.ok()) {
      EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    }
  }
  // A NUL byte inside the input is rejected too.
  EXPECT_FALSE(base64_decode(std::string_view("Zm\0v", 4)).ok());
}

}  // namespace
}  // namespace freshet::stream

#include "freshet/api/sigv4.h"

#include <gtest/gtest.h>

namespace freshet::api {
namespace {

TEST(SigV4Test, ParsesAuthorizationHeader) {
  auto r = parse_sigv4_authorization(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-2/kinesis/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abcdef0123");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(r->date, "20250101");
  EXPECT_EQ(r->region, "eu-west-2");
  EXPECT_EQ(r->service, "kinesis");
  EXPECT_EQ(r->signed_headers.size(), 4u);
  EXPECT_EQ(r->signature, "abcdef0123");
}

TEST(SigV4Test, MissingParametersUseAwsWording) {
  auto r = parse_sigv4_authorization("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires "
            "'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 "
            "Credential=a/b/c/d/aws4_request");
}

TEST(SigV4Test, MalformedCredentials) {
  const char* tail = ", SignedHeaders=host, Signature=x";
  EXPECT_FALSE(
      parse_sigv4_authorization(std::string("AWS4-HMAC-SHA256 Credential=a/b/c") + tail).ok());
  EXPECT_FALSE(
      parse_sigv4_authorization(std::string("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f") + tail)
          .ok());
  auto bad_term =
      parse_sigv4_authorization(std::string("AWS4-HMAC-SHA256 Credential=a/b/c/d/nope") + tail);
  ASSERT_FALSE(bad_term.ok());
  EXPECT_EQ(bad_term.error().message(),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'nope'.");
  EXPECT_FALSE(parse_sigv4_authorization("Basic dXNlcjpwYXNz").ok());
  EXPECT_FALSE(parse_sigv4_authorization("").ok());
}

}  // namespace
}  // namespace freshet::api

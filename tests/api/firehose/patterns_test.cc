// The hand-written matchers of patterns.h against std::regex on each pattern's own text.
#include "patterns.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace freshet::api::firehose_patterns {
namespace {

const std::vector<std::string> kCases = {
    // names and ids
    "abc",
    "a.b-c_d",
    "",
    "a b",
    "0123",
    "12a",
    "a-b",
    "a_b",
    "tweets-archive",
    "x:y",
    // bucket ARNs
    "arn:aws:s3:::bucket",
    "arn::s3:::b",
    "arn:aws:s3:::",
    "arn:aws:s3:::a:b",
    "arn:x:s3:::y:s3:::z",
    "xarn:aws:s3:::b",
    "arn:s3:::b",
    "arn:aws:s3:::a.b-c_d",
    "arn:aws:s3:::" + std::string(255, 'b'),
    "arn:aws:s3:::" + std::string(256, 'b'),
    // role ARNs
    "arn:aws:iam::123456789012:role/firehose_delivery_role",
    "arn:aws:iam::12345678901:role/r",
    "arn:aws:iam::123456789012:role/",
    "arn:aws:iam::123456789012:role/a:b",
    "arn:aws:iam::123456789012:role/a+b=c,d.e@f-g_h/i",
    "arn:aws:iam::1234567890123:role/r",
    "arn:a:iam::123456789012:role/x:iam::123456789012:role/y",
    "arn:aws:iam::12345678901x:role/r",
    // stream ARNs
    "arn:aws:kinesis:us-east-1:123456789012:stream/tweets",
    "arn:aws:kinesis:us_east-1:123456789012:stream/t",
    "arn:aws:kinesis::123456789012:stream/t",
    "arn:aws:kinesis:r:123456789012:stream/",
    "arn:aws:kinesis:r:123456789012:stream/a:b",
    "arn:aws:kinesis:r:123456789012:stream/a.b-c_d",
    "arn:a:kinesis:b:kinesis:r:123456789012:stream/x",
    "arn:aws:kinesis:r:12345678901:stream/x",
    // file extensions
    ".gz",
    ".json.gz",
    "gz",
    ".GZ",
    ".a(b)*'!-_",
    ".a b",
    ".",
};

TEST(FirehosePatterns, EveryMatcherAgreesWithTheRegexOfItsText) {
  const Pattern* patterns[] = {&kNamePattern,         &kBucketArnPattern, &kRoleArnPattern,
                               &kKinesisArnPattern,   &kVersionIdPattern, &kDestinationIdPattern,
                               &kFileExtensionPattern};
  int matched = 0;
  for (const Pattern* p : patterns) {
    const std::regex re(p->text);
    for (const std::string& s : kCases) {
      const bool want = std::regex_match(s, re);
      EXPECT_EQ(p->match(s), want) << p->text << " on '" << s << "'";
      matched += want ? 1 : 0;
    }
  }
  EXPECT_GE(matched, 20);  // the cases exercise both answers of every pattern
}

}  // namespace
}  // namespace freshet::api::firehose_patterns

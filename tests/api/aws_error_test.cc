#include "freshet/api/aws_error.h"

#include <gtest/gtest.h>

#include "freshet/api/codec.h"
#include "freshet/api/document.h"

namespace freshet::api {
namespace {

TEST(AwsErrorTest, TableHasTheExpectedEntries) {
  struct Want {
    const char* type;
    int status;
  };
  for (Want w : {Want{"ValidationException", 400},
                 {"InvalidArgumentException", 400},
                 {"ResourceNotFoundException", 400},
                 {"ResourceInUseException", 400},
                 {"LimitExceededException", 400},
                 {"ExpiredIteratorException", 400},
                 {"ProvisionedThroughputExceededException", 400},
                 {"SerializationException", 400},
                 {"UnknownOperationException", 400},
                 {"MissingAuthenticationTokenException", 400},
                 {"AccessDeniedException", 400},
                 {"InternalFailure", 500},
                 {"KMSDisabledException", 400},
                 {"KMSInvalidStateException", 400},
                 {"KMSAccessDeniedException", 400},
                 {"KMSNotFoundException", 400},
                 {"KMSOptInRequired", 400},
                 {"KMSThrottlingException", 400},
                 {"ExpiredNextTokenException", 400},
                 {"IncompleteSignatureException", 400}}) {
    const AwsErrorInfo* info = find_aws_error(w.type);
    ASSERT_NE(info, nullptr) << w.type;
    EXPECT_EQ(info->http_status, w.status) << w.type;
  }
  EXPECT_EQ(find_aws_error("NoSuchThing"), nullptr);
  EXPECT_FALSE(aws_error_info(AwsError::kInternalFailure).sender_fault);
  EXPECT_TRUE(aws_error_info(AwsError::kProvisionedThroughputExceeded).retryable);
  for (size_t i = 0; i < aws_error_table().size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(aws_error_table()[i].id), i);
  }
}

TEST(AwsErrorTest, RendersJson) {
  RenderedError r = render_error(missing_authentication_token(), Protocol::kJson);
  EXPECT_EQ(r.http_status, 400);  // as AWS answers a JSON request without authentication
  EXPECT_EQ(r.type, "MissingAuthenticationTokenException");
  EXPECT_EQ(
      r.body,
      R"({"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"})");
  EXPECT_EQ(render_error(unknown_operation(), Protocol::kJson).body,
            R"({"__type":"UnknownOperationException"})");
  EXPECT_EQ(
      render_error(ApiError{AwsError::kResourceNotFound, "Stream \"x\" not found"}, Protocol::kJson)
          .body,
      R"({"__type":"ResourceNotFoundException","message":"Stream \"x\" not found"})");
}

TEST(AwsErrorTest, RendersCbor) {
  RenderedError r = render_error(ApiError{AwsError::kLimitExceeded, "slow down"}, Protocol::kCbor);
  EXPECT_EQ(r.http_status, 400);
  auto d = decode_cbor(r.body);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(get_string(d.value(), "__type").value(), "LimitExceededException");
  EXPECT_EQ(get_string(d.value(), "message").value(), "slow down");
  // Same bytes kinesalite sends for the unknown-operation case, but definite-length.
  EXPECT_EQ(render_error(unknown_operation(), Protocol::kCbor).body,
            std::string("\xa1\x66__type\x78\x19UnknownOperationException"));
}

TEST(AwsErrorTest, MapsDomainErrors) {
  EXPECT_EQ(to_api_error(Error(ErrorCode::kNotFound, "x")).type, AwsError::kResourceNotFound);
  EXPECT_EQ(to_api_error(Error(ErrorCode::kAlreadyExists, "x")).type, AwsError::kResourceInUse);
  EXPECT_EQ(to_api_error(Error(ErrorCode::kIoError, "disk")).type, AwsError::kInternalFailure);
  ApiResult r = Error(ErrorCode::kInvalidArgument, "bad");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kInvalidArgument);
}

TEST(ValidationErrorsTest, OneError) {
  ValidationErrors v;
  v.add("streamName", "a b", ValidationErrors::pattern("[a-zA-Z0-9_.-]+"));
  EXPECT_EQ(v.message(),
            "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  EXPECT_EQ(v.to_error().type, AwsError::kValidation);
}

TEST(ValidationErrorsTest, SeveralErrorsAndNulls) {
  ValidationErrors v;
  v.add_null("streamName");
  v.add("shardCount", "0", ValidationErrors::value_at_least(1));
  EXPECT_EQ(v.message(),
            "2 validation errors detected: Value null at 'streamName' failed to satisfy "
            "constraint: Member must not be null; Value '0' at 'shardCount' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1");
}

TEST(ValidationErrorsTest, AtMostTenAndConstraintTexts) {
  ValidationErrors v;
  for (int i = 0; i < 15; ++i) v.add("x", "y", "z");
  EXPECT_EQ(v.size(), 10u);
  EXPECT_EQ(v.message().rfind("10 validation errors detected: ", 0), 0u);
  std::string_view vals[] = {"TRIM_HORIZON", "LATEST"};
  EXPECT_EQ(ValidationErrors::enum_values(vals),
            "Member must satisfy enum value set: [TRIM_HORIZON, LATEST]");
  EXPECT_EQ(ValidationErrors::length_at_most(128),
            "Member must have length less than or equal to 128");
  EXPECT_EQ(ValidationErrors::blob_value(3), "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]");
  EXPECT_EQ(ValidationErrors::lower_first("StreamName"), "streamName");
}

TEST(ValidationErrorsTest, MemberErrorMapping) {
  Document d = Document::make_map();
  d.set("Limit", "x");
  ApiError missing = member_error(get_string(d, "StreamName").error(), "StreamName");
  EXPECT_EQ(missing.type, AwsError::kValidation);
  EXPECT_EQ(missing.message,
            "1 validation error detected: Value null at 'streamName' failed to satisfy "
            "constraint: Member must not be null");
  ApiError wrong = member_error(get_int(d, "Limit").error(), "Limit");
  EXPECT_EQ(wrong.type, AwsError::kSerialization);
  EXPECT_EQ(wrong.message, "class java.lang.String can not be converted to an Integer");
}

}  // namespace
}  // namespace freshet::api

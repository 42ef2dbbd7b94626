// AWS errors as data: one table (type name, HTTP status, sender fault, retryable) and one
// render function per protocol.
//
// Handlers return ApiError{AwsError::kResourceNotFound, "Stream foo under account ... not
// found."}; the server renders
//   JSON:  {"__type":"ResourceNotFoundException","message":"..."}
//   CBOR:  map {"__type": "...", "message": "..."}
// with the table's HTTP status and the header x-amzn-ErrorType: <type name>.
// Kinesis uses the lowercase "message" member (the model's error shapes all have `message`).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "freshet/api/document.h"
#include "freshet/common/result.h"

namespace freshet::api {

enum class AwsError : uint8_t {
  // Kinesis model errors (kinesis-2013-12-02.json); all HTTP 400 (no "error" trait).
  kAccessDenied,
  kExpiredIterator,
  kExpiredNextToken,
  kInternalFailureException,  // the model's InternalFailureException (event streams)
  kInvalidArgument,
  kKmsAccessDenied,
  kKmsDisabled,
  kKmsInvalidState,
  kKmsNotFound,
  kKmsOptInRequired,
  kKmsThrottling,
  kLimitExceeded,
  kProvisionedThroughputExceeded,
  kResourceInUse,
  kResourceNotFound,
  kValidation,
  // Common AWS JSON-protocol errors (not in the model).
  kSerialization,
  kUnknownOperation,
  kMissingAuthenticationToken,
  kIncompleteSignature,
  kInvalidSignature,
  kUnrecognizedClient,
  kThrottling,
  kRequestEntityTooLarge,
  kInternalFailure,
  kServiceUnavailable,
  // Firehose model errors not in Kinesis's.
  kConcurrentModification,
  // DynamoDB model errors (dynamodb-2012-08-10.json) not shared with Kinesis.
  kConditionalCheckFailed,
  kTransactionCanceled,
  kTransactionConflict,
  kTransactionInProgress,
  kIdempotentParameterMismatch,
  kItemCollectionSizeLimitExceeded,
  kRequestLimitExceeded,
  kInternalServerError,
  // CloudWatch model errors (cloudwatch-2010-08-01.json; the JSON 1.0 protocol's __type).
  kCwInvalidParameterValue,
  kCwMissingParameter,
  kCwInvalidParameterCombination,
  kCwResourceNotFound,
  kCwLimitExceeded,
  kCwInvalidNextToken,
  kCwInternalServiceFault,
  kCwDashboardInvalidInput,
  kCwDashboardNotFound,
  kCount,  // not an error
};

struct AwsErrorInfo {
  AwsError id;
  std::string_view type;  // __type and x-amzn-ErrorType
  int http_status;
  bool sender_fault;  // client error (counted as user error) vs server error
  bool retryable;     // SDKs retry these
};

// The awsQueryCompatible header of an error (CloudWatch over JSON 1.0 and RPC v2 CBOR):
// x-amzn-query-error: <the model's awsQueryError code>;<Sender|Receiver>, e.g.
// "InvalidParameterValue;Sender" for InvalidParameterValueException, so that a client maps it
// to the code the AWS Query protocol gives. Empty for errors of services without the trait.
std::string_view query_compatible_error(AwsError e);

// The whole table, indexed by AwsError.
std::span<const AwsErrorInfo> aws_error_table();
const AwsErrorInfo& aws_error_info(AwsError e);
// Looks up by type name; nullptr if unknown.
const AwsErrorInfo* find_aws_error(std::string_view type);

struct ApiError {
  AwsError type;
  std::string message;  // may be empty: rendered without a message member
  // Extra members of the error body (a map, or null): DynamoDB's CancellationReasons of a
  // TransactionCanceledException and Item of a ConditionalCheckFailedException.
  Document extra = {};

  const AwsErrorInfo& info() const { return aws_error_info(type); }
};

// Canonical constructors for errors whose message is fixed by AWS.
ApiError missing_authentication_token();  // "Missing Authentication Token"
ApiError unknown_operation();             // no message, as AWS sends
ApiError serialization_error(std::string message);

// Maps a freshet::Error to an ApiError for handlers that propagate domain errors:
//   kNotFound -> ResourceNotFoundException, kAlreadyExists -> ResourceInUseException,
//   kInvalidArgument/kOutOfRange -> InvalidArgumentException, kUnavailable ->
//   ServiceUnavailable, kResourceInUse -> ResourceInUseException, kLimitExceeded ->
//   LimitExceededException, kExpired -> ExpiredIteratorException, kThrottled ->
//   ProvisionedThroughputExceededException, everything else -> InternalFailure (message kept).
ApiError to_api_error(const Error& e);

// Maps an error from the get_* member accessors (document.h): missing -> ValidationException
// "1 validation error detected: Value null at 'streamName' failed to satisfy constraint:
// Member must not be null"; wrong type -> SerializationException with the accessor's message.
ApiError member_error(const Error& e, std::string_view member);

enum class Protocol : uint8_t { kJson, kCbor };

struct RenderedError {
  int http_status;
  std::string_view type;  // value of x-amzn-ErrorType
  std::string body;
};
RenderedError render_error(const ApiError& e, Protocol protocol);
// The body as a Document (what both renderings encode).
Document error_document(const ApiError& e);

// A success body a hot-path handler wrote itself, already in the request's protocol (JSON
// only for now): the dispatcher sends it as it is instead of encoding a Document.
struct EncodedBody {
  std::string bytes;
};

class ResponseStream;  // event_stream.h

// A success answer whose body is written over time (an AWS event stream): the server sends
// status 200 with this content type, then whatever the producer writes to `stream`, until the
// producer ends it (HTTP/1.1: chunked transfer coding; HTTP/2: DATA frames).
struct StreamingBody {
  std::string content_type;
  std::shared_ptr<ResponseStream> stream;
};

class ApiResult;

// An answer whose body is made later, where the response is sent: an asynchronous handler
// whose continuation runs on a thread that must not do the work (the group-commit thread,
// issue 9) hands the work to the dispatcher, which runs `make` on the connection's thread
// (AwsRequest::run_on_connection) before encoding. `make` may return any ApiResult but another
// DeferredBody.
struct DeferredBody {
  std::function<ApiResult()> make;
};

// Result type of API handlers: a response Document (or an EncodedBody or StreamingBody), or
// an ApiError, or a DeferredBody that makes one of those.
class [[nodiscard]] ApiResult {
 public:
  ApiResult(Document d) : v_(std::move(d)) {}         // NOLINT: implicit by design
  ApiResult(ApiError e) : v_(std::move(e)) {}         // NOLINT: implicit by design
  ApiResult(const Error& e) : v_(to_api_error(e)) {}  // NOLINT: implicit by design
  ApiResult(EncodedBody b) : v_(std::move(b)) {}      // NOLINT: implicit by design
  ApiResult(StreamingBody b) : v_(std::move(b)) {}    // NOLINT: implicit by design
  ApiResult(DeferredBody b) : v_(std::move(b)) {}     // NOLINT: implicit by design
  bool deferred() const { return v_.index() == 4; }
  // REQUIRES: deferred(). Runs the deferred work; the result is never deferred again.
  ApiResult made() && { return std::get<4>(std::move(v_)).make(); }
  bool ok() const { return v_.index() != 1; }
  bool streaming() const { return v_.index() == 3; }
  // REQUIRES: streaming().
  StreamingBody&& streaming_body() && { return std::get<3>(std::move(v_)); }
  bool encoded() const { return v_.index() == 2; }
  // REQUIRES: ok() && !encoded().
  const Document& value() const& { return std::get<0>(v_); }
  Document&& value() && { return std::get<0>(std::move(v_)); }
  const ApiError& error() const { return std::get<1>(v_); }
  // REQUIRES: encoded().
  const std::string& encoded_body() const& { return std::get<2>(v_).bytes; }
  std::string&& encoded_body() && { return std::move(std::get<2>(v_).bytes); }

 private:
  std::variant<Document, ApiError, EncodedBody, StreamingBody, DeferredBody> v_;
};

// Builds AWS's ValidationException message:
//   "1 validation error detected: Value 'x!' at 'streamName' failed to satisfy constraint:
//    Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
//   "2 validation errors detected: Value ... ; Value ..."
// Like AWS, at most 10 errors are kept. Paths are the lowerFirst member names joined with
// '.' (list elements as 1-based indexes: 'records.1.member.data').
class ValidationErrors {
 public:
  static constexpr size_t kMaxErrors = 10;

  // value: the already-formatted value text without quotes; null_value=true renders "null".
  void add(std::string_view path, std::string_view value, std::string_view constraint);
  void add_null(std::string_view path, std::string_view constraint = "Member must not be null");

  // Constraint texts, as AWS words them.
  static std::string pattern(
      std::string_view regex);  // Member must satisfy regular expression pattern: ...
  static std::string length_at_least(
      int64_t n);  // Member must have length greater than or equal to n
  static std::string length_at_most(int64_t n);  // Member must have length less than or equal to n
  static std::string value_at_least(
      int64_t n);                               // Member must have value greater than or equal to n
  static std::string value_at_most(int64_t n);  // Member must have value less than or equal to n
  static std::string enum_values(
      std::span<const std::string_view> values);  // ...enum value set: [A, B]
  // Value text of a blob, as the Java SDK prints it: java.nio.HeapByteBuffer[pos=0 lim=N cap=N]
  static std::string blob_value(size_t size);
  // "streamName" from "StreamName".
  static std::string lower_first(std::string_view name);

  // Moves the errors of member `path` behind the others, keeping each group's order: Kinesis
  // reports streamName last whatever the member order (recorded against AWS).
  void move_last(std::string_view path);

  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  std::string message() const;
  ApiError to_error() const { return ApiError{AwsError::kValidation, message()}; }

 private:
  std::vector<std::string> errors_;
};

}  // namespace freshet::api

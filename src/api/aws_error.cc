#include "freshet/api/aws_error.h"

#include <algorithm>

#include <array>

#include "freshet/api/codec.h"

namespace freshet::api {
namespace {

// Keep in AwsError order (checked by a static_assert and a test).
constexpr std::array<AwsErrorInfo, static_cast<size_t>(AwsError::kCount)> kTable = {{
    {AwsError::kAccessDenied, "AccessDeniedException", 400, true, false},
    {AwsError::kExpiredIterator, "ExpiredIteratorException", 400, true, false},
    {AwsError::kExpiredNextToken, "ExpiredNextTokenException", 400, true, false},
    {AwsError::kInternalFailureException, "InternalFailureException", 400, false, true},
    {AwsError::kInvalidArgument, "InvalidArgumentException", 400, true, false},
    {AwsError::kKmsAccessDenied, "KMSAccessDeniedException", 400, true, false},
    {AwsError::kKmsDisabled, "KMSDisabledException", 400, true, false},
    {AwsError::kKmsInvalidState, "KMSInvalidStateException", 400, true, false},
    {AwsError::kKmsNotFound, "KMSNotFoundException", 400, true, false},
    {AwsError::kKmsOptInRequired, "KMSOptInRequired", 400, true, false},
    {AwsError::kKmsThrottling, "KMSThrottlingException", 400, true, true},
    {AwsError::kLimitExceeded, "LimitExceededException", 400, true, true},
    {AwsError::kProvisionedThroughputExceeded, "ProvisionedThroughputExceededException", 400, true,
     true},
    {AwsError::kResourceInUse, "ResourceInUseException", 400, true, false},
    {AwsError::kResourceNotFound, "ResourceNotFoundException", 400, true, false},
    {AwsError::kValidation, "ValidationException", 400, true, false},
    {AwsError::kSerialization, "SerializationException", 400, true, false},
    {AwsError::kUnknownOperation, "UnknownOperationException", 400, true, false},
    {AwsError::kMissingAuthenticationToken, "MissingAuthenticationTokenException", 400, true,
     false},
    {AwsError::kIncompleteSignature, "IncompleteSignatureException", 400, true, false},
    {AwsError::kInvalidSignature, "InvalidSignatureException", 400, true, false},
    {AwsError::kUnrecognizedClient, "UnrecognizedClientException", 400, true, false},
    {AwsError::kThrottling, "ThrottlingException", 400, true, true},
    {AwsError::kRequestEntityTooLarge, "RequestEntityTooLarge", 413, true, false},
    {AwsError::kInternalFailure, "InternalFailure", 500, false, true},
    {AwsError::kServiceUnavailable, "ServiceUnavailable", 503, false, true},
    {AwsError::kConcurrentModification, "ConcurrentModificationException", 400, true, false},
    {AwsError::kConditionalCheckFailed, "ConditionalCheckFailedException", 400, true, false},
    {AwsError::kTransactionCanceled, "TransactionCanceledException", 400, true, false},
    {AwsError::kTransactionConflict, "TransactionConflictException", 400, true, false},
    {AwsError::kTransactionInProgress, "TransactionInProgressException", 400, true, false},
    {AwsError::kIdempotentParameterMismatch, "IdempotentParameterMismatchException", 400, true,
     false},
    {AwsError::kItemCollectionSizeLimitExceeded, "ItemCollectionSizeLimitExceededException", 400,
     true, false},
    {AwsError::kRequestLimitExceeded, "RequestLimitExceeded", 400, true, true},
    {AwsError::kInternalServerError, "InternalServerError", 500, false, true},
    {AwsError::kCwInvalidParameterValue, "InvalidParameterValueException", 400, true, false},
    {AwsError::kCwMissingParameter, "MissingRequiredParameterException", 400, true, false},
    {AwsError::kCwInvalidParameterCombination, "InvalidParameterCombinationException", 400, true,
     false},
    {AwsError::kCwResourceNotFound, "ResourceNotFound", 404, true, false},
    {AwsError::kCwLimitExceeded, "LimitExceededFault", 400, true, false},
    {AwsError::kCwInvalidNextToken, "InvalidNextToken", 400, true, false},
    {AwsError::kCwInternalServiceFault, "InternalServiceFault", 500, false, true},
    {AwsError::kCwDashboardInvalidInput, "DashboardInvalidInputError", 400, true, false},
    {AwsError::kCwDashboardNotFound, "DashboardNotFoundError", 404, true, false},
}};

constexpr bool table_in_order() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].id) != i) return false;
  }
  return true;
}
static_assert(table_in_order(), "kTable must be in AwsError order");

}  // namespace

std::span<const AwsErrorInfo> aws_error_table() { return kTable; }

const AwsErrorInfo& aws_error_info(AwsError e) {
  size_t i = static_cast<size_t>(e);
  if (i >= kTable.size()) i = static_cast<size_t>(AwsError::kInternalFailure);
  return kTable[i];
}

const AwsErrorInfo* find_aws_error(std::string_view type) {
  for (const AwsErrorInfo& info : kTable) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

ApiError missing_authentication_token() {
  return ApiError{AwsError::kMissingAuthenticationToken, "Missing Authentication Token"};
}

ApiError unknown_operation() { return ApiError{AwsError::kUnknownOperation, ""}; }

ApiError serialization_error(std::string message) {
  return ApiError{AwsError::kSerialization, std::move(message)};
}

ApiError to_api_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound:
      return ApiError{AwsError::kResourceNotFound, e.message()};
    case ErrorCode::kAlreadyExists:
      return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return ApiError{AwsError::kInvalidArgument, e.message()};
    case ErrorCode::kUnavailable:
      return ApiError{AwsError::kServiceUnavailable, e.message()};
    case ErrorCode::kResourceInUse:
      return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kLimitExceeded:
      return ApiError{AwsError::kLimitExceeded, e.message()};
    case ErrorCode::kExpired:
      return ApiError{AwsError::kExpiredIterator, e.message()};
    case ErrorCode::kThrottled:
      return ApiError{AwsError::kProvisionedThroughputExceeded, e.message()};
    default:
      // Server-side failures: the details go to the log, not to the client.
      return ApiError{AwsError::kInternalFailure, e.message()};
  }
}

ApiError member_error(const Error& e, std::string_view member) {
  if (is_missing_member(e)) {
    ValidationErrors v;
    v.add_null(ValidationErrors::lower_first(member));
    return v.to_error();
  }
  return serialization_error(e.message());
}

Document error_document(const ApiError& e) {
  Document d = Document::make_map();
  d.set("__type", std::string(e.info().type));
  // AWS's Coral framework writes SerializationException's member as "Message"; the model's
  // error shapes (and so every other error) use "message".
  if (!e.message.empty()) d.set(e.type == AwsError::kSerialization ? "Message" : "message", e.message);
  if (e.extra.is_map()) {
    for (const Member& m : e.extra.as_map()) d.set(m.key, m.value);
  }
  return d;
}

RenderedError render_error(const ApiError& e, Protocol protocol) {
  const AwsErrorInfo& info = e.info();
  Document d = error_document(e);
  return RenderedError{info.http_status, info.type,
                       protocol == Protocol::kCbor ? encode_cbor(d) : encode_json(d)};
}

// ---- ValidationErrors ----

void ValidationErrors::add(std::string_view path, std::string_view value,
                           std::string_view constraint) {
  if (errors_.size() >= kMaxErrors) return;
  std::string s = "Value '";
  s += value;
  s += "' at '";
  s += path;
  s += "' failed to satisfy constraint: ";
  s += constraint;
  errors_.push_back(std::move(s));
}

void ValidationErrors::move_last(std::string_view path) {
  const std::string needle = "at '" + std::string(path) + "' failed to satisfy";
  std::stable_partition(errors_.begin(), errors_.end(), [&](const std::string& e) {
    return e.find(needle) == std::string::npos;
  });
}

void ValidationErrors::add_null(std::string_view path, std::string_view constraint) {
  if (errors_.size() >= kMaxErrors) return;
  std::string s = "Value null at '";
  s += path;
  s += "' failed to satisfy constraint: ";
  s += constraint;
  errors_.push_back(std::move(s));
}

std::string ValidationErrors::pattern(std::string_view regex) {
  return "Member must satisfy regular expression pattern: " + std::string(regex);
}
std::string ValidationErrors::length_at_least(int64_t n) {
  return "Member must have length greater than or equal to " + std::to_string(n);
}
std::string ValidationErrors::length_at_most(int64_t n) {
  return "Member must have length less than or equal to " + std::to_string(n);
}
std::string ValidationErrors::value_at_least(int64_t n) {
  return "Member must have value greater than or equal to " + std::to_string(n);
}
std::string ValidationErrors::value_at_most(int64_t n) {
  return "Member must have value less than or equal to " + std::to_string(n);
}
std::string ValidationErrors::enum_values(std::span<const std::string_view> values) {
  std::string s = "Member must satisfy enum value set: [";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += ", ";
    s += values[i];
  }
  return s + "]";
}
std::string ValidationErrors::blob_value(size_t size) {
  std::string n = std::to_string(size);
  return "java.nio.HeapByteBuffer[pos=0 lim=" + n + " cap=" + n + "]";
}
std::string ValidationErrors::lower_first(std::string_view name) {
  std::string s(name);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string ValidationErrors::message() const {
  std::string s = std::to_string(errors_.size()) + " validation error" +
                  (errors_.size() == 1 ? "" : "s") + " detected: ";
  for (size_t i = 0; i < errors_.size(); ++i) {
    if (i) s += "; ";
    s += errors_[i];
  }
  return s;
}

std::string_view query_compatible_error(AwsError e) {
  // cloudwatch-2010-08-01.json: each error shape's "error": {"code", "senderFault"}.
  switch (e) {
    case AwsError::kCwInvalidParameterValue:
      return "InvalidParameterValue;Sender";
    case AwsError::kCwMissingParameter:
      return "MissingParameter;Sender";
    case AwsError::kCwInvalidParameterCombination:
      return "InvalidParameterCombination;Sender";
    case AwsError::kCwResourceNotFound:
      return "ResourceNotFound;Sender";
    case AwsError::kCwLimitExceeded:
      return "LimitExceeded;Sender";
    case AwsError::kCwInvalidNextToken:
      return "InvalidNextToken;Sender";
    case AwsError::kCwInternalServiceFault:
      return "InternalServiceError;Receiver";
    case AwsError::kCwDashboardInvalidInput:
      return "InvalidParameterInput;Sender";
    case AwsError::kCwDashboardNotFound:
      return "ResourceNotFound;Sender";
    default:
      return {};
  }
}

}  // namespace freshet::api

// Parsing (not yet verification) of AWS Signature Version 4 request authentication.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::api {

struct SigV4Auth {
  std::string access_key_id;
  std::string date;     // yyyymmdd from the credential scope
  std::string region;   // e.g. us-east-1
  std::string service;  // e.g. kinesis
  std::vector<std::string> signed_headers;
  std::string signature;
};

// Parses `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kinesis/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=abcd`.
// On failure returns Error(kInvalidArgument, msg) where msg is AWS's IncompleteSignatureException
// text, e.g. "Authorization header requires 'Signature' parameter. Authorization=...".
Result<SigV4Auth> parse_sigv4_authorization(std::string_view header);

// AWS's first check of an Authorization header, before any parsing or verification: the
// parameters after the first word (split at commas and spaces) must include non-empty
// Credential, Signature and SignedHeaders, and the request must have X-Amz-Date or Date.
// Returns "" if so, else AWS's IncompleteSignatureException message, all problems together:
//   "Authorization header requires 'Credential' parameter. Authorization header requires
//    existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=<header>"
std::string sigv4_header_problems(std::string_view header, bool has_date);

// Parses a credential scope "AKID/20250101/us-east-1/kinesis/aws4_request" into `out`.
Status parse_sigv4_credential(std::string_view credential, SigV4Auth& out);

}  // namespace freshet::api

// AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing for `freshet bench`.
//
// The signer builds the canonical request (method, path, canonical query, sorted lower-case
// headers with trimmed values, signed header list, hex SHA-256 of the payload), the string to
// sign, derives the signing key (cached per date) and returns the Authorization header value.
// Verified against AWS's published SigV4 test suite (tests/cli/bench_command_test.cc).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace freshet::cli::bench {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SigV4Request {
  std::string method = "POST";
  std::string path = "/";     // already URI-encoded
  std::string query;          // already canonical (sorted, encoded); usually empty
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign
  std::string_view payload;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date;..."
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header value
};

std::string sha256_hex(std::string_view data);

// "yyyymmddThhmmssZ" for the current UTC time.
std::string amz_date_now();

// Not thread-safe (caches the signing key); use one per thread.
class SigV4Signer {
 public:
  SigV4Signer(SigV4Credentials credentials, std::string region, std::string service);
  // amz_date: "yyyymmddThhmmssZ"; it must equal the request's x-amz-date header.
  SigV4Signature sign(const SigV4Request& request, std::string_view amz_date);

 private:
  SigV4Credentials credentials_;
  std::string region_;
  std::string service_;
  std::string key_date_;     // yyyymmdd the cached key is for
  std::string signing_key_;  // raw 32 bytes
};

}  // namespace freshet::cli::bench

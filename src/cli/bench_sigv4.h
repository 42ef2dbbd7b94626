// AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing for `freshet bench`.
//
// The signer builds the canonical request (method, path, canonical query, sorted lower-case
// headers with trimmed values, signed header list, hex SHA-256 of the payload), the string to
// sign, derives the signing key (cached per date) and returns the Authorization header value.
// Verified against AWS's published SigV4 test suite (tests/cli/bench_command_test.cc).
//
// SigV4FixedSigner is the load generator's fast path for requests that differ only in their
// x-amz-date and payload: the canonical request around those two is built once, the payload
// hash is passed in (bench bodies are hashed once and sent many times), and OpenSSL contexts
// are reused, so a request costs one SHA-256 of the ~300-byte canonical request and one HMAC.
// Tests check that it produces exactly what SigV4Signer produces.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/types.h>

#include "freshet/common/result.h"

namespace freshet::cli::bench {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SigV4Request {
  std::string method = "POST";
  std::string path = "/";  // already URI-encoded
  std::string query;       // already canonical (sorted, encoded); usually empty
  std::vector<std::pair<std::string, std::string>> headers;  // every header to sign
  std::string_view payload;
  // Lower-case hex SHA-256 of the payload when the caller has it already (bench bodies are
  // hashed once and sent many times); empty: sign() hashes `payload`.
  std::string_view payload_sha256;
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

// amz_date_now() for callers that ask many times a second: formats only when the second
// changes. Not thread-safe; one per thread.
class AmzDateClock {
 public:
  std::string_view now();

 private:
  std::time_t second_ = -1;
  char text_[32] = {};
  size_t size_ = 0;
};

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

// Signs requests that share method, path, query and every header but x-amz-date. Not
// thread-safe (reuses OpenSSL contexts and caches the signing key); use one per thread.
class SigV4FixedSigner {
 public:
  // `shape` lists every header to sign, including exactly one x-amz-date (its value is
  // ignored: each request passes its own); shape.payload and shape.payload_sha256 are ignored.
  static Result<SigV4FixedSigner> create(SigV4Credentials credentials, std::string region,
                                         std::string service, const SigV4Request& shape);

  // Appends to *out the Authorization header value of the shaped request sent with x-amz-date
  // `amz_date` ("yyyymmddThhmmssZ") and a payload whose lower-case hex SHA-256 is
  // `payload_sha256`. Fails only if OpenSSL does.
  Status append_authorization(std::string_view amz_date, std::string_view payload_sha256,
                              std::string* out);

 private:
  struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const;
  };
  struct MacCtxFree {
    void operator()(EVP_MAC_CTX* p) const;
  };

  SigV4FixedSigner() = default;
  Status set_date(std::string_view date);  // derives the key and scope for yyyymmdd `date`

  SigV4Credentials credentials_;
  std::string region_;
  std::string service_;
  // The canonical request is before_date_ + amz_date + after_date_ + payload hash.
  std::string before_date_;  // "POST\n/\n\ncontent-type:...\nx-amz-date:"
  std::string after_date_;   // "\nx-amz-target:...\n\ncontent-type;...\n"
  std::string signed_headers_;
  std::string key_date_;              // yyyymmdd the next three are for
  std::string scope_;                 // "yyyymmdd/region/service/aws4_request"
  std::string authorization_prefix_;  // "AWS4-HMAC-SHA256 Credential=..., Signature="
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> sha256_;
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> hmac_;  // keyed with key_date_'s signing key
  std::string scratch_;  // the canonical request, then the string to sign; reused
};

}  // namespace freshet::cli::bench

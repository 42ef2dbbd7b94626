// S3ObjectStore: an ObjectStore on any S3-compatible endpoint (AWS S3, MinIO, moto, Freshet),
// through libcurl with its built-in SigV4 signing (CURLOPT_AWS_SIGV4). Path-style requests.
//
// Supported: create_bucket, head_bucket, put_object (one PUT up to multipart_threshold, then
// a multipart upload of part_bytes parts, aborted on failure), head_object, get_object
// (ranges), delete_object. The other operations answer kInvalidArgument ("not supported by
// the S3 client"): delivery needs only these.
//
// Retries: connection errors, timeouts, 5xx and 429 are retried up to max_attempts with
// exponential backoff (100 ms doubling, capped at 2 s); other 4xx fail at once (NoSuchBucket
// -> kNotFound, AccessDenied -> kFailed, ...). Thread-safe: each call uses its own handle.
#pragma once

#include <memory>
#include <string>

#include "freshet/objstore/object_store.h"

namespace freshet::objstore {

struct S3StoreOptions {
  std::string endpoint;  // "http://127.0.0.1:9000" (no trailing slash)
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  int max_attempts = 5;
  uint64_t multipart_threshold = 16ull << 20;
  uint64_t part_bytes = 8ull << 20;  // S3's minimum part is 5 MiB
  long timeout_ms = 30'000;
};

// Fails if libcurl cannot be initialised or the endpoint is empty.
Result<std::unique_ptr<ObjectStore>> open_s3_store(S3StoreOptions options);

}  // namespace freshet::objstore

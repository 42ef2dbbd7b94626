// The S3 REST API (REST XML) over an ObjectStore: buckets, objects, ranges, conditional
// reads, copies, multipart uploads, aws-chunked uploads with trailing checksums.
//
// Requests reach it through HttpServer::set_rest_handler (requests without X-Amz-Target).
// Addressing: path-style (/bucket/key) and virtual-hosted-style (Host: bucket.localhost[:port]).
// Signatures are parsed by clients' conventions but not verified (as the rest of Freshet).
//
// Thread-safety: handle() may be called from any thread concurrently.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "freshet/api/http_server.h"
#include "freshet/metrics/registry.h"
#include "freshet/objstore/object_store.h"

namespace freshet::api {

struct S3ApiOptions {
  std::string region = "us-east-1";
  std::string owner_id = "000000000000";
  // Hosts whose first label names the bucket: "<bucket>.<suffix>[:port]".
  std::string virtual_host_suffix = "localhost";
};

class S3Api {
 public:
  S3Api(objstore::ObjectStore& store, metrics::Registry& metrics, S3ApiOptions options);
  ~S3Api();
  S3Api(const S3Api&) = delete;
  S3Api& operator=(const S3Api&) = delete;

  // Takes every request except a POST that names no S3 operation (declined: nullopt), so a
  // JSON-protocol POST without X-Amz-Target still gets the JSON protocols' answer.
  std::optional<RestResponse> handle(RestRequest& req);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::api

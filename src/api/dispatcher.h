// Internal: protocol dispatch for one AWS request, independent of the network code.
// Used by HttpServer (http_server.cc); exposed here so it can be unit-tested directly.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "freshet/api/aws_error.h"
#include "freshet/api/codec.h"
#include "freshet/api/event_stream.h"
#include "freshet/api/service.h"
#include "freshet/metrics/registry.h"

namespace freshet::api {

struct AwsRequest {
  std::string_view target;        // HTTP request target (path?query)
  std::string_view content_type;  // raw header value
  std::string_view amz_target;    // X-Amz-Target
  std::string_view authorization;
  bool has_date = false;  // X-Amz-Date or Date present
  bool has_security_token = false;
  std::string body;
  std::string remote_address;
  std::string request_id;
  // Runs a task on the thread that owns the connection (its executor), or inline when empty.
  // An asynchronous answer (which may arrive on the group-commit thread) is finished there:
  // deferred work, encoding and metrics stay off the thread that answered.
  std::function<void(std::function<void()>)> run_on_connection;
};

struct AwsResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string_view error_type;  // empty on success; else x-amzn-ErrorType
  std::string_view query_error;  // x-amzn-query-error (awsQueryCompatible services), or empty
  // Set for a streaming answer (StreamingBody): body is empty and the server sends what the
  // stream yields; it must cancel() the stream if the client goes away first.
  std::shared_ptr<ResponseStream> stream;
};

// Thread-safe after construction: all state is read-only or atomics/metrics handles.
class Dispatcher {
 public:
  Dispatcher(const ServiceRegistry& services, metrics::Registry& metrics, DecodeLimits limits);

  // Handles a POST request: done receives the response, inline for synchronous operations
  // and errors found before the handler, else from whichever thread the asynchronous handler
  // answers on. done must be quick (post to the connection's executor). req may be destroyed
  // once this returns.
  using Done = std::function<void(AwsResponse)>;
  void dispatch_async(AwsRequest& req, Done done) const;

  // dispatch_async, blocking until the response is there (tests, and callers on a thread that
  // may block).
  AwsResponse dispatch(AwsRequest& req) const;

  // True when the request names an asynchronous operation, whose synchronous part never
  // blocks: the server runs it on its io thread instead of the handler pool.
  bool runs_inline(const AwsRequest& req) const;

 private:
  struct Prepared;
  // The steps before a handler; each returns the error response when it fails. lookup finds
  // the operation and protocol and fills the context but its input; decode parses the body,
  // authenticates (after the syntax, as AWS orders its errors) and applies the shape.
  std::optional<AwsResponse> lookup(const AwsRequest& req, Prepared& p) const;
  // Not rendered: the raw path tries it first and leaves failures to decode().
  std::optional<ApiError> authenticate(const AwsRequest& req, RequestContext& ctx) const;
  std::optional<AwsResponse> decode(const AwsRequest& req, Prepared& p) const;
  AwsResponse finish(const Prepared& p, ApiResult result) const;

  struct OpMetrics {
    metrics::Counter* requests;
    metrics::Counter* raw_requests;  // taken by the operation's raw path
    metrics::Histogram* latency_ms;
  };
  AwsResponse error_response(const ApiError& e, Protocol p, std::string_view json_ct,
                             std::string_view service, std::string_view op,
                             bool count = true) const;
  void count_error(std::string_view service, std::string_view op, std::string_view type,
                   bool client) const;

  const ServiceRegistry& services_;
  metrics::Registry& metrics_;
  DecodeLimits limits_;
  std::unordered_map<const Operation*, OpMetrics> op_metrics_;  // built in the constructor
  metrics::Counter* unknown_requests_;
};

// The response to a request whose method is neither POST nor a GET route (and that no REST
// handler took): as AWS, such a request cannot name an operation: status 403, no Content-Type,
// the XML document <AccessDeniedException><Message>Unable to determine service/operation
// name to be authorized</Message></AccessDeniedException>. Used by HTTP/1.1 and HTTP/2.
AwsResponse unknown_method_response();

// CORS as AWS answers browsers (the AWS SDK for JavaScript in a web page). A request with an
// Origin gets Access-Control-Allow-Origin: * and, unless it is a preflight, the exposed
// headers below; a preflight (OPTIONS with Origin) gets status 200, an empty body, no
// x-amz-id-2, and its Access-Control-Request-Headers/-Method echoed with Max-Age 172800.
struct CorsRequest {
  std::string_view origin;
  std::string_view request_headers;  // Access-Control-Request-Headers
  std::string_view request_method;   // Access-Control-Request-Method
};
inline constexpr std::string_view kCorsExposeHeaders =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";
std::vector<std::pair<std::string_view, std::string_view>> cors_headers(const CorsRequest& c,
                                                                        bool preflight);

// Helpers shared with the server.
std::string make_uuid_v4(std::mt19937_64& rng);
std::string make_id2(std::mt19937_64& rng);
std::string http_date(std::chrono::system_clock::time_point t);

}  // namespace freshet::api

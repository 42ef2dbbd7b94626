// HttpServer: HTTP/1.1 and HTTP/2 cleartext (h2c, prior knowledge) front end for the AWS JSON
// 1.1 / CBOR 1.1 protocols (Boost.Beast; libnghttp2 for HTTP/2, see http2_session.h).
//
// Threads and ownership:
//  - start() opens the listener and runs `io_threads` threads, each on its own io_context.
//    Each connection is accepted onto one of them (round robin) and stays there: all of a
//    connection's state is touched only from that thread, with no strand. The
//    ServiceRegistry and GET routes are read-only after start().
//  - Handlers run on the io thread that read the request (they may block briefly; long
//    blocking stalls the other connections of that thread). Set HttpServerOptions::offload
//    to run synchronous handlers elsewhere: it receives a task to run on any thread; the
//    response is posted back to the connection's thread. Asynchronous operations (see
//    AsyncHandler) always run their non-blocking part on the io thread and answer later from
//    another thread (the group-commit thread for puts); the answer is posted to the connection's
//    thread.
//  - stop() closes the listener, stops the io_context and joins the threads. Handlers already
//    running finish; their responses may not be sent.
//
// Limits (all bytes read from the network are bounded): request headers `header_limit`
// (431 if exceeded); body `body_limit` (a Content-Length over it gets 413 before the body is
// read; chunked bodies are cut at the limit); each request must arrive completely within
// `read_timeout` of its first byte being awaited, which also closes idle keep-alive
// connections; at most `max_connections` open connections (others are closed on accept).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freshet/api/codec.h"
#include "freshet/api/service.h"
#include "freshet/common/result.h"
#include "freshet/metrics/registry.h"

namespace freshet::api {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port; see HttpServer::port()
  int io_threads = 2;
  size_t header_limit = 16 * 1024;
  size_t body_limit = 12 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{60'000};
  size_t max_connections = 1024;
  DecodeLimits decode_limits;  // max_input_bytes is clamped to body_limit
  // Optional: runs handler tasks off the io threads. Called on an io thread; must not block.
  std::function<void(std::function<void()>)> offload;
  // Body limit of requests without X-Amz-Target while a RestHandler is set (S3 PutObject and
  // UploadPart bodies); AWS JSON/CBOR requests keep body_limit.
  size_t rest_body_limit = 64 * 1024 * 1024;
};

// A request that names no X-Amz-Target operation (a REST protocol such as S3's REST XML).
// HTTP/1.1 only. Views point into the connection's request and stay valid for the call.
struct RestRequest {
  std::string_view method;  // "GET", "PUT", "HEAD", "DELETE", "POST", ...
  std::string_view target;  // path?query, as sent
  std::string_view host;    // Host header
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // as sent
  std::string body;
  std::string remote_address;
  std::string request_id;
  // First header with this name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct RestResponse {
  int status = 200;
  // Sent besides Content-Length, Date, x-amzn-RequestId and x-amz-id-2 (which the server
  // writes); Content-Type included if wanted.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set for responses to HEAD: the Content-Length to announce; no body is sent.
  std::optional<uint64_t> head_length;
  // Instead of body: bytes owned elsewhere (e.g. a mapped object file), kept alive by
  // body_owner until they are written. Used when body_owner is set.
  std::shared_ptr<const void> body_owner;
  std::string_view body_view;
};

// Takes a request without X-Amz-Target (any method, POST included, and GETs no GET route
// matched), or declines it (nullopt: the server answers as it would without a RestHandler).
// Runs where synchronous handlers run (HttpServerOptions::offload if set); may block.
using RestHandler = std::function<std::optional<RestResponse>(RestRequest&)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// target: the request target (path and query). Runs on an io thread.
using GetRoute = std::function<HttpResponse(std::string_view target)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, const ServiceRegistry& services,
             metrics::Registry& metrics);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers GET <path> (exact match, query ignored). Before start() only. Built in:
  // GET /metrics (Prometheus text) and GET /health (200 "ok"); both can be replaced.
  void add_get_route(std::string path, GetRoute route);

  // Sets the handler of requests without X-Amz-Target (see RestHandler). Before start() only.
  void set_rest_handler(RestHandler handler);

  // Binds and starts the io threads. Once only: a stopped server cannot be restarted.
  Status start();
  // The bound port (valid after a successful start()).
  uint16_t port() const;
  void stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::api

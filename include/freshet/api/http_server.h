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
};

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

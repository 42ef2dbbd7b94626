// Internal: HTTP/2 cleartext (h2c, prior knowledge) connections for HttpServer, on libnghttp2.
//
// HttpServer's HTTP/1.1 Session peeks at the first bytes of every new connection; if they are
// the client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" it hands the socket (and the bytes
// already read) to an Http2Session. Each HTTP/2 stream is one request and goes through the
// same path as HTTP/1.1: GET routes, unknown_method_response(), Dispatcher::dispatch.
//
// Threads and ownership:
//  - An Http2Session is owned by shared_ptrs held by its pending asynchronous operations
//    (socket read, socket write, timer) and by handler tasks in flight. Its socket and timer
//    are bound to the connection's executor (its io thread's io_context, which only that thread
//    runs, so it serialises like a strand).
//  - Every nghttp2 call and every member is used only on that strand. The one exception is
//    an offloaded handler task: it reads its own copy of the request (Pending) and the
//    thread-safe Http2Host, then posts the response back to the strand, where it is dropped
//    if the stream has been closed meanwhile.
//  - Destruction happens when the last reference drops (possibly on an offload thread); by
//    then no other thread can reach the object.
//  - Http2Sessions (the registry) is thread-safe; HttpServer::stop() uses it to send GOAWAY.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dispatcher.h"
#include "freshet/api/http_server.h"

namespace freshet::api {

// The HTTP/2 client connection preface (RFC 9113 section 3.4).
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Fixed HTTP/2 limits (the others come from HttpServerOptions: header_limit is advertised as
// SETTINGS_MAX_HEADER_LIST_SIZE and enforced with 431, body_limit per stream with 413,
// read_timeout per request and for idle connections).
inline constexpr uint32_t kHttp2MaxConcurrentStreams = 100;
inline constexpr int32_t kHttp2StreamWindow = 1 << 20;      // SETTINGS_INITIAL_WINDOW_SIZE
inline constexpr int32_t kHttp2ConnectionWindow = 8 << 20;  // connection receive window
inline constexpr size_t kHttp2BufferedBodiesPerLimit = 4;   // budget: 4 x body_limit

// What an Http2Session needs from the server. Implemented by HttpServer::Impl; thread-safe.
class Http2Sessions;
class Http2Host {
 public:
  virtual ~Http2Host() = default;
  virtual const HttpServerOptions& options() const = 0;
  virtual const Dispatcher& dispatcher() const = 0;
  // Runs one AWS request: on the calling io thread when its operation is asynchronous, else
  // on the offload pool if there is one. done gets the response from any thread. req must
  // stay alive until done has run. Thread-safe.
  virtual void run_request(AwsRequest& req, std::function<void(AwsResponse)> done) = 0;
  // The response of GET route `target` (path and query), or nullopt if no route matches.
  virtual std::optional<HttpResponse> get_route(std::string_view target) const = 0;
  // Counts a response that never reached the dispatcher (404, 413, 431).
  virtual void count_http_error(int status) = 0;
  virtual Http2Sessions& http2_sessions() = 0;
};

class Http2Session : public std::enable_shared_from_this<Http2Session> {
 public:
  // `socket` must be bound to the connection's strand. `initial` holds bytes already read
  // (starting with the preface). `owner` is kept alive until the session ends (HttpServer
  // uses it to keep the connection counted).
  Http2Session(boost::asio::ip::tcp::socket socket, Http2Host& host, std::string initial,
               std::string remote, std::shared_ptr<void> owner);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Registers with the host's Http2Sessions and starts on the strand.
  void start();
  // Sends GOAWAY (NO_ERROR) and closes once it is written. Any thread.
  void shutdown();

  struct Stream;  // one request/response exchange (defined in http2_session.cc)
  struct Callbacks;

 private:
  using Clock = std::chrono::steady_clock;

  void on_start();
  void do_read();
  void on_read(boost::system::error_code ec, size_t n);
  void do_write();
  void close();
  void note_deadline(Clock::time_point t);
  void on_timer();

  // Request handling (strand).
  void on_request_headers_done(Stream& s, bool end_stream);
  void on_request_complete(Stream& s);
  // preflight: a CORS preflight answer (its Access-Control-* fields, no x-amz-id-2).
  void respond(Stream& s, int status, std::string_view content_type, std::string body,
               std::string_view error_type, bool preflight = false,
               std::string_view query_error = {});
  void respond_plain(Stream& s, int status, std::string body);
  // A streaming answer (AwsResponse::stream): no content-length; DATA as the producer writes.
  void respond_stream(Stream& s, AwsResponse r);
  void reject_body(Stream& s, int status, std::string body);
  void on_handler_done(int32_t stream_id, AwsResponse r);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  Http2Host& host_;
  std::string remote_;
  std::shared_ptr<void> owner_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;  // open request streams
  std::string initial_;                                 // bytes read before the handoff, fed first
  std::array<uint8_t, 16 * 1024> rbuf_{};
  std::string wbuf_;  // the write in flight
  bool writing_ = false;
  bool closed_ = false;
  bool registered_ = false;
  size_t buffered_body_bytes_ = 0;  // request bytes held by open streams
  Clock::time_point idle_since_;
  Clock::time_point write_deadline_ = Clock::time_point::max();
  Clock::time_point timer_at_ = Clock::time_point::max();
  std::mt19937_64 rng_;
};

// Live HTTP/2 sessions, for GOAWAY on stop. Thread-safe.
class Http2Sessions {
 public:
  void add(const std::shared_ptr<Http2Session>& s);
  void remove(Http2Session* s);
  // Sends GOAWAY on every live session and waits until all have closed or `timeout` passed.
  void goaway_all(std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Http2Session*, std::weak_ptr<Http2Session>> live_;
};

}  // namespace freshet::api

#include "freshet/api/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "freshet/common/thread_name.h"

#include "dispatcher.h"
#include "http2_session.h"

namespace freshet::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session;

class HttpServer::Impl : public Http2Host {
 public:
  Impl(HttpServerOptions options, const ServiceRegistry& services, metrics::Registry& metrics)
      : options_(std::move(options)), services_(services), metrics_(metrics) {
    options_.decode_limits.max_input_bytes =
        std::min(options_.decode_limits.max_input_bytes, options_.body_limit);
    if (options_.io_threads < 1) options_.io_threads = 1;
    conn_open_ = metrics_.gauge("freshet_api_connections_open", {}, "Open HTTP connections");
    conn_total_ =
        metrics_.counter("freshet_api_connections_total", {}, "Accepted HTTP connections");
    conn_rejected_ = metrics_.counter("freshet_api_connections_rejected_total", {},
                                      "Connections closed at accept: max_connections reached");
    http2_total_ = metrics_.counter("freshet_api_http2_connections_total", {},
                                    "Accepted connections that spoke HTTP/2 (h2c)");
    routes_["/metrics"] = [this](std::string_view) {
      return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                          metrics_.render_prometheus()};
    };
    routes_["/health"] = [](std::string_view) { return HttpResponse{200, "text/plain", "ok\n"}; };
  }

  ~Impl() { stop(); }

  Status start();
  void stop();
  void do_accept();

  // Http2Host (thread-safe).
  const HttpServerOptions& options() const override { return options_; }
  const Dispatcher& dispatcher() const override { return *dispatcher_; }
  std::optional<HttpResponse> get_route(std::string_view target) const override {
    std::string_view path = target.substr(0, target.find('?'));
    auto it = routes_.find(path);
    if (it == routes_.end()) return std::nullopt;
    return it->second(target);
  }
  Http2Sessions& http2_sessions() override { return http2_sessions_; }

  void run_request(AwsRequest& req, std::function<void(AwsResponse)> done) override {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    auto counted = [this, done = std::move(done)](AwsResponse r) {
      done(std::move(r));
      in_flight_.fetch_sub(1, std::memory_order_release);
    };
    const Dispatcher& d = *dispatcher_;
    // Asynchronous operations (puts, which then wait for their fsync without a thread) run
    // their non-blocking part here; the others may block, so they go to the pool.
    if (options_.offload && !d.runs_inline(req)) {
      options_.offload([&d, &req, counted = std::move(counted)]() mutable {
        d.dispatch_async(req, std::move(counted));
      });
      return;
    }
    d.dispatch_async(req, std::move(counted));
  }

  // Counts responses that never reach the dispatcher (400, 404, 413, 431 ...).
  void count_http_error(int status) override {
    metrics_
        .counter("freshet_api_http_errors_total", {{"status", std::to_string(status)}},
                 "HTTP-level error responses (malformed requests, limits)")
        ->inc();
  }

  HttpServerOptions options_;
  const ServiceRegistry& services_;
  metrics::Registry& metrics_;
  std::map<std::string, GetRoute, std::less<>> routes_;  // read-only after start()
  RestHandler rest_;                                     // read-only after start()
  std::unique_ptr<Dispatcher> dispatcher_;               // created in start()
  Http2Sessions http2_sessions_;                         // live HTTP/2 connections
  metrics::Counter* http2_total_;
  metrics::Gauge* conn_open_;
  metrics::Counter* conn_total_;
  metrics::Counter* conn_rejected_;
  std::atomic<size_t> connections_{0};
  // Requests handed to the dispatcher whose response has not been delivered yet; stop()
  // waits for them, since asynchronous ones answer from threads this server does not own.
  std::atomic<size_t> in_flight_{0};
  uint16_t port_ = 0;
  bool running_ = false;

  bool stopped_ = false;

  // One io_context per io thread, each run by that thread alone: a connection is accepted
  // onto one of them (round robin) and stays there, so its state needs no strand. Destroyed
  // after acceptor_/threads_ but before everything above, so pending handlers (which hold
  // Sessions that point back into this Impl) die while those members are alive.
  std::vector<std::unique_ptr<asio::io_context>> iocs_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;  // on iocs_[0]; used only from its thread
  size_t next_ioc_ = 0;                    // acceptor's thread only
  std::vector<std::thread> threads_;
};

// One HTTP/1.1 connection. It lives on one io thread's io_context (run by that thread alone),
// so every member is used from that thread only and no strand is needed; an offloaded handler
// task reads only `server_` (thread-safe), and answers come back through dispatch() onto the
// connection's context.
//
// Reading: bytes are read into buffer_ and fed to Beast's parser directly (put), so a request
// that arrives in one segment costs one read and no extra trip through the scheduler.
// Writing: the response head is formatted into head_ and sent with the body in one writev.
// Deadlines: one timer per connection, armed lazily: moving the deadline only stores it; the
// timer re-arms itself for the stored deadline when it fires early.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Executor = asio::io_context::executor_type;
  using Socket = asio::basic_stream_socket<tcp, Executor>;

  Session(Socket socket, HttpServer::Impl& server)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        server_(server),
        rng_(std::random_device{}()) {
    beast::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(tcp::no_delay(true), ec);
    server_.conn_open_->inc();
  }
  ~Session() {
    if (stream_) stream_->cancel();
    server_.conn_open_->dec();
    server_.connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->detect(); });
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kReadSize = 16 * 1024;

  // First request only: reads until the bytes rule out the HTTP/2 client preface (HTTP/1.x:
  // "POST " differs at the second byte) or complete it (h2c with prior knowledge). Bytes
  // read stay in buffer_, which Beast's parser or the Http2Session consumes first.
  void detect() {
    std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    size_t n = std::min(have.size(), kHttp2Preface.size());
    // do_read keeps the deadline set here: the request must still arrive within read_timeout.
    if (have.substr(0, n) != kHttp2Preface.substr(0, n)) return do_read(/*new_deadline=*/false);
    if (have.size() >= kHttp2Preface.size()) return start_http2();
    if (have.empty()) set_deadline(server_.options_.read_timeout);
    socket_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, size_t got) {
                              if (ec) return self->on_read_error(ec);
                              self->buffer_.commit(got);
                              self->detect();
                            });
  }

  // Hands the socket to an Http2Session on the same io thread. This Session stays alive (and
  // the connection counted) until the Http2Session ends.
  void start_http2() {
    clear_deadline();
    timer_.cancel();
    server_.http2_total_->inc();
    std::string initial(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.clear();
    std::make_shared<Http2Session>(tcp::socket(std::move(socket_)), server_, std::move(initial),
                                   remote_, shared_from_this())
        ->start();
  }

  void do_read(bool new_deadline = true) {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.header_limit));
    parser_->body_limit(
        server_.rest_ ? std::max(server_.options_.body_limit, server_.options_.rest_body_limit)
                      : server_.options_.body_limit);
    parser_->eager(true);
    header_seen_ = false;
    // One deadline for the whole request, header and body: slow and half-open clients and
    // idle keep-alive connections are closed when it expires.
    if (new_deadline) set_deadline(server_.options_.read_timeout);
    parse();
  }

  // Feeds the buffered bytes to the parser; reads more while the request is incomplete.
  void parse() {
    while (buffer_.size() != 0 && !parser_->is_done()) {
      beast::error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;  // an incomplete header: read more
      if (ec) return on_read_error(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return on_request();
    if (parser_->is_header_done() && !header_seen_) {
      header_seen_ = true;
      // The larger REST body limit is only for requests without X-Amz-Target.
      if (server_.rest_ && parser_->get().count("X-Amz-Target") != 0) {
        auto len = parser_->content_length();
        if (len && *len > server_.options_.body_limit) {
          return send_plain(413, "Request Entity Too Large\n", true);
        }
        parser_->body_limit(server_.options_.body_limit);
      }
      if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->close();
                            self->read_more();
                          });
        return;
      }
    }
    read_more();
  }

  void read_more() {
    socket_.async_read_some(buffer_.prepare(kReadSize),
                            [self = shared_from_this()](beast::error_code ec, size_t got) {
                              if (ec) return self->on_read_error(ec);
                              self->buffer_.commit(got);
                              self->parse();
                            });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == http::error::partial_message) {
      return close();
    }
    if (ec == http::error::header_limit) {
      return send_plain(431, "Request Header Fields Too Large\n", true);
    }
    if (ec == http::error::body_limit) return send_plain(413, "Request Entity Too Large\n", true);
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      return send_plain(400, "Bad Request\n", true);  // malformed request line or headers
    }
    close();
  }

  void on_request() {
    clear_deadline();
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    request_id_ = make_uuid_v4(rng_);
    origin_ = std::string(request_[http::field::origin]);
    // A browser's preflight for an AWS JSON call (it names X-Amz-Target among the headers it
    // will send) is answered here; other preflights go to the REST handler first, if any.
    if (request_.method() == http::verb::options && !origin_.empty() &&
        (!server_.rest_ || asks_for_amz_target())) {
      return send_preflight();
    }
    if (server_.rest_ && request_.count("X-Amz-Target") == 0 &&
        (request_.method() != http::verb::get || !server_.get_route(request_.target()))) {
      return handle_rest();
    }
    if (request_.method() == http::verb::get) return handle_get();
    if (request_.method() != http::verb::post) {
      // As AWS: a non-POST request cannot name an operation.
      return send_aws(unknown_method_response());
    }
    dispatch_post();
  }

  void dispatch_post() {
    auto req = std::make_shared<AwsRequest>();
    req->target = request_.target();
    req->content_type = request_[http::field::content_type];
    req->amz_target = request_["X-Amz-Target"];
    req->authorization = request_[http::field::authorization];
    req->has_date = request_.count("X-Amz-Date") || request_.count(http::field::date);
    req->has_security_token = request_.count("X-Amz-Security-Token") > 0;
    req->body = std::move(request_.body());
    req->remote_address = remote_;
    req->request_id = request_id_;
    req->run_on_connection = [ex = socket_.get_executor()](std::function<void()> task) {
      asio::dispatch(ex, std::move(task));
    };

    // The string_views in *req point into request_, which stays untouched until the response
    // is back on this connection's thread.
    server_.run_request(*req, [self = shared_from_this(), req](AwsResponse r) {
      asio::dispatch(self->socket_.get_executor(),
                     [self, r = std::move(r)]() mutable { self->send_aws(std::move(r)); });
    });
  }

  // A request without X-Amz-Target while a RestHandler is set: it runs where synchronous
  // handlers run; if it declines, the request takes the path it would take without one.
  void handle_rest() {
    auto req = std::make_shared<RestRequest>();
    req->method = request_.method_string();
    req->target = request_.target();
    req->host = request_[http::field::host];
    for (const auto& f : request_) req->headers.emplace_back(f.name_string(), f.value());
    req->body = std::move(request_.body());
    req->remote_address = remote_;
    req->request_id = request_id_;
    auto task = [self = shared_from_this(), req]() {
      std::optional<RestResponse> r = self->server_.rest_(*req);
      asio::dispatch(self->socket_.get_executor(), [self, req, r = std::move(r)]() mutable {
        if (r) return self->send_rest(std::move(*r));
        request_body_back(*self, *req);
        self->decline_rest();
      });
    };
    if (server_.options_.offload) return server_.options_.offload(std::move(task));
    task();
  }

  static void request_body_back(Session& s, RestRequest& req) {
    s.request_.body() = std::move(req.body);
  }

  // The answer without a RestHandler (GET routes were checked before).
  void decline_rest() {
    if (request_.method() == http::verb::options && !origin_.empty()) return send_preflight();
    if (request_.method() == http::verb::get) return send_aws(unknown_method_response());
    if (request_.method() != http::verb::post) return send_aws(unknown_method_response());
    dispatch_post();
  }

  void send_rest(RestResponse r) {
    std::string_view ct;
    for (const auto& [k, v] : r.headers) {
      if (beast::iequals(k, "Content-Type")) ct = v;
    }
    extra_headers_.clear();
    for (const auto& [k, v] : r.headers) {
      if (beast::iequals(k, "Content-Type")) continue;
      extra_headers_.append(k).append(": ").append(v).append("\r\n");
    }
    head_length_ = r.head_length;
    if (r.head_length) r.body.clear();
    if (r.body_owner && !r.head_length) {
      body_owner_ = std::move(r.body_owner);
      body_view_ = r.body_view;
      head_length_ = body_view_.size();
    }
    write(r.status, ct, {}, std::move(r.body), false);
  }

  bool asks_for_amz_target() const {
    std::string h(request_[http::field::access_control_request_headers]);
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return h.find("x-amz-target") != std::string::npos;
  }

  void send_preflight() {
    const CorsRequest c{origin_, request_[http::field::access_control_request_headers],
                        request_[http::field::access_control_request_method]};
    extra_headers_.clear();
    for (const auto& [k, v] : cors_headers(c, /*preflight=*/true)) {
      extra_headers_.append(k).append(": ").append(v).append("\r\n");
    }
    omit_id2_ = true;
    write(200, {}, {}, std::string(), false);
  }

  // As AWS, every answer to a request with an Origin allows it and exposes AWS's headers.
  void add_cors() {
    if (origin_.empty()) return;
    for (const auto& [k, v] : cors_headers(CorsRequest{origin_, {}, {}}, false)) {
      extra_headers_.append(k).append(": ").append(v).append("\r\n");
    }
  }

  void handle_get() {
    std::optional<HttpResponse> found = server_.get_route(request_.target());
    if (!found) return send_aws(unknown_method_response());  // as AWS: no operation named
    write(found->status, found->content_type, {}, std::move(found->body), false);
  }

  void send_aws(AwsResponse r) {
    add_cors();
    if (r.stream) return send_stream(std::move(r));
    if (!r.query_error.empty()) {
      extra_headers_.append("x-amzn-query-error: ").append(r.query_error).append("\r\n");
    }
    write(r.status, r.content_type, r.error_type, std::move(r.body), false);
  }

  // A streaming answer: the head with Transfer-Encoding: chunked and Connection: close, then
  // one chunk per take() of the producer's bytes, then the last chunk, then the connection
  // closes (a client reconnects for its next call, as after any Connection: close).
  // Meanwhile a read watches for the client closing the connection (it sends nothing while
  // it waits for this response), so the producer learns at once that nobody listens.
  void send_stream(AwsResponse r) {
    if (closed_) return r.stream->cancel();
    stream_ = std::move(r.stream);
    keep_alive_ = false;
    format_head(r.status, r.content_type, {}, 0, false, /*chunked=*/true);
    body_.clear();
    stream_writing_ = true;
    set_deadline(server_.options_.read_timeout);
    asio::async_write(socket_, asio::buffer(head_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->stream_writing_ = false;
                        if (ec) return self->close();
                        self->clear_deadline();
                        std::weak_ptr<Session> weak = self;
                        self->stream_->set_on_ready([weak, ex = self->socket_.get_executor()] {
                          asio::post(ex, [weak] {
                            if (auto s = weak.lock()) s->pump_stream();
                          });
                        });
                        self->watch_close();
                        self->pump_stream();
                      });
  }

  // Reads (and drops, bounded) whatever the client sends during a stream; EOF or an error
  // means it went away.
  void watch_close() {
    if (closed_ || !stream_) return;
    socket_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->watch_close();
                            });
  }

  void pump_stream() {
    if (closed_ || !stream_ || stream_writing_) return;
    ResponseStream::Taken t = stream_->take(1u << 20);
    if (t.bytes.empty() && !t.ended) return;  // on_ready calls again
    body_.clear();
    if (!t.bytes.empty()) {
      char size[24];
      body_.append(
          size, static_cast<size_t>(std::snprintf(size, sizeof(size), "%zx\r\n", t.bytes.size())));
      body_.append(t.bytes);
      body_.append("\r\n");
    }
    if (t.ended) body_.append("0\r\n\r\n");
    stream_writing_ = true;
    set_deadline(server_.options_.read_timeout);  // a reader that stops reading is closed
    asio::async_write(socket_, asio::buffer(body_),
                      [self = shared_from_this(), ended = t.ended](beast::error_code ec, size_t) {
                        self->stream_writing_ = false;
                        if (ec || ended) return self->close();
                        self->clear_deadline();
                        self->pump_stream();
                      });
  }

  void send_plain(int status, std::string body, bool close) {
    server_.count_http_error(status);
    if (request_id_.empty()) request_id_ = make_uuid_v4(rng_);
    write(status, "text/plain", {}, std::move(body), close);
  }

  // The status line and headers, as Beast would write them for these fields.
  void format_head(int status, std::string_view content_type, std::string_view error_type,
                   size_t body_size, bool keep, bool chunked = false) {
    auto now = std::chrono::system_clock::now();
    auto second = std::chrono::time_point_cast<std::chrono::seconds>(now);
    if (second != date_second_) {
      date_second_ = second;
      date_ = http_date(now);
    }
    std::string& h = head_;
    h.clear();
    h.append("HTTP/1.1 ");
    h.append(std::to_string(status));
    h.push_back(' ');
    std::string_view reason = http::obsolete_reason(static_cast<http::status>(status));
    h.append(reason.data(), reason.size());
    h.append("\r\n");
    // REST responses: their own headers (and a Content-Type only if they set one).
    h.append(extra_headers_);
    extra_headers_.clear();
    if (!content_type.empty()) {
      h.append("Content-Type: ");
      h.append(content_type);
      h.append("\r\n");
    }
    h.pop_back();
    h.pop_back();
    if (!error_type.empty()) {
      h.append("\r\nx-amzn-ErrorType: ");
      h.append(error_type);
    }
    h.append("\r\nx-amzn-RequestId: ");
    h.append(request_id_);
    if (!omit_id2_) {
      h.append("\r\nx-amz-id-2: ");
      h.append(make_id2(rng_));
    }
    omit_id2_ = false;
    h.append("\r\nDate: ");
    h.append(date_);
    if (chunked) {
      h.append("\r\nTransfer-Encoding: chunked");
    } else {
      h.append("\r\nContent-Length: ");
      h.append(std::to_string(head_length_ ? *head_length_ : body_size));
    }
    head_length_.reset();
    if (!keep) h.append("\r\nConnection: close");
    h.append("\r\n\r\n");
  }

  void write(int status, std::string_view content_type, std::string_view error_type,
             std::string body, bool close) {
    bool keep = !close && keep_alive_;
    format_head(status, content_type, error_type, body.size(), keep);
    body_ = std::move(body);
    set_deadline(server_.options_.read_timeout);
    std::array<asio::const_buffer, 2> bufs{
        asio::buffer(head_), body_owner_ ? asio::const_buffer(body_view_.data(), body_view_.size())
                                         : asio::const_buffer(body_.data(), body_.size())};
    asio::async_write(socket_, bufs,
                      [self = shared_from_this(), keep](beast::error_code ec, size_t) {
                        self->body_owner_.reset();
                        self->body_view_ = {};
                        if (ec || !keep) return self->close();
                        self->request_id_.clear();
                        self->do_read();
                      });
  }

  // Moves the deadline; arms the timer if it is not armed (an armed timer that fires before
  // the deadline re-arms itself).
  void set_deadline(std::chrono::milliseconds d) {
    deadline_ = Clock::now() + d;
    if (timer_armed_ || closed_) return;
    timer_armed_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
  }
  void clear_deadline() { deadline_ = Clock::time_point::max(); }

  void on_timer(beast::error_code ec) {
    timer_armed_ = false;
    if (ec || closed_ || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() < deadline_) {
      timer_armed_ = true;
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](beast::error_code e) { self->on_timer(e); });
      return;
    }
    close();  // the request (or the write) took too long: pending operations are aborted
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (stream_) {
      stream_->cancel();  // no-op if it ended
      stream_.reset();
    }
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
    timer_.cancel();
  }

  Socket socket_;
  asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  HttpServer::Impl& server_;
  std::mt19937_64 rng_;  // request ids; per connection, no shared state
  std::string remote_;
  std::string request_id_;
  std::string head_;                     // the response being written: head_ then body_
  std::string origin_;                   // the request's Origin header (CORS), "" if none
  bool omit_id2_ = false;                // the next head has no x-amz-id-2 (CORS preflight answers)
  std::string extra_headers_;            // REST response headers for the next format_head
  std::optional<uint64_t> head_length_;  // Content-Length of a HEAD response (no body)
  std::shared_ptr<const void> body_owner_;  // keeps body_view_ alive while it is written
  std::string_view body_view_;              // a REST body owned elsewhere (mapped file)
  std::string body_;
  std::string date_;  // Date header value, recomputed when the second changes
  std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds> date_second_{};
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_armed_ = false;
  bool header_seen_ = false;
  bool keep_alive_ = true;
  bool closed_ = false;
  std::shared_ptr<ResponseStream> stream_;  // a streaming answer being sent
  bool stream_writing_ = false;
};

Status HttpServer::Impl::start() {
  if (running_ || stopped_) return Error(ErrorCode::kFailed, "server already started");
  dispatcher_ = std::make_unique<Dispatcher>(services_, metrics_, options_.decode_limits);
  beast::error_code ec;
  auto addr = asio::ip::make_address(options_.host, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "bad listen address " + options_.host);
  for (int i = 0; i < options_.io_threads; ++i) {
    // Concurrency hint 1: each context is run by one thread (posts from others stay safe).
    iocs_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(asio::make_work_guard(*iocs_.back()));
  }
  acceptor_.emplace(*iocs_[0]);
  tcp::endpoint ep(addr, options_.port);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return Error(ErrorCode::kIoError, "listen on " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  running_ = true;
  do_accept();
  for (auto& ioc : iocs_) {
    threads_.emplace_back([c = ioc.get()] {
      name_this_thread("http-io");
      c->run();
    });
  }
  return Status();
}

void HttpServer::Impl::do_accept() {
  asio::io_context& target = *iocs_[next_ioc_++ % iocs_.size()];
  acceptor_->async_accept(target, [this](beast::error_code ec, Session::Socket s) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) {
      size_t n = connections_.fetch_add(1, std::memory_order_relaxed);
      if (n >= options_.max_connections) {
        connections_.fetch_sub(1, std::memory_order_relaxed);
        conn_rejected_->inc();
        beast::error_code ignored;
        s.close(ignored);
      } else {
        conn_total_->inc();
        std::make_shared<Session>(std::move(s), *this)->start();
      }
    }
    do_accept();
  });
}

void HttpServer::Impl::stop() {
  if (!running_) return;
  // HTTP/2 connections get GOAWAY; streams already started may finish meanwhile.
  http2_sessions_.goaway_all(
      std::min<std::chrono::milliseconds>(options_.read_timeout, std::chrono::seconds(1)));
  running_ = false;
  stopped_ = true;  // not restartable: the io_context has been stopped
  // Let requests in flight deliver their responses (bounded: a handler that never answers
  // must not hang shutdown).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (in_flight_.load(std::memory_order_acquire) != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  work_.clear();
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  beast::error_code ec;
  acceptor_->close(ec);  // no io thread runs any more
}

HttpServer::HttpServer(HttpServerOptions options, const ServiceRegistry& services,
                       metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), services, metrics)) {}

HttpServer::~HttpServer() = default;

void HttpServer::add_get_route(std::string path, GetRoute route) {
  impl_->routes_[std::move(path)] = std::move(route);
}

void HttpServer::set_rest_handler(RestHandler handler) { impl_->rest_ = std::move(handler); }

std::string_view RestRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

bool RestRequest::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return true;
  }
  return false;
}

Status HttpServer::start() { return impl_->start(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::stop() { impl_->stop(); }

}  // namespace freshet::api

#include "freshet/api/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <random>
#include <thread>

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

  // Destroyed after acceptor_/threads_ but before everything above, so pending handlers
  // (which hold Sessions that point back into this Impl) die while those members are alive.
  asio::io_context ioc_;
  std::optional<tcp::acceptor> acceptor_;  // used only from the acceptor strand
  std::vector<std::thread> threads_;
};

// One connection. All members are used only on the connection's strand (the stream's
// executor), except that an offloaded handler task reads `server_` (thread-safe).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server), rng_(std::random_device{}()) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    server_.conn_open_->inc();
  }
  ~Session() {
    server_.conn_open_->dec();
    server_.connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->detect(); });
  }

 private:
  using Response = http::response<http::string_body>;

  // First request only: reads until the bytes rule out the HTTP/2 client preface (HTTP/1.x:
  // "POST " differs at the second byte) or complete it (h2c with prior knowledge). Bytes
  // read stay in buffer_, which Beast's parser or the Http2Session consumes first.
  void detect() {
    std::string_view have(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    size_t n = std::min(have.size(), kHttp2Preface.size());
    // do_read keeps the deadline set here: the request must still arrive within read_timeout.
    if (have.substr(0, n) != kHttp2Preface.substr(0, n)) return do_read(/*new_deadline=*/false);
    if (have.size() >= kHttp2Preface.size()) return start_http2();
    if (have.empty()) stream_.expires_after(server_.options_.read_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, size_t got) {
                              if (ec) return self->on_read_error(ec);
                              self->buffer_.commit(got);
                              self->detect();
                            });
  }

  // Hands the socket to an Http2Session on the same strand. This Session stays alive (and
  // the connection counted) until the Http2Session ends.
  void start_http2() {
    stream_.expires_never();
    server_.http2_total_->inc();
    std::string initial(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.clear();
    std::make_shared<Http2Session>(stream_.release_socket(), server_, std::move(initial), remote_,
                                   shared_from_this())
        ->start();
  }

  void do_read(bool new_deadline = true) {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.header_limit));
    parser_->body_limit(server_.options_.body_limit);
    // One deadline for the whole request, header and body: slow and half-open clients and
    // idle keep-alive connections are closed when it expires.
    if (new_deadline) stream_.expires_after(server_.options_.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    auto& req = parser_->get();
    if (auto len = parser_->content_length(); len && *len > server_.options_.body_limit) {
      return send_plain(413, "Request Entity Too Large\n", /*close=*/true);
    }
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, size_t) {
                          if (wec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::header_limit) {
      return send_plain(431, "Request Header Fields Too Large\n", true);
    }
    if (ec == http::error::body_limit) return send_plain(413, "Request Entity Too Large\n", true);
    if (ec == http::error::partial_message) return close();
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      return send_plain(400, "Bad Request\n", true);  // malformed request line or headers
    }
    close();
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    request_id_ = make_uuid_v4(rng_);
    if (request_.method() == http::verb::get) return handle_get();
    if (request_.method() != http::verb::post) {
      // As AWS: a non-POST request cannot name an operation.
      return send_aws(unknown_method_response());
    }

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

    // The string_views in *req point into request_, which stays untouched until the response
    // is back on this strand.
    server_.run_request(*req, [self = shared_from_this(), req](AwsResponse r) {
      asio::dispatch(self->stream_.get_executor(),
                     [self, r = std::move(r)]() mutable { self->send_aws(std::move(r)); });
    });
  }

  void handle_get() {
    std::optional<HttpResponse> found = server_.get_route(request_.target());
    if (!found) return send_plain(404, "Not Found\n", false);
    HttpResponse& r = *found;
    auto res = std::make_shared<Response>(static_cast<http::status>(r.status), 11);
    res->set(http::field::content_type, r.content_type);
    res->body() = std::move(r.body);
    write(std::move(res), false);
  }

  void send_aws(AwsResponse r) {
    auto res = std::make_shared<Response>(static_cast<http::status>(r.status), 11);
    res->set(http::field::content_type, r.content_type);
    if (!r.error_type.empty()) res->set("x-amzn-ErrorType", r.error_type);
    res->body() = std::move(r.body);
    write(std::move(res), false);
  }

  void send_plain(int status, std::string body, bool close) {
    server_.count_http_error(status);
    if (request_id_.empty()) request_id_ = make_uuid_v4(rng_);
    auto res = std::make_shared<Response>(static_cast<http::status>(status), 11);
    res->set(http::field::content_type, "text/plain");
    res->body() = std::move(body);
    write(std::move(res), close);
  }

  void write(std::shared_ptr<Response> res, bool close) {
    res->set("x-amzn-RequestId", request_id_);
    res->set("x-amz-id-2", make_id2(rng_));
    res->set(http::field::date, http_date(std::chrono::system_clock::now()));
    bool keep = !close && keep_alive_;
    res->keep_alive(keep);
    res->prepare_payload();
    stream_.expires_after(server_.options_.read_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
                        if (ec || !keep) return self->close();
                        self->request_id_.clear();
                        self->do_read();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  HttpServer::Impl& server_;
  std::mt19937_64 rng_;  // request ids; per connection, no shared state
  std::string remote_;
  std::string request_id_;
  bool keep_alive_ = true;
};

Status HttpServer::Impl::start() {
  if (running_ || stopped_) return Error(ErrorCode::kFailed, "server already started");
  dispatcher_ = std::make_unique<Dispatcher>(services_, metrics_, options_.decode_limits);
  beast::error_code ec;
  auto addr = asio::ip::make_address(options_.host, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "bad listen address " + options_.host);
  acceptor_.emplace(asio::make_strand(ioc_));
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
  for (int i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  return Status();
}

void HttpServer::Impl::do_accept() {
  acceptor_->async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
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
  ioc_.stop();
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

Status HttpServer::start() { return impl_->start(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::stop() { impl_->stop(); }

}  // namespace freshet::api

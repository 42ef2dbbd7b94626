// HTTP/2 cleartext (h2c, prior knowledge) on the real HttpServer: starts it on 127.0.0.1:0
// with a test service and drives it with an independent client built on nghttp2's client API
// (and, if installed, Node's http2 module), plus HTTP/1.1 on the same server.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "freshet/api/codec.h"
#include "freshet/api/http_server.h"

namespace freshet::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=00";

struct H2Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // last value of each field
  std::string body;
  bool closed = false;
  uint32_t close_error = 0;  // error code of the stream close (RST_STREAM or NO_ERROR)
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A small blocking HTTP/2 client on nghttp2's client session API.
class H2Client {
 public:
  // peer_max_streams: how many concurrent streams the client assumes before it has read the
  // server's SETTINGS (nghttp2's default is 100).
  explicit H2Client(uint16_t port, uint32_t peer_max_streams = 100) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs,
        [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v,
           size_t vl, uint8_t, void* u) -> int {
          auto& r = static_cast<H2Client*>(u)->responses[f->hd.stream_id];
          std::string name(reinterpret_cast<const char*>(n), nl);
          std::string value(reinterpret_cast<const char*>(v), vl);
          if (name == ":status") r.status = std::stoi(value);
          r.headers[name] = value;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs,
        [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* u) -> int {
          static_cast<H2Client*>(u)->responses[id].body.append(reinterpret_cast<const char*>(d),
                                                               len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t id, uint32_t code, void* u) -> int {
          auto& r = static_cast<H2Client*>(u)->responses[id];
          r.closed = true;
          r.close_error = code;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
          auto* c = static_cast<H2Client*>(u);
          if (f->hd.type == NGHTTP2_GOAWAY) {
            c->goaway = true;
            c->goaway_error = f->goaway.error_code;
          }
          if (f->hd.type == NGHTTP2_SETTINGS && (f->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
            for (size_t i = 0; i < f->settings.niv; ++i) {
              c->settings[f->settings.iv[i].settings_id] = f->settings.iv[i].value;
            }
          }
          return 0;
        });
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_peer_max_concurrent_streams(opt, peer_max_streams);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, 1);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  // Submits a request; body == nullopt sends HEADERS with END_STREAM. With hold_body the body
  // is never finished (the stream stays open). Returns the stream id.
  int32_t submit(std::string method, std::string path, Headers headers,
                 std::optional<std::string> body = std::nullopt, bool content_length = true,
                 bool hold_body = false) {
    std::vector<std::pair<std::string, std::string>> all = {
        {":method", method}, {":scheme", "http"}, {":authority", "localhost"}, {":path", path}};
    for (auto& h : headers) all.push_back(h);
    if (body && content_length) all.emplace_back("content-length", std::to_string(body->size()));
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : all) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider prd{};
    nghttp2_data_provider* p = nullptr;
    if (body) {
      bodies_.push_back(std::make_unique<Body>(Body{std::move(*body), 0, hold_body}));
      prd.source.ptr = bodies_.back().get();
      prd.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source* src, void*) -> ssize_t {
        auto* b = static_cast<Body*>(src->ptr);
        size_t n = std::min(len, b->data.size() - b->off);
        std::memcpy(buf, b->data.data() + b->off, n);
        b->off += n;
        if (b->off == b->data.size()) {
          if (b->hold)
            return n > 0 ? static_cast<ssize_t>(n) : static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED);
          *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
      };
      p = &prd;
    }
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), p, nullptr);
    EXPECT_GT(id, 0);
    responses[id];
    return id;
  }

  int32_t aws(std::string target, std::string body, std::string ct = "application/x-amz-json-1.1") {
    return submit("POST", "/",
                  {{"content-type", ct},
                   {"x-amz-target", target},
                   {"x-amz-date", "20250101T000000Z"},
                   {"authorization", kAuth}},
                  std::move(body));
  }

  // Exchanges frames until done() or the server closes or `timeout` passes.
  bool pump(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      flush();
      if (done()) return true;
      if (eof || std::chrono::steady_clock::now() > deadline) return done();
      pollfd pfd{socket_.native_handle(), POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      uint8_t buf[16384];
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) {
        eof = true;
        continue;
      }
      if (nghttp2_session_mem_recv(session_, buf, n) < 0) eof = true;
    }
  }

  bool wait_all(std::chrono::milliseconds timeout = 5s) {
    return pump(
        [&] {
          for (auto& [id, r] : responses) {
            if (!r.closed) return false;
          }
          return true;
        },
        timeout);
  }

  void flush() {
    while (true) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) return;
      boost::system::error_code ec;
      asio::write(socket_, asio::buffer(data, static_cast<size_t>(n)), ec);
      if (ec) {
        eof = true;
        return;
      }
    }
  }

  std::map<int32_t, H2Response> responses;
  std::map<int32_t, uint32_t> settings;
  bool goaway = false;
  uint32_t goaway_error = 0;
  bool eof = false;

 private:
  struct Body {
    std::string data;
    size_t off;
    bool hold;
  };
  asio::io_context ioc_;
  tcp::socket socket_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Body>> bodies_;
};

class Http2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(services_.add_service("Kinesis_20131202", "kinesis").ok());
    ShapeHint echo_shape;
    echo_shape.blob("Data").timestamp("Timestamp");
    ASSERT_TRUE(services_
                    .add_operation("Kinesis_20131202", "Echo", echo_shape,
                                   [this](RequestContext& ctx) -> ApiResult {
                                     handler_threads_seen(ctx);
                                     Document out = ctx.input;
                                     out.set("Region", ctx.region);
                                     out.set("RequestId", ctx.request_id);
                                     return out;
                                   })
                    .ok());
    ASSERT_TRUE(services_
                    .add_operation("Kinesis_20131202", "DescribeStream", {},
                                   [](RequestContext& ctx) -> ApiResult {
                                     auto name = get_string(ctx.input, "StreamName");
                                     if (!name.ok())
                                       return member_error(name.error(), "StreamName");
                                     return ApiError{AwsError::kResourceNotFound,
                                                     "Stream " + std::string(name.value()) +
                                                         " under account 000000000000 not found."};
                                   })
                    .ok());
  }

  void start(std::function<void(std::function<void()>)> offload = nullptr) {
    HttpServerOptions opts;
    opts.port = 0;
    opts.io_threads = 2;
    opts.body_limit = 1 << 20;
    opts.header_limit = 8 * 1024;
    opts.read_timeout = 1000ms;
    opts.offload = std::move(offload);
    server_ = std::make_unique<HttpServer>(opts, services_, metrics_);
    ASSERT_TRUE(server_->start().ok());
  }

  void TearDown() override {
    if (server_) server_->stop();
  }

  void handler_threads_seen(RequestContext&) {
    std::lock_guard lock(mu_);
    threads_.insert(std::this_thread::get_id());
  }

  // HTTP/1.1 round trip on a fresh connection.
  http::response<http::string_body> http1(std::string target, std::string body,
                                          std::string ct = "application/x-amz-json-1.1") {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> req(http::verb::post, "/", 11);
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, ct);
    req.set("X-Amz-Target", target);
    req.set("X-Amz-Date", "20250101T000000Z");
    req.set(http::field::authorization, kAuth);
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }

  std::string metrics_text() { return metrics_.render_prometheus(); }

  ServiceRegistry services_;
  metrics::Registry metrics_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::set<std::thread::id> threads_;
};

TEST_F(Http2Test, ConcurrentStreamsOnOneConnection) {
  start();
  H2Client c(server_->port());
  std::map<int32_t, int> echo;
  for (int i = 0; i < 20; ++i) {
    echo[c.aws("Kinesis_20131202.Echo",
               R"({"StreamName":"s","Data":"Zm9v","Timestamp":1700000000.5,"N":)" +
                   std::to_string(i) + "}")] = i;
  }
  Document in = Document::make_map();
  in.set("Data", Document::blob(std::string("\x00\x01", 2)))
      .set("Timestamp", Document::timestamp_ms(1700000000123));
  int32_t cbor = c.aws("Kinesis_20131202.Echo", encode_cbor(in), "application/x-amz-cbor-1.1");
  int32_t health = c.submit("GET", "/health", {});
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.settings[NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS], 100u);
  EXPECT_EQ(c.settings[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE], 8u * 1024);

  std::set<std::string> ids;
  for (auto& [id, n] : echo) {
    const H2Response& r = c.responses[id];
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.close_error, 0u);
    EXPECT_EQ(r.headers.at("content-type"), "application/x-amz-json-1.1");
    EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
    EXPECT_EQ(r.headers.at("x-amzn-requestid").size(), 36u);
    EXPECT_FALSE(r.headers.at("x-amz-id-2").empty());
    EXPECT_FALSE(r.headers.at("date").empty());
    EXPECT_EQ(r.headers.count("connection"), 0u);
    EXPECT_EQ(r.headers.count("x-amzn-errortype"), 0u);
    ids.insert(r.headers.at("x-amzn-requestid"));
    auto doc = decode_json(r.body);
    ASSERT_TRUE(doc.ok()) << r.body;
    EXPECT_EQ(get_int(doc.value(), "N").value(), n);
    EXPECT_EQ(get_string(doc.value(), "Data").value(), "Zm9v");
    EXPECT_EQ(get_string(doc.value(), "Region").value(), "eu-west-1");
    EXPECT_EQ(get_string(doc.value(), "RequestId").value(), r.headers.at("x-amzn-requestid"));
  }
  EXPECT_EQ(ids.size(), echo.size());

  const H2Response& rc = c.responses[cbor];
  ASSERT_EQ(rc.status, 200);
  EXPECT_EQ(rc.headers.at("content-type"), "application/x-amz-cbor-1.1");
  auto doc = decode_cbor(rc.body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(get_blob(doc.value(), "Data").value(), std::string("\x00\x01", 2));
  EXPECT_EQ(get_timestamp_ms(doc.value(), "Timestamp").value(), 1700000000123);

  EXPECT_EQ(c.responses[health].status, 200);
  EXPECT_EQ(c.responses[health].body, "ok\n");

  // The same metrics as HTTP/1.1, on the same (one) connection.
  int32_t m = c.submit("GET", "/metrics?x=1", {});
  ASSERT_TRUE(c.wait_all());
  const std::string& text = c.responses[m].body;
  EXPECT_EQ(c.responses[m].headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(text.find("freshet_api_requests_total{operation=\"Echo\",service=\"kinesis\"} 21\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("freshet_api_connections_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("freshet_api_connections_open 1\n"), std::string::npos);
  EXPECT_NE(text.find("freshet_api_http2_connections_total 1\n"), std::string::npos);
}

TEST_F(Http2Test, ErrorsAreRenderedAsInHttp1) {
  start();
  H2Client c(server_->port());
  int32_t unknown = c.aws("Kinesis_20131202.NoSuchOp", "{}");
  int32_t notfound = c.aws("Kinesis_20131202.DescribeStream", R"({"StreamName":"x"})");
  int32_t syntax = c.aws("Kinesis_20131202.Echo", "{not json");
  int32_t noauth = c.submit(
      "POST", "/",
      {{"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", "Kinesis_20131202.Echo"}},
      std::string("{}"));
  int32_t put = c.submit("PUT", "/", {}, std::string("{}"));
  int32_t nope = c.submit("GET", "/nope", {});
  ASSERT_TRUE(c.wait_all());

  const H2Response& u = c.responses[unknown];
  EXPECT_EQ(u.status, 400);
  EXPECT_EQ(u.headers.at("x-amzn-errortype"), "UnknownOperationException");
  EXPECT_EQ(u.body, R"({"__type":"UnknownOperationException"})");
  auto h1 = http1("Kinesis_20131202.NoSuchOp", "{}");
  EXPECT_EQ(h1.result_int(), u.status);
  EXPECT_EQ(h1.body(), u.body);
  EXPECT_EQ(h1["x-amzn-ErrorType"], u.headers.at("x-amzn-errortype"));

  EXPECT_EQ(c.responses[notfound].status, 400);
  EXPECT_EQ(c.responses[notfound].headers.at("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_EQ(
      c.responses[notfound].body,
      R"({"__type":"ResourceNotFoundException","message":"Stream x under account 000000000000 not found."})");
  EXPECT_EQ(c.responses[syntax].headers.at("x-amzn-errortype"), "SerializationException");
  EXPECT_EQ(c.responses[noauth].status, 400);
  EXPECT_EQ(c.responses[noauth].headers.at("x-amzn-errortype"),
            "MissingAuthenticationTokenException");
  EXPECT_EQ(c.responses[put].headers.at("x-amzn-errortype"), "AccessDeniedException");
  EXPECT_EQ(c.responses[put].status, 403);
  EXPECT_EQ(c.responses[put].headers.count("content-type"), 0u);
  EXPECT_EQ(c.responses[put].body,
            "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to "
            "be authorized</Message>\n</AccessDeniedException>\n");
  EXPECT_EQ(c.responses[nope].status, 403);  // as AWS: a GET names no operation

  std::string m = metrics_text();
  EXPECT_NE(m.find("freshet_api_errors_total{error_type=\"UnknownOperationException\",fault="
                   "\"client\",operation=\"unknown\",service=\"unknown\"} 2\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("freshet_api_errors_total{error_type=\"ResourceNotFoundException\",fault="
                   "\"client\",operation=\"DescribeStream\",service=\"kinesis\"} 1\n"),
            std::string::npos)
      << m;
}

TEST_F(Http2Test, OversizedBodiesGet413AndTheConnectionSurvives) {
  start();
  H2Client c(server_->port());
  std::string big(2 << 20, 'x');
  // Declared too large: answered from the headers, the rest of the body is refused.
  int32_t declared = c.aws("Kinesis_20131202.Echo", big);
  // Streamed without Content-Length: answered when the limit is passed.
  int32_t streamed = c.submit("POST", "/",
                              {{"content-type", "application/x-amz-json-1.1"},
                               {"x-amz-target", "Kinesis_20131202.Echo"},
                               {"x-amz-security-token", "t"}},
                              big, /*content_length=*/false);
  ASSERT_TRUE(c.wait_all());
  for (int32_t id : {declared, streamed}) {
    const H2Response& r = c.responses[id];
    EXPECT_EQ(r.status, 413) << id;
    EXPECT_EQ(r.body, "Request Entity Too Large\n");
    EXPECT_EQ(r.headers.count("x-amzn-requestid"), 1u);
  }
  EXPECT_FALSE(c.goaway);
  int32_t ok = c.aws("Kinesis_20131202.Echo", R"({"N":1})");
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.responses[ok].status, 200);
  EXPECT_NE(metrics_text().find("freshet_api_http_errors_total{status=\"413\"} 2\n"),
            std::string::npos);
}

TEST_F(Http2Test, HugeHeaderListGets431) {
  start();
  H2Client c(server_->port());
  int32_t id = c.submit("POST", "/",
                        {{"content-type", "application/x-amz-json-1.1"},
                         {"x-amz-target", "Kinesis_20131202.Echo"},
                         {"x-big", std::string(9000, 'a')}},
                        std::string("{}"));
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.responses[id].status, 431);
  int32_t ok = c.aws("Kinesis_20131202.Echo", "{}");
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.responses[ok].status, 200);
}

TEST_F(Http2Test, StreamsBeyondTheConcurrencyLimitAreRefused) {
  start();
  H2Client c(server_->port(), /*peer_max_streams=*/1000);
  std::vector<int32_t> ids;
  for (int i = 0; i < 150; ++i) {
    // Bodies never finished: every stream stays open.
    ids.push_back(c.submit(
        "POST", "/",
        {{"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", "Kinesis_20131202.Echo"}},
        std::string("{"), /*content_length=*/false, /*hold_body=*/true));
  }
  auto refused = [&] {
    int n = 0;
    for (int32_t id : ids) {
      n += c.responses[id].closed &&
           c.responses[id].close_error == static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM);
    }
    return n;
  };
  EXPECT_TRUE(c.pump([&] { return refused() == 50; }, 800ms)) << refused();
  EXPECT_FALSE(c.goaway);
}

TEST_F(Http2Test, Http1StillWorksAlongside) {
  start();
  H2Client c(server_->port());
  int32_t id = c.aws("Kinesis_20131202.Echo", R"({"N":2})");
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.responses[id].status, 200);
  // An HTTP/1.1 request that starts like the preface ("P") is still HTTP/1.1.
  auto res = http1("Kinesis_20131202.Echo", R"({"N":3})");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.version(), 11);
  EXPECT_NE(res.body().find("\"N\":3"), std::string::npos);
  EXPECT_FALSE(res["x-amzn-RequestId"].empty());
  // Bytes that match the first preface bytes then diverge are HTTP/1.1: a "PRI" request,
  // answered as every method but POST (AccessDeniedException, 403).
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  asio::write(s, asio::buffer(std::string("PRI * HTTP/1.1\r\n\r\n")));
  beast::flat_buffer buf;
  http::response<http::string_body> bad;
  boost::system::error_code ec;
  http::read(s, buf, bad, ec);
  EXPECT_EQ(bad.result_int(), 403);
}

TEST_F(Http2Test, StalledRequestIsResetAndIdleConnectionGetsGoaway) {
  start();
  H2Client c(server_->port());
  auto t0 = std::chrono::steady_clock::now();
  int32_t id = c.submit(
      "POST", "/",
      {{"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", "Kinesis_20131202.Echo"}},
      std::string("{"), /*content_length=*/false, /*hold_body=*/true);
  ASSERT_TRUE(c.pump([&] { return c.responses[id].closed; }, 4s));
  EXPECT_EQ(c.responses[id].close_error, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  // No stream left: after read_timeout the server says GOAWAY and closes.
  ASSERT_TRUE(c.pump([&] { return c.goaway && c.eof; }, 4s));
  EXPECT_EQ(c.goaway_error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
}

TEST_F(Http2Test, StopSendsGoaway) {
  start();
  H2Client c(server_->port());
  int32_t id = c.aws("Kinesis_20131202.Echo", "{}");
  ASSERT_TRUE(c.wait_all());
  EXPECT_EQ(c.responses[id].status, 200);
  std::thread stopper([&] { server_->stop(); });
  bool got = c.pump([&] { return c.goaway; }, 3s);
  stopper.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(c.goaway_error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
}

TEST_F(Http2Test, OffloadedHandlers) {
  asio::thread_pool pool(2);
  start([&pool](std::function<void()> task) { asio::post(pool, std::move(task)); });
  H2Client c(server_->port());
  std::vector<int32_t> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(c.aws("Kinesis_20131202.Echo", R"({"N":)" + std::to_string(i) + "}"));
  }
  ASSERT_TRUE(c.wait_all());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(c.responses[ids[i]].status, 200);
    EXPECT_NE(c.responses[ids[i]].body.find("\"N\":" + std::to_string(i) + ","), std::string::npos);
  }
  server_->stop();
  pool.join();
}

// Node's own http2 client (independent of nghttp2), if node is installed.
TEST_F(Http2Test, NodeHttp2Client) {
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node not installed";
  start();
  std::string script = R"JS(
const http2 = require('http2');
const s = http2.connect('http://127.0.0.1:)JS" +
                       std::to_string(server_->port()) + R"JS(');
const one = (i) => new Promise((ok, bad) => {
  const body = JSON.stringify({N: i});
  const r = s.request({':method': 'POST', ':path': '/', 'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': i % 2 ? 'Kinesis_20131202.Echo' : 'Kinesis_20131202.Nope',
    'x-amz-security-token': 't', 'content-length': body.length});
  let st = 0, et = '', data = '';
  r.on('response', (h) => { st = h[':status']; et = h['x-amzn-errortype'] || ''; });
  r.on('data', (d) => data += d);
  r.on('end', () => ok(st + ' ' + et + ' ' + data));
  r.on('error', bad);
  r.end(body);
});
Promise.all([...Array(8).keys()].map(one)).then((rs) => { console.log(rs.join('\n')); s.close(); },
  (e) => { console.log('ERR ' + e); process.exit(1); });
)JS";
  char path[] = "/tmp/freshet_h2_test_XXXXXX.js";
  int fd = mkstemps(path, 3);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
  ::close(fd);
  std::string cmd = std::string("node ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  ::unlink(path);
  for (int i = 0; i < 8; ++i) {
    std::string want =
        i % 2 ? "200  {\"N\":" + std::to_string(i)
              : "400 UnknownOperationException {\"__type\":\"UnknownOperationException\"}";
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  }
}

}  // namespace
}  // namespace freshet::api

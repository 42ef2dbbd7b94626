// Starts the real HttpServer on 127.0.0.1:0 with a test service and drives it with a raw
// Boost.Beast client, raw sockets (for malformed and slow clients) and a Python script.
#include "freshet/api/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "freshet/api/codec.h"

namespace freshet::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=00";

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(services_.add_service("Kinesis_20131202", "kinesis").ok());
    ShapeHint echo_shape;
    echo_shape.blob("Data").timestamp("Timestamp").blob("Records[].Data");
    ASSERT_TRUE(services_
                    .add_operation("Kinesis_20131202", "Echo", echo_shape,
                                   [](RequestContext& ctx) -> ApiResult {
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
    // Duplicate registrations are refused.
    EXPECT_FALSE(services_.add_service("Kinesis_20131202", "x").ok());
    EXPECT_FALSE(services_
                     .add_operation("Kinesis_20131202", "Echo", {},
                                    [](RequestContext&) -> ApiResult { return Document(); })
                     .ok());

    HttpServerOptions opts;
    opts.port = 0;
    opts.io_threads = 2;
    opts.body_limit = 1 << 20;
    opts.read_timeout = std::chrono::milliseconds(1000);
    opts.max_connections = 64;
    server_ = std::make_unique<HttpServer>(opts, services_, metrics_);
    server_->add_get_route("/custom", [](std::string_view target) {
      return HttpResponse{200, "text/plain", "custom " + std::string(target)};
    });
    ASSERT_TRUE(server_->start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override { server_->stop(); }

  tcp::socket connect() {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return s;
  }

  http::request<http::string_body> aws_request(std::string target, std::string body,
                                               std::string ct = "application/x-amz-json-1.1") {
    http::request<http::string_body> req(http::verb::post, "/", 11);
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, ct);
    req.set("X-Amz-Target", target);
    req.set("X-Amz-Date", "20250101T000000Z");
    req.set(http::field::authorization, kAuth);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }

  http::response<http::string_body> roundtrip(tcp::socket& s,
                                              http::request<http::string_body> req) {
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }

  // Reads whatever the server sends until it closes (bounded by a 5 s socket timeout).
  std::string read_until_close(tcp::socket& s) {
    timeval tv{5, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    boost::system::error_code ec;
    while (true) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }

  asio::io_context ioc_;
  ServiceRegistry services_;
  metrics::Registry metrics_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, JsonEchoOverKeepAlive) {
  tcp::socket s = connect();
  std::string request_id;
  for (int i = 0; i < 5; ++i) {
    auto res = roundtrip(
        s, aws_request("Kinesis_20131202.Echo",
                       R"({"StreamName":"s","Data":"Zm9v","Timestamp":1700000000.5,"N":)" +
                           std::to_string(i) + "}"));
    ASSERT_EQ(res.result_int(), 200) << res.body();
    EXPECT_EQ(res[http::field::content_type], "application/x-amz-json-1.1");
    EXPECT_EQ(res["x-amzn-RequestId"].size(), 36u);
    EXPECT_NE(res["x-amzn-RequestId"], request_id);
    request_id = std::string(res["x-amzn-RequestId"]);
    EXPECT_FALSE(res["x-amz-id-2"].empty());
    EXPECT_FALSE(res[http::field::date].empty());
    EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
    auto doc = decode_json(res.body());
    ASSERT_TRUE(doc.ok());
    EXPECT_EQ(get_string(doc.value(), "Data").value(), "Zm9v");
    EXPECT_EQ(get_double(doc.value(), "Timestamp").value(), 1700000000.5);
    EXPECT_EQ(get_int(doc.value(), "N").value(), i);
    EXPECT_EQ(get_string(doc.value(), "Region").value(), "eu-west-1");
    EXPECT_EQ(get_string(doc.value(), "RequestId").value(), request_id);
  }
}

TEST_F(HttpServerTest, CborEcho) {
  tcp::socket s = connect();
  Document in = Document::make_map();
  in.set("Data", Document::blob(std::string("\x00\x01", 2)))
      .set("Timestamp", Document::timestamp_ms(1700000000123));
  auto res = roundtrip(
      s, aws_request("Kinesis_20131202.Echo", encode_cbor(in), "application/x-amz-cbor-1.1"));
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "application/x-amz-cbor-1.1");
  auto doc = decode_cbor(res.body());
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(get_blob(doc.value(), "Data").value(), std::string("\x00\x01", 2));
  EXPECT_EQ(get_timestamp_ms(doc.value(), "Timestamp").value(), 1700000000123);
}

TEST_F(HttpServerTest, AwsErrors) {
  tcp::socket s = connect();
  auto res = roundtrip(s, aws_request("Kinesis_20131202.DescribeStream", R"({"StreamName":"x"})"));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res["x-amzn-ErrorType"], "ResourceNotFoundException");
  EXPECT_EQ(
      res.body(),
      R"({"__type":"ResourceNotFoundException","message":"Stream x under account 000000000000 not found."})");

  res = roundtrip(s, aws_request("Kinesis_20131202.DescribeStream", "{}"));
  EXPECT_EQ(res["x-amzn-ErrorType"], "ValidationException");

  res = roundtrip(s, aws_request("Kinesis_20131202.NoSuchOp", "{}"));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res.body(), R"({"__type":"UnknownOperationException"})");

  res = roundtrip(s, aws_request("Nope_2020.Echo", "{}"));
  EXPECT_EQ(res["x-amzn-ErrorType"], "UnknownOperationException");

  res = roundtrip(s, aws_request("Kinesis_20131202.Echo", "{not json"));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res["x-amzn-ErrorType"], "SerializationException");

  res = roundtrip(s, aws_request("Kinesis_20131202.Echo", "[1]"));
  EXPECT_EQ(res["x-amzn-ErrorType"], "SerializationException");

  res = roundtrip(s, aws_request("Kinesis_20131202.Echo", R"({"Data":"abc"})"));
  EXPECT_EQ(res["x-amzn-ErrorType"], "SerializationException");
  EXPECT_NE(res.body().find("Base64 encoded length is expected a multiple of 4"),
            std::string::npos);

  res =
      roundtrip(s, aws_request("Kinesis_20131202.Echo", "\xa1\x61", "application/x-amz-cbor-1.1"));
  EXPECT_EQ(res["x-amzn-ErrorType"], "SerializationException");
  EXPECT_EQ(res[http::field::content_type], "application/x-amz-cbor-1.1");

  auto req = aws_request("Kinesis_20131202.Echo", "{}");
  req.erase(http::field::authorization);
  res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(
      res.body(),
      R"({"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"})");

  req = aws_request("Kinesis_20131202.Echo", "{}");
  req.set(http::field::authorization, "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request");
  res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res["x-amzn-ErrorType"], "IncompleteSignatureException");

  // Security token without Authorization (e.g. presigned flows) passes auth.
  req = aws_request("Kinesis_20131202.Echo", "{}");
  req.erase(http::field::authorization);
  req.set("X-Amz-Security-Token", "tok");
  res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 200);

  // The connection survived all of the above.
  res = roundtrip(s, aws_request("Kinesis_20131202.Echo", "{}"));
  EXPECT_EQ(res.result_int(), 200);
}

TEST_F(HttpServerTest, PresignedQueryAuth) {
  tcp::socket s = connect();
  auto req = aws_request("Kinesis_20131202.Echo", "{}");
  req.erase(http::field::authorization);
  req.target(
      "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Fap-south-1%2F"
      "kinesis%2Faws4_request&X-Amz-Signature=00&X-Amz-SignedHeaders=host&X-Amz-Date=x");
  auto res = roundtrip(s, req);
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(get_string(decode_json(res.body()).value(), "Region").value(), "ap-south-1");
}

TEST_F(HttpServerTest, OversizedContentLengthGets413WithoutReadingBody) {
  tcp::socket s = connect();
  std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: Kinesis_20131202.Echo\r\nContent-Length: 999999999\r\n\r\n";
  asio::write(s, asio::buffer(head));
  auto start = std::chrono::steady_clock::now();
  std::string got = read_until_close(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitGets413) {
  tcp::socket s = connect();
  std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  std::string chunk(64 * 1024, 'a');
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
  std::string data = head;
  for (int i = 0; i < 20; ++i) data += size + chunk + "\r\n";  // 1.25 MiB > 1 MiB limit
  boost::system::error_code ec;
  asio::write(s, asio::buffer(data), ec);  // the server may close before we finish
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 100);
}

TEST_F(HttpServerTest, GarbageRequestLineGets400AndClose) {
  tcp::socket s = connect();
  asio::write(s, asio::buffer(std::string("\x16\x03\x01 garbage\r\n\r\n")));
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

TEST_F(HttpServerTest, HugeHeaderGets431) {
  tcp::socket s = connect();
  std::string req = "POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  boost::system::error_code ec;
  asio::write(s, asio::buffer(req), ec);
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 431", 0), 0u) << got.substr(0, 100);
}

TEST_F(HttpServerTest, SlowClientIsDisconnected) {
  tcp::socket s = connect();
  // Half a request, then silence: the 1 s read timeout must close the connection.
  asio::write(s, asio::buffer(std::string("POST / HTTP/1.1\r\nHost: x\r\n")));
  auto start = std::chrono::steady_clock::now();
  std::string got = read_until_close(s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got, "");
  EXPECT_GE(elapsed, std::chrono::milliseconds(800));
  EXPECT_LT(elapsed, std::chrono::milliseconds(4000));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  tcp::socket s = connect();
  auto res = roundtrip(s, aws_request("Kinesis_20131202.Echo", "{}"));
  ASSERT_EQ(res.result_int(), 200);
  auto start = std::chrono::steady_clock::now();
  std::string got = read_until_close(s);
  EXPECT_EQ(got, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(4000));
}

// The raw text of an Echo request with a JSON body, as a client would send it.
std::string raw_echo(std::string_view body, std::string_view extra_headers = "") {
  return "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
         "X-Amz-Target: Kinesis_20131202.Echo\r\nX-Amz-Date: 20250101T000000Z\r\n"
         "Authorization: " +
         std::string(kAuth) + "\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  tcp::socket s = connect();
  std::string both = raw_echo(R"({"N":1})") + raw_echo(R"({"N":2})");
  asio::write(s, asio::buffer(both));
  beast::flat_buffer buf;
  for (int n : {1, 2}) {
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_NE(res.body().find("\"N\":" + std::to_string(n)), std::string::npos) << res.body();
  }
}

TEST_F(HttpServerTest, RequestArrivingOneByteAtATimeIsParsed) {
  tcp::socket s = connect();
  s.set_option(tcp::no_delay(true));
  std::string req = raw_echo(R"({"Data":"aGVsbG8="})");
  for (char c : req) asio::write(s, asio::buffer(&c, 1));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_NE(res.body().find("aGVsbG8="), std::string::npos) << res.body();
  // The response carries the headers AWS clients look for.
  EXPECT_EQ(res[http::field::content_type], "application/x-amz-json-1.1");
  EXPECT_EQ(res["x-amzn-RequestId"].size(), 36u);
  EXPECT_FALSE(res["x-amz-id-2"].empty());
  EXPECT_FALSE(res[http::field::date].empty());
  EXPECT_TRUE(res.keep_alive());
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  tcp::socket s = connect();
  std::string body = R"({"N":7})";
  std::string req = raw_echo(body, "Expect: 100-continue\r\n");
  std::string head = req.substr(0, req.size() - body.size());
  asio::write(s, asio::buffer(head));
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> cp;
  http::read_header(s, buf, cp);
  EXPECT_EQ(cp.get().result_int(), 100);
  asio::write(s, asio::buffer(body));
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_NE(res.body().find("\"N\":7"), std::string::npos) << res.body();
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  tcp::socket s = connect();
  asio::write(s, asio::buffer(raw_echo("{}", "Connection: close\r\n")));
  std::string got = read_until_close(s);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
}

TEST_F(HttpServerTest, TricklingClientStillHitsTheRequestDeadline) {
  tcp::socket s = connect();
  s.set_option(tcp::no_delay(true));
  // A byte every 100 ms keeps the connection busy but the request never completes: the 1 s
  // deadline covers the whole request, not the gap between reads.
  std::string part = "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  auto start = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  for (char c : part) {
    asio::write(s, asio::buffer(&c, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(3)) break;
  }
  std::string got = read_until_close(s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got, "");
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
}

// CORS as AWS answers it (kinesalite's recorded connection tests): a preflight echoes what
// the browser asks for; answers to requests with an Origin allow it and expose AWS's headers.
TEST_F(HttpServerTest, CorsPreflightAndAnswers) {
  tcp::socket s = connect();
  http::request<http::string_body> pre(http::verb::options, "/", 11);
  pre.set(http::field::host, "x");
  pre.set(http::field::origin, "whatever");
  auto res = roundtrip(s, pre);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "");
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");
  EXPECT_EQ(res[http::field::access_control_max_age], "172800");
  EXPECT_EQ(res[http::field::content_length], "0");
  EXPECT_EQ(res.count(http::field::content_type), 0u);
  EXPECT_EQ(res.count(http::field::access_control_allow_headers), 0u);
  EXPECT_EQ(res.count("x-amz-id-2"), 0u);
  EXPECT_FALSE(res["x-amzn-RequestId"].empty());
  pre.set(http::field::access_control_request_headers, "a, b, c");
  pre.set(http::field::access_control_request_method, "d");
  res = roundtrip(s, pre);
  EXPECT_EQ(res[http::field::access_control_allow_headers], "a, b, c");
  EXPECT_EQ(res[http::field::access_control_allow_methods], "d");

  auto req = aws_request("Kinesis_20131202.Echo", "{}");
  req.set(http::field::origin, "whatever");
  res = roundtrip(s, req);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");
  EXPECT_EQ(res[http::field::access_control_expose_headers],
            "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,"
            "Date");
  EXPECT_EQ(res["x-amz-id-2"].size(), 96u);  // 72 random bytes in base64, as AWS's
  // Without an OPTIONS Origin there is no preflight: AccessDeniedException as for any method.
  http::request<http::string_body> opt(http::verb::options, "/", 11);
  opt.set(http::field::host, "x");
  res = roundtrip(s, opt);
  EXPECT_EQ(res.result_int(), 403);
  EXPECT_EQ(res.count(http::field::access_control_allow_origin), 0u);
}

TEST_F(HttpServerTest, GetRoutesAndMetrics) {
  tcp::socket s = connect();
  (void)roundtrip(s, aws_request("Kinesis_20131202.Echo", "{}"));
  (void)roundtrip(s, aws_request("Kinesis_20131202.DescribeStream", R"({"StreamName":"x"})"));
  (void)roundtrip(s, aws_request("Kinesis_20131202.Bogus", "{}"));

  http::request<http::string_body> get(http::verb::get, "/health", 11);
  get.set(http::field::host, "x");
  auto res = roundtrip(s, get);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "ok\n");

  get.target("/custom?a=1");
  res = roundtrip(s, get);
  EXPECT_EQ(res.body(), "custom /custom?a=1");

  get.target("/nope");
  res = roundtrip(s, get);
  EXPECT_EQ(res.result_int(), 403);  // as AWS: AccessDeniedException, an XML document

  get.target("/metrics");
  res = roundtrip(s, get);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = res.body();
  EXPECT_NE(m.find("freshet_api_requests_total{operation=\"Echo\",service=\"kinesis\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("freshet_api_errors_total{error_type=\"ResourceNotFoundException\",fault="
                   "\"client\",operation=\"DescribeStream\",service=\"kinesis\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("freshet_api_errors_total{error_type=\"UnknownOperationException\",fault="
                   "\"client\",operation=\"unknown\",service=\"unknown\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(
      m.find("freshet_api_request_duration_seconds_count{operation=\"Echo\",service=\"kinesis\"} 1\n"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("freshet_api_connections_open 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("freshet_api_connections_total 1\n"), std::string::npos) << m;

  http::request<http::string_body> put(http::verb::put, "/", 11);
  put.set(http::field::host, "x");
  res = roundtrip(s, put);
  EXPECT_EQ(res["x-amzn-ErrorType"], "AccessDeniedException");
}

// One JSON 1.0 call of T_1.Op (security token "t", body {}) on a new connection.
http::response<http::string_body> call_t1_op(uint16_t port) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(http::verb::post, "/", 11);
  req.set(http::field::content_type, "application/x-amz-json-1.0");
  req.set("X-Amz-Target", "T_1.Op");
  req.set("X-Amz-Security-Token", "t");
  req.body() = "{}";
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return res;
}

TEST(HttpServerOffloadTest, HandlersCanRunOnAnotherExecutor) {
  ServiceRegistry services;
  ASSERT_TRUE(services.add_service("T_1", "t").ok());
  std::atomic<bool> on_pool{false};
  asio::thread_pool pool(1);
  ASSERT_TRUE(services
                  .add_operation("T_1", "Op", {},
                                 [&](RequestContext&) -> ApiResult {
                                   on_pool = true;
                                   return Document(Map{{"ok", true}});
                                 })
                  .ok());
  metrics::Registry metrics;
  HttpServerOptions opts;
  opts.offload = [&pool](std::function<void()> task) { asio::post(pool, std::move(task)); };
  HttpServer server(opts, services, metrics);
  ASSERT_TRUE(server.start().ok());
  const http::response<http::string_body> res = call_t1_op(server.port());
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "application/x-amz-json-1.0");
  EXPECT_EQ(res.body(), R"({"ok":true})");
  EXPECT_TRUE(on_pool);
  server.stop();
  pool.join();
}

// An asynchronous answer that arrives on another thread (as a put's does, on the group-commit
// thread) with a DeferredBody: the body is made on the connection's io thread, not there.
TEST(HttpServerDeferredTest, DeferredBodiesAreMadeOnTheConnectionsThread) {
  ServiceRegistry services;
  ASSERT_TRUE(services.add_service("T_1", "t").ok());
  asio::thread_pool answerer(1);  // stands in for the group-commit thread
  std::promise<std::thread::id> answerer_id;
  asio::post(answerer, [&] { answerer_id.set_value(std::this_thread::get_id()); });
  const std::thread::id answering_thread = answerer_id.get_future().get();
  std::atomic<bool> made_elsewhere{false};
  ASSERT_TRUE(services
                  .add_async_operation("T_1", "Op", {},
                                       [&](RequestContext&, Responder respond) {
                                         asio::post(answerer, [&, respond] {
                                           respond(DeferredBody{[&]() -> ApiResult {
                                             made_elsewhere =
                                                 std::this_thread::get_id() != answering_thread;
                                             return Document(Map{{"made", true}});
                                           }});
                                         });
                                       })
                  .ok());
  metrics::Registry metrics;
  HttpServerOptions opts;
  HttpServer server(opts, services, metrics);
  ASSERT_TRUE(server.start().ok());
  const http::response<http::string_body> res = call_t1_op(server.port());
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), R"({"made":true})");
  EXPECT_TRUE(made_elsewhere);
  server.stop();
  answerer.join();
}

TEST(HttpServerLimitTest, MaxConnectionsClosesExtraConnections) {
  ServiceRegistry services;
  metrics::Registry metrics;
  HttpServerOptions opts;
  opts.max_connections = 1;
  HttpServer server(opts, services, metrics);
  ASSERT_TRUE(server.start().ok());
  asio::io_context ioc;
  tcp::socket a(ioc), b(ioc);
  a.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  // Make sure the first connection has been accepted before the second arrives.
  http::request<http::string_body> get(http::verb::get, "/health", 11);
  http::write(a, get);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(a, buf, res);
  ASSERT_EQ(res.result_int(), 200);
  b.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  boost::system::error_code ec;
  http::write(b, get, ec);
  http::response<http::string_body> res2;
  beast::flat_buffer buf2;
  http::read(b, buf2, res2, ec);
  EXPECT_TRUE(ec) << "second connection should have been closed";
  EXPECT_NE(metrics.render_prometheus().find("freshet_api_connections_rejected_total 1\n"),
            std::string::npos);
  server.stop();
}

TEST_F(HttpServerTest, PythonClient) {
  if (std::system("/usr/bin/python3 -c 'import cbor2' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with cbor2 not available";
  }
  std::string cmd = std::string("timeout 60 /usr/bin/python3 ") + FRESHET_API_TEST_DIR +
                    "/http_server_test.py " + std::to_string(server_->port());
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
}

}  // namespace
}  // namespace freshet::api

namespace freshet::api {
namespace {

TEST(HttpServerRobustnessTest, ThrowingHandlerBecomesInternalFailure) {
  ServiceRegistry services;
  ASSERT_TRUE(services.add_service("T_1", "t").ok());
  ASSERT_TRUE(services
                  .add_operation("T_1", "Boom", {},
                                 [](RequestContext& ctx) -> ApiResult {
                                   // Misuse: unchecked accessor on a missing member's type.
                                   return Document(ctx.input.as_string());
                                 })
                  .ok());
  metrics::Registry metrics;
  HttpServer server(HttpServerOptions{}, services, metrics);
  ASSERT_TRUE(server.start().ok());
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  http::request<http::string_body> req(http::verb::post, "/", 11);
  req.set(http::field::content_type, "application/x-amz-json-1.1");
  req.set("X-Amz-Target", "T_1.Boom");
  req.set("X-Amz-Security-Token", "t");
  req.body() = "{}";
  req.prepare_payload();
  for (int i = 0; i < 3; ++i) {  // the server keeps serving
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result_int(), 500);
    EXPECT_EQ(res["x-amzn-ErrorType"], "InternalFailure");
  }
  server.stop();
  EXPECT_FALSE(server.start().ok());
}

TEST(HttpServerRobustnessTest, AsyncOperationsAnswerOnceEvenWhenTheyThrow) {
  // Asynchronous handlers answering later from another thread, a raw path that takes the
  // responder and then throws, and one that throws after answering: each request gets
  // exactly one answer and the server keeps serving.
  ServiceRegistry services;
  ASSERT_TRUE(services.add_service("T_1", "t").ok());
  ASSERT_TRUE(services
                  .add_async_operation(
                      "T_1", "Later", {},
                      [](RequestContext&, Responder respond) {
                        std::thread([respond = std::move(respond)] {
                          std::this_thread::sleep_for(std::chrono::milliseconds(5));
                          respond(Document(Map{{"Done", true}}));
                        }).detach();
                      },
                      [](RequestContext&, std::string_view body, Responder& respond) {
                        if (body == "{\"raw\":\"throw-after-taking\"}") {
                          Responder mine = std::move(respond);
                          throw std::runtime_error("boom");
                        }
                        if (body == "{\"raw\":\"throw-after-answering\"}") {
                          respond(EncodedBody{"{\"Raw\":true}"});
                          throw std::runtime_error("boom");
                        }
                        return false;  // declined: the decoded path answers
                      })
                  .ok());
  metrics::Registry metrics;
  HttpServer server(HttpServerOptions{}, services, metrics);
  ASSERT_TRUE(server.start().ok());
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  auto call = [&](const std::string& body) {
    http::request<http::string_body> req(http::verb::post, "/", 11);
    req.set(http::field::content_type, "application/x-amz-json-1.1");
    req.set("X-Amz-Target", "T_1.Later");
    req.set("X-Amz-Security-Token", "t");
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  };
  for (int i = 0; i < 2; ++i) {
    auto later = call("{}");
    EXPECT_EQ(later.result_int(), 200);
    EXPECT_EQ(later.body(), "{\"Done\":true}");
    auto taken = call("{\"raw\":\"throw-after-taking\"}");
    EXPECT_EQ(taken.result_int(), 500);
    EXPECT_EQ(taken["x-amzn-ErrorType"], "InternalFailure");
    auto answered = call("{\"raw\":\"throw-after-answering\"}");
    EXPECT_EQ(answered.result_int(), 200);
    EXPECT_EQ(answered.body(), "{\"Raw\":true}");
  }
  server.stop();
}

}  // namespace
}  // namespace freshet::api

#include "bench_client.h"

#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>

#include "freshet/api/codec.h"

namespace freshet::cli::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<Endpoint> Endpoint::parse(std::string_view url, std::string* error) {
  if (url.rfind("https://", 0) == 0) {
    *error = "https endpoints are not supported (use http://)";
    return std::nullopt;
  }
  if (url.rfind("http://", 0) != 0) {
    *error = "the endpoint must look like http://HOST:PORT, got '" + std::string(url) + "'";
    return std::nullopt;
  }
  std::string_view rest = url.substr(7);
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      *error = "the endpoint must not have a path: '" + std::string(url) + "'";
      return std::nullopt;
    }
    rest = rest.substr(0, slash);
  }
  Endpoint e;
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || (rest.find(']') > colon && rest.front() == '[')) {
    e.host = std::string(rest);
    e.port = "80";
  } else {
    e.host = std::string(rest.substr(0, colon));
    e.port = std::string(rest.substr(colon + 1));
  }
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  if (e.host.empty() || e.port.empty() ||
      e.port.find_first_not_of("0123456789") != std::string::npos || e.port.size() > 5 ||
      std::stoi(e.port) > 65535) {
    *error = "bad host or port in endpoint '" + std::string(url) + "'";
    return std::nullopt;
  }
  e.host_header = std::string(rest);
  if (e.port == "80" && colon == std::string_view::npos) e.host_header = e.host;
  return e;
}

std::string aws_error_type(std::string_view body) {
  const size_t k = body.find("\"__type\"");
  if (k == std::string_view::npos) return "";
  size_t q = body.find('"', body.find(':', k + 8));
  if (q == std::string_view::npos) return "";
  const size_t end = body.find('"', q + 1);
  if (end == std::string_view::npos) return "";
  std::string_view t = body.substr(q + 1, end - q - 1);
  if (const size_t hash = t.rfind('#'); hash != std::string_view::npos) t = t.substr(hash + 1);
  if (const size_t colon = t.find(':'); colon != std::string_view::npos) t = t.substr(0, colon);
  return std::string(t);
}

std::string json_escape(std::string_view s) {
  std::string out;
  api::append_json_string(s, out);  // the one JSON string escaper (api/codec.h), quoted
  return out.substr(1, out.size() - 2);
}

namespace {

// The position just after `"name"` + spaces + ':' + spaces, searching from `from`, or npos.
size_t after_member(std::string_view body, std::string_view quoted_name, size_t from) {
  while (true) {
    if (from >= body.size()) return std::string_view::npos;
    // memmem (two-way search) rather than string_view::find, which stops at every '"'.
    const void* hit = memmem(body.data() + from, body.size() - from, quoted_name.data(),
                             quoted_name.size());
    if (hit == nullptr) return std::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(hit) - body.data());
    size_t k = at + quoted_name.size();
    while (k < body.size() && (body[k] == ' ' || body[k] == '\n' || body[k] == '\t')) ++k;
    if (k < body.size() && body[k] == ':') {
      ++k;
      while (k < body.size() && (body[k] == ' ' || body[k] == '\n' || body[k] == '\t')) ++k;
      return k;
    }
    from = at + 1;
  }
}

}  // namespace

GetRecordsScan scan_get_records(std::string_view body) {
  GetRecordsScan s;
  if (after_member(body, "\"Records\"", 0) == std::string_view::npos) return s;
  s.ok = true;
  size_t pos = 0;
  while ((pos = after_member(body, "\"Data\"", pos)) != std::string_view::npos) {
    if (pos >= body.size() || body[pos] != '"') continue;
    const size_t end = body.find('"', pos + 1);
    if (end == std::string_view::npos) {
      s.ok = false;
      return s;
    }
    const std::string_view b64 = body.substr(pos + 1, end - pos - 1);
    int64_t len = static_cast<int64_t>(b64.size() / 4 * 3);
    if (!b64.empty() && b64.back() == '=') --len;
    if (b64.size() > 1 && b64[b64.size() - 2] == '=') --len;
    ++s.records;
    s.bytes += len;
    pos = end + 1;
  }
  if (size_t at = after_member(body, "\"NextShardIterator\"", 0);
      at != std::string_view::npos && at < body.size() && body[at] == '"') {
    const size_t end = body.find('"', at + 1);  // iterators are base64: no escapes
    if (end != std::string_view::npos) s.next_iterator = std::string(body.substr(at + 1, end - at - 1));
  }
  if (size_t at = after_member(body, "\"MillisBehindLatest\"", 0); at != std::string_view::npos) {
    int64_t v = 0;
    size_t k = at;
    while (k < body.size() && body[k] >= '0' && body[k] <= '9') v = v * 10 + (body[k++] - '0');
    if (k > at) s.millis_behind = v;
  }
  return s;
}

KinesisConnection::KinesisConnection(const ClientOptions& options)
    : options_(options),
      signer_(options.credentials, options.region, "kinesis"),
      stream_(ioc_),
      timer_(ioc_) {}

void KinesisConnection::close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
  buffer_.clear();
  connected_ = false;
}

std::string KinesisConnection::connect() {
  if (connected_) return "";
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.endpoint.host, options_.endpoint.port, ec);
  if (ec) return "resolve " + options_.endpoint.host + ": " + ec.message();
  stream_.expires_after(options_.timeout);
  stream_.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  ioc_.restart();
  ioc_.run();
  if (ec) {
    close();
    return "connect " + options_.endpoint.host + ":" + options_.endpoint.port + ": " +
           ec.message();
  }
  stream_.socket().set_option(tcp::no_delay(true), ec);
  connected_ = true;
  return "";
}

CallResult KinesisConnection::call(std::string_view operation, const std::string& body) {
  CallResult r;
  if (std::string err = connect(); !err.empty()) {
    r.error_type = "transport: " + err.substr(err.find(": ") + 2);
    return r;
  }
  http::request<http::string_body> req{http::verb::post, "/", 11};
  const std::string date = amz_date_now();
  const std::string target = "Kinesis_20131202." + std::string(operation);
  const char* content_type = "application/x-amz-json-1.1";
  SigV4Request sr;
  sr.headers = {{"host", options_.endpoint.host_header},
                {"x-amz-date", date},
                {"x-amz-target", target},
                {"content-type", content_type}};
  sr.payload = body;
  req.set(http::field::host, options_.endpoint.host_header);
  req.set("X-Amz-Date", date);
  req.set("X-Amz-Target", target);
  req.set(http::field::content_type, content_type);
  req.set(http::field::authorization, signer_.sign(sr, date).authorization);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();

  // One timer for the whole exchange: beast's tcp_stream re-arms its timer (a timerfd
  // syscall) on every read of at most 64 KiB, which dominated a drain's client CPU.
  beast::error_code ec;
  bool timed_out = false;
  stream_.expires_never();
  timer_.expires_after(options_.timeout);
  timer_.async_wait([&](beast::error_code e) {
    if (e) return;  // cancelled: the exchange finished first
    timed_out = true;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  });
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::async_write(stream_, req, [&](beast::error_code e, size_t) {
    if (e) {
      ec = e;
      timer_.cancel();
      return;
    }
    http::async_read(stream_, buffer_, parser, [&](beast::error_code e2, size_t) {
      ec = e2;
      timer_.cancel();
    });
  });
  ioc_.restart();
  ioc_.run();
  if (ec) {
    close();
    r.error_type = "transport: " + (timed_out ? std::string("timeout") : ec.message());
    return r;
  }
  auto res = parser.release();
  if (!res.keep_alive()) close();
  r.status = res.result_int();
  r.body = std::move(res.body());
  if (r.status != 200) {
    r.error_type = aws_error_type(r.body);
    if (r.error_type.empty()) r.error_type = "HTTP " + std::to_string(r.status);
  }
  return r;
}

}  // namespace freshet::cli::bench

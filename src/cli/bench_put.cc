#include "bench_put.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <random>
#include <thread>

#include "bench_sigv4.h"
#include "freshet/api/codec.h"
#include "freshet/api/document.h"
#include "freshet/common/base64.h"

namespace freshet::cli::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The pools of all connections together stay under this; beyond it a connection gets fewer
// than kMaxBodiesPerConnection bodies (at least one).
constexpr size_t kPoolBudgetBytes = size_t{256} << 20;
// How often each client thread looks for requests older than --timeout-ms.
constexpr auto kTimeoutSweep = std::chrono::milliseconds(100);
// The pause before a connection reconnects after a transport error.
constexpr auto kReconnectPause = std::chrono::milliseconds(100);
constexpr size_t kReadChunk = 64 * 1024;
constexpr uint64_t kMaxResponseBody = uint64_t{64} << 20;
constexpr std::string_view kContentType = "application/x-amz-json-1.1";

// The integer value of the first member `name` in a JSON body, or -1. Cheaper than decoding
// a PutRecords response that has nothing to report.
int64_t scan_int(std::string_view body, std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\"";
  size_t k = body.find(key);
  if (k == std::string_view::npos) return -1;
  k = body.find(':', k + key.size());
  if (k == std::string_view::npos) return -1;
  ++k;
  while (k < body.size() && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n')) ++k;
  int64_t v = 0;
  bool any = false;
  while (k < body.size() && body[k] >= '0' && body[k] <= '9') {
    v = v * 10 + (body[k++] - '0');
    any = true;
  }
  return any ? v : -1;
}

std::string random_data(std::mt19937_64& rng, int size) {
  std::string d(static_cast<size_t>(size), 'x');
  for (auto& c : d) c = static_cast<char>('a' + rng() % 26);
  return d;
}

void append_int(uint64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// Bytes a body of `n` records takes, near enough to size the pools.
size_t estimated_body_size(const PutLoadOptions& o, int64_t n) {
  const size_t per_record = base64_encoded_size(static_cast<size_t>(o.record_size)) + 24 + 32;
  return 64 + o.stream.size() * 2 + static_cast<size_t>(n) * per_record;
}

// A request body, serialized and hashed once, sent any number of times.
struct Body {
  std::string json;
  std::string sha256;  // lower-case hex of json, for SigV4
  int64_t records = 0;
};

// A PutRecord (n == 1 and batch 1) or PutRecords body of n records with one random data
// (random_data(), as the old client sent) and a partition key per record.
Body build_body(const PutLoadOptions& o, int64_t n, std::mt19937_64& rng) {
  const std::string data64 = base64_encode(random_data(rng, o.record_size));
  auto append_key = [&](std::string* out) {
    if (o.distinct_keys > 0) {
      *out += "key-";
      append_int(rng() % static_cast<uint64_t>(o.distinct_keys), out);
    } else {
      append_int(rng(), out);
    }
  };
  Body b;
  b.records = n;
  b.json.reserve(estimated_body_size(o, n));
  b.json += "{\"StreamName\":\"";
  b.json += json_escape(o.stream);
  b.json += '"';
  if (o.batch == 1) {
    b.json += ",\"Data\":\"";
    b.json += data64;
    b.json += "\",\"PartitionKey\":\"";
    append_key(&b.json);
    b.json += "\"}";
  } else {
    b.json += ",\"Records\":[";
    for (int64_t i = 0; i < n; ++i) {
      if (i > 0) b.json += ',';
      b.json += "{\"Data\":\"";
      b.json += data64;
      b.json += "\",\"PartitionKey\":\"";
      append_key(&b.json);
      b.json += "\"}";
    }
    b.json += "]}";
  }
  b.sha256 = sha256_hex(b.json);
  return b;
}

class PutConnection;

}  // namespace

// One client thread: an io_context driving its share of the connections, and what they share
// on that thread (the signer, the date, the latencies). The worker and its connections are
// touched only by the thread inside run(); before and after, by PutLoad's caller.
class PutWorker {
 public:
  static Result<std::unique_ptr<PutWorker>> create(PutLoad::Shared& shared);
  ~PutWorker();

  asio::io_context& ioc() { return ioc_; }
  // Builds a connection (and its bodies); it sends nothing before run().
  void add_connection(uint64_t seed);
  void run();
  // Appends the Authorization header value for a request with this date and payload hash.
  Status sign(std::string_view amz_date, std::string_view payload_sha256, std::string* out) {
    return signer_.append_authorization(amz_date, payload_sha256, out);
  }
  std::string_view amz_date() { return date_.now(); }
  void record_latency(double ms) { latencies_.push_back(ms); }
  void connection_done();
  const std::vector<double>& latencies() const { return latencies_; }
  const std::vector<tcp::endpoint>& endpoints() const { return endpoints_; }

 private:
  PutWorker(PutLoad::Shared& shared, SigV4FixedSigner signer)
      : shared_(shared), sweep_(ioc_), signer_(std::move(signer)) {}
  void arm_sweep();

  PutLoad::Shared& shared_;
  asio::io_context ioc_{1};  // 1: only this worker's thread runs it
  asio::steady_timer sweep_;
  SigV4FixedSigner signer_;
  AmzDateClock date_;
  std::vector<tcp::endpoint> endpoints_;
  std::vector<std::unique_ptr<PutConnection>> connections_;
  int active_ = 0;  // connections not yet finished
  std::vector<double> latencies_;
};

namespace {

// One keep-alive connection with one request in flight: claim a batch, (re)connect if needed,
// write, read the response, account for it, repeat until the deadline or the --records count.
// Owned by a PutWorker; every handler runs on that worker's thread.
class PutConnection {
 public:
  PutConnection(PutLoad::Shared& shared, PutWorker& worker, uint64_t seed)
      : shared_(shared), worker_(worker), socket_(worker.ioc()), pause_(worker.ioc()), rng_(seed) {
    const PutLoadOptions& o = shared_.options;
    pool_.reserve(static_cast<size_t>(shared_.bodies_per_connection));
    for (int i = 0; i < shared_.bodies_per_connection; ++i)
      pool_.push_back(build_body(o, o.batch, rng_));
    target_ = o.batch == 1 ? "Kinesis_20131202.PutRecord" : "Kinesis_20131202.PutRecords";
  }

  void start() { send_next(); }

  // Called by the worker's sweep: aborts a connect, write or read older than the timeout.
  void check_timeout(Clock::time_point now) {
    if (busy_ && now - op_start_ > shared_.client.timeout) {
      timed_out_ = true;
      close();  // the pending operation completes with operation_aborted
    }
  }

 private:
  // The next batch's record count: the batch size, or the smaller rest of a --records run;
  // 0 when the run is over.
  int64_t claim() {
    const int64_t batch = shared_.options.batch;
    if (shared_.options.records < 0) return Clock::now() < shared_.deadline ? batch : 0;
    const int64_t before = shared_.remaining.fetch_sub(batch);
    return before <= 0 ? 0 : std::min(batch, before);
  }

  void send_next() {
    const int64_t n = claim();
    if (n == 0) {
      close();
      worker_.connection_done();
      return;
    }
    if (n == shared_.options.batch) {
      body_ = &pool_[next_body_];
      next_body_ = (next_body_ + 1) % pool_.size();
    } else {
      tail_ = build_body(shared_.options, n, rng_);
      body_ = &tail_;
    }
    if (connected_) {
      write();
    } else {
      connect();
    }
  }

  void connect() {
    busy_ = true;
    timed_out_ = false;
    op_start_ = Clock::now();
    asio::async_connect(
        socket_, worker_.endpoints(),
        [this](const beast::error_code& ec, const tcp::endpoint&) { on_connect(ec); });
  }

  void on_connect(const beast::error_code& ec) {
    if (ec) return fail(ec);
    beast::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    connected_ = true;
    buffer_.clear();
    write();
  }

  // Sends the request for body_: its header text built here, the body as it is in the pool,
  // in one scatter write.
  void write() {
    const std::string_view date = worker_.amz_date();
    head_.clear();
    head_ += "POST / HTTP/1.1\r\nHost: ";
    head_ += shared_.client.endpoint.host_header;
    head_ += "\r\nX-Amz-Date: ";
    head_ += date;
    head_ += "\r\nX-Amz-Target: ";
    head_ += target_;
    head_ += "\r\nContent-Type: ";
    head_ += kContentType;
    head_ += "\r\nAuthorization: ";
    if (Status st = worker_.sign(date, body_->sha256, &head_); !st.ok()) {
      return fail_with("SigningFailed");
    }
    head_ += "\r\nContent-Length: ";
    append_int(body_->json.size(), &head_);
    head_ += "\r\n\r\n";
    busy_ = true;
    timed_out_ = false;
    sent_ = Clock::now();
    op_start_ = sent_;
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_->json)};
    asio::async_write(socket_, buffers, [this](const beast::error_code& ec, size_t) {
      if (ec) return fail(ec);
      parser_.emplace();
      parser_->eager(true);
      parser_->body_limit(kMaxResponseBody);
      // Parse into last response's string, so its capacity is reused.
      spare_body_.clear();
      parser_->get().body() = std::move(spare_body_);
      read();
    });
  }

  // Reads and parses until the response is complete. asio tries a read at once only when
  // the last one filled its buffer; otherwise it waits for the socket to become readable, so
  // a response normally costs one recv and no wasted read just after the write.
  void read() {
    socket_.async_read_some(buffer_.prepare(kReadChunk),
                            [this](const beast::error_code& ec, size_t n) { on_read(ec, n); });
  }

  void on_read(beast::error_code ec, size_t n) {
    if (ec == asio::error::eof) {
      parser_->put_eof(ec);  // completes a response whose end is the connection's end
      if (ec || !parser_->is_done()) return fail(asio::error::eof);
      keep_alive_ = false;
      return on_response();
    }
    if (ec) return fail(ec);
    buffer_.commit(n);
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return fail(ec);
    }
    if (!parser_->is_done()) return read();
    keep_alive_ = parser_->get().keep_alive();
    on_response();
  }

  void on_response() {
    busy_ = false;
    worker_.record_latency(std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
    Stats& stats = *shared_.stats;
    stats.requests.fetch_add(1);
    const int64_t n = body_->records;
    auto& res = parser_->get();
    const std::string& body = res.body();
    if (res.result_int() != 200) {
      std::string type = aws_error_type(body);
      if (type.empty()) type = "HTTP " + std::to_string(res.result_int());
      stats.error(type, n);
    } else {
      count_put(body, n);
    }
    spare_body_ = std::move(res.body());
    if (!keep_alive_) close();
    send_next();
  }

  // Counts the records of a 200 response: all of a PutRecord, and those of a PutRecords that
  // did not fail (their ErrorCodes counted as errors).
  void count_put(const std::string& body, int64_t n) {
    Stats& stats = *shared_.stats;
    const int64_t failed = shared_.options.batch == 1 ? 0 : scan_int(body, "FailedRecordCount");
    if (failed < 0) {
      stats.error("BadResponse", n);
      return;
    }
    if (failed > 0) {
      int64_t counted = 0;
      if (auto doc = api::decode_json(body); doc.ok()) {
        if (const api::Document* recs = doc->find("Records"); recs && recs->is_list()) {
          for (const auto& rec : recs->as_list()) {
            if (const api::Document* e = rec.find("ErrorCode"); e && e->is_string()) {
              stats.error(e->as_string());
              ++counted;
            }
          }
        }
      }
      if (counted < failed) stats.error("PutRecordsFailedRecord", failed - counted);
    }
    stats.records.fetch_add(n - failed);
    stats.bytes.fetch_add((n - failed) * shared_.options.record_size);
  }

  void fail(const beast::error_code& ec) {
    fail_with("transport: " + (timed_out_ ? std::string("timeout") : ec.message()));
  }

  // Counts the request in flight as failed, then pauses this connection alone before it
  // reconnects and goes on.
  void fail_with(const std::string& type) {
    busy_ = false;
    close();
    shared_.stats->requests.fetch_add(1);
    shared_.stats->error(type, body_->records);
    pause_.expires_after(kReconnectPause);
    pause_.async_wait([this](const beast::error_code&) { send_next(); });
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    connected_ = false;
  }

  PutLoad::Shared& shared_;
  PutWorker& worker_;
  tcp::socket socket_;
  asio::steady_timer pause_;  // the pause before reconnecting
  std::mt19937_64 rng_;
  std::string target_;      // the X-Amz-Target value
  std::vector<Body> pool_;  // built once; cycled through
  size_t next_body_ = 0;
  Body tail_;                   // the final, smaller batch of a --records run
  const Body* body_ = nullptr;  // the request in flight: a pool_ entry or tail_
  std::string head_;            // its request line and headers; the capacity is reused
  beast::flat_buffer buffer_;   // bytes read and not yet parsed
  std::optional<http::response_parser<http::string_body>> parser_;
  std::string spare_body_;  // the last response body, kept for its capacity
  bool connected_ = false;
  bool keep_alive_ = true;
  bool busy_ = false;           // a connect, write or read is pending
  bool timed_out_ = false;      // the pending operation was aborted by check_timeout
  Clock::time_point op_start_;  // when the pending operation started
  Clock::time_point sent_;      // when the request in flight was written
};

}  // namespace

// ---- PutWorker ----------------------------------------------------------------------------

Result<std::unique_ptr<PutWorker>> PutWorker::create(PutLoad::Shared& shared) {
  SigV4Request shape;
  shape.headers = {{"host", shared.client.endpoint.host_header},
                   {"x-amz-date", ""},
                   {"x-amz-target", shared.options.batch == 1 ? "Kinesis_20131202.PutRecord"
                                                              : "Kinesis_20131202.PutRecords"},
                   {"content-type", std::string(kContentType)}};
  auto signer =
      SigV4FixedSigner::create(shared.client.credentials, shared.client.region, "kinesis", shape);
  if (!signer.ok()) return signer.error();
  std::unique_ptr<PutWorker> w(new PutWorker(shared, std::move(signer).value()));
  beast::error_code ec;
  tcp::resolver resolver(w->ioc_);
  const auto results =
      resolver.resolve(shared.client.endpoint.host, shared.client.endpoint.port, ec);
  if (ec) {
    return Error(ErrorCode::kUnavailable,
                 "resolve " + shared.client.endpoint.host + ": " + ec.message());
  }
  for (const auto& r : results) w->endpoints_.push_back(r.endpoint());
  return w;
}

PutWorker::~PutWorker() = default;

void PutWorker::add_connection(uint64_t seed) {
  connections_.push_back(std::make_unique<PutConnection>(shared_, *this, seed));
}

void PutWorker::run() {
  active_ = static_cast<int>(connections_.size());
  for (auto& c : connections_) c->start();
  arm_sweep();
  ioc_.run();  // returns when every connection has finished and the sweep has stopped
}

void PutWorker::connection_done() {
  if (--active_ == 0) sweep_.cancel();
}

void PutWorker::arm_sweep() {
  if (active_ == 0) return;
  sweep_.expires_after(kTimeoutSweep);
  sweep_.async_wait([this](const beast::error_code& ec) {
    if (ec || active_ == 0) return;
    const auto now = Clock::now();
    for (auto& c : connections_) c->check_timeout(now);
    arm_sweep();
  });
}

// ---- PutLoad ------------------------------------------------------------------------------

Result<std::unique_ptr<PutLoad>> PutLoad::create(const PutLoadOptions& options,
                                                 const ClientOptions& client, Stats* stats) {
  std::unique_ptr<PutLoad> load(new PutLoad());
  Shared& s = load->shared_;
  s.options = options;
  s.client = client;
  s.stats = stats;
  s.remaining = options.records;
  const size_t per_connection = kPoolBudgetBytes / static_cast<size_t>(options.concurrency);
  s.bodies_per_connection = static_cast<int>(std::clamp<size_t>(
      per_connection / estimated_body_size(options, options.batch), 1, kMaxBodiesPerConnection));
  if (options.records >= 0) {
    // A count-bound run never needs more distinct bodies than it has full batches.
    const int64_t batches = std::max<int64_t>(1, options.records / options.batch);
    s.bodies_per_connection = static_cast<int>(std::min<int64_t>(s.bodies_per_connection, batches));
  }
  const int threads = std::clamp(options.threads, 1, options.concurrency);
  for (int t = 0; t < threads; ++t) {
    auto w = PutWorker::create(s);
    if (!w.ok()) return w.error();
    load->workers_.push_back(std::move(w).value());
  }
  std::random_device seed;
  for (int i = 0; i < options.concurrency; ++i) {
    load->workers_[static_cast<size_t>(i % threads)]->add_connection(
        (static_cast<uint64_t>(seed()) << 32) ^ static_cast<uint64_t>(i));
  }
  return load;
}

PutLoad::~PutLoad() = default;

void PutLoad::run(Clock::time_point deadline) {
  shared_.deadline = deadline;
  std::vector<std::thread> threads;
  for (auto& w : workers_) threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads) t.join();
  for (auto& w : workers_) shared_.stats->add_latencies(w->latencies());
}

}  // namespace freshet::cli::bench

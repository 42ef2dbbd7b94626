// A small Kinesis load program: PutRecords (or PutRecord) over keep-alive HTTP/1.1 from C
// connections, each on its own thread, against any Kinesis endpoint.
//
//   kinesis_load --endpoint http://127.0.0.1:4567 --stream load --create --shards 4
//                --records 2000000 --record-size 100 --batch 500 --concurrency 8
//
// Prints a progress line every second and a summary (records/s, MB/s, latency percentiles).
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/base64.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string host = "127.0.0.1";
  std::string port = "4567";
  std::string stream = "load";
  bool create = false;
  int shards = 4;
  long records = 1'000'000;
  int record_size = 100;
  int batch = 500;
  int concurrency = 8;
};

class Connection {
 public:
  explicit Connection(const Args& a) : args_(a), stream_(ioc_) {
    tcp::resolver r(ioc_);
    stream_.connect(r.resolve(a.host, a.port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  // Returns the HTTP status and fills body.
  int call(const std::string& op, const std::string& body, std::string* out) {
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, args_.host);
    req.set(http::field::content_type, "application/x-amz-json-1.1");
    req.set("X-Amz-Target", "Kinesis_20131202." + op);
    req.set(http::field::authorization,
            "AWS4-HMAC-SHA256 Credential=load/20250101/us-east-1/kinesis/aws4_request, "
            "SignedHeaders=host;x-amz-target, Signature=0");
    req.set("X-Amz-Date", "20250101T000000Z");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buf_, res);
    if (out != nullptr) *out = res.body();
    return res.result_int();
  }

 private:
  const Args& args_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--endpoint") {
      std::string e = next();
      if (e.rfind("http://", 0) == 0) e = e.substr(7);
      size_t c = e.rfind(':');
      a.host = e.substr(0, c);
      a.port = c == std::string::npos ? "80" : e.substr(c + 1);
    } else if (k == "--stream") a.stream = next();
    else if (k == "--create") a.create = true;
    else if (k == "--shards") a.shards = std::stoi(next());
    else if (k == "--records") a.records = std::stol(next());
    else if (k == "--record-size") a.record_size = std::stoi(next());
    else if (k == "--batch") a.batch = std::stoi(next());
    else if (k == "--concurrency") a.concurrency = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (a.create) {
    Connection c(a);
    std::string out;
    int st = c.call("CreateStream", "{\"StreamName\":\"" + a.stream +
                                        "\",\"ShardCount\":" + std::to_string(a.shards) + "}",
                    &out);
    if (st != 200 && out.find("ResourceInUse") == std::string::npos) {
      std::fprintf(stderr, "CreateStream: %d %s\n", st, out.c_str());
      return 1;
    }
  }
  // One request body per connection, reused: random keys spread records over every shard.
  std::atomic<long> sent{0};
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  std::mutex lat_mu;
  std::vector<double> latencies;
  const long requests = (a.records + a.batch - 1) / a.batch;
  std::atomic<long> next_request{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < a.concurrency; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string data(static_cast<size_t>(a.record_size), 'x');
      for (auto& ch : data) ch = static_cast<char>('a' + rng() % 26);
      const std::string data64 = freshet::base64_encode(data);
      std::string body;
      if (a.batch == 1) {
        body = "{\"StreamName\":\"" + a.stream + "\",\"Data\":\"" + data64 +
               "\",\"PartitionKey\":\"k" + std::to_string(rng()) + "\"}";
      } else {
        body = "{\"StreamName\":\"" + a.stream + "\",\"Records\":[";
        for (int i = 0; i < a.batch; ++i) {
          if (i) body += ",";
          body += "{\"Data\":\"" + data64 + "\",\"PartitionKey\":\"k" + std::to_string(rng()) + "\"}";
        }
        body += "]}";
      }
      const std::string op = a.batch == 1 ? "PutRecord" : "PutRecords";
      std::vector<double> mine;
      try {
        Connection c(a);
        std::string out;
        while (next_request.fetch_add(1) < requests) {
          auto t0 = Clock::now();
          int st = c.call(op, body, &out);
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          if (st != 200 || (a.batch > 1 && out.find("\"FailedRecordCount\":0") == std::string::npos)) {
            errors.fetch_add(1);
            if (errors.load() < 3) std::fprintf(stderr, "error %d: %.300s\n", st, out.c_str());
          } else {
            done.fetch_add(a.batch);
          }
          sent.fetch_add(a.batch);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "connection %d: %s\n", t, e.what());
        errors.fetch_add(1);
      }
      std::lock_guard l(lat_mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    long last = 0;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      long now = done.load();
      std::fprintf(stderr, "  %8.1fs  %10ld records  %9ld records/s  errors %ld\n",
                   std::chrono::duration<double>(Clock::now() - start).count(), now, now - last,
                   errors.load());
      last = now;
    }
  });
  for (auto& th : threads) th.join();
  // Measured before joining the progress thread, which may sleep up to a second more.
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  finished = true;
  progress.join();
  const double rps = static_cast<double>(done.load()) / secs;
  std::printf("records=%ld seconds=%.2f records_per_s=%.0f MB_per_s=%.1f requests=%zu "
              "errors=%ld p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
              done.load(), secs, rps, rps * a.record_size / 1e6, latencies.size(), errors.load(),
              percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99),
              percentile(latencies, 100));
  return errors.load() == 0 ? 0 : 1;
}

// A DynamoDB load program: PutItem, BatchWriteItem, GetItem or Query over keep-alive HTTP/1.1,
// one connection per thread, against any DynamoDB endpoint (Freshet, dynalite, moto).
//
//   table_load --endpoint http://127.0.0.1:4567 --op put --seconds 10 --concurrency 64
//              --item-size 200 [--table bench] [--create] [--partitions 200]
//
// --op put     PutItem of one item (--item-size bytes of attribute data) with a fresh key
// --op batch   BatchWriteItem of 25 such items
// --op get     GetItem of a random key among the --keys items that --op load wrote
// --op query   Query of one random partition among --partitions, each holding 100 items
// --op load    writes --keys items (pk k0..) and --partitions x 100 items (pk p<i>, sk 0..99)
//              with BatchWriteItem, for get and query
// Prints one summary line: ops, ops/s (items/s for put and batch), latency percentiles.
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string host = "127.0.0.1";
  std::string port = "4567";
  std::string table = "bench";
  std::string op = "put";
  bool create = false;
  double seconds = 10;
  int concurrency = 64;
  int item_size = 200;
  long keys = 100'000;
  int partitions = 200;
};

class Connection {
 public:
  explicit Connection(const Args& a) : args_(a), stream_(ioc_) { connect(); }
  int call(const std::string& op, const std::string& body, std::string* out) {
    if (closed_) {
      beast::error_code ec;
      stream_.socket().close(ec);
      buf_.clear();
      connect();
    }
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, args_.host);
    req.set(http::field::content_type, "application/x-amz-json-1.0");
    req.set("X-Amz-Target", "DynamoDB_20120810." + op);
    req.set(http::field::authorization,
            "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-target, Signature=0");
    req.set("X-Amz-Date", "20250101T000000Z");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream_, buf_, parser);
    if (out != nullptr) *out = parser.get().body();
    // Servers that do not keep connections alive (moto's werkzeug speaks HTTP/1.0): the next
    // call reconnects.
    closed_ = !parser.get().keep_alive();
    return parser.get().result_int();
  }

 private:
  void connect() {
    tcp::resolver r(ioc_);
    stream_.connect(r.resolve(args_.host, args_.port));
    stream_.socket().set_option(tcp::no_delay(true));
    closed_ = false;
  }
  bool closed_ = false;
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

// True if out has "key" followed by optional whitespace, ':', whitespace and value
// (servers differ in JSON spacing: moto writes "Count": 100).
bool has_member(const std::string& out, const std::string& key, const std::string& value) {
  const std::string k = "\"" + key + "\"";
  for (size_t at = out.find(k); at != std::string::npos; at = out.find(k, at + 1)) {
    size_t i = at + k.size();
    while (i < out.size() && out[i] == ' ') ++i;
    if (i >= out.size() || out[i] != ':') continue;
    ++i;
    while (i < out.size() && out[i] == ' ') ++i;
    if (out.compare(i, value.size(), value) == 0) return true;
  }
  return false;
}

std::string item_json(const std::string& pk, const std::string* sk, const std::string& data) {
  std::string s = "{\"pk\":{\"S\":\"" + pk + "\"}";
  if (sk != nullptr) s += ",\"sk\":{\"N\":\"" + *sk + "\"}";
  return s + ",\"data\":{\"S\":\"" + data + "\"}}";
}

std::string batch_body(const std::string& table, const std::vector<std::string>& items) {
  std::string s = "{\"RequestItems\":{\"" + table + "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ",";
    s += "{\"PutRequest\":{\"Item\":" + items[i] + "}}";
  }
  return s + "]}}";
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
    } else if (k == "--table") a.table = next();
    else if (k == "--op") a.op = next();
    else if (k == "--create") a.create = true;
    else if (k == "--seconds") a.seconds = std::stod(next());
    else if (k == "--concurrency") a.concurrency = std::stoi(next());
    else if (k == "--item-size") a.item_size = std::stoi(next());
    else if (k == "--keys") a.keys = std::stol(next());
    else if (k == "--partitions") a.partitions = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (a.create) {
    Connection c(a);
    std::string out;
    int st = c.call("CreateTable",
                    "{\"TableName\":\"" + a.table +
                        "\",\"BillingMode\":\"PAY_PER_REQUEST\",\"KeySchema\":[{\"AttributeName\":"
                        "\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":"
                        "\"RANGE\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
                        "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\",\"AttributeType\":"
                        "\"N\"}]}",
                    &out);
    if (st != 200 && out.find("ResourceInUse") == std::string::npos) {
      std::fprintf(stderr, "CreateTable: %d %s\n", st, out.c_str());
      return 1;
    }
    // Wait for ACTIVE (dynalite and moto may take a moment).
    for (int i = 0; i < 100; ++i) {
      c.call("DescribeTable", "{\"TableName\":\"" + a.table + "\"}", &out);
      if (out.find("\"ACTIVE\"") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const std::string data(static_cast<size_t>(std::max(1, a.item_size - 20)), 'x');
  std::atomic<long> done_items{0}, done_ops{0}, errors{0}, next_load{0};
  std::mutex lat_mu;
  std::vector<double> latencies;
  const long load_batches = (a.keys + 24) / 25 + static_cast<long>(a.partitions) * 4;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(a.seconds);
  std::vector<std::thread> threads;
  for (int t = 0; t < a.concurrency; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      std::vector<double> mine;
      long seq = 0;
      try {
        Connection c(a);
        std::string out, op, body;
        while (true) {
          long items = 1;
          if (a.op == "load") {
            long b = next_load.fetch_add(1);
            if (b >= load_batches) break;
            std::vector<std::string> batch;
            const long key_batches = (a.keys + 24) / 25;
            if (b < key_batches) {
              for (long k = b * 25; k < std::min(a.keys, b * 25 + 25); ++k) {
                std::string sk = "0";
                batch.push_back(item_json("k" + std::to_string(k), &sk, data));
              }
            } else {
              long p = (b - key_batches) / 4, part = (b - key_batches) % 4;
              for (long s = part * 25; s < part * 25 + 25; ++s) {
                std::string sk = std::to_string(s);
                batch.push_back(item_json("p" + std::to_string(p), &sk, data));
              }
            }
            op = "BatchWriteItem";
            body = batch_body(a.table, batch);
            items = static_cast<long>(batch.size());
          } else {
            if (Clock::now() >= deadline) break;
            if (a.op == "put") {
              std::string sk = "0";
              op = "PutItem";
              body = "{\"TableName\":\"" + a.table + "\",\"Item\":" +
                     item_json("w" + std::to_string(t) + "-" + std::to_string(seq++), &sk, data) +
                     "}";
            } else if (a.op == "batch") {
              std::vector<std::string> batch;
              for (int i = 0; i < 25; ++i) {
                std::string sk = std::to_string(i);
                batch.push_back(item_json("b" + std::to_string(t) + "-" + std::to_string(seq), &sk, data));
              }
              ++seq;
              op = "BatchWriteItem";
              body = batch_body(a.table, batch);
              items = 25;
            } else if (a.op == "get") {
              op = "GetItem";
              body = "{\"TableName\":\"" + a.table + "\",\"Key\":{\"pk\":{\"S\":\"k" +
                     std::to_string(rng() % static_cast<uint64_t>(a.keys)) +
                     "\"},\"sk\":{\"N\":\"0\"}}}";
            } else if (a.op == "query") {
              op = "Query";
              body = "{\"TableName\":\"" + a.table +
                     "\",\"KeyConditionExpression\":\"pk = :p\",\"ExpressionAttributeValues\":"
                     "{\":p\":{\"S\":\"p" +
                     std::to_string(rng() % static_cast<uint64_t>(a.partitions)) + "\"}}}";
            } else {
              std::fprintf(stderr, "unknown --op %s\n", a.op.c_str());
              errors.fetch_add(1);
              break;
            }
          }
          auto t0 = Clock::now();
          int st = c.call(op, body, &out);
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          bool ok = st == 200;
          if (ok && a.op == "get") ok = out.find("\"Item\"") != std::string::npos;
          if (ok && a.op == "query") ok = has_member(out, "Count", "100");
          if (ok && op == "BatchWriteItem") ok = has_member(out, "UnprocessedItems", "{}");
          if (!ok) {
            if (errors.fetch_add(1) < 3) std::fprintf(stderr, "error %d: %.300s\n", st, out.c_str());
          } else {
            done_items.fetch_add(items);
            done_ops.fetch_add(1);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "connection %d: %s\n", t, e.what());
        errors.fetch_add(1);
      }
      std::lock_guard l(lat_mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("op=%s ops=%ld items=%ld seconds=%.2f ops_per_s=%.0f items_per_s=%.0f errors=%ld "
              "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
              a.op.c_str(), done_ops.load(), done_items.load(), secs, done_ops.load() / secs,
              done_items.load() / secs, errors.load(), percentile(latencies, 50),
              percentile(latencies, 90), percentile(latencies, 99), percentile(latencies, 100));
  return errors.load() == 0 ? 0 : 1;
}

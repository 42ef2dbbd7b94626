// SubscribeToShard benchmark against a running server (HTTP/1.1, raw event-stream decoding).
//
//   subscribe_bench --endpoint http://127.0.0.1:4567 --mode latency --shards 4 --consumers 2
//                   --rate 2000 --seconds 10
//     One producer connection per shard puts PutRecord requests at --rate records/s in all,
//     each record's data being its send time; every consumer subscribes (LATEST) to every
//     shard. Prints the put-to-event latency percentiles: from sending the PutRecord to
//     decoding the record from an event.
//
//   subscribe_bench --endpoint ... --mode throughput --shards 4 --records 4000000
//                   --record-size 100
//     Fills a fresh stream with --records records (PutRecords, 8 connections), then one
//     consumer subscribes (TRIM_HORIZON) to every shard and reads until it has them all.
//     Prints records/s delivered from the first subscribe to the last record.
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
  std::string mode = "latency";
  int shards = 4;
  int consumers = 2;
  double rate = 2000;
  double seconds = 10;
  long records = 4'000'000;
  int record_size = 100;
};

const char* kAuth =
    "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0";

http::request<http::string_body> make_request(const Args& a, const std::string& op,
                                              const std::string& body) {
  http::request<http::string_body> req{http::verb::post, "/", 11};
  req.set(http::field::host, a.host);
  req.set(http::field::content_type, "application/x-amz-json-1.1");
  req.set("X-Amz-Target", "Kinesis_20131202." + op);
  req.set(http::field::authorization, kAuth);
  req.set("X-Amz-Date", "20250101T000000Z");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  return req;
}

class Connection {
 public:
  explicit Connection(const Args& a) : args_(a), stream_(ioc_) {
    tcp::resolver r(ioc_);
    stream_.connect(r.resolve(a.host, a.port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  int call(const std::string& op, const std::string& body, std::string* out = nullptr) {
    http::write(stream_, make_request(args_, op, body));
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

std::string field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// One subscription read on its own thread: calls on_payload with each SubscribeToShardEvent's
// JSON payload until it returns false or the stream ends.
template <typename F>
void subscribe(const Args& a, const std::string& consumer, int shard, const char* position,
               F on_payload) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  tcp::resolver r(ioc);
  s.connect(r.resolve(a.host, a.port));
  char sid[32];
  std::snprintf(sid, sizeof(sid), "shardId-%012d", shard);
  http::write(s, make_request(a, "SubscribeToShard",
                              "{\"ConsumerARN\":\"" + consumer + "\",\"ShardId\":\"" + sid +
                                  "\",\"StartingPosition\":{\"Type\":\"" + position + "\"}}"));
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  http::read_header(s, buf, p);
  if (p.get().result_int() != 200) {
    std::fprintf(stderr, "SubscribeToShard %s: HTTP %d\n", sid, p.get().result_int());
    return;
  }
  std::string pending;
  std::vector<char> chunk(1 << 20);
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    beast::error_code ec;
    http::read_some(s, buf, p, ec);  // returns with what arrived (read() would fill the chunk)
    if (ec && ec != http::error::need_buffer) break;
    pending.append(chunk.data(), chunk.size() - p.get().body().size);
    size_t at = 0;
    while (pending.size() - at >= 12) {
      const uint32_t total = be32(pending.data() + at);
      const uint32_t hlen = be32(pending.data() + at + 4);
      if (pending.size() - at < total) break;
      std::string_view headers(pending.data() + at + 12, hlen);
      if (headers.find("SubscribeToShardEvent") != std::string_view::npos) {
        if (!on_payload(std::string_view(pending.data() + at + 12 + hlen, total - hlen - 16))) {
          return;
        }
      }
      at += total;
    }
    pending.erase(0, at);
  }
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q / 100.0 * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::string setup(const Args& a, const std::string& stream, int consumers,
                  std::vector<std::string>* consumer_arns) {
  Connection c(a);
  std::string out;
  if (c.call("CreateStream", "{\"StreamName\":\"" + stream +
                                 "\",\"ShardCount\":" + std::to_string(a.shards) + "}",
             &out) != 200) {
    std::fprintf(stderr, "CreateStream: %s\n", out.c_str());
    std::exit(1);
  }
  c.call("DescribeStreamSummary", "{\"StreamName\":\"" + stream + "\"}", &out);
  const std::string arn = field(out, "StreamARN");
  for (int i = 0; i < consumers; ++i) {
    c.call("RegisterStreamConsumer",
           "{\"StreamARN\":\"" + arn + "\",\"ConsumerName\":\"c" + std::to_string(i) + "\"}",
           &out);
    consumer_arns->push_back(field(out, "ConsumerARN"));
  }
  return arn;
}

int run_latency(const Args& a) {
  const std::string stream = "sublat" + std::to_string(now_ns() % 1000000);
  std::vector<std::string> consumers;
  setup(a, stream, a.consumers, &consumers);
  std::mutex mu;
  std::vector<double> lat;
  std::vector<double> put_lat;  // PutRecord send to acknowledgement (includes the fsync)
  std::atomic<bool> stop{false};
  std::atomic<long> received{0};
  std::vector<std::thread> readers;
  for (const auto& c : consumers) {
    for (int sh = 0; sh < a.shards; ++sh) {
      readers.emplace_back([&, c, sh] {
        std::vector<double> mine;
        subscribe(a, c, sh, "LATEST", [&](std::string_view payload) {
          const int64_t now = now_ns();
          size_t at = 0;
          const std::string_view key = "\"Data\":\"";
          while ((at = payload.find(key, at)) != std::string_view::npos) {
            at += key.size();
            const size_t end = payload.find('"', at);
            auto raw = freshet::base64_decode(payload.substr(at, end - at));
            if (raw.ok() && raw->size() >= 8) {
              int64_t sent = 0;
              std::memcpy(&sent, raw->data(), 8);
              mine.push_back((now - sent) / 1e6);
              received.fetch_add(1, std::memory_order_relaxed);
            }
            at = end;
          }
          return !stop.load();
        });
        std::lock_guard l(mu);
        lat.insert(lat.end(), mine.begin(), mine.end());
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscriptions established
  // One producer per shard, each at rate / shards, pinned to its shard by ExplicitHashKey.
  std::vector<std::thread> producers;
  std::atomic<long> sent{0};
  const auto start = Clock::now();
  for (int sh = 0; sh < a.shards; ++sh) {
    producers.emplace_back([&, sh] {
      Connection c(a);
      // The middle of the shard's hash-key range (as 2^128 / shards * (sh + 0.5)).
      const unsigned __int128 step = (~static_cast<unsigned __int128>(0)) / a.shards;
      unsigned __int128 key = step * sh + step / 2;
      char digits[48];
      int n = 0;
      do {
        digits[n++] = static_cast<char>('0' + static_cast<int>(key % 10));
        key /= 10;
      } while (key != 0);
      std::string ehk(digits, n);
      std::reverse(ehk.begin(), ehk.end());
      const auto interval = std::chrono::duration<double>(a.shards / a.rate);
      auto next = Clock::now();
      std::string padding(static_cast<size_t>(std::max(0, a.record_size - 8)), 'p');
      std::vector<double> acks;
      while (Clock::now() - start < std::chrono::duration<double>(a.seconds)) {
        std::this_thread::sleep_until(next);
        next += std::chrono::duration_cast<Clock::duration>(interval);
        const int64_t t = now_ns();
        std::string data(8, '\0');
        std::memcpy(data.data(), &t, 8);
        data += padding;
        c.call("PutRecord", "{\"StreamName\":\"" + stream + "\",\"Data\":\"" +
                                freshet::base64_encode(data) +
                                "\",\"PartitionKey\":\"k\",\"ExplicitHashKey\":\"" + ehk + "\"}");
        acks.push_back((now_ns() - t) / 1e6);
        sent.fetch_add(1);
      }
      std::lock_guard l(mu);
      put_lat.insert(put_lat.end(), acks.begin(), acks.end());
    });
  }
  for (auto& t : producers) t.join();
  const long want = sent.load() * a.consumers;
  const auto wait_until = Clock::now() + std::chrono::seconds(10);
  while (received.load() < want && Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  // Readers return at their next event (a heartbeat comes within 5 s at the latest).
  for (auto& t : readers) t.join();
  std::printf("mode=latency shards=%d consumers=%d put=%ld received=%zu p50_ms=%.3f "
              "p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f put_ack_p50_ms=%.3f "
              "put_ack_p99_ms=%.3f\n",
              a.shards, a.consumers, sent.load(), lat.size(), percentile(lat, 50),
              percentile(lat, 90), percentile(lat, 99), percentile(lat, 99.9),
              percentile(lat, 100), percentile(put_lat, 50), percentile(put_lat, 99));
  return static_cast<long>(lat.size()) == want ? 0 : 1;
}

int run_throughput(const Args& a) {
  const std::string stream = "subtput" + std::to_string(now_ns() % 1000000);
  std::vector<std::string> consumers;
  setup(a, stream, 1, &consumers);
  // Fill: 8 connections of PutRecords x 500 with random partition keys.
  const int batch = 500;
  std::atomic<long> next{0};
  const long requests = (a.records + batch - 1) / batch;
  std::vector<std::thread> fill;
  const auto fill_start = Clock::now();
  for (int t = 0; t < 8; ++t) {
    fill.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string data(static_cast<size_t>(a.record_size), 'x');
      for (auto& ch : data) ch = static_cast<char>('a' + rng() % 26);
      const std::string d64 = freshet::base64_encode(data);
      std::string body = "{\"StreamName\":\"" + stream + "\",\"Records\":[";
      for (int i = 0; i < batch; ++i) {
        if (i) body += ",";
        body += "{\"Data\":\"" + d64 + "\",\"PartitionKey\":\"k" + std::to_string(rng()) + "\"}";
      }
      body += "]}";
      Connection c(a);
      while (next.fetch_add(1) < requests) c.call("PutRecords", body);
    });
  }
  for (auto& t : fill) t.join();
  const long total = requests * batch;
  std::fprintf(stderr, "filled %ld records in %.1f s\n", total,
               std::chrono::duration<double>(Clock::now() - fill_start).count());
  std::atomic<long> received{0};
  std::vector<std::thread> readers;
  const auto start = Clock::now();
  std::atomic<int64_t> last_ns{0};
  for (int sh = 0; sh < a.shards; ++sh) {
    readers.emplace_back([&, sh] {
      subscribe(a, consumers[0], sh, "TRIM_HORIZON", [&](std::string_view payload) {
        size_t n = 0, at = 0;
        const std::string_view key = "{\"SequenceNumber\":";
        while ((at = payload.find(key, at)) != std::string_view::npos) {
          ++n;
          at += key.size();
        }
        const long got = received.fetch_add(static_cast<long>(n)) + static_cast<long>(n);
        if (n > 0) last_ns = now_ns();
        // Done when every record arrived; an empty event on a drained shard also ends it.
        return got < total && (n > 0 || Clock::now() - start < std::chrono::seconds(30));
      });
    });
  }
  for (auto& t : readers) t.join();
  const double secs = (last_ns.load() - std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             start.time_since_epoch())
                                             .count()) /
                      1e9;
  std::printf("mode=throughput shards=%d records=%ld received=%ld seconds=%.3f "
              "records_per_s=%.0f MB_per_s=%.1f\n",
              a.shards, total, received.load(), secs, received.load() / secs,
              received.load() * a.record_size / secs / 1e6);
  return received.load() == total ? 0 : 1;
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
    } else if (k == "--mode") a.mode = next();
    else if (k == "--shards") a.shards = std::stoi(next());
    else if (k == "--consumers") a.consumers = std::stoi(next());
    else if (k == "--rate") a.rate = std::stod(next());
    else if (k == "--seconds") a.seconds = std::stod(next());
    else if (k == "--records") a.records = std::stol(next());
    else if (k == "--record-size") a.record_size = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  try {
    if (a.mode == "latency") return run_latency(a);
    if (a.mode == "throughput") return run_throughput(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "subscribe_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 2;
}

#include "bench_command.h"
#include "env.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "bench_client.h"
#include "bench_put.h"
#include "bench_stats.h"
#include "freshet/common/base64.h"
#include "freshet/api/codec.h"
#include "freshet/api/document.h"

namespace freshet::cli {
namespace {

using bench::CallResult;
using bench::GetRecordsScan;
using bench::scan_get_records;
using bench::ClientOptions;
using bench::json_escape;
using bench::KinesisConnection;
using bench::Stats;
using Clock = std::chrono::steady_clock;

// ---- flags ----------------------------------------------------------------------------------

struct CommonArgs {
  std::string endpoint;
  std::string stream;
  std::string region = "us-east-1";
  bool json = false;
  int64_t timeout_ms = 30'000;
  bool create = false;
  int shards = 1;
  int record_size = 100;
};

struct PutArgs {
  int64_t records = -1;
  double duration = -1;
  int batch = 100;
  int concurrency = 4;
  int threads = 1;
  std::string keys = "random";
  int64_t distinct_keys = 0;  // 0 = random
};

struct GetArgs {
  int limit = 1000;
  bool follow = false;
  double duration = -1;
  int poll_ms = 200;
};

struct E2eArgs {
  int poll_ms = 100;
  double duration = 10;
};

// ---- statistics -----------------------------------------------------------------------------

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Prints one line a second on stderr until stop().
class Progress {
 public:
  Progress(const Stats& stats, Clock::time_point start, int record_size)
      : stats_(stats), start_(start), record_size_(record_size) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Progress() { stop(); }
  void stop() {
    {
      std::lock_guard l(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    int64_t last_records = 0;
    int64_t last_bytes = 0;
    auto last = start_;
    std::unique_lock l(mu_);
    for (int tick = 1;; ++tick) {
      if (cv_.wait_until(l, start_ + std::chrono::seconds(tick), [this] { return stopped_; })) return;
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - last).count();
      const int64_t r = stats_.records.load();
      const int64_t b = stats_.bytes.load();
      std::fprintf(stderr, "[%6.1fs] records %10lld  %9.0f records/s  %7.2f MB/s  errors %lld\n",
                   std::chrono::duration<double>(now - start_).count(),
                   static_cast<long long>(r), static_cast<double>(r - last_records) / dt,
                   static_cast<double>(b - last_bytes) / dt / 1e6,
                   static_cast<long long>(stats_.errors.load()));
      last_records = r;
      last_bytes = b;
      last = now;
    }
    (void)record_size_;
  }

  const Stats& stats_;
  Clock::time_point start_;
  int record_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  size_t count = 0;
};

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

std::string percentiles_json(const Percentiles& p) {
  return "{\"count\":" + std::to_string(p.count) + ",\"p50\":" + num(p.p50) +
         ",\"p90\":" + num(p.p90) + ",\"p99\":" + num(p.p99) + ",\"p99_9\":" + num(p.p999) +
         ",\"max\":" + num(p.max) + "}";
}

// The process's CPU time so far, in seconds.
struct CpuTimes {
  double user = 0;
  double sys = 0;
};

CpuTimes cpu_times() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6};
}

struct Summary {
  std::string mode;
  double seconds = 0;
  const Stats* stats = nullptr;
  std::string latency_what;  // what the latency measures
  std::vector<std::pair<std::string, std::string>> extra;  // name, JSON value
  std::vector<std::pair<std::string, Percentiles>> extra_latencies;
  std::vector<std::string> notes;  // lines for the text summary only
  CpuTimes cpu_at_start;  // subtracted from the client CPU time; zero: count from launch
};

// Prints the summary (text on stdout, or one JSON object with --json). Returns the exit code.
int finish(const Summary& s, bool json) {
  const CpuTimes cpu = cpu_times();
  const double user = cpu.user - s.cpu_at_start.user;
  const double sys = cpu.sys - s.cpu_at_start.sys;
  const double cpu_pct = s.seconds > 0 ? 100.0 * (user + sys) / s.seconds : 0;
  const Stats& st = *s.stats;
  const int64_t records = st.records.load();
  const double rps = s.seconds > 0 ? static_cast<double>(records) / s.seconds : 0;
  const double mbps = s.seconds > 0 ? static_cast<double>(st.bytes.load()) / s.seconds / 1e6 : 0;
  const Percentiles lat = percentiles(st.latencies());
  const auto errors = st.error_types();
  if (json) {
    std::string o = "{\"mode\":\"" + s.mode + "\",\"records\":" + std::to_string(records) +
                    ",\"count\":" + std::to_string(records) +
                    ",\"bytes\":" + std::to_string(st.bytes.load()) +
                    ",\"requests\":" + std::to_string(st.requests.load()) +
                    ",\"seconds\":" + num(s.seconds) + ",\"records_per_s\":" + num(rps) +
                    ",\"mb_per_s\":" + num(mbps) + ",\"latency_what\":\"" + s.latency_what +
                    "\",\"latency_ms\":" + percentiles_json(lat) +
                    ",\"p50\":" + num(lat.p50) + ",\"p99\":" + num(lat.p99);
    for (const auto& [name, p] : s.extra_latencies) o += ",\"" + name + "\":" + percentiles_json(p);
    o += ",\"errors\":" + std::to_string(st.errors.load()) + ",\"errors_by_type\":{";
    bool first = true;
    for (const auto& [type, n] : errors) {
      if (!first) o += ",";
      first = false;
      o += "\"" + json_escape(type) + "\":" + std::to_string(n);
    }
    o += "}";
    for (const auto& [name, value] : s.extra) o += ",\"" + name + "\":" + value;
    o += ",\"client_cpu\":{\"user_s\":" + num(user) + ",\"sys_s\":" + num(sys) +
         ",\"percent_of_wall\":" + num(cpu_pct) + "}}";
    std::printf("%s\n", o.c_str());
  } else {
    std::printf("freshet bench %s: %lld records in %.2f s: %.0f records/s, %.2f MB/s, %lld requests\n",
                s.mode.c_str(), static_cast<long long>(records), s.seconds, rps, mbps,
                static_cast<long long>(st.requests.load()));
    auto print_lat = [](const char* what, const Percentiles& p) {
      std::printf("  latency ms (%s, n=%zu): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
                  what, p.count, p.p50, p.p90, p.p99, p.p999, p.max);
    };
    print_lat(s.latency_what.c_str(), lat);
    for (const auto& [name, p] : s.extra_latencies) print_lat(name.c_str(), p);
    for (const auto& [name, value] : s.extra) std::printf("  %s: %s\n", name.c_str(), value.c_str());
    for (const auto& note : s.notes) std::printf("  %s\n", note.c_str());
    std::printf("  errors: %lld\n", static_cast<long long>(st.errors.load()));
    for (const auto& [type, n] : errors) {
      std::printf("    %-45s %lld\n", type.c_str(), static_cast<long long>(n));
    }
    std::printf("  client cpu: user %.2f s, sys %.2f s = %.0f%% of wall time (%u cores)\n", user,
                sys, cpu_pct, std::thread::hardware_concurrency());
  }
  std::fflush(stdout);
  return st.errors.load() == 0 ? 0 : 1;
}

// ---- helpers for the API ------------------------------------------------------------------

std::string stream_member(const std::string& stream) {
  return "\"StreamName\":\"" + json_escape(stream) + "\"";
}

void sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Connects, creates the stream if asked, and waits until it is ACTIVE. Returns 0 or 1.
int prepare_stream(const ClientOptions& co, const CommonArgs& c) {
  KinesisConnection conn(co);
  if (std::string err = conn.connect(); !err.empty()) {
    std::fprintf(stderr, "freshet bench: cannot reach %s: %s\n", c.endpoint.c_str(), err.c_str());
    return 1;
  }
  if (c.create) {
    CallResult r = conn.call("CreateStream", "{" + stream_member(c.stream) + ",\"ShardCount\":" +
                                                 std::to_string(c.shards) + "}");
    if (!r.ok() && r.error_type != "ResourceInUseException") {
      std::fprintf(stderr, "freshet bench: CreateStream %s failed: %s %s\n", c.stream.c_str(),
                   r.error_type.c_str(), r.body.c_str());
      return 1;
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    CallResult r = conn.call("DescribeStreamSummary", "{" + stream_member(c.stream) + "}");
    if (!r.ok()) {
      std::fprintf(stderr, "freshet bench: DescribeStreamSummary %s failed: %s%s\n",
                   c.stream.c_str(), r.error_type.c_str(),
                   r.error_type == "ResourceNotFoundException" ? " (use --create --shards N)" : "");
      return 1;
    }
    if (r.body.find("\"ACTIVE\"") != std::string::npos) return 0;
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "freshet bench: stream %s is not ACTIVE after 60 s\n", c.stream.c_str());
      return 1;
    }
    sleep_ms(250);
  }
}

// The stream's shard ids (ListShards, following NextToken). Empty + *error on failure.
std::vector<std::string> list_shards(KinesisConnection& conn, const CommonArgs& c,
                                     std::string* error) {
  std::vector<std::string> ids;
  std::string token;
  for (int page = 0; page < 1000; ++page) {
    const std::string body = token.empty()
                                 ? "{" + stream_member(c.stream) + "}"
                                 : "{\"NextToken\":\"" + json_escape(token) + "\"}";
    CallResult r = conn.call("ListShards", body);
    if (!r.ok()) {
      *error = "ListShards: " + r.error_type;
      return {};
    }
    auto doc = api::decode_json(r.body);
    if (!doc.ok()) {
      *error = "ListShards: bad response: " + doc.error().message();
      return {};
    }
    if (const api::Document* shards = doc->find("Shards"); shards && shards->is_list()) {
      for (const auto& s : shards->as_list()) {
        if (const api::Document* id = s.find("ShardId"); id && id->is_string()) {
          ids.push_back(id->as_string());
        }
      }
    }
    const api::Document* next = doc->find("NextToken");
    if (next == nullptr || !next->is_string() || next->as_string().empty()) break;
    token = next->as_string();
  }
  return ids;
}

// GetShardIterator; empty + counts an error on failure.
std::string shard_iterator(KinesisConnection& conn, const CommonArgs& c, const std::string& shard,
                           const char* type, Stats& stats) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    CallResult r = conn.call("GetShardIterator", "{" + stream_member(c.stream) +
                                                     ",\"ShardId\":\"" + json_escape(shard) +
                                                     "\",\"ShardIteratorType\":\"" + type + "\"}");
    stats.requests.fetch_add(1);
    if (r.ok()) {
      auto doc = api::decode_json(r.body);
      if (doc.ok()) {
        if (const api::Document* it = doc->find("ShardIterator"); it && it->is_string()) {
          return it->as_string();
        }
      }
      stats.error("BadResponse");
      return "";
    }
    stats.error(r.error_type);
    if (!r.transport_error() && r.error_type != "ProvisionedThroughputExceededException" &&
        r.error_type != "LimitExceededException") {
      return "";
    }
    sleep_ms(200);
  }
  return "";
}

// ---- put ----------------------------------------------------------------------------------

int run_put(const CommonArgs& c, const PutArgs& p, const ClientOptions& co) {
  if (int rc = prepare_stream(co, c); rc != 0) return rc;
  Stats stats;
  bench::PutLoadOptions o;
  o.stream = c.stream;
  o.batch = p.batch;
  o.record_size = c.record_size;
  o.distinct_keys = p.distinct_keys;
  o.concurrency = p.concurrency;
  o.threads = p.threads;
  o.records = p.records;
  // Builds every body before the clock starts.
  auto load = bench::PutLoad::create(o, co, &stats);
  if (!load.ok()) {
    std::fprintf(stderr, "freshet bench put: %s\n", load.error().message().c_str());
    return 1;
  }
  // The CPU spent building the bodies is not the cost of sending them.
  const CpuTimes cpu_at_start = cpu_times();
  const auto start = Clock::now();
  const auto deadline =
      p.records >= 0
          ? Clock::time_point::max()
          : start + std::chrono::microseconds(static_cast<int64_t>(p.duration * 1e6));
  Progress progress(stats, start, c.record_size);
  (*load)->run(deadline);
  const double secs = since(start);
  progress.stop();
  Summary s;
  s.mode = "put";
  s.seconds = secs;
  s.stats = &stats;
  s.latency_what = p.batch == 1 ? "PutRecord request" : "PutRecords request";
  const int bodies = (*load)->bodies_per_connection();
  s.extra = {{"batch", std::to_string(p.batch)},
             {"concurrency", std::to_string(p.concurrency)},
             {"threads", std::to_string((*load)->threads())},
             {"bodies_per_connection", std::to_string(bodies)},
             {"record_size", std::to_string(c.record_size)}};
  s.notes = {"bodies: pool of " + std::to_string(bodies) +
             " pre-built per connection (before the clock and the client cpu count start)"};
  s.cpu_at_start = cpu_at_start;
  return finish(s, c.json);
}

// ---- get ----------------------------------------------------------------------------------

int run_get(const CommonArgs& c, const GetArgs& g, const ClientOptions& co) {
  if (int rc = prepare_stream(co, c); rc != 0) return rc;
  KinesisConnection control(co);
  std::string err;
  const std::vector<std::string> shards = list_shards(control, c, &err);
  if (shards.empty()) {
    std::fprintf(stderr, "freshet bench get: %s\n", err.empty() ? "no shards" : err.c_str());
    return 1;
  }
  Stats stats;
  const auto start = Clock::now();
  const double duration = g.duration > 0 ? g.duration : (g.follow ? 10.0 : 300.0);
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(duration * 1e6));
  std::atomic<int64_t> shards_done{0};
  Progress progress(stats, start, c.record_size);
  std::vector<std::thread> threads;
  for (const std::string& shard : shards) {
    threads.emplace_back([&, shard] {
      KinesisConnection conn(co);
      std::vector<double> latencies;
      std::string it =
          shard_iterator(conn, c, shard, g.follow ? "LATEST" : "TRIM_HORIZON", stats);
      while (!it.empty() && Clock::now() < deadline) {
        const auto t0 = Clock::now();
        CallResult r = conn.call("GetRecords", "{\"ShardIterator\":\"" + json_escape(it) +
                                                   "\",\"Limit\":" + std::to_string(g.limit) + "}");
        latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        stats.requests.fetch_add(1);
        if (!r.ok()) {
          stats.error(r.error_type);
          if (r.transport_error() || r.error_type == "ProvisionedThroughputExceededException") {
            sleep_ms(200);
            continue;
          }
          break;  // e.g. ExpiredIteratorException
        }
        const GetRecordsScan scan = scan_get_records(r.body);
        if (!scan.ok) {
          stats.error("BadResponse");
          break;
        }
        const int64_t n = scan.records;
        stats.records.fetch_add(n);
        stats.bytes.fetch_add(scan.bytes);
        if (!scan.next_iterator) break;  // a closed shard, fully read
        it = *scan.next_iterator;
        const bool caught_up = scan.millis_behind && *scan.millis_behind == 0;
        if (!g.follow && caught_up && n < g.limit) break;
        if (g.follow && n == 0) sleep_ms(g.poll_ms);
      }
      shards_done.fetch_add(1);
      stats.add_latencies(latencies);
    });
  }
  for (auto& th : threads) th.join();
  const double secs = since(start);
  progress.stop();
  Summary s;
  s.mode = g.follow ? "get-follow" : "get";
  s.seconds = secs;
  s.stats = &stats;
  s.latency_what = "GetRecords request";
  s.extra = {{"shards", std::to_string(shards.size())}, {"limit", std::to_string(g.limit)}};
  if (!g.follow && Clock::now() >= deadline) {
    std::fprintf(stderr, "freshet bench get: stopped at the %.0f s bound before catching up\n",
                 duration);
  }
  return finish(s, c.json);
}

// ---- e2e ----------------------------------------------------------------------------------

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

int run_e2e(const CommonArgs& c, const E2eArgs& e, const ClientOptions& co) {
  if (int rc = prepare_stream(co, c); rc != 0) return rc;
  KinesisConnection control(co);
  std::string err;
  const std::vector<std::string> shards = list_shards(control, c, &err);
  if (shards.empty()) {
    std::fprintf(stderr, "freshet bench e2e: %s\n", err.empty() ? "no shards" : err.c_str());
    return 1;
  }
  Stats stats;  // records = records seen by consumers and matched to an acknowledged put
  struct Entry {
    int64_t ack_ns = -1;
    int64_t arrival_ns = -1;
  };
  std::mutex mu;
  std::unordered_map<int64_t, Entry> pending;  // GUARDED_BY(mu), by sequence
  std::vector<double> e2e_ms;                  // GUARDED_BY(mu)
  std::vector<double> send_to_arrival_ms;      // GUARDED_BY(mu)
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> ready{0};
  std::atomic<bool> producer_done{false};
  const int64_t grace_ms = std::max<int64_t>(3000, 20LL * e.poll_ms);

  std::vector<std::thread> consumers;
  for (const std::string& shard : shards) {
    consumers.emplace_back([&, shard] {
      KinesisConnection conn(co);
      std::string it = shard_iterator(conn, c, shard, "LATEST", stats);
      ready.fetch_add(1);
      Clock::time_point hard_stop = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(
                                                       (e.duration + 15) * 1e6 + grace_ms * 1000));
      Clock::time_point producer_end = Clock::time_point::max();
      auto next_poll = Clock::now();
      while (!it.empty() && Clock::now() < hard_stop) {
        if (producer_done.load()) {
          if (producer_end == Clock::time_point::max()) {
            producer_end = Clock::now();
            hard_stop = std::min(hard_stop, producer_end + std::chrono::milliseconds(grace_ms));
          }
          if (stats.records.load() >= acked.load()) break;  // everything arrived
        }
        std::this_thread::sleep_until(next_poll);
        next_poll += std::chrono::milliseconds(e.poll_ms);
        if (next_poll < Clock::now()) next_poll = Clock::now();
        CallResult r = conn.call("GetRecords", "{\"ShardIterator\":\"" + json_escape(it) +
                                                   "\",\"Limit\":10000}");
        const int64_t arrival = now_ns();
        stats.requests.fetch_add(1);
        if (!r.ok()) {
          stats.error(r.error_type);
          if (r.transport_error() || r.error_type == "ProvisionedThroughputExceededException") {
            continue;
          }
          break;
        }
        auto doc = api::decode_json(r.body);
        if (!doc.ok()) {
          stats.error("BadResponse");
          break;
        }
        if (const api::Document* recs = doc->find("Records"); recs && recs->is_list()) {
          for (const auto& rec : recs->as_list()) {
            const api::Document* d = rec.find("Data");
            if (d == nullptr || !d->is_string()) continue;
            auto data = freshet::base64_decode(d->as_string());
            long long seq = -1;
            long long sent = -1;
            if (!data.ok() ||
                std::sscanf(data->c_str(), "freshet-e2e %lld %lld", &seq, &sent) != 2) {
              continue;  // someone else's record
            }
            std::lock_guard l(mu);
            send_to_arrival_ms.push_back(static_cast<double>(arrival - sent) / 1e6);
            Entry& en = pending[seq];
            if (en.ack_ns >= 0) {
              e2e_ms.push_back(static_cast<double>(std::max<int64_t>(0, arrival - en.ack_ns)) / 1e6);
              pending.erase(seq);
              stats.records.fetch_add(1);
              stats.bytes.fetch_add(static_cast<int64_t>(data->size()));
            } else {
              en.arrival_ns = arrival;
            }
          }
        }
        const api::Document* next = doc->find("NextShardIterator");
        if (next == nullptr || !next->is_string()) break;
        it = next->as_string();
      }
    });
  }
  const auto wait_ready = Clock::now() + std::chrono::seconds(30);
  while (ready.load() < static_cast<int64_t>(shards.size()) && Clock::now() < wait_ready) sleep_ms(5);

  const auto start = Clock::now();
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(e.duration * 1e6));
  Progress progress(stats, start, c.record_size);
  std::vector<double> put_ms;
  {
    KinesisConnection conn(co);
    std::mt19937_64 rng(std::random_device{}());
    for (int64_t seq = 0; Clock::now() < deadline; ++seq) {
      const int64_t sent = now_ns();
      std::string data = "freshet-e2e " + std::to_string(seq) + " " + std::to_string(sent) + " ";
      if (static_cast<int>(data.size()) < c.record_size) {
        data.append(static_cast<size_t>(c.record_size) - data.size(), 'x');
      }
      CallResult r = conn.call("PutRecord", "{" + stream_member(c.stream) + ",\"Data\":\"" +
                                                freshet::base64_encode(data) + "\",\"PartitionKey\":\"" +
                                                std::to_string(rng()) + "\"}");
      const int64_t ack = now_ns();
      put_ms.push_back(static_cast<double>(ack - sent) / 1e6);
      stats.requests.fetch_add(1);
      if (!r.ok()) {
        stats.error(r.error_type);
        if (r.transport_error()) sleep_ms(100);
        continue;
      }
      acked.fetch_add(1);
      std::lock_guard l(mu);
      Entry& en = pending[seq];
      if (en.arrival_ns >= 0) {
        e2e_ms.push_back(static_cast<double>(std::max<int64_t>(0, en.arrival_ns - ack)) / 1e6);
        pending.erase(seq);
        stats.records.fetch_add(1);
        stats.bytes.fetch_add(static_cast<int64_t>(data.size()));
      } else {
        en.ack_ns = ack;
      }
    }
  }
  const double produce_secs = since(start);
  producer_done = true;
  for (auto& th : consumers) th.join();
  progress.stop();
  const int64_t missing = acked.load() - stats.records.load();
  if (missing > 0) stats.error("NotReceived", missing);
  stats.add_latencies(e2e_ms);
  Summary s;
  s.mode = "e2e";
  s.seconds = produce_secs;
  s.stats = &stats;
  s.latency_what = "put acknowledged -> record received";
  s.extra_latencies = {{"put_latency_ms", percentiles(put_ms)},
                       {"send_to_arrival_ms", percentiles(send_to_arrival_ms)}};
  s.extra = {{"acked", std::to_string(acked.load())},
             {"missing", std::to_string(std::max<int64_t>(0, missing))},
             {"shards", std::to_string(shards.size())},
             {"poll_ms", std::to_string(e.poll_ms)}};
  return finish(s, c.json);
}

// ---- command line -------------------------------------------------------------------------

void add_common(CLI::App* sub, CommonArgs& c) {
  sub->add_option("--endpoint", c.endpoint, "Kinesis endpoint, http://HOST:PORT")->required();
  sub->add_option("--stream", c.stream, "Stream name")->required();
  sub->add_option("--region", c.region, "SigV4 region (default us-east-1)");
  sub->add_flag("--json", c.json, "Print the summary as one JSON object on stdout");
  sub->add_option("--timeout-ms", c.timeout_ms, "Per-request timeout (default 30000)")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  sub->add_flag("--create", c.create, "CreateStream first (ResourceInUse is fine)");
  sub->add_option("--shards", c.shards, "Shard count for --create")->check(CLI::Range(1, 100000));
  sub->add_option("--record-size", c.record_size, "Bytes of data per record (default 100)")
      ->check(CLI::Range(1, 1 << 20));
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
  CLI::App app{"Kinesis load generator (AWS JSON 1.1 over keep-alive HTTP/1.1, SigV4-signed)",
               "freshet bench"};
  app.require_subcommand(1);
  CommonArgs c;
  PutArgs p;
  GetArgs g;
  E2eArgs e;
  CLI::App* put = app.add_subcommand("put", "Write records with PutRecord (--batch 1) or PutRecords");
  add_common(put, c);
  auto* records = put->add_option("--records", p.records, "Total records to write")
                      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  auto* duration = put->add_option("--duration", p.duration, "Seconds to write for")
                       ->check(CLI::Range(0.001, 86400.0));
  records->excludes(duration);
  put->add_option("--batch", p.batch, "Records per request: 1 = PutRecord, >1 = PutRecords (max 500)")
      ->check(CLI::Range(1, 500));
  put->add_option("--concurrency", p.concurrency, "Connections, each with one request in flight")
      ->check(CLI::Range(1, 1024));
  put->add_option("--threads", p.threads,
                  "Client threads, each driving its share of the connections asynchronously "
                  "(default 1)")
      ->check(CLI::Range(1, 64));
  put->add_option("--keys", p.keys, "Partition keys: random, or N distinct keys");
  put->footer(
      "Request bodies: before the clock starts, each connection builds a pool of up to " +
      std::to_string(bench::kMaxBodiesPerConnection) +
      " distinct bodies (their own random partition keys per --keys and random data) and "
      "hashes each once; requests cycle through the pool, so sending costs the client no "
      "per-record work. With --records, a final smaller batch is built when it is needed. "
      "Every request is still SigV4-signed.");

  CLI::App* get = app.add_subcommand("get", "Read every shard from TRIM_HORIZON (or --follow from LATEST)");
  add_common(get, c);
  get->add_option("--limit", g.limit, "GetRecords Limit (default 1000)")->check(CLI::Range(1, 10000));
  get->add_flag("--follow", g.follow, "Read from LATEST for --duration (default 10 s)");
  get->add_option("--duration", g.duration,
                  "Seconds: --follow reads this long; otherwise an upper bound (default 300)")
      ->check(CLI::Range(0.001, 86400.0));
  get->add_option("--poll-ms", g.poll_ms, "With --follow, wait after an empty response (200)")
      ->check(CLI::Range(0, 60000));

  CLI::App* e2e = app.add_subcommand("e2e", "Latency from PutRecord acknowledgement to GetRecords arrival");
  add_common(e2e, c);
  e2e->add_option("--poll-ms", e.poll_ms, "GetRecords interval per shard (default 100)")
      ->check(CLI::Range(1, 60000));
  e2e->add_option("--duration", e.duration, "Seconds the producer runs (default 10)")
      ->check(CLI::Range(0.001, 86400.0));

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& ex) {
    return app.exit(ex);
  } catch (const CLI::CallForAllHelp& ex) {
    return app.exit(ex);
  } catch (const CLI::ParseError& ex) {
    std::fprintf(stderr, "freshet bench: %s\nRun 'freshet bench %s --help' for the flags.\n",
                 ex.what(), args.empty() ? "put|get|e2e" : args[0].c_str());
    return 2;
  }
  auto bad = [](const std::string& msg) {
    std::fprintf(stderr, "freshet bench: %s\n", msg.c_str());
    return 2;
  };
  ClientOptions co;
  std::string err;
  auto endpoint = bench::Endpoint::parse(c.endpoint, &err);
  if (!endpoint) return bad(err);
  co.endpoint = *endpoint;
  co.region = c.region;
  co.timeout = std::chrono::milliseconds(c.timeout_ms);
  co.credentials = {env_or("AWS_ACCESS_KEY_ID", "test"), env_or("AWS_SECRET_ACCESS_KEY", "test")};
  if (c.stream.empty()) return bad("--stream must not be empty");
  if (put->parsed()) {
    if ((p.records < 0) == (p.duration < 0)) return bad("put needs exactly one of --records N or --duration SECONDS");
    if (p.keys != "random") {
      try {
        size_t used = 0;
        p.distinct_keys = std::stoll(p.keys, &used);
        if (used != p.keys.size() || p.distinct_keys < 1) throw std::invalid_argument("keys");
      } catch (const std::exception&) {
        return bad("--keys wants 'random' or a positive number, got '" + p.keys + "'");
      }
    }
    return run_put(c, p, co);
  }
  if (get->parsed()) return run_get(c, g, co);
  return run_e2e(c, e, co);
}

void add_bench_command(CLI::App& app, int* exit_code) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Kinesis load generator against any endpoint: bench put|get|e2e --help");
  bench->prefix_command();
  bench->set_help_flag();  // `bench put --help` is handled by run_bench
  bench->callback([bench, exit_code] { *exit_code = run_bench(bench->remaining()); });
}

}  // namespace freshet::cli

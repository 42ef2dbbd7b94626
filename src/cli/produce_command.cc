#include "produce_command.h"
#include "env.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <thread>

#include "bench_client.h"
#include "freshet/produce/producer.h"
#include "freshet/produce/x_stream.h"
#include "produce_sink.h"

namespace freshet::cli {
namespace {

struct ProduceArgs {
  std::string endpoint;
  std::string stream;
  std::string region = "us-east-1";
  std::string output;  // write records here instead of sending ("-": stdout)
  std::string file;    // read JSON lines from here ("-": stdin) instead of generating
  std::string generate = "tweets";
  bool x_stream = false;
  std::vector<std::string> x_rules;
  std::string x_api_url = "https://api.twitter.com";
  std::string key_field;
  bool replay = false;
  double speed = 1.0;
  std::string shape = "v1";
  uint64_t seed = 1;
  double malformed = 0;
  uint32_t users = 50'000;
  uint32_t hashtags = 2'000;
  int64_t start_ms = -1;
  double rate = 0;
  int64_t count = -1;
  double duration = 0;
  int concurrency = 2;
  int batch = 500;
  int64_t timeout_ms = 30'000;
  bool quiet = false;
  bool json = false;
};

void print_progress(const produce::ProducerStats& s, double elapsed, uint64_t* last_records,
                    double* last_elapsed) {
  const double dt = elapsed - *last_elapsed;
  const double rate = dt > 0 ? static_cast<double>(s.records - *last_records) / dt : 0;
  *last_records = s.records;
  *last_elapsed = elapsed;
  uint64_t malformed = 0;
  for (int k = 1; k < produce::kRecordKinds; ++k) malformed += s.by_kind[k];
  std::fprintf(stderr,
               "produce: %6.1fs  sent %s (%s/s)  %.1f MB  malformed %s  retried %s  failed %s%s%s\n",
               elapsed, produce::human_count(static_cast<double>(s.records)).c_str(),
               produce::human_count(rate).c_str(), static_cast<double>(s.bytes) / 1e6,
               produce::human_count(static_cast<double>(malformed)).c_str(),
               produce::human_count(static_cast<double>(s.retried)).c_str(),
               produce::human_count(static_cast<double>(s.failed)).c_str(),
               s.last_error.empty() ? "" : "  last error: ", s.last_error.c_str());
}

int run_produce(const ProduceArgs& a) {
  auto bad = [](const std::string& msg) {
    std::fprintf(stderr, "freshet produce: %s\n", msg.c_str());
    return 2;
  };
  if (a.output.empty() && (a.endpoint.empty() || a.stream.empty())) {
    return bad("give --endpoint URL and --stream NAME (or --output FILE to write records)");
  }
  if (a.replay && a.file.empty()) return bad("--replay replays a --file");
  if (a.x_stream && !a.file.empty()) return bad("--x-stream and --file are two sources: pick one");
  if (a.file.empty() && a.generate != "tweets") {
    return bad("--generate knows 'tweets', got '" + a.generate + "'");
  }

  std::unique_ptr<produce::Source> source;
  std::atomic<uint64_t> skipped_lines{0};
  produce::XStreamSource* x = nullptr;
  if (a.x_stream) {
    produce::XStreamOptions xo;
    xo.base_url = a.x_api_url;
    xo.bearer_token = env_or("X_BEARER_TOKEN", env_or("TWITTER_BEARER_TOKEN", ""));
    for (const std::string& r : a.x_rules) xo.rules.emplace_back(r, "freshet");
    auto opened = produce::XStreamSource::open(xo);
    if (!opened.ok()) {
      std::fprintf(stderr, "freshet produce: %s\n", opened.error().message().c_str());
      return opened.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
    }
    x = opened->get();
    source = std::move(opened).value();
  } else if (!a.file.empty()) {
    produce::LineSourceOptions lo;
    lo.path = a.file;
    lo.key_field = a.key_field;
    lo.timestamps = a.replay;
    auto opened = produce::open_line_source(lo, &skipped_lines);
    if (!opened.ok()) return bad(opened.error().message());
    source = std::move(opened).value();
  } else {
    produce::GeneratorSourceOptions go;
    if (!produce::parse_tweet_shape(a.shape, &go.tweets.shape)) {
      return bad("--shape wants v1, v2 or mixed, got '" + a.shape + "'");
    }
    go.tweets.seed = a.seed;
    go.tweets.malformed_share = a.malformed;
    go.tweets.users = a.users;
    go.tweets.hashtags = a.hashtags;
    go.start_ms = a.start_ms;
    // Synthetic times advance as the rate says (1 ms per record without a rate).
    go.step_us = a.rate > 0 ? static_cast<int64_t>(1e6 / a.rate) : 1000;
    source = produce::make_generator_source(go);
  }

  std::FILE* out = nullptr;
  bench::ClientOptions co;
  if (!a.output.empty()) {
    out = a.output == "-" ? stdout : std::fopen(a.output.c_str(), "wb");
    if (out == nullptr) return bad("cannot open " + a.output + ": " + std::strerror(errno));
  } else if (a.endpoint.rfind("https://", 0) == 0) {
    // AWS itself (or any TLS endpoint): libcurl; checked here, made per sender below.
    auto probe = make_curl_kinesis_sink(a.endpoint, a.region, {}, std::chrono::milliseconds(1), a.stream);
    if (!probe.ok()) return bad(probe.error().message());
    co.region = a.region;
    co.timeout = std::chrono::milliseconds(a.timeout_ms);
    co.credentials = {env_or("AWS_ACCESS_KEY_ID", "test"), env_or("AWS_SECRET_ACCESS_KEY", "test")};
  } else {
    std::string err;
    auto endpoint = bench::Endpoint::parse(a.endpoint, &err);
    if (!endpoint) return bad(err);
    co.endpoint = *endpoint;
    co.region = a.region;
    co.timeout = std::chrono::milliseconds(a.timeout_ms);
    co.credentials = {env_or("AWS_ACCESS_KEY_ID", "test"), env_or("AWS_SECRET_ACCESS_KEY", "test")};
  }

  produce::ProducerOptions po;
  po.rate = a.rate;
  po.count = a.count;
  po.duration_s = a.duration;
  po.replay_speed = a.replay ? a.speed : 0;
  po.batch = a.batch;
  po.senders = out != nullptr ? 1 : a.concurrency;
  uint64_t last_records = 0;
  double last_elapsed = 0;
  const bool show = !a.quiet && !(out == stdout);
  po.on_progress = [&](const produce::ProducerStats& s, double elapsed, bool final) {
    if (show && !final) print_progress(s, elapsed, &last_records, &last_elapsed);
    if (show && !final && x != nullptr) {
      const produce::XStreamStats xs = x->stats();
      std::fprintf(stderr, "  X stream: %llu frames, %llu keep-alives, %llu reconnects%s%s\n",
                   static_cast<unsigned long long>(xs.frames),
                   static_cast<unsigned long long>(xs.keep_alives),
                   static_cast<unsigned long long>(xs.reconnects),
                   xs.last_error.empty() ? "" : ", last: ", xs.last_error.c_str());
    }
  };
  po.make_sink = [&]() -> Result<std::unique_ptr<produce::Sink>> {
    if (out != nullptr) return produce::make_file_sink(out);
    if (a.endpoint.rfind("https://", 0) == 0) {
      return make_curl_kinesis_sink(a.endpoint, co.region, co.credentials, co.timeout, a.stream);
    }
    return make_http_kinesis_sink(co, a.stream);
  };
  produce::Producer producer(po);

  // SIGINT/SIGTERM stop the producer cleanly (what is batched is still sent).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::atomic<bool> done{false};
  std::thread signals([&] {
    timespec tick{0, 100'000'000};
    while (!done.load()) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) {
        producer.stop();
        return;
      }
    }
  });
  const auto started = std::chrono::steady_clock::now();
  Status st = producer.run(*source);
  done.store(true);
  signals.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (out != nullptr && out != stdout) std::fclose(out);
  if (out == stdout) std::fflush(stdout);

  const produce::ProducerStats s = producer.stats();
  const uint64_t skipped = s.skipped + skipped_lines.load();
  std::FILE* report = out == stdout ? stderr : stdout;
  if (a.json) {
    std::fprintf(report,
                 "{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"records_per_second\":%.1f,"
                 "\"requests\":%llu,\"retried\":%llu,\"failed\":%llu,\"skipped\":%llu,\"kinds\":{",
                 static_cast<unsigned long long>(s.records),
                 static_cast<unsigned long long>(s.bytes), elapsed,
                 elapsed > 0 ? static_cast<double>(s.records) / elapsed : 0.0,
                 static_cast<unsigned long long>(s.requests),
                 static_cast<unsigned long long>(s.retried),
                 static_cast<unsigned long long>(s.failed),
                 static_cast<unsigned long long>(skipped));
    for (int k = 0; k < produce::kRecordKinds; ++k) {
      std::fprintf(report, "%s\"%s\":%llu", k == 0 ? "" : ",",
                   produce::to_string(static_cast<produce::RecordKind>(k)),
                   static_cast<unsigned long long>(s.by_kind[k]));
    }
    std::fprintf(report, "}}\n");
  } else {
    std::fprintf(report, "produced %llu records (%.1f MB) in %.2f s: %.0f records/s\n",
                 static_cast<unsigned long long>(s.records), static_cast<double>(s.bytes) / 1e6,
                 elapsed, elapsed > 0 ? static_cast<double>(s.records) / elapsed : 0.0);
    if (a.file.empty()) {
      std::fprintf(report, "  by kind:");
      for (int k = 0; k < produce::kRecordKinds; ++k) {
        std::fprintf(report, " %s %llu", produce::to_string(static_cast<produce::RecordKind>(k)),
                     static_cast<unsigned long long>(s.by_kind[k]));
      }
      std::fprintf(report, "\n");
    }
    std::fprintf(report, "  requests %llu, retried %llu, failed %llu, skipped %llu\n",
                 static_cast<unsigned long long>(s.requests),
                 static_cast<unsigned long long>(s.retried),
                 static_cast<unsigned long long>(s.failed),
                 static_cast<unsigned long long>(skipped));
  }
  if (!st.ok()) {
    std::fprintf(stderr, "freshet produce: %s\n", st.error().message().c_str());
    return 1;
  }
  return s.failed > 0 ? 1 : 0;
}

}  // namespace

void add_produce_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ProduceArgs>();
  CLI::App* cmd = app.add_subcommand(
      "produce",
      "Send records to a Kinesis stream (any endpoint): generated tweets, a file of JSON lines, "
      "stdin, or a recorded file replayed at its own pace");
  cmd->add_option("--endpoint", a->endpoint,
                  "Kinesis endpoint: http://HOST:PORT, or https://HOST (AWS: "
                  "https://kinesis.REGION.amazonaws.com, with --region REGION)");
  cmd->add_option("--stream", a->stream, "Stream name");
  cmd->add_option("--region", a->region, "SigV4 region")->capture_default_str();
  cmd->add_option("--output", a->output,
                  "Write the records (one per line) to this file ('-': stdout) instead of sending");
  auto* file = cmd->add_option("--file", a->file,
                               "Send the lines of this file ('-': stdin) instead of generating");
  cmd->add_option("--generate", a->generate, "What to generate: tweets")->capture_default_str();
  cmd->add_flag("--x-stream", a->x_stream,
                "Read live tweets from the X API v2 filtered stream (bearer token in X_BEARER_TOKEN; "
                "reconnects with X's backoff)");
  cmd->add_option("--x-rule", a->x_rules, "With --x-stream: a filtered-stream rule to add first "
                                           "(repeatable), e.g. '#AI lang:en'");
  cmd->add_option("--x-api-url", a->x_api_url, "With --x-stream: the API's base URL")
      ->capture_default_str();
  cmd->add_option("--key-field", a->key_field,
                  "With --file: the dotted JSON path of the partition key (default: user.id_str, "
                  "data.author_id, id_str, id; else a hash of the line)");
  cmd->add_flag("--replay", a->replay,
                "With --file: pace the lines by their timestamp_ms / created_at times")
      ->needs(file);
  cmd->add_option("--speed", a->speed, "With --replay: 1 = original pace, 10 = ten times faster")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e6));
  cmd->add_option("--shape", a->shape, "Tweet shape: v1 (v1.1 statuses), v2 (filtered stream), mixed")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed: the same seed gives the same tweets")
      ->capture_default_str();
  cmd->add_option("--malformed", a->malformed,
                  "Share of malformed events, 0..1 (truncated, wrong types, missing fields, "
                  "binary junk, oversized)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--users", a->users, "Distinct authors (Zipf-distributed)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10'000'000u));
  cmd->add_option("--hashtags", a->hashtags, "Distinct hashtags (Zipf-distributed)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10'000'000u));
  cmd->add_option("--start-ms", a->start_ms,
                  "Stamp tweets from this Unix time (ms) on, stepping by the rate, instead of the "
                  "clock: with --seed the output is then identical on every run");
  cmd->add_option("--rate", a->rate, "Records per second (0: as fast as possible)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e8));
  cmd->add_option("--count", a->count, "Stop after this many records")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50));
  cmd->add_option("--duration", a->duration, "Stop after this many seconds")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--concurrency", a->concurrency, "Connections, each with one request in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--batch", a->batch, "Records per PutRecords request (max 500)")
      ->capture_default_str()
      ->check(CLI::Range(1, 500));
  cmd->add_option("--timeout-ms", a->timeout_ms, "Per-request timeout")->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "No progress line");
  cmd->add_flag("--json", a->json, "Print the summary as JSON");
  cmd->footer(
      "Without --count or --duration the generator runs until interrupted (Ctrl-C sends what is "
      "batched and prints the summary). Credentials: AWS_ACCESS_KEY_ID and "
      "AWS_SECRET_ACCESS_KEY (default 'test'). Exit code 0: everything sent; 1: records failed "
      "or the stream refused them; 2: bad flags.");
  cmd->callback([a, exit_code] { *exit_code = run_produce(*a); });
}

}  // namespace freshet::cli

// process_load: extract-to-table throughput of an event source mapping, in-process.
//
// Fills a stream with tweet-shaped JSON records (a share of them malformed), then creates a
// mapping from it to a function (the built-in extract, or a Python exec function) whose sink
// is a table, with an OnFailure stream, and measures the time until every valid record is in
// the table and every malformed one at the failure destination. Durable by default: the shard
// logs and the table WAL are fsynced as in `freshet serve`.
//
//   process_load [--records N] [--shards S] [--batch B] [--malformed PCT] [--python]
//                [--dir DIR] [--no-fsync] [--rate R [--seconds T]]
//
// --rate R: steady load instead of a filled stream. The mapping starts on the empty stream
// and runs while a producer in this process puts R records/s (R/20 every 50 ms) until N are
// in (--seconds T: N = R x T); the mapping's IteratorAge gauge (AWS/Lambda, what CloudWatch
// shows) is read every 100 ms and its largest value after the first second is reported,
// with the rate the producer achieved and how long the mapping took after the last put.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "freshet/metrics/registry.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"

using namespace freshet;

namespace {

// A tweet's fields after its ids (random text, lang, counts, user, hashtags).
std::string tweet_rest(std::mt19937_64& rng) {
  static const char* langs[] = {"en", "es", "ja", "pt", "fr", "de"};
  static const char* tags[] = {"rust", "cpp", "kinesis", "aws", "data", "stream", "freshet"};
  return std::string("\",\"text\":\"Streaming data is fun #") + tags[rng() % 7] +
         " https://t.co/abcdefghij\",\"lang\":\"" + langs[rng() % 6] +
         "\",\"retweet_count\":" + std::to_string(rng() % 1000) +
         ",\"favorite_count\":" + std::to_string(rng() % 5000) +
         ",\"user\":{\"id\":" + std::to_string(rng() % 100000000) +
         ",\"screen_name\":\"user" + std::to_string(rng() % 100000) +
         "\",\"followers_count\":" + std::to_string(rng() % 100000) +
         ",\"verified\":false},\"entities\":{\"hashtags\":[{\"text\":\"" +
         tags[rng() % 7] + "\",\"indices\":[30,35]},{\"text\":\"" + tags[rng() % 7] +
         "\",\"indices\":[36,40]}],\"user_mentions\":[]}}";
}

// Tweet i: its ids, then one of a pool of random rests (cheap to make, so that a paced
// producer in this process takes little of the CPU the mapping is measured on).
std::string tweet(const std::vector<std::string>& rests, uint64_t i) {
  const std::string id = std::to_string(1000000000000000000ULL + i);
  std::string t;
  t.reserve(96 + rests[i % rests.size()].size());
  t += "{\"created_at\":\"Mon Nov 30 15:40:00 +0000 2026\",\"id\":";
  t += id;
  t += ",\"id_str\":\"";
  t += id;
  t += rests[i % rests.size()];
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 100000;
  uint32_t shards = 4;
  int batch = 1000;
  double malformed_pct = 1.0;
  bool python = false;
  bool fsync = true;
  std::string dir = "/tmp/freshet-process-load";
  double rate = 0;
  double seconds = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--records") records = std::stoull(next());
    else if (a == "--shards") shards = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--malformed") malformed_pct = std::stod(next());
    else if (a == "--python") python = true;
    else if (a == "--no-fsync") fsync = false;
    else if (a == "--dir") dir = next();
    else if (a == "--rate") rate = std::stod(next());
    else if (a == "--seconds") seconds = std::stod(next());
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (rate > 0 && seconds > 0) records = static_cast<uint64_t>(rate * seconds);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  stream::EngineOptions eo;
  eo.data_dir = dir + "/streams";
  eo.durability = fsync ? log::Durability::kFsync : log::Durability::kOs;
  auto engine = stream::Engine::open(eo);
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.error().to_string().c_str()), 1;
  table::StoreOptions to;
  to.dir = dir + "/tables";
  to.sync = fsync;
  auto tables = table::TableStore::open(to);
  if (!tables.ok()) return std::fprintf(stderr, "%s\n", tables.error().to_string().c_str()), 1;
  process::ProcessOptions po;
  po.data_dir = dir;
  po.engine = engine->get();
  po.tables = tables->get();
  po.sync = fsync;
  po.poll_interval_ms = 10;
  po.discovery_interval_ms = 100;
  metrics::Registry registry;
  po.metrics = &registry;
  auto svc = process::ProcessService::open(po);
  if (!svc.ok()) return std::fprintf(stderr, "%s\n", svc.error().to_string().c_str()), 1;

  process::FunctionConfig fc;
  fc.name = "extract";
  fc.sink.kind = process::SinkConfig::Kind::kTable;
  fc.sink.name = "tweets";
  fc.sink.create_key = table::KeySchema{{"id", table::Type::kS}, std::nullopt};
  if (python) {
    const std::string fn_dir = dir + "/fn";
    std::filesystem::create_directories(fn_dir);
    std::ofstream(fn_dir + "/handler.py") << R"PY(
import base64, json
def handler(event, context):
    items, failures = [], []
    for r in event["Records"]:
        try:
            t = json.loads(base64.b64decode(r["kinesis"]["data"]))
            items.append({"id": t["id_str"], "user": t["user"]["screen_name"],
                          "lang": t.get("lang", "und"), "retweets": t.get("retweet_count", 0)})
        except Exception:
            failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"],
                             "reason": "malformed tweet", "permanent": True})
    return {"batchItemFailures": failures, "items": items}
)PY";
    fc.kind = process::FunctionConfig::Kind::kExec;
    fc.exec.runtime = "python";
    fc.exec.handler = "handler.handler";
    fc.exec.working_dir = fn_dir;
    fc.timeout_s = 60;
    fc.memory_mb = 1024;
  } else {
    fc.kind = process::FunctionConfig::Kind::kExtract;
    fc.extract = {
        {"id", "id_str", process::ExtractField::Type::kS, true, std::nullopt},
        {"user", "user.screen_name", process::ExtractField::Type::kS, true, std::nullopt},
        {"lang", "lang", process::ExtractField::Type::kS, false, std::string("und")},
        {"retweets", "retweet_count", process::ExtractField::Type::kN, false, std::string("0")},
        {"hashtags", "entities.hashtags[*].text", process::ExtractField::Type::kSS, false, std::nullopt},
    };
  }
  if (Status s = (*svc)->set_functions({fc}); !s.ok()) {
    return std::fprintf(stderr, "%s\n", s.to_string().c_str()), 1;
  }
  (void)(*engine)->create_stream("us-east-1", "tweets", shards, stream::StreamMode::kProvisioned, {}, std::nullopt);
  (void)(*engine)->create_stream("us-east-1", "dlq", 1, stream::StreamMode::kProvisioned, {}, std::nullopt);

  // Fill: malformed records are cut short (not JSON) or lack id_str.
  std::mt19937_64 rng(42);
  std::vector<std::string> rests;
  for (int k = 0; k < 4096; ++k) rests.push_back(tweet_rest(rng));
  uint64_t bad = 0;
  const uint64_t every = malformed_pct > 0 ? static_cast<uint64_t>(100.0 / malformed_pct) : 0;
  for (uint64_t i = 0; i < records; ++i) {
    if (every > 0 && i % every == every / 2) ++bad;
  }
  // Writes records [from, to) in PutRecords batches of 500 (the same records, malformed ones
  // included, whichever ranges they are written in). Called for consecutive ranges from 0.
  uint64_t nbad = 0;  // malformed records written so far
  auto produce = [&](uint64_t from, uint64_t to) -> int {
    for (uint64_t i = from; i < to;) {
      std::vector<std::string> datas, keys;
      for (int k = 0; k < 500 && i < to; ++k, ++i) {
        std::string t = tweet(rests, i);
        if (every > 0 && i % every == every / 2) {
          ++nbad;
          t = (nbad % 2) ? t.substr(0, t.size() / 2) : "{\"lang\":\"en\",\"text\":\"no id\"}";
        }
        datas.push_back(std::move(t));
        keys.push_back(std::to_string(rng()));
      }
      std::vector<stream::PutEntry> entries;
      for (size_t k = 0; k < datas.size(); ++k) entries.push_back({datas[k], keys[k], ""});
      auto r = (*engine)->put_records("us-east-1", "tweets", entries);
      if (!r.ok()) return std::fprintf(stderr, "put: %s\n", r.error().to_string().c_str()), 1;
    }
    return 0;
  };
  const auto f0 = std::chrono::steady_clock::now();
  // Without --rate everything is written before the mapping starts; with it, the producer
  // thread below writes at that rate while the mapping runs.
  if (rate <= 0 && produce(0, records) != 0) return 1;
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
  const uint64_t good = records - bad;
  std::printf("filled %llu records (%llu malformed) into %u shards in %.2f s\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bad),
              shards, fill_s);

  (*svc)->start();
  process::Mapping m;
  m.function_name = "extract";
  m.event_source_arn = stream::format_stream_arn("us-east-1", (*engine)->account_id(), "tweets");
  m.starting_position = process::StartingPosition::kTrimHorizon;
  m.batch_size = batch;
  m.on_failure_destination = stream::format_stream_arn("us-east-1", (*engine)->account_id(), "dlq");
  m.report_batch_item_failures = python;
  m.maximum_retry_attempts = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto created = (*svc)->create_mapping(m);
  if (!created.ok()) return std::fprintf(stderr, "%s\n", created.error().to_string().c_str()), 1;
  std::thread producer;
  std::atomic<int64_t> produced_ns{0};  // when the producer's last put returned
  std::atomic<bool> sampling{true};
  std::atomic<double> max_age{0};
  std::thread sampler;
  if (rate > 0) {
    // Steady load: R/20 records every 50 ms.
    producer = std::thread([&] {
      const uint64_t step = std::max<uint64_t>(1, static_cast<uint64_t>(rate / 20));
      auto next = std::chrono::steady_clock::now();
      for (uint64_t i = 0; i < records; i += step) {
        if (produce(i, std::min(records, i + step)) != 0) std::exit(1);
        if (i + step >= records) break;
        next += std::chrono::milliseconds(50);
        std::this_thread::sleep_until(next);
      }
      produced_ns.store((std::chrono::steady_clock::now() - t0).count());
    });
    metrics::Gauge* age = registry.gauge(metrics::cloudwatch_metric_name("lambda", "IteratorAge"),
                                         {{"EventSourceMappingUUID", created->uuid}});
    sampler = std::thread([&, age] {
      while (sampling.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1)) continue;
        const double v = age->value();
        if (v > max_age.load()) max_age.store(v);
      }
    });
  }
  // Done when every shard's runner has read and checkpointed every record.
  uint64_t read = 0, failed = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    read = failed = 0;
    bool all_checkpointed = true;
    auto p = (*svc)->progress(created->uuid);
    for (const auto& s : p) {
      read += s.records;
      failed += s.failed_records;
    }
    if (read == records && failed == bad) {
      // The last batch of each shard: its checkpoint is written after its outputs.
      auto info = (*engine)->describe_stream("us-east-1", "tweets");
      for (const auto& s : p) all_checkpointed &= !s.checkpoint.empty();
      if (all_checkpointed && p.size() == info->shards.size()) break;
    }
    if (std::chrono::steady_clock::now() - t0 > std::chrono::minutes(5)) {
      std::fprintf(stderr, "timed out: read %llu failed %llu\n", static_cast<unsigned long long>(read),
                   static_cast<unsigned long long>(failed));
      return 1;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (producer.joinable()) producer.join();
  sampling.store(false);
  if (sampler.joinable()) sampler.join();
  if (rate > 0) {
    const double put_s = static_cast<double>(produced_ns.load()) / 1e9;
    std::printf("steady load %.0f records/s offered for %.1f s: produced %.0f records/s; "
                "IteratorAge max %.0f ms (sampled every 100 ms after the first second); "
                "all checkpointed %.2f s after the last put\n",
                rate, static_cast<double>(records) / rate,
                static_cast<double>(records) / put_s, max_age.load(), secs - put_s);
  }
  (*svc)->stop();
  const auto stats = (*tables)->stats("tweets");
  std::printf("%s: %llu records (%llu valid, %llu malformed) in %.3f s: %.0f records/s "
              "(batch %d, %u shards, %s)\n",
              python ? "python exec" : "extract", static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(good), static_cast<unsigned long long>(bad), secs,
              static_cast<double>(records) / secs, batch, shards, fsync ? "fsync" : "no fsync");
  std::printf("table items: %lld (expected %llu); failure records: %llu\n",
              static_cast<long long>(stats.item_count), static_cast<unsigned long long>(good),
              static_cast<unsigned long long>(failed));
  return stats.item_count == static_cast<int64_t>(good) ? 0 : 1;
}

// Fills a table store directly through table::TableStore (no HTTP), for the start-up and
// memory targets: a 10-million-item table must open in under 1 s and serve in under 500 MiB.
//
//   table_fill --dir DATA/tables --items 10000000 --item-size 200 [--batch 1000]
//              [--op batch|put] [--gets N] [--no-sync] [--no-reopen] [--table big]
//              [--sort-key]
//   table_fill --dir DATA/tables --tweets --items 400000 [--threads 4] [--no-sync] [--no-reopen]
//
// Creates the table (pk S; with --sort-key also sk N, every item's sk 0, the schema of
// bench/table_load's keys, so `table_load --op get --table T --keys N` reads them over HTTP)
// if missing and writes items k0..k<items-1> in synced batches
// (--op put: one put_item per item instead). Then reopens the store and prints the open time
// and this process's RSS. --gets N reads N items (pseudo-random keys among those written)
// through get_item after the fill. --no-sync and --no-reopen make it a store-only workload
// for instruction counts (valgrind --tool=callgrind): the same instructions, no fsync waits.
//
// --tweets writes what the extract sink of examples/tweets.yaml writes: table tweet_attributes
// (user_id S, tweet_id S; GSI by_hashtag (hashtag, tweet_id) projection ALL, GSI by_lang
// (lang, tweet_id) KEYS_ONLY), items with the extract function's 13 fields (tweet-like sizes:
// text up to 280 bytes, 60 % with hashtags, Zipf-ish users and tags), through
// batch_write_async in chunks of 256 ops, two chunks in flight then a wait (the runner's
// 500-record invocations), from --threads writers (the example's 4 shards: 4 mapping threads).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>
#include <condition_variable>
#include <mutex>

#include "freshet/table/store.h"

using Clock = std::chrono::steady_clock;

namespace {
long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
// One tweet-shaped item of the extract function's fields, from a seed.
freshet::table::Item tweet_item(uint64_t n) {
  using freshet::table::Type;
  using freshet::table::Value;
  uint64_t x = n * 0x9E3779B97F4A7C15ull + 1;
  auto rnd = [&]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  // Skewed toward small numbers: min of two uniforms, twice.
  auto skewed = [&](uint64_t m) { return std::min(std::min(rnd() % m, rnd() % m), rnd() % m); };
  static const char* kWords[] = {"the", "stream", "data", "freshet", "table", "of", "and", "to",
                                 "pipeline", "with", "tweets", "window", "count", "fast", "on",
                                 "durable", "\xf0\x9f\x94\xa5", "caf\xc3\xa9", "is", "a"};
  static const char* kLangs[] = {"en", "en", "en", "en", "ja", "es", "pt", "und", "ar", "fr"};
  const uint64_t user = 100000 + skewed(200000);
  freshet::table::Item item;
  item["user_id"] = Value::s(std::to_string(user));
  item["tweet_id"] = Value::s(std::to_string(1400000000000000000ull + n));
  item["created_at"] = Value::s("Tue Dec 01 06:18:33 +0000 2026");
  const size_t len = 40 + rnd() % 200;
  std::string text;
  std::vector<std::string> tags, mentions;
  const uint64_t tag_roll = rnd() % 100;
  const int ntags = tag_roll < 40 ? 0 : tag_roll < 80 ? 1 : tag_roll < 95 ? 2 : 3;
  for (int i = 0; i < ntags; ++i) tags.push_back("tag" + std::to_string(skewed(5000)));
  for (int i = 0, m = static_cast<int>(rnd() % 3); i < m; ++i) {
    mentions.push_back("user" + std::to_string(100000 + skewed(200000)));
  }
  for (const auto& m : mentions) text += "@" + m + " ";
  while (text.size() < len) {
    text += kWords[rnd() % 20];
    text += ' ';
  }
  for (const auto& t : tags) text += "#" + t + " ";
  item["text"] = Value::s(std::move(text));
  item["lang"] = Value::s(kLangs[rnd() % 10]);
  item["screen_name"] = Value::s("user" + std::to_string(user));
  item["followers"] = Value::n(std::to_string(skewed(1000000)));
  item["verified"] = Value::boolean(rnd() % 20 == 0);
  if (!tags.empty()) {
    item["hashtag"] = Value::s(tags[0]);
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    item["hashtags"] = Value::set(Type::kSS, std::move(tags));
  }
  if (!mentions.empty()) {
    std::sort(mentions.begin(), mentions.end());
    mentions.erase(std::unique(mentions.begin(), mentions.end()), mentions.end());
    item["mentions"] = Value::set(Type::kSS, std::move(mentions));
  }
  if (rnd() % 5 == 0) item["retweet_of"] = Value::s(std::to_string(1300000000000000000ull + rnd() % 1000000));
  if (rnd() % 20 == 0) item["quote_of"] = Value::s(std::to_string(1300000000000000000ull + rnd() % 1000000));
  return item;
}

// The tweets workload (see the top): returns the process exit code.
int fill_tweets(freshet::table::TableStore& store, long items, int threads) {
  using namespace freshet::table;
  TableDesc d;
  d.name = "tweet_attributes";
  d.key.hash = {"user_id", Type::kS};
  d.key.range = KeyAttr{"tweet_id", Type::kS};
  d.attribute_definitions = {{"user_id", Type::kS}, {"tweet_id", Type::kS},
                             {"hashtag", Type::kS}, {"lang", Type::kS}};
  d.pay_per_request = true;
  IndexDesc by_hashtag;
  by_hashtag.name = "by_hashtag";
  by_hashtag.global = true;
  by_hashtag.key.hash = {"hashtag", Type::kS};
  by_hashtag.key.range = KeyAttr{"tweet_id", Type::kS};
  by_hashtag.projection.type = ProjectionType::kAll;
  IndexDesc by_lang = by_hashtag;
  by_lang.name = "by_lang";
  by_lang.key.hash = {"lang", Type::kS};
  by_lang.projection.type = ProjectionType::kKeysOnly;
  d.indexes = {by_hashtag, by_lang};
  (void)store.create_table(d);
  const auto t0 = Clock::now();
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  constexpr long kInvocation = 500, kChunk = 256;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (long i = t * kInvocation; i < items; i += threads * kInvocation) {
        std::vector<std::vector<WriteOp>> chunks;
        for (long k = i; k < std::min(items, i + kInvocation); ++k) {
          if ((k - i) % kChunk == 0) chunks.emplace_back();
          WriteOp op;
          op.table = d.name;
          op.item = tweet_item(static_cast<uint64_t>(k));
          chunks.back().push_back(std::move(op));
        }
        std::mutex mu;
        std::condition_variable cv;
        size_t left = chunks.size();
        for (const auto& c : chunks) {
          store.batch_write_async(c, [&](freshet::Status s) {
            std::lock_guard lock(mu);
            if (!s.ok()) {
              std::fprintf(stderr, "batch_write: %s\n", s.to_string().c_str());
              failed = 1;
            }
            if (--left == 0) cv.notify_all();
          });
        }
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return left == 0; });
      }
    });
  }
  for (auto& w : writers) w.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("tweets items=%ld threads=%d seconds=%.1f items_per_s=%.0f item_count=%lld "
              "by_hashtag=%lld by_lang=%lld\n",
              items, threads, secs, items / secs,
              static_cast<long long>(store.stats(d.name).item_count),
              static_cast<long long>(store.index_stats(d.name, 1).item_count),
              static_cast<long long>(store.index_stats(d.name, 2).item_count));
  return failed.load();
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir = "tables";
  long items = 1'000'000;
  int item_size = 200, batch = 1000;
  std::string op_name = "batch";
  long gets = 0;
  bool sync = true, reopen = true, sort_key = false, tweets = false;
  int threads = 4;
  std::string table = "big";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--dir") dir = next();
    else if (k == "--items") items = std::stol(next());
    else if (k == "--item-size") item_size = std::stoi(next());
    else if (k == "--batch") batch = std::stoi(next());
    else if (k == "--op") op_name = next();
    else if (k == "--gets") gets = std::stol(next());
    else if (k == "--no-sync") sync = false;
    else if (k == "--no-reopen") reopen = false;
    else if (k == "--table") table = next();
    else if (k == "--sort-key") sort_key = true;
    else if (k == "--tweets") tweets = true;
    else if (k == "--threads") threads = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  using namespace freshet::table;
  {
    StoreOptions o;
    o.dir = dir;
    o.sync = sync;
    auto store = TableStore::open(o);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.error().to_string().c_str());
      return 1;
    }
    if (tweets) return fill_tweets(**store, items, threads);
    TableDesc d;
    d.name = table;
    d.key.hash = {"pk", Type::kS};
    d.attribute_definitions = {{"pk", Type::kS}};
    if (sort_key) {
      d.key.range = KeyAttr{"sk", Type::kN};
      d.attribute_definitions.push_back({"sk", Type::kN});
    }
    d.pay_per_request = true;
    (void)(*store)->create_table(d);
    const std::string data(static_cast<size_t>(std::max(1, item_size - 20)), 'x');
    auto make_item = [&](long k) {
      Item item{{"pk", Value::s("k" + std::to_string(k))}, {"data", Value::s(data)}};
      if (sort_key) item["sk"] = Value::n("0");
      return item;
    };
    auto make_key = [&](long k) {
      Item key{{"pk", Value::s("k" + std::to_string(k))}};
      if (sort_key) key["sk"] = Value::n("0");
      return key;
    };
    const auto t0 = Clock::now();
    if (op_name == "put") {
      for (long k = 0; k < items; ++k) {
        auto r = (*store)->put_item(table, make_item(k));
        if (!r.ok()) {
          std::fprintf(stderr, "put_item: %s\n", r.error().to_string().c_str());
          return 1;
        }
      }
    }
    for (long i = 0; op_name == "batch" && i < items; i += batch) {
      std::vector<WriteOp> ops;
      for (long k = i; k < std::min(items, i + batch); ++k) {
        WriteOp op;
        op.table = table;
        op.item = make_item(k);
        ops.push_back(std::move(op));
      }
      freshet::Status s = (*store)->batch_write(ops);
      if (!s.ok()) {
        std::fprintf(stderr, "batch_write: %s\n", s.to_string().c_str());
        return 1;
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("filled items=%ld seconds=%.1f items_per_s=%.0f item_count=%lld\n", items, secs,
                items / secs, static_cast<long long>((*store)->stats(table).item_count));
    if (gets > 0) {
      const auto g0 = Clock::now();
      long found = 0;
      uint64_t x = 88172645463325252ull;  // xorshift: the same keys every run
      for (long g = 0; g < gets; ++g) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        auto r = (*store)->get_item(table, make_key(static_cast<long>(x % items)));
        if (r.ok() && *r) ++found;
      }
      const double gs = std::chrono::duration<double>(Clock::now() - g0).count();
      std::printf("gets=%ld found=%ld gets_per_s=%.0f\n", gets, found, gets / gs);
    }
  }
  if (!reopen) return 0;
  const auto t1 = Clock::now();
  StoreOptions o;
  o.dir = dir;
  auto store = TableStore::open(o);
  const double open_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (!store.ok()) return 1;
  std::printf("reopen_seconds=%.3f rss_mib=%.1f item_count=%lld\n", open_s, rss_kib() / 1024.0,
              static_cast<long long>((*store)->stats(table).item_count));
  return 0;
}

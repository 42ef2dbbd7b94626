// Micro-benchmarks of the shard log. Run: build/release/bench/log_bench
// (docs/performance.md records results and the machine.)
//
//   BM_Append/<record bytes>/<batch>/<fsync 1|os 0>/threads:<appenders>
//   BM_SequentialRead/<limit>            read a 256 MiB log from the page cache
//   BM_TailRead/<limit>                  a caught-up reader: the last 10 records, asking
//                                        for up to <limit> (a mapping's poll at the tail)
//   BM_Open1GiB                          open (recover) a 1 GiB log; reports RSS
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "freshet/log/log.h"
#include "freshet/log/log_store.h"

using namespace freshet;
using namespace freshet::log;

namespace {

std::string bench_root() {
  const char* env = std::getenv("FRESHET_BENCH_DIR");
  return env != nullptr ? env : "build/bench-data";
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// State shared by the threads of one benchmark run; created in Setup, destroyed in Teardown.
struct AppendState {
  std::unique_ptr<LogStore> store;
  std::vector<std::shared_ptr<Log>> logs;
};
AppendState* g_append = nullptr;  // bench-only: Google Benchmark's setup hooks take no context

void SetupAppend(const benchmark::State& state) {
  std::filesystem::remove_all(bench_root() + "/append");
  g_append = new AppendState;
  g_append->store = std::move(LogStore::open(bench_root() + "/append", posix_file_system()).value());
  LogOptions o;
  o.durability = state.range(2) ? Durability::kFsync : Durability::kOs;
  o.retention_ms = 0;
  // One shard: every appender writes to the same log, the hardest case for group commit.
  g_append->logs.push_back(std::move(g_append->store->open_log("shard-0", o).value()));
}

void TeardownAppend(const benchmark::State&) {
  for (auto& l : g_append->logs) (void)l->close();
  g_append->store->close();
  delete g_append;
  g_append = nullptr;
  std::filesystem::remove_all(bench_root() + "/append");
}

void BM_Append(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  std::vector<std::string> data(batch, std::string(size, 'x'));
  std::vector<std::string> keys;
  for (size_t i = 0; i < batch; ++i) keys.push_back("partition-key-" + std::to_string(i));
  std::vector<Record> recs;
  for (size_t i = 0; i < batch; ++i) recs.push_back(Record{keys[i], "", data[i], 1700000000000});
  Log& log = *g_append->logs[0];
  for (auto _ : state) {
    auto r = log.append(recs);
    if (!r.ok()) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(*r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch * size));
}

void AppendArgs(benchmark::internal::Benchmark* b) {
  for (int fsync : {0, 1}) {
    for (int size : {100, 10240}) {
      for (int batch : {1, 500}) b->Args({size, batch, fsync});
    }
  }
}

BENCHMARK(BM_Append)->Apply(AppendArgs)->Setup(SetupAppend)->Teardown(TeardownAppend)
    ->ArgNames({"bytes", "batch", "fsync"})->Threads(1)->Threads(16)->UseRealTime()
    ->MinTime(1.0);

// A log of `bytes` of 100-byte records, built once per process under bench_root()/name.
std::shared_ptr<Log> filled_log(LogStore& store, const std::string& name, uint64_t bytes) {
  LogOptions o;
  o.durability = Durability::kOs;
  o.retention_ms = 0;
  auto log = std::move(store.open_log(name, o).value());
  std::string d(100, 'r');
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("key-" + std::to_string(i));
  std::vector<Record> recs;
  for (int i = 0; i < 500; ++i) recs.push_back(Record{keys[i], "", d, 1700000000000 + i});
  const uint64_t per_record = 20 + 7 + 100;
  while (log->committed_tip() * per_record < bytes) (void)log->append(recs);
  return log;
}

// A log of `bytes` in bench_root()/<dir>, filled on first use and kept in `slot` for every
// later run of the benchmark that owns the slot.
struct KeptLog {
  std::unique_ptr<LogStore> store;
  std::shared_ptr<Log> log;
};
const std::shared_ptr<Log>& kept_filled_log(KeptLog& slot, const std::string& dir,
                                            uint64_t bytes) {
  if (!slot.log) {
    std::filesystem::remove_all(bench_root() + "/" + dir);
    slot.store = std::move(LogStore::open(bench_root() + "/" + dir, posix_file_system()).value());
    slot.log = filled_log(*slot.store, "shard", bytes);
  }
  return slot.log;
}

void BM_SequentialRead(benchmark::State& state) {
  static KeptLog kept;  // bench-only: built once, reused by every run
  const std::shared_ptr<Log>& log = kept_filled_log(kept, "read", 256ull << 20);
  const size_t limit = static_cast<size_t>(state.range(0));
  uint64_t at = log->trim_horizon();
  uint64_t records = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto r = log->read(at, limit, 10 << 20);
    if (!r.ok()) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
    for (const auto& rec : r->records) bytes += rec.data.size() + rec.partition_key.size();
    records += r->records.size();
    at = r->records.empty() ? log->trim_horizon() : r->next_offset;
    if (at >= log->committed_tip()) at = log->trim_horizon();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_SequentialRead)->Arg(1000)->Arg(10000)->UseRealTime()->MinTime(1.0);

void BM_TailRead(benchmark::State& state) {
  static KeptLog kept;  // bench-only: built once, reused by every run
  const std::shared_ptr<Log>& log = kept_filled_log(kept, "tail", 8ull << 20);
  const size_t limit = static_cast<size_t>(state.range(0));
  const uint64_t at = log->committed_tip() - 10;
  uint64_t records = 0;
  for (auto _ : state) {
    auto r = log->read(at, limit, 10 << 20);
    if (!r.ok()) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
    records += r->records.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
}
BENCHMARK(BM_TailRead)->Arg(100)->Arg(10000)->UseRealTime()->MinTime(1.0);

void BM_Open1GiB(benchmark::State& state) {
  const std::string root = bench_root() + "/recover";
  {
    std::filesystem::remove_all(root);
    auto store = std::move(LogStore::open(root, posix_file_system()).value());
    auto log = filled_log(*store, "shard", 1ull << 30);
    (void)log->close();
  }
  const long rss_before = rss_kib();
  auto store = std::move(LogStore::open(root, posix_file_system()).value());
  LogOptions o;
  o.retention_ms = 0;
  long rss_open = 0;
  uint64_t tip = 0;
  for (auto _ : state) {
    auto log = store->open_log("shard", o);
    if (!log.ok()) {
      state.SkipWithError(log.error().to_string().c_str());
      break;
    }
    tip = (*log)->committed_tip();
    rss_open = rss_kib();
    (void)(*log)->close();
  }
  state.counters["records"] = static_cast<double>(tip);
  state.counters["rss_growth_KiB"] = static_cast<double>(rss_open - rss_before);
  store->close();
  std::filesystem::remove_all(root);
}
BENCHMARK(BM_Open1GiB)->Unit(benchmark::kMillisecond)->Iterations(10);

}  // namespace

BENCHMARK_MAIN();

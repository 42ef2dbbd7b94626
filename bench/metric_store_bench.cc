// The metric store at scale, with a simulated clock (no sleeping):
//   1. SERIES series recorded every second for MINUTES minutes (the sampler's path,
//      record_many), minute batches written as the clock passes: record and flush rates,
//      resident memory (VmRSS) and heap in use afterwards.
//   2. GetMetricData's work for one series over 3 hours at 1 s resolution (query(), 10,800
//      datapoints: two rolled hours read as runs, the open hour through its minute batches),
//      in a second store holding QSERIES series for 3 simulated hours.
//      Every series has a datapoint each minute (each minute batch indexes all QSERIES),
//      the queried one each second (all of them with "dense").
//      The first query round is cold: the store's files are dropped from the page cache
//      first (posix_fadvise DONTNEED), unless "warm" is given.
// Usage: metric_store_bench [SERIES=100000] [MINUTES=5] [QSERIES=2000] [DIR=/tmp/...]
//                           [dense] [warm]
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "freshet/metrics/store.h"

using namespace freshet;
using Steady = std::chrono::steady_clock;

static long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

static double secs(Steady::time_point a) {
  return std::chrono::duration<double>(Steady::now() - a).count();
}

int main(int argc, char** argv) {
  const size_t series = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const int minutes = argc > 2 ? std::atoi(argv[2]) : 5;
  const size_t qseries = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 2000;
  const std::string dir = argc > 4 ? argv[4] : "/tmp/freshet-metric-store-bench";
  bool dense = false, warm = false;
  for (int i = 5; i < argc; ++i) {
    dense = dense || std::string(argv[i]) == "dense";
    warm = warm || std::string(argv[i]) == "warm";
  }
  std::filesystem::remove_all(dir);
  const int64_t t0 = 1'800'000'000;  // a whole hour

  {
    auto clock = std::make_shared<ManualClock>(t0 * 1000);
    metrics::MetricStoreOptions o;
    o.dir = dir + "/a";
    o.clock = clock;
    o.max_series = series + 10;
    auto store = std::move(metrics::MetricStore::open(o)).value();
    const long rss0 = rss_kib();
    auto start = Steady::now();
    std::vector<metrics::MetricStore::Sample> samples(series);
    for (size_t i = 0; i < series; ++i) {
      metrics::SeriesKey k{"AWS/Kinesis",
                           "IncomingRecords",
                           {{"StreamName", "s" + std::to_string(i / 8)},
                            {"ShardId", "shardId-" + std::to_string(i % 8)}}};
      samples[i].series = *store->intern(k, "Count");
    }
    std::printf("intern %zu series: %.2f s\n", series, secs(start));
    double record_s = 0, tick_s = 0;
    for (int64_t s = 0; s < minutes * 60; ++s) {
      for (size_t i = 0; i < series; ++i) samples[i].stat = metrics::Stat::of(double(i % 100 + s));
      auto a = Steady::now();
      if (!store->record_many(t0 + s, samples).ok()) return 1;
      record_s += secs(a);
      clock->advance(1000);
      a = Steady::now();
      if (!store->tick().ok()) return 1;
      tick_s += secs(a);
    }
    const double points = double(series) * minutes * 60;
    const auto st = store->stats();
    struct mallinfo2 mi = mallinfo2();
    std::printf(
        "record %zu series x %d s: %.0f points/s recorded (%.2f s), minute flushes %.2f s "
        "in all (fsync on), %llu batches, %.1f MiB written\n",
        series, minutes * 60, points / record_s, record_s, tick_s,
        (unsigned long long)st.batches_written, st.bytes_written / 1048576.0);
    std::printf(
        "memory with %zu series: VmRSS %.1f MiB (%.1f MiB before the series), heap in "
        "use %.1f MiB\n",
        series, rss_kib() / 1024.0, rss0 / 1024.0, mi.uordblks / 1048576.0);
  }
  {
    auto clock = std::make_shared<ManualClock>(t0 * 1000);
    metrics::MetricStoreOptions o;
    o.dir = dir + "/b";
    o.clock = clock;
    o.fsync = false;
    auto store = std::move(metrics::MetricStore::open(o)).value();
    std::vector<metrics::MetricStore::Sample> samples(qseries);
    for (size_t i = 0; i < qseries; ++i) {
      samples[i].series = *store->intern({"App", "M", {{"N", std::to_string(i)}}}, "Count");
    }
    auto fill = Steady::now();
    // Every series has a datapoint in every minute (so each minute batch indexes all of
    // them); the probe series, and all of them if DENSE, have one every second.
    const uint32_t probe = samples[qseries / 2].series;
    std::vector<metrics::MetricStore::Sample> one(1);
    one[0].series = probe;
    for (int64_t s = 0; s < 3 * 3600; ++s) {
      for (size_t i = 0; i < qseries; ++i) samples[i].stat = metrics::Stat::of(double(s % 60));
      one[0].stat = metrics::Stat::of(double(s % 60));
      if (dense || s % 60 == 0) {
        if (!store->record_many(t0 + s, samples).ok()) return 1;
      } else if (!store->record_many(t0 + s, one).ok()) {
        return 1;
      }
      clock->advance(1000);
      if (!store->tick().ok()) return 1;
    }
    std::printf("filled 3 h of %zu series (%s) in %.1f s\n", qseries,
                dense ? "each every second" : "each every minute, the probe every second",
                secs(fill));
    const uint32_t id = probe;
    // Cold: the store's files written out and dropped from the page cache
    // (posix_fadvise DONTNEED), so the first round reads from the disk what it needs.
    size_t evicted = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(o.dir)) {
      if (warm) break;
      if (!e.is_regular_file()) continue;
      const int fd = ::open(e.path().c_str(), O_RDONLY);
      if (fd < 0) continue;
      (void)::fdatasync(fd);
      if (::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0) evicted += e.file_size();
      ::close(fd);
    }
    if (warm) {
      std::printf("first round with the store's files as the fill left them in the page cache\n");
    } else {
      std::printf("dropped %.1f MiB of the store's files from the page cache (cold first round)\n",
                  evicted / 1048576.0);
    }
    for (int round = 0; round < 5; ++round) {
      auto a = Steady::now();
      auto dps = store->query(id, t0, t0 + 3 * 3600, 1);
      const double ms = secs(a) * 1000;
      auto b = Steady::now();
      auto pct = store->query(id, t0, t0 + 3 * 3600, 60, {99});
      const double ms2 = secs(b) * 1000;
      std::printf(
          "query 3 h of one series: %zu datapoints at 1 s in %.2f ms; %zu at 1 min "
          "with p99 in %.2f ms\n",
          dps->size(), ms, pct->size(), ms2);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}

// MetricStore: CloudWatch-style time series kept on disk at three resolutions.
//
// A series is (namespace, metric name, dimensions); each has a unit and datapoints. A datapoint
// is a statistic set (Sum, SampleCount, Minimum, Maximum) and, for distributions, a sketch of
// the values (log buckets, 1% relative error) from which percentiles are answered.
//
//   tier  resolution  kept       chunk (points)     file
//   t1    1 s         3 hours    1 minute (60)      one per hour
//   t60   1 minute    15 days    1 hour (60)        one per day
//   t300  5 minutes   63 days    1 hour (12)        one per 7 days
//
// Writes (record) go to in-memory heads, one per (series, minute window). Once a minute has
// passed (plus one second of grace) every head of that minute is written to the t1 file as
// one batch (chunks sorted by series, an index at the end) and fsync'd. Each hour, the t1
// chunks of the hour before are rolled up into one t60 batch and one t300 batch, and the t1
// file of that hour is rewritten (tmp file, fsync, rename) as one batch of runs: each
// series' chunks of the hour back to back, one read per series per hour. Queries read
// the chunks of one series through the batch indexes (pread), plus the unflushed heads, plus
// the t1 data of the hour not yet rolled up. Format: docs/format.md ("Metric store").
//
// Memory: the heads of the open minute (about 0.5 KiB per active series with one sample a
// second), the series catalog, and a descriptor per batch. Disk: bounded by retention and
// MetricStoreOptions::max_series.
//
// Loss on a crash (kill -9, power loss): the open minute's heads of sampled series (up to
// 61 s of points) and the series created in it. Everything older is in fsync'd batches, and
// datapoints recorded with record_durable() are in the write-ahead log until then.
//
// Threads: every public method may be called from any thread; one mutex (mu_) guards all
// state, including the minute flush's file appends (written and fsync'd under it). tick()
// and flush() are serialized by a second mutex (tick_mu_, taken before mu_); the hourly
// rollup holds only that one while it reads the hour and writes the runs, t60 and t300
// batches, taking mu_ briefly to find the files and to swap in and publish what it wrote, so
// that records and queries are not held up by it. tick() is called once a second by a thread
// of the owner's sampler (RegistrySampler) that does nothing else, so a rollup delays no
// sample.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freshet/common/clock.h"
#include "freshet/common/file.h"
#include "freshet/common/result.h"

namespace freshet::metrics {

struct Dimension {
  std::string name;
  std::string value;
  bool operator==(const Dimension&) const = default;
  bool operator<(const Dimension& o) const {
    return name != o.name ? name < o.name : value < o.value;
  }
};

struct SeriesKey {
  std::string ns;               // "AWS/Kinesis"
  std::string name;             // "IncomingRecords"
  std::vector<Dimension> dims;  // sorted by name by the store
  bool operator==(const SeriesKey&) const = default;
};

// A statistic set. An empty one has count 0.
struct Stat {
  double sum = 0;
  double count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  static Stat of(double v) { return Stat{v, 1, v, v}; }
  void add(double v) { merge(of(v)); }
  void merge(const Stat& o);
  bool empty() const { return count <= 0; }
};

// Values of a distribution in log buckets: bucket(v) = sign * ceil(log(|v|) / log(1.02)),
// offset so that 0 is bucket 0. Sorted by bucket, counts > 0.
using Sketch = std::vector<std::pair<int16_t, uint32_t>>;
int16_t sketch_bucket(double v);
double sketch_value(int16_t bucket);  // the bucket's middle (1% of any value in it)
void sketch_add(Sketch& s, double v, uint32_t n = 1);
void sketch_merge(Sketch& into, const Sketch& from);

struct SeriesInfo {
  uint32_t id = 0;
  SeriesKey key;
  std::string unit;          // CloudWatch StandardUnit, "None" if not given
  int64_t last_write_s = 0;  // newest datapoint's timestamp (seconds)
};

struct MetricStoreOptions {
  std::string dir;                     // <data-dir>/metrics
  std::shared_ptr<FileSystem> fs;      // default: posix_file_system()
  std::shared_ptr<const Clock> clock;  // default: the system clock
  size_t max_series = 200'000;         // intern() fails with kLimitExceeded beyond
  bool fsync = true;                   // false: batches reach the OS only (--durability os)
};

// One period of a query's answer.
struct Datapoint {
  int64_t t = 0;  // period start, seconds since the epoch
  Stat stat;
  std::vector<std::pair<double, double>> percentiles;  // (p, value) in the order asked
};

struct StoreStats {
  size_t series = 0;
  size_t head_points = 0;  // points waiting in heads
  uint64_t batches_written = 0;
  uint64_t bytes_written = 0;
  uint64_t rollups = 0;
  uint64_t runs_written = 0;  // t1 hours rewritten as runs (one read per series per hour)
  uint64_t write_errors = 0;
  uint64_t corrupt_chunks = 0;  // chunks that failed their CRC on read (skipped)
  int64_t rolled_up_to = 0;     // every t1 hour before this is in t60/t300
};

class MetricStore {
 public:
  static Result<std::unique_ptr<MetricStore>> open(MetricStoreOptions options);
  ~MetricStore();  // flush() (errors logged)
  MetricStore(const MetricStore&) = delete;
  MetricStore& operator=(const MetricStore&) = delete;

  // Finds or creates a series. Dimensions are sorted; the unit is set when the series is
  // created. kLimitExceeded beyond max_series; kInvalidArgument for empty names.
  Result<uint32_t> intern(SeriesKey key, std::string_view unit = "None");
  std::optional<uint32_t> find(const SeriesKey& key) const;

  // Adds to the datapoint of second `t_s` (merged with what is there). Timestamps older than
  // 63 days or more than 2 hours ahead are kInvalidArgument.
  Status record(uint32_t series, int64_t t_s, const Stat& stat, const Sketch* sketch = nullptr);
  struct Sample {
    uint32_t series;
    Stat stat;
    const Sketch* sketch = nullptr;
  };
  // The same for many series at one second, under one lock (the sampler's path).
  Status record_many(int64_t t_s, const std::vector<Sample>& samples);

  // For datapoints a client is told are stored (PutMetricData): checks every timestamp, makes
  // new series durable, appends the datapoints to the write-ahead log (custom.wal) and syncs
  // it, then records them. They survive kill -9 and power loss once this returns OK. The log
  // is emptied when every minute it holds has been written to a batch.
  struct DurableSample {
    uint32_t series;
    int64_t t_s;
    Stat stat;
    Sketch sketch;
  };
  Status record_durable(const std::vector<DurableSample>& samples);

  // Datapoints of [start_s, end_s) in periods of period_s (aligned to start_s, as
  // CloudWatch's GetMetricStatistics does), oldest first, empty periods left out.
  // percentiles: values in [0, 100]. The resolution is the finest tier that holds start_s
  // and divides period_s.
  Result<std::vector<Datapoint>> query(uint32_t series, int64_t start_s, int64_t end_s,
                                       int64_t period_s,
                                       const std::vector<double>& percentiles = {}) const;

  // Series whose key matches: empty ns/name match any; every dimension filter must be present
  // (an empty value matches any value). active_since_s > 0: only series written since.
  std::vector<SeriesInfo> list(std::string_view ns, std::string_view name,
                               const std::vector<Dimension>& dims,
                               int64_t active_since_s = 0) const;
  std::optional<SeriesInfo> info(uint32_t series) const;

  // Writes finished minutes, rolls up finished hours, deletes expired files. Called once a
  // second by the owner.
  Status tick();
  // Writes every head (also the open minute) and syncs. Called at shutdown.
  Status flush();

  StoreStats stats() const;

  class Impl;

 private:
  explicit MetricStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The canonical text of a key ("ns|name|d1=v1|d2=v2"), dims sorted.
std::string series_key_text(const SeriesKey& key);

}  // namespace freshet::metrics

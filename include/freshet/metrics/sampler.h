// RegistrySampler: copies the registry's CloudWatch series into the MetricStore once a second.
//
// Modules record CloudWatch metrics in the Registry (lock-free atomics on their hot paths) under
// Prometheus names made by cloudwatch_metric_name("kinesis", "PutRecords.Latency"). Once a
// second the sampler walks the registry, maps each such family back to its CloudWatch
// namespace, metric name, dimensions and unit (cloudwatch_series()), and records in the store:
//   counter          the increase over the second (Sum); a run of idle seconds is recorded
//                    once as 0, then not at all (like CloudWatch, which has no datapoints then)
//   gauge            the value, every second (for DynamoDB's Consumed*CapacityUnits running
//                    sums: the increase, idle seconds as for counters)
//   histogram        the observations of the second: Sum, SampleCount, Minimum and Maximum
//                    bounded by the buckets, and a sketch for percentiles
// Nothing is added to the modules' hot paths: the cost is one walk per second.
//
// Threads: start() runs two threads: "metric-sampler" samples at each second boundary, runs
// the after-tick hook and asks "metric-tick" for a MetricStore::tick(), which that thread
// runs (the minute flush, and the hourly rollup that can take seconds at 100,000 series)
// without holding up the next seconds' samples; requests made while a tick runs become one
// tick after it. stop() joins both (and flushes the store). mu_ guards stopping_ and
// tick_due_. sample() may be called instead by tests (not while the threads run).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "freshet/metrics/registry.h"
#include "freshet/metrics/store.h"

namespace freshet::metrics {

struct CloudWatchSeries {
  SeriesKey key;
  std::string unit;
  bool running_sum = false;  // a gauge holding a running total: record its increase
};

// Maps a registry series to CloudWatch, or nullopt if the family is not a CloudWatch metric
// (freshet_<ns>_<Name> with ns in kinesis, firehose, dynamodb, lambda). Labels become
// dimensions: stream -> StreamName, shard -> ShardId, table -> TableName, operation ->
// Operation, function -> FunctionName, uuid -> EventSourceMappingUUID; DeliveryStreamName and
// labels already named like CloudWatch dimensions stay; region is dropped.
std::optional<CloudWatchSeries> cloudwatch_series(std::string_view family, const Labels& labels);

class RegistrySampler {
 public:
  RegistrySampler(const Registry& registry, MetricStore& store);
  ~RegistrySampler();  // stop()
  RegistrySampler(const RegistrySampler&) = delete;
  RegistrySampler& operator=(const RegistrySampler&) = delete;

  // Called on the sampling thread after each second's sample (e.g. alarm evaluation), while
  // the store's tick for that second may still run. Set before start().
  void set_after_tick(std::function<void()> fn) { after_tick_ = std::move(fn); }
  void start();
  void stop();
  // Records the changes since the last call as second t_s.
  void sample(int64_t t_s);

  uint64_t samples() const;  // datapoints recorded so far

 private:
  struct State {
    uint32_t series = 0;
    bool mapped = false;  // false: not a CloudWatch series (ignored)
    bool running_sum = false;
    uint64_t last_count = 0;  // counter value / histogram count
    double last_value = 0;    // gauge value / histogram sum
    std::vector<uint64_t> last_buckets;
    bool last_zero = false;  // the previous datapoint was an idle 0
  };
  void run();
  void run_ticks();

  const Registry& registry_;
  MetricStore& store_;
  std::unordered_map<const void*, State> states_;  // owned by the sampling thread
  std::atomic<uint64_t> samples_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;   // GUARDED_BY(mu_)
  bool tick_due_ = false;   // GUARDED_BY(mu_)
  std::condition_variable tick_cv_;
  std::function<void()> after_tick_;
  std::thread thread_;
  std::thread tick_thread_;
};

}  // namespace freshet::metrics

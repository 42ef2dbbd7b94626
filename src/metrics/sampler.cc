#include "freshet/metrics/sampler.h"

#include "exposition.h"

#include <pthread.h>
#include "freshet/common/logging.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

namespace freshet::metrics {
namespace {

struct Namespace {
  std::string_view prefix;  // after "freshet_"
  std::string_view ns;
  std::vector<std::string_view> names;  // CloudWatch metric names of the namespace
};

// CloudWatch's metric names per namespace (AWS documentation), so that the '.' that
// Prometheus names cannot carry comes back.
const std::vector<Namespace>& namespaces() {
  static const std::vector<Namespace> kNamespaces = {
      {"kinesis",
       "AWS/Kinesis",
       {"GetRecords.Bytes",
        "GetRecords.IteratorAge",
        "GetRecords.IteratorAgeMilliseconds",
        "GetRecords.Latency",
        "GetRecords.Records",
        "GetRecords.Success",
        "IncomingBytes",
        "IncomingRecords",
        "PutRecord.Bytes",
        "PutRecord.Latency",
        "PutRecord.Success",
        "PutRecords.Bytes",
        "PutRecords.Latency",
        "PutRecords.Records",
        "PutRecords.Success",
        "PutRecords.TotalRecords",
        "PutRecords.SuccessfulRecords",
        "PutRecords.FailedRecords",
        "PutRecords.ThrottledRecords",
        "ReadProvisionedThroughputExceeded",
        "SubscribeToShard.RateExceeded",
        "SubscribeToShard.Success",
        "SubscribeToShardEvent.Bytes",
        "SubscribeToShardEvent.MillisBehindLatest",
        "SubscribeToShardEvent.Records",
        "SubscribeToShardEvent.Success",
        "WriteProvisionedThroughputExceeded",
        "OutgoingBytes",
        "OutgoingRecords",
        "IteratorAgeMilliseconds"}},
      {"firehose",
       "AWS/Firehose",
       {"IncomingBytes",
        "IncomingRecords",
        "IncomingPutRequests",
        "DeliveryToS3.Bytes",
        "DeliveryToS3.Records",
        "DeliveryToS3.Success",
        "DeliveryToS3.DataFreshness",
        "DeliveryToS3.ObjectCount",
        "DataReadFromKinesisStream.Bytes",
        "DataReadFromKinesisStream.Records",
        "KinesisMillisBehindLatest",
        "PutRecord.Latency",
        "PutRecord.Bytes",
        "PutRecord.Requests",
        "PutRecord.Records",
        "PutRecordBatch.Latency",
        "PutRecordBatch.Bytes",
        "PutRecordBatch.Records",
        "PutRecordBatch.Requests",
        "ThrottledRecords",
        "ThrottledGetRecords",
        "ThrottledDescribeStream"}},
      {"dynamodb",
       "AWS/DynamoDB",
       {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "SuccessfulRequestLatency",
        "UserErrors", "SystemErrors", "ConditionalCheckFailedRequests", "ReturnedItemCount",
        "ThrottledRequests", "ReadThrottleEvents", "WriteThrottleEvents",
        "ProvisionedReadCapacityUnits", "ProvisionedWriteCapacityUnits", "ReturnedBytes",
        "ReturnedRecordsCount", "TransactionConflict", "TimeToLiveDeletedItemCount"}},
      {"lambda",
       "AWS/Lambda",
       {"Invocations",
        "Errors",
        "Throttles",
        "Duration",
        "ConcurrentExecutions",
        "IteratorAge",
        "DeadLetterErrors",
        "DestinationDeliveryFailures",
        "UnreservedConcurrentExecutions",
        "ProvisionedConcurrentExecutions",
        "AsyncEventsReceived",
        "AsyncEventAge",
        "AsyncEventsDropped",
        "OffsetLag",
        "PolledEventCount",
        "InvokedEventCount",
        "FilteredOutEventCount",
        "FailedInvokeEventCount",
        "DroppedEventCount",
        "OnFailureDestinationDeliveredEventCount",
        "DeletedEventCount",
        "RecursiveInvocationsDropped"}},
  };
  return kNamespaces;
}

std::string unit_for(std::string_view name) {
  auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  if (has("Bytes")) return "Bytes";
  if (has("Latency") || has("IteratorAge") || has("MillisBehind") || name == "Duration" ||
      has("AsyncEventAge") || name == "OffsetLag") {
    return "Milliseconds";
  }
  if (has("DataFreshness")) return "Seconds";
  return "Count";
}

std::string dimension_for(const std::string& label) {
  static const std::unordered_map<std::string, std::string> kMap = {
      {"stream", "StreamName"},
      {"shard", "ShardId"},
      {"table", "TableName"},
      {"operation", "Operation"},
      {"function", "FunctionName"},
      {"uuid", "EventSourceMappingUUID"},
      {"consumer", "ConsumerName"},
      {"resource", "Resource"},
      {"global_secondary_index", "GlobalSecondaryIndexName"},
  };
  auto it = kMap.find(label);
  return it != kMap.end() ? it->second : label;
}

}  // namespace

std::optional<CloudWatchSeries> cloudwatch_series(std::string_view family, const Labels& labels) {
  constexpr std::string_view kPrefix = "freshet_";
  if (family.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  family.remove_prefix(kPrefix.size());
  for (const Namespace& n : namespaces()) {
    if (family.size() <= n.prefix.size() + 1 || family.substr(0, n.prefix.size()) != n.prefix ||
        family[n.prefix.size()] != '_') {
      continue;
    }
    const std::string_view rest = family.substr(n.prefix.size() + 1);
    std::string name;
    for (std::string_view known : n.names) {
      if (sanitize_metric_name(known) == rest) {
        name = std::string(known);
        break;
      }
    }
    // Freshet's own families under the prefix (e.g. freshet_firehose_delivery_failures_total)
    // are not CloudWatch metrics.
    if (name.empty()) return std::nullopt;
    CloudWatchSeries out;
    out.key.ns = std::string(n.ns);
    out.key.name = name;
    for (const auto& [k, v] : labels) {
      if (k == "region") continue;
      out.key.dims.push_back({dimension_for(k), v});
    }
    std::sort(out.key.dims.begin(), out.key.dims.end());
    out.unit = unit_for(name);
    out.running_sum = n.ns == "AWS/DynamoDB" && name.starts_with("Consumed");
    return out;
  }
  return std::nullopt;
}

std::optional<CloudWatchName> cloudwatch_name_of(std::string_view family) {
  std::optional<CloudWatchSeries> s = cloudwatch_series(family, {});
  if (!s) return std::nullopt;
  return CloudWatchName{s->key.ns, s->key.name, s->unit};
}

RegistrySampler::RegistrySampler(const Registry& registry, MetricStore& store)
    : registry_(registry), store_(store) {}

RegistrySampler::~RegistrySampler() { stop(); }

uint64_t RegistrySampler::samples() const { return samples_.load(std::memory_order_relaxed); }

void RegistrySampler::sample(int64_t t_s) {
  struct Pending {
    const void* key;
    MetricStore::Sample sample;
    Sketch sketch;
  };
  std::vector<Pending> out;
  std::vector<std::pair<const void*, CloudWatchSeries>> fresh;
  registry_.for_each_series([&](const Registry::SeriesView& v) {
    const void* p = v.counter ? static_cast<const void*>(v.counter)
                    : v.gauge ? static_cast<const void*>(v.gauge)
                              : static_cast<const void*>(v.histogram);
    auto it = states_.find(p);
    if (it == states_.end()) {
      std::optional<CloudWatchSeries> cw = cloudwatch_series(v.family, v.labels);
      State st;
      if (cw) {
        st.running_sum = cw->running_sum;
        fresh.emplace_back(p, std::move(*cw));
      }
      // Start from zero: what was counted before the first sample belongs to no second we
      // know, so a counter's first datapoint is everything counted so far (as a scrape sees).
      it = states_.emplace(p, std::move(st)).first;
      if (!cw) return;
      it->second.mapped = true;
      it->second.series = UINT32_MAX;  // interned below, outside the registry lock
    }
    State& st = it->second;
    if (!st.mapped) return;
    Pending pd;
    pd.key = p;
    pd.sample.series = st.series;
    if (v.counter) {
      const uint64_t now = v.counter->value();
      const uint64_t d = now >= st.last_count ? now - st.last_count : now;
      st.last_count = now;
      if (d == 0 && st.last_zero) return;
      st.last_zero = d == 0;
      pd.sample.stat = Stat::of(static_cast<double>(d));
    } else if (v.gauge) {
      const double now = v.gauge->value();
      double value = now;
      if (st.running_sum) value = now >= st.last_value ? now - st.last_value : now;
      st.last_value = now;
      // A level (lag, age, freshness) is recorded every second, 0 included; a running sum
      // like a counter.
      if (st.running_sum) {
        if (value == 0 && st.last_zero) return;
        st.last_zero = value == 0;
      }
      pd.sample.stat = Stat::of(value);
    } else {
      const Histogram& h = *v.histogram;
      if (st.last_buckets.empty()) st.last_buckets.assign(Histogram::kBuckets, 0);
      uint64_t count = 0;
      int lo = -1, hi = -1;
      for (size_t i = 0; i < Histogram::kBuckets; ++i) {
        const uint64_t b = h.bucket(i);
        const uint64_t d = b >= st.last_buckets[i] ? b - st.last_buckets[i] : b;
        st.last_buckets[i] = b;
        if (d == 0) continue;
        count += d;
        if (lo < 0) lo = static_cast<int>(i);
        hi = static_cast<int>(i);
        // The bucket's middle stands for its observations.
        const double upper =
            i < Histogram::kBounds.size() ? Histogram::kBounds[i] : Histogram::kBounds.back() * 2;
        const double lower = i == 0 ? 0 : Histogram::kBounds[i - 1];
        sketch_add(pd.sketch, (lower + upper) / 2, static_cast<uint32_t>(d));
      }
      const double sum = h.sum();
      const double dsum = sum - st.last_value;
      st.last_value = sum;
      if (count == 0) return;
      const double avg = dsum / static_cast<double>(count);
      const double min_b = lo == 0 ? 0 : Histogram::kBounds[lo - 1];
      const double max_b = static_cast<size_t>(hi) < Histogram::kBounds.size()
                               ? Histogram::kBounds[hi]
                               : std::max(dsum, Histogram::kBounds.back());
      Stat s;
      s.sum = dsum;
      s.count = static_cast<double>(count);
      s.min = count == 1 ? dsum : std::min(min_b, avg);
      s.max = count == 1 ? dsum : std::max(std::min(max_b, dsum), avg);
      pd.sample.stat = s;
    }
    out.push_back(std::move(pd));
  });
  // New series: intern them (the store takes its own lock), then point their pending samples
  // at the id.
  for (auto& [p, cw] : fresh) {
    Result<uint32_t> id = store_.intern(cw.key, cw.unit);
    State& st = states_.at(p);
    if (!id.ok()) {
      st.mapped = false;  // over the series limit: not recorded
      continue;
    }
    st.series = *id;
  }
  std::vector<MetricStore::Sample> samples;
  samples.reserve(out.size());
  for (Pending& pd : out) {
    if (pd.sample.series == UINT32_MAX) {  // a fresh series: its id was set above
      const State& st = states_.at(pd.key);
      if (!st.mapped) continue;
      pd.sample.series = st.series;
    }
    pd.sample.sketch = pd.sketch.empty() ? nullptr : &pd.sketch;
    samples.push_back(pd.sample);
  }
  if (Status s = store_.record_many(t_s, samples); !s.ok()) {
    logging::warn("metric sampler: {}", s.to_string());
  }
  samples_.fetch_add(samples.size(), std::memory_order_relaxed);
}

void RegistrySampler::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  tick_due_ = false;
  thread_ = std::thread([this] { run(); });
  tick_thread_ = std::thread([this] { run_ticks(); });
  // Named so that benchmarks can read their CPU time (/proc/<pid>/task/<tid>/stat).
  pthread_setname_np(thread_.native_handle(), "metric-sampler");
  pthread_setname_np(tick_thread_.native_handle(), "metric-tick");
}

void RegistrySampler::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  tick_cv_.notify_all();
  thread_.join();
  tick_thread_.join();
  if (Status s = store_.flush(); !s.ok()) logging::error("metric store flush: {}", s.to_string());
}

void RegistrySampler::run() {
  using namespace std::chrono;
  while (true) {
    const auto now = system_clock::now();
    const auto next = ceil<seconds>(now + milliseconds(1));
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    const int64_t t = duration_cast<seconds>(next.time_since_epoch()).count() - 1;
    sample(t);
    {
      std::lock_guard lock(mu_);
      tick_due_ = true;
    }
    tick_cv_.notify_one();
    if (after_tick_) after_tick_();
  }
}

void RegistrySampler::run_ticks() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      tick_cv_.wait(lock, [this] { return stopping_ || tick_due_; });
      if (stopping_) return;
      tick_due_ = false;
    }
    if (Status s = store_.tick(); !s.ok()) logging::warn("metric store: {}", s.to_string());
  }
}

}  // namespace freshet::metrics

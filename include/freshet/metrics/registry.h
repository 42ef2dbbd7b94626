// Metrics registry: counters, gauges and histograms with labels, rendered as Prometheus text.
//
// Ownership and threads:
//  - A Registry is created by the server's owner and passed by reference; there are no globals.
//  - counter()/gauge()/histogram() take the registry mutex to find or create a series and return
//    a pointer that stays valid for the lifetime of the Registry. Callers obtain it once (e.g. at
//    construction) and keep it.
//  - Updating a series through that pointer is lock-free (relaxed atomics) and may be done from
//    any thread concurrently.
//  - render_prometheus() takes the registry mutex only to walk the family table; it reads the
//    series atomics without stopping writers, so a scrape is not a consistent snapshot across
//    series (as in every Prometheus client).
//
// Names: Prometheus metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*. Invalid characters are replaced with '_'. CloudWatch-style names with
// dots are mapped by cloudwatch_metric_name() (see docs/api.md).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace freshet::metrics {

// Label pairs. Order given by the caller does not matter: the registry sorts them by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v);
  void add(double delta);
  void inc() { add(1.0); }
  void dec() { add(-1.0); }
  double value() const;

 private:
  std::atomic<uint64_t> bits_{0};  // bit pattern of a double (0 bits == 0.0)
};

// A histogram with fixed log-scale buckets (1-2.5-5 per decade) meant for latencies in
// milliseconds: upper bounds 0.1 ms .. 10000 ms, then +Inf.
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {0.1, 0.25, 0.5, 1,   2.5,  5,    10,   25,
                                                     50,  100,  250, 500, 1000, 2500, 5000, 10000};
  static constexpr size_t kBuckets = kBounds.size() + 1;  // last is +Inf

  void observe(double value);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;
  // Non-cumulative count of bucket i (i < kBuckets).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_bits_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Finds or creates the series. Never returns null. `help` is used when the family is
  // created. If `name` already exists with another type, the series returned is kept in an
  // unexported side table (so callers never get null) and type_conflicts() is incremented.
  Counter* counter(std::string_view name, Labels labels = {}, std::string_view help = {});
  Gauge* gauge(std::string_view name, Labels labels = {}, std::string_view help = {});
  Histogram* histogram(std::string_view name, Labels labels = {}, std::string_view help = {});

  // Prometheus text exposition format 0.0.4. Families sorted by name, series by labels.
  std::string render_prometheus() const;

  // The current value of one counter or gauge series (labels in any order), or nullopt if
  // the series does not exist or is a histogram. Never creates a series.
  std::optional<double> value(std::string_view name, Labels labels) const;

  uint64_t type_conflicts() const { return type_conflicts_.load(std::memory_order_relaxed); }

  // Calls fn for every exported series, under the registry mutex (fn must not call back into
  // the registry). Exactly one of counter/gauge/histogram is set. Pointers stay valid for the
  // Registry's life, so callers may key state on them.
  struct SeriesView {
    std::string_view family;  // the Prometheus name
    MetricType type;
    const Labels& labels;     // sorted by name
    const Counter* counter;
    const Gauge* gauge;
    const Histogram* histogram;
  };
  void for_each_series(const std::function<void(const SeriesView&)>& fn) const;

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    MetricType type;
    std::string help;
    std::map<std::string, Series> series;  // key: rendered label set
  };

  // REQUIRES: mu_ held.
  Series* find_or_create_locked(MetricType type, std::string_view name, Labels labels,
                                std::string_view help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;        // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Series>> orphans_;  // GUARDED_BY(mu_); type-conflicting series
  std::atomic<uint64_t> type_conflicts_{0};
};

// Replaces characters not allowed in a Prometheus metric name with '_' (and prefixes '_' if the
// name starts with a digit). Empty input gives "_".
std::string sanitize_metric_name(std::string_view name);
// Same for label names (no ':').
std::string sanitize_label_name(std::string_view name);
// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
// Maps a CloudWatch metric name to a Prometheus name:
//   cloudwatch_metric_name("kinesis", "PutRecords.Latency") == "freshet_kinesis_PutRecords_Latency"
// Namespace is lowercased; the metric name keeps its case; '.' and other invalid characters
// become '_'.
std::string cloudwatch_metric_name(std::string_view ns, std::string_view cloudwatch_name);

}  // namespace freshet::metrics

// Counters every `freshet bench` mode shares between its client threads, the progress line
// and the summary.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace freshet::cli::bench {

// Thread-safe: the counters are atomics, the rest is guarded by mu_. Client threads keep
// their latencies locally and hand them over once, at the end, with add_latencies().
class Stats {
 public:
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> errors{0};

  void error(const std::string& type, int64_t n = 1) {
    errors.fetch_add(n);
    std::lock_guard l(mu_);
    by_type_[type] += n;
  }
  void add_latencies(const std::vector<double>& ms) {
    std::lock_guard l(mu_);
    latencies_.insert(latencies_.end(), ms.begin(), ms.end());
  }
  std::map<std::string, int64_t> error_types() const {
    std::lock_guard l(mu_);
    return by_type_;
  }
  std::vector<double> latencies() const {
    std::lock_guard l(mu_);
    return latencies_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> by_type_;  // GUARDED_BY(mu_)
  std::vector<double> latencies_;           // GUARDED_BY(mu_)
};

}  // namespace freshet::cli::bench

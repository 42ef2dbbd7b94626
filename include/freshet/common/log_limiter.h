// LogLimiter: lets an error that can repeat on a hot path (every put on a full disk) reach the
// log at most once per interval, with a count of the ones held back since. Metrics count every
// occurrence; the log says what happened and how often.
//
//   if (auto held = limiter.allow()) logging::error("... ({} more since the last report)", *held);
//
// Thread-safe: one mutex, taken once per call.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace freshet {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}

  // Empty: hold this one back. Otherwise: log it, and say how many were held back before it.
  std::optional<uint64_t> allow() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (now < next_) {
      ++held_;
      return std::nullopt;
    }
    next_ = now + interval_;
    const uint64_t held = held_;
    held_ = 0;
    return held;
  }

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_{};  // guarded by mu_
  uint64_t held_ = 0;                             // guarded by mu_
};

}  // namespace freshet

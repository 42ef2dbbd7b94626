// Clocks are passed in, never read from globals, so tests can control time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace freshet {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
};

// The system's wall clock in milliseconds since the Unix epoch, for code that stamps what it
// writes (ids, answers, records) rather than deciding by time; deciding code takes a Clock.
inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override { return wall_clock_ms(); }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void set(int64_t ms) { now_.store(ms, std::memory_order_relaxed); }
  void advance(int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace freshet

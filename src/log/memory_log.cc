// MemoryLog: the Log interface over a deque of batches in memory, for fast tests of the
// layers above. Same semantics as DiskLog: dense offsets, trim horizon, retention by age and
// size at batch granularity (a batch plays the part of a segment), byte-limited reads.
#include <algorithm>
#include <deque>
#include <mutex>

#include "format.h"
#include "freshet/log/log.h"

namespace freshet::log {
namespace {

class MemoryLog final : public Log {
 public:
  explicit MemoryLog(const LogOptions& options) : options_(options) {}

  Result<uint64_t> complete_append(PendingAppend pending) override { return pending.first_offset; }

  Result<PendingAppend> begin_append(std::span<const Record> records) override {
    FRESHET_ASSIGN_OR_RETURN(size_t payload, format::validate_records(records));
    auto batch = std::make_shared<Batch>();
    batch->bytes.reserve(payload);
    batch->max_ts = records.front().timestamp_ms;
    for (const Record& r : records) {
      Stored s{r.timestamp_ms, batch->bytes.size(), r.partition_key.size(),
               r.explicit_hash_key.size(), r.data.size()};
      batch->bytes.append(r.partition_key).append(r.explicit_hash_key).append(r.data);
      batch->records.push_back(s);
      batch->max_ts = std::max(batch->max_ts, r.timestamp_ms);
    }
    std::lock_guard lock(mu_);
    if (closed_) return Error(ErrorCode::kClosed, "log is closed");
    if (sealed_) return Error(ErrorCode::kResourceInUse, "log is sealed");
    batch->base = tip_;
    tip_ += records.size();
    bytes_ += batch->bytes.size();
    last_ts_ = std::max(last_ts_, batch->max_ts);
    batches_.push_back(std::move(batch));
    ++counters_.appended_batches;
    counters_.appended_records += records.size();
    counters_.appended_bytes += payload;
    PendingAppend p;
    p.first_offset = tip_ - records.size();
    p.end_offset = tip_;
    p.max_timestamp_ms = last_ts_;
    return p;
  }

  Result<ReadResult> read(uint64_t from, size_t max_records, size_t max_bytes) const override {
    if (max_records == 0) return Error(ErrorCode::kInvalidArgument, "max_records must be positive");
    std::lock_guard lock(mu_);
    if (from < horizon_) {
      return Error(ErrorCode::kOutOfRange, "offset " + std::to_string(from) +
                                               " is below the trim horizon " +
                                               std::to_string(horizon_));
    }
    ReadResult out;
    out.next_offset = from;
    auto it = std::upper_bound(batches_.begin(), batches_.end(), from,
                               [](uint64_t o, const auto& b) { return o < b->base; });
    if (it != batches_.begin()) --it;
    auto keep = std::make_shared<std::vector<std::shared_ptr<const Batch>>>();
    size_t bytes = 0;
    for (; it != batches_.end(); ++it) {
      const Batch& b = **it;
      keep->push_back(*it);
      for (size_t i = 0; i < b.records.size(); ++i) {
        const uint64_t off = b.base + i;
        if (off < from) continue;
        const Stored& s = b.records[i];
        const size_t size = s.pk + s.data;
        if (out.records.size() >= max_records ||
            (!out.records.empty() && bytes + size > max_bytes)) {
          out.storage = keep;
          return out;
        }
        const char* p = b.bytes.data() + s.at;
        out.records.push_back(StoredRecord{off, s.ts, std::string_view(p, s.pk),
                                           std::string_view(p + s.pk, s.ehk),
                                           std::string_view(p + s.pk + s.ehk, s.data)});
        bytes += size;
        out.next_offset = off + 1;
      }
    }
    out.storage = keep;
    return out;
  }

  Result<uint64_t> offset_for_timestamp(int64_t ts_ms) const override {
    std::lock_guard lock(mu_);
    for (const auto& b : batches_) {
      if (b->max_ts < ts_ms) continue;
      for (size_t i = 0; i < b->records.size(); ++i) {
        if (b->records[i].ts >= ts_ms) return b->base + i;
      }
    }
    return tip_;
  }

  uint64_t committed_tip() const override {
    std::lock_guard lock(mu_);
    return tip_;
  }
  uint64_t next_offset() const override { return committed_tip(); }
  uint64_t trim_horizon() const override {
    std::lock_guard lock(mu_);
    return horizon_;
  }
  int64_t last_timestamp_ms() const override {
    std::lock_guard lock(mu_);
    return last_ts_;
  }
  void set_retention(int64_t retention_ms, uint64_t retention_bytes) override {
    std::lock_guard lock(mu_);
    options_.retention_ms = retention_ms;
    options_.retention_bytes = retention_bytes;
  }
  Result<size_t> enforce_retention(int64_t now_ms) override {
    std::lock_guard lock(mu_);
    size_t n = 0;
    const int64_t cutoff = now_ms - options_.retention_ms;
    while (!batches_.empty()) {
      const Batch& b = *batches_.front();
      const bool expired = options_.retention_ms > 0 && b.max_ts < cutoff;
      const bool over = options_.retention_bytes > 0 && bytes_ > options_.retention_bytes;
      if (!expired && !over) break;
      bytes_ -= b.bytes.size();
      horizon_ = b.base + b.records.size();
      batches_.pop_front();
      ++n;
    }
    counters_.segments_deleted += n;
    return n;
  }
  LogCounters counters() const override {
    std::lock_guard lock(mu_);
    return counters_;
  }
  Status close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
    return {};
  }
  Result<uint64_t> seal_appends() override {
    std::lock_guard lock(mu_);
    sealed_ = true;
    return tip_;
  }

 private:
  struct Stored {
    int64_t ts;
    size_t at;
    size_t pk;
    size_t ehk;
    size_t data;
  };
  struct Batch {
    uint64_t base = 0;
    int64_t max_ts = 0;
    std::string bytes;
    std::vector<Stored> records;
  };

  mutable std::mutex mu_;  // guards everything below
  LogOptions options_;
  std::deque<std::shared_ptr<const Batch>> batches_;
  uint64_t tip_ = 0;
  uint64_t horizon_ = 0;
  uint64_t bytes_ = 0;
  int64_t last_ts_ = 0;
  bool closed_ = false;
  bool sealed_ = false;
  LogCounters counters_;
};

}  // namespace

std::unique_ptr<Log> make_memory_log(const LogOptions& options) {
  return std::make_unique<MemoryLog>(options);
}

}  // namespace freshet::log

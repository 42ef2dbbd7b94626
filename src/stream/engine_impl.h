// Engine::Impl: the state behind stream::Engine and who owns it. Internal to src/stream.
//
// The catalog (streams, shards, tags, consumers, policies, account settings) is an immutable
// value, `Catalog`, published through one pointer. A control-plane change copies the current
// catalog (shallowly: streams are shared_ptr<const StreamView>), changes the copy, persists it
// (catalog.json, temp file + fsync + rename + directory fsync) and only then publishes it; if
// persisting fails, the call fails and nothing changed. Readers take the published pointer and
// never wait for a change in progress.
//
// Files, one concern each:
//   engine_impl.h      this state, its locks and helpers
//   catalog_model.cc   Catalog <-> catalog.json, transitions, commit (persist, then publish)
//   engine.cc          open/shutdown, the background thread, control-plane operations
//   engine_reshard.cc  SplitShard, MergeShards, UpdateShardCount
//   write_path.cc      PutRecord(s): routing from the published snapshot, appends
//   read_path.cc       GetShardIterator, GetRecords
//
// Threads and locks:
//   control_mu_  serialises control-plane changes (one writer at a time, for the whole
//                copy-persist-publish, fsyncs included) and the background thread's
//                transitions and failed-log reopening. Only control-plane callers wait on it.
//   snap_mu_     guards the `catalog_` pointer only (copy or swap it, nothing else under it).
//                Data-plane calls (io and handler threads) take it for a pointer copy.
//   ShardRt::rate_mu  guards that shard's throughput windows.
// Lock order: control_mu_ before snap_mu_; rate_mu is a leaf. No engine lock is held while
// waiting for an fsync of a shard log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/log_limiter.h"
#include "freshet/log/log_store.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/shard_iterator.h"

namespace freshet::stream {

inline constexpr int64_t kHourMs = 3600 * 1000;
inline constexpr uint64_t kShardOpen = UINT64_MAX;  // ShardRt::end_offset before a seal

// A fixed one-second window of usage, for the opt-in per-shard limits.
struct RateWindow {
  int64_t second = 0;
  uint64_t bytes = 0;
  uint64_t count = 0;
  // Adds (bytes, count) if the window stays within both limits.
  bool try_add(int64_t now_ms, uint64_t b, uint64_t c, uint64_t max_bytes, uint64_t max_count) {
    const int64_t sec = now_ms / 1000;
    if (sec != second) {
      second = sec;
      bytes = 0;
      count = 0;
    }
    if (bytes + b > max_bytes || count + c > max_count) return false;
    bytes += b;
    count += c;
    return true;
  }
};

// The runtime side of one shard, shared by every catalog version that has the shard.
struct ShardRt {
  ShardRt(uint64_t epoch, uint64_t idx, std::string id, std::string log_name_,
          std::shared_ptr<log::Log> l)
      : index(idx),
        shard_id(std::move(id)),
        log_name(std::move(log_name_)),
        seqs(epoch, idx),
        log_(std::move(l)) {}

  const uint64_t index;
  const std::string shard_id;
  const std::string log_name;
  const SequenceNumberFormatter seqs;

  // The log, replaced when a failed log is reopened (background thread, under control_mu_).
  std::shared_ptr<log::Log> log() const { return std::atomic_load(&log_); }
  void set_log(std::shared_ptr<log::Log> l) { std::atomic_store(&log_, std::move(l)); }

  // One past the last record of a closed shard, set once its log is sealed against appends
  // (kShardOpen until then: readers treat the shard as open). Never beyond what the log
  // holds: at open it is the recovered log's end.
  std::atomic<uint64_t> end_offset{kShardOpen};

  std::mutex rate_mu;  // guards the two windows
  RateWindow write_window;
  RateWindow read_window;

 private:
  std::shared_ptr<log::Log> log_;  // atomic_load/atomic_store only
};

// One stream in one catalog version. Immutable once published.
struct StreamView {
  StreamInfo info;  // info.shards: every shard's metadata, by index (end offsets not filled)
  int64_t status_until_ms = 0;
  uint64_t next_shard_index = 0;
  std::vector<std::shared_ptr<ShardRt>> shards;  // parallel to info.shards
  // Routing: the open shards sorted by range start, and their ranges.
  std::vector<std::shared_ptr<ShardRt>> open_sorted;
  std::vector<HashKeyRange> open_ranges;

  // Recomputes open_sorted/open_ranges from info.shards. Call before publishing a change.
  void build_routing();
  const Shard* meta(uint64_t index) const;
  std::shared_ptr<ShardRt> runtime(uint64_t index) const;
};

using StreamKey = std::pair<std::string, std::string>;  // (region, name)

struct Catalog {
  std::map<StreamKey, std::shared_ptr<const StreamView>> streams;
  std::map<std::string, std::string> policies;
  AccountSettings account;
  uint64_t next_epoch = 1;
};

// What a change leaves to do once its catalog is durable and published.
struct AfterCommit {
  std::vector<std::shared_ptr<ShardRt>> seal;             // shards closed by a reshard
  std::vector<std::shared_ptr<const StreamView>> remove;  // streams whose deletion completed
};

std::string log_name(const StreamInfo& s, const std::string& shard_id);
Error not_found(const std::string& name, const std::string& account);

class Engine::Impl {
 public:
  explicit Impl(const EngineOptions& o);
  ~Impl() { shutdown(); }

  Status open();
  void shutdown();
  void background();
  void tick();

  EngineOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<log::LogStore> logs_;
  ShardIteratorKey iterator_key_{};

  std::mutex control_mu_;  // see the top of this file
  mutable std::mutex snap_mu_;
  std::shared_ptr<const Catalog> catalog_;  // guarded by snap_mu_; never null after open()

  std::mutex bg_mu_;  // guards stopping_ for the background thread
  std::condition_variable bg_cv_;
  bool stopping_ = false;
  std::thread bg_;
  std::atomic<int64_t> last_retention_ms_{0};  // tick() may run on two threads (tests)

  // Data-plane errors: counted per kind, logged at a bounded rate.
  std::atomic<uint64_t> put_failures_{0};
  std::atomic<uint64_t> catalog_failures_{0};
  std::atomic<uint64_t> reopened_logs_{0};
  LogLimiter put_error_log_;
  mutable std::mutex health_mu_;
  std::string catalog_error_;  // guarded by health_mu_; the last failed persist, until one works
  std::string write_error_;    // guarded by health_mu_; the last failed append's reason
  // The last failed and the last successful append (ms): health() reports a failing disk
  // while the most recent append failed.
  std::atomic<int64_t> last_write_error_ms_{0};
  std::atomic<int64_t> last_write_ok_ms_{0};
  void note_write_error(const Error& e);

  int64_t now() const { return clock_->now_ms(); }

  // The published catalog. Any thread.
  std::shared_ptr<const Catalog> current() const {
    std::lock_guard lock(snap_mu_);
    return catalog_;
  }

  // ---- catalog_model.cc ----
  static Result<std::shared_ptr<const StreamView>> find(const Catalog& c, const std::string& account,
                                                        const std::string& region,
                                                        const std::string& name);
  Result<std::shared_ptr<const StreamView>> find_active(const Catalog& c, const std::string& region,
                                                        const std::string& name) const;
  // StreamInfo with sequence ranges and closed shards' end offsets filled in.
  StreamInfo describe(const StreamView& s) const;
  log::LogOptions log_options(const StreamInfo& s) const;
  Status check_shard_limit(const Catalog& c, const std::string& region, uint32_t additional) const;
  // Opens a new shard's log and adds the shard to `s` (a copy being changed).
  Result<std::shared_ptr<ShardRt>> add_shard(StreamView& s, HashKeyRange range, std::string parent,
                                             std::string adjacent, int64_t now_ms);
  // Marks a shard closed in `s` (a copy) and lists it to be sealed after the commit.
  void close_shard(StreamView& s, uint64_t index, int64_t now_ms, AfterCommit* after) const;
  // Applies due status transitions to `c` (a copy). Returns whether anything changed.
  bool apply_transitions(Catalog& c, int64_t now_ms, AfterCommit* after) const;
  // Persists `next`, then publishes it and runs `after`. REQUIRES: control_mu_ held. On a
  // failed persist nothing is published and the error is returned.
  Status commit(std::shared_ptr<Catalog> next, AfterCommit after);
  // commit() after the transitions a zero state delay completes at once.
  Status settle(std::shared_ptr<Catalog> next, AfterCommit after);
  Status persist(const Catalog& c);
  Status load_catalog();  // at open
  // Closes and removes a deleted stream's logs (after the catalog without it is durable).
  void remove_stream_files(const StreamView& s);
  // Removes log directories of streams the catalog does not know (a deletion interrupted
  // after its catalog change was durable).
  void remove_orphan_logs(const Catalog& c);
  // Sets the stream's current retention on its shards' logs (after a committed change).
  Status apply_retention(const std::string& region, const std::string& name);
  // Reopens shard logs that failed (a failed fdatasync). REQUIRES: control_mu_ held.
  void reopen_failed_logs(const Catalog& c);
};

}  // namespace freshet::stream

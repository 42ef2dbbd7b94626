// GroupCommitter: one thread per LogStore that makes appends durable in shared rounds.
//
// An appender writes its batch, then enqueue()s the file it wrote and wait()s for the ticket.
// The committer thread takes every file queued so far as one round and fdatasyncs each once:
// all appenders whose writes preceded the round's start share its syncs. A ticket is the
// number of the round that will include the file, so a write made while round R runs waits
// for round R+1 (its data may have missed R's fdatasync).
//
// fsync errors are sticky, as PostgreSQL learned: after a failed fdatasync the kernel may have
// dropped the dirty pages and a later fdatasync can succeed without them. So once a target
// fails it stays failed, every waiter on it gets the error, and the owning log stops
// accepting appends until it is reopened (recovery re-reads what is really on disk).
// Only a failed fdatasync is sticky: when the WAL's pwrite fails (a full disk, say), the round
// syncs the files of its WAL entries directly instead, and its waiters see the outcome of
// those syncs; the WAL is used again from the next round. When the WAL's own fdatasync fails,
// the round also falls back to the files, and the WAL is not used again (wal_failed_).
//
// A checkpoint that cannot complete (a file with WAL-only data failed its sync, or the header
// could not be written) leaves the WAL as it is (its entries are the only durable copy of
// those batches) and stalls it: append_wal() declines until a retry (at most once a second,
// after a round) succeeds, so batches sync their own files and the WAL does not grow without
// bound. health() reports both states; checkpoint_now() returns the checkpoint's outcome.
//
// A round with several files syncs them in parallel: the committer thread and up to
// `sync_helpers` helper threads each take the next file of the round until none is left
// (measured on a virtio disk: 4 files' fdatasyncs took 679 us one after another, 392 us at
// once). The round ends when every file of it is synced.
//
// Write-ahead log (optional, enable_wal): fdatasyncs on one device are slow mostly because
// each issues a cache flush, and flushes for different files barely overlap (bench/fsync_probe
// here: one file per round 177 us, four files at once 378 us). So a small batch (at most
// `max_entry_bytes`) is also copied into the WAL, and its log file is not synced in the
// round: the round writes the WAL bytes queued so far with one pwrite and makes them durable
// with one fdatasync. Big batches (bulk PutRecords) still sync their own file, so they are
// not written twice. The log files holding WAL-only data are synced at a checkpoint, when the
// WAL passes `checkpoint_bytes`; then the WAL starts its next generation (wal_format.h).
// Recovery (LogStore::open) replays the WAL into the logs before anything else runs. Format:
// docs/format.md, "Write-ahead log".
//
// Threads: the committer thread owns the loop; the helper threads only sync files of the
// round the committer published (guarded by pool_mu_); any thread may enqueue/wait.
// Lock order: DiskLog::mu_ may be held while calling enqueue() (never wait()); mu_ here is
// a leaf lock.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/log_limiter.h"
#include "freshet/common/result.h"

namespace freshet::log {

class GroupCommitter {
 public:
  // A file to sync. Shared by the log (its active segment) and the committer.
  struct Target {
    explicit Target(std::shared_ptr<File> f, uint64_t durable_size = 0)
        : file(std::move(f)), written(durable_size), synced(durable_size) {}
    std::shared_ptr<File> file;
    // The file's bytes [0, written) are written (set by the owning log under its lock after
    // each write, in order); [0, synced) are known durable: sync() raises it to the `written`
    // it read before its fdatasync began. The log stamps `synced` into each batch header it
    // writes (docs/format.md, "synced floor"), so recovery can tell damage to durable bytes
    // from a torn tail.
    std::atomic<uint64_t> written;
    std::atomic<uint64_t> synced;
    // fdatasyncs the file and advances `synced`; the only way a Target's file is synced.
    Status sync();
    // Guarded by GroupCommitter::mu_.
    uint64_t queued_round = 0;
    uint64_t wal_round = 0;         // last round with a WAL entry for this file
    uint64_t dirty_checkpoint = 0;  // 1 + the checkpoint that must sync it (0: clean)
    bool failed = false;
    std::string error;
  };

  // Hooks for metrics (called on the committer or helper threads; must be quick). Either may
  // be empty.
  struct Observer {
    std::function<void(double ms)> fsync_latency;     // every fdatasync of a round or the WAL
    std::function<void(size_t appends)> round_appends;  // appends made durable by each round
  };

  explicit GroupCommitter(int sync_helpers = 3, Observer observer = {})
      : observer_(std::move(observer)), sync_helpers_(sync_helpers) {}
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  void start();
  // Finishes the queued rounds, then joins the thread. Later enqueues sync inline.
  void stop();

  // Queues a sync of target; returns the ticket to wait for.
  uint64_t enqueue(const std::shared_ptr<Target>& target);
  // Blocks until the round `ticket` has synced target; returns its outcome (an error when
  // the target failed in any round, before or after).
  Status wait(uint64_t ticket, const std::shared_ptr<Target>& target);
  // Calls done(outcome) once the round `ticket` has synced target, without blocking the
  // caller: on the committer thread after that round, or inline when it is already over (or
  // the committer is not running). done must be quick and must not call back into this
  // committer's wait(); posting to an executor is the intended use.
  using Callback = std::function<void(Status)>;
  void wait_async(uint64_t ticket, const std::shared_ptr<Target>& target, Callback done);
  // Syncs target on the calling thread, recording a failure in the sticky flag.
  Status sync_now(const std::shared_ptr<Target>& target);

  // Routes batches of at most max_entry_bytes through `wal` (owned by the committer from now
  // on), whose header names `generation` and holds no entry of it yet. Before start() only.
  void enable_wal(std::shared_ptr<File> wal, uint64_t generation, uint64_t checkpoint_bytes,
                  size_t max_entry_bytes);
  // Queues `batch` (already written to target's file) for the WAL under the log name `log`
  // and returns the ticket to wait for, as enqueue() does; returns 0 when the WAL does not
  // take it (disabled, not running, failed, or the batch is too big): enqueue() then.
  uint64_t append_wal(std::string_view log, std::string_view batch,
                      const std::shared_ptr<Target>& target);
  // Syncs every file with WAL-only data and starts a new WAL generation (which makes every
  // entry in it stale), on the committer thread; returns once done. Used before a log is
  // removed, so that its entries cannot be replayed into a new log of the same name.
  Status checkpoint_now();
  // Drops the files under `dir_prefix` from those the next checkpoint must sync: their log
  // was reopened, and what the WAL held for it is in its files again and synced.
  void forget_files_under(const std::string& dir_prefix);
  // OK, or why the WAL is failed (its fdatasync failed) or stalled (checkpoints failing).
  Status health() const;
  uint64_t checkpoint_failures() const;
  uint64_t wal_write_failures() const;
  uint64_t wal_bytes() const { return wal_size_seen_.load(std::memory_order_relaxed); }
  uint64_t checkpoints() const;  // completed WAL checkpoints

  uint64_t rounds() const;
  uint64_t syncs() const;

 private:
  struct Waiter {
    uint64_t ticket;
    std::shared_ptr<Target> target;
    Callback done;
  };
  void run();
  void helper();
  // Syncs the files of `round`, in parallel when helpers run; returns how many it synced.
  uint64_t sync_round(const std::vector<std::shared_ptr<Target>>& round);
  // Takes files of the published round until none is left. Any thread.
  void take_files();
  void sync_one(const std::shared_ptr<Target>& t);
  static Status outcome(const Target& t);  // requires mu_
  // Writes and syncs the WAL bytes of a round; returns false when they are not durable (the
  // round must then sync the entries' files). Seals the entries in `bytes` with the current
  // generation first. A failed fdatasync marks the WAL failed for good.
  bool write_wal(std::string& bytes);
  // Lists t among the files the next checkpoint syncs, once. REQUIRES: mu_.
  void mark_dirty_locked(const std::shared_ptr<Target>& t);
  // Syncs every file with WAL-only data, then starts the next generation. Committer thread.
  Status checkpoint();
  // Times one fdatasync for the observer.
  Status timed_sync(File& f);   // the WAL file
  Status timed_sync(Target& t);  // a log file: advances t.synced

  // WAL state. The file and limits are set before start() and read-only after. wal_size_,
  // wal_generation_ and the next_* thresholds are used by the committer thread, and by
  // stop()/checkpoint_now() only once that thread has ended; the rest is guarded by mu_.
  std::shared_ptr<File> wal_;
  uint64_t wal_checkpoint_bytes_ = 0;
  size_t wal_max_entry_bytes_ = 0;
  uint64_t wal_size_ = 0;  // bytes of entries after the header block
  uint64_t wal_generation_ = 0;
  std::atomic<uint64_t> wal_size_seen_{0};            // wal_size_ for wal_bytes()
  std::string wal_pending_;                           // guarded by mu_
  std::vector<std::shared_ptr<Target>> wal_targets_;  // guarded by mu_; this round's
  std::vector<std::shared_ptr<Target>> wal_dirty_;    // guarded by mu_; since checkpoint
  uint64_t checkpoint_number_ = 0;                    // guarded by mu_
  uint64_t checkpoint_requested_ = 0;                 // guarded by mu_; see checkpoint_now
  uint64_t checkpoints_done_ = 0;                     // guarded by mu_
  Status last_checkpoint_;                            // guarded by mu_; outcome of the last
  size_t round_appends_ = 0;                          // guarded by mu_; appends this round
  LogLimiter wal_log_limiter_;                        // failed WAL pwrites reach the log 1/s
  uint64_t next_checkpoint_at_ = 0;                   // committer thread only
  uint64_t next_writeback_at_ = 0;                    // committer thread only
  // Between checkpoints, the files to sync get start_writeback() this many times.
  static constexpr uint64_t kWritebackSteps = 16;
  bool wal_failed_ = false;          // guarded by mu_
  bool wal_stalled_ = false;         // guarded by mu_; a checkpoint failed, not yet retried OK
  std::string wal_error_;            // guarded by mu_; why failed or stalled
  uint64_t checkpoint_failures_ = 0;  // guarded by mu_
  uint64_t wal_write_failures_ = 0;   // guarded by mu_
  std::chrono::steady_clock::time_point next_retry_{};  // committer thread only
  const Observer observer_;
  std::mutex inline_checkpoint_mu_;  // serialises checkpoint_now() callers when not running

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<std::shared_ptr<Target>> queued_;  // guarded by mu_
  std::vector<Waiter> waiters_;                  // guarded by mu_; see wait_async
  uint64_t next_round_ = 1;                      // guarded by mu_
  uint64_t completed_round_ = 0;                 // guarded by mu_
  uint64_t syncs_ = 0;                           // guarded by mu_
  bool running_ = false;                         // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  std::thread thread_;                           // owned by start()/stop() callers

  // The round being synced in parallel. The committer publishes it (pool_round_, reset
  // counters, bump pool_seq_) under pool_mu_ and waits on pool_done_cv_ until pool_done_
  // reaches its size; helpers wait on pool_cv_ for a new pool_seq_.
  const int sync_helpers_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::condition_variable pool_done_cv_;
  const std::vector<std::shared_ptr<Target>>* pool_round_ = nullptr;  // guarded by pool_mu_
  size_t pool_next_ = 0;                                              // guarded by pool_mu_
  size_t pool_done_ = 0;                                              // guarded by pool_mu_
  uint64_t pool_seq_ = 0;                                             // guarded by pool_mu_
  bool pool_stop_ = false;                                            // guarded by pool_mu_
  std::vector<std::thread> helpers_;  // owned by start()/stop() callers
};

}  // namespace freshet::log

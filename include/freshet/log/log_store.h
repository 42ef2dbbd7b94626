// LogStore: every log of one data directory, sharing one group committer so that concurrent
// appenders to any of its logs share fsyncs.
//
// Layout: <root>/<log name>/<20-digit base offset>.{log,idx,tix}. A log name is one or more
// path components of [A-Za-z0-9_.=-] (no "." or ".." components), e.g. "kinesis/us-east-1/s/0".
// <root>/@wal is the write-ahead log of small fsync-mode batches (see group_committer.h and
// docs/format.md); open() replays it into the logs before it returns.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/log/log.h"

namespace freshet::log {

class GroupCommitter;
class DiskLog;

struct LogStoreOptions {
  bool wal = true;                              // route small fsync-mode batches through @wal
  size_t wal_max_entry_bytes = 8 * 1024;        // bigger batches sync their own file
  uint64_t wal_checkpoint_bytes = 64ull << 20;  // sync the logs, start a new generation
  // Metrics hooks, called on the committer's threads (quick, thread-safe). May be empty.
  std::function<void(double ms)> on_fsync;           // latency of every group-commit fdatasync
  std::function<void(size_t appends)> on_round;      // appends made durable per round
};

// What open() found in the write-ahead log.
struct WalRecovery {
  uint64_t entries = 0;   // intact entries read
  uint64_t restored = 0;  // batches a log was missing and got back
  uint64_t already_present = 0;
  uint64_t gaps = 0;        // entries after a batch the log lacks (not acknowledged; see below)
  uint64_t failed = 0;      // always 0 once open() succeeded: a failed entry fails open()
  uint64_t end_offset = 0;  // where replay stopped: the first byte not an intact entry
  bool header_recovered = false;  // the header was damaged; its generation came from the entries
};

class LogStore {
 public:
  // Opens (creating if needed) the directory, replays the write-ahead log and starts the
  // group committer thread. Replay is all or nothing: an entry that cannot be applied (a log
  // that cannot be opened or written, an entry naming a log that does not exist) fails open()
  // and leaves the WAL as it is. A gap (an entry whose log lacks the batch before it) is
  // expected after a power loss during a round that also synced a big batch directly: that
  // round was never acknowledged, so the entries after the gap are skipped with a warning and
  // counted (WalRecovery::gaps). A log is removed only after a checkpoint made every entry of
  // it stale, so an intact entry of the current generation always names an existing log.
  static Result<std::unique_ptr<LogStore>> open(const std::string& root,
                                                std::shared_ptr<FileSystem> fs,
                                                const LogStoreOptions& options = {});
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Opens or creates the named log; recovers its tail segment. The caller owns the log and
  // must close it (or drop it) before the store is closed.
  Result<std::shared_ptr<Log>> open_log(const std::string& name, const LogOptions& options);
  // Deletes every file of a closed log, after a WAL checkpoint that made its entries stale;
  // fails (removing nothing) when the checkpoint fails.
  Status remove_log(const std::string& name);
  // Reopens a log that failed (its fdatasync failed): the caller has closed it. Recovery
  // re-reads what is on disk, the WAL's entries of the log are written back, everything is
  // synced, and the committer forgets the failed files.
  Result<std::shared_ptr<Log>> reopen_log(const std::string& name, const LogOptions& options);
  // Syncs every file with WAL-only data and starts a new WAL generation; the outcome.
  Status checkpoint_now();
  // OK, or why the WAL is failed or stalled (see group_committer.h).
  Status health() const;
  uint64_t wal_checkpoint_failures() const;
  uint64_t wal_write_failures() const;
  bool log_exists(const std::string& name);

  // Stops the committer after it finished the rounds in flight. Idempotent.
  void close();

  const std::string& root() const { return root_; }
  const WalRecovery& wal_recovery() const { return recovery_; }
  uint64_t wal_bytes() const;
  uint64_t wal_checkpoints() const;

 private:
  LogStore(std::string root, std::shared_ptr<FileSystem> fs, const LogStoreOptions& options);
  Result<uint64_t> replay_wal(const std::string& path);  // returns the WAL generation
  // Applies the entries of `generation` in `file` to the logs; only_log: just that one.
  // Opens logs as needed (into `opened`).
  Status apply_wal(File& file, uint64_t generation, const std::string& only_log,
                   std::map<std::string, std::shared_ptr<DiskLog>, std::less<>>* opened,
                   WalRecovery* rec);

  std::string root_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<GroupCommitter> committer_;
  WalRecovery recovery_;
};

bool valid_log_name(const std::string& name);

}  // namespace freshet::log

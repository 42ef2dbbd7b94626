// LogStore: every log of one data directory, sharing one group committer so that concurrent
// appenders to any of its logs share fsyncs.
//
// Layout: <root>/<log name>/<20-digit base offset>.{log,idx,tix}. A log name is one or more
// path components of [A-Za-z0-9_.=-] (no "." or ".." components), e.g. "kinesis/us-east-1/s/0".
// <root>/@wal is the write-ahead log of small fsync-mode batches (see group_committer.h and
// docs/format.md); open() replays it into the logs before it returns.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/log/log.h"

namespace freshet::log {

class GroupCommitter;

struct LogStoreOptions {
  bool wal = true;                              // route small fsync-mode batches through @wal
  size_t wal_max_entry_bytes = 8 * 1024;        // bigger batches sync their own file
  uint64_t wal_checkpoint_bytes = 64ull << 20;  // sync the logs, start a new generation
};

// What open() found in the write-ahead log.
struct WalRecovery {
  uint64_t entries = 0;   // intact entries read
  uint64_t restored = 0;  // batches a log was missing and got back
  uint64_t already_present = 0;
  uint64_t skipped = 0;     // entries of logs that no longer exist
  uint64_t failed = 0;      // entries that could not be applied (logged)
  uint64_t end_offset = 0;  // where replay stopped: the first byte not an intact entry
};

class LogStore {
 public:
  // Opens (creating if needed) the directory, replays the write-ahead log and starts the
  // group committer thread.
  static Result<std::unique_ptr<LogStore>> open(const std::string& root,
                                                std::shared_ptr<FileSystem> fs,
                                                const LogStoreOptions& options = {});
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Opens or creates the named log; recovers its tail segment. The caller owns the log and
  // must close it (or drop it) before the store is closed.
  Result<std::shared_ptr<Log>> open_log(const std::string& name, const LogOptions& options);
  // Deletes every file of a closed log.
  Status remove_log(const std::string& name);
  bool log_exists(const std::string& name);

  // Stops the committer after it finished the rounds in flight. Idempotent.
  void close();

  const std::string& root() const { return root_; }
  const WalRecovery& wal_recovery() const { return recovery_; }
  uint64_t wal_bytes() const;
  uint64_t wal_checkpoints() const;

 private:
  LogStore(std::string root, std::shared_ptr<FileSystem> fs);
  Result<uint64_t> replay_wal(const std::string& path);  // returns the WAL generation

  std::string root_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<GroupCommitter> committer_;
  WalRecovery recovery_;
};

bool valid_log_name(const std::string& name);

}  // namespace freshet::log

// LogStore: every log of one data directory, sharing one group committer so that concurrent
// appenders to any of its logs share fsyncs.
//
// Layout: <root>/<log name>/<20-digit base offset>.{log,idx,tix}. A log name is one or more
// path components of [A-Za-z0-9_.=-] (no "." or ".." components), e.g. "kinesis/us-east-1/s/0".
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/log/log.h"

namespace freshet::log {

class GroupCommitter;

class LogStore {
 public:
  // Opens (creating if needed) the directory and starts the group committer thread.
  static Result<std::unique_ptr<LogStore>> open(const std::string& root,
                                                std::shared_ptr<FileSystem> fs);
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

 private:
  LogStore(std::string root, std::shared_ptr<FileSystem> fs);

  std::string root_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<GroupCommitter> committer_;
};

bool valid_log_name(const std::string& name);

}  // namespace freshet::log

#include "freshet/log/log_store.h"

#include <filesystem>

#include "disk_log.h"
#include "group_committer.h"

namespace freshet::log {

bool valid_log_name(const std::string& name) {
  if (name.empty() || name.size() > 512 || name.front() == '/' || name.back() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-' || c == '=';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

LogStore::LogStore(std::string root, std::shared_ptr<FileSystem> fs)
    : root_(std::move(root)), fs_(std::move(fs)), committer_(std::make_unique<GroupCommitter>()) {}

LogStore::~LogStore() { close(); }

Result<std::unique_ptr<LogStore>> LogStore::open(const std::string& root,
                                                 std::shared_ptr<FileSystem> fs) {
  FRESHET_RETURN_IF_ERROR(fs->create_dirs(root));
  std::unique_ptr<LogStore> store(new LogStore(root, std::move(fs)));
  store->committer_->start();
  return store;
}

Result<std::shared_ptr<Log>> LogStore::open_log(const std::string& name, const LogOptions& options) {
  if (!valid_log_name(name)) return Error(ErrorCode::kInvalidArgument, "bad log name: " + name);
  FRESHET_ASSIGN_OR_RETURN(auto log, DiskLog::open(root_ + "/" + name, options, fs_, committer_.get()));
  return std::shared_ptr<Log>(std::move(log));
}

bool LogStore::log_exists(const std::string& name) {
  return valid_log_name(name) && fs_->exists(root_ + "/" + name);
}

Status LogStore::remove_log(const std::string& name) {
  if (!valid_log_name(name)) return Error(ErrorCode::kInvalidArgument, "bad log name: " + name);
  const std::string dir = root_ + "/" + name;
  auto names = fs_->list_dir(dir);
  if (!names.ok()) return names.code() == ErrorCode::kNotFound ? Status() : names.status();
  for (const auto& n : *names) FRESHET_RETURN_IF_ERROR(fs_->remove(dir + "/" + n));
  std::error_code ec;
  std::filesystem::remove(dir, ec);
  if (ec) return Error(ErrorCode::kIoError, "remove " + dir + ": " + ec.message());
  return fs_->sync_dir(root_);
}

void LogStore::close() { committer_->stop(); }

}  // namespace freshet::log

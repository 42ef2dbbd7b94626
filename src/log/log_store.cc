#include "freshet/log/log_store.h"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>

#include "disk_log.h"
#include "group_committer.h"
#include "wal_format.h"

namespace freshet::log {

namespace {
std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
}
}  // namespace

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
                                                 std::shared_ptr<FileSystem> fs,
                                                 const LogStoreOptions& options) {
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs, root));
  std::unique_ptr<LogStore> store(new LogStore(root, std::move(fs)));
  // '@' cannot appear in a log name, so no log directory can collide with the WAL.
  const std::string wal_path = root + "/@wal";
  const bool existed = store->fs_->exists(wal_path);
  uint64_t generation = 0;
  if (existed) {
    FRESHET_ASSIGN_OR_RETURN(generation, store->replay_wal(wal_path));
  }
  if (options.wal) {
    FRESHET_ASSIGN_OR_RETURN(auto file, store->fs_->open(wal_path, OpenMode::kCreate));
    std::shared_ptr<File> wal(std::move(file));
    // Everything the WAL held is in the logs and synced now: start the next generation.
    const std::string header = wal::encode_header(generation + 1);
    FRESHET_RETURN_IF_ERROR(wal->write_at(header.data(), header.size(), 0));
    FRESHET_RETURN_IF_ERROR(wal->sync());
    if (!existed) FRESHET_RETURN_IF_ERROR(store->fs_->sync_dir(root));
    store->committer_->enable_wal(std::move(wal), generation + 1, options.wal_checkpoint_bytes,
                                  options.wal_max_entry_bytes);
  } else if (existed) {
    FRESHET_RETURN_IF_ERROR(store->fs_->remove(wal_path));
    FRESHET_RETURN_IF_ERROR(store->fs_->sync_dir(root));
  }
  store->committer_->start();
  return store;
}

// Applies every intact entry of the WAL's current generation to its log: a batch the log
// lacks (its tail was not synced before a crash) is written back byte for byte; one it has
// is skipped. Then the logs that changed are synced. Entries of logs that were removed are
// skipped. Returns the generation found (0 when the header is not intact: a crash while a
// checkpoint wrote it, after every entry had been synced into its log, or a new file).
Result<uint64_t> LogStore::replay_wal(const std::string& path) {
  FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(path, OpenMode::kReadOnly));
  std::string header(wal::kHeaderBytes, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got, file->read_at(header.data(), header.size(), 0));
  std::optional<uint64_t> generation = wal::decode_header(header.data(), got);
  if (!generation) {
    if (got != 0) {
      spdlog::warn(
          "write-ahead log: header is not intact; nothing to replay (a checkpoint "
          "writes it only after every entry is in its log)");
    }
    return uint64_t{0};
  }
  std::map<std::string, std::shared_ptr<DiskLog>, std::less<>> logs;
  std::set<std::string, std::less<>> broken;
  wal::Reader reader(*file, *generation);
  while (true) {
    FRESHET_ASSIGN_OR_RETURN(std::optional<wal::Entry> next, reader.next());
    if (!next) break;
    const wal::Entry& e = *next;
    ++recovery_.entries;
    const std::string name(e.name);
    if (broken.count(name) != 0) {
      ++recovery_.failed;
      continue;
    }
    if (!valid_log_name(name) || !fs_->exists(root_ + "/" + name)) {
      ++recovery_.skipped;
      continue;
    }
    auto it = logs.find(name);
    if (it == logs.end()) {
      auto log = DiskLog::open(root_ + "/" + name, LogOptions{}, fs_, nullptr);
      if (!log.ok()) {
        spdlog::error("write-ahead log: cannot open log {} to replay into it: {}", name,
                      log.status().to_string());
        broken.insert(name);
        ++recovery_.failed;
        continue;
      }
      it = logs.emplace(name, std::move(log).value()).first;
    }
    Result<bool> r = it->second->restore_batch(e.batch);
    if (!r.ok()) {
      spdlog::error("write-ahead log: cannot replay into log {}: {}", name, r.status().to_string());
      broken.insert(name);
      ++recovery_.failed;
    } else if (*r) {
      ++recovery_.restored;
    } else {
      ++recovery_.already_present;
    }
  }
  recovery_.end_offset = reader.end_offset();
  for (auto& [name, log] : logs) {
    FRESHET_RETURN_IF_ERROR(log->sync());
    FRESHET_RETURN_IF_ERROR(log->close());
  }
  if (recovery_.restored != 0 || recovery_.failed != 0) {
    spdlog::info(
        "write-ahead log: {} entries of generation {}, {} batches restored, {} already "
        "present, {} of removed logs, {} failed",
        recovery_.entries, *generation, recovery_.restored, recovery_.already_present,
        recovery_.skipped, recovery_.failed);
  }
  return *generation;
}

Result<std::shared_ptr<Log>> LogStore::open_log(const std::string& name,
                                                const LogOptions& options) {
  if (!valid_log_name(name)) return Error(ErrorCode::kInvalidArgument, "bad log name: " + name);
  FRESHET_ASSIGN_OR_RETURN(auto log,
                           DiskLog::open(root_ + "/" + name, options, fs_, committer_.get(), name));
  return std::shared_ptr<Log>(std::move(log));
}

uint64_t LogStore::wal_bytes() const { return committer_->wal_bytes(); }
uint64_t LogStore::wal_checkpoints() const { return committer_->checkpoints(); }

bool LogStore::log_exists(const std::string& name) {
  return valid_log_name(name) && fs_->exists(root_ + "/" + name);
}

Status LogStore::remove_log(const std::string& name) {
  if (!valid_log_name(name)) return Error(ErrorCode::kInvalidArgument, "bad log name: " + name);
  // The WAL may still hold entries of this log: empty it first, so that they can never be
  // replayed into a new log of the same name.
  committer_->checkpoint_now();
  const std::string dir = root_ + "/" + name;
  auto names = fs_->list_dir(dir);
  if (!names.ok()) return names.code() == ErrorCode::kNotFound ? Status() : names.status();
  for (const auto& n : *names) FRESHET_RETURN_IF_ERROR(fs_->remove(dir + "/" + n));
  FRESHET_RETURN_IF_ERROR(fs_->remove_dir(dir));
  return fs_->sync_dir(parent_dir(dir));
}

void LogStore::close() { committer_->stop(); }

}  // namespace freshet::log

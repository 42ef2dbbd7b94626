#include "freshet/log/log_store.h"

#include "freshet/common/logging.h"

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

LogStore::LogStore(std::string root, std::shared_ptr<FileSystem> fs,
                   const LogStoreOptions& options)
    : root_(std::move(root)),
      fs_(std::move(fs)),
      committer_(std::make_unique<GroupCommitter>(
          3, GroupCommitter::Observer{options.on_fsync, options.on_round})) {}

LogStore::~LogStore() { close(); }

Result<std::unique_ptr<LogStore>> LogStore::open(const std::string& root,
                                                 std::shared_ptr<FileSystem> fs,
                                                 const LogStoreOptions& options) {
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs, root));
  std::unique_ptr<LogStore> store(new LogStore(root, std::move(fs), options));
  // '@' cannot appear in a log name, so no log directory can collide with the WAL.
  const std::string wal_path = root + "/@wal";
  const bool existed = store->fs_->exists(wal_path);
  uint64_t generation = 0;
  if (existed) {
    // Any failure here returns before the WAL is touched: a later start can try again.
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

// Finds the generation to replay. An intact header names it. A damaged one (damage, not a
// crash: the header's bytes sit in one sector and are rewritten only by a checkpoint, after
// every entry is in its log) is recovered from the first entry: each generation writes its
// entries from byte 4096 on, so the entry there belongs to the newest generation that wrote
// any, and replaying it again is harmless. A file no longer than the header block never held
// an entry (a crash while the WAL was being created). Anything else fails loudly rather than
// guess: a generation must never be reused over entries it could not read.
Result<uint64_t> LogStore::replay_wal(const std::string& path) {
  FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(path, OpenMode::kReadOnly));
  std::string header(wal::kHeaderBytes + wal::kEntryHeaderBytes, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got, file->read_at(header.data(), header.size(), 0));
  std::optional<uint64_t> generation = wal::decode_header(header.data(), got);
  if (!generation) {
    FRESHET_ASSIGN_OR_RETURN(uint64_t size, file->size());
    if (size <= wal::kHeaderBytes) {
      if (got != 0) logging::warn("write-ahead log: header not intact in a file with no entries");
      return uint64_t{0};
    }
    const char* first = header.data() + wal::kHeaderBytes;
    std::optional<uint64_t> found;
    if (got >= header.size() && wal::get_u32(first) == wal::kEntryMagic) {
      const uint64_t g = wal::get_u64(first + 8);
      const uint64_t total = wal::kEntryHeaderBytes + uint64_t{wal::get_u32(first + 16)} +
                             wal::get_u32(first + 20);
      if (total <= wal::kMaxBatchBytes + wal::kMaxNameBytes + wal::kEntryHeaderBytes &&
          wal::kHeaderBytes + total <= size) {
        std::string entry(static_cast<size_t>(total), '\0');
        FRESHET_ASSIGN_OR_RETURN(size_t n, file->read_at(entry.data(), entry.size(),
                                                         wal::kHeaderBytes));
        wal::Entry e;
        if (wal::parse_entry(entry.data(), n, g, &e) != 0) found = g;
      }
    }
    if (!found) {
      return Error(ErrorCode::kCorruption,
                   "write-ahead log " + path +
                       ": the header is damaged and no intact entry follows it, so the "
                       "generation to replay is unknown; refusing to start (move the file "
                       "aside to start without it, after checking the logs)");
    }
    logging::error("write-ahead log: the header is damaged; recovered generation {} from the entries",
                  *found);
    recovery_.header_recovered = true;
    generation = found;
  }
  std::map<std::string, std::shared_ptr<DiskLog>, std::less<>> logs;
  FRESHET_RETURN_IF_ERROR(apply_wal(*file, *generation, {}, &logs, &recovery_));
  for (auto& [name, log] : logs) {
    FRESHET_RETURN_IF_ERROR(log->sync());
    FRESHET_RETURN_IF_ERROR(log->close());
  }
  if (recovery_.restored != 0 || recovery_.gaps != 0) {
    logging::info(
        "write-ahead log: {} entries of generation {}, {} batches restored, {} already "
        "present, {} after a gap",
        recovery_.entries, *generation, recovery_.restored, recovery_.already_present,
        recovery_.gaps);
  }
  return *generation;
}

Status LogStore::apply_wal(File& file, uint64_t generation, const std::string& only_log,
                           std::map<std::string, std::shared_ptr<DiskLog>, std::less<>>* logs,
                           WalRecovery* rec) {
  std::set<std::string, std::less<>> gapped;
  wal::Reader reader(file, generation);
  while (true) {
    FRESHET_ASSIGN_OR_RETURN(std::optional<wal::Entry> next, reader.next());
    if (!next) break;
    const wal::Entry& e = *next;
    if (!only_log.empty() && e.name != only_log) continue;
    ++rec->entries;
    const std::string name(e.name);
    if (gapped.count(name) != 0) {
      ++rec->gaps;
      continue;
    }
    if (!valid_log_name(name)) {
      return Error(ErrorCode::kCorruption, "write-ahead log: an intact entry names no valid log");
    }
    auto it = logs->find(name);
    if (it == logs->end()) {
      if (!fs_->exists(root_ + "/" + name)) {
        return Error(ErrorCode::kCorruption,
                     "write-ahead log: an entry of the current generation names log " + name +
                         ", which does not exist (logs are removed only after a checkpoint "
                         "made their entries stale); refusing to start");
      }
      auto log = DiskLog::open(root_ + "/" + name, LogOptions{}, fs_, nullptr);
      if (!log.ok()) {
        return Error(log.code(), "write-ahead log: cannot open log " + name +
                                     " to replay into it: " + log.error().message());
      }
      it = logs->emplace(name, std::move(log).value()).first;
    }
    Result<bool> r = it->second->restore_batch(e.batch);
    if (!r.ok() && r.code() == ErrorCode::kOutOfRange) {
      logging::warn("write-ahead log: {}; this entry and the later ones of the log were never "
                   "acknowledged (their round also synced a batch that is gone) and are skipped",
                   r.error().message());
      gapped.insert(name);
      ++rec->gaps;
    } else if (!r.ok()) {
      return Error(r.code(), "write-ahead log: cannot replay into log " + name + ": " +
                                 r.error().message());
    } else if (*r) {
      ++rec->restored;
    } else {
      ++rec->already_present;
    }
  }
  rec->end_offset = reader.end_offset();
  return {};
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
  // The WAL may still hold entries of this log: make them stale first, so that they can
  // never be replayed (replay treats an entry of a missing log as damage).
  if (Status c = committer_->checkpoint_now(); !c.ok()) {
    return Error(c.code(), "cannot remove log " + name + ": " + c.error().message());
  }
  const std::string dir = root_ + "/" + name;
  auto names = fs_->list_dir(dir);
  if (!names.ok()) return names.code() == ErrorCode::kNotFound ? Status() : names.status();
  for (const auto& n : *names) FRESHET_RETURN_IF_ERROR(fs_->remove(dir + "/" + n));
  FRESHET_RETURN_IF_ERROR(fs_->remove_dir(dir));
  return fs_->sync_dir(parent_dir(dir));
}

Result<std::shared_ptr<Log>> LogStore::reopen_log(const std::string& name,
                                                  const LogOptions& options) {
  if (!valid_log_name(name)) return Error(ErrorCode::kInvalidArgument, "bad log name: " + name);
  const std::string dir = root_ + "/" + name;
  {
    // Recovery re-reads the files; the WAL's entries of this log go back in, then all is
    // synced. Only then may the committer drop the failed files from its checkpoint list.
    FRESHET_ASSIGN_OR_RETURN(auto log, DiskLog::open(dir, options, fs_, nullptr));
    const std::string wal_path = root_ + "/@wal";
    if (fs_->exists(wal_path)) {
      FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(wal_path, OpenMode::kReadOnly));
      std::string header(wal::kHeaderBytes, '\0');
      FRESHET_ASSIGN_OR_RETURN(size_t got, file->read_at(header.data(), header.size(), 0));
      if (auto generation = wal::decode_header(header.data(), got)) {
        std::map<std::string, std::shared_ptr<DiskLog>, std::less<>> logs{{name, log}};
        WalRecovery rec;
        FRESHET_RETURN_IF_ERROR(apply_wal(*file, *generation, name, &logs, &rec));
        if (rec.restored != 0) {
          logging::info("log {} reopened: {} batches restored from the write-ahead log", name,
                       rec.restored);
        }
      }
    }
    FRESHET_RETURN_IF_ERROR(log->sync());
    FRESHET_RETURN_IF_ERROR(log->close());
  }
  committer_->forget_files_under(dir + "/");
  return open_log(name, options);
}

Status LogStore::checkpoint_now() { return committer_->checkpoint_now(); }
Status LogStore::health() const { return committer_->health(); }
uint64_t LogStore::wal_checkpoint_failures() const { return committer_->checkpoint_failures(); }
uint64_t LogStore::wal_write_failures() const { return committer_->wal_write_failures(); }

void LogStore::close() { committer_->stop(); }

}  // namespace freshet::log

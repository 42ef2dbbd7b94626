// PowerLossFileSystem: an in-memory FileSystem that knows what a power loss would keep, and
// fails chosen operations. The model for durability tests (after RocksDB's
// FaultInjectionTestFS, but holding whole images so that rewrites in place are modelled too).
//
// What is durable:
//   - a file's bytes and size: the image as of its last File::sync() (fdatasync);
//   - a directory's entries (names -> files and subdirectories): as of its last sync_dir().
//     A new file or directory exists after a power loss only if its parent was synced after
//     it was created; a rename or remove survives only if the directory was synced after it.
// crash() computes the image a power loss leaves (everything not synced dropped, or in the
// kRandomPrefix / kRandomPages modes some of the unsynced bytes kept, as a real disk may) and
// makes every later operation fail with EIO, so that the threads of the process being
// "killed" cannot change that image while they are torn down. restart() makes the file
// system usable again; File objects opened before the crash stay dead.
//
// Faults: fail_nth(op, n, errno) fails the nth matching operation from now (1-based), once;
// fail_from(op, errno) fails every matching operation until clear_faults(). A path filter
// (substring) narrows either. set_space_limit(bytes) makes writes that would grow the total
// size of all files past the limit fail with ENOSPC (a full disk); removing files frees space.
// ignore_syncs(true) makes File::sync() and sync_dir() succeed without making anything
// durable: a disk that lies, used to prove that the durability tests can fail.
//
// Thread-safety: every method may be called from any thread; one mutex guards everything
// (tests, not a fast path).
#pragma once

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "freshet/common/file.h"

namespace freshet::testing {

class PowerLossFileSystem final : public FileSystem,
                                  public std::enable_shared_from_this<PowerLossFileSystem> {
 public:
  enum class Op { kWrite, kSync, kSyncDir, kRename, kOpen, kRemove, kTruncate, kCreateDir };
  enum class Keep { kNothing, kRandomPrefix, kRandomPages };

  static std::shared_ptr<PowerLossFileSystem> make() {
    return std::shared_ptr<PowerLossFileSystem>(new PowerLossFileSystem());
  }

  // ---- power loss ----
  // Drops everything not synced (see Keep) and kills every open file; later calls fail with
  // EIO until restart().
  void crash(Keep keep = Keep::kNothing, uint64_t seed = 0) {
    std::lock_guard lock(mu_);
    std::mt19937_64 rng(seed);
    std::set<const Node*> seen;
    // One coin for unsynced directory changes: a journalling file system commits metadata in
    // order, so either they all made it into the journal's last transaction or none did.
    const bool keep_meta = keep != Keep::kNothing && (rng() & 1) != 0;
    restore(*root_, keep, keep_meta, rng, seen);
    ++epoch_;
    dead_ = true;
    used_ = count_bytes(*root_);
  }
  void restart() {
    std::lock_guard lock(mu_);
    dead_ = false;
  }
  void power_loss(Keep keep = Keep::kNothing, uint64_t seed = 0) {
    crash(keep, seed);
    restart();
  }

  // ---- faults ----
  void fail_nth(Op op, uint64_t n, int err, std::string path_filter = {}) {
    std::lock_guard lock(mu_);
    rules_.push_back(Rule{op, n, err, std::move(path_filter), false});
  }
  void fail_from(Op op, int err, std::string path_filter = {}) {
    std::lock_guard lock(mu_);
    rules_.push_back(Rule{op, 1, err, std::move(path_filter), true});
  }
  void clear_faults() {
    std::lock_guard lock(mu_);
    rules_.clear();
  }
  void set_space_limit(uint64_t bytes) {
    std::lock_guard lock(mu_);
    space_limit_ = bytes;
  }
  void ignore_syncs(bool on) {
    std::lock_guard lock(mu_);
    ignore_syncs_ = on;
  }
  uint64_t used_bytes() const {
    std::lock_guard lock(mu_);
    return used_;
  }
  uint64_t injected_failures() const {
    std::lock_guard lock(mu_);
    return injected_;
  }
  uint64_t syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }

  // ---- FileSystem ----
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kOpen, path, "open"));
    FRESHET_ASSIGN_OR_RETURN(auto parent, parent_dir_locked(path));
    const std::string name = base_name(path);
    auto it = parent->entries.find(name);
    std::shared_ptr<Node> node;
    if (it != parent->entries.end()) {
      node = it->second;
      if (node->dir) return errno_error(EISDIR, "open " + path);
    } else {
      if (mode != OpenMode::kCreate) return Error(ErrorCode::kNotFound, "no such file: " + path);
      node = std::make_shared<Node>();
      parent->entries[name] = node;
    }
    return std::unique_ptr<File>(new SimFile(shared_from_this(), node, path, epoch_));
  }

  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kOpen, path, "open"));
    FRESHET_ASSIGN_OR_RETURN(auto node, lookup_locked(path));
    if (node->dir) return errno_error(EISDIR, "open " + path);
    return std::unique_ptr<MappedFile>(new SimMapped(node->data));
  }

  Status remove(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kRemove, path, "unlink"));
    auto parent = parent_dir_locked(path);
    if (!parent.ok()) return {};
    auto it = (*parent)->entries.find(base_name(path));
    if (it == (*parent)->entries.end()) return {};
    if (it->second->dir) return errno_error(EISDIR, "unlink " + path);
    (*parent)->entries.erase(it);
    used_ = count_bytes(*root_);
    return {};
  }

  Status remove_dir(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kRemove, path, "rmdir"));
    auto parent = parent_dir_locked(path);
    if (!parent.ok()) return {};
    auto it = (*parent)->entries.find(base_name(path));
    if (it == (*parent)->entries.end()) return {};
    if (!it->second->dir) return errno_error(ENOTDIR, "rmdir " + path);
    if (!it->second->entries.empty()) return errno_error(ENOTEMPTY, "rmdir " + path);
    (*parent)->entries.erase(it);
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kRename, from, "rename"));
    FRESHET_ASSIGN_OR_RETURN(auto src_dir, parent_dir_locked(from));
    FRESHET_ASSIGN_OR_RETURN(auto dst_dir, parent_dir_locked(to));
    auto it = src_dir->entries.find(base_name(from));
    if (it == src_dir->entries.end()) return errno_error(ENOENT, "rename " + from);
    std::shared_ptr<Node> node = it->second;
    src_dir->entries.erase(it);
    dst_dir->entries[base_name(to)] = node;
    used_ = count_bytes(*root_);
    return {};
  }

  Status create_dirs(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kCreateDir, path, "mkdir"));
    Node* cur = root_.get();
    for (const std::string& part : split(path)) {
      auto& slot = cur->entries[part];
      if (!slot) {
        slot = std::make_shared<Node>();
        slot->dir = true;
      } else if (!slot->dir) {
        return errno_error(ENOTDIR, "mkdir " + path);
      }
      cur = slot.get();
    }
    return {};
  }

  Status sync_dir(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kSyncDir, path, "fsync directory"));
    FRESHET_ASSIGN_OR_RETURN(auto node, lookup_locked(path));
    if (!node->dir) return errno_error(ENOTDIR, "fsync directory " + path);
    ++syncs_;
    if (!ignore_syncs_) node->synced_entries = node->entries;
    return {};
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    std::lock_guard lock(mu_);
    FRESHET_RETURN_IF_ERROR(check_locked(Op::kOpen, path, "opendir"));
    auto node = lookup_locked(path);
    if (!node.ok()) return Error(ErrorCode::kNotFound, "no such directory: " + path);
    if (!(*node)->dir) return errno_error(ENOTDIR, "opendir " + path);
    std::vector<std::string> names;
    for (const auto& [name, n] : (*node)->entries) names.push_back(name);
    return names;
  }

  bool exists(const std::string& path) override {
    std::lock_guard lock(mu_);
    return lookup_locked(path).ok();
  }

  // The current (unsynced) bytes of a file, for tests that damage files on purpose.
  Result<std::string> read_all(const std::string& path) {
    std::lock_guard lock(mu_);
    FRESHET_ASSIGN_OR_RETURN(auto node, lookup_locked(path));
    return node->data;
  }
  // Overwrites bytes of a file and marks them durable (damage that survives a restart).
  Status corrupt(const std::string& path, uint64_t offset, std::string_view bytes) {
    std::lock_guard lock(mu_);
    FRESHET_ASSIGN_OR_RETURN(auto node, lookup_locked(path));
    if (offset + bytes.size() > node->data.size()) node->data.resize(offset + bytes.size());
    std::memcpy(node->data.data() + offset, bytes.data(), bytes.size());
    node->synced = node->data;
    return {};
  }

 private:
  struct Node {
    bool dir = false;
    std::string data;    // files: current image
    std::string synced;  // files: image as of the last sync
    std::map<std::string, std::shared_ptr<Node>> entries;         // dirs: current
    std::map<std::string, std::shared_ptr<Node>> synced_entries;  // dirs: as of sync_dir
  };
  struct Rule {
    Op op;
    uint64_t countdown;  // fails when it reaches 1 (then removed unless sticky)
    int err;
    std::string filter;
    bool sticky;
  };

  class SimFile final : public File {
   public:
    SimFile(std::shared_ptr<PowerLossFileSystem> fs, std::shared_ptr<Node> node, std::string path,
            uint64_t epoch)
        : fs_(std::move(fs)), node_(std::move(node)), path_(std::move(path)), epoch_(epoch) {}
    Status write_at(const void* data, size_t n, uint64_t offset) override {
      std::lock_guard lock(fs_->mu_);
      FRESHET_RETURN_IF_ERROR(live_locked());
      FRESHET_RETURN_IF_ERROR(fs_->check_locked(Op::kWrite, path_, "pwrite"));
      const uint64_t end = offset + n;
      if (end > node_->data.size()) {
        const uint64_t grow = end - node_->data.size();
        if (fs_->used_ + grow > fs_->space_limit_) return errno_error(ENOSPC, "pwrite " + path_);
        node_->data.resize(end);
        fs_->used_ += grow;
      }
      std::memcpy(node_->data.data() + offset, data, n);
      return {};
    }
    Result<size_t> read_at(void* data, size_t n, uint64_t offset) const override {
      std::lock_guard lock(fs_->mu_);
      FRESHET_RETURN_IF_ERROR(live_locked());
      if (offset >= node_->data.size()) return size_t{0};
      const size_t got = std::min<size_t>(n, node_->data.size() - offset);
      std::memcpy(data, node_->data.data() + offset, got);
      return got;
    }
    Status sync() override {
      std::lock_guard lock(fs_->mu_);
      FRESHET_RETURN_IF_ERROR(live_locked());
      FRESHET_RETURN_IF_ERROR(fs_->check_locked(Op::kSync, path_, "fdatasync"));
      ++fs_->syncs_;
      if (!fs_->ignore_syncs_) node_->synced = node_->data;
      return {};
    }
    Status truncate(uint64_t size) override {
      std::lock_guard lock(fs_->mu_);
      FRESHET_RETURN_IF_ERROR(live_locked());
      FRESHET_RETURN_IF_ERROR(fs_->check_locked(Op::kTruncate, path_, "ftruncate"));
      if (size > node_->data.size() && fs_->used_ + (size - node_->data.size()) > fs_->space_limit_) {
        return errno_error(ENOSPC, "ftruncate " + path_);
      }
      fs_->used_ = fs_->used_ - node_->data.size() + size;
      node_->data.resize(size);
      return {};
    }
    Result<uint64_t> size() const override {
      std::lock_guard lock(fs_->mu_);
      FRESHET_RETURN_IF_ERROR(live_locked());
      return static_cast<uint64_t>(node_->data.size());
    }
    const std::string& path() const override { return path_; }

   private:
    Status live_locked() const {
      if (fs_->dead_ || epoch_ != fs_->epoch_) return errno_error(EIO, "file lost: " + path_);
      return {};
    }
    std::shared_ptr<PowerLossFileSystem> fs_;
    std::shared_ptr<Node> node_;
    std::string path_;
    uint64_t epoch_;
  };

  class SimMapped final : public MappedFile {
   public:
    explicit SimMapped(std::string bytes) : bytes_(std::move(bytes)) {}
    const uint8_t* data() const override {
      return reinterpret_cast<const uint8_t*>(bytes_.data());
    }
    size_t size() const override { return bytes_.size(); }

   private:
    std::string bytes_;
  };

  PowerLossFileSystem() : root_(std::make_shared<Node>()) {
    root_->dir = true;
  }

  static std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      std::string part = path.substr(start, end - start);
      if (!part.empty() && part != ".") parts.push_back(std::move(part));
      start = end + 1;
    }
    return parts;
  }
  static std::string base_name(const std::string& path) {
    auto parts = split(path);
    return parts.empty() ? std::string() : parts.back();
  }

  Result<std::shared_ptr<Node>> lookup_locked(const std::string& path) const {
    std::shared_ptr<Node> cur = root_;
    for (const std::string& part : split(path)) {
      if (!cur->dir) return Error(ErrorCode::kNotFound, "not a directory on the way: " + path);
      auto it = cur->entries.find(part);
      if (it == cur->entries.end()) return Error(ErrorCode::kNotFound, "no such file: " + path);
      cur = it->second;
    }
    return cur;
  }
  Result<std::shared_ptr<Node>> parent_dir_locked(const std::string& path) const {
    auto parts = split(path);
    if (parts.empty()) return errno_error(EINVAL, "bad path " + path);
    std::shared_ptr<Node> cur = root_;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = cur->entries.find(parts[i]);
      if (it == cur->entries.end() || !it->second->dir) {
        return Error(ErrorCode::kNotFound, "no such directory for " + path);
      }
      cur = it->second;
    }
    return cur;
  }

  Status check_locked(Op op, const std::string& path, const char* what) {
    if (dead_) return errno_error(EIO, std::string(what) + " " + path + " (powered off)");
    for (size_t i = 0; i < rules_.size(); ++i) {
      Rule& r = rules_[i];
      if (r.op != op) continue;
      if (!r.filter.empty() && path.find(r.filter) == std::string::npos) continue;
      if (r.countdown > 1) {
        --r.countdown;
        continue;
      }
      const int err = r.err;
      if (!r.sticky) rules_.erase(rules_.begin() + static_cast<std::ptrdiff_t>(i));
      ++injected_;
      return errno_error(err, std::string(what) + " " + path + " (injected)");
    }
    return {};
  }

  static uint64_t count_bytes(const Node& n) {
    uint64_t total = 0;
    std::set<const Node*> seen;
    std::vector<const Node*> todo{&n};
    while (!todo.empty()) {
      const Node* cur = todo.back();
      todo.pop_back();
      if (!seen.insert(cur).second) continue;
      total += cur->data.size();
      for (const auto& [name, child] : cur->entries) todo.push_back(child.get());
    }
    return total;
  }

  // Rebuilds a directory as a power loss leaves it. REQUIRES: mu_ held.
  static void restore(Node& dir, Keep keep, bool keep_meta, std::mt19937_64& rng,
                      std::set<const Node*>& seen) {
    if (!keep_meta) dir.entries = dir.synced_entries;
    dir.synced_entries = dir.entries;
    for (auto& [name, child] : dir.entries) {
      if (!seen.insert(child.get()).second) continue;
      if (child->dir) {
        restore(*child, keep, keep_meta, rng, seen);
      } else {
        child->data = lost_image(child->synced, child->data, keep, rng);
        child->synced = child->data;
      }
    }
  }

  // The bytes of a file after a power loss: the synced image, plus in the random modes some
  // 4 KiB pages of what was written since, up to a size between the two images' sizes.
  static std::string lost_image(const std::string& synced, const std::string& current, Keep keep,
                                std::mt19937_64& rng) {
    if (keep == Keep::kNothing || synced == current) return synced;
    constexpr size_t kPage = 4096;
    const size_t lo = std::min(synced.size(), current.size());
    const size_t hi = std::max(synced.size(), current.size());
    const size_t size = lo + (hi > lo ? rng() % (hi - lo + 1) : 0);
    std::string out(size, '\0');
    std::memcpy(out.data(), synced.data(), std::min(size, synced.size()));
    const size_t pages = (size + kPage - 1) / kPage;
    const size_t cut = pages == 0 ? 0 : rng() % (pages + 1);  // kRandomPrefix: pages before it
    for (size_t p = 0; p < pages; ++p) {
      const bool take = keep == Keep::kRandomPrefix ? p < cut : (rng() & 1) != 0;
      if (!take) continue;
      const size_t from = p * kPage;
      const size_t to = std::min(size, from + kPage);
      if (from >= current.size()) continue;
      std::memcpy(out.data() + from, current.data() + from, std::min(to, current.size()) - from);
    }
    return out;
  }

  mutable std::mutex mu_;
  std::shared_ptr<Node> root_;
  uint64_t epoch_ = 1;
  bool dead_ = false;
  bool ignore_syncs_ = false;
  uint64_t space_limit_ = UINT64_MAX;
  uint64_t used_ = 0;
  uint64_t injected_ = 0;
  uint64_t syncs_ = 0;
  std::vector<Rule> rules_;
};

}  // namespace freshet::testing

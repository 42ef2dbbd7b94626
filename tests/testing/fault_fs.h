// A FileSystem wrapper that injects faults: ENOSPC after a byte budget, EIO on fsync, and
// short (torn) writes. Thread-safe.
#pragma once

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

#include "freshet/common/file.h"

namespace freshet::testing {

struct Faults {
  std::atomic<int64_t> write_budget{-1};  // bytes writable before ENOSPC; -1 = unlimited
  std::atomic<bool> fail_sync{false};     // fdatasync returns EIO
  std::atomic<bool> fail_rename{false};   // rename returns EIO (an atomic replace fails)
  std::atomic<int> syncs{0};
  std::atomic<int> write_errors{0};
};

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}
  Status write_at(const void* data, size_t n, uint64_t offset) override {
    int64_t budget = faults_->write_budget.load();
    if (budget >= 0) {
      if (static_cast<int64_t>(n) > budget) {
        // Write what fits (a torn write), then fail like a full disk does.
        if (budget > 0) (void)inner_->write_at(data, static_cast<size_t>(budget), offset);
        faults_->write_budget.store(0);
        faults_->write_errors++;
        return errno_error(ENOSPC, "pwrite " + inner_->path());
      }
      faults_->write_budget.fetch_sub(static_cast<int64_t>(n));
    }
    return inner_->write_at(data, n, offset);
  }
  Result<size_t> read_at(void* data, size_t n, uint64_t offset) const override {
    return inner_->read_at(data, n, offset);
  }
  Status sync() override {
    faults_->syncs++;
    if (faults_->fail_sync.load()) return errno_error(EIO, "fdatasync " + inner_->path());
    return inner_->sync();
  }
  Status start_writeback() override { return inner_->start_writeback(); }
  Status truncate(uint64_t size) override { return inner_->truncate(size); }
  Result<uint64_t> size() const override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  std::unique_ptr<File> inner_;
  std::shared_ptr<Faults> faults_;
};

class FaultFileSystem final : public FileSystem {
 public:
  explicit FaultFileSystem(std::shared_ptr<FileSystem> inner)
      : inner_(std::move(inner)), faults_(std::make_shared<Faults>()) {}
  Faults& faults() { return *faults_; }

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    FRESHET_ASSIGN_OR_RETURN(auto f, inner_->open(path, mode));
    return std::unique_ptr<File>(new FaultFile(std::move(f), faults_));
  }
  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    return inner_->map_readonly(path);
  }
  Status remove(const std::string& path) override { return inner_->remove(path); }
  Status remove_dir(const std::string& path) override { return inner_->remove_dir(path); }
  Status rename(const std::string& a, const std::string& b) override {
    if (faults_->fail_rename.load()) return errno_error(EIO, "rename " + a);
    return inner_->rename(a, b);
  }
  Status create_dirs(const std::string& path) override { return inner_->create_dirs(path); }
  Status sync_dir(const std::string& path) override {
    if (faults_->fail_sync.load()) return errno_error(EIO, "fsync directory " + path);
    return inner_->sync_dir(path);
  }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }
  bool exists(const std::string& path) override { return inner_->exists(path); }

 private:
  std::shared_ptr<FileSystem> inner_;
  std::shared_ptr<Faults> faults_;
};

}  // namespace freshet::testing

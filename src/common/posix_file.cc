#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "freshet/common/file.h"

namespace freshet {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status write_at(const void* data, size_t n, uint64_t offset) override {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno_error(errno, "pwrite " + path_);
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return {};
  }

  Result<size_t> read_at(void* data, size_t n, uint64_t offset) const override {
    auto* p = static_cast<char*>(data);
    size_t total = 0;
    while (total < n) {
      ssize_t r = ::pread(fd_, p + total, n - total, static_cast<off_t>(offset + total));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_error(errno, "pread " + path_);
      }
      if (r == 0) break;
      total += static_cast<size_t>(r);
    }
    return total;
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return errno_error(errno, "fdatasync " + path_);
    return {};
  }

  Status start_writeback() override {
    if (::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
      return errno_error(errno, "sync_file_range " + path_);
    }
    return {};
  }

  void will_need(uint64_t offset, size_t n) const override {
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n),
                          POSIX_FADV_WILLNEED);
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return errno_error(errno, "ftruncate " + path_);
    }
    return {};
  }

  Result<uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_error(errno, "fstat " + path_);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~PosixMappedFile() override {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  PosixMappedFile(const PosixMappedFile&) = delete;
  PosixMappedFile& operator=(const PosixMappedFile&) = delete;
  const uint8_t* data() const override { return static_cast<const uint8_t*>(addr_); }
  size_t size() const override { return size_; }
  void release_pages() const override {
    // A shared, read-only file mapping: the pages stay in the page cache, only this
    // process's references go. Advice only; a failure changes nothing.
    if (addr_ != nullptr) (void)::madvise(addr_, size_, MADV_DONTNEED);
  }

 private:
  void* addr_;
  size_t size_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      if (errno == ENOENT) return Error(ErrorCode::kNotFound, "no such file: " + path);
      return errno_error(errno, "open " + path);
    }
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Error(ErrorCode::kNotFound, "no such file: " + path);
      return errno_error(errno, "open " + path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return errno_error(err, "fstat " + path);
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* addr = nullptr;
    if (size > 0) {
      addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (addr == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return errno_error(err, "mmap " + path);
      }
    }
    ::close(fd);
    return std::unique_ptr<MappedFile>(new PosixMappedFile(addr, size));
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error(errno, "unlink " + path);
    return {};
  }

  Status remove_dir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return errno_error(errno, "rmdir " + path);
    return {};
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_error(errno, "rename " + from + " to " + to);
    }
    return {};
  }

  Status create_dirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error(ErrorCode::kIoError, "create directories " + path + ": " + ec.message());
    return {};
  }

  Status sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "open directory " + path);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_error(err, "fsync directory " + path);
    return {};
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return Error(ErrorCode::kNotFound, "no such directory: " + path);
      return errno_error(errno, "opendir " + path);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
  }

  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
};

}  // namespace

Status create_dirs_durably(FileSystem& fs, const std::string& path) {
  // Walk down from the first component, creating what is missing; each creation is made
  // durable by syncing the parent before the next level is created under it.
  std::vector<std::string> prefixes;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') prefixes.push_back(path.substr(0, i));
  }
  std::string parent = path.empty() || path[0] != '/' ? "." : "/";
  for (const std::string& dir : prefixes) {
    if (dir.empty() || dir == "/" || dir.back() == '/') continue;
    if (!fs.exists(dir)) {
      FRESHET_RETURN_IF_ERROR(fs.create_dirs(dir));
      FRESHET_RETURN_IF_ERROR(fs.sync_dir(parent));
    }
    parent = dir;
  }
  return {};
}

Status write_file_atomically(FileSystem& fs, const std::string& dir, const std::string& name,
                             std::string_view bytes) {
  const std::string tmp = dir + "/" + name + ".tmp";
  {
    FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.open(tmp, OpenMode::kCreate));
    FRESHET_RETURN_IF_ERROR(f->truncate(0));
    FRESHET_RETURN_IF_ERROR(f->write_at(bytes.data(), bytes.size(), 0));
    FRESHET_RETURN_IF_ERROR(f->sync());
  }
  FRESHET_RETURN_IF_ERROR(fs.rename(tmp, dir + "/" + name));
  return fs.sync_dir(dir);
}

Result<std::string> read_whole_file(FileSystem& fs, const std::string& path, uint64_t max_bytes) {
  FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.open(path, OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, f->size());
  if (size > max_bytes) {
    return Error(ErrorCode::kCorruption, path + " is implausibly large (" + std::to_string(size) +
                                             " bytes)");
  }
  std::string out(size, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got, f->read_at(out.data(), size, 0));
  out.resize(got);
  return out;
}

std::shared_ptr<FileSystem> posix_file_system() { return std::make_shared<PosixFileSystem>(); }

}  // namespace freshet

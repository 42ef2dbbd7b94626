// A thin file-system interface over POSIX, so storage code can be tested against injected
// faults (ENOSPC, EIO on fsync, torn writes) without touching a real disk's failure modes.
//
// Thread-safety: a File may be used from several threads at once for positional reads and
// writes at disjoint ranges (as pread/pwrite allow); FileSystem methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "freshet/common/result.h"

namespace freshet {

class File {
 public:
  virtual ~File() = default;
  // Writes all n bytes at `offset`, retrying short writes. On error, some bytes may be written.
  virtual Status write_at(const void* data, size_t n, uint64_t offset) = 0;
  // Reads up to n bytes at `offset`; returns the count read (less than n only at end of file).
  virtual Result<size_t> read_at(void* data, size_t n, uint64_t offset) const = 0;
  // fdatasync: data and the metadata needed to read it back are durable.
  virtual Status sync() = 0;
  // Starts writing the file's dirty pages back without waiting and without making anything
  // durable (sync_file_range SYNC_FILE_RANGE_WRITE), so that a later sync() has less to do.
  virtual Status start_writeback() { return {}; }
  // A hint that [offset, offset + n) will be read soon (posix_fadvise WILLNEED): the kernel
  // starts reading it in the background, so that scattered reads announced together overlap
  // on the disk instead of waiting one after another. No effect on what reads return.
  virtual void will_need(uint64_t /*offset*/, size_t /*n*/) const {}
  virtual Status truncate(uint64_t size) = 0;
  virtual Result<uint64_t> size() const = 0;
  virtual const std::string& path() const = 0;
};

// Read-only memory map of a whole file. Pages are file-backed and reclaimable.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  // Drops this process's mapping of the pages read so far; a later access reads them again
  // (from the page cache). Keeps resident memory from growing with every file verified once.
  virtual void release_pages() const {}
};

enum class OpenMode { kReadOnly, kReadWrite, kCreate /* read-write, created if missing */ };

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  virtual Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Removes an empty directory (no error if it does not exist).
  virtual Status remove_dir(const std::string& path) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status create_dirs(const std::string& path) = 0;
  // fsyncs a directory so that entries created, renamed or removed in it are durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory.
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// Creates `path` and any missing parents, and makes each new directory's entry durable by
// fsyncing its parent (a directory created but not synced can vanish in a power loss with
// everything later written into it). Existing directories are left as they are.
Status create_dirs_durably(FileSystem& fs, const std::string& path);

// Replaces dir/name atomically and durably: writes dir/name.tmp, fsyncs it, renames it over
// dir/name and fsyncs dir. After a crash at any point dir/name holds the old or the new bytes.
Status write_file_atomically(FileSystem& fs, const std::string& dir, const std::string& name,
                             std::string_view bytes);

// Reads a whole file: kNotFound if it does not exist, kCorruption if it is larger than
// max_bytes (a bound, so a damaged size never becomes a huge allocation).
Result<std::string> read_whole_file(FileSystem& fs, const std::string& path,
                                    uint64_t max_bytes = uint64_t{256} << 20);

// The real file system. Stateless; one instance may be shared by everything in a process.
std::shared_ptr<FileSystem> posix_file_system();

}  // namespace freshet

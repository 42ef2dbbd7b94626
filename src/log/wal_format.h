// The write-ahead log's format (see docs/format.md, "Write-ahead log").
//
// The file is recycled, never truncated: a 4 KiB header block at byte 0 names the current
// generation, and entries of that generation follow from byte 4096. A checkpoint makes every
// entry durable in its log, then writes the next generation into the header; later entries
// overwrite the old ones, and replay stops at the first entry that is not intact or not of the
// header's generation, so stale bytes of an older generation are never replayed.
//
//   header: u32 magic "FWLH" | u32 CRC32C of bytes 8..24 | u64 generation | u32 version (1)
//           | u32 reserved (0) | zeros up to 4096
//   entry:  u32 magic "FWAL" | u32 CRC32C of everything after it | u64 generation
//           | u32 name length | u32 batch length | name (the log's name in its LogStore)
//           | batch (the exact bytes written to the segment, 64-byte batch header included)
//
// Little-endian. Entries follow each other with no padding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "freshet/common/crc32c.h"
#include "freshet/common/file.h"
#include "freshet/common/result.h"

namespace freshet::log::wal {

inline constexpr uint32_t kHeaderMagic = 0x484C5746;  // "FWLH"
inline constexpr uint32_t kEntryMagic = 0x4C415746;   // "FWAL"
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 4096;  // entries start here
inline constexpr size_t kEntryHeaderBytes = 24;
inline constexpr size_t kMaxNameBytes = 512;           // valid_log_name's limit
inline constexpr size_t kMaxBatchBytes = 64ull << 20;  // far above any configured limit

inline void put_u32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void put_u64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t get_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t get_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::string encode_header(uint64_t generation) {
  std::string h(kHeaderBytes, '\0');
  put_u32(h.data(), kHeaderMagic);
  put_u64(h.data() + 8, generation);
  put_u32(h.data() + 16, kVersion);
  put_u32(h.data() + 4, crc32c::value(h.data() + 8, 16));
  return h;
}

// The generation in a header block, or nothing if it is not an intact version-1 header.
inline std::optional<uint64_t> decode_header(const char* p, size_t avail) {
  if (avail < 24 || get_u32(p) != kHeaderMagic) return std::nullopt;
  if (crc32c::value(p + 8, 16) != get_u32(p + 4) || get_u32(p + 16) != kVersion) {
    return std::nullopt;
  }
  return get_u64(p + 8);
}

// Appends an entry with its generation and CRC left blank; seal_entries fills them in when
// the entries are written (the generation is known only then).
inline void append_entry(std::string_view name, std::string_view batch, std::string* out) {
  const size_t at = out->size();
  out->resize(at + kEntryHeaderBytes + name.size() + batch.size());
  char* p = out->data() + at;
  put_u32(p, kEntryMagic);
  put_u32(p + 4, 0);
  put_u64(p + 8, 0);
  put_u32(p + 16, static_cast<uint32_t>(name.size()));
  put_u32(p + 20, static_cast<uint32_t>(batch.size()));
  std::memcpy(p + kEntryHeaderBytes, name.data(), name.size());
  std::memcpy(p + kEntryHeaderBytes + name.size(), batch.data(), batch.size());
}

// Sets the generation and CRC of every entry in [data, data+n) (made by append_entry).
inline void seal_entries(char* data, size_t n, uint64_t generation) {
  size_t pos = 0;
  while (pos + kEntryHeaderBytes <= n) {
    char* p = data + pos;
    const size_t total = kEntryHeaderBytes + get_u32(p + 16) + get_u32(p + 20);
    put_u64(p + 8, generation);
    put_u32(p + 4, crc32c::value(p + 8, total - 8));
    pos += total;
  }
}

struct Entry {
  std::string_view name;
  std::string_view batch;
};

// Parses the entry at `data` (avail bytes). Returns its size, or 0 when there is no whole,
// intact entry of `generation` there.
inline size_t parse_entry(const char* data, size_t avail, uint64_t generation, Entry* out) {
  if (avail < kEntryHeaderBytes || get_u32(data) != kEntryMagic) return 0;
  if (get_u64(data + 8) != generation) return 0;
  const uint32_t name_len = get_u32(data + 16);
  const uint32_t batch_len = get_u32(data + 20);
  if (name_len == 0 || name_len > kMaxNameBytes || batch_len > kMaxBatchBytes) return 0;
  const size_t total = kEntryHeaderBytes + name_len + batch_len;
  if (total > avail) return 0;
  if (crc32c::value(data + 8, total - 8) != get_u32(data + 4)) return 0;
  out->name = std::string_view(data + kEntryHeaderBytes, name_len);
  out->batch = std::string_view(data + kEntryHeaderBytes + name_len, batch_len);
  return total;
}

// Reads one generation's entries from a WAL file in chunks. The file is recycled, so it is
// usually much longer than the current generation: a store opens by reading only as far as
// that generation's entries go, not the whole file.
class Reader {
 public:
  Reader(File& file, uint64_t generation) : file_(file), generation_(generation) {}

  // The next intact entry of the generation, or nothing at its end (a torn, damaged or stale
  // entry, or the end of the file). The views stay valid until the next call.
  Result<std::optional<Entry>> next() {
    FRESHET_RETURN_IF_ERROR(fill(kEntryHeaderBytes));
    const char* p = buf_.data() + at_;
    size_t avail = buf_.size() - at_;
    if (avail < kEntryHeaderBytes || get_u32(p) != kEntryMagic || get_u64(p + 8) != generation_) {
      return std::optional<Entry>();
    }
    const uint64_t name_len = get_u32(p + 16);
    const uint64_t batch_len = get_u32(p + 20);
    if (name_len > kMaxNameBytes || batch_len > kMaxBatchBytes) return std::optional<Entry>();
    FRESHET_RETURN_IF_ERROR(fill(kEntryHeaderBytes + name_len + batch_len));
    p = buf_.data() + at_;
    avail = buf_.size() - at_;
    Entry e;
    const size_t n = parse_entry(p, avail, generation_, &e);
    if (n == 0) return std::optional<Entry>();
    at_ += n;
    offset_ += n;
    return std::optional<Entry>(e);
  }

  // The file offset just after the last entry returned.
  uint64_t end_offset() const { return offset_; }

 private:
  static constexpr size_t kChunk = 1 << 20;

  // Makes buf_ hold at least `want` bytes from offset_ on, if the file has them.
  Status fill(size_t want) {
    if (buf_.size() - at_ >= want || eof_) return {};
    buf_.erase(0, at_);
    at_ = 0;
    const size_t have = buf_.size();
    const size_t read = std::max(want - have, kChunk);
    buf_.resize(have + read);
    FRESHET_ASSIGN_OR_RETURN(size_t got, file_.read_at(buf_.data() + have, read, offset_ + have));
    buf_.resize(have + got);
    if (got < read) eof_ = true;
    return {};
  }

  File& file_;
  const uint64_t generation_;
  std::string buf_;  // bytes of the file from offset_ - at_ on
  size_t at_ = 0;    // where offset_ is in buf_
  uint64_t offset_ = kHeaderBytes;
  bool eof_ = false;
};

}  // namespace freshet::log::wal

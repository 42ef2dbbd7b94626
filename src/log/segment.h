// A segment: one <base>.log file of batches plus its sparse indexes.
//
// The active segment (the last of a log) keeps its indexes in memory; they are mutated only
// under the owning DiskLog's mu_. On roll it is sealed: its indexes are written to
// <base>.idx and <base>.tix and memory-mapped, after which the segment is immutable and may
// be read without a lock. Index entries always point at batch starts.
//
// Index files (docs/format.md): a 64-byte header, then entries.
//   0 u32 magic "FSHI" | 4 u16 version | 6 u16 kind (1 offset, 2 time) | 8 u32 crc of [12, end)
//  12 u32 entry_count  | 16 u64 base_offset | 24 u64 next_offset | 32 u64 segment_bytes
//  40 i64 first_timestamp_ms | 48 i64 max_timestamp_ms | 56 u64 reserved
//   offset entry (8 bytes): u32 relative_offset | u32 position
//   time entry (16 bytes):  i64 max_timestamp_before | u32 relative_offset | u32 position
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "format.h"
#include "freshet/common/file.h"
#include "freshet/common/result.h"

namespace freshet::log {

struct Position {
  uint64_t offset;  // base offset of the batch at `pos`
  uint64_t pos;     // byte position in the segment file
};

struct SegmentSummary {
  uint64_t base_offset = 0;
  uint64_t next_offset = 0;
  uint64_t size_bytes = 0;
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = std::numeric_limits<int64_t>::min();
};

class Segment {
 public:
  Segment(std::string dir, uint64_t base_offset, std::shared_ptr<File> file);

  static std::string file_name(uint64_t base_offset, const char* ext);
  std::string path(const char* ext) const;

  uint64_t base_offset() const { return summary_.base_offset; }
  const SegmentSummary& summary() const { return summary_; }
  bool empty() const { return summary_.next_offset == summary_.base_offset; }
  bool sealed() const { return sealed_; }
  // A sealed segment found damaged at open: offsets from summary().next_offset up to the next
  // segment's base cannot be served, and reads that reach them fail (kCorruption) instead of
  // skipping to the next segment as they do across a gap.
  bool damaged() const { return damaged_; }
  void mark_damaged() { damaged_ = true; }
  const std::shared_ptr<File>& file() const { return file_; }

  // Active segment only; REQUIRES: owning log's mu_ held.
  void add_batch(const format::BatchHeader& h, uint64_t pos, uint32_t index_interval);

  // The last indexed batch start with base offset <= offset (the segment start if none).
  Position floor_by_offset(uint64_t offset) const;
  // A batch start such that every record before it in this segment has timestamp < ts.
  Position floor_by_time(int64_t ts) const;

  // Writes both index files (temp file, optional fsync, rename), then maps them and frees the
  // in-memory vectors. Marks the segment sealed.
  Status seal(FileSystem& fs, bool sync);
  // Loads a sealed segment's index files; fails when missing, corrupt, or inconsistent with
  // the segment file's size, in which case the caller rebuilds them by scanning.
  Status load_sealed(FileSystem& fs, uint64_t file_size);
  // Gives the next active segment the (emptied) index buffers this sealed one no longer
  // needs, so that a log rolling segment after segment reuses one allocation instead of
  // growing fresh vectors each time: under sustained load the fresh ones fragmented the heap
  // and resident memory grew with the data (about 100 KB per 64 MiB segment).
  void hand_index_buffers_to(Segment& next);

  size_t index_entries() const;
  // Every index entry, for the verify tool: (batch offset, position) and
  // (max timestamp before, batch offset, position).
  std::vector<Position> offset_entries() const;
  std::vector<std::pair<int64_t, Position>> time_entries() const;

 private:
  std::string dir_;
  SegmentSummary summary_;
  std::shared_ptr<File> file_;
  bool sealed_ = false;
  bool damaged_ = false;
  uint64_t last_index_pos_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> offset_index_;  // active: (rel offset, pos)
  struct TimeEntry {
    int64_t max_before;
    uint32_t rel_offset;
    uint32_t pos;
  };
  std::vector<TimeEntry> time_index_;       // active
  std::unique_ptr<MappedFile> offset_map_;  // sealed
  std::unique_ptr<MappedFile> time_map_;    // sealed
};

// Reads a segment file batch by batch, checking every header and payload CRC.
// on_batch(header, pos, payload) is called for each valid batch in order. Stops at end of
// file or at the first invalid batch; returns the position after the last valid batch and,
// through *problem, why it stopped early (ok when it reached the end cleanly).
template <typename Fn>
Result<uint64_t> scan_segment(const File& file, uint64_t base_offset, Status* problem,
                              Fn&& on_batch);

// Non-template core of scan_segment.
class BatchScanner {
 public:
  BatchScanner(const File& file, uint64_t base_offset);
  // Advances to the next batch. Returns false at the end or on a bad batch (see status()).
  Result<bool> next();
  const format::BatchHeader& header() const { return header_; }
  const char* payload() const { return payload_; }
  uint64_t pos() const { return pos_; }           // start of the current batch
  uint64_t end_pos() const { return next_pos_; }  // after the last valid batch
  const Status& problem() const { return problem_; }

 private:
  const File& file_;
  uint64_t expected_offset_;
  uint64_t pos_ = 0;
  uint64_t next_pos_ = 0;
  uint64_t file_size_ = 0;
  format::BatchHeader header_{};
  const char* payload_ = nullptr;
  std::string buf_;
  uint64_t buf_pos_ = 0;  // file position of buf_[0]
  Status problem_;
  Result<const char*> fetch(uint64_t pos, uint64_t n);
};

template <typename Fn>
Result<uint64_t> scan_segment(const File& file, uint64_t base_offset, Status* problem,
                              Fn&& on_batch) {
  BatchScanner s(file, base_offset);
  while (true) {
    auto more = s.next();
    if (!more.ok()) return more.error();
    if (!*more) break;
    on_batch(s.header(), s.pos(), s.payload());
  }
  *problem = s.problem();
  return s.end_pos();
}

}  // namespace freshet::log

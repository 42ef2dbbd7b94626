#include "segment.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"

namespace freshet::log {
namespace {

constexpr uint32_t kIndexMagic = 0x49485346;  // bytes "FSHI"
constexpr uint16_t kIndexVersion = 1;
constexpr uint16_t kKindOffset = 1;
constexpr uint16_t kKindTime = 2;
constexpr size_t kIndexHeaderSize = 64;
constexpr size_t kOffsetEntrySize = 8;
constexpr size_t kTimeEntrySize = 16;

std::string encode_index_header(uint16_t kind, uint32_t count, const SegmentSummary& s) {
  std::string h(kIndexHeaderSize, '\0');
  char* p = h.data();
  le::store<uint32_t>(p + 0, kIndexMagic);
  le::store<uint16_t>(p + 4, kIndexVersion);
  le::store<uint16_t>(p + 6, kind);
  le::store<uint32_t>(p + 12, count);
  le::store<uint64_t>(p + 16, s.base_offset);
  le::store<uint64_t>(p + 24, s.next_offset);
  le::store<uint64_t>(p + 32, s.size_bytes);
  le::store<int64_t>(p + 40, s.first_timestamp_ms);
  le::store<int64_t>(p + 48, s.max_timestamp_ms);
  return h;
}

// Checks an index file's header and CRC; fills *s from it.
Status check_index(const MappedFile& m, uint16_t kind, size_t entry_size, SegmentSummary* s) {
  if (m.size() < kIndexHeaderSize) return Error(ErrorCode::kCorruption, "index file too short");
  const uint8_t* p = m.data();
  if (le::load<uint32_t>(p) != kIndexMagic || le::load<uint16_t>(p + 4) != kIndexVersion ||
      le::load<uint16_t>(p + 6) != kind) {
    return Error(ErrorCode::kCorruption, "bad index header");
  }
  const uint32_t count = le::load<uint32_t>(p + 12);
  if (m.size() != kIndexHeaderSize + uint64_t{count} * entry_size) {
    return Error(ErrorCode::kCorruption, "index file size mismatch");
  }
  if (crc32c::value(p + 12, m.size() - 12) != le::load<uint32_t>(p + 8)) {
    return Error(ErrorCode::kCorruption, "index CRC mismatch");
  }
  s->base_offset = le::load<uint64_t>(p + 16);
  s->next_offset = le::load<uint64_t>(p + 24);
  s->size_bytes = le::load<uint64_t>(p + 32);
  s->first_timestamp_ms = le::load<int64_t>(p + 40);
  s->max_timestamp_ms = le::load<int64_t>(p + 48);
  return {};
}

uint32_t entry_count(const MappedFile& m) { return le::load<uint32_t>(m.data() + 12); }

}  // namespace

Segment::Segment(std::string dir, uint64_t base_offset, std::shared_ptr<File> file)
    : dir_(std::move(dir)), file_(std::move(file)) {
  summary_.base_offset = base_offset;
  summary_.next_offset = base_offset;
}

std::string Segment::file_name(uint64_t base_offset, const char* ext) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".%s", base_offset, ext);
  return buf;
}

std::string Segment::path(const char* ext) const {
  return dir_ + "/" + file_name(summary_.base_offset, ext);
}

void Segment::add_batch(const format::BatchHeader& h, uint64_t pos, uint32_t index_interval) {
  if (pos > 0 && pos - last_index_pos_ >= index_interval) {
    const auto rel = static_cast<uint32_t>(h.base_offset - summary_.base_offset);
    offset_index_.emplace_back(rel, static_cast<uint32_t>(pos));
    time_index_.push_back(TimeEntry{summary_.max_timestamp_ms, rel, static_cast<uint32_t>(pos)});
    last_index_pos_ = pos;
  }
  if (empty()) summary_.first_timestamp_ms = h.first_timestamp_ms;
  summary_.max_timestamp_ms = std::max(summary_.max_timestamp_ms, h.max_timestamp_ms);
  summary_.next_offset = format::next_offset(h);
  summary_.size_bytes = pos + format::batch_size(h);
}

Position Segment::floor_by_offset(uint64_t offset) const {
  Position start{summary_.base_offset, 0};
  if (offset < summary_.base_offset) return start;
  const uint64_t rel = offset - summary_.base_offset;
  if (!sealed_) {
    auto it = std::upper_bound(offset_index_.begin(), offset_index_.end(), rel,
                               [](uint64_t r, const auto& e) { return r < e.first; });
    if (it == offset_index_.begin()) return start;
    --it;
    return {summary_.base_offset + it->first, it->second};
  }
  const uint8_t* entries = offset_map_->data() + kIndexHeaderSize;
  size_t lo = 0;
  size_t hi = entry_count(*offset_map_);  // first entry with rel_offset > rel is in [lo, hi]
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (le::load<uint32_t>(entries + mid * kOffsetEntrySize) <= rel) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return start;
  const uint8_t* e = entries + (lo - 1) * kOffsetEntrySize;
  return {summary_.base_offset + le::load<uint32_t>(e), le::load<uint32_t>(e + 4)};
}

Position Segment::floor_by_time(int64_t ts) const {
  Position start{summary_.base_offset, 0};
  if (!sealed_) {
    // Entries' max_before is non-decreasing: take the last one with max_before < ts.
    auto it = std::lower_bound(time_index_.begin(), time_index_.end(), ts,
                               [](const TimeEntry& e, int64_t t) { return e.max_before < t; });
    if (it == time_index_.begin()) return start;
    --it;
    return {summary_.base_offset + it->rel_offset, it->pos};
  }
  const uint8_t* entries = time_map_->data() + kIndexHeaderSize;
  size_t lo = 0;
  size_t hi = entry_count(*time_map_);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (le::load<int64_t>(entries + mid * kTimeEntrySize) < ts) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return start;
  const uint8_t* e = entries + (lo - 1) * kTimeEntrySize;
  return {summary_.base_offset + le::load<uint32_t>(e + 8), le::load<uint32_t>(e + 12)};
}

size_t Segment::index_entries() const {
  return sealed_ ? entry_count(*offset_map_) : offset_index_.size();
}

std::vector<Position> Segment::offset_entries() const {
  std::vector<Position> out;
  if (!sealed_) {
    for (const auto& [rel, pos] : offset_index_) out.push_back({summary_.base_offset + rel, pos});
    return out;
  }
  const uint8_t* e = offset_map_->data() + kIndexHeaderSize;
  for (uint32_t i = 0; i < entry_count(*offset_map_); ++i, e += kOffsetEntrySize) {
    out.push_back({summary_.base_offset + le::load<uint32_t>(e), le::load<uint32_t>(e + 4)});
  }
  return out;
}

std::vector<std::pair<int64_t, Position>> Segment::time_entries() const {
  std::vector<std::pair<int64_t, Position>> out;
  if (!sealed_) {
    for (const TimeEntry& t : time_index_) {
      out.push_back({t.max_before, {summary_.base_offset + t.rel_offset, t.pos}});
    }
    return out;
  }
  const uint8_t* e = time_map_->data() + kIndexHeaderSize;
  for (uint32_t i = 0; i < entry_count(*time_map_); ++i, e += kTimeEntrySize) {
    out.push_back({le::load<int64_t>(e),
                   {summary_.base_offset + le::load<uint32_t>(e + 8), le::load<uint32_t>(e + 12)}});
  }
  return out;
}

Status Segment::seal(FileSystem& fs, bool sync) {
  auto write_one = [&](const char* ext, const std::string& bytes) -> Status {
    const std::string final_path = path(ext);
    const std::string tmp = final_path + ".tmp";
    FRESHET_ASSIGN_OR_RETURN(auto f, fs.open(tmp, OpenMode::kCreate));
    FRESHET_RETURN_IF_ERROR(f->truncate(0));
    FRESHET_RETURN_IF_ERROR(f->write_at(bytes.data(), bytes.size(), 0));
    if (sync) FRESHET_RETURN_IF_ERROR(f->sync());
    return fs.rename(tmp, final_path);
  };

  std::string idx =
      encode_index_header(kKindOffset, static_cast<uint32_t>(offset_index_.size()), summary_);
  idx.reserve(idx.size() + offset_index_.size() * kOffsetEntrySize);  // one allocation
  for (const auto& [rel, pos] : offset_index_) {
    char e[kOffsetEntrySize];
    le::store<uint32_t>(e, rel);
    le::store<uint32_t>(e + 4, pos);
    idx.append(e, sizeof(e));
  }
  le::store<uint32_t>(idx.data() + 8, crc32c::value(idx.data() + 12, idx.size() - 12));

  std::string tix =
      encode_index_header(kKindTime, static_cast<uint32_t>(time_index_.size()), summary_);
  tix.reserve(tix.size() + time_index_.size() * kTimeEntrySize);
  for (const TimeEntry& t : time_index_) {
    char e[kTimeEntrySize];
    le::store<int64_t>(e, t.max_before);
    le::store<uint32_t>(e + 8, t.rel_offset);
    le::store<uint32_t>(e + 12, t.pos);
    tix.append(e, sizeof(e));
  }
  le::store<uint32_t>(tix.data() + 8, crc32c::value(tix.data() + 12, tix.size() - 12));

  FRESHET_RETURN_IF_ERROR(write_one("idx", idx));
  FRESHET_RETURN_IF_ERROR(write_one("tix", tix));
  return load_sealed(fs, summary_.size_bytes);
}

Status Segment::load_sealed(FileSystem& fs, uint64_t file_size) {
  FRESHET_ASSIGN_OR_RETURN(auto om, fs.map_readonly(path("idx")));
  FRESHET_ASSIGN_OR_RETURN(auto tm, fs.map_readonly(path("tix")));
  SegmentSummary a;
  SegmentSummary b;
  FRESHET_RETURN_IF_ERROR(check_index(*om, kKindOffset, kOffsetEntrySize, &a));
  FRESHET_RETURN_IF_ERROR(check_index(*tm, kKindTime, kTimeEntrySize, &b));
  if (a.base_offset != summary_.base_offset || b.base_offset != a.base_offset ||
      a.next_offset != b.next_offset || a.size_bytes != b.size_bytes || a.size_bytes != file_size ||
      a.next_offset < a.base_offset) {
    return Error(ErrorCode::kCorruption, "index does not match segment " + path("log"));
  }
  summary_ = a;
  // The checks read every page of both indexes; reads need only a few of them again.
  om->release_pages();
  tm->release_pages();
  offset_map_ = std::move(om);
  time_map_ = std::move(tm);
  offset_index_.clear();  // capacity kept for hand_index_buffers_to
  time_index_.clear();
  sealed_ = true;
  return {};
}

void Segment::hand_index_buffers_to(Segment& next) {
  if (!sealed_ || next.sealed_ || !next.offset_index_.empty() || !next.time_index_.empty()) return;
  next.offset_index_.swap(offset_index_);
  next.time_index_.swap(time_index_);
  offset_index_ = {};
  time_index_ = {};
}

BatchScanner::BatchScanner(const File& file, uint64_t base_offset)
    : file_(file), expected_offset_(base_offset) {}

Result<const char*> BatchScanner::fetch(uint64_t pos, uint64_t n) {
  if (pos >= buf_pos_ && pos + n <= buf_pos_ + buf_.size()) {
    return buf_.data() + (pos - buf_pos_);
  }
  constexpr uint64_t kChunk = 1 << 20;
  const uint64_t want = std::max<uint64_t>(n, kChunk);
  const uint64_t len = std::min<uint64_t>(want, file_size_ - pos);
  if (len < n) return static_cast<const char*>(nullptr);
  buf_.resize(len);
  FRESHET_ASSIGN_OR_RETURN(size_t got, file_.read_at(buf_.data(), len, pos));
  buf_pos_ = pos;
  if (got < n) return static_cast<const char*>(nullptr);
  buf_.resize(got);
  return buf_.data();
}

Result<bool> BatchScanner::next() {
  if (pos_ == 0 && next_pos_ == 0 && file_size_ == 0) {
    FRESHET_ASSIGN_OR_RETURN(file_size_, file_.size());
  }
  pos_ = next_pos_;
  if (pos_ >= file_size_) return false;
  FRESHET_ASSIGN_OR_RETURN(const char* raw, fetch(pos_, format::kBatchHeaderSize));
  if (raw == nullptr) {
    problem_ = Error(ErrorCode::kCorruption, "torn batch header at byte " + std::to_string(pos_));
    return false;
  }
  header_ = format::decode_header(raw);
  if (Status s = format::check_header(header_, raw); !s.ok()) {
    problem_ = Error(s.code(), s.error().message() + " at byte " + std::to_string(pos_));
    return false;
  }
  if (header_.base_offset != expected_offset_) {
    problem_ = Error(ErrorCode::kCorruption, "batch at byte " + std::to_string(pos_) +
                                                 " has base offset " +
                                                 std::to_string(header_.base_offset) +
                                                 ", expected " + std::to_string(expected_offset_));
    return false;
  }
  FRESHET_ASSIGN_OR_RETURN(raw, fetch(pos_, format::batch_size(header_)));
  if (raw == nullptr) {
    problem_ = Error(ErrorCode::kCorruption, "torn batch at byte " + std::to_string(pos_));
    return false;
  }
  payload_ = raw + format::kBatchHeaderSize;
  if (Status s = format::check_payload(header_, payload_); !s.ok()) {
    problem_ = Error(s.code(), s.error().message() + " at byte " + std::to_string(pos_));
    return false;
  }
  expected_offset_ = format::next_offset(header_);
  next_pos_ = pos_ + format::batch_size(header_);
  return true;
}

}  // namespace freshet::log

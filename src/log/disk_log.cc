#include "disk_log.h"

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

namespace freshet::log {
namespace {

constexpr size_t kMinReadahead = 4096;
// The kOs high-water mark file: two 24-byte slots written in turn, each
//   0 u32 magic "FSHW" | 4 u32 crc32c of bytes [8, 24) | 8 u64 generation | 16 u64 mark
// The valid slot with the higher generation holds the mark; a torn write of one slot leaves
// the other. docs/format.md.
constexpr uint32_t kHwmMagic = 0x57485346;
constexpr size_t kHwmSlot = 24;
// kOs: start the write-back of the active segment every this many appended bytes.
constexpr uint64_t kOsWritebackBytes = 8 << 20;
const char* const kHwmName = "hwm";
constexpr size_t kMaxReadahead = 4 << 20;

bool parse_segment_name(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(name[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *base = v;
  return true;
}

// A read's bytes: grown without zero-filling (the file's bytes overwrite them at once) and
// geometrically, so that a read's buffer is copied O(1) times on average. Kept alive by
// ReadResult::storage.
class ReadBuffer {
 public:
  size_t size() const { return size_; }
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  // Makes room for n more bytes after size() and returns where they go (size() unchanged).
  char* reserve_more(size_t n) {
    if (size_ + n > cap_) {
      const size_t cap = std::max(size_ + n, cap_ * 2);
      auto bigger = std::make_unique_for_overwrite<char[]>(cap);
      if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      cap_ = cap;
    }
    return data_.get() + size_;
  }
  void commit(size_t n) { size_ += n; }
  void clear() { size_ = 0; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// Reads a segment file forward into one growing buffer whose bytes stay put (callers keep
// buffer offsets, not pointers, until the read is complete). Read-ahead stops at
// `readahead_end`, the bytes the segment holds as far as the reader knows: a reader at the
// tail of the active segment (a caught-up consumer, every poll) would otherwise grow a
// buffer of megabytes, fresh pages each time, to read a few records.
class WindowReader {
 public:
  WindowReader(ReadBuffer* buf, const File& file, uint64_t start_pos,
               uint64_t readahead_end = UINT64_MAX)
      : buf_(buf),
        file_(file),
        file_start_(start_pos),
        readahead_end_(readahead_end),
        buf_start_(buf->size()) {}

  // Makes [pos, pos + n) available; returns its buffer offset, or -1 when the file is short.
  Result<int64_t> ensure(uint64_t pos, uint64_t n, uint64_t readahead) {
    const uint64_t have_end = file_start_ + (buf_->size() - buf_start_);
    if (pos + n <= have_end) return static_cast<int64_t>(buf_start_ + (pos - file_start_));
    readahead = have_end < readahead_end_ ? std::min(readahead, readahead_end_ - have_end) : 0;
    const uint64_t want = std::max<uint64_t>(pos + n - have_end, readahead);
    char* to = buf_->reserve_more(want);
    FRESHET_ASSIGN_OR_RETURN(size_t got, file_.read_at(to, want, have_end));
    buf_->commit(got);
    if (pos + n > have_end + got) return int64_t{-1};
    return static_cast<int64_t>(buf_start_ + (pos - file_start_));
  }

 private:
  ReadBuffer* buf_;
  const File& file_;
  uint64_t file_start_;
  uint64_t readahead_end_;
  size_t buf_start_;
};

struct RecordRef {
  uint64_t offset;
  int64_t ts;
  size_t pk;
  size_t ehk;
  size_t data;
  uint32_t pk_len;
  uint32_t ehk_len;
  uint32_t data_len;
};

}  // namespace

DiskLog::DiskLog(std::string dir, const LogOptions& options, std::shared_ptr<FileSystem> fs,
                 GroupCommitter* committer, std::string wal_name)
    : dir_(std::move(dir)),
      fs_(std::move(fs)),
      committer_(committer),
      wal_name_(std::move(wal_name)),
      options_(options) {}

DiskLog::~DiskLog() { (void)close(); }

Result<std::shared_ptr<DiskLog>> DiskLog::open(const std::string& dir, const LogOptions& options,
                                               std::shared_ptr<FileSystem> fs,
                                               GroupCommitter* committer, std::string wal_name) {
  if (options.segment_bytes < 4096 || options.segment_bytes > (3ull << 30)) {
    return Error(ErrorCode::kInvalidArgument, "segment_bytes must be in [4 KiB, 3 GiB]");
  }
  if (options.index_interval_bytes == 0) {
    return Error(ErrorCode::kInvalidArgument, "index_interval_bytes must be positive");
  }
  std::shared_ptr<DiskLog> log(
      new DiskLog(dir, options, std::move(fs), committer, std::move(wal_name)));
  FRESHET_RETURN_IF_ERROR(log->recover());
  return log;
}

Status DiskLog::recover() {
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs_, dir_));
  FRESHET_ASSIGN_OR_RETURN(auto names, fs_->list_dir(dir_));
  std::vector<uint64_t> bases;
  for (const std::string& n : names) {
    uint64_t base = 0;
    if (parse_segment_name(n, &base)) {
      bases.push_back(base);
    } else if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      FRESHET_RETURN_IF_ERROR(fs_->remove(dir_ + "/" + n));  // an unfinished index write
    }
  }
  std::sort(bases.begin(), bases.end());
  std::lock_guard lock(mu_);
  for (size_t i = 0; i + 1 < bases.size(); ++i) {
    FRESHET_RETURN_IF_ERROR(open_sealed(bases[i], bases[i + 1]));
  }
  FRESHET_RETURN_IF_ERROR(open_tail(bases.empty() ? 0 : bases.back()));
  if (options_.durability == Durability::kOs) {
    FRESHET_ASSIGN_OR_RETURN(uint64_t hwm, read_hwm_locked());
    const uint64_t end = segments_.back()->summary().next_offset;
    if (hwm > end) FRESHET_RETURN_IF_ERROR(skip_to_locked(hwm));
  }
  const SegmentSummary& tail = segments_.back()->summary();
  active_bytes_.store(tail.size_bytes, std::memory_order_relaxed);
  committed_tip_.store(tail.next_offset);
  trim_horizon_.store(segments_.front()->base_offset());
  int64_t last = 0;
  for (const auto& s : segments_) {
    if (!s->empty()) last = std::max(last, s->summary().max_timestamp_ms);
  }
  last_ts_.store(last);
  return {};
}

Status DiskLog::open_sealed(uint64_t base, uint64_t next_base) {
  auto seg_path = dir_ + "/" + Segment::file_name(base, "log");
  FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(seg_path, OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, file->size());
  auto seg = std::make_shared<Segment>(dir_, base, std::shared_ptr<File>(std::move(file)));
  Status loaded = seg->load_sealed(*fs_, size);
  // A segment may end below the next one's base: a gap a kOs log left after a power loss.
  if (loaded.ok() && seg->summary().next_offset <= next_base) {
    segments_.push_back(std::move(seg));
    return {};
  }
  // Missing or stale indexes (a crash during a roll, or damage): rebuild them by scanning.
  if (!loaded.ok() && loaded.code() != ErrorCode::kNotFound) {
    logging::warn("log {}: rebuilding index of segment {}: {}", dir_, base, loaded.to_string());
  }
  seg = std::make_shared<Segment>(dir_, base, seg->file());
  Status problem;
  FRESHET_ASSIGN_OR_RETURN(
      uint64_t end, scan_segment(*seg->file(), base, &problem,
                                 [&](const format::BatchHeader& h, uint64_t pos, const char*) {
                                   seg->add_batch(h, pos, options_.index_interval_bytes);
                                 }));
  if (!problem.ok() || end != size || seg->summary().next_offset > next_base) {
    // Damage inside a sealed segment. Keep what is good indexed; reads that reach the damaged
    // range fail with kCorruption. No index files are written, so every open reports it.
    count_corruption();
    logging::error(
        "log {}: segment {} is damaged at byte {} of {} ({}); records from offset {} "
        "to {} cannot be served",
        dir_, base, end, size, problem.ok() ? "offsets do not line up" : problem.to_string(),
        seg->summary().next_offset, next_base);
    seg->mark_damaged();
    segments_.push_back(std::move(seg));
    return {};
  }
  if (seg->summary().next_offset < next_base) {
    // Intact up to its last batch, and the next segment starts higher: a kOs log lost this
    // segment's unsynced tail, or skipped ahead after a power loss. Readers step over it.
    logging::warn("log {}: offsets {} to {} are a gap (lost before a power loss, never reused)",
                 dir_, seg->summary().next_offset, next_base);
  }
  Status sealed = seg->seal(*fs_, options_.durability == Durability::kFsync);
  if (!sealed.ok()) {
    logging::warn("log {}: could not write index of segment {} ({}); kept in memory", dir_, base,
                 sealed.to_string());
  }
  segments_.push_back(std::move(seg));
  return {};
}

Status DiskLog::open_tail(uint64_t base) {
  const std::string seg_path = dir_ + "/" + Segment::file_name(base, "log");
  const bool existed = fs_->exists(seg_path);
  FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(seg_path, OpenMode::kCreate));
  std::shared_ptr<File> shared(std::move(file));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, shared->size());
  auto seg = std::make_shared<Segment>(dir_, base, shared);
  Status problem;
  FRESHET_ASSIGN_OR_RETURN(
      uint64_t end, scan_segment(*shared, base, &problem,
                                 [&](const format::BatchHeader& h, uint64_t pos, const char*) {
                                   seg->add_batch(h, pos, options_.index_interval_bytes);
                                 }));
  if (end < size) {
    FRESHET_ASSIGN_OR_RETURN(AfterDamage after, scan_after_damage(*shared, end, size));
    if (after.intact && after.synced_floor > end &&
        after.next_offset > seg->summary().next_offset) {
      // A batch written later says bytes up to synced_floor had been fdatasynced before it
      // was written, so the damage at `end` is to durable bytes (media damage), not a torn
      // tail: the segment is kept whole as a damaged segment (reads that reach the damage
      // fail with kCorruption; every open reports it again), and the log continues in a new
      // segment past every offset found in it, so no offset is ever handed out twice.
      count_corruption();
      damaged_tails_.fetch_add(1, std::memory_order_relaxed);
      logging::error(
          "log {}: segment {} is damaged at byte {} of {} ({}), below the {} bytes known "
          "durable; records from offset {} to {} cannot be served; the log continues at {}",
          dir_, base, end, size, problem.ok() ? "trailing bytes" : problem.to_string(),
          after.synced_floor, seg->summary().next_offset, after.next_offset, after.next_offset);
      seg->mark_damaged();
      segments_.push_back(std::move(seg));
      return open_tail(after.next_offset);
    }
    if (after.intact) {
      // An intact batch after the damage, but none says the damaged bytes were ever synced:
      // a power loss kept a later unsynced page and dropped an earlier one (or the damage
      // hit bytes synced by the last round before those batches were written, which no
      // floor records). Treating a torn tail as permanent damage would leave readers stuck
      // before a hole of records that were never acknowledged, so the bytes are kept aside
      // for inspection, reported and counted, and the tail is cut as a torn tail; the WAL
      // restores what it acknowledged.
      const std::string aside =
          dir_ + "/" + Segment::file_name(base, "log") + ".damaged-" + std::to_string(end);
      FRESHET_RETURN_IF_ERROR(keep_aside(*shared, end, size, aside));
      count_corruption();
      damaged_tails_.fetch_add(1, std::memory_order_relaxed);
      logging::error(
          "log {}: tail segment {} is damaged at byte {} with intact batches after it ({}); "
          "bytes {}..{} kept in {}, the segment continues from byte {}",
          dir_, base, end, problem.ok() ? "trailing bytes" : problem.to_string(), end, size,
          aside, end);
    } else {
      logging::warn("log {}: truncating tail segment {} from {} to {} bytes ({})", dir_, base,
                   size, end, problem.ok() ? "trailing bytes" : problem.to_string());
    }
    FRESHET_RETURN_IF_ERROR(shared->truncate(end));
    recovery_truncated_bytes_.fetch_add(size - end);
  }
  if (options_.durability == Durability::kFsync) {
    // What recovery serves from now on must be durable, whatever the previous process synced.
    FRESHET_RETURN_IF_ERROR(shared->sync());
    if (!existed) FRESHET_RETURN_IF_ERROR(fs_->sync_dir(dir_));
  }
  segments_.push_back(seg);
  active_target_ = std::make_shared<GroupCommitter::Target>(shared);
  active_target_->written.store(end);
  if (options_.durability == Durability::kFsync) active_target_->synced.store(end);
  return {};
}

Result<DiskLog::AfterDamage> DiskLog::scan_after_damage(const File& file, uint64_t from,
                                                        uint64_t size) const {
  // Looks for batches whose header and payload CRCs hold at any byte after `from`, reading
  // the rest of the file in 1 MiB windows and stepping over each batch found (only on open,
  // and only when a tail is damaged).
  constexpr uint64_t kWindow = 1 << 20;
  AfterDamage after;
  std::string buf;
  std::string batch;
  uint64_t start = from + 1;
  while (start + format::kBatchHeaderSize <= size) {
    const uint64_t want = std::min<uint64_t>(size - start, kWindow + format::kBatchHeaderSize);
    buf.resize(static_cast<size_t>(want));
    FRESHET_ASSIGN_OR_RETURN(size_t got, file.read_at(buf.data(), buf.size(), start));
    uint64_t next_start = start + kWindow;
    for (size_t i = 0; i + format::kBatchHeaderSize <= got && i < kWindow; ++i) {
      uint32_t magic;
      std::memcpy(&magic, buf.data() + i, 4);
      if (magic != format::kBatchMagic) continue;
      const format::BatchHeader h = format::decode_header(buf.data() + i);
      if (!format::check_header(h, buf.data() + i).ok()) continue;
      const uint64_t pos = start + i;
      const uint64_t total = format::batch_size(h);
      if (pos + total > size) continue;
      batch.resize(static_cast<size_t>(total));
      FRESHET_ASSIGN_OR_RETURN(size_t n, file.read_at(batch.data(), batch.size(), pos));
      if (n != total || !format::check_payload(h, batch.data() + format::kBatchHeaderSize).ok()) {
        continue;
      }
      after.intact = true;
      after.next_offset = std::max(after.next_offset, format::next_offset(h));
      // A floor is never above its own batch's position (a larger one is not believed).
      after.synced_floor = std::max(after.synced_floor, std::min(h.synced_floor, pos));
      next_start = pos + total;  // the next batch, if any, starts right after this one
      break;
    }
    start = next_start;
  }
  return after;
}

Status DiskLog::keep_aside(const File& file, uint64_t from, uint64_t size,
                           const std::string& path) {
  std::string bytes(static_cast<size_t>(size - from), '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t n, file.read_at(bytes.data(), bytes.size(), from));
  bytes.resize(n);
  FRESHET_ASSIGN_OR_RETURN(auto out, fs_->open(path, OpenMode::kCreate));
  FRESHET_RETURN_IF_ERROR(out->truncate(0));
  FRESHET_RETURN_IF_ERROR(out->write_at(bytes.data(), bytes.size(), 0));
  FRESHET_RETURN_IF_ERROR(out->sync());
  return fs_->sync_dir(dir_);
}

Status DiskLog::sync_locked(const std::shared_ptr<GroupCommitter::Target>& t) {
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (committer_ != nullptr) return committer_->sync_now(t);
  return t->sync();
}

Status DiskLog::fail_locked(const Status& cause) {
  if (failed_.ok()) {
    failed_ = Error(ErrorCode::kFailed, "log " + dir_ + " stopped after: " + cause.to_string());
    logging::error("{}", failed_.to_string());
  }
  return cause;
}

Status DiskLog::roll_locked() { return roll_locked(segments_.back()->summary().next_offset); }

Status DiskLog::roll_locked(uint64_t next_base) {
  const auto& active = segments_.back();
  const bool fsync = options_.durability == Durability::kFsync;
  // A failed fdatasync is sticky (see group_committer.h); any other failure (a full disk
  // while creating the next segment or writing the indexes) leaves the log as it was, with
  // the same active segment, so the next append retries the roll.
  // Sealed segments are synced in kOs mode too (once per segment): a power loss then takes
  // only the active segment's unsynced tail, and a sealed segment that fails its checks at
  // open is damage, never the ordinary loss kOs allows.
  if (Status s = sync_locked(active_target_); !s.ok()) return fail_locked(s);
  const uint64_t base = next_base;
  const std::string seg_path = dir_ + "/" + Segment::file_name(base, "log");
  auto undo = [&](Status cause) {
    (void)fs_->remove(seg_path);  // an empty next segment must not outlive a failed roll
    return cause;
  };
  auto file = fs_->open(seg_path, OpenMode::kCreate);
  if (!file.ok()) return undo(file.error());
  std::shared_ptr<File> shared(std::move(file).value());
  if (Status t = shared->truncate(0); !t.ok()) return undo(t);
  if (Status s = active->seal(*fs_, fsync); !s.ok()) return undo(s);
  // Makes the new segment and the sealed one's indexes durable names.
  if (Status d = fs_->sync_dir(dir_); !d.ok()) return fail_locked(d);
  auto next = std::make_shared<Segment>(dir_, base, shared);
  active->hand_index_buffers_to(*next);
  segments_.push_back(std::move(next));
  active_target_ = std::make_shared<GroupCommitter::Target>(shared);
  active_bytes_.store(0, std::memory_order_relaxed);
  return {};
}

void DiskLog::presync_before_roll() {
  // The next append rolls the active segment, and the roll fdatasyncs it under mu_ (it must
  // be durable before the next segment takes records). Syncing it here first, without the
  // lock, leaves that sync only the last few batches: readers and the other appenders of this
  // log do not wait behind the big fdatasync (issue 9). A failure is recorded as the roll's
  // would be (sticky in the committer) and surfaces at the roll.
  std::shared_ptr<GroupCommitter::Target> target;
  {
    std::lock_guard lock(mu_);
    if (closed_ || !failed_.ok() || !active_target_) return;
    target = active_target_;
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (committer_ != nullptr) {
    (void)committer_->sync_now(target);
  } else {
    (void)target->sync();
  }
}

Result<uint64_t> DiskLog::read_hwm_locked() {
  const std::string path = dir_ + "/" + kHwmName;
  if (!fs_->exists(path)) return uint64_t{0};
  FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(path, OpenMode::kReadOnly));
  char buf[2 * kHwmSlot] = {};
  FRESHET_ASSIGN_OR_RETURN(size_t n, file->read_at(buf, sizeof buf, 0));
  uint64_t best = 0;
  uint64_t best_gen = 0;
  bool any = false;
  for (size_t slot = 0; (slot + 1) * kHwmSlot <= n; ++slot) {
    const char* p = buf + slot * kHwmSlot;
    if (le::load<uint32_t>(p) != kHwmMagic ||
        le::load<uint32_t>(p + 4) != crc32c::value(p + 8, 16)) {
      continue;
    }
    const uint64_t gen = le::load<uint64_t>(p + 8);
    if (!any || gen > best_gen) {
      best_gen = gen;
      best = le::load<uint64_t>(p + 16);
    }
    any = true;
  }
  if (any) hwm_writes_ = best_gen + 1;  // the next write takes the other slot
  if (!any && n != 0) {
    // Written, never synced whole (a power loss during the first reservation): nothing past
    // it was acknowledged before that reservation was durable.
    logging::warn("log {}: high-water mark file has no valid slot; ignoring it", dir_);
  }
  return best;
}

Status DiskLog::reserve_offsets_locked(uint64_t end) {
  if (end <= reserved_) return {};
  return write_hwm_locked(end + std::max<uint64_t>(options_.os_offset_reserve, 1));
}

Status DiskLog::write_hwm_locked(uint64_t value) {
  const bool first = !hwm_file_;
  if (first) {
    FRESHET_ASSIGN_OR_RETURN(hwm_file_, fs_->open(dir_ + "/" + kHwmName, OpenMode::kCreate));
  }
  char slot[kHwmSlot];
  le::store<uint32_t>(slot, kHwmMagic);
  le::store<uint64_t>(slot + 8, hwm_writes_);
  le::store<uint64_t>(slot + 16, value);
  le::store<uint32_t>(slot + 4, crc32c::value(slot + 8, 16));
  Status s = hwm_file_->write_at(slot, kHwmSlot, (hwm_writes_ % 2) * kHwmSlot);
  if (s.ok()) s = hwm_file_->sync();
  if (s.ok() && first) s = fs_->sync_dir(dir_);
  if (!s.ok()) {
    hwm_file_.reset();  // reopened (and the directory synced) by the next try
    return s;
  }
  ++hwm_writes_;
  reserved_ = value;
  return {};
}

Status DiskLog::skip_to_locked(uint64_t base) {
  const auto& active = segments_.back();
  const uint64_t from = active->summary().next_offset;
  if (active->empty()) {
    // Nothing in the tail segment: replace it with an empty one that starts at `base`.
    const std::string old_path = active->path("log");
    const std::string seg_path = dir_ + "/" + Segment::file_name(base, "log");
    FRESHET_ASSIGN_OR_RETURN(auto file, fs_->open(seg_path, OpenMode::kCreate));
    std::shared_ptr<File> shared(std::move(file));
    FRESHET_RETURN_IF_ERROR(shared->truncate(0));
    segments_.back() = std::make_shared<Segment>(dir_, base, shared);
    active_target_ = std::make_shared<GroupCommitter::Target>(shared);
    FRESHET_RETURN_IF_ERROR(fs_->remove(old_path));
  } else {
    FRESHET_RETURN_IF_ERROR(roll_locked(base));
  }
  skipped_offsets_.fetch_add(base - from, std::memory_order_relaxed);
  logging::warn("log {}: continuing at offset {} after a power loss (offsets {} to {} may have "
               "been handed out and lost; they are never reused)",
               dir_, base, from, base);
  return reserve_offsets_locked(base);
}

void DiskLog::advance_tip(uint64_t end, int64_t max_ts) {
  uint64_t cur = committed_tip_.load(std::memory_order_relaxed);
  while (cur < end && !committed_tip_.compare_exchange_weak(cur, end, std::memory_order_release,
                                                            std::memory_order_relaxed)) {
  }
  int64_t ts = last_ts_.load(std::memory_order_relaxed);
  while (ts < max_ts && !last_ts_.compare_exchange_weak(ts, max_ts, std::memory_order_release,
                                                        std::memory_order_relaxed)) {
  }
}

Result<PendingAppend> DiskLog::begin_append(std::span<const Record> records) {
  FRESHET_RETURN_IF_ERROR(format::validate_records(records));
  std::string batch;
  format::encode_batch(records, &batch);
  format::BatchHeader h = format::decode_header(batch.data());

  if (active_bytes_.load(std::memory_order_relaxed) + batch.size() > options_.segment_bytes) {
    presync_before_roll();
  }
  PendingAppend p;
  std::lock_guard lock(mu_);
  if (closed_) return Error(ErrorCode::kClosed, "log " + dir_ + " is closed");
  if (sealed_) return Error(ErrorCode::kResourceInUse, "log " + dir_ + " is sealed");
  if (!failed_.ok()) return failed_.error();
  if (Status r = roll_if_due_locked(batch.size(), h.first_timestamp_ms); !r.ok()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return r;  // roll_locked made it sticky if it has to be
  }
  const Segment* active = segments_.back().get();
  const uint64_t base = active->summary().next_offset;
  const uint64_t pos = active->summary().size_bytes;
  if (options_.durability == Durability::kOs) {
    if (Status r = reserve_offsets_locked(base + h.record_count); !r.ok()) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
  }
  format::seal_header(batch.data(), base,
                      std::min(active_target_->synced.load(std::memory_order_acquire), pos));
  if (Status w = active->file()->write_at(batch.data(), batch.size(), pos); !w.ok()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    if (auto held = error_log_.allow()) {
      logging::error("log {}: append failed: {} ({} more failed appends since the last report)",
                    dir_, w.to_string(), *held);
    }
    // Cut off whatever part of the batch reached the file so it can never be read back.
    if (Status t = active->file()->truncate(pos); !t.ok()) return fail_locked(t);
    return w;
  }
  active_target_->written.store(pos + batch.size(), std::memory_order_release);
  h.base_offset = base;
  segments_.back()->add_batch(h, pos, options_.index_interval_bytes);
  active_bytes_.store(segments_.back()->summary().size_bytes, std::memory_order_relaxed);
  if (options_.durability == Durability::kOs) {
    // The roll fdatasyncs this segment (see roll_locked) under mu_; starting the write-back
    // every few MiB leaves that sync little to do, so a roll is not a stall of the shard.
    unflushed_bytes_ += batch.size();
    if (unflushed_bytes_ >= kOsWritebackBytes) {
      unflushed_bytes_ = 0;
      (void)active->file()->start_writeback();  // a hint: failures surface at the roll's sync
    }
  }
  appended_batches_.fetch_add(1, std::memory_order_relaxed);
  appended_records_.fetch_add(h.record_count, std::memory_order_relaxed);
  appended_bytes_.fetch_add(batch.size(), std::memory_order_relaxed);
  p.first_offset = base;
  p.end_offset = base + h.record_count;
  p.max_timestamp_ms = h.max_timestamp_ms;
  if (options_.durability == Durability::kFsync) {
    p.sync_target = active_target_;
    if (committer_ != nullptr) {
      // Small batches go through the write-ahead log (one fdatasync per round for all logs);
      // the others, or all when the WAL does not take them, sync this file.
      uint64_t ticket =
          wal_name_.empty() ? 0 : committer_->append_wal(wal_name_, batch, active_target_);
      p.ticket = ticket != 0 ? ticket : committer_->enqueue(active_target_);
    }
  }
  return p;
}

Status DiskLog::roll_if_due_locked(uint64_t batch_bytes, int64_t first_ts) {
  const Segment* active = segments_.back().get();
  if (active->empty()) return {};
  const SegmentSummary& s = active->summary();
  const bool full = s.size_bytes + batch_bytes > options_.segment_bytes;
  const bool old =
      options_.segment_ms > 0 && first_ts - s.first_timestamp_ms >= options_.segment_ms;
  return full || old ? roll_locked() : Status();
}

Result<bool> DiskLog::restore_batch(std::string_view batch) {
  if (batch.size() < format::kBatchHeaderSize) {
    return Error(ErrorCode::kCorruption, "WAL batch shorter than a batch header");
  }
  const format::BatchHeader h = format::decode_header(batch.data());
  FRESHET_RETURN_IF_ERROR(format::check_header(h, batch.data()));
  if (format::batch_size(h) != batch.size()) {
    return Error(ErrorCode::kCorruption, "WAL batch size does not match its header");
  }
  FRESHET_RETURN_IF_ERROR(format::check_payload(h, batch.data() + format::kBatchHeaderSize));
  std::lock_guard lock(mu_);
  if (closed_) return Error(ErrorCode::kClosed, "log " + dir_ + " is closed");
  const uint64_t next = segments_.back()->summary().next_offset;
  if (format::next_offset(h) <= next) return false;  // the log has it already
  if (h.base_offset != next) {  // a gap: kOutOfRange, which replay tells from damage
    return Error(ErrorCode::kOutOfRange, "log " + dir_ + " ends at offset " + std::to_string(next) +
                                             " but the WAL batch starts at " +
                                             std::to_string(h.base_offset));
  }
  FRESHET_RETURN_IF_ERROR(roll_if_due_locked(batch.size(), h.first_timestamp_ms));
  const Segment* active = segments_.back().get();
  const uint64_t pos = active->summary().size_bytes;
  if (Status w = active->file()->write_at(batch.data(), batch.size(), pos); !w.ok()) {
    (void)active->file()->truncate(pos);
    return w;
  }
  active_target_->written.store(pos + batch.size(), std::memory_order_release);
  segments_.back()->add_batch(h, pos, options_.index_interval_bytes);
  active_bytes_.store(segments_.back()->summary().size_bytes, std::memory_order_relaxed);
  advance_tip(format::next_offset(h), h.max_timestamp_ms);
  return true;
}

Status DiskLog::sync() {
  std::lock_guard lock(mu_);
  if (!active_target_) return {};
  return sync_locked(active_target_);
}

Result<uint64_t> DiskLog::complete_append(PendingAppend p) {
  Status synced;
  if (p.sync_target) {
    auto target = std::static_pointer_cast<GroupCommitter::Target>(p.sync_target);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    synced = committer_ != nullptr ? committer_->wait(p.ticket, target) : target->sync();
  }
  return finish_append(p, synced);
}

void DiskLog::complete_append_async(PendingAppend p, AppendCallback done) {
  if (!p.sync_target || committer_ == nullptr) {
    done(complete_append(std::move(p)));
    return;
  }
  auto target = std::static_pointer_cast<GroupCommitter::Target>(p.sync_target);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  committer_->wait_async(p.ticket, target, [this, p, done = std::move(done)](Status synced) {
    done(finish_append(p, synced));
  });
}

Result<uint64_t> DiskLog::finish_append(const PendingAppend& p, const Status& synced) {
  if (!synced.ok()) {
    sync_errors_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    return fail_locked(synced);
  }
  advance_tip(p.end_offset, p.max_timestamp_ms);
  return p.first_offset;
}

Result<ReadResult> DiskLog::read(uint64_t from, size_t max_records, size_t max_bytes) const {
  if (max_records == 0) return Error(ErrorCode::kInvalidArgument, "max_records must be positive");
  std::vector<std::shared_ptr<Segment>> segs;
  Position start{};
  uint64_t tip = 0;
  uint64_t active_bytes = 0;  // the active segment's size (its summary changes under mu_)
  {
    std::lock_guard lock(mu_);
    tip = committed_tip_.load(std::memory_order_acquire);
    if (!segments_.empty()) active_bytes = segments_.back()->summary().size_bytes;
    const uint64_t horizon = trim_horizon_.load(std::memory_order_acquire);
    if (from < horizon) {
      return Error(ErrorCode::kOutOfRange, "offset " + std::to_string(from) +
                                               " is below the trim horizon " +
                                               std::to_string(horizon));
    }
    if (from >= tip) {
      ReadResult empty;
      empty.next_offset = from;
      return empty;
    }
    auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                               [](uint64_t o, const auto& s) { return o < s->base_offset(); });
    --it;  // from >= horizon == front()->base_offset()
    start = (*it)->floor_by_offset(from);
    segs.assign(it, segments_.end());
  }

  auto buf = std::make_shared<ReadBuffer>();
  const uint64_t per_record = read_record_bytes_.load(std::memory_order_relaxed);
  uint64_t scanned_bytes = 0;    // of whole batches looked at, for read_record_bytes_
  uint64_t scanned_records = 0;
  std::vector<RecordRef> refs;
  refs.reserve(std::min<size_t>(max_records, 10000));
  size_t bytes = 0;
  uint64_t next = from;
  uint64_t scanned_to = from;  // every offset below it was looked at (gaps included)
  bool done = false;
  for (size_t si = 0; si < segs.size() && !done; ++si) {
    const Segment& seg = *segs[si];
    // Segments before the last are sealed, so their summary is fixed. One that ends below the
    // next one's base leaves a gap, which reads step over; a damaged one does not (reads that
    // reach its damage fail).
    const bool last_seg = si + 1 == segs.size();
    const uint64_t seg_end =
        last_seg ? tip
                 : (seg.damaged() ? segs[si + 1]->base_offset() : seg.summary().next_offset);
    scanned_to = std::min(seg_end, tip);
    uint64_t expected = si == 0 ? start.offset : seg.base_offset();
    uint64_t pos = si == 0 ? start.pos : 0;
    WindowReader win(buf.get(), *seg.file(), pos,
                     last_seg ? active_bytes : seg.summary().size_bytes);
    while (expected < std::min(seg_end, tip)) {
      const size_t want = max_records - refs.size();
      // What `want` more records take, an eighth more for the batch they end in.
      const uint64_t readahead = std::clamp<uint64_t>(
          want * per_record + want * per_record / 8 + format::kBatchHeaderSize, kMinReadahead,
          std::min<uint64_t>(kMaxReadahead, max_bytes + max_bytes / 8 + kMinReadahead));
      FRESHET_ASSIGN_OR_RETURN(int64_t at, win.ensure(pos, format::kBatchHeaderSize, readahead));
      if (at < 0) {
        count_corruption();
        return Error(ErrorCode::kCorruption, "log " + dir_ + ": segment " +
                                                 std::to_string(seg.base_offset()) +
                                                 " ends before offset " + std::to_string(expected));
      }
      format::BatchHeader h = format::decode_header(buf->data() + at);
      Status hs = format::check_header(h, buf->data() + at);
      if (hs.ok() && h.base_offset != expected) {
        hs = Error(ErrorCode::kCorruption,
                   "unexpected base offset " + std::to_string(h.base_offset));
      }
      if (hs.ok()) {
        FRESHET_ASSIGN_OR_RETURN(at, win.ensure(pos, format::batch_size(h), readahead));
        if (at < 0) hs = Error(ErrorCode::kCorruption, "batch cut short");
      }
      const char* payload = buf->data() + at + format::kBatchHeaderSize;
      if (hs.ok()) hs = format::check_payload(h, payload);
      if (!hs.ok()) {
        count_corruption();
        logging::error("log {}: corrupt batch at offset {} (segment {}, byte {}): {}", dir_,
                      expected, seg.base_offset(), pos, hs.to_string());
        return Error(ErrorCode::kCorruption, "log " + dir_ + ": batch at offset " +
                                                 std::to_string(expected) + ": " +
                                                 hs.error().message());
      }
      const uint64_t batch_end = format::next_offset(h);
      if (batch_end > from) {
        const size_t payload_at = static_cast<size_t>(at) + format::kBatchHeaderSize;
        format::for_each_record(h, payload, [&](uint32_t, const StoredRecord& r) {
          if (r.offset < from) return true;
          if (r.offset >= tip) {
            done = true;
            return false;
          }
          const size_t size = r.partition_key.size() + r.data.size();
          if (!refs.empty() && bytes + size > max_bytes) {
            done = true;
            return false;
          }
          const size_t pk_at = payload_at + static_cast<size_t>(r.partition_key.data() - payload);
          refs.push_back(RecordRef{r.offset, r.timestamp_ms, pk_at, pk_at + r.partition_key.size(),
                                   pk_at + r.partition_key.size() + r.explicit_hash_key.size(),
                                   static_cast<uint32_t>(r.partition_key.size()),
                                   static_cast<uint32_t>(r.explicit_hash_key.size()),
                                   static_cast<uint32_t>(r.data.size())});
          bytes += size;
          next = r.offset + 1;
          if (refs.size() >= max_records) {
            done = true;
            return false;
          }
          return true;
        });
        if (done) break;
      }
      expected = batch_end;
      pos += format::batch_size(h);
      scanned_bytes += format::batch_size(h);
      scanned_records += h.record_count;
    }
  }
  if (scanned_records >= 16) {
    read_record_bytes_.store(
        static_cast<uint32_t>(std::clamp<uint64_t>(scanned_bytes / scanned_records, 32, 1 << 20)),
        std::memory_order_relaxed);
  }
  ReadResult result;
  result.records.reserve(refs.size());
  const char* base = buf->data();
  for (const RecordRef& r : refs) {
    result.records.push_back(StoredRecord{r.offset, r.ts, std::string_view(base + r.pk, r.pk_len),
                                          std::string_view(base + r.ehk, r.ehk_len),
                                          std::string_view(base + r.data, r.data_len)});
  }
  result.next_offset = refs.empty() ? std::max(from, scanned_to) : next;
  result.storage = std::move(buf);
  return result;
}

Result<uint64_t> DiskLog::offset_for_timestamp(int64_t ts_ms) const {
  std::shared_ptr<Segment> seg;
  uint64_t seg_end = 0;
  Position start{};
  uint64_t tip = 0;
  {
    std::lock_guard lock(mu_);
    tip = committed_tip_.load(std::memory_order_acquire);
    for (size_t i = 0; i < segments_.size(); ++i) {
      const auto& s = segments_[i];
      if (!s->empty() && s->summary().max_timestamp_ms >= ts_ms) {
        seg = s;
        const bool last_seg = i + 1 == segments_.size();
        seg_end = last_seg ? tip
                           : (s->damaged() ? segments_[i + 1]->base_offset()
                                           : s->summary().next_offset);
        start = s->floor_by_time(ts_ms);
        break;
      }
    }
  }
  if (!seg) return tip;
  seg_end = std::min(seg_end, tip);
  uint64_t expected = start.offset;
  uint64_t pos = start.pos;
  ReadBuffer buf;
  while (expected < seg_end) {
    buf.clear();
    WindowReader win(&buf, *seg->file(), pos);
    FRESHET_ASSIGN_OR_RETURN(int64_t at, win.ensure(pos, format::kBatchHeaderSize, 0));
    format::BatchHeader h{};
    Status hs = at < 0 ? Status(Error(ErrorCode::kCorruption, "segment cut short")) : Status();
    if (hs.ok()) {
      h = format::decode_header(buf.data() + at);
      hs = format::check_header(h, buf.data() + at);
      if (hs.ok() && h.base_offset != expected) {
        hs = Error(ErrorCode::kCorruption, "unexpected base offset");
      }
    }
    if (hs.ok() && h.max_timestamp_ms >= ts_ms) {
      FRESHET_ASSIGN_OR_RETURN(at, win.ensure(pos, format::batch_size(h), 0));
      if (at < 0) hs = Error(ErrorCode::kCorruption, "batch cut short");
      if (hs.ok()) hs = format::check_payload(h, buf.data() + at + format::kBatchHeaderSize);
      if (hs.ok()) {
        uint64_t found = tip;
        format::for_each_record(h, buf.data() + at + format::kBatchHeaderSize,
                                [&](uint32_t, const StoredRecord& r) {
                                  if (r.timestamp_ms >= ts_ms) {
                                    found = r.offset;
                                    return false;
                                  }
                                  return true;
                                });
        return std::min(found, tip);
      }
    }
    if (!hs.ok()) {
      count_corruption();
      return Error(ErrorCode::kCorruption, "log " + dir_ + ": batch at offset " +
                                               std::to_string(expected) + ": " +
                                               hs.error().message());
    }
    expected = format::next_offset(h);
    pos += format::batch_size(h);
  }
  return tip;
}

void DiskLog::set_retention(int64_t retention_ms, uint64_t retention_bytes) {
  std::lock_guard lock(mu_);
  options_.retention_ms = retention_ms;
  options_.retention_bytes = retention_bytes;
}

Result<size_t> DiskLog::enforce_retention(int64_t now_ms) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Error(ErrorCode::kClosed, "log " + dir_ + " is closed");
    const bool by_age = options_.retention_ms > 0;
    const int64_t cutoff = now_ms - options_.retention_ms;
    const auto& active = segments_.back();
    if (by_age && failed_.ok() && !active->empty() && active->summary().max_timestamp_ms < cutoff &&
        active->summary().next_offset == committed_tip_.load()) {
      // Every record of the active segment expired: roll it so it can go as a whole.
      if (Status r = roll_locked(); !r.ok()) return r;
    }
    uint64_t total = 0;
    for (const auto& s : segments_) total += s->summary().size_bytes;
    size_t n = 0;
    while (n + 1 < segments_.size()) {
      const SegmentSummary& s = segments_[n]->summary();
      const bool expired =
          by_age && (s.next_offset == s.base_offset || s.max_timestamp_ms < cutoff);
      const bool over = options_.retention_bytes > 0 && total > options_.retention_bytes;
      if (!expired && !over) break;
      total -= s.size_bytes;
      ++n;
    }
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    trim_horizon_.store(segments_.front()->base_offset(), std::memory_order_release);
  }
  // Unlink outside the lock; readers holding a segment keep its open file.
  for (const auto& s : doomed) {
    FRESHET_RETURN_IF_ERROR(fs_->remove(s->path("idx")));
    FRESHET_RETURN_IF_ERROR(fs_->remove(s->path("tix")));
    FRESHET_RETURN_IF_ERROR(fs_->remove(s->path("log")));
    segments_deleted_.fetch_add(1, std::memory_order_relaxed);
  }
  return doomed.size();
}

LogCounters DiskLog::counters() const {
  LogCounters c;
  c.appended_batches = appended_batches_.load(std::memory_order_relaxed);
  c.appended_records = appended_records_.load(std::memory_order_relaxed);
  c.appended_bytes = appended_bytes_.load(std::memory_order_relaxed);
  c.syncs = syncs_.load(std::memory_order_relaxed);
  c.corrupt_batches = corrupt_batches_.load(std::memory_order_relaxed);
  c.recovery_truncated_bytes = recovery_truncated_bytes_.load(std::memory_order_relaxed);
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  c.sync_errors = sync_errors_.load(std::memory_order_relaxed);
  c.segments_deleted = segments_deleted_.load(std::memory_order_relaxed);
  c.recovery_damaged_tails = damaged_tails_.load(std::memory_order_relaxed);
  c.recovery_skipped_offsets = skipped_offsets_.load(std::memory_order_relaxed);
  return c;
}

uint64_t DiskLog::next_offset() const {
  std::lock_guard lock(mu_);
  return segments_.back()->summary().next_offset;
}

size_t DiskLog::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

Result<uint64_t> DiskLog::seal_appends() {
  std::lock_guard lock(mu_);
  sealed_ = true;
  return segments_.back()->summary().next_offset;
}

Status DiskLog::health() const {
  std::lock_guard lock(mu_);
  return failed_;
}

Status DiskLog::close() {
  std::lock_guard lock(mu_);
  if (closed_) return {};
  closed_ = true;
  if (failed_.ok() && options_.durability == Durability::kOs && active_target_) {
    // A clean shutdown in kOs mode still leaves the data on disk; with everything synced, the
    // high-water mark comes down to the end, so the next open continues without a gap.
    FRESHET_RETURN_IF_ERROR(sync_locked(active_target_));
    const uint64_t end = segments_.back()->summary().next_offset;
    if (hwm_file_ && reserved_ > end) return write_hwm_locked(end);
  }
  return {};
}

}  // namespace freshet::log

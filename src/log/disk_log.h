// DiskLog: the segmented, CRC-checked, group-committed log of one shard on local disk.
//
// Files: <dir>/<base>.log (batches), <base>.idx and <base>.tix (sealed segments' indexes).
// The last segment is active: appends go to it; it rolls past options.segment_bytes or when
// its first record is older than options.segment_ms.
//
// Concurrency: mu_ guards the segment list, the active segment's state and indexes, failed_,
// closed_ and the retention options. Appenders encode and checksum outside mu_, write under
// it, and wait for the group commit outside it. Readers hold mu_ only to locate a position;
// file reads run unlocked (segments are shared_ptr, so retention may unlink a file while a
// reader still holds it open). committed_tip_ only grows, and only past fully written and
// (in kFsync mode) synced batches, so readers never see a torn or unsynced batch.
// A roll syncs the segment it seals under mu_; the appender that sees the roll coming syncs
// that segment once without mu_ first (presync_before_roll), so the sync under the lock has
// only the last batches to flush.
// Lock order: DiskLog::mu_ before GroupCommitter::mu_.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/log_limiter.h"
#include "freshet/log/log.h"
#include "group_committer.h"
#include "segment.h"

namespace freshet::log {

class DiskLog final : public Log {
 public:
  // committer may be null: syncs then run on the appending thread. wal_name: the log's name
  // in the committer's write-ahead log; empty: never use the WAL.
  static Result<std::shared_ptr<DiskLog>> open(const std::string& dir, const LogOptions& options,
                                               std::shared_ptr<FileSystem> fs,
                                               GroupCommitter* committer,
                                               std::string wal_name = {});
  ~DiskLog() override;

  Result<PendingAppend> begin_append(std::span<const Record> records) override;
  Result<uint64_t> complete_append(PendingAppend pending) override;
  void complete_append_async(PendingAppend pending, AppendCallback done) override;
  Result<ReadResult> read(uint64_t from, size_t max_records, size_t max_bytes) const override;
  Result<uint64_t> offset_for_timestamp(int64_t ts_ms) const override;
  uint64_t committed_tip() const override { return committed_tip_.load(std::memory_order_acquire); }
  uint64_t next_offset() const override;
  uint64_t trim_horizon() const override { return trim_horizon_.load(std::memory_order_acquire); }
  int64_t last_timestamp_ms() const override { return last_ts_.load(std::memory_order_acquire); }
  void set_retention(int64_t retention_ms, uint64_t retention_bytes) override;
  Result<size_t> enforce_retention(int64_t now_ms) override;
  LogCounters counters() const override;
  Status close() override;
  Status health() const override;
  Result<uint64_t> seal_appends() override;

  size_t segment_count() const;

  // Recovery from the write-ahead log: appends `batch` (a whole encoded batch) unchanged if it
  // is the next one, returns false if the log already has it, and kCorruption if it is
  // damaged or would leave a gap. Nothing is synced; call sync() after the last one.
  Result<bool> restore_batch(std::string_view batch);
  // fdatasyncs the active segment.
  Status sync();

 private:
  DiskLog(std::string dir, const LogOptions& options, std::shared_ptr<FileSystem> fs,
          GroupCommitter* committer, std::string wal_name);
  // Rolls the active segment if `batch_bytes` more (first record at first_ts) would overfill
  // it or it is too old. REQUIRES: mu_ held.
  Status roll_if_due_locked(uint64_t batch_bytes, int64_t first_ts);
  Status recover();
  Status open_sealed(uint64_t base, uint64_t next_base);
  Status open_tail(uint64_t base);
  // What the intact batches in (from, size) of a damaged tail segment say: whether there are
  // any, the largest offset they reach, and the largest synced floor they carry.
  struct AfterDamage {
    bool intact = false;
    uint64_t next_offset = 0;
    uint64_t synced_floor = 0;
  };
  Result<AfterDamage> scan_after_damage(const File& file, uint64_t from, uint64_t size) const;
  // Copies bytes [from, size) of a damaged tail to `path`, durably, before they are cut.
  Status keep_aside(const File& file, uint64_t from, uint64_t size, const std::string& path);
  // Seals the active segment and starts the next at next_base (its end, or above it to skip
  // offsets after a kOs power loss). REQUIRES: mu_ held.
  Status roll_locked(uint64_t next_base);
  Status roll_locked();                                                  // REQUIRES: mu_ held
  // Syncs the active segment without mu_ before a roll that will sync it under mu_.
  void presync_before_roll();
  // kOs high-water mark (<dir>/hwm, docs/format.md): the largest durable reservation, 0 if
  // none. REQUIRES: mu_ held.
  Result<uint64_t> read_hwm_locked();
  // Makes offsets below `end` safe to hand out: persists a reservation reaching past it.
  // REQUIRES: mu_ held.
  Status reserve_offsets_locked(uint64_t end);
  // Writes `value` as the high-water mark (the next slot, fdatasync). REQUIRES: mu_ held.
  Status write_hwm_locked(uint64_t value);
  // Recovery in kOs: continues the log at `base` (above the recovered end), so offsets that
  // may have been handed out before a power loss are never reused. REQUIRES: mu_ held.
  Status skip_to_locked(uint64_t base);
  Status sync_locked(const std::shared_ptr<GroupCommitter::Target>& t);  // REQUIRES: mu_ held
  Status fail_locked(const Status& cause);                               // REQUIRES: mu_ held
  void advance_tip(uint64_t end, int64_t max_ts);
  // The end of complete_append once the sync's outcome is known.
  Result<uint64_t> finish_append(const PendingAppend& p, const Status& synced);
  void count_corruption() const { corrupt_batches_.fetch_add(1, std::memory_order_relaxed); }

  const std::string dir_;
  const std::shared_ptr<FileSystem> fs_;
  GroupCommitter* const committer_;
  const std::string wal_name_;

  mutable std::mutex mu_;
  LogOptions options_;                                     // guarded by mu_
  std::vector<std::shared_ptr<Segment>> segments_;         // guarded by mu_; back() is active
  std::shared_ptr<GroupCommitter::Target> active_target_;  // guarded by mu_
  Status failed_;                                          // guarded by mu_
  bool closed_ = false;                                    // guarded by mu_
  bool sealed_ = false;                                    // guarded by mu_
  uint64_t reserved_ = 0;            // guarded by mu_; kOs: offsets below it may be handed out
  std::unique_ptr<File> hwm_file_;   // guarded by mu_; kOs: <dir>/hwm, open once written
  uint64_t unflushed_bytes_ = 0;     // guarded by mu_; kOs: appended since the last write-back
  uint64_t hwm_writes_ = 0;          // guarded by mu_; the next write's generation (and slot)

  // The active segment's size, mirrored (relaxed) wherever it changes under mu_, so that an
  // appender can see a roll coming without the lock (presync_before_roll).
  std::atomic<uint64_t> active_bytes_{0};
  std::atomic<uint64_t> committed_tip_{0};
  std::atomic<uint64_t> trim_horizon_{0};
  std::atomic<int64_t> last_ts_{0};
  // Bytes a record takes in the segments (its batch's share included), as the last read that
  // scanned enough records saw: reads size their read-ahead by it, so that reading N records
  // takes one or two file reads, not one per few kilobytes (relaxed: only a hint).
  mutable std::atomic<uint32_t> read_record_bytes_{192};

  std::atomic<uint64_t> appended_batches_{0};
  std::atomic<uint64_t> appended_records_{0};
  std::atomic<uint64_t> appended_bytes_{0};
  std::atomic<uint64_t> syncs_{0};
  mutable std::atomic<uint64_t> corrupt_batches_{0};
  std::atomic<uint64_t> recovery_truncated_bytes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> sync_errors_{0};
  std::atomic<uint64_t> segments_deleted_{0};
  std::atomic<uint64_t> damaged_tails_{0};
  std::atomic<uint64_t> skipped_offsets_{0};
  LogLimiter error_log_;  // failed appends reach the log once a second
};

}  // namespace freshet::log

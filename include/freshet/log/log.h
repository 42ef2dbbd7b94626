// The shard log: an append-only sequence of records numbered by increasing 64-bit offsets.
// Offsets are dense except where a log in kOs durability lost its unsynced tail to a power
// loss: it then skips ahead past every offset it may have handed out (see LogOptions::
// os_offset_reserve), so an offset never names two different records. Readers step over
// such a gap as if it were not there.
//
// Two implementations share this interface: DiskLog (segmented files, CRC-checked batches,
// sparse indexes, group-committed fsync; see docs/format.md) and MemoryLog (for fast tests of
// the layers above). Both are thread-safe: any number of threads may append and read at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::log {

// Bounds enforced by every implementation (the API layer enforces AWS's tighter ones).
inline constexpr size_t kMaxDataBytes = 10 * 1024 * 1024;   // Kinesis' largest record
inline constexpr size_t kMaxPartitionKeyBytes = 4096;       // 256 UTF-8 chars fit easily
inline constexpr size_t kMaxExplicitHashKeyBytes = 64;      // a 128-bit decimal has 39 digits
inline constexpr size_t kMaxBatchRecords = 100000;
inline constexpr size_t kMaxBatchPayloadBytes = 256 * 1024 * 1024;

// A record to append. The views must stay valid for the duration of append().
struct Record {
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty when absent
  std::string_view data;
  int64_t timestamp_ms = 0;            // arrival time, milliseconds since the Unix epoch
};

// A record read back. Its views point into the ReadResult that holds it.
struct StoredRecord {
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string_view partition_key;
  std::string_view explicit_hash_key;
  std::string_view data;
};

struct ReadResult {
  std::vector<StoredRecord> records;
  uint64_t next_offset = 0;  // where the next read continues
  std::shared_ptr<const void> storage;  // keeps the bytes behind `records` alive
};

enum class Durability {
  kFsync,  // acknowledged once fdatasync returned (shared among appenders: group commit)
  kOs,     // acknowledged once write() returned; a machine crash may lose recent records,
           // never reuses their offsets (see LogOptions::os_offset_reserve)
};

struct LogOptions {
  Durability durability = Durability::kFsync;
  uint64_t segment_bytes = 64ull << 20;        // roll the active segment past this size
  int64_t segment_ms = 60ll * 60 * 1000;       // ...or when its first record is this old
  int64_t retention_ms = 24ll * 60 * 60 * 1000;  // <= 0: keep forever
  uint64_t retention_bytes = 0;                // 0: no size limit
  uint32_t index_interval_bytes = 4096;        // one sparse index entry per this many bytes
  // kOs only: offsets are reserved this many at a time in a durable high-water mark
  // (<dir>/hwm, one fdatasync per reservation). After a power loss the log continues above
  // the mark, so acknowledged-then-lost records never see their offsets (and sequence
  // numbers) reused. Larger: fewer syncs, bigger gaps after a power loss.
  uint64_t os_offset_reserve = 1u << 20;
};

// Monotonic counters, for metrics.
struct LogCounters {
  uint64_t appended_batches = 0;
  uint64_t appended_records = 0;
  uint64_t appended_bytes = 0;       // bytes written to segment files
  uint64_t syncs = 0;                // fdatasync calls this log waited on or made
  uint64_t corrupt_batches = 0;      // batches that failed a check on read or open
  uint64_t recovery_truncated_bytes = 0;
  uint64_t write_errors = 0;
  uint64_t sync_errors = 0;
  uint64_t segments_deleted = 0;
  uint64_t recovery_damaged_tails = 0;  // tails cut with intact batches after the damage (kept aside)
  uint64_t recovery_skipped_offsets = 0;  // kOs: offsets skipped after a power loss
};

// An append that has been written but is not yet acknowledged (see Log::begin_append).
struct PendingAppend {
  uint64_t first_offset = 0;
  uint64_t end_offset = 0;  // one past the last record
  int64_t max_timestamp_ms = 0;
  uint64_t ticket = 0;                 // group-commit round to wait for (DiskLog)
  std::shared_ptr<void> sync_target;   // what to wait on; null when nothing is left to wait for
};

class Log {
 public:
  virtual ~Log() = default;

  // Appends the records as one batch. Returns the offset of the first; the others of the
  // batch follow densely. Returns only once the batch is durable per the log's Durability. On error no
  // record of the batch is ever served.
  Result<uint64_t> append(std::span<const Record> records) {
    auto pending = begin_append(records);
    if (!pending.ok()) return pending.error();
    return complete_append(std::move(pending).value());
  }

  // The two halves of append(), so that one caller can write to several logs and then wait
  // for all of their syncs at once (they share group-commit rounds). begin_append writes the
  // batch; complete_append waits until it is durable, makes it visible to readers, and
  // returns its first offset. Every begun append must be completed.
  virtual Result<PendingAppend> begin_append(std::span<const Record> records) = 0;
  virtual Result<uint64_t> complete_append(PendingAppend pending) = 0;

  // complete_append without blocking: done receives what complete_append would return, on
  // whichever thread finishes the sync (the group-commit thread for DiskLog) or inline. done
  // must be quick (post to an executor) and must not block. The log must stay alive until
  // done has run. The default completes inline.
  using AppendCallback = std::function<void(Result<uint64_t>)>;
  virtual void complete_append_async(PendingAppend pending, AppendCallback done) {
    done(complete_append(std::move(pending)));
  }

  // Reads records with offsets in [from, committed_tip()), at most max_records of them and
  // at most max_bytes of partition key plus data, but at least one record when one is there.
  // from < trim_horizon() is an error (kOutOfRange); from >= committed_tip() returns nothing.
  // A batch that fails its CRC is an error (kCorruption), never skipped.
  virtual Result<ReadResult> read(uint64_t from, size_t max_records, size_t max_bytes) const = 0;

  // The offset of the first record whose timestamp is >= ts_ms, or committed_tip() if none.
  // Timestamps need not be monotonic; the answer is the first such record in offset order.
  virtual Result<uint64_t> offset_for_timestamp(int64_t ts_ms) const = 0;

  // One past the last record readers may see (durable per the Durability setting).
  virtual uint64_t committed_tip() const = 0;
  // The offset the next append will get: committed_tip() plus every begun append.
  virtual uint64_t next_offset() const = 0;
  // The oldest offset still stored.
  virtual uint64_t trim_horizon() const = 0;
  // The timestamp of the last committed record, or 0 when the log has never had one.
  virtual int64_t last_timestamp_ms() const = 0;

  virtual void set_retention(int64_t retention_ms, uint64_t retention_bytes) = 0;
  // Deletes whole segments whose records are all older than now_ms - retention_ms, and the
  // oldest segments while the log is over retention_bytes. Returns the number deleted.
  virtual Result<size_t> enforce_retention(int64_t now_ms) = 0;

  virtual LogCounters counters() const = 0;

  // Flushes and closes. Further appends fail with kClosed. Idempotent.
  virtual Status close() = 0;
  // OK, or why the log stopped accepting appends (a failed fdatasync; see group_committer.h).
  // A failed log is reopened (LogStore::reopen_log) to serve writes again.
  virtual Status health() const { return {}; }
  // Stops taking appends (a shard closed by a reshard): later begin_append() calls fail with
  // kResourceInUse. Returns next_offset() at that moment, the log's final end. Idempotent.
  virtual Result<uint64_t> seal_appends() = 0;
};

// An in-memory log with the same semantics (retention by age and size included).
std::unique_ptr<Log> make_memory_log(const LogOptions& options);

}  // namespace freshet::log

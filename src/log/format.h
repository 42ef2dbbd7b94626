// On-disk framing of the shard log. docs/format.md is the reference; keep the two in step.
//
// A segment file (<base offset>.log) is a sequence of batches:
//
//   +------------------ batch header: 64 bytes, little-endian ------------------+
//   |  0 u32 magic "FSHB" | 4 u16 version | 6 u16 flags | 8 u32 header_crc     |
//   | 12 u32 payload_crc  | 16 u64 base_offset         | 24 u32 record_count    |
//   | 28 u32 payload_size | 32 i64 first_timestamp_ms  | 40 i64 max_timestamp_ms|
//   | 48 u64 synced_floor | 56 u64 reserved (0)                                 |
//   +---------------------------------------------------------------------------+
//   | payload: record_count records                                             |
//   +---------------------------------------------------------------------------+
//
//   header_crc  = CRC32C of header bytes [12, 64)
//   payload_crc = CRC32C of the payload
//   synced_floor = how many bytes of this segment were known durable (fdatasynced) when the
//                  batch was written; at most the batch's own position; 0 = unknown. Recovery
//                  uses it to tell damage to durable bytes from a torn tail (disk_log.cc).
//
//   record: 0 u32 body_size (bytes after this field) | 4 i64 timestamp_ms |
//           12 u16 partition_key_size | 14 u16 explicit_hash_key_size | 16 u32 data_size |
//           20 partition key | explicit hash key | data
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "freshet/common/result.h"
#include "freshet/log/log.h"

namespace freshet::log::format {

inline constexpr uint32_t kBatchMagic = 0x42485346;  // bytes "FSHB"
inline constexpr uint16_t kBatchVersion = 1;
inline constexpr size_t kBatchHeaderSize = 64;
inline constexpr size_t kRecordHeaderSize = 20;

// Flags (reserved; version 1 writes 0 and rejects unknown bits).
inline constexpr uint16_t kFlagsKnownMask = 0;

struct BatchHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t flags;
  uint32_t header_crc;
  uint32_t payload_crc;
  uint64_t base_offset;
  uint32_t record_count;
  uint32_t payload_size;
  int64_t first_timestamp_ms;
  int64_t max_timestamp_ms;
  uint64_t synced_floor;
  uint64_t reserved1;
};
static_assert(sizeof(BatchHeader) == kBatchHeaderSize, "batch header must pack to 64 bytes");

inline uint64_t batch_size(const BatchHeader& h) { return kBatchHeaderSize + h.payload_size; }
inline uint64_t next_offset(const BatchHeader& h) { return h.base_offset + h.record_count; }

// Bytes one record takes in a payload.
inline size_t encoded_record_size(const Record& r) {
  return kRecordHeaderSize + r.partition_key.size() + r.explicit_hash_key.size() + r.data.size();
}

// Checks each record against the log's bounds; returns the batch payload size.
Result<size_t> validate_records(std::span<const Record> records);

// Encodes a batch into `out` (resized to header + payload). The base offset and header CRC
// are left for seal_header(), so the payload and its CRC can be built outside any lock.
void encode_batch(std::span<const Record> records, std::string* out);

// Writes base_offset, synced_floor and header_crc into an encoded batch.
void seal_header(char* batch, uint64_t base_offset, uint64_t synced_floor = 0);

// Decodes a header field by field (never by memory layout).
BatchHeader decode_header(const void* p);
void encode_header(const BatchHeader& h, void* p);

// Checks magic, version, flags, header CRC and the size bound. Does not read the payload.
Status check_header(const BatchHeader& h, const void* raw);
// Checks the payload CRC and that the records parse exactly to payload_size.
Status check_payload(const BatchHeader& h, const void* payload);

// Calls fn(index, StoredRecord) for each record of a checked payload. Views point into
// `payload`. Returns false if fn returns false (stops early).
template <typename Fn>
bool for_each_record(const BatchHeader& h, const char* payload, Fn&& fn);

// Parses one record at p (with `avail` bytes available). Returns the bytes consumed or 0 when
// the record is malformed.
size_t parse_record(const char* p, size_t avail, StoredRecord* out);

template <typename Fn>
bool for_each_record(const BatchHeader& h, const char* payload, Fn&& fn) {
  size_t pos = 0;
  for (uint32_t i = 0; i < h.record_count; ++i) {
    StoredRecord r;
    size_t used = parse_record(payload + pos, h.payload_size - pos, &r);
    if (used == 0) return false;
    r.offset = h.base_offset + i;
    pos += used;
    if (!fn(i, r)) return false;
  }
  return true;
}

}  // namespace freshet::log::format

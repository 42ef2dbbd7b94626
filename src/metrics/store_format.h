// On-disk framing of the metric store. docs/format.md ("Metric store") is the reference; keep
// the two in step.
//
// A tier file (<dir>/t<res>/<file start>.fmb) is a sequence of batches:
//
//   +------------------ batch header: 48 bytes, little-endian ------------------+
//   |  0 u32 magic "FMB1" | 4 u32 header_crc | 8 u16 version | 10 u16 res (s)   |
//   | 12 u16 flags        | 14 u16 reserved (0)  | 16 u32 entries | 20 u32 (0)  |
//   | 24 i64 min_t        | 32 i64 max_t         | 40 u64 body_bytes            |
//   +---------------------------------------------------------------------------+
//   | body: `entries` chunks back to back                                       |
//   +---------------------------------------------------------------------------+
//   | index: `entries` x { 0 u32 series | 4 u32 length | 8 u64 offset |         |
//   |                      16 i64 chunk start }  (24 bytes, sorted by series,   |
//   |                      then start; offset from the start of the file)       |
//   +---------------------------------------------------------------------------+
//   header_crc = CRC32C of header bytes [8, 48) followed by the index.
//   min_t/max_t: the seconds the batch's chunks cover, [min_t, max_t).
//   flags: bit 0 = an hourly rollup of the t1 hour [min_t, max_t) (t60 and t300 files);
//          bit 1 = runs (t1 only, written at the hourly rollup): each index entry addresses
//          one series' chunks of the hour [min_t, max_t), back to back (a run; entry start =
//          min_t), so a query reads a series' hour with one pread.
//
//   chunk: 0 u32 crc (CRC32C of bytes [4, end)) | 4 u32 series | 8 i64 start |
//          16 u16 res | 18 u8 mode | 19 u8 sketches | 20 u64 present (bit i: slot i) |
//          28 values: for each present slot, mode 0: f64 value (sum = min = max, count 1);
//                     mode 1: f64 sum, f64 count, f64 min, f64 max |
//          then `sketches` x { u8 slot | u16 n | n x { i16 bucket | u32 count } }
//   Slot i holds the datapoint of second start + i * res.
//
// The series catalog (<dir>/series.fmc) is a sequence of records:
//   0 u32 crc (of bytes [4, 8 + length)) | 4 u32 length | 8 u32 id | 12 u16 ns length, ns |
//   u16 name length, name | u16 unit length, unit | u8 dims | dims x {u16 n, name, u16 n, value}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/metrics/store.h"

namespace freshet::metrics::format {

inline constexpr uint32_t kBatchMagic = 0x31424D46;  // bytes "FMB1"
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kBatchHeaderSize = 48;
inline constexpr size_t kIndexEntrySize = 24;
inline constexpr size_t kChunkHeaderSize = 28;
inline constexpr uint16_t kFlagRollup = 1;
inline constexpr uint16_t kFlagRuns = 2;
inline constexpr size_t kMaxSlots = 64;

struct BatchHeader {
  uint16_t res = 0;
  uint16_t flags = 0;
  uint32_t entries = 0;
  int64_t min_t = 0;
  int64_t max_t = 0;
  uint64_t body_bytes = 0;
};

struct IndexEntry {
  uint32_t series = 0;
  uint32_t length = 0;
  uint64_t offset = 0;
  int64_t start = 0;
};

// Header bytes with the CRC over header and index filled in.
std::string encode_batch_header(const BatchHeader& h, std::string_view index);
// Checks magic and version; the CRC is checked by verify_batch_crc once the index is read.
Result<BatchHeader> decode_batch_header(std::string_view bytes);
bool verify_batch_crc(std::string_view header, std::string_view index);
void append_index_entry(const IndexEntry& e, std::string& out);
IndexEntry decode_index_entry(const char* p);

// One datapoint slot of a chunk.
struct Slot {
  Stat stat;
  Sketch sketch;
};

// Encodes slots [0, n) of which `present` marks the used ones.
std::string encode_chunk(uint32_t series, int64_t start, uint16_t res, uint64_t present,
                         const Slot* slots, size_t n);

struct DecodedChunk {
  uint32_t series = 0;
  int64_t start = 0;
  uint16_t res = 0;
  uint64_t present = 0;
  std::vector<Slot> slots;  // kMaxSlots entries; only present ones are meaningful
};
// kCorruption on a bad CRC or bounds.
Result<DecodedChunk> decode_chunk(std::string_view bytes);
// The size of the chunk at the front of `bytes` (a run holds chunks back to back), read from
// its header and sketch counts; kCorruption if it does not fit in `bytes`.
Result<size_t> chunk_size(std::string_view bytes);

std::string encode_series_record(const SeriesInfo& s);
// Decodes one record at the front of `bytes`; sets `consumed`. kCorruption for a torn or bad
// record (the caller truncates the catalog there).
Result<SeriesInfo> decode_series_record(std::string_view bytes, size_t& consumed);

}  // namespace freshet::metrics::format

#include "format.h"

#include <algorithm>
#include <cstring>

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"

namespace freshet::log::format {

Result<size_t> validate_records(std::span<const Record> records) {
  if (records.empty()) return Error(ErrorCode::kInvalidArgument, "a batch needs a record");
  if (records.size() > kMaxBatchRecords) {
    return Error(ErrorCode::kInvalidArgument,
                 "a batch holds at most " + std::to_string(kMaxBatchRecords) + " records");
  }
  size_t total = 0;
  for (const Record& r : records) {
    if (r.data.size() > kMaxDataBytes) {
      return Error(ErrorCode::kInvalidArgument,
                   "record data over " + std::to_string(kMaxDataBytes) + " bytes");
    }
    if (r.partition_key.size() > kMaxPartitionKeyBytes) {
      return Error(ErrorCode::kInvalidArgument, "partition key too long");
    }
    if (r.explicit_hash_key.size() > kMaxExplicitHashKeyBytes) {
      return Error(ErrorCode::kInvalidArgument, "explicit hash key too long");
    }
    total += encoded_record_size(r);
  }
  if (total > kMaxBatchPayloadBytes) {
    return Error(ErrorCode::kInvalidArgument,
                 "batch payload over " + std::to_string(kMaxBatchPayloadBytes) + " bytes");
  }
  return total;
}

void encode_header(const BatchHeader& h, void* out) {
  auto* p = static_cast<char*>(out);
  le::store<uint32_t>(p + 0, h.magic);
  le::store<uint16_t>(p + 4, h.version);
  le::store<uint16_t>(p + 6, h.flags);
  le::store<uint32_t>(p + 8, h.header_crc);
  le::store<uint32_t>(p + 12, h.payload_crc);
  le::store<uint64_t>(p + 16, h.base_offset);
  le::store<uint32_t>(p + 24, h.record_count);
  le::store<uint32_t>(p + 28, h.payload_size);
  le::store<int64_t>(p + 32, h.first_timestamp_ms);
  le::store<int64_t>(p + 40, h.max_timestamp_ms);
  le::store<uint64_t>(p + 48, h.synced_floor);
  le::store<uint64_t>(p + 56, h.reserved1);
}

BatchHeader decode_header(const void* in) {
  const auto* p = static_cast<const char*>(in);
  BatchHeader h{};
  h.magic = le::load<uint32_t>(p + 0);
  h.version = le::load<uint16_t>(p + 4);
  h.flags = le::load<uint16_t>(p + 6);
  h.header_crc = le::load<uint32_t>(p + 8);
  h.payload_crc = le::load<uint32_t>(p + 12);
  h.base_offset = le::load<uint64_t>(p + 16);
  h.record_count = le::load<uint32_t>(p + 24);
  h.payload_size = le::load<uint32_t>(p + 28);
  h.first_timestamp_ms = le::load<int64_t>(p + 32);
  h.max_timestamp_ms = le::load<int64_t>(p + 40);
  h.synced_floor = le::load<uint64_t>(p + 48);
  h.reserved1 = le::load<uint64_t>(p + 56);
  return h;
}

void encode_batch(std::span<const Record> records, std::string* out) {
  size_t payload = 0;
  int64_t first_ts = records.front().timestamp_ms;
  int64_t max_ts = first_ts;
  for (const Record& r : records) {
    payload += encoded_record_size(r);
    max_ts = std::max(max_ts, r.timestamp_ms);
  }
  // resize_and_overwrite would skip zero-filling; the header is small and payload is copied
  // over at once, so a plain resize costs one memset pass.
  out->resize(kBatchHeaderSize + payload);
  char* p = out->data() + kBatchHeaderSize;
  for (const Record& r : records) {
    const auto pk = static_cast<uint16_t>(r.partition_key.size());
    const auto ehk = static_cast<uint16_t>(r.explicit_hash_key.size());
    const auto data = static_cast<uint32_t>(r.data.size());
    le::store<uint32_t>(p, static_cast<uint32_t>(kRecordHeaderSize - 4 + pk + ehk + data));
    le::store<int64_t>(p + 4, r.timestamp_ms);
    le::store<uint16_t>(p + 12, pk);
    le::store<uint16_t>(p + 14, ehk);
    le::store<uint32_t>(p + 16, data);
    p += kRecordHeaderSize;
    // Empty views may carry a null pointer, which memcpy must not get even for 0 bytes.
    if (pk != 0) std::memcpy(p, r.partition_key.data(), pk);
    p += pk;
    if (ehk != 0) std::memcpy(p, r.explicit_hash_key.data(), ehk);
    p += ehk;
    if (data != 0) std::memcpy(p, r.data.data(), data);
    p += data;
  }
  BatchHeader h{};
  h.magic = kBatchMagic;
  h.version = kBatchVersion;
  h.flags = 0;
  h.payload_crc = crc32c::value(out->data() + kBatchHeaderSize, payload);
  h.record_count = static_cast<uint32_t>(records.size());
  h.payload_size = static_cast<uint32_t>(payload);
  h.first_timestamp_ms = first_ts;
  h.max_timestamp_ms = max_ts;
  encode_header(h, out->data());
}

void seal_header(char* batch, uint64_t base_offset, uint64_t synced_floor) {
  le::store<uint64_t>(batch + 16, base_offset);
  le::store<uint64_t>(batch + 48, synced_floor);
  le::store<uint32_t>(batch + 8, crc32c::value(batch + 12, kBatchHeaderSize - 12));
}

Status check_header(const BatchHeader& h, const void* raw) {
  if (h.magic != kBatchMagic) return Error(ErrorCode::kCorruption, "bad batch magic");
  const auto* p = static_cast<const char*>(raw);
  if (crc32c::value(p + 12, kBatchHeaderSize - 12) != h.header_crc) {
    return Error(ErrorCode::kCorruption, "batch header CRC mismatch");
  }
  if (h.version != kBatchVersion) {
    return Error(ErrorCode::kCorruption, "unknown batch version " + std::to_string(h.version));
  }
  if ((h.flags & ~kFlagsKnownMask) != 0) {
    return Error(ErrorCode::kCorruption, "unknown batch flags " + std::to_string(h.flags));
  }
  if (h.reserved1 != 0) {
    return Error(ErrorCode::kCorruption, "reserved batch header bytes are not zero");
  }
  if (h.record_count == 0 || h.record_count > kMaxBatchRecords ||
      h.payload_size > kMaxBatchPayloadBytes ||
      static_cast<uint64_t>(h.payload_size) < uint64_t{h.record_count} * kRecordHeaderSize) {
    return Error(ErrorCode::kCorruption, "batch sizes out of bounds");
  }
  return {};
}

size_t parse_record(const char* p, size_t avail, StoredRecord* out) {
  if (avail < kRecordHeaderSize) return 0;
  const uint32_t body = le::load<uint32_t>(p);
  const uint16_t pk = le::load<uint16_t>(p + 12);
  const uint16_t ehk = le::load<uint16_t>(p + 14);
  const uint32_t data = le::load<uint32_t>(p + 16);
  const uint64_t need = uint64_t{kRecordHeaderSize} + pk + ehk + data;
  if (need != uint64_t{body} + 4 || need > avail) return 0;
  out->timestamp_ms = le::load<int64_t>(p + 4);
  const char* q = p + kRecordHeaderSize;
  out->partition_key = std::string_view(q, pk);
  out->explicit_hash_key = std::string_view(q + pk, ehk);
  out->data = std::string_view(q + pk + ehk, data);
  return static_cast<size_t>(need);
}

Status check_payload(const BatchHeader& h, const void* payload) {
  if (crc32c::value(payload, h.payload_size) != h.payload_crc) {
    return Error(ErrorCode::kCorruption, "batch payload CRC mismatch");
  }
  size_t pos = 0;
  const auto* p = static_cast<const char*>(payload);
  int64_t max_ts = 0;
  for (uint32_t i = 0; i < h.record_count; ++i) {
    StoredRecord r;
    size_t used = parse_record(p + pos, h.payload_size - pos, &r);
    if (used == 0) return Error(ErrorCode::kCorruption, "malformed record in batch");
    if (i == 0 && r.timestamp_ms != h.first_timestamp_ms) {
      return Error(ErrorCode::kCorruption, "first record's timestamp differs from the header's");
    }
    max_ts = i == 0 ? r.timestamp_ms : std::max(max_ts, r.timestamp_ms);
    pos += used;
  }
  if (pos != h.payload_size) return Error(ErrorCode::kCorruption, "trailing bytes in batch");
  if (max_ts != h.max_timestamp_ms) {
    return Error(ErrorCode::kCorruption, "largest record timestamp differs from the header's");
  }
  return {};
}

}  // namespace freshet::log::format

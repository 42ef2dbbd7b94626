// The object file: one object's header and bytes in one file, so that a rename publishes
// both at once (docs/format.md, "Object files").
//
//   +--------+---------+------------+------------+------------------+----------------+
//   | "FOBJ" | version | header_len | header_crc | header (fields)  | object bytes   |
//   | 4 B    | u32 LE  | u32 LE     | u32 LE     | header_len bytes | size bytes     |
//   +--------+---------+------------+------------+------------------+----------------+
//   header fields, in order: u64 size, i64 last_modified_ms, then strings (u32 LE length +
//   bytes): key, etag, content_type, content_encoding, cache_control, content_disposition;
//   u32 metadata count, then (name, value) string pairs.
//   header_crc = CRC32C of the header fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "freshet/common/file.h"
#include "freshet/objstore/object_store.h"

namespace freshet::objstore {

inline constexpr std::string_view kObjectMagic = "FOBJ";
inline constexpr uint32_t kObjectVersion = 1;
inline constexpr size_t kObjectPrefixBytes = 16;  // magic, version, header_len, header_crc
inline constexpr uint32_t kMaxHeaderBytes = 1 << 20;

// The prefix and header for info (info.size is the number of bytes that follow).
std::string encode_object_header(const ObjectInfo& info);

struct ObjectHeader {
  ObjectInfo info;
  uint64_t data_offset = 0;
};
// Reads and checks the header of an object file; kCorruption if it is damaged.
Result<ObjectHeader> read_object_header(const File& file);

// Writes header + bytes to a new file at path and fsyncs it.
Status write_object_file(FileSystem& fs, const std::string& path, const ObjectInfo& info,
                         std::string_view bytes);

}  // namespace freshet::objstore

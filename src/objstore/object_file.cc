#include "object_file.h"

#include <cstring>

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"

namespace freshet::objstore {
namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads fields from the header bytes; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool u32(uint32_t& v) {
    if (s_.size() < 4) return false;
    v = get_u32(s_.data());
    s_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    if (s_.size() < 8) return false;
    v = get_u64(s_.data());
    s_.remove_prefix(8);
    return true;
  }
  bool str(std::string& v) {
    uint32_t n = 0;
    if (!u32(n) || s_.size() < n) return false;
    v.assign(s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  bool done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

}  // namespace

std::string encode_object_header(const ObjectInfo& info) {
  std::string fields;
  put_u64(fields, info.size);
  put_u64(fields, static_cast<uint64_t>(info.last_modified_ms));
  put_str(fields, info.key);
  put_str(fields, info.etag);
  const ObjectAttributes& a = info.attributes;
  put_str(fields, a.content_type);
  put_str(fields, a.content_encoding);
  put_str(fields, a.cache_control);
  put_str(fields, a.content_disposition);
  put_u32(fields, static_cast<uint32_t>(a.metadata.size()));
  for (const auto& [k, v] : a.metadata) {
    put_str(fields, k);
    put_str(fields, v);
  }
  std::string out;
  out.reserve(kObjectPrefixBytes + fields.size());
  out.append(kObjectMagic);
  put_u32(out, kObjectVersion);
  put_u32(out, static_cast<uint32_t>(fields.size()));
  put_u32(out, crc32c::value(fields));
  out.append(fields);
  return out;
}

Result<ObjectHeader> read_object_header(const File& file) {
  char prefix[kObjectPrefixBytes];
  FRESHET_ASSIGN_OR_RETURN(size_t got, file.read_at(prefix, sizeof(prefix), 0));
  auto corrupt = [&](const char* what) {
    return Error(ErrorCode::kCorruption, std::string("object file ") + file.path() + ": " + what);
  };
  if (got != sizeof(prefix) || std::string_view(prefix, 4) != kObjectMagic) {
    return corrupt("bad magic");
  }
  if (get_u32(prefix + 4) != kObjectVersion) return corrupt("unknown version");
  const uint32_t len = get_u32(prefix + 8);
  if (len > kMaxHeaderBytes) return corrupt("header too long");
  std::string fields(len, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got2, file.read_at(fields.data(), len, kObjectPrefixBytes));
  if (got2 != len) return corrupt("short header");
  if (crc32c::value(fields) != get_u32(prefix + 12)) return corrupt("header CRC mismatch");
  ObjectHeader h;
  ObjectInfo& info = h.info;
  Reader r(fields);
  uint64_t mtime = 0;
  uint32_t count = 0;
  ObjectAttributes& a = info.attributes;
  if (!r.u64(info.size) || !r.u64(mtime) || !r.str(info.key) || !r.str(info.etag) ||
      !r.str(a.content_type) || !r.str(a.content_encoding) || !r.str(a.cache_control) ||
      !r.str(a.content_disposition) || !r.u32(count)) {
    return corrupt("truncated header fields");
  }
  info.last_modified_ms = static_cast<int64_t>(mtime);
  for (uint32_t i = 0; i < count; ++i) {
    std::string k, v;
    if (!r.str(k) || !r.str(v)) return corrupt("truncated metadata");
    a.metadata.emplace_back(std::move(k), std::move(v));
  }
  if (!r.done()) return corrupt("trailing header bytes");
  h.data_offset = kObjectPrefixBytes + len;
  FRESHET_ASSIGN_OR_RETURN(uint64_t file_size, file.size());
  if (file_size != h.data_offset + info.size) return corrupt("size does not match the header");
  return h;
}

Status write_object_file(FileSystem& fs, const std::string& path, const ObjectInfo& info,
                         std::string_view bytes) {
  FRESHET_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.open(path, OpenMode::kCreate));
  FRESHET_RETURN_IF_ERROR(f->truncate(0));
  std::string header = encode_object_header(info);
  FRESHET_RETURN_IF_ERROR(f->write_at(header.data(), header.size(), 0));
  if (!bytes.empty()) FRESHET_RETURN_IF_ERROR(f->write_at(bytes.data(), bytes.size(), header.size()));
  return f->sync();
}

}  // namespace freshet::objstore

#include "store_format.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"

namespace freshet::metrics::format {
namespace {

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  le::store(b, v);
  out.append(b, sizeof(T));
}

void put_str(std::string& out, std::string_view s) {
  put<uint16_t>(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

// A bounded reader over untrusted bytes.
struct Reader {
  std::string_view b;
  size_t pos = 0;
  bool ok = true;
  template <typename T>
  T get() {
    if (!ok || b.size() - pos < sizeof(T)) {
      ok = false;
      return T{};
    }
    T v = le::load<T>(b.data() + pos);
    pos += sizeof(T);
    return v;
  }
  std::string str() {
    const uint16_t n = get<uint16_t>();
    if (!ok || b.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s(b.substr(pos, n));
    pos += n;
    return s;
  }
};

Error corrupt(const std::string& what) { return Error(ErrorCode::kCorruption, what); }

}  // namespace

std::string encode_batch_header(const BatchHeader& h, std::string_view index) {
  std::string out;
  out.reserve(kBatchHeaderSize);
  put<uint32_t>(out, kBatchMagic);
  put<uint32_t>(out, 0);  // crc, below
  put<uint16_t>(out, kVersion);
  put<uint16_t>(out, h.res);
  put<uint16_t>(out, h.flags);
  put<uint16_t>(out, 0);
  put<uint32_t>(out, h.entries);
  put<uint32_t>(out, 0);
  put<int64_t>(out, h.min_t);
  put<int64_t>(out, h.max_t);
  put<uint64_t>(out, h.body_bytes);
  uint32_t crc = crc32c::extend(0, out.data() + 8, kBatchHeaderSize - 8);
  crc = crc32c::extend(crc, index.data(), index.size());
  le::store(out.data() + 4, crc);
  return out;
}

Result<BatchHeader> decode_batch_header(std::string_view bytes) {
  if (bytes.size() < kBatchHeaderSize) return corrupt("short batch header");
  if (le::load<uint32_t>(bytes.data()) != kBatchMagic) return corrupt("bad batch magic");
  if (le::load<uint16_t>(bytes.data() + 8) != kVersion) return corrupt("unknown batch version");
  BatchHeader h;
  h.res = le::load<uint16_t>(bytes.data() + 10);
  h.flags = le::load<uint16_t>(bytes.data() + 12);
  h.entries = le::load<uint32_t>(bytes.data() + 16);
  h.min_t = le::load<int64_t>(bytes.data() + 24);
  h.max_t = le::load<int64_t>(bytes.data() + 32);
  h.body_bytes = le::load<uint64_t>(bytes.data() + 40);
  if ((h.flags & ~(kFlagRollup | kFlagRuns)) != 0) return corrupt("unknown batch flags");
  if (h.res == 0) return corrupt("zero resolution");
  return h;
}

bool verify_batch_crc(std::string_view header, std::string_view index) {
  uint32_t crc = crc32c::extend(0, header.data() + 8, kBatchHeaderSize - 8);
  crc = crc32c::extend(crc, index.data(), index.size());
  return crc == le::load<uint32_t>(header.data() + 4);
}

void append_index_entry(const IndexEntry& e, std::string& out) {
  put<uint32_t>(out, e.series);
  put<uint32_t>(out, e.length);
  put<uint64_t>(out, e.offset);
  put<int64_t>(out, e.start);
}

IndexEntry decode_index_entry(const char* p) {
  return IndexEntry{le::load<uint32_t>(p), le::load<uint32_t>(p + 4), le::load<uint64_t>(p + 8),
                    le::load<int64_t>(p + 16)};
}

std::string encode_chunk(uint32_t series, int64_t start, uint16_t res, uint64_t present,
                         const Slot* slots, size_t n) {
  bool simple = true;
  uint8_t nsketch = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(present >> i & 1)) continue;
    const Stat& s = slots[i].stat;
    if (!(s.count == 1 && s.min == s.sum && s.max == s.sum)) simple = false;
    if (!slots[i].sketch.empty()) ++nsketch;
  }
  std::string out;
  out.reserve(kChunkHeaderSize + n * (simple ? 8 : 32));
  put<uint32_t>(out, 0);
  put<uint32_t>(out, series);
  put<int64_t>(out, start);
  put<uint16_t>(out, res);
  out.push_back(static_cast<char>(simple ? 0 : 1));
  out.push_back(static_cast<char>(nsketch));
  put<uint64_t>(out, present);
  for (size_t i = 0; i < n; ++i) {
    if (!(present >> i & 1)) continue;
    const Stat& s = slots[i].stat;
    put<double>(out, s.sum);
    if (!simple) {
      put<double>(out, s.count);
      put<double>(out, s.min);
      put<double>(out, s.max);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!(present >> i & 1) || slots[i].sketch.empty()) continue;
    const Sketch& sk = slots[i].sketch;
    out.push_back(static_cast<char>(i));
    const size_t m = std::min<size_t>(sk.size(), 65535);
    put<uint16_t>(out, static_cast<uint16_t>(m));
    for (size_t j = 0; j < m; ++j) {
      put<int16_t>(out, sk[j].first);
      put<uint32_t>(out, sk[j].second);
    }
  }
  const uint32_t crc = crc32c::value(out.data() + 4, out.size() - 4);
  le::store(out.data(), crc);
  return out;
}

Result<DecodedChunk> decode_chunk(std::string_view bytes) {
  if (bytes.size() < kChunkHeaderSize) return corrupt("short chunk");
  if (crc32c::value(bytes.data() + 4, bytes.size() - 4) != le::load<uint32_t>(bytes.data())) {
    return corrupt("chunk crc mismatch");
  }
  Reader r{bytes, 4};
  DecodedChunk c;
  c.series = r.get<uint32_t>();
  c.start = r.get<int64_t>();
  c.res = r.get<uint16_t>();
  const uint8_t mode = r.get<uint8_t>();
  const uint8_t nsketch = r.get<uint8_t>();
  c.present = r.get<uint64_t>();
  if (mode > 1) return corrupt("unknown chunk mode");
  c.slots.resize(kMaxSlots);
  for (size_t i = 0; i < kMaxSlots; ++i) {
    if (!(c.present >> i & 1)) continue;
    Stat& s = c.slots[i].stat;
    s.sum = r.get<double>();
    if (mode == 0) {
      s.count = 1, s.min = s.sum, s.max = s.sum;
    } else {
      s.count = r.get<double>();
      s.min = r.get<double>();
      s.max = r.get<double>();
    }
  }
  for (uint8_t k = 0; k < nsketch && r.ok; ++k) {
    const uint8_t slot = r.get<uint8_t>();
    const uint16_t m = r.get<uint16_t>();
    if (!r.ok || slot >= kMaxSlots || (bytes.size() - r.pos) / 6 < m) return corrupt("bad sketch");
    Sketch& sk = c.slots[slot].sketch;
    sk.reserve(m);
    for (uint16_t j = 0; j < m; ++j) {
      const int16_t b = r.get<int16_t>();
      const uint32_t n = r.get<uint32_t>();
      sk.emplace_back(b, n);
    }
  }
  if (!r.ok || r.pos != bytes.size()) return corrupt("chunk size mismatch");
  return c;
}

Result<size_t> chunk_size(std::string_view bytes) {
  if (bytes.size() < kChunkHeaderSize) return corrupt("short chunk");
  const uint8_t mode = static_cast<uint8_t>(bytes[18]);
  const uint8_t nsketch = static_cast<uint8_t>(bytes[19]);
  if (mode > 1) return corrupt("unknown chunk mode");
  const uint64_t present = le::load<uint64_t>(bytes.data() + 20);
  size_t pos = kChunkHeaderSize + static_cast<size_t>(std::popcount(present)) * (mode ? 32 : 8);
  for (uint8_t k = 0; k < nsketch; ++k) {
    if (bytes.size() < pos + 3) return corrupt("short chunk sketch");
    pos += 3 + size_t{le::load<uint16_t>(bytes.data() + pos + 1)} * 6;
  }
  if (pos > bytes.size()) return corrupt("chunk longer than its run");
  return pos;
}

std::string encode_series_record(const SeriesInfo& s) {
  std::string body;
  put<uint32_t>(body, s.id);
  put_str(body, s.key.ns);
  put_str(body, s.key.name);
  put_str(body, s.unit);
  body.push_back(static_cast<char>(s.key.dims.size()));
  for (const Dimension& d : s.key.dims) {
    put_str(body, d.name);
    put_str(body, d.value);
  }
  std::string out;
  put<uint32_t>(out, 0);
  put<uint32_t>(out, static_cast<uint32_t>(body.size()));
  out += body;
  le::store(out.data(), crc32c::value(out.data() + 4, out.size() - 4));
  return out;
}

Result<SeriesInfo> decode_series_record(std::string_view bytes, size_t& consumed) {
  if (bytes.size() < 8) return corrupt("short series record");
  const uint32_t len = le::load<uint32_t>(bytes.data() + 4);
  if (len > 64 * 1024 || bytes.size() - 8 < len) return corrupt("torn series record");
  if (crc32c::value(bytes.data() + 4, 4 + len) != le::load<uint32_t>(bytes.data())) {
    return corrupt("series record crc mismatch");
  }
  Reader r{bytes.substr(8, len)};
  SeriesInfo s;
  s.id = r.get<uint32_t>();
  s.key.ns = r.str();
  s.key.name = r.str();
  s.unit = r.str();
  const uint8_t n = r.get<uint8_t>();
  for (uint8_t i = 0; i < n && r.ok; ++i) {
    Dimension d;
    d.name = r.str();
    d.value = r.str();
    s.key.dims.push_back(std::move(d));
  }
  if (!r.ok || r.pos != len) return corrupt("bad series record");
  consumed = 8 + len;
  return s;
}

}  // namespace freshet::metrics::format

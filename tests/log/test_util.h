#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "freshet/log/log.h"

namespace freshet::log {

inline std::string payload_for(uint64_t i, size_t size) {
  std::string s(size, '\0');
  for (size_t k = 0; k < size; ++k) s[k] = static_cast<char>((i * 977 + k * 13) & 0xff);
  return s;
}

// Appends `batches` batches of `per_batch` records; record i has key "k<i>", payload_for(i),
// timestamp 1000 + i.
inline Status fill(Log& log, uint64_t first, int batches, int per_batch, size_t size = 40) {
  uint64_t i = first;
  for (int b = 0; b < batches; ++b) {
    std::vector<std::string> keys;
    std::vector<std::string> data;
    for (int k = 0; k < per_batch; ++k) {
      keys.push_back("k" + std::to_string(i + k));
      data.push_back(payload_for(i + k, size));
    }
    std::vector<Record> recs;
    for (int k = 0; k < per_batch; ++k) {
      recs.push_back(Record{keys[k], "", data[k], static_cast<int64_t>(1000 + i + k)});
    }
    auto r = log.append(recs);
    if (!r.ok()) return r.error();
    if (*r != i) return Error(ErrorCode::kCorruption, "unexpected offset");
    i += per_batch;
  }
  return {};
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace freshet::log

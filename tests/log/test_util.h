#pragma once

#include <gtest/gtest.h>

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

// Reads [from, to) and checks that it holds exactly what fill() appended there.
inline void expect_range(const Log& log, uint64_t from, uint64_t to) {
  auto r = log.read(from, to - from, 1ull << 30);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->records.size(), to - from);
  for (uint64_t i = from; i < to; ++i) {
    const auto& rec = r->records[i - from];
    ASSERT_EQ(rec.offset, i);
    ASSERT_EQ(rec.partition_key, "k" + std::to_string(i));
    ASSERT_EQ(rec.data, payload_for(i, 40));
    ASSERT_EQ(rec.timestamp_ms, static_cast<int64_t>(1000 + i));
  }
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

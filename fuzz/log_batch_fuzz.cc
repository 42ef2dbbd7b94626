// libFuzzer target for the shard log's batch parser: arbitrary bytes as a segment file must
// never crash the scanner, and whatever it accepts must re-encode to the same bytes.
// Build: cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DFRESHET_FUZZ=ON
//        -DFRESHET_BUILD_TESTS=OFF -DFRESHET_BUILD_BENCH=OFF && cmake --build build/fuzz
// Run:   build/fuzz/fuzz/log_batch_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format.h"
#include "segment.h"

namespace {

// A read-only File over the fuzzer's bytes.
class BytesFile final : public freshet::File {
 public:
  explicit BytesFile(std::string bytes) : bytes_(std::move(bytes)) {}
  freshet::Status write_at(const void*, size_t, uint64_t) override {
    return freshet::Error(freshet::ErrorCode::kIoError, "read-only");
  }
  freshet::Result<size_t> read_at(void* data, size_t n, uint64_t offset) const override {
    if (offset >= bytes_.size()) return size_t{0};
    const size_t got = std::min<size_t>(n, bytes_.size() - offset);
    std::memcpy(data, bytes_.data() + offset, got);
    return got;
  }
  freshet::Status sync() override { return {}; }
  freshet::Status truncate(uint64_t) override { return {}; }
  freshet::Result<uint64_t> size() const override { return uint64_t{bytes_.size()}; }
  const std::string& path() const override { return path_; }

 private:
  std::string bytes_;
  std::string path_ = "<fuzz>";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace freshet::log;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  // Seeds start at base offset 0; also try the offset the first header claims.
  BytesFile file(bytes);
  freshet::Status problem;
  std::string rebuilt;
  auto end = scan_segment(file, 0, &problem,
                          [&](const format::BatchHeader& h, uint64_t pos, const char* payload) {
                            std::vector<Record> recs;
                            format::for_each_record(h, payload,
                                                    [&](uint32_t, const StoredRecord& r) {
                                                      recs.push_back(Record{r.partition_key,
                                                                            r.explicit_hash_key,
                                                                            r.data,
                                                                            r.timestamp_ms});
                                                      return true;
                                                    });
                            std::string batch;
                            format::encode_batch(recs, &batch);
                            format::seal_header(batch.data(), h.base_offset, h.synced_floor);
                            // The accepted batch must be exactly what the encoder writes.
                            if (batch.compare(0, batch.size(), bytes, pos, batch.size()) != 0) {
                              __builtin_trap();
                            }
                            rebuilt += batch;
                          });
  if (end.ok() && *end > size) __builtin_trap();
  if (end.ok() && rebuilt.size() != *end) __builtin_trap();
  return 0;
}

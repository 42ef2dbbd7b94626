// Recovery of a torn or corrupt tail: truncated at every byte of the last batch, and every
// bit of it flipped. The log must come back with exactly the batches before it, and accept
// appends at the right offset.
#include <gtest/gtest.h>

#include <filesystem>

#include "../testing/temp_dir.h"
#include "disk_log.h"
#include "test_util.h"

namespace freshet::log {
namespace {

LogOptions options() {
  LogOptions o;
  o.retention_ms = 0;
  o.index_interval_bytes = 128;
  o.durability = Durability::kOs;  // thousands of reopens; fsync is not what is tested here
  return o;
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = std::move(DiskLog::open(src_.path(), options(), fs_, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 5, 3).ok());  // offsets 0..14, the last batch is 12..14
    ASSERT_TRUE(log->close().ok());
    seg_ = segment_files(src_.path()).at(0);
    bytes_ = read_file(seg_);
    // Where the last batch starts: reopen a copy truncated to 4 batches? Simpler: batches are
    // equal-sized here (same key/data lengths up to the key digits), so find the 5th header.
    last_start_ = find_last_batch_start();
  }

  size_t find_last_batch_start() {
    size_t pos = 0;
    size_t last = 0;
    while (pos + format::kBatchHeaderSize <= bytes_.size()) {
      format::BatchHeader h = format::decode_header(bytes_.data() + pos);
      last = pos;
      pos += format::batch_size(h);
    }
    EXPECT_EQ(pos, bytes_.size());
    return last;
  }

  // Writes `bytes` as the only segment of a fresh log dir and opens it.
  void reopen_with(const std::string& bytes, uint64_t want_tip) {
    testing::TempDir dir;
    write_file(dir.path() + "/" + std::filesystem::path(seg_).filename().string(), bytes);
    auto opened = DiskLog::open(dir.path(), options(), fs_, nullptr);
    ASSERT_TRUE(opened.ok()) << opened.error().to_string();
    auto log = std::move(opened.value());
    ASSERT_EQ(log->committed_tip(), want_tip);
    auto r = log->read(0, 1000, 1 << 20);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->records.size(), want_tip);
    for (uint64_t i = 0; i < want_tip; ++i) {
      ASSERT_EQ(r->records[i].data, payload_for(i, 40));
    }
    ASSERT_EQ(std::filesystem::file_size(segment_files(dir.path()).at(0)),
              want_tip == 15 ? bytes_.size() : last_start_);
    // Appends continue right after the surviving records.
    ASSERT_TRUE(fill(*log, want_tip, 1, 2).ok());
    ASSERT_EQ(log->committed_tip(), want_tip + 2);
  }

  testing::TempDir src_;
  std::shared_ptr<FileSystem> fs_ = posix_file_system();
  std::string seg_;
  std::string bytes_;
  size_t last_start_ = 0;
};

TEST_F(RecoveryTest, IntactLogKeepsEverything) { reopen_with(bytes_, 15); }

TEST_F(RecoveryTest, TruncatedAtEveryByteOfTheLastBatch) {
  for (size_t cut = last_start_; cut < bytes_.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    reopen_with(bytes_.substr(0, cut), 12);
    if (HasFatalFailure()) return;
  }
}

TEST_F(RecoveryTest, EveryBitFlipInTheLastBatchDropsOnlyThatBatch) {
  for (size_t byte = last_start_; byte < bytes_.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE("flip bit " + std::to_string(bit) + " of byte " + std::to_string(byte));
      std::string bad = bytes_;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      reopen_with(bad, 12);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(RecoveryTest, GarbageAfterTheLastBatchIsCutOff) {
  reopen_with(bytes_ + std::string(100, '\0'), 15);
  reopen_with(bytes_ + "FSHB garbage", 15);
}

}  // namespace
}  // namespace freshet::log

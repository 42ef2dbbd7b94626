// DiskLog behaviour that only a disk has: persistence, index files, damage, faults, group commit.
#include "disk_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "../testing/fault_fs.h"
#include "../testing/temp_dir.h"
#include "freshet/log/inspect.h"
#include "freshet/log/log_store.h"
#include "test_util.h"

namespace freshet::log {
namespace {

LogOptions small_segments(Durability d = Durability::kFsync) {
  LogOptions o;
  o.durability = d;
  o.segment_bytes = 4096;
  o.index_interval_bytes = 256;
  o.retention_ms = 0;
  return o;
}

TEST(DiskLogTest, SurvivesCloseAndReopenWithSealedIndexes) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  {
    auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 60, 5).ok());
    EXPECT_GT(log->segment_count(), 5u);
    ASSERT_TRUE(log->close().ok());
  }
  // Every sealed segment has both index files.
  auto segs = segment_files(dir.path());
  ASSERT_GT(segs.size(), 5u);
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    std::string stem = segs[i].substr(0, segs[i].size() - 4);
    EXPECT_TRUE(std::filesystem::exists(stem + ".idx")) << stem;
    EXPECT_TRUE(std::filesystem::exists(stem + ".tix")) << stem;
  }
  auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  EXPECT_EQ(log->committed_tip(), 300u);
  EXPECT_EQ(log->last_timestamp_ms(), 1299);
  expect_range(*log, 0, 300);
  for (uint64_t i = 0; i < 300; i += 17) expect_range(*log, i, 300);
  EXPECT_EQ(*log->offset_for_timestamp(1150), 150u);
  ASSERT_TRUE(fill(*log, 300, 3, 5).ok());
  expect_range(*log, 290, 315);

  std::ostringstream progress;
  auto report = verify_log(*fs, dir.path(), &progress);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems[0]);
  EXPECT_EQ(report->records, 315u);
  EXPECT_EQ(report->next_offset, 315u);
}

TEST(DiskLogTest, RebuildsMissingOrDamagedIndexFiles) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  {
    auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 40, 5).ok());
  }
  auto segs = segment_files(dir.path());
  std::string stem0 = segs[0].substr(0, segs[0].size() - 4);
  std::string stem1 = segs[1].substr(0, segs[1].size() - 4);
  std::filesystem::remove(stem0 + ".idx");
  std::string tix = read_file(stem1 + ".tix");
  tix[tix.size() - 1] ^= 0x40;
  write_file(stem1 + ".tix", tix);
  auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  expect_range(*log, 0, 200);
  EXPECT_TRUE(std::filesystem::exists(stem0 + ".idx"));
  auto report = verify_log(*fs, dir.path(), nullptr);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

TEST(DiskLogTest, CorruptBatchInSealedSegmentIsReportedNotServed) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  {
    auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 40, 5).ok());
  }
  auto segs = segment_files(dir.path());
  ASSERT_GT(segs.size(), 2u);
  std::string bytes = read_file(segs[1]);
  bytes[200] ^= 0x01;  // inside the payload of the segment's first batch
  write_file(segs[1], bytes);

  auto report = verify_log(*fs, dir.path(), nullptr);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());

  auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  // Segment 0 reads fine.
  const uint64_t seg1_base = std::stoull(std::filesystem::path(segs[1]).stem().string());
  expect_range(*log, 0, seg1_base);
  // Anything that needs the damaged batch is an error, never skipped.
  auto r = log->read(seg1_base, 10, 1 << 20);
  EXPECT_EQ(r.code(), ErrorCode::kCorruption);
  auto across = log->read(0, 1000, 1 << 30);
  EXPECT_EQ(across.code(), ErrorCode::kCorruption);
  EXPECT_GE(log->counters().corrupt_batches, 2u);
  // Segments after the damage still serve.
  const uint64_t seg2_base = std::stoull(std::filesystem::path(segs[2]).stem().string());
  expect_range(*log, seg2_base, 200);
}

TEST(DiskLogTest, CorruptSealedSegmentWithoutIndexIsReportedOnOpen) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  {
    auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 40, 5).ok());
  }
  auto segs = segment_files(dir.path());
  std::string stem = segs[0].substr(0, segs[0].size() - 4);
  std::filesystem::remove(stem + ".idx");
  std::string bytes = read_file(segs[0]);
  bytes[bytes.size() - 10] ^= 0x10;  // the segment's last batch
  write_file(segs[0], bytes);
  auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  EXPECT_GE(log->counters().corrupt_batches, 1u);
  const uint64_t seg1_base = std::stoull(std::filesystem::path(segs[1]).stem().string());
  EXPECT_EQ(log->read(seg1_base - 1, 1, 1 << 20).code(), ErrorCode::kCorruption);
  expect_range(*log, seg1_base, 200);
  EXPECT_FALSE(std::filesystem::exists(stem + ".idx"));  // so every open reports it again
}

TEST(DiskLogTest, DiskFullIsAnErrorAndLeavesNoPartialBatch) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::FaultFileSystem>(posix_file_system());
  auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  ASSERT_TRUE(fill(*log, 0, 2, 5).ok());
  fs->faults().write_budget = 100;  // the next batch tears after 100 bytes
  std::string data(200, 'x');
  Record rec{"k", "", data, 5};
  auto r = log->append(std::span(&rec, 1));
  EXPECT_EQ(r.code(), ErrorCode::kNoSpace);
  EXPECT_EQ(log->committed_tip(), 10u);
  EXPECT_EQ(log->counters().write_errors, 1u);
  fs->faults().write_budget = -1;
  // The log keeps working: the torn bytes were cut off, offsets stay dense.
  ASSERT_TRUE(fill(*log, 10, 2, 5).ok());
  expect_range(*log, 0, 20);
  ASSERT_TRUE(log->close().ok());
  auto reopened = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
  expect_range(*reopened, 0, 20);
  EXPECT_EQ(reopened->counters().recovery_truncated_bytes, 0u);
}

TEST(DiskLogTest, FailedFsyncStopsTheLogUntilReopened) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::FaultFileSystem>(posix_file_system());
  auto store = std::move(LogStore::open(dir.path(), fs).value());
  auto log = std::move(store->open_log("s", small_segments()).value());
  ASSERT_TRUE(fill(*log, 0, 2, 5).ok());
  fs->faults().fail_sync = true;
  std::string data(50, 'x');
  Record rec{"k", "", data, 5};
  auto r = log->append(std::span(&rec, 1));
  EXPECT_EQ(r.code(), ErrorCode::kFailed);
  EXPECT_EQ(log->committed_tip(), 10u);  // not acknowledged, not visible
  fs->faults().fail_sync = false;
  // A later fsync could succeed without the lost pages: the log must not pretend.
  auto again = log->append(std::span(&rec, 1));
  EXPECT_EQ(again.code(), ErrorCode::kFailed);
  EXPECT_EQ(log->counters().sync_errors, 1u);
  expect_range(*log, 0, 10);  // reads of durable data still work
  ASSERT_TRUE(log->close().ok());
  log.reset();
  auto reopened = std::move(store->open_log("s", small_segments()).value());
  // The unacknowledged record may or may not have reached the disk; both are allowed.
  const uint64_t tip = reopened->committed_tip();
  EXPECT_TRUE(tip == 10u || tip == 11u) << tip;
  expect_range(*reopened, 0, 10);
  auto appended = reopened->append(std::span(&rec, 1));
  ASSERT_TRUE(appended.ok()) << appended.error().to_string();
  EXPECT_EQ(*appended, tip);
  ASSERT_TRUE(reopened->close().ok());
}

// Four logs named PREFIX/0..3 in one store (so they share its group committer).
std::vector<std::shared_ptr<Log>> four_logs(LogStore& store, const std::string& prefix) {
  LogOptions o;
  o.retention_ms = 0;
  std::vector<std::shared_ptr<Log>> logs;
  for (int i = 0; i < 4; ++i) {
    logs.push_back(std::move(store.open_log(prefix + "/" + std::to_string(i), o).value()));
  }
  return logs;
}

TEST(DiskLogTest, GroupCommitSharesFsyncsAcrossAppendersAndLogs) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::FaultFileSystem>(posix_file_system());
  auto store = std::move(LogStore::open(dir.path(), fs).value());
  std::vector<std::shared_ptr<Log>> logs = four_logs(*store, "s");
  const int before = fs->faults().syncs.load();
  constexpr int kThreads = 16;
  constexpr int kAppends = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string data(100, static_cast<char>('a' + t));
      Record rec{"k", "", data, 1};
      for (int i = 0; i < kAppends; ++i) ASSERT_TRUE(logs[t % 4]->append(std::span(&rec, 1)).ok());
    });
  }
  for (auto& th : threads) th.join();
  const int syncs = fs->faults().syncs.load() - before;
  EXPECT_LT(syncs, kThreads * kAppends) << "every append synced on its own";
  EXPECT_GT(syncs, 0);
  for (auto& l : logs) {
    EXPECT_EQ(l->committed_tip(), uint64_t{kThreads / 4 * kAppends});
    ASSERT_TRUE(l->close().ok());
  }
}

// Waits (bounded) until done() holds.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 10000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return done();
}

TEST(DiskLogTest, AsyncCompletionAnswersOnceDurableWithoutAThreadPerAppend) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::FaultFileSystem>(posix_file_system());
  auto store = std::move(LogStore::open(dir.path(), fs).value());
  std::vector<std::shared_ptr<Log>> logs = four_logs(*store, "a");
  const int before = fs->faults().syncs.load();
  constexpr int kAppends = 400;
  std::mutex mu;
  std::vector<std::vector<uint64_t>> firsts(4);  // guarded by mu
  std::atomic<int> answered{0}, failed{0};
  std::string data(100, 'z');
  // One thread begins every append and never waits: the answers come from the committer.
  for (int i = 0; i < kAppends; ++i) {
    Record recs[2] = {{"k", "", data, 1}, {"k", "", data, 1}};
    auto p = logs[i % 4]->begin_append(std::span(recs, 2));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    logs[i % 4]->complete_append_async(std::move(*p), [&, i](Result<uint64_t> r) {
      if (!r.ok()) {
        failed.fetch_add(1);
      } else {
        std::lock_guard lock(mu);
        firsts[i % 4].push_back(*r);
      }
      answered.fetch_add(1);
    });
  }
  ASSERT_TRUE(eventually([&] { return answered.load() == kAppends; })) << answered.load();
  EXPECT_EQ(failed.load(), 0);
  for (int l = 0; l < 4; ++l) {
    std::vector<uint64_t> got = firsts[l];
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got.size(), size_t{kAppends / 4});
    for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], 2 * k);
    EXPECT_EQ(logs[l]->committed_tip(), uint64_t{kAppends / 4 * 2});
  }
  const int syncs = fs->faults().syncs.load() - before;
  EXPECT_GT(syncs, 0);
  EXPECT_LT(syncs, kAppends) << "every append synced on its own";
  for (auto& l : logs) ASSERT_TRUE(l->close().ok());
}

TEST(DiskLogTest, AsyncCompletionReportsAFailedFsync) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::FaultFileSystem>(posix_file_system());
  auto store = std::move(LogStore::open(dir.path(), fs).value());
  auto log = std::move(store->open_log("s", small_segments()).value());
  ASSERT_TRUE(fill(*log, 0, 1, 3).ok());
  fs->faults().fail_sync = true;
  std::string data(50, 'x');
  Record rec{"k", "", data, 5};
  auto p = log->begin_append(std::span(&rec, 1));
  ASSERT_TRUE(p.ok());
  std::atomic<bool> answered{false};
  std::atomic<int> code{0};
  log->complete_append_async(std::move(*p), [&](Result<uint64_t> r) {
    code = static_cast<int>(r.code());
    answered = true;
  });
  ASSERT_TRUE(eventually([&] { return answered.load(); }));
  EXPECT_EQ(code.load(), static_cast<int>(ErrorCode::kFailed));
  EXPECT_EQ(log->committed_tip(), 3u);  // never acknowledged, never visible
  fs->faults().fail_sync = false;
  EXPECT_EQ(log->append(std::span(&rec, 1)).code(), ErrorCode::kFailed);  // sticky
  ASSERT_TRUE(log->close().ok());
}

TEST(DiskLogTest, RollsByAgeSoRetentionCanDropIdleData) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  LogOptions o = small_segments();
  o.segment_bytes = 1 << 20;
  o.segment_ms = 100;
  auto log = std::move(DiskLog::open(dir.path(), o, fs, nullptr).value());
  ASSERT_TRUE(fill(*log, 0, 30, 10).ok());  // timestamps 1000..1299: rolls every 100 ms
  EXPECT_GE(log->segment_count(), 3u);
  log->set_retention(50, 0);
  auto deleted = log->enforce_retention(1320);  // cutoff 1270
  ASSERT_TRUE(deleted.ok());
  EXPECT_GE(*deleted, 2u);
  EXPECT_GT(log->trim_horizon(), 0u);
  EXPECT_LE(log->trim_horizon(), 270u);
  expect_range(*log, log->trim_horizon(), 300);
  EXPECT_EQ(log->counters().segments_deleted, *deleted);
}

TEST(DiskLogTest, DumpPrintsBatchesAndRecords) {
  testing::TempDir dir;
  auto fs = posix_file_system();
  {
    auto log = std::move(DiskLog::open(dir.path(), small_segments(), fs, nullptr).value());
    ASSERT_TRUE(fill(*log, 0, 2, 2).ok());
  }
  std::ostringstream out;
  ASSERT_TRUE(dump_log(*fs, dir.path(), DumpOptions{}, out).ok());
  const std::string text = out.str();
  EXPECT_NE(text.find("batch pos=0 base_offset=0 records=2"), std::string::npos) << text;
  EXPECT_NE(text.find("offset=3 ts=1003 key=\"k3\""), std::string::npos) << text;
}

}  // namespace
}  // namespace freshet::log

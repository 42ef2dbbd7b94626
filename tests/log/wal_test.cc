// The write-ahead log of a LogStore (src/log/group_committer.cc, log_store.cc): small
// fsync-mode batches are durable through it alone, and LogStore::open puts them back into
// logs whose unsynced tails a power loss took.
//
// A power loss is simulated by copying the data directory while the store is open (the copy
// holds what the page cache held) and then cutting the copy's tail segments, as a crash
// loses writes that were never fdatasynced.
#include <gtest/gtest.h>

#include <filesystem>

#include "../testing/temp_dir.h"
#include "freshet/log/log_store.h"
#include "test_util.h"

namespace freshet::log {
namespace {

namespace fs = std::filesystem;

LogOptions plain() {
  LogOptions o;
  o.retention_ms = 0;
  return o;
}

// Copies `from` to `to`, then cuts every log's last segment to `keep` of its size (a torn
// tail when it lands inside a batch).
void crash_copy(const std::string& from, const std::string& to, double keep) {
  fs::copy(from, to, fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(to)) {
    if (!e.is_directory()) continue;
    auto segs = segment_files(e.path().string());
    if (segs.empty()) continue;
    const auto size = fs::file_size(segs.back());
    fs::resize_file(segs.back(), static_cast<uintmax_t>(static_cast<double>(size) * keep));
  }
}

TEST(WalTest, RestoresAcknowledgedBatchesAnUnsyncedTailLost) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  auto b = std::move(store->open_log("s/1", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 30, 3).ok());  // every append returned: acknowledged
  ASSERT_TRUE(fill(*b, 0, 10, 1).ok());
  EXPECT_GT(store->wal_bytes(), 0u);
  crash_copy(dir.path(), copy.path() + "/d", 0.4);
  const auto wal_size = fs::file_size(copy.path() + "/d/@wal");

  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  const WalRecovery& rec = reopened->wal_recovery();
  EXPECT_EQ(rec.entries, 40u);
  EXPECT_GT(rec.restored, 0u);
  EXPECT_EQ(rec.restored + rec.already_present, 40u);
  EXPECT_EQ(rec.failed, 0u);
  EXPECT_EQ(rec.end_offset, wal_size);   // every byte after the header was an intact entry
  EXPECT_EQ(reopened->wal_bytes(), 0u);  // replayed, synced, emptied
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  auto b2 = std::move(reopened->open_log("s/1", plain()).value());
  EXPECT_EQ(a2->committed_tip(), 90u);
  EXPECT_EQ(b2->committed_tip(), 10u);
  expect_range(*a2, 0, 90);
  expect_range(*b2, 0, 10);
  // Appends continue where the restored log ends.
  ASSERT_TRUE(fill(*a2, 90, 1, 2).ok());
  expect_range(*a2, 0, 92);
}

TEST(WalTest, ReplayReadsAWalLongerThanOneReadChunk) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 600, 40).ok());  // about 2.5 KB per batch: 1.5 MB of WAL
  crash_copy(dir.path(), copy.path() + "/d", 0.0);
  const auto wal_size = fs::file_size(copy.path() + "/d/@wal");
  ASSERT_GT(wal_size, 1u << 20);  // more than the reader's 1 MiB chunk
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  EXPECT_EQ(reopened->wal_recovery().restored, 600u);
  EXPECT_EQ(reopened->wal_recovery().end_offset, wal_size);
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  expect_range(*a2, 0, 24000);
}

TEST(WalTest, TornWalTailEndsTheReplay) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 10, 1).ok());
  crash_copy(dir.path(), copy.path() + "/d", 0.0);  // the segment lost everything
  // Cut the WAL inside its 8th entry (after the 4 KiB header block): 7 whole entries remain.
  const std::string wal = copy.path() + "/d/@wal";
  const auto entry = (fs::file_size(wal) - 4096) / 10;
  fs::resize_file(wal, 4096 + entry * 7 + 5);
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  EXPECT_EQ(reopened->wal_recovery().restored, 7u);
  EXPECT_EQ(reopened->wal_recovery().end_offset, 4096 + entry * 7);
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  EXPECT_EQ(a2->committed_tip(), 7u);
  expect_range(*a2, 0, 7);
}

TEST(WalTest, RemovedLogIsNotReplayedIntoANewLogOfTheSameName) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  {
    auto old = std::move(store->open_log("s/0", plain()).value());
    ASSERT_TRUE(fill(*old, 0, 20, 1).ok());
    ASSERT_TRUE(old->close().ok());
  }
  const uint64_t checkpoints = store->wal_checkpoints();
  ASSERT_TRUE(store->remove_log("s/0").ok());
  EXPECT_GT(store->wal_checkpoints(), checkpoints);
  EXPECT_EQ(store->wal_bytes(), 0u);
  auto fresh = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*fresh, 0, 3, 1).ok());
  crash_copy(dir.path(), copy.path() + "/d", 0.0);
  // The WAL is recycled: the old log's entries 3..19 are still in the file, after the new
  // ones, but of an older generation.
  EXPECT_GT(fs::file_size(copy.path() + "/d/@wal"), 4096u + 3 * 150);
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  EXPECT_EQ(reopened->wal_recovery().entries, 3u);
  auto again = std::move(reopened->open_log("s/0", plain()).value());
  EXPECT_EQ(again->committed_tip(), 3u);
  expect_range(*again, 0, 3);
}

TEST(WalTest, DamagedHeaderIsRecoveredFromTheFirstEntry) {
  testing::TempDir dir;
  testing::TempDir copy;
  testing::TempDir copy2;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 5, 1).ok());
  crash_copy(dir.path(), copy.path() + "/d", 1.0);  // the segments kept everything
  // The entry at byte 4096 belongs to the newest generation that wrote any: replay it (again,
  // harmlessly) and go on from the generation after it.
  std::string wal = read_file(copy.path() + "/d/@wal");
  wal.replace(0, 16, std::string(16, 'x'));
  write_file(copy.path() + "/d/@wal", wal);
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  EXPECT_TRUE(reopened->wal_recovery().header_recovered);
  EXPECT_EQ(reopened->wal_recovery().entries, 5u);
  EXPECT_EQ(reopened->wal_recovery().already_present, 5u);
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  expect_range(*a2, 0, 5);
  // Opening the log synced its tail; what follows is durable through the WAL only.
  const auto synced = fs::file_size(segment_files(copy.path() + "/d/s/0").back());
  ASSERT_TRUE(fill(*a2, 5, 3, 1).ok());
  fs::copy(copy.path() + "/d", copy2.path() + "/d", fs::copy_options::recursive);
  fs::resize_file(segment_files(copy2.path() + "/d/s/0").back(), synced);
  auto again = std::move(LogStore::open(copy2.path() + "/d", posix_file_system()).value());
  EXPECT_EQ(again->wal_recovery().restored, 3u);
  auto a3 = std::move(again->open_log("s/0", plain()).value());
  expect_range(*a3, 0, 8);
}

TEST(WalTest, DamagedHeaderAndFirstEntryFailStartupAndLeaveTheWalAlone) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 5, 1).ok());
  crash_copy(dir.path(), copy.path() + "/d", 0.0);
  std::string wal = read_file(copy.path() + "/d/@wal");
  wal.replace(0, 16, std::string(16, 'x'));
  wal.replace(4096 + 30, 4, "oops");
  write_file(copy.path() + "/d/@wal", wal);
  auto reopened = LogStore::open(copy.path() + "/d", posix_file_system());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.code(), ErrorCode::kCorruption);
  EXPECT_EQ(read_file(copy.path() + "/d/@wal"), wal);  // untouched: a later start may retry
}

TEST(WalTest, RemovingALogAfterTheStoreClosedStillLeavesNoEntryOfIt) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  {
    auto a = std::move(store->open_log("s/0", plain()).value());
    ASSERT_TRUE(fill(*a, 0, 4, 1).ok());
    ASSERT_TRUE(a->close().ok());
  }
  store->close();  // a clean stop checkpoints: nothing is left to replay
  ASSERT_TRUE(store->remove_log("s/0").ok());
  fs::copy(dir.path(), copy.path() + "/d", fs::copy_options::recursive);
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system()).value());
  EXPECT_EQ(reopened->wal_recovery().entries, 0u);
  EXPECT_FALSE(reopened->log_exists("s/0"));
}

TEST(WalTest, CheckpointSyncsTheLogsAndEmptiesTheWal) {
  testing::TempDir dir;
  LogStoreOptions o;
  o.wal_checkpoint_bytes = 2048;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system(), o).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 100, 1).ok());  // about 100 bytes of WAL per append
  EXPECT_GE(store->wal_checkpoints(), 3u);
  EXPECT_LT(store->wal_bytes(), 2048u + 200u);
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store->close();
  store.reset();
  auto reopened = std::move(LogStore::open(dir.path(), posix_file_system(), o).value());
  EXPECT_EQ(reopened->wal_recovery().entries, 0u);  // a clean stop leaves it empty
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  expect_range(*a2, 0, 100);
}

TEST(WalTest, BigBatchesSyncTheirOwnFile) {
  testing::TempDir dir;
  LogStoreOptions o;
  o.wal_max_entry_bytes = 1024;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system(), o).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 1, 40).ok());  // 40 records of 40 bytes: over 1 KiB
  EXPECT_EQ(store->wal_bytes(), 0u);
  ASSERT_TRUE(fill(*a, 40, 1, 1).ok());
  EXPECT_GT(store->wal_bytes(), 0u);
}

// A round that wrote small batches to the WAL and synced a big batch in its own file is
// acknowledged only when both syncs are done. A power loss between them can leave WAL entries
// of batches that follow a big batch the log no longer has: those were never acknowledged, so
// replay skips them (and every later entry of that log) and counts them as gaps, while other
// logs' entries are restored as usual.
TEST(WalTest, EntriesAfterALostBigBatchAreSkippedAsAGap) {
  testing::TempDir dir;
  testing::TempDir copy;
  LogStoreOptions o;
  o.wal_max_entry_bytes = 1024;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system(), o).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  auto b = std::move(store->open_log("s/1", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 3, 1).ok());  // three small batches, through the WAL
  const std::string seg = segment_files(dir.path() + "/s/0").back();
  const auto before_big = fs::file_size(seg);
  ASSERT_TRUE(fill(*a, 3, 1, 40).ok());  // 40 records of 40 bytes: syncs its own file
  ASSERT_TRUE(fill(*a, 43, 2, 1).ok());  // two small batches after it, through the WAL
  ASSERT_TRUE(fill(*b, 0, 5, 1).ok());   // another log's small batches
  EXPECT_GT(store->wal_bytes(), 0u);

  // The power loss: the copy holds the WAL as written, s/0's segment lost the big batch and
  // all after it, and s/1's segment lost everything unsynced.
  fs::copy(dir.path(), copy.path() + "/d", fs::copy_options::recursive);
  fs::resize_file(copy.path() + "/d/s/0/" + fs::path(seg).filename().string(), before_big);
  const std::string seg_b = segment_files(copy.path() + "/d/s/1").back();
  fs::resize_file(seg_b, 0);

  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system(), o).value());
  const WalRecovery& rec = reopened->wal_recovery();
  EXPECT_EQ(rec.entries, 10u);  // 3 + 2 of s/0, 5 of s/1: the big batch has no entry
  EXPECT_EQ(rec.gaps, 2u);      // s/0's two entries after the lost big batch
  EXPECT_EQ(rec.restored + rec.already_present + rec.gaps, rec.entries);
  EXPECT_EQ(rec.failed, 0u);
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  auto b2 = std::move(reopened->open_log("s/1", plain()).value());
  EXPECT_EQ(a2->committed_tip(), 3u);  // what the log held before the lost round
  expect_range(*a2, 0, 3);
  EXPECT_EQ(b2->committed_tip(), 5u);  // the other log is whole again
  expect_range(*b2, 0, 5);
  // Appends continue where the recovered log ends.
  ASSERT_TRUE(fill(*a2, 3, 1, 1).ok());
  expect_range(*a2, 0, 4);
}

TEST(WalTest, DisabledWalIsReplayedOnceThenRemoved) {
  testing::TempDir dir;
  testing::TempDir copy;
  auto store = std::move(LogStore::open(dir.path(), posix_file_system()).value());
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 5, 1).ok());
  crash_copy(dir.path(), copy.path() + "/d", 0.0);
  LogStoreOptions off;
  off.wal = false;
  auto reopened = std::move(LogStore::open(copy.path() + "/d", posix_file_system(), off).value());
  EXPECT_EQ(reopened->wal_recovery().restored, 5u);
  EXPECT_FALSE(fs::exists(copy.path() + "/d/@wal"));
  auto a2 = std::move(reopened->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a2, 5, 2, 1).ok());
  expect_range(*a2, 0, 7);
  EXPECT_EQ(reopened->wal_bytes(), 0u);
}

}  // namespace
}  // namespace freshet::log

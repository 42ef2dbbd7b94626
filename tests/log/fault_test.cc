// The log's failure paths on a PowerLossFileSystem (tests/testing/power_loss_fs.h): each test
// injects one fault, checks what the store answers, then cuts the power and checks that
// nothing acknowledged was lost.
#include <gtest/gtest.h>

#include "../testing/power_loss_fs.h"
#include <map>
#include <random>
#include <sstream>

#include "freshet/log/inspect.h"
#include "freshet/log/log_store.h"
#include "test_util.h"

namespace freshet::log {
namespace {

using testing::PowerLossFileSystem;
using Op = PowerLossFileSystem::Op;

const std::string kRoot = "/data/logs";

LogOptions plain() {
  LogOptions o;
  o.retention_ms = 0;
  return o;
}

LogOptions os_mode(uint64_t reserve) {
  LogOptions o = plain();
  o.durability = Durability::kOs;
  o.os_offset_reserve = reserve;
  o.segment_bytes = 4096;
  return o;
}

std::unique_ptr<LogStore> open_store(const std::shared_ptr<PowerLossFileSystem>& fs,
                                     LogStoreOptions o = {}) {
  auto s = LogStore::open(kRoot, fs, o);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Cuts the power with `store` and its logs still open, then reopens the store.
std::unique_ptr<LogStore> power_cycle(const std::shared_ptr<PowerLossFileSystem>& fs,
                                      std::unique_ptr<LogStore> store,
                                      std::vector<std::shared_ptr<Log>> logs = {}) {
  fs->crash();
  logs.clear();
  store.reset();
  fs->restart();
  return open_store(fs);
}

TEST(LogFaultTest, NewLogDirectoriesSurviveAPowerLoss) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("kinesis/r/s.1/shardId-000000000000", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 3, 2).ok());
  store = power_cycle(fs, std::move(store), {a});
  ASSERT_TRUE(store->log_exists("kinesis/r/s.1/shardId-000000000000"));
  auto again = std::move(store->open_log("kinesis/r/s.1/shardId-000000000000", plain()).value());
  expect_range(*again, 0, 6);
}

TEST(LogFaultTest, FailedWalWriteSyncsTheLogsInsteadAndIsNotSticky) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 2, 1).ok());
  const uint64_t before = store->wal_bytes();
  fs->fail_nth(Op::kWrite, 1, ENOSPC, "@wal");
  ASSERT_TRUE(fill(*a, 2, 1, 1).ok());  // its round synced the segment instead
  EXPECT_EQ(store->wal_write_failures(), 1u);
  EXPECT_EQ(store->wal_bytes(), before);
  EXPECT_TRUE(a->health().ok());
  EXPECT_TRUE(store->health().ok());
  ASSERT_TRUE(fill(*a, 3, 2, 1).ok());
  EXPECT_GT(store->wal_bytes(), before);  // the WAL is used again
  store = power_cycle(fs, std::move(store), {a});
  auto again = std::move(store->open_log("s/0", plain()).value());
  expect_range(*again, 0, 5);
}

TEST(LogFaultTest, FailedWalSyncIsStickyForTheWalButNotForTheLogs) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 2, 1).ok());
  fs->fail_nth(Op::kSync, 1, EIO, "@wal");
  ASSERT_TRUE(fill(*a, 2, 3, 1).ok());
  EXPECT_TRUE(a->health().ok());
  Status h = store->health();
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message().find("fdatasync"), std::string::npos);
  store = power_cycle(fs, std::move(store), {a});
  auto again = std::move(store->open_log("s/0", plain()).value());
  expect_range(*again, 0, 5);
}

TEST(LogFaultTest, CheckpointThatCannotCompleteStallsTheWalUntilTheLogIsReopened) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("s/0", plain()).value());
  auto b = std::move(store->open_log("s/1", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 4, 1).ok());  // WAL-only in a's file until a checkpoint
  ASSERT_TRUE(fill(*b, 0, 2, 1).ok());
  // a's segment fails its next fdatasync: the checkpoint cannot make a's entries durable.
  fs->fail_nth(Op::kSync, 1, EIO, "/s/0/");
  Status c = store->checkpoint_now();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(store->wal_checkpoint_failures(), 1u);
  ASSERT_FALSE(store->health().ok());
  EXPECT_NE(store->health().error().message().find("stalled"), std::string::npos);
  // Stalled: b's appends sync its file instead of growing the WAL.
  const uint64_t wal = store->wal_bytes();
  ASSERT_TRUE(fill(*b, 2, 3, 1).ok());
  EXPECT_EQ(store->wal_bytes(), wal);
  // Nothing a acknowledged is lost meanwhile: its entries are still in the WAL.
  ASSERT_TRUE(a->close().ok());
  auto reopened = store->reopen_log("s/0", plain());
  ASSERT_TRUE(reopened.ok()) << reopened.error().to_string();
  a = *reopened;
  EXPECT_TRUE(a->health().ok());
  EXPECT_TRUE(store->checkpoint_now().ok());
  EXPECT_TRUE(store->health().ok());
  ASSERT_TRUE(fill(*a, 4, 1, 1).ok());
  store = power_cycle(fs, std::move(store), {a, b});
  expect_range(*std::move(store->open_log("s/0", plain()).value()), 0, 5);
  expect_range(*std::move(store->open_log("s/1", plain()).value()), 0, 5);
}

TEST(LogFaultTest, FailedSegmentSyncFailsTheLogUntilReopenedWithoutARestart) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions o;
  o.wal = false;  // every append syncs its segment
  auto store = open_store(fs, o);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 3, 1).ok());
  fs->fail_nth(Op::kSync, 1, EIO, "/s/0/");
  EXPECT_FALSE(fill(*a, 3, 1, 1).ok());
  EXPECT_FALSE(a->health().ok());
  EXPECT_FALSE(fill(*a, 3, 1, 1).ok());  // sticky
  ASSERT_TRUE(a->close().ok());
  auto reopened = store->reopen_log("s/0", plain());
  ASSERT_TRUE(reopened.ok()) << reopened.error().to_string();
  a = *reopened;
  // The failed append may or may not be there (it was never acknowledged); the log goes on.
  const uint64_t next = a->next_offset();
  ASSERT_GE(next, 3u);
  expect_range(*a, 0, 3);
  ASSERT_TRUE(fill(*a, next, 2, 1).ok());
}

TEST(LogFaultTest, ReplayThatCannotOpenALogFailsStartupAndLeavesTheWal) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 5, 1).ok());  // WAL-only: the segment was never synced
  fs->crash();
  a.reset();
  store.reset();
  fs->restart();
  const std::string wal = fs->read_all(kRoot + "/@wal").value();
  fs->fail_nth(Op::kOpen, 1, EIO, "/s/0/");
  auto failed = LogStore::open(kRoot, fs);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.code(), ErrorCode::kIoError);
  EXPECT_EQ(fs->read_all(kRoot + "/@wal").value(), wal);  // no new generation over it
  // Once the fault is gone, the next start restores everything.
  store = open_store(fs);
  EXPECT_EQ(store->wal_recovery().restored, 5u);
  expect_range(*std::move(store->open_log("s/0", plain()).value()), 0, 5);
}

TEST(LogFaultTest, RemoveFailsWhenTheCheckpointBeforeItFails) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 2, 1).ok());
  ASSERT_TRUE(a->close().ok());
  fs->fail_nth(Op::kWrite, 1, EIO, "@wal");  // the checkpoint's header write
  EXPECT_FALSE(store->remove_log("s/0").ok());
  EXPECT_TRUE(store->log_exists("s/0"));
  EXPECT_TRUE(store->remove_log("s/0").ok());
  store = power_cycle(fs, std::move(store));
  EXPECT_FALSE(store->log_exists("s/0"));
  EXPECT_EQ(store->wal_recovery().entries, 0u);
}

TEST(LogFaultTest, FullDiskFailsAppendsRetryablyAndTheyWorkOnceSpaceIsFreed) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions o;
  o.wal = false;
  auto store = open_store(fs, o);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 3, 1).ok());
  fs->set_space_limit(fs->used_bytes() + 50);
  Status full = fill(*a, 3, 1, 4);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), ErrorCode::kNoSpace);
  EXPECT_TRUE(a->health().ok());  // a failed write is not a failed sync: nothing sticky
  expect_range(*a, 0, 3);         // reads keep working
  fs->set_space_limit(UINT64_MAX);
  ASSERT_TRUE(fill(*a, 3, 2, 1).ok());
  store = power_cycle(fs, std::move(store), {a});
  expect_range(*std::move(store->open_log("s/0", plain()).value()), 0, 5);
}

// Damage to bytes a sync made durable, with intact batches after it, is media damage: the
// later batches' synced floors prove the damaged bytes were durable, so recovery keeps the
// segment whole and serves the damaged range as a hole that fails reads, and never hands out
// its offsets again.
TEST(LogFaultTest, DamageToDurableBytesOfTheTailIsAHoleThatFailsReads) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions o;
  o.wal = false;  // every batch syncs its segment: each later batch records a higher floor
  auto store = open_store(fs, o);
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 3, 2).ok());  // offsets 0..5, three batches, each acknowledged
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store.reset();
  const std::string seg = kRoot + "/s/0/00000000000000000000.log";
  ASSERT_TRUE(fs->corrupt(seg, 70, "XX").ok());  // inside the first batch's payload
  const std::string damaged = fs->read_all(seg).value();
  for (int round = 0; round < 2; ++round) {  // the second open finds the same damage
    store = open_store(fs, o);
    a = std::move(store->open_log("s/0", plain()).value());
    EXPECT_EQ(a->counters().recovery_damaged_tails, round == 0 ? 1u : 0u);
    EXPECT_GE(a->counters().corrupt_batches, 1u);
    EXPECT_EQ(fs->read_all(seg).value(), damaged);  // kept whole: nothing cut
    EXPECT_FALSE(fs->exists(seg + ".damaged-0"));
    // Offsets 0..5 were handed out: the log continues past them, never at 0.
    EXPECT_EQ(a->next_offset(), 6u + static_cast<uint64_t>(round));
    auto hole = a->read(0, 10, 1 << 20);
    ASSERT_FALSE(hole.ok());
    EXPECT_EQ(hole.error().code(), ErrorCode::kCorruption);
    auto inside = a->read(3, 10, 1 << 20);
    ASSERT_FALSE(inside.ok());
    EXPECT_EQ(inside.error().code(), ErrorCode::kCorruption);
    std::string k = "k", d = "after-" + std::to_string(round);
    Record r{k, "", d, 9000};
    ASSERT_EQ(a->append(std::span<const Record>(&r, 1)).value(), 6u + round);
    auto after = a->read(6, 10, 1 << 20);
    ASSERT_TRUE(after.ok()) << after.error().to_string();
    ASSERT_EQ(after->records.size(), static_cast<size_t>(round) + 1);
    EXPECT_EQ(after->records.back().data, d);
    ASSERT_TRUE(a->close().ok());
    a.reset();
    store.reset();
  }
}

// With the WAL, a segment is synced at checkpoints: the batches after one carry its floor.
TEST(LogFaultTest, DamageBelowAWalCheckpointIsAHoleThatFailsReads) {
  auto fs = PowerLossFileSystem::make();
  auto store = open_store(fs);  // WAL on: small batches do not sync their segment
  auto a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, 0, 2, 2).ok());  // offsets 0..3
  ASSERT_TRUE(store->checkpoint_now().ok());
  ASSERT_TRUE(fill(*a, 4, 2, 2).ok());  // offsets 4..7, floors cover offsets 0..3
  store = power_cycle(fs, std::move(store), {std::move(a)});
  const std::string seg = kRoot + "/s/0/00000000000000000000.log";
  ASSERT_TRUE(fs->corrupt(seg, 70, "XX").ok());
  store.reset();
  store = open_store(fs);
  a = std::move(store->open_log("s/0", plain()).value());
  EXPECT_EQ(a->counters().recovery_damaged_tails, 1u);
  EXPECT_EQ(a->next_offset(), 8u);
  auto hole = a->read(0, 10, 1 << 20);
  ASSERT_FALSE(hole.ok());
  EXPECT_EQ(hole.error().code(), ErrorCode::kCorruption);
}

// Damage before intact batches whose floors do not cover it looks exactly like a power loss
// that kept a later unsynced page: the bytes are kept aside, reported, and cut as a torn tail.
TEST(LogFaultTest, DamageAboveTheSyncedFloorIsCutAsATornTailAndKeptAside) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions o;
  o.wal = false;
  auto store = open_store(fs, o);
  // kOs never syncs before the roll: every batch's floor is 0.
  auto a = std::move(store->open_log("s/0", os_mode(1)).value());
  ASSERT_TRUE(fill(*a, 0, 3, 2).ok());
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store.reset();
  const std::string seg = kRoot + "/s/0/00000000000000000000.log";
  const std::string before = fs->read_all(seg).value();
  ASSERT_TRUE(fs->corrupt(seg, 70, "XX").ok());  // inside the first batch's payload
  store = open_store(fs, o);
  a = std::move(store->open_log("s/0", os_mode(1)).value());
  EXPECT_EQ(a->counters().recovery_damaged_tails, 1u);
  EXPECT_GE(a->counters().corrupt_batches, 1u);
  auto aside = fs->read_all(seg + ".damaged-0");
  ASSERT_TRUE(aside.ok());
  EXPECT_EQ(aside->size(), before.size());
  EXPECT_EQ(aside->substr(100), before.substr(100));  // every byte after the damage is kept
  EXPECT_EQ(a->next_offset(), 6u);  // cut to 0, then past the high-water mark
  // A plain torn tail (nothing intact after it) is cut without keeping anything aside.
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store.reset();
  store = open_store(fs, o);
  a = std::move(store->open_log("s/0", plain()).value());
  ASSERT_TRUE(fill(*a, a->next_offset(), 2, 1).ok());
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store.reset();
  const std::string tail = kRoot + "/s/0/00000000000000000006.log";
  const std::string now = fs->read_all(tail).value();
  ASSERT_TRUE(fs->corrupt(tail, now.size() - 3, "ZZZ").ok());
  store = open_store(fs, o);
  a = std::move(store->open_log("s/0", plain()).value());
  EXPECT_EQ(a->counters().recovery_damaged_tails, 0u);
  EXPECT_EQ(a->next_offset(), 7u);
}


TEST(LogFaultTest, OsModeSkipsPastItsHighWaterMarkAfterAPowerLoss) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions so;
  so.wal = false;
  auto store = open_store(fs, so);
  auto a = std::move(store->open_log("s/0", os_mode(10)).value());
  ASSERT_TRUE(fill(*a, 0, 3, 2).ok());  // offsets 0..5, acknowledged after write(), not synced
  fs->crash();
  a.reset();
  store.reset();
  fs->restart();
  store = open_store(fs, so);
  a = std::move(store->open_log("s/0", os_mode(10)).value());
  // Every record was lost, but offsets 0..5 were handed out: the log continues above the
  // reservation its first append made (2 + 10), never at 0.
  EXPECT_EQ(a->next_offset(), 12u);
  EXPECT_EQ(a->counters().recovery_skipped_offsets, 12u);
  std::string k = "k", d = "d";
  Record r{k, "", d, 5000};
  auto off = a->append(std::span<const Record>(&r, 1));
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 12u);
  // A clean close syncs and lowers the mark to the end: the next open continues without a gap.
  ASSERT_TRUE(a->close().ok());
  a.reset();
  store.reset();
  store = open_store(fs, so);
  a = std::move(store->open_log("s/0", os_mode(10)).value());
  EXPECT_EQ(a->next_offset(), 13u);
  EXPECT_EQ(a->counters().recovery_skipped_offsets, 0u);
}

TEST(LogFaultTest, ReadsStepOverAGapBetweenSegments) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions so;
  so.wal = false;
  auto store = open_store(fs, so);
  auto a = std::move(store->open_log("s/0", os_mode(1000)).value());
  ASSERT_TRUE(fill(*a, 0, 4, 2).ok());
  ASSERT_TRUE(a->close().ok());  // a clean close syncs: offsets 0..7 survive, the mark is 8
  a.reset();
  store.reset();
  store = open_store(fs, so);
  a = std::move(store->open_log("s/0", os_mode(1000)).value());
  ASSERT_EQ(a->next_offset(), 8u);
  std::string lk = "lost", ld = "x";
  Record lost{lk, "", ld, 7000};
  ASSERT_EQ(a->append(std::span<const Record>(&lost, 1)).value(), 8u);  // reserves 9 + 1000
  fs->crash();  // offset 8 was acknowledged, never synced: lost
  a.reset();
  store.reset();
  fs->restart();
  store = open_store(fs, so);
  a = std::move(store->open_log("s/0", os_mode(1000)).value());
  ASSERT_EQ(a->next_offset(), 1009u);
  std::string k = "after", d = "gap";
  Record r{k, "", d, 9000};
  ASSERT_EQ(a->append(std::span<const Record>(&r, 1)).value(), 1009u);
  auto all = a->read(0, 100, 1 << 20);
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  ASSERT_EQ(all->records.size(), 9u);
  EXPECT_EQ(all->records[7].offset, 7u);
  EXPECT_EQ(all->records[8].offset, 1009u);
  EXPECT_EQ(all->records[8].data, "gap");
  // A read that starts inside the gap gets the first record after it.
  auto inside = a->read(500, 10, 1 << 20);
  ASSERT_TRUE(inside.ok());
  ASSERT_EQ(inside->records.size(), 1u);
  EXPECT_EQ(inside->records[0].offset, 1009u);
  EXPECT_EQ(a->offset_for_timestamp(8000).value(), 1009u);
  // The verify tool accepts the gap.
  std::ostringstream progress;
  auto report = verify_log(*fs, kRoot + "/s/0", &progress);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->problems.front();
  EXPECT_NE(progress.str().find("gap: offsets 8 to 1009"), std::string::npos) << progress.str();
}

// Random os-mode runs cut by power losses: an offset never names two different records, every
// record read back is one that was acknowledged at that offset, and reads never fail.
TEST(LogFaultTest, OsModeNeverReusesAnOffsetAcrossPowerLosses) {
  auto fs = PowerLossFileSystem::make();
  LogStoreOptions so;
  so.wal = false;
  std::mt19937_64 rng(20261130);
  std::map<uint64_t, std::string> acked;  // offset -> data, across all rounds
  uint64_t handed_out = 0;                // one past the largest offset ever acknowledged
  for (int round = 0; round < 60; ++round) {
    auto store = open_store(fs, so);
    ASSERT_TRUE(store);
    const uint64_t reserve = 1 + rng() % 40;
    auto a = std::move(store->open_log("s/0", os_mode(reserve)).value());
    ASSERT_GE(a->next_offset(), handed_out) << "round " << round;
    // Everything stored is what was acknowledged at that offset.
    uint64_t from = a->trim_horizon();
    for (int guard = 0; guard < 10000 && from < a->committed_tip(); ++guard) {
      auto r = a->read(from, 64, 1 << 20);
      ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.error().to_string();
      for (const auto& rec : r->records) {
        auto it = acked.find(rec.offset);
        ASSERT_NE(it, acked.end()) << "offset " << rec.offset << " was never acknowledged";
        ASSERT_EQ(rec.data, it->second) << "offset " << rec.offset;
      }
      ASSERT_GT(r->next_offset, from);
      from = r->next_offset;
    }
    const int batches = static_cast<int>(rng() % 30);
    for (int b = 0; b < batches; ++b) {
      const size_t n = 1 + rng() % 5;
      std::vector<std::string> data(n);
      std::vector<Record> recs;
      for (size_t i = 0; i < n; ++i) {
        data[i] = "r" + std::to_string(round) + "-" + std::to_string(b) + "-" + std::to_string(i) +
                  std::string(rng() % 300, 'x');
      }
      for (size_t i = 0; i < n; ++i) recs.push_back(Record{"pk", "", data[i], 1000 + round});
      auto off = a->append(recs);
      ASSERT_TRUE(off.ok()) << off.error().to_string();
      ASSERT_GE(*off, handed_out);
      for (size_t i = 0; i < n; ++i) acked[*off + i] = data[i];
      handed_out = *off + n;
    }
    const auto keep = static_cast<PowerLossFileSystem::Keep>(rng() % 3);
    fs->crash(keep, rng());
    a.reset();
    store.reset();
    fs->restart();
  }
}

}  // namespace
}  // namespace freshet::log

// Behaviour every Log implementation shares, run against DiskLog (both durability modes,
// with tiny segments so reads cross segment boundaries) and MemoryLog.
#include <gtest/gtest.h>

#include <thread>

#include "freshet/common/file.h"
#include "freshet/log/log.h"
#include "freshet/log/log_store.h"
#include "../testing/temp_dir.h"

namespace freshet::log {
namespace {

enum class Kind { kDiskFsync, kDiskOs, kMemory };

std::string data_for(uint64_t i, size_t size) {
  std::string s(size, '\0');
  for (size_t k = 0; k < size; ++k) s[k] = static_cast<char>((i * 131 + k * 7) & 0xff);
  return s;
}

class LogSemanticsTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override { log_ = open_log(); }
  void TearDown() override {
    if (log_) {
      EXPECT_TRUE(log_->close().ok());
    }
    log_.reset();
    if (store_) store_->close();
  }

  LogOptions options() const {
    LogOptions o;
    o.durability = GetParam() == Kind::kDiskOs ? Durability::kOs : Durability::kFsync;
    o.segment_bytes = 8192;  // many segments
    o.index_interval_bytes = 512;
    o.retention_ms = 0;
    return o;
  }

  std::shared_ptr<Log> open_log() {
    if (GetParam() == Kind::kMemory) return std::shared_ptr<Log>(make_memory_log(options()));
    if (!store_) store_ = std::move(LogStore::open(dir_.path(), posix_file_system()).value());
    return std::move(store_->open_log("s/shard-0", options()).value());
  }

  // Appends n records in batches of `batch`, with record i's timestamp 1000 + i.
  void append_n(uint64_t n, size_t batch, size_t size = 50) {
    std::vector<std::string> keys;
    std::vector<std::string> datas;
    std::vector<Record> recs;
    for (uint64_t i = 0; i < n; i += batch) {
      keys.clear();
      datas.clear();
      recs.clear();
      for (uint64_t j = i; j < std::min(n, i + batch); ++j) {
        keys.push_back("key-" + std::to_string(next_));
        datas.push_back(data_for(next_, size));
        ++next_;
      }
      for (size_t k = 0; k < keys.size(); ++k) {
        recs.push_back(Record{keys[k], k % 3 == 0 ? "12345" : "", datas[k],
                              static_cast<int64_t>(1000 + next_ - keys.size() + k)});
      }
      auto r = log_->append(recs);
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_EQ(*r, next_ - keys.size());
    }
  }

  void expect_record(const StoredRecord& r, uint64_t offset, size_t size = 50) {
    EXPECT_EQ(r.offset, offset);
    EXPECT_EQ(r.partition_key, "key-" + std::to_string(offset));
    EXPECT_EQ(r.data, data_for(offset, size));
    EXPECT_EQ(r.timestamp_ms, static_cast<int64_t>(1000 + offset));
  }

  testing::TempDir dir_;
  std::unique_ptr<LogStore> store_;
  std::shared_ptr<Log> log_;
  uint64_t next_ = 0;
};

TEST_P(LogSemanticsTest, EmptyLog) {
  EXPECT_EQ(log_->committed_tip(), 0u);
  EXPECT_EQ(log_->trim_horizon(), 0u);
  auto r = log_->read(0, 10, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
  EXPECT_EQ(r->next_offset, 0u);
  EXPECT_EQ(*log_->offset_for_timestamp(0), 0u);
}

TEST_P(LogSemanticsTest, RejectsEmptyAndOversizedBatches) {
  EXPECT_EQ(log_->append({}).code(), ErrorCode::kInvalidArgument);
  std::string big(kMaxDataBytes + 1, 'x');
  Record r{"k", "", big, 1};
  EXPECT_EQ(log_->append(std::span(&r, 1)).code(), ErrorCode::kInvalidArgument);
  std::string ok(kMaxDataBytes, 'y');
  Record r2{"k", "", ok, 1};
  auto a = log_->append(std::span(&r2, 1));
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  auto back = log_->read(0, 1, kMaxDataBytes + 100);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->records.size(), 1u);
  EXPECT_EQ(back->records[0].data, ok);
  EXPECT_EQ(log_->read(0, 0, 10).code(), ErrorCode::kInvalidArgument);
}

TEST_P(LogSemanticsTest, ReadsEverythingBackInOrderFromEveryOffset) {
  append_n(300, 7);
  EXPECT_EQ(log_->committed_tip(), 300u);
  for (uint64_t from = 0; from <= 300; ++from) {
    auto r = log_->read(from, 1000, 1 << 30);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    ASSERT_EQ(r->records.size(), 300 - from) << "from " << from;
    for (size_t i = 0; i < r->records.size(); ++i) expect_record(r->records[i], from + i);
    EXPECT_EQ(r->next_offset, 300u);
  }
  // Beyond the tip: nothing, and next_offset stays put.
  auto past = log_->read(500, 10, 1000);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->records.empty());
  EXPECT_EQ(past->next_offset, 500u);
}

TEST_P(LogSemanticsTest, ExplicitHashKeysRoundTrip) {
  append_n(9, 9);
  auto r = log_->read(0, 100, 1 << 20);
  ASSERT_TRUE(r.ok());
  for (size_t i = 0; i < r->records.size(); ++i) {
    EXPECT_EQ(r->records[i].explicit_hash_key, i % 3 == 0 ? "12345" : "");
  }
}

TEST_P(LogSemanticsTest, RecordAndByteLimits) {
  append_n(100, 10);
  auto r = log_->read(5, 7, 1 << 20);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 7u);
  EXPECT_EQ(r->next_offset, 12u);
  // Each record counts key (5-6 bytes) + data (50 bytes).
  auto b = log_->read(0, 100, 3 * 56);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->records.size(), 3u);
  EXPECT_EQ(b->next_offset, 3u);
  // A byte limit smaller than one record still returns one record.
  auto one = log_->read(20, 100, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->records.size(), 1u);
  expect_record(one->records[0], 20);
  // Paging through with next_offset visits every record once.
  uint64_t at = 0;
  uint64_t seen = 0;
  while (at < 100) {
    auto p = log_->read(at, 13, 1 << 20);
    ASSERT_TRUE(p.ok());
    for (const auto& rec : p->records) expect_record(rec, seen++);
    at = p->next_offset;
  }
  EXPECT_EQ(seen, 100u);
}

TEST_P(LogSemanticsTest, OffsetForTimestamp) {
  append_n(200, 9);
  EXPECT_EQ(*log_->offset_for_timestamp(0), 0u);
  EXPECT_EQ(*log_->offset_for_timestamp(1000), 0u);
  for (uint64_t i = 0; i < 200; i += 1) {
    EXPECT_EQ(*log_->offset_for_timestamp(static_cast<int64_t>(1000 + i)), i);
  }
  EXPECT_EQ(*log_->offset_for_timestamp(1200), 200u);  // after the last: the tip
  EXPECT_EQ(log_->last_timestamp_ms(), 1199);
}

TEST_P(LogSemanticsTest, OffsetForTimestampWithNonMonotonicTimestamps) {
  // Timestamps 50, 10, 60, 20, 70, 30 ...: the answer is the first record in offset order
  // whose timestamp is >= T.
  std::vector<int64_t> ts;
  for (int i = 0; i < 120; ++i) ts.push_back(i % 2 == 0 ? 1000 + i * 10 : 500 + i * 10);
  std::string data(100, 'd');
  for (size_t i = 0; i < ts.size(); i += 4) {
    std::vector<Record> recs;
    for (size_t j = i; j < i + 4; ++j) recs.push_back(Record{"k", "", data, ts[j]});
    ASSERT_TRUE(log_->append(recs).ok());
  }
  for (int64_t t = 0; t < 2300; t += 7) {
    uint64_t want = ts.size();
    for (size_t i = 0; i < ts.size(); ++i) {
      if (ts[i] >= t) {
        want = i;
        break;
      }
    }
    EXPECT_EQ(*log_->offset_for_timestamp(t), want) << "t=" << t;
  }
}

TEST_P(LogSemanticsTest, RetentionByAgeMovesTrimHorizon) {
  log_->set_retention(100, 0);
  append_n(300, 10);  // timestamps 1000..1299
  auto deleted = log_->enforce_retention(1000);  // cutoff 900: nothing expired
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(log_->trim_horizon(), 0u);

  ASSERT_TRUE(log_->enforce_retention(1250).ok());  // cutoff 1150
  const uint64_t horizon = log_->trim_horizon();
  EXPECT_GT(horizon, 0u);
  EXPECT_LE(horizon, 150u);  // nothing at or after the cutoff is deleted
  auto below = log_->read(horizon - 1, 10, 1 << 20);
  EXPECT_EQ(below.code(), ErrorCode::kOutOfRange);
  auto at = log_->read(horizon, 1000, 1 << 20);
  ASSERT_TRUE(at.ok());
  ASSERT_FALSE(at->records.empty());
  expect_record(at->records.front(), horizon);
  EXPECT_EQ(at->records.back().offset, 299u);

  // Everything expired: the log empties but keeps its offsets.
  ASSERT_TRUE(log_->enforce_retention(5000).ok());
  EXPECT_EQ(log_->trim_horizon(), 300u);
  EXPECT_EQ(log_->committed_tip(), 300u);
  EXPECT_EQ(log_->read(299, 1, 100).code(), ErrorCode::kOutOfRange);
  append_n(5, 5);
  auto after = log_->read(300, 10, 1 << 20);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->records.size(), 5u);
  expect_record(after->records[0], 300);
  EXPECT_EQ(*log_->offset_for_timestamp(0), 300u);
}

TEST_P(LogSemanticsTest, RetentionBySize) {
  log_->set_retention(0, 20000);
  append_n(1000, 10);  // ~75 KB
  ASSERT_TRUE(log_->enforce_retention(0).ok());
  EXPECT_GT(log_->trim_horizon(), 0u);
  auto r = log_->read(log_->trim_horizon(), 100000, 1 << 30);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.back().offset, 999u);
  size_t bytes = 0;
  for (const auto& rec : r->records) bytes += rec.data.size() + rec.partition_key.size() + 20;
  EXPECT_LE(bytes, 20000u + 10000u);  // within a segment of the bound
}

TEST_P(LogSemanticsTest, ConcurrentAppendersGetDenseDistinctOffsets) {
  constexpr int kThreads = 8;
  constexpr int kBatches = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> firsts(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string key = "t" + std::to_string(t);
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::string> d;
        for (int k = 0; k < 5; ++k) d.push_back(key + ":" + std::to_string(b * 5 + k));
        std::vector<Record> recs;
        for (auto& s : d) recs.push_back(Record{key, "", s, 1});
        auto r = log_->append(recs);
        ASSERT_TRUE(r.ok());
        firsts[t].push_back(*r);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log_->committed_tip(), uint64_t{kThreads * kBatches * 5});
  auto all = log_->read(0, 100000, 1 << 30);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->records.size(), size_t{kThreads * kBatches * 5});
  for (int t = 0; t < kThreads; ++t) {
    for (int b = 0; b < kBatches; ++b) {
      for (int k = 0; k < 5; ++k) {
        const auto& rec = all->records[firsts[t][b] + k];
        EXPECT_EQ(rec.data, "t" + std::to_string(t) + ":" + std::to_string(b * 5 + k));
      }
    }
  }
}

TEST_P(LogSemanticsTest, ClosedLogRejectsAppends) {
  append_n(3, 3);
  ASSERT_TRUE(log_->close().ok());
  Record r{"k", "", "d", 1};
  EXPECT_EQ(log_->append(std::span(&r, 1)).code(), ErrorCode::kClosed);
}

INSTANTIATE_TEST_SUITE_P(AllLogs, LogSemanticsTest,
                         ::testing::Values(Kind::kDiskFsync, Kind::kDiskOs, Kind::kMemory),
                         [](const auto& info) {
                           switch (info.param) {
                             case Kind::kDiskFsync: return std::string("DiskFsync");
                             case Kind::kDiskOs: return std::string("DiskOs");
                             case Kind::kMemory: return std::string("Memory");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace freshet::log

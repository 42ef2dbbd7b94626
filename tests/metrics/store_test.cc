#include "freshet/metrics/store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "../testing/temp_dir.h"
#include "freshet/metrics/registry.h"
#include "freshet/metrics/sampler.h"

namespace freshet::metrics {
namespace {

constexpr int64_t kT0 = 1'800'000'000;  // a whole hour (divisible by 3600)

struct Fixture {
  testing::TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0 * 1000);
  std::unique_ptr<MetricStore> open() {
    MetricStoreOptions o;
    o.dir = dir.path() + "/metrics";
    o.clock = clock;
    o.fsync = false;
    auto s = MetricStore::open(o);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return std::move(s).value();
  }
  void advance_to(MetricStore& s, int64_t t) {
    while (clock->now_ms() / 1000 < t) {
      clock->advance(1000);
      ASSERT_TRUE(s.tick().ok());
    }
  }
};

SeriesKey key(std::string stream) {
  return SeriesKey{"AWS/Kinesis", "IncomingRecords", {{"StreamName", std::move(stream)}}};
}

TEST(MetricStoreTest, SumsPeriodsAcrossHeadsAndFlushedMinutes) {
  Fixture f;
  auto s = f.open();
  auto id = s->intern(key("a"), "Count");
  ASSERT_TRUE(id.ok());
  for (int64_t t = kT0; t < kT0 + 180; ++t) {
    ASSERT_TRUE(s->record(*id, t, Stat::of(static_cast<double>(t - kT0))).ok());
    if (t % 10 == 0) f.advance_to(*s, t);
  }
  f.advance_to(*s, kT0 + 150);  // two minutes flushed, one in the head
  auto dp = s->query(*id, kT0, kT0 + 180, 60);
  ASSERT_TRUE(dp.ok());
  ASSERT_EQ(dp->size(), 3u);
  for (int m = 0; m < 3; ++m) {
    double want = 0;
    for (int i = 60 * m; i < 60 * m + 60; ++i) want += i;
    EXPECT_EQ((*dp)[m].t, kT0 + 60 * m);
    EXPECT_DOUBLE_EQ((*dp)[m].stat.sum, want);
    EXPECT_DOUBLE_EQ((*dp)[m].stat.count, 60);
    EXPECT_DOUBLE_EQ((*dp)[m].stat.min, 60 * m);
    EXPECT_DOUBLE_EQ((*dp)[m].stat.max, 60 * m + 59);
  }
  // One-second periods, percentiles.
  auto one = s->query(*id, kT0 + 5, kT0 + 8, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 3u);
  EXPECT_DOUBLE_EQ((*one)[2].stat.sum, 7);
  auto p = s->query(*id, kT0, kT0 + 100, 100, {50, 99});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_NEAR((*p)[0].percentiles[0].second, 49, 1);
  EXPECT_NEAR((*p)[0].percentiles[1].second, 98, 1);
}

// A batch's index is searched through in-memory fences (every 256th entry): every series,
// those at and around the fences and the last ones included, is found, before and after a
// reopen (which rebuilds the fences from the files). Some series have no entry in a minute.
TEST(MetricStoreTest, FindsEverySeriesOfALargeBatch) {
  Fixture f;
  constexpr int kSeries = 1100;
  std::vector<uint32_t> ids;
  {
    auto s = f.open();
    for (int i = 0; i < kSeries; ++i) {
      auto id = s->intern(key("s" + std::to_string(i)), "Count");
      ASSERT_TRUE(id.ok());
      ids.push_back(*id);
    }
    for (int m = 0; m < 2; ++m) {
      for (int i = 0; i < kSeries; ++i) {
        if (m == 1 && i % 3 == 0) continue;  // absent from the second minute's batch
        ASSERT_TRUE(s->record(ids[i], kT0 + 60 * m + 5, Stat::of(i + 0.5)).ok());
      }
    }
    f.advance_to(*s, kT0 + 180);
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto s = f.open();
    for (int i = 0; i < kSeries; ++i) {
      auto dp = s->query(ids[i], kT0, kT0 + 120, 60);
      ASSERT_TRUE(dp.ok());
      const size_t want = i % 3 == 0 ? 1 : 2;
      ASSERT_EQ(dp->size(), want) << "series " << i << " pass " << pass;
      for (const Datapoint& d : *dp) EXPECT_DOUBLE_EQ(d.stat.sum, i + 0.5) << i;
    }
    auto none = s->query(kSeries + 5, kT0, kT0 + 120, 60);
    EXPECT_FALSE(none.ok());
  }
}

TEST(MetricStoreTest, SurvivesReopenAndCutsATornTail) {
  Fixture f;
  uint32_t id = 0;
  {
    auto s = f.open();
    id = *s->intern(key("a"), "Count");
    for (int64_t t = kT0; t < kT0 + 120; ++t) ASSERT_TRUE(s->record(id, t, Stat::of(2)).ok());
    f.advance_to(*s, kT0 + 125);
    ASSERT_TRUE(s->record(id, kT0 + 124, Stat::of(5)).ok());
  }  // the destructor flushes the open minute
  // A torn batch at the end of the t1 file (a crash in the middle of a write).
  const std::string file = f.dir.path() + "/metrics/t1/" + std::to_string(kT0) + ".fmb";
  const auto size = std::filesystem::file_size(file);
  {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << std::string(100, 'x');
  }
  auto s = f.open();
  EXPECT_EQ(std::filesystem::file_size(file), size);
  ASSERT_EQ(s->find(key("a")), std::optional<uint32_t>(id));
  auto dp = s->query(id, kT0, kT0 + 180, 180);
  ASSERT_TRUE(dp.ok());
  ASSERT_EQ(dp->size(), 1u);
  EXPECT_DOUBLE_EQ((*dp)[0].stat.sum, 2 * 120 + 5);
  EXPECT_EQ(s->info(id)->unit, "Count");
}

TEST(MetricStoreTest, RollsUpHoursIntoMinuteAndFiveMinuteTiers) {
  Fixture f;
  auto s = f.open();
  const uint32_t id = *s->intern(key("a"), "Count");
  const uint32_t other = *s->intern(key("b"), "Count");
  for (int64_t t = kT0; t < kT0 + 3600; ++t) {
    ASSERT_TRUE(s->record(id, t, Stat::of(1)).ok());
    if (t % 7 == 0) {
      ASSERT_TRUE(s->record(other, t, Stat::of(3)).ok());
    }
    if (t % 30 == 0) f.advance_to(*s, t);
  }
  f.advance_to(*s, kT0 + 3600 + 70);
  EXPECT_EQ(s->stats().rolled_up_to, kT0 + 3600);
  // Four hours later the t1 hour is gone; the 1-minute and 5-minute tiers answer.
  f.advance_to(*s, kT0 + 4 * 3600 + 200);
  EXPECT_FALSE(
      std::filesystem::exists(f.dir.path() + "/metrics/t1/" + std::to_string(kT0) + ".fmb"));
  auto m = s->query(id, kT0, kT0 + 3600, 60);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 60u);
  for (const Datapoint& d : *m) EXPECT_DOUBLE_EQ(d.stat.sum, 60);
  auto h = s->query(id, kT0, kT0 + 3600, 3600);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_DOUBLE_EQ((*h)[0].stat.sum, 3600);
  EXPECT_DOUBLE_EQ((*h)[0].stat.count, 3600);
  auto five = s->query(other, kT0, kT0 + 3600, 300);
  ASSERT_EQ(five->size(), 12u);
  double total = 0;
  for (const Datapoint& d : *five) total += d.stat.sum;
  double want = 0;
  for (int64_t t = kT0; t < kT0 + 3600; ++t) want += t % 7 == 0 ? 3 : 0;
  EXPECT_DOUBLE_EQ(total, want);
  // And after a restart.
  s.reset();
  s = f.open();
  auto again = s->query(id, kT0, kT0 + 3600, 3600);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_DOUBLE_EQ((*again)[0].stat.sum, 3600);
}

// At the hourly rollup the t1 hour is rewritten as runs (one read per series per hour): the
// answers at 1 s and the percentiles stay the same, across a restart, with a late minute
// appended after the rewrite, with a .tmp left by a crash, and for a rolled hour still in
// minute batches (a file written before runs existed).
TEST(MetricStoreTest, RewritesARolledHourAsRunsWithTheSameAnswers) {
  Fixture f;
  auto s = f.open();
  const uint32_t a = *s->intern(key("a"), "Count");
  const uint32_t b = *s->intern(SeriesKey{"App", "Latency", {}}, "Milliseconds");
  const uint32_t c = *s->intern(key("c"), "Count");
  for (int64_t t = kT0; t < kT0 + 3600; ++t) {
    ASSERT_TRUE(s->record(a, t, Stat::of(double(t % 97))).ok());
    if (t % 3 == 0) {
      Stat st;
      Sketch sk;
      for (double v : {1.0, double(t % 50), 200.0}) {
        st.add(v);
        sketch_add(sk, v);
      }
      ASSERT_TRUE(s->record(b, t, st, &sk).ok());
    }
    if (t % 600 == 0) {
      ASSERT_TRUE(s->record(c, t, Stat::of(5)).ok());
    }
    if (t % 30 == 0) f.advance_to(*s, t);
  }
  f.advance_to(*s, kT0 + 3600 + 10);
  const std::string t1 = f.dir.path() + "/metrics/t1/" + std::to_string(kT0) + ".fmb";
  const std::string minutes_copy = f.dir.path() + "/minutes.fmb";
  std::filesystem::copy_file(t1, minutes_copy);
  auto answers = [&](MetricStore& st) {
    std::vector<std::vector<Datapoint>> out;
    for (uint32_t id : {a, b, c}) {
      out.push_back(*st.query(id, kT0, kT0 + 3600, 1));
      out.push_back(*st.query(id, kT0 + 17, kT0 + 3000, 60, {50, 99}));
    }
    return out;
  };
  auto same = [](const std::vector<std::vector<Datapoint>>& x,
                 const std::vector<std::vector<Datapoint>>& y) {
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(x[i].size(), y[i].size()) << i;
      for (size_t j = 0; j < x[i].size(); ++j) {
        EXPECT_EQ(x[i][j].t, y[i][j].t);
        EXPECT_DOUBLE_EQ(x[i][j].stat.sum, y[i][j].stat.sum);
        EXPECT_DOUBLE_EQ(x[i][j].stat.count, y[i][j].stat.count);
        EXPECT_DOUBLE_EQ(x[i][j].stat.min, y[i][j].stat.min);
        EXPECT_DOUBLE_EQ(x[i][j].stat.max, y[i][j].stat.max);
        EXPECT_EQ(x[i][j].percentiles, y[i][j].percentiles);
      }
    }
  };
  const auto before = answers(*s);
  ASSERT_EQ(before[0].size(), 3600u);
  ASSERT_EQ(before[2].size(), 1200u);
  ASSERT_EQ(before[4].size(), 6u);
  f.advance_to(*s, kT0 + 3600 + 70);
  EXPECT_EQ(s->stats().rolled_up_to, kT0 + 3600);
  EXPECT_EQ(s->stats().runs_written, 1u);
  EXPECT_EQ(s->stats().corrupt_chunks, 0u);
  EXPECT_FALSE(std::filesystem::exists(t1 + ".tmp"));
  EXPECT_LT(std::filesystem::file_size(t1), std::filesystem::file_size(minutes_copy));
  same(answers(*s), before);

  // A late minute of the rewritten hour is appended to it as a minute batch.
  ASSERT_TRUE(s->record(c, kT0 + 90, Stat::of(2)).ok());
  f.advance_to(*s, kT0 + 3600 + 140);
  auto late = s->query(c, kT0 + 60, kT0 + 120, 60);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_DOUBLE_EQ((*late)[0].stat.sum, 2);
  ASSERT_TRUE(s->record(c, kT0 + 90, Stat::of(-2)).ok());  // back to the answers above
  f.advance_to(*s, kT0 + 3600 + 210);
  s.reset();

  // A crash during the next rewrite leaves a .tmp: removed at open, the hour unchanged.
  {
    std::ofstream(t1 + ".tmp") << "half a runs batch";
  }
  s = f.open();
  EXPECT_FALSE(std::filesystem::exists(t1 + ".tmp"));
  auto again = answers(*s);
  // c's late second: +2 then -2 make a datapoint of sum 0 and count 2 at kT0 + 90, in the
  // answer at 1 s and in the minute [kT0 + 77, kT0 + 137).
  ASSERT_EQ(again[4].size(), 7u);
  EXPECT_EQ(again[4][1].t, kT0 + 90);
  EXPECT_DOUBLE_EQ(again[4][1].stat.count, 2);
  again[4].erase(again[4].begin() + 1);
  ASSERT_EQ(again[5].size(), 5u);
  EXPECT_EQ(again[5][0].t, kT0 + 77);
  again[5].erase(again[5].begin());
  same(again, before);
  s.reset();

  // A rolled hour still in minute batches (as before runs existed) reads the same.
  const std::string runs_copy = f.dir.path() + "/runs.fmb";
  std::filesystem::copy_file(t1, runs_copy);
  std::filesystem::copy_file(minutes_copy, t1, std::filesystem::copy_options::overwrite_existing);
  s = f.open();
  same(answers(*s), before);
  EXPECT_EQ(s->stats().corrupt_chunks, 0u);
  s.reset();

  // A crash after the rename, before the t60 and t300 batches: the hour is rolled up again,
  // from its runs.
  std::filesystem::copy_file(runs_copy, t1, std::filesystem::copy_options::overwrite_existing);
  for (const char* tier : {"/metrics/t60", "/metrics/t300"}) {
    std::filesystem::remove_all(f.dir.path() + tier);
  }
  s = f.open();
  EXPECT_EQ(s->stats().rolled_up_to, kT0);
  f.advance_to(*s, f.clock->now_ms() / 1000 + 2);
  EXPECT_EQ(s->stats().rolled_up_to, kT0 + 3600);
  EXPECT_EQ(s->stats().runs_written, 1u);
  f.advance_to(*s, kT0 + 4 * 3600 + 200);  // t1 expired: the 1-minute tier answers
  EXPECT_FALSE(std::filesystem::exists(t1));
  auto hour = s->query(a, kT0, kT0 + 3600, 3600);
  ASSERT_EQ(hour->size(), 1u);
  double want = 0;
  for (int64_t t = kT0; t < kT0 + 3600; ++t) want += double(t % 97);
  EXPECT_DOUBLE_EQ((*hour)[0].stat.sum, want);
  EXPECT_DOUBLE_EQ((*hour)[0].stat.count, 3600);
  EXPECT_EQ(s->stats().corrupt_chunks, 0u);
}

// Holds the first write to a file whose name ends in `suffix` until release(): a rollup can
// be stopped in the middle of writing its runs file.
class Gate {
 public:
  explicit Gate(std::string suffix) : suffix_(std::move(suffix)) {}
  void hold(const std::string& path) {
    if (!path.ends_with(suffix_)) return;
    std::unique_lock lock(mu_);
    if (released_) return;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }
  bool wait_entered(std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  const std::string suffix_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

class GateFile final : public File {
 public:
  GateFile(std::unique_ptr<File> inner, std::shared_ptr<Gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  Status write_at(const void* data, size_t n, uint64_t offset) override {
    gate_->hold(inner_->path());
    return inner_->write_at(data, n, offset);
  }
  Result<size_t> read_at(void* data, size_t n, uint64_t offset) const override {
    return inner_->read_at(data, n, offset);
  }
  Status sync() override { return inner_->sync(); }
  void will_need(uint64_t offset, size_t n) const override { inner_->will_need(offset, n); }
  Status truncate(uint64_t size) override { return inner_->truncate(size); }
  Result<uint64_t> size() const override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  std::unique_ptr<File> inner_;
  std::shared_ptr<Gate> gate_;
};

class GateFileSystem final : public FileSystem {
 public:
  GateFileSystem(std::shared_ptr<FileSystem> inner, std::shared_ptr<Gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    FRESHET_ASSIGN_OR_RETURN(auto f, inner_->open(path, mode));
    return std::unique_ptr<File>(new GateFile(std::move(f), gate_));
  }
  Result<std::unique_ptr<MappedFile>> map_readonly(const std::string& path) override {
    return inner_->map_readonly(path);
  }
  Status remove(const std::string& path) override { return inner_->remove(path); }
  Status remove_dir(const std::string& path) override { return inner_->remove_dir(path); }
  Status rename(const std::string& a, const std::string& b) override {
    return inner_->rename(a, b);
  }
  Status create_dirs(const std::string& path) override { return inner_->create_dirs(path); }
  Status sync_dir(const std::string& path) override { return inner_->sync_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_->list_dir(path);
  }
  bool exists(const std::string& path) override { return inner_->exists(path); }

 private:
  std::shared_ptr<FileSystem> inner_;
  std::shared_ptr<Gate> gate_;
};

// The hourly rollup reads the hour and writes its runs (GBs at 100,000 dense series) without
// the store's lock: while it is held in the middle of writing the runs file, queries (which
// still read the hour's minute batches), records, durable records and new series go on; the
// rollup then completes with the same answers.
// A store on a GateFileSystem holding series "a" (returned in *a) with one point a second,
// t % 7, for the hour from kT0, ticked up to the second before that hour's rollup (which
// starts at kT0 + 3662: an hour, a minute and two seconds).
std::unique_ptr<MetricStore> store_before_a_rollup(Fixture& f, std::shared_ptr<Gate> gate,
                                                   uint32_t* a) {
  MetricStoreOptions o;
  o.dir = f.dir.path() + "/metrics";
  o.clock = f.clock;
  o.fsync = false;
  o.fs = std::make_shared<GateFileSystem>(posix_file_system(), std::move(gate));
  auto s = std::move(MetricStore::open(o)).value();
  *a = *s->intern(key("a"), "Count");
  for (int64_t t = kT0; t < kT0 + 3600; ++t) {
    EXPECT_TRUE(s->record(*a, t, Stat::of(double(t % 7))).ok());
    if (t % 60 == 0) f.advance_to(*s, t);
  }
  f.advance_to(*s, kT0 + 3661);
  return s;
}

TEST(MetricStoreTest, QueriesAndRecordsProceedDuringARollup) {
  Fixture f;
  auto gate = std::make_shared<Gate>(".fmb.tmp");
  uint32_t a = 0;
  auto s = store_before_a_rollup(f, gate, &a);
  ASSERT_EQ(s->stats().rolled_up_to, kT0);
  const std::vector<Datapoint> before = *s->query(a, kT0, kT0 + 3600, 60);
  ASSERT_EQ(before.size(), 60u);
  f.clock->advance(1000);
  std::thread roller([&] { EXPECT_TRUE(s->tick().ok()); });
  const bool entered = gate->wait_entered(std::chrono::seconds(20));
  // Each of these would wait for the rollup if it held the store's lock.
  auto during = std::async(std::launch::async, [&] {
    auto q = s->query(a, kT0, kT0 + 3600, 60);
    EXPECT_TRUE(q.ok());
    if (q.ok()) {
      EXPECT_EQ(q->size(), 60u);
    }
    EXPECT_TRUE(s->record(a, kT0 + 3662, Stat::of(1)).ok());
    const uint32_t b = *s->intern(key("b"), "Count");
    EXPECT_TRUE(s->record_durable({{b, kT0 + 3662, Stat::of(4), {}}}).ok());
    EXPECT_EQ(s->stats().rolled_up_to, kT0);  // not yet
  });
  const bool proceeded =
      entered && during.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  gate->release();
  roller.join();
  during.get();
  ASSERT_TRUE(entered) << "the rollup never wrote its runs file";
  ASSERT_TRUE(proceeded) << "a query or record waited for the rollup";
  EXPECT_EQ(s->stats().rolled_up_to, kT0 + 3600);
  EXPECT_EQ(s->stats().runs_written, 1u);
  EXPECT_EQ(s->stats().write_errors, 0u);
  const std::vector<Datapoint> after = *s->query(a, kT0, kT0 + 3600, 60);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].t, before[i].t);
    EXPECT_DOUBLE_EQ(after[i].stat.sum, before[i].stat.sum);
    EXPECT_DOUBLE_EQ(after[i].stat.count, before[i].stat.count);
  }
  // The hour's sum, now read from its runs.
  auto hour = s->query(a, kT0, kT0 + 3600, 3600);
  ASSERT_EQ(hour->size(), 1u);
  double want = 0;
  for (int64_t t = kT0; t < kT0 + 3600; ++t) want += double(t % 7);
  EXPECT_DOUBLE_EQ((*hour)[0].stat.sum, want);
  f.advance_to(*s, kT0 + 3600 + 130);
  auto during_points = s->query(a, kT0 + 3660, kT0 + 3720, 60);
  ASSERT_EQ(during_points->size(), 1u);
  EXPECT_DOUBLE_EQ((*during_points)[0].stat.sum, 1);
}

TEST(MetricStoreTest, LateWritesAndListFilters) {
  Fixture f;
  auto s = f.open();
  const uint32_t a = *s->intern(key("a"), "Count");
  const uint32_t b =
      *s->intern(SeriesKey{"Custom", "Latency", {{"Host", "h1"}, {"Az", "x"}}}, "Milliseconds");
  f.advance_to(*s, kT0 + 600);
  ASSERT_TRUE(s->record(a, kT0 + 10, Stat::of(4)).ok());  // a minute already written
  Stat st{10, 4, 1, 4};
  Sketch sk;
  for (double v : {1.0, 2.0, 3.0, 4.0}) sketch_add(sk, v);
  ASSERT_TRUE(s->record(b, kT0 + 590, st, &sk).ok());
  f.advance_to(*s, kT0 + 700);
  auto dp = s->query(a, kT0, kT0 + 60, 60);
  ASSERT_EQ(dp->size(), 1u);
  EXPECT_DOUBLE_EQ((*dp)[0].stat.sum, 4);
  auto p = s->query(b, kT0 + 540, kT0 + 600, 60, {50, 100});
  ASSERT_EQ(p->size(), 1u);
  EXPECT_DOUBLE_EQ((*p)[0].stat.count, 4);
  EXPECT_NEAR((*p)[0].percentiles[0].second, 2, 0.05);
  EXPECT_NEAR((*p)[0].percentiles[1].second, 4, 0.05);
  EXPECT_EQ(s->list("Custom", "", {}).size(), 1u);
  EXPECT_EQ(s->list("", "", {{"Host", ""}}).size(), 1u);
  EXPECT_EQ(s->list("", "", {{"Host", "h2"}}).size(), 0u);
  EXPECT_EQ(s->list("", "IncomingRecords", {}).size(), 1u);
  EXPECT_EQ(s->list("", "", {}, kT0 + 100).size(), 1u);                // only b is recent
  EXPECT_FALSE(s->record(a, kT0 + 700 + 3 * 3600, Stat::of(1)).ok());  // too far ahead
}

TEST(MetricStoreTest, DurableRecordsSurviveACrashAndTheLogEmpties) {
  Fixture f;
  const std::string crash = f.dir.path() + "/crash";
  uint32_t id = 0;
  {
    auto s = f.open();
    id = *s->intern(SeriesKey{"App", "Orders", {}}, "Count");
    Sketch sk;
    sketch_add(sk, 7, 3);
    ASSERT_TRUE(s->record_durable({{id, kT0 + 5, Stat{21, 3, 7, 7}, sk}}).ok());
    EXPECT_FALSE(s->record_durable({{id, kT0 + 3 * 3600, Stat::of(1), {}}}).ok());
    // A crash now: the files as they are (the destructor would write the minute).
    std::filesystem::copy(f.dir.path() + "/metrics", crash,
                          std::filesystem::copy_options::recursive);
    EXPECT_GT(std::filesystem::file_size(f.dir.path() + "/metrics/custom.wal"), 0u);
    f.advance_to(*s, kT0 + 62);  // the minute is written: the log is emptied
    EXPECT_EQ(std::filesystem::file_size(f.dir.path() + "/metrics/custom.wal"), 0u);
  }
  MetricStoreOptions o;
  o.dir = crash;
  o.clock = f.clock;
  o.fsync = false;
  auto s = std::move(MetricStore::open(o)).value();
  ASSERT_EQ(s->find(SeriesKey{"App", "Orders", {}}), std::optional<uint32_t>(id));
  auto dp = s->query(id, kT0, kT0 + 60, 60, {50});
  ASSERT_TRUE(dp.ok());
  ASSERT_EQ(dp->size(), 1u);
  EXPECT_DOUBLE_EQ((*dp)[0].stat.sum, 21);
  EXPECT_DOUBLE_EQ((*dp)[0].stat.count, 3);
  EXPECT_NEAR((*dp)[0].percentiles[0].second, 7, 0.01);
}

TEST(MetricStoreTest, LimitsTheNumberOfSeries) {
  Fixture f;
  MetricStoreOptions o;
  o.dir = f.dir.path() + "/m";
  o.clock = f.clock;
  o.max_series = 2;
  auto s = MetricStore::open(o);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->intern(key("a")).ok());
  EXPECT_TRUE((*s)->intern(key("b")).ok());
  EXPECT_TRUE((*s)->intern(key("a")).ok());
  EXPECT_EQ((*s)->intern(key("c")).code(), ErrorCode::kLimitExceeded);
}

// The sampler's thread samples every second while the store's tick runs on a thread of its
// own: a rollup held in the middle of its runs file (seconds at 100,000 series) does not stop
// the samples, which it used to for the rollup's whole length.
TEST(RegistrySamplerTest, SamplesGoOnWhileARollupRuns) {
  Fixture f;
  auto gate = std::make_shared<Gate>(".fmb.tmp");
  uint32_t a = 0;
  auto s = store_before_a_rollup(f, gate, &a);
  f.clock->advance(1000);  // the next tick rolls the hour up, and is held at its runs file
  Registry r;
  RegistrySampler sampler(r, *s);
  std::atomic<int> seconds{0};
  sampler.set_after_tick([&] { seconds.fetch_add(1); });
  sampler.start();
  const bool entered = gate->wait_entered(std::chrono::seconds(20));
  const int at_hold = seconds.load();
  int during = 0;
  for (int i = 0; i < 60 && during < 2; ++i) {  // up to 6 s for two more seconds' samples
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    during = seconds.load() - at_hold;
  }
  gate->release();
  sampler.stop();
  ASSERT_TRUE(entered) << "the rollup never wrote its runs file";
  EXPECT_GE(during, 2) << "the sampler waited for the rollup";
  EXPECT_EQ(s->stats().rolled_up_to, kT0 + 3600);
}

TEST(RegistrySamplerTest, MapsRegistrySeriesToCloudWatch) {
  Fixture f;
  auto s = f.open();
  Registry r;
  Counter* in = r.counter(cloudwatch_metric_name("kinesis", "IncomingRecords"), {{"stream", "s1"}});
  Histogram* lat =
      r.histogram(cloudwatch_metric_name("kinesis", "PutRecords.Latency"), {{"stream", "s1"}});
  Gauge* rcu = r.gauge(cloudwatch_metric_name("dynamodb", "ConsumedReadCapacityUnits"),
                       {{"table", "t"}, {"operation", "GetItem"}});
  r.counter("freshet_firehose_delivery_failures_total", {{"DeliveryStreamName", "d"}});
  RegistrySampler sampler(r, *s);
  in->inc(10);
  lat->observe(3);
  lat->observe(7);
  rcu->add(2.5);
  sampler.sample(kT0);
  in->inc(5);
  rcu->add(1);
  sampler.sample(kT0 + 1);
  sampler.sample(kT0 + 2);  // idle: 0 once
  sampler.sample(kT0 + 3);  // then nothing
  auto id = s->find(SeriesKey{"AWS/Kinesis", "IncomingRecords", {{"StreamName", "s1"}}});
  ASSERT_TRUE(id.has_value());
  auto dp = s->query(*id, kT0, kT0 + 4, 1);
  ASSERT_EQ(dp->size(), 3u);
  EXPECT_DOUBLE_EQ((*dp)[0].stat.sum, 10);
  EXPECT_DOUBLE_EQ((*dp)[1].stat.sum, 5);
  EXPECT_DOUBLE_EQ((*dp)[2].stat.sum, 0);
  auto lid = s->find(SeriesKey{"AWS/Kinesis", "PutRecords.Latency", {{"StreamName", "s1"}}});
  ASSERT_TRUE(lid.has_value());
  EXPECT_EQ(s->info(*lid)->unit, "Milliseconds");
  auto l = s->query(*lid, kT0, kT0 + 4, 4);
  ASSERT_EQ(l->size(), 1u);
  EXPECT_DOUBLE_EQ(l->front().stat.count, 2);
  EXPECT_DOUBLE_EQ(l->front().stat.sum, 10);
  auto rid = s->find(SeriesKey{
      "AWS/DynamoDB", "ConsumedReadCapacityUnits", {{"Operation", "GetItem"}, {"TableName", "t"}}});
  ASSERT_TRUE(rid.has_value());
  auto rc = s->query(*rid, kT0, kT0 + 4, 4);
  EXPECT_DOUBLE_EQ(rc->front().stat.sum, 3.5);
  EXPECT_EQ(s->list("AWS/Firehose", "", {}).size(), 0u);
}

}  // namespace
}  // namespace freshet::metrics

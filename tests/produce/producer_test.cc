#include "freshet/produce/producer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <set>

#include "../testing/temp_dir.h"
#include "freshet/stream/engine.h"

namespace freshet::produce {
namespace {

using Clock = std::chrono::steady_clock;

// Records every accepted record; refuses the first attempt of every third record (as a
// throttled PutRecords does) when `refuse` is set; fails whole calls while `fail_calls` > 0.
struct Received {
  std::mutex mu;
  std::vector<std::string> data;
  std::vector<std::string> keys;
  std::set<std::string> refused_once;
  int fail_calls = 0;
  bool refuse = false;
  ErrorCode fail_code = ErrorCode::kUnavailable;
};

class FakeSink final : public Sink {
 public:
  explicit FakeSink(Received* r) : r_(r) {}
  Status put(const std::vector<const Record*>& records, std::vector<uint8_t>* retry) override {
    std::lock_guard lock(r_->mu);
    EXPECT_LE(records.size(), static_cast<size_t>(kMaxRequestRecords));
    if (r_->fail_calls > 0) {
      --r_->fail_calls;
      return Error(r_->fail_code, "injected");
    }
    retry->assign(records.size(), 0);
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string& d = records[i]->data;
      if (r_->refuse && std::hash<std::string>{}(d) % 3 == 0 && r_->refused_once.insert(d).second) {
        (*retry)[i] = 1;
        continue;
      }
      r_->data.push_back(d);
      r_->keys.push_back(records[i]->partition_key);
    }
    return Status();
  }

 private:
  Received* r_;
};

ProducerOptions options_for(Received* r) {
  ProducerOptions o;
  o.make_sink = [r]() -> Result<std::unique_ptr<Sink>> { return std::unique_ptr<Sink>(new FakeSink(r)); };
  return o;
}

std::unique_ptr<Source> tweets(double malformed = 0, uint64_t seed = 1) {
  GeneratorSourceOptions g;
  g.tweets.seed = seed;
  g.tweets.malformed_share = malformed;
  g.start_ms = 1'700'000'000'000;
  return make_generator_source(g);
}

TEST(Producer, SendsExactlyCountRecordsInBatchesOverSeveralSenders) {
  Received r;
  ProducerOptions o = options_for(&r);
  o.count = 5003;
  o.senders = 3;
  Producer p(o);
  auto src = tweets(0.02);
  ASSERT_TRUE(p.run(*src).ok());
  const ProducerStats s = p.stats();
  EXPECT_EQ(s.records, 5003u);
  EXPECT_EQ(r.data.size(), 5003u);
  std::set<std::string> distinct(r.data.begin(), r.data.end());
  EXPECT_EQ(distinct.size(), 5003u);
  uint64_t kinds = 0;
  for (uint64_t k : s.by_kind) kinds += k;
  EXPECT_EQ(kinds, 5003u);
  EXPECT_GT(s.by_kind[0], 4800u);
  EXPECT_GE(s.requests, 11u);  // at least ceil(5003 / 500)
}

TEST(Producer, RetriesRefusedRecordsAndFailedCalls) {
  Received r;
  r.refuse = true;
  r.fail_calls = 2;
  ProducerOptions o = options_for(&r);
  o.count = 1500;
  Producer p(o);
  auto src = tweets();
  ASSERT_TRUE(p.run(*src).ok());
  const ProducerStats s = p.stats();
  EXPECT_EQ(s.records, 1500u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_GT(s.retried, 300u);
  std::set<std::string> distinct(r.data.begin(), r.data.end());
  EXPECT_EQ(distinct.size(), 1500u);
  EXPECT_EQ(r.data.size(), 1500u);  // nothing accepted twice
}

TEST(Producer, StopsOnAFinalError) {
  Received r;
  r.fail_calls = 1000;
  r.fail_code = ErrorCode::kNotFound;
  ProducerOptions o = options_for(&r);
  o.count = 100'000;
  o.senders = 2;
  Producer p(o);
  auto src = tweets();
  Status st = p.run(*src);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kNotFound);
  EXPECT_EQ(p.stats().records, 0u);
}

TEST(Producer, GivesUpAfterMaxAttempts) {
  Received r;
  r.fail_calls = 1000;
  ProducerOptions o = options_for(&r);
  o.count = 10;
  o.max_attempts = 3;
  Producer p(o);
  auto src = tweets();
  ASSERT_TRUE(p.run(*src).ok());
  EXPECT_EQ(p.stats().failed, 10u);
  EXPECT_EQ(p.stats().requests, 3u);
  EXPECT_NE(p.stats().last_error.find("injected"), std::string::npos);
}

TEST(Producer, KeepsTheRate) {
  Received r;
  ProducerOptions o = options_for(&r);
  o.rate = 2000;
  o.count = 600;
  const auto t0 = Clock::now();
  Producer p(o);
  auto src = tweets();
  ASSERT_TRUE(p.run(*src).ok());
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(r.data.size(), 600u);
  EXPECT_GT(s, 0.25);  // 600 records at 2000/s: the last is due at 0.3 s
  EXPECT_LT(s, 3.0);
}

TEST(Producer, StopsAtTheDurationAndOnStop) {
  Received r;
  ProducerOptions o = options_for(&r);
  o.rate = 1000;
  o.duration_s = 0.3;
  Producer p(o);
  auto src = tweets();
  const auto t0 = Clock::now();
  ASSERT_TRUE(p.run(*src).ok());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 2.0);
  EXPECT_GT(r.data.size(), 150u);
  EXPECT_LT(r.data.size(), 450u);

  Received r2;
  ProducerOptions o2 = options_for(&r2);
  o2.rate = 100;
  Producer p2(o2);
  auto src2 = tweets();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    p2.stop();
  });
  ASSERT_TRUE(p2.run(*src2).ok());
  stopper.join();
  EXPECT_GT(r2.data.size(), 5u);
  EXPECT_LT(r2.data.size(), 100u);
}

TEST(LineSource, KeysLinesByTheirAuthorAndHashesTheRest) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/in.jsonl";
  {
    std::ofstream f(path);
    f << R"({"id_str":"10","user":{"id_str":"42"},"text":"a"})" << "\n\n"
      << R"({"data":{"id":"11","author_id":"43"}})" << "\r\n"
      << "not json\n"
      << R"({"user":{"id":77,"nested":{"k":"v"}}})" << "\n"
      << std::string(kMaxRecordBytes + 1, 'x') << "\n"
      << R"({"last":true})";  // no final newline
  }
  std::atomic<uint64_t> skipped{0};
  auto src = open_line_source({path, "", false}, &skipped);
  ASSERT_TRUE(src.ok());
  Record r;
  std::vector<Record> got;
  while (true) {
    auto more = (*src)->next(0, &r);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    got.push_back(r);
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].partition_key, "42");
  EXPECT_EQ(got[1].partition_key, "43");
  EXPECT_EQ(got[1].data, R"({"data":{"id":"11","author_id":"43"}})");
  EXPECT_EQ(got[2].partition_key.size(), 16u);  // a hash
  EXPECT_EQ(got[3].partition_key.size(), 16u);  // no default key field; user.id is nested
  EXPECT_EQ(got[4].data, R"({"last":true})");
  EXPECT_EQ(skipped.load(), 1u);

  auto keyed = open_line_source({path, "user.nested.k", false}, &skipped);
  ASSERT_TRUE(keyed.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*keyed)->next(0, &r).ok());
  EXPECT_EQ(r.partition_key, "v");

  EXPECT_FALSE(open_line_source({dir.path() + "/missing", "", false}, &skipped).ok());
}

TEST(LineSource, ReplayPacesByTheRecordedTimes) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/rec.jsonl";
  {
    std::ofstream f(path);
    f << R"({"timestamp_ms":"1700000000000","user":{"id_str":"1"}})" << "\n"
      << R"({"created_at":"Tue Nov 14 22:13:20 +0000 2023","user":{"id_str":"2"}})" << "\n"
      << R"({"data":{"created_at":"2023-11-14T22:13:20.400Z","author_id":"3"}})" << "\n"
      << R"({"timestamp_ms":1700000000800})" << "\n";
  }
  std::atomic<uint64_t> skipped{0};
  {
    auto src = open_line_source({path, "", true}, &skipped);
    ASSERT_TRUE(src.ok());
    Record r;
    std::vector<int64_t> times;
    while (*(*src)->next(0, &r)) times.push_back(r.event_ms);
    EXPECT_EQ(times, (std::vector<int64_t>{1700000000000, 1700000000000, 1700000000400,
                                           1700000000800}));
  }
  for (double speed : {1.0, 4.0}) {
    Received rec;
    ProducerOptions o = options_for(&rec);
    o.replay_speed = speed;
    auto src = open_line_source({path, "", true}, &skipped);
    ASSERT_TRUE(src.ok());
    Producer p(o);
    const auto t0 = Clock::now();
    ASSERT_TRUE(p.run(**src).ok());
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(rec.data.size(), 4u);
    EXPECT_GT(s, 0.8 / speed - 0.05) << speed;
    EXPECT_LT(s, 0.8 / speed + 0.6) << speed;
  }
}

TEST(TweetTime, ParsesBothShapes) {
  EXPECT_EQ(parse_tweet_time("Tue Nov 14 22:13:20 +0000 2023"), 1700000000000);
  EXPECT_EQ(parse_tweet_time("2023-11-14T22:13:20.000Z"), 1700000000000);
  EXPECT_EQ(parse_tweet_time("2023-11-14T22:13:20.25Z"), 1700000000250);
  EXPECT_EQ(parse_tweet_time("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(parse_tweet_time("yesterday"), -1);
  EXPECT_EQ(parse_tweet_time("Tue Nov 14 22:13:20 +0100 2023"), -1);
}

TEST(EngineSink, WritesIntoAStreamOfAnEngine) {
  testing::TempDir dir;
  stream::EngineOptions eo;
  eo.data_dir = dir.path();
  auto engine = stream::Engine::open(eo);
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE((*engine)->create_stream("us-east-1", "tweets", 2, stream::StreamMode::kProvisioned,
                                       {}, std::nullopt)
                  .ok());
  ProducerOptions o;
  o.count = 1200;
  o.senders = 2;
  stream::Engine* eng = engine->get();
  o.make_sink = [eng]() -> Result<std::unique_ptr<Sink>> {
    return make_engine_sink(*eng, "us-east-1", "tweets");
  };
  Producer p(o);
  auto src = tweets(0.01);
  ASSERT_TRUE(p.run(*src).ok());
  EXPECT_EQ(p.stats().records, 1200u);
  uint64_t stored = 0;
  for (const auto& s : (*engine)->shard_stats()) stored += s.tip - s.trim_horizon;
  EXPECT_EQ(stored, 1200u);

  ProducerOptions missing = o;
  missing.make_sink = [eng]() -> Result<std::unique_ptr<Sink>> {
    return make_engine_sink(*eng, "us-east-1", "nope");
  };
  Producer q(missing);
  auto src2 = tweets();
  EXPECT_EQ(q.run(*src2).code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace freshet::produce

// The Kinesis domain engine over real shard logs in a temp directory.
#include "freshet/stream/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include <atomic>
#include <set>
#include <thread>

#include "../testing/temp_dir.h"
#include "freshet/stream/hash_key.h"
#include "freshet/stream/resharding.h"
#include "freshet/stream/sequence_number.h"

namespace freshet::stream {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(int64_t delay_ms = 0) {
    engine_.reset();
    EngineOptions o;
    o.data_dir = dir_.path();
    o.state_delay_ms = delay_ms;
    o.shard_limit = 20;
    o.clock = &clock_;
    auto e = Engine::open(o);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    engine_ = std::move(*e);
  }

  std::vector<PutOutcome> put(const std::string& stream, int n, const std::string& prefix = "r") {
    std::vector<std::string> data;
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      data.push_back(prefix + std::to_string(i));
      keys.push_back("key-" + std::to_string(i));
    }
    std::vector<PutEntry> entries;
    for (int i = 0; i < n; ++i) entries.push_back(PutEntry{data[i], keys[i], ""});
    auto r = engine_->put_records("us-east-1", stream, entries);
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return r.ok() ? *r : std::vector<PutOutcome>{};
  }

  // Every record of a shard from TRIM_HORIZON, following NextShardIterator.
  std::vector<std::string> drain(const std::string& stream, const std::string& shard,
                                 std::vector<ChildShard>* children = nullptr, uint32_t limit = 3) {
    auto it = engine_->get_shard_iterator("us-east-1", stream, shard, IteratorType::kTrimHorizon, "", 0);
    EXPECT_TRUE(it.ok()) << it.error().to_string();
    std::vector<std::string> out;
    std::optional<std::string> cur = *it;
    for (int guard = 0; cur && guard < 10000; ++guard) {
      auto r = engine_->get_records(*cur, limit);
      EXPECT_TRUE(r.ok()) << r.error().to_string();
      if (!r.ok()) break;
      for (const auto& rec : r->records) out.emplace_back(rec.data);
      if (r->records.empty() && r->next_iterator) break;  // caught up with an open shard
      if (!r->next_iterator && children != nullptr) *children = r->child_shards;
      cur = r->next_iterator;
    }
    return out;
  }

  testing::TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, CreateDescribeListDelete) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s1", 3, StreamMode::kProvisioned, {{"a", "b"}}, {}).ok());
  auto again = engine_->create_stream("us-east-1", "s1", 1, StreamMode::kProvisioned, {}, {});
  EXPECT_EQ(again.code(), ErrorCode::kResourceInUse);
  EXPECT_EQ(again.error().message(), "Stream s1 under account 000000000000 already exists.");
  auto d = engine_->describe_stream("us-east-1", "s1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, StreamStatus::kActive);
  EXPECT_EQ(d->arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s1");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_EQ(d->shards[0].shard_id, "shardId-000000000000");
  EXPECT_EQ(format_hash_key(d->shards[2].range.end), "340282366920938463463374607431768211455");
  EXPECT_EQ(d->tags.at("a"), "b");
  EXPECT_EQ(engine_->list_streams("us-east-1"), std::vector<std::string>{"s1"});
  EXPECT_TRUE(engine_->list_streams("eu-west-1").empty());  // streams live per region
  ASSERT_TRUE(engine_->delete_stream("us-east-1", "s1", false).ok());
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s1").code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, ShardLimitIsEnforced) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "a", 15, StreamMode::kProvisioned, {}, {}).ok());
  auto r = engine_->create_stream("us-east-1", "b", 6, StreamMode::kProvisioned, {}, {});
  EXPECT_EQ(r.code(), ErrorCode::kLimitExceeded);
  EXPECT_NE(r.error().message().find("Current shard count for the account: 15. Limit: 20."),
            std::string::npos);
  EXPECT_TRUE(engine_->create_stream("eu-west-1", "b", 6, StreamMode::kProvisioned, {}, {}).ok());
}

TEST_F(EngineTest, PutAndGetRoundTripWithIncreasingSequenceNumbers) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 2, StreamMode::kProvisioned, {}, {}).ok());
  auto outcomes = put("s", 50);
  ASSERT_EQ(outcomes.size(), 50u);
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.error_code.empty());
    EXPECT_EQ(o.sequence_number.size(), 56u);
    by_shard[o.shard_id].push_back(o.sequence_number);
  }
  EXPECT_EQ(by_shard.size(), 2u);
  size_t total = 0;
  for (const auto& [shard, seqs] : by_shard) {
    for (size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
    auto records = drain("s", shard);
    EXPECT_EQ(records.size(), seqs.size());
    total += records.size();
  }
  EXPECT_EQ(total, 50u);
}

TEST_F(EngineTest, AsyncPutsAnswerOnceDurableAndNeedNoViewsAfterTheCall) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 2, StreamMode::kProvisioned, {}, {}).ok());
  constexpr int kPuts = 100;
  std::mutex mu;
  std::vector<std::string> seqs;  // guarded by mu
  std::atomic<int> answered{0}, failed{0};
  for (int i = 0; i < kPuts; ++i) {
    {
      // The entries' bytes die right after the call: the engine must have copied them.
      std::string data = "d" + std::to_string(i), key = "key-" + std::to_string(i);
      PutEntry e{data, key, ""};
      engine_->put_records_async("us-east-1", "s", std::span(&e, 1), [&](Result<PutBatchResult> r) {
        if (!r.ok() || r->records.size() != 1 ||
            r->records[0].status != PutBatchResult::Status::kOk) {
          failed.fetch_add(1);
        } else {
          std::lock_guard lock(mu);
          seqs.push_back(r->shards[r->records[0].shard].seqs.format(r->records[0].offset));
        }
        answered.fetch_add(1);
      });
      data.assign(data.size(), '#');
      key.assign(key.size(), '#');
    }
  }
  for (int i = 0; i < 10000 && answered.load() < kPuts; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(answered.load(), kPuts);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(std::set<std::string>(seqs.begin(), seqs.end()).size(), size_t{kPuts});
  std::set<std::string> stored;
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
    for (const auto& d : drain("s", shard, nullptr, 1000)) stored.insert(d);
  }
  EXPECT_EQ(stored.size(), size_t{kPuts});
  EXPECT_EQ(stored.count("d7"), 1u);
  // Errors found before writing answer inline.
  bool inline_answer = false;
  PutEntry e{"x", "k", ""};
  engine_->put_records_async("us-east-1", "nope", std::span(&e, 1), [&](Result<PutBatchResult> r) {
    inline_answer = true;
    EXPECT_EQ(r.code(), ErrorCode::kNotFound);
  });
  EXPECT_TRUE(inline_answer);
}

TEST_F(EngineTest, IteratorTypes) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  auto first = put("s", 5, "a");
  clock_.advance(10'000);
  auto second = put("s", 5, "b");
  auto get = [&](IteratorType t, const std::string& seq, int64_t ts) {
    auto it = engine_->get_shard_iterator("us-east-1", "s", "shardId-000000000000", t, seq, ts);
    EXPECT_TRUE(it.ok()) << it.error().to_string();
    auto r = engine_->get_records(*it, 100);
    EXPECT_TRUE(r.ok());
    std::vector<std::string> out;
    for (const auto& rec : r->records) out.emplace_back(rec.data);
    return out;
  };
  EXPECT_EQ(get(IteratorType::kTrimHorizon, "", 0).size(), 10u);
  EXPECT_TRUE(get(IteratorType::kLatest, "", 0).empty());
  auto at = get(IteratorType::kAtSequenceNumber, first[3].sequence_number, 0);
  ASSERT_EQ(at.size(), 7u);
  EXPECT_EQ(at[0], "a3");
  auto after = get(IteratorType::kAfterSequenceNumber, first[3].sequence_number, 0);
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after[0], "a4");
  auto ts = get(IteratorType::kAtTimestamp, "", 1'700'000'005'000);
  ASSERT_EQ(ts.size(), 5u);
  EXPECT_EQ(ts[0], "b0");
  // A sequence number of another stream is refused.
  ASSERT_TRUE(engine_->create_stream("us-east-1", "t", 1, StreamMode::kProvisioned, {}, {}).ok());
  auto other = engine_->get_shard_iterator("us-east-1", "t", "shardId-000000000000",
                                           IteratorType::kAtSequenceNumber,
                                           first[0].sequence_number, 0);
  EXPECT_EQ(other.code(), ErrorCode::kInvalidArgument);
}

TEST_F(EngineTest, IteratorsExpireAfterFiveMinutesAndCannotBeForged) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  auto it = engine_->get_shard_iterator("us-east-1", "s", "shardId-000000000000",
                                        IteratorType::kTrimHorizon, "", 0);
  ASSERT_TRUE(it.ok());
  std::string forged = *it;
  forged[10] = forged[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(engine_->get_records(forged, 10).code(), ErrorCode::kInvalidArgument);
  clock_.advance(300'001);
  EXPECT_EQ(engine_->get_records(*it, 10).code(), ErrorCode::kExpired);
}

TEST_F(EngineTest, SplitAndMergeKeepParentsReadableAndLinkChildren) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  put("s", 10, "before");
  auto half = HashKey{uint128{1} << 127};
  ASSERT_TRUE(engine_->split_shard("us-east-1", "s", "shardId-000000000000", half).ok());
  auto d = engine_->describe_stream("us-east-1", "s");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_TRUE(d->shards[0].closed);
  EXPECT_FALSE(d->shards[0].ending_sequence_number.empty());
  EXPECT_EQ(d->shards[1].parent_shard_id, "shardId-000000000000");
  EXPECT_EQ(d->shards[2].range.start, half);
  put("s", 20, "after");
  std::vector<ChildShard> children;
  auto parent = drain("s", "shardId-000000000000", &children);
  EXPECT_EQ(parent.size(), 10u);
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(drain("s", "shardId-000000000001").size() + drain("s", "shardId-000000000002").size(), 20u);
  // Splitting a closed shard is refused; merging the children works.
  EXPECT_EQ(engine_->split_shard("us-east-1", "s", "shardId-000000000000", half).code(),
            ErrorCode::kResourceInUse);
  EXPECT_EQ(engine_->merge_shards("us-east-1", "s", "shardId-000000000001", "shardId-000000000001").code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(engine_->merge_shards("us-east-1", "s", "shardId-000000000001", "shardId-000000000002").ok());
  d = engine_->describe_stream("us-east-1", "s");
  ASSERT_EQ(d->shards.size(), 4u);
  EXPECT_EQ(d->shards[3].parent_shard_id, "shardId-000000000001");
  EXPECT_EQ(d->shards[3].adjacent_parent_shard_id, "shardId-000000000002");
  EXPECT_EQ(d->shards[3].range, full_hash_key_range());
}

TEST_F(EngineTest, RecordsAcknowledgedDuringASplitAreAllReadable) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  std::atomic<bool> stop{false};
  std::atomic<size_t> acked{0};
  std::thread writer([&] {
    for (int round = 0; round < 2000 && !stop.load(); ++round) {
      auto outcomes = put("s", 10, "w" + std::to_string(round) + "-");
      for (const auto& o : outcomes) acked += o.error_code.empty() ? 1 : 0;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(engine_->split_shard("us-east-1", "s", "shardId-000000000000",
                                   HashKey{uint128{1} << 127}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  writer.join();
  size_t read = 0;
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}) {
    read += drain("s", shard, nullptr, 10000).size();
  }
  EXPECT_GT(acked.load(), 0u);
  EXPECT_EQ(read, acked.load());
}

TEST_F(EngineTest, UpdateShardCount) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 2, StreamMode::kProvisioned, {}, {}).ok());
  auto before = engine_->update_shard_count("us-east-1", "s", 4);
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  EXPECT_EQ(*before, 2u);
  auto d = engine_->describe_stream("us-east-1", "s");
  EXPECT_EQ(d->open_shard_count(), 4u);
  EXPECT_EQ(engine_->update_shard_count("us-east-1", "s", 9).code(), ErrorCode::kLimitExceeded);
}

// UNIFORM_SCALING is a sequence of real splits and merges, as AWS performs it: every new
// shard has one parent containing its range (a split) or two adjacent parents whose ranges
// make up exactly its range (a merge), and the open shards end up as equal slices.
TEST_F(EngineTest, UniformScalingSplitsAndMergesLikeAws) {
  const std::pair<uint32_t, uint32_t> cases[] = {{2, 3}, {5, 3}, {4, 7}, {3, 5}, {4, 2}, {7, 4}};
  for (const auto& [from, to] : cases) {
    const std::string name = "u" + std::to_string(from) + "-" + std::to_string(to);
    ASSERT_TRUE(engine_->create_stream("us-east-1", name, from, StreamMode::kProvisioned, {}, {}).ok());
    ASSERT_TRUE(engine_->update_shard_count("us-east-1", name, to).ok()) << name;
    auto d = engine_->describe_stream("us-east-1", name);
    ASSERT_TRUE(d.ok());
    std::map<std::string, Shard> by_id;
    for (const Shard& sh : d->shards) by_id[sh.shard_id] = sh;
    std::vector<HashKeyRange> open;
    for (const Shard& sh : d->shards) {
      if (!sh.closed) open.push_back(sh.range);
      if (sh.parent_shard_id.empty()) continue;
      const Shard& p = by_id.at(sh.parent_shard_id);
      ASSERT_TRUE(p.closed) << name << " " << sh.shard_id;
      if (sh.adjacent_parent_shard_id.empty()) {
        EXPECT_TRUE(p.range.start <= sh.range.start && sh.range.end <= p.range.end)
            << name << ": " << sh.shard_id << " is not inside its parent";
      } else {
        const Shard& a = by_id.at(sh.adjacent_parent_shard_id);
        ASSERT_TRUE(a.closed);
        EXPECT_TRUE(p.range.end.value + 1 == a.range.start.value)
            << name << ": " << sh.shard_id << "'s parents are not adjacent";
        EXPECT_TRUE(p.range.start == sh.range.start && a.range.end == sh.range.end)
            << name << ": " << sh.shard_id << " is not the union of its parents";
      }
    }
    auto expected = uniform_scaling_ranges(to);
    ASSERT_TRUE(expected.ok());
    std::sort(open.begin(), open.end(),
              [](const HashKeyRange& a, const HashKeyRange& b) { return a.start < b.start; });
    EXPECT_EQ(open, *expected) << name;
    ASSERT_TRUE(engine_->delete_stream("us-east-1", name, false).ok());  // the shard limit is 20
    engine_->tick();
  }
}

TEST_F(EngineTest, StatusTransitionsFollowTheStateDelay) {
  open(1000);
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s")->status, StreamStatus::kCreating);
  EXPECT_EQ(engine_->put_records("us-east-1", "s", {}).code(), ErrorCode::kNotFound);
  clock_.advance(1000);
  engine_->tick();
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s")->status, StreamStatus::kActive);
  ASSERT_TRUE(engine_->increase_retention("us-east-1", "s", 48).ok());
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s")->status, StreamStatus::kUpdating);
  EXPECT_EQ(engine_->increase_retention("us-east-1", "s", 72).code(), ErrorCode::kResourceInUse);
  clock_.advance(1000);
  engine_->tick();
  ASSERT_TRUE(engine_->delete_stream("us-east-1", "s", false).ok());
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s")->status, StreamStatus::kDeleting);
  clock_.advance(1000);
  engine_->tick();
  EXPECT_EQ(engine_->describe_stream("us-east-1", "s").code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, EverythingSurvivesARestart) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 2, StreamMode::kProvisioned, {{"team", "x"}}, {}).ok());
  ASSERT_TRUE(engine_->increase_retention("us-east-1", "s", 100).ok());
  ASSERT_TRUE(engine_->register_consumer("us-east-1", "s", "c1").ok());
  ASSERT_TRUE(engine_->split_shard("us-east-1", "s", "shardId-000000000000", HashKey{uint128{1} << 100}).ok());
  auto d0 = engine_->describe_stream("us-east-1", "s");
  ASSERT_TRUE(engine_->put_policy(d0->arn, "{\"Version\":\"2012-10-17\"}").ok());
  auto outcomes = put("s", 30);
  auto it = engine_->get_shard_iterator("us-east-1", "s", outcomes[0].shard_id,
                                        IteratorType::kTrimHorizon, "", 0);
  ASSERT_TRUE(it.ok());
  open();  // a new engine over the same directory
  auto d = engine_->describe_stream("us-east-1", "s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->retention_hours, 100);
  EXPECT_EQ(d->tags.at("team"), "x");
  ASSERT_EQ(d->consumers.size(), 1u);
  EXPECT_EQ(d->shards.size(), 4u);
  EXPECT_EQ(d->epoch, d0->epoch);
  auto policy = engine_->get_policy(d->arn);
  ASSERT_TRUE(policy.ok()) << policy.error().to_string();
  EXPECT_EQ(*policy, "{\"Version\":\"2012-10-17\"}");
  // The old iterator still works and every record is there.
  auto r = engine_->get_records(*it, 1000);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_FALSE(r->records.empty());
  size_t total = 0;
  for (const auto& sh : d->shards) total += drain("s", sh.shard_id).size();
  EXPECT_EQ(total, 30u);
}

TEST_F(EngineTest, DeletedAndRecreatedStreamStartsEmpty) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  put("s", 5);
  auto it = engine_->get_shard_iterator("us-east-1", "s", "shardId-000000000000",
                                        IteratorType::kTrimHorizon, "", 0);
  ASSERT_TRUE(engine_->delete_stream("us-east-1", "s", false).ok());
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  EXPECT_TRUE(drain("s", "shardId-000000000000").empty());
  EXPECT_EQ(engine_->get_records(*it, 10).code(), ErrorCode::kNotFound);
}

TEST_F(EngineTest, ThroughputLimitsWhenEnforced) {
  engine_.reset();
  EngineOptions o;
  o.data_dir = dir_.path();
  o.enforce_limits = true;
  o.clock = &clock_;
  engine_ = std::move(Engine::open(o).value());
  ASSERT_TRUE(engine_->create_stream("us-east-1", "s", 1, StreamMode::kProvisioned, {}, {}).ok());
  std::string big(600 * 1024, 'x');
  std::vector<PutEntry> entries = {{big, "k", ""}, {big, "k", ""}};
  auto r = engine_->put_records("us-east-1", "s", entries);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].error_code.empty());
  EXPECT_EQ((*r)[1].error_code, "ProvisionedThroughputExceededException");
  clock_.advance(1000);
  auto it = engine_->get_shard_iterator("us-east-1", "s", "shardId-000000000000",
                                        IteratorType::kLatest, "", 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(engine_->get_records(*it, 1).ok());
  EXPECT_EQ(engine_->get_records(*it, 1).code(), ErrorCode::kThrottled);
}

}  // namespace
}  // namespace freshet::stream

// SubscribeToShard in-process: the handler's event stream read straight from its
// ResponseStream and decoded message by message.
#include <chrono>
#include <thread>

#include "freshet/api/event_stream.h"
#include "kinesis_fixture.h"

namespace freshet::api {
namespace {

using Clock = std::chrono::steady_clock;

struct Event {
  std::string message_type;  // "event" or "exception"
  std::string type;          // :event-type or :exception-type
  Document body;             // decoded JSON payload
};

class SubscribeTest : public KinesisApiTest {
 protected:
  void configure() override {
    options_.subscription_lifetime_ms = lifetime_ms_;
    options_.subscription_heartbeat_ms = 300;
    options_.enforce_limits = enforce_limits_;
  }

  // Registers consumer "c" on a new stream and returns its ARN.
  std::string consumer(const std::string& stream, int shards) {
    create(stream, shards);
    Document reg = ok("RegisterStreamConsumer",
                      Document(Map{{"StreamARN", arn(stream)}, {"ConsumerName", "c"}}));
    return reg.find("Consumer")->find("ConsumerARN")->as_string();
  }

  ApiResult subscribe(const std::string& carn, const std::string& shard, Document position) {
    return call("SubscribeToShard", Document(Map{{"ConsumerARN", carn},
                                                 {"ShardId", shard},
                                                 {"StartingPosition", std::move(position)}}));
  }

  // Subscribes; retries for a while on ResourceInUse (a cancelled subscription's slot is
  // freed by its worker soon after).
  std::shared_ptr<ResponseStream> open(const std::string& carn, const std::string& shard,
                                       Document position) {
    ApiResult r = subscribe(carn, shard, position);
    for (int i = 0; i < 200 && !r.ok() && r.error().type == AwsError::kResourceInUse; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      r = subscribe(carn, shard, position);
    }
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok() || !r.streaming()) return nullptr;
    StreamingBody b = std::move(r).streaming_body();
    EXPECT_EQ(b.content_type, "application/vnd.amazon.eventstream");
    return b.stream;
  }

  // Reads events until `n` arrived, the stream ended, or `timeout` passed.
  std::vector<Event> read(ResponseStream& s, size_t n, bool* ended = nullptr,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<Event> out;
    const auto deadline = Clock::now() + timeout;
    bool taken_end = false;
    while (out.size() < n && Clock::now() < deadline) {
      ResponseStream::Taken t;
      if (!taken_end) t = s.take();
      taken_end = taken_end || t.ended;
      pending_ += t.bytes;
      size_t used = 0;
      while (out.size() < n) {
        auto m = decode_event_message(pending_, &used);
        if (!m.ok()) {
          EXPECT_EQ(m.code(), ErrorCode::kOutOfRange) << m.error().message();
          break;
        }
        pending_.erase(0, used);
        Event e;
        e.message_type = std::string(m->header(":message-type"));
        e.type = std::string(
            m->header(e.message_type == "event" ? ":event-type" : ":exception-type"));
        auto doc = decode_json(m->payload);
        EXPECT_TRUE(doc.ok()) << m->payload;
        if (doc.ok()) {
          EXPECT_TRUE(apply_shape(*doc, ShapeHint().blob("Records[].Data"), true).ok());
          e.body = std::move(*doc);
        }
        out.push_back(std::move(e));
      }
      if (taken_end && (out.size() >= n || pending_.empty())) {
        if (ended != nullptr) *ended = pending_.empty();
        break;
      }
      if (t.bytes.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return out;
  }

  static std::vector<std::string> datas(const Event& e) {
    std::vector<std::string> v;
    if (const Document* recs = e.body.find("Records")) {
      for (const auto& r : recs->as_list()) v.push_back(r.find("Data")->as_blob());
    }
    return v;
  }

  // Reads events until `n` records arrived (AWS may split them over several events); returns
  // their data and the last event.
  std::vector<std::string> read_records(ResponseStream& s, size_t n, Event* last = nullptr) {
    std::vector<std::string> got;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (got.size() < n && Clock::now() < deadline) {
      for (Event& e : read(s, 1, nullptr, std::chrono::milliseconds(200))) {
        for (std::string& d : datas(e)) got.push_back(std::move(d));
        if (last != nullptr) *last = std::move(e);
      }
    }
    return got;
  }

  std::string pending_;
  int64_t lifetime_ms_ = 300'000;
  bool enforce_limits_ = false;
};

Document position(const std::string& type, const std::string& seq = "") {
  Document p = Document(Map{{"Type", type}});
  if (!seq.empty()) p.set("SequenceNumber", seq);
  return p;
}

TEST_F(SubscribeTest, DeliversRecordsAfterTheInitialResponse) {
  const std::string carn = consumer("s", 1);
  const std::string s1 = put("s", "a", "k");
  const std::string s2 = put("s", "b", "k");
  auto stream = open(carn, "shardId-000000000000", position("TRIM_HORIZON"));
  ASSERT_NE(stream, nullptr);
  std::vector<Event> ev = read(*stream, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "initial-response");
  EXPECT_EQ(ev[0].message_type, "event");
  EXPECT_EQ(ev[0].body.as_map().size(), 0u);
  Event last;
  EXPECT_EQ(read_records(*stream, 2, &last), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(last.message_type, "event");
  EXPECT_EQ(last.type, "SubscribeToShardEvent");
  EXPECT_EQ(last.body.find("ContinuationSequenceNumber")->as_string(), s2);
  EXPECT_EQ(last.body.find("MillisBehindLatest")->as_int(), 0);
  EXPECT_EQ(last.body.find("Records")->as_list().back().find("SequenceNumber")->as_string(), s2);
  EXPECT_EQ(last.body.find("ChildShards"), nullptr);
  (void)s1;

  // Records put while subscribed arrive as they become durable.
  const std::string s3 = put("s", "c", "k");
  ev = read(*stream, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(datas(ev[0]), (std::vector<std::string>{"c"}));
  EXPECT_EQ(ev[0].body.find("ContinuationSequenceNumber")->as_string(), s3);

  // Nothing new: an empty event (heartbeat) keeps the continuation.
  ev = read(*stream, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(datas(ev[0]).empty());
  EXPECT_EQ(ev[0].body.find("ContinuationSequenceNumber")->as_string(), s3);
}

TEST_F(SubscribeTest, OneSubscriptionPerConsumerAndShard) {
  const std::string carn = consumer("s", 2);
  auto first = open(carn, "shardId-000000000000", position("LATEST"));
  ASSERT_NE(first, nullptr);
  ApiResult again = subscribe(carn, "shardId-000000000000", position("LATEST"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().type, AwsError::kResourceInUse);
  EXPECT_EQ(again.error().message,
            "Another active subscription exists for this consumer: " + carn +
                " and shard: shardId-000000000000.");
  // Another shard of the same consumer is fine; a cancelled subscription frees its slot.
  EXPECT_NE(open(carn, "shardId-000000000001", position("LATEST")), nullptr);
  first->cancel();
  std::shared_ptr<ResponseStream> next;
  for (int i = 0; i < 200 && next == nullptr; ++i) {
    ApiResult r = subscribe(carn, "shardId-000000000000", position("LATEST"));
    if (r.ok()) next = std::move(r).streaming_body().stream;
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(next, nullptr);
}

TEST_F(SubscribeTest, EveryStartingPosition) {
  const std::string carn = consumer("s", 1);
  std::vector<std::string> seqs;
  for (const char* d : {"a", "b", "c"}) seqs.push_back(put("s", d, "k"));
  struct Case {
    Document pos;
    std::vector<std::string> want;
  };
  Document at_ts = position("AT_TIMESTAMP");
  at_ts.set("Timestamp", Document::timestamp_ms(0));
  std::vector<Case> cases;
  cases.push_back({position("AT_SEQUENCE_NUMBER", seqs[1]), {"b", "c"}});
  cases.push_back({position("AFTER_SEQUENCE_NUMBER", seqs[1]), {"c"}});
  cases.push_back({position("TRIM_HORIZON"), {"a", "b", "c"}});
  cases.push_back({std::move(at_ts), {"a", "b", "c"}});
  for (auto& c : cases) {
    pending_.clear();
    auto st = open(carn, "shardId-000000000000", std::move(c.pos));
    ASSERT_NE(st, nullptr);
    ASSERT_EQ(read(*st, 1).size(), 1u);  // initial-response
    EXPECT_EQ(read_records(*st, c.want.size()), c.want);
    st->cancel();
  }
  // LATEST: only what comes after.
  pending_.clear();
  auto st = open(carn, "shardId-000000000000", position("LATEST"));
  ASSERT_NE(st, nullptr);
  ASSERT_EQ(read(*st, 1).size(), 1u);  // initial-response
  put("s", "d", "k");
  std::vector<Event> ev = read(*st, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(datas(ev[0]), (std::vector<std::string>{"d"}));
  // LATEST with no records yet: the continuation resumes after the last record.
  EXPECT_EQ(ev[0].body.find("ContinuationSequenceNumber")->as_string(),
            ev[0].body.find("Records")->as_list()[0].find("SequenceNumber")->as_string());
}

TEST_F(SubscribeTest, ValidationAndMissingResources) {
  const std::string carn = consumer("s", 1);
  ApiResult r = call("SubscribeToShard", Document(Map{{"ShardId", "shardId-000000000000"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kValidation);
  EXPECT_EQ(r.error().message,
            "2 validation errors detected: Value null at 'consumerARN' failed to satisfy "
            "constraint: Member must not be null; Value null at 'startingPosition' failed to "
            "satisfy constraint: Member must not be null");
  std::string other = carn;
  other.replace(other.find("/consumer/c:"), 12, "/consumer/d:");
  r = subscribe(other, "shardId-000000000000", position("LATEST"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kResourceNotFound);
  r = subscribe(carn, "shardId-000000000007", position("LATEST"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kResourceNotFound);
  r = subscribe(carn, "shardId-000000000000", position("AT_SEQUENCE_NUMBER"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kInvalidArgument);
}

TEST_F(SubscribeTest, ReshardingEndsWithChildShards) {
  const std::string carn = consumer("s", 1);
  put("s", "before", "k");
  auto st = open(carn, "shardId-000000000000", position("TRIM_HORIZON"));
  ASSERT_NE(st, nullptr);
  ASSERT_EQ(read(*st, 2).size(), 2u);
  ok("SplitShard", Document(Map{{"StreamName", "s"},
                                {"ShardToSplit", "shardId-000000000000"},
                                {"NewStartingHashKey", "170141183460469231731687303715884105728"}}));
  bool ended = false;
  std::vector<Event> ev = read(*st, 10, &ended);
  ASSERT_TRUE(ended);
  ASSERT_FALSE(ev.empty());
  const Event& last = ev.back();
  EXPECT_EQ(last.type, "SubscribeToShardEvent");
  EXPECT_EQ(last.body.find("ContinuationSequenceNumber"), nullptr);
  const Document* children = last.body.find("ChildShards");
  ASSERT_NE(children, nullptr);
  ASSERT_EQ(children->as_list().size(), 2u);
  EXPECT_EQ(children->as_list()[0].find("ShardId")->as_string(), "shardId-000000000001");
  EXPECT_EQ(children->as_list()[1].find("ShardId")->as_string(), "shardId-000000000002");
  // The ended subscription freed its slot: subscribing to a child works.
  EXPECT_NE(open(carn, "shardId-000000000001", position("TRIM_HORIZON")), nullptr);
}

TEST_F(SubscribeTest, ASlowReaderHoldsTheReadingBack) {
  const std::string carn = consumer("s", 1);
  const std::string big(1000 * 1000, 'x');
  for (int i = 0; i < 10; ++i) put("s", big, "k");  // 10 MB
  auto st = open(carn, "shardId-000000000000", position("TRIM_HORIZON"));
  ASSERT_NE(st, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Nothing taken: at most the bound plus one read's events are buffered, not all 10 MB.
  const size_t buffered = st->buffered();
  EXPECT_LT(buffered, 4u * 1024 * 1024 + 4u * 1024 * 1024) << buffered;
  EXPECT_GT(buffered, 0u);
  // Reading slowly still gets every record, in order.
  size_t records = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (records < 10 && Clock::now() < deadline) {
    for (const Event& e : read(*st, 1)) records += datas(e).size();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(records, 10u);
}

class ShortSubscribeTest : public SubscribeTest {
 protected:
  void configure() override {
    lifetime_ms_ = 400;
    SubscribeTest::configure();
  }
};

class LimitedSubscribeTest : public SubscribeTest {
 protected:
  void configure() override {
    enforce_limits_ = true;
    SubscribeTest::configure();
  }
};

// The engine's per-shard limits on too (freshet serve --enforce-limits sets both).
class EngineLimitedSubscribeTest : public SubscribeTest {
 protected:
  void configure() override {
    enforce_limits_ = true;
    engine_limits_ = true;
    SubscribeTest::configure();
  }
};

TEST_F(EngineLimitedSubscribeTest, SubscriptionsDoNotUseTheSharedReadLimits) {
  const std::string carn = consumer("s", 1);
  for (int i = 0; i < 20; ++i) put("s", "r" + std::to_string(i), "k");
  auto st = open(carn, "shardId-000000000000", position("TRIM_HORIZON"));
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(read_records(*st, 20).size(), 20u);
  // The subscription's reads left the shard's 5 GetRecords calls per second untouched.
  Document it = ok("GetShardIterator", Document(Map{{"StreamName", "s"},
                                                    {"ShardId", "shardId-000000000000"},
                                                    {"ShardIteratorType", "TRIM_HORIZON"}}));
  for (int i = 0; i < 5; ++i) {
    Document r = ok("GetRecords", Document(Map{{"ShardIterator", *it.find("ShardIterator")},
                                               {"Limit", 1}}));
    ASSERT_NE(r.find("NextShardIterator"), nullptr) << i;
    it = Document(Map{{"ShardIterator", *r.find("NextShardIterator")}});
  }
}

TEST_F(ShortSubscribeTest, EndsAfterItsLifetime) {
  const std::string carn = consumer("s", 1);
  auto st = open(carn, "shardId-000000000000", position("LATEST"));
  ASSERT_NE(st, nullptr);
  bool ended = false;
  const auto start = Clock::now();
  read(*st, 100, &ended, std::chrono::seconds(5));
  EXPECT_TRUE(ended);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(LimitedSubscribeTest, LimitsDeliveryToTwoMiBPerSecond) {
  const std::string carn = consumer("s", 1);
  const std::string big(512 * 1024, 'x');
  // 3 MiB: the first 2 MiB go at once (a full bucket), the rest after about half a second.
  for (int i = 0; i < 6; ++i) put("s", big, "k");
  auto st = open(carn, "shardId-000000000000", position("TRIM_HORIZON"));
  ASSERT_NE(st, nullptr);
  const auto start = Clock::now();
  size_t records = 0;
  while (records < 6 && Clock::now() - start < std::chrono::seconds(5)) {
    for (const Event& e : read(*st, 1, nullptr, std::chrono::milliseconds(100))) {
      records += datas(e).size();
    }
  }
  EXPECT_EQ(records, 6u);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(400));
}

}  // namespace
}  // namespace freshet::api

// The raw PutRecord(s) path must answer every request exactly as the decoded path does:
// two identical servers, one with the raw path and one without, get the same requests and
// must give byte-identical answers (sequence numbers included: same epochs, same offsets).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dispatcher.h"
#include "freshet/api/codec.h"
#include "freshet/api/kinesis.h"
#include "freshet/common/base64.h"
#include "testing/temp_dir.h"

namespace freshet::api {
namespace {

class Side {
 public:
  Side(const std::string& dir, bool raw, const Clock* clock) {
    stream::EngineOptions o;
    o.data_dir = dir;
    o.durability = log::Durability::kOs;
    o.clock = clock;
    engine_ = std::move(stream::Engine::open(o).value());
    KinesisApiOptions ko;
    ko.raw_put_path = raw;
    EXPECT_TRUE(register_kinesis(services_, *engine_, metrics_, ko).ok());
    dispatcher_ = std::make_unique<Dispatcher>(services_, metrics_, DecodeLimits{});
  }

  AwsResponse call(const std::string& op, const std::string& body, bool signed_request = true) {
    const std::string target = "Kinesis_20131202." + op;
    AwsRequest req;
    req.target = "/";
    req.content_type = "application/x-amz-json-1.1";
    req.amz_target = target;
    req.authorization =
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc";
    req.has_date = true;
    if (!signed_request) req.authorization = {};
    req.body = body;
    req.request_id = "rid";
    return dispatcher_->dispatch(req);
  }

  std::string metrics_text() { return metrics_.render_prometheus(); }

  // How many requests of op the raw path took.
  int raw_taken(const std::string& op) {
    const std::string text = metrics_.render_prometheus();
    const std::string key =
        "freshet_api_raw_path_requests_total{operation=\"" + op + "\",service=\"kinesis\"} ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + key.size()));
  }

 private:
  metrics::Registry metrics_;
  ServiceRegistry services_;
  std::unique_ptr<stream::Engine> engine_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

class PutRawTest : public ::testing::Test {
 protected:
  void SetUp() override {
    raw_ = std::make_unique<Side>(dir_.path() + "/raw", true, &clock_);
    decoded_ = std::make_unique<Side>(dir_.path() + "/decoded", false, &clock_);
    same("CreateStream", R"({"StreamName":"s","ShardCount":2})");
  }

  // Sends body to both sides; the answers must match byte for byte. Returns the answer.
  AwsResponse same(const std::string& op, const std::string& body) {
    AwsResponse a = raw_->call(op, body);
    AwsResponse b = decoded_->call(op, body);
    EXPECT_EQ(a.status, b.status) << op << " " << body.substr(0, 200);
    EXPECT_EQ(a.error_type, b.error_type) << op << " " << body.substr(0, 200);
    EXPECT_EQ(a.body, b.body) << op << " " << body.substr(0, 200);
    return a;
  }

  testing::TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Side> raw_, decoded_;
};

std::string rec(const std::string& data64, const std::string& key, const std::string& extra = "") {
  return R"({"Data":")" + data64 + R"(","PartitionKey":")" + key + "\"" + extra + "}";
}

std::string records(const std::vector<std::string>& recs, const std::string& head = R"("StreamName":"s")") {
  std::string out = "{" + head + ",\"Records\":[";
  for (size_t i = 0; i < recs.size(); ++i) out += (i ? "," : "") + recs[i];
  return out + "]}";
}

TEST_F(PutRawTest, PutRecordsAnswersMatchTheDecodedPath) {
  const std::string d = base64_encode("hello");
  std::vector<std::string> many;
  for (int i = 0; i < 500; ++i) many.push_back(rec(d, "k" + std::to_string(i)));
  std::vector<std::string> too_many = many;
  too_many.push_back(rec(d, "x"));
  const std::string arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
  const std::vector<std::string> bodies = {
      // Plain requests (the raw path takes these).
      records({rec(d, "a")}),
      records({rec(d, "a"), rec(d, "b"), rec("", "c")}),
      records(many),
      records({rec(d, "a", R"(,"ExplicitHashKey":"0")")}),
      records({rec(d, "a", R"(,"ExplicitHashKey":"340282366920938463463374607431768211455")")}),
      records({rec(d, "a")}, R"("StreamARN":")" + arn + "\""),
      records({rec(d, "a")}, R"("StreamName":"s","StreamARN":")" + arn + "\""),
      records({rec(d, "\\u0041\\n")}),
      records({rec(d, "ключ")}),
      // Answers the raw path still gives itself, after validation.
      records({rec(d, "a")}, R"("StreamName":"nope")"),
      records({rec(d, "a", R"(,"ExplicitHashKey":"340282366920938463463374607431768211456")")}),
      records({rec(d, "a")}, R"("StreamARN":"arn:aws:kinesis:eu-west-1:000000000000:stream/s")"),
      // Requests it declines.
      records({}),
      records(too_many),
      records({R"({"PartitionKey":"a"})"}),
      records({R"({"Data":")" + d + R"("})"}),
      records({rec("abc", "a")}),
      records({rec("QR==", "a")}),
      records({R"({"Data":5,"PartitionKey":"a"})"}),
      records({R"({"Data":null,"PartitionKey":"a"})"}),
      records({rec(d, "")}),
      records({rec(d, std::string(257, 'k'))}),
      records({rec(d, "a", R"(,"ExplicitHashKey":"-1")")}),
      records({rec(d, "a", R"(,"ExplicitHashKey":"")")}),
      records({rec(d, "a", R"(,"ExplicitHashKey":null)")}),
      records({rec(d, "a", R"(,"Foo":1)")}),
      records({rec(d, "a", R"(,"Data":"YQ==")")}),
      records({rec(d, "a")}, R"("StreamName":"a b")"),
      records({rec(d, "a")}, R"("StreamName":"s","StreamName":"t")"),
      records({rec(d, "a")}, R"("StreamName":"s","Foo":[1])"),
      records({rec(d, "a")}, R"("StreamId":"nope")"),
      records({"5"}),
      R"({"StreamName":"s"})",
      R"({"Records":[]})",
      R"([1,2])",
      R"({"StreamName":"s","Records":[)",
      "",
  };
  for (const std::string& body : bodies) same("PutRecords", body);
  EXPECT_EQ(raw_->raw_taken("PutRecords"), 12);  // the plain ones, up to "Requests it declines"
  EXPECT_EQ(decoded_->raw_taken("PutRecords"), 0);
  // Both sides stored the same records (iterators differ: each side has its own key).
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
    std::vector<Document> got;
    for (Side* side : {raw_.get(), decoded_.get()}) {
      AwsResponse it = side->call("GetShardIterator", std::string(R"({"StreamName":"s","ShardId":")") +
                                                          shard + R"(","ShardIteratorType":"TRIM_HORIZON"})");
      ASSERT_EQ(it.status, 200);
      auto token = decode_json(it.body);
      ASSERT_TRUE(token.ok());
      AwsResponse r = side->call("GetRecords", R"({"ShardIterator":")" +
                                                   token->find("ShardIterator")->as_string() + "\"}");
      ASSERT_EQ(r.status, 200) << r.body;
      auto doc = decode_json(r.body);
      ASSERT_TRUE(doc.ok());
      got.push_back(*doc->find("Records"));
    }
    EXPECT_GT(got[0].as_list().size(), 0u);
    EXPECT_EQ(got[0], got[1]) << shard;
  }
}

TEST_F(PutRawTest, MutatedBodiesGetTheSameAnswers) {
  // Random edits of valid bodies (seeded, so a failure replays): every answer of the server
  // with the raw path must equal the answer of the server without it, byte for byte.
  const std::string d = base64_encode("payload");
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"PutRecords", records({rec(d, "a"), rec(d, "b", R"(,"ExplicitHashKey":"17")")})},
      {"PutRecords", records({rec(d, "k")}, R"("StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s")")},
      {"PutRecord", R"({"StreamName":"s","Data":")" + d + R"(","PartitionKey":"p","SequenceNumberForOrdering":"0"})"},
  };
  const std::string alphabet = "\"{}[],:\\ 0159aAzZ=+/-.n\x01\xc3\xa9";
  std::mt19937 rng(20261126);
  int taken = 0;
  for (int i = 0; i < 5000; ++i) {
    const auto& [op, seed] = seeds[i % seeds.size()];
    std::string body = seed;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body[at] = alphabet[rng() % alphabet.size()]; break;   // replace
        case 1: body.erase(at, 1); break;                              // delete
        case 2: body.insert(at, 1, alphabet[rng() % alphabet.size()]); break;  // insert
        default: body.insert(at, body.substr(at, rng() % 16)); break;  // repeat a run
      }
    }
    same(op, body);
    if (HasFailure()) break;
  }
  taken = raw_->raw_taken("PutRecords") + raw_->raw_taken("PutRecord");
  EXPECT_GT(taken, 0) << "no mutated body was plain";  // e.g. an edit inside a key: raw ran
  std::printf("raw path took %d of 5000 mutated requests\n", taken);
}

TEST_F(PutRawTest, AnUnsignedRequestIsOneErrorNotTwo) {
  // The raw path checks authentication first and leaves a failure to the decoded path,
  // which answers (and counts) it once.
  AwsResponse r = raw_->call("PutRecords", records({rec(base64_encode("x"), "k")}), false);
  EXPECT_EQ(r.error_type, "MissingAuthenticationTokenException");
  EXPECT_EQ(raw_->raw_taken("PutRecords"), 0);
  const std::string text = raw_->metrics_text();
  EXPECT_NE(text.find("error_type=\"MissingAuthenticationTokenException\",fault=\"client\","
                      "operation=\"PutRecords\",service=\"kinesis\"} 1\n"),
            std::string::npos)
      << text.substr(0, 2000);
}

TEST_F(PutRawTest, PutRecordAnswersMatchTheDecodedPath) {
  const std::string d = base64_encode("hi");
  const std::string head = R"({"StreamName":"s","Data":")" + d + R"(","PartitionKey":"k")";
  const std::vector<std::string> bodies = {
      head + "}",
      head + R"(,"ExplicitHashKey":"12345"})",
      head + R"(,"SequenceNumberForOrdering":"0"})",
      head + R"(,"SequenceNumberForOrdering":"12"})",
      head + R"(,"SequenceNumberForOrdering":"x"})",
      head + R"(,"ExplicitHashKey":"340282366920938463463374607431768211456"})",
      head + R"(,"Records":[]})",
      head + R"(,"PartitionKey":"k2"})",
      R"({"StreamName":"s","Data":"!!","PartitionKey":"k"})",
      R"({"StreamName":"s","PartitionKey":"k"})",
      R"({"StreamName":"nope","Data":"","PartitionKey":"k"})",
      R"({"Data":"","PartitionKey":"k"})",
  };
  for (const std::string& body : bodies) same("PutRecord", body);
  EXPECT_EQ(raw_->raw_taken("PutRecord"), 7);  // all whose members are valid
}

}  // namespace
}  // namespace freshet::api

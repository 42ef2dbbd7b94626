// Drives the Kinesis handlers in-process through ServiceRegistry lookups over a real
// stream::Engine on a temporary directory.
#include <gtest/gtest.h>

#include <future>

#include <memory>
#include <set>
#include <string>

#include "freshet/api/kinesis.h"
#include "freshet/common/base64.h"
#include "freshet/stream/names.h"
#include "testing/temp_dir.h"
#include "kinesis_fixture.h"

namespace freshet::api {
namespace {

TEST_F(KinesisApiTest, RegistersEveryModelOperation) {
  const char* ops[] = {
      "AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteResourcePolicy",
      "DeleteStream", "DeregisterStreamConsumer", "DescribeAccountSettings", "DescribeLimits",
      "DescribeStream", "DescribeStreamConsumer", "DescribeStreamSummary",
      "DisableEnhancedMonitoring", "EnableEnhancedMonitoring", "GetRecords", "GetResourcePolicy",
      "GetShardIterator", "IncreaseStreamRetentionPeriod", "ListShards", "ListStreamConsumers",
      "ListStreams", "ListTagsForResource", "ListTagsForStream", "MergeShards", "PutRecord",
      "PutRecords", "PutResourcePolicy", "RegisterStreamConsumer", "RemoveTagsFromStream",
      "SplitShard", "StartStreamEncryption", "StopStreamEncryption", "SubscribeToShard",
      "TagResource", "UntagResource", "UpdateAccountSettings", "UpdateMaxRecordSize",
      "UpdateShardCount", "UpdateStreamMode", "UpdateStreamWarmThroughput"};
  for (const char* op : ops) {
    EXPECT_NE(services_.find(std::string("Kinesis_20131202.") + op).operation, nullptr) << op;
  }
  EXPECT_EQ(services_.services().at("Kinesis_20131202").operations.size(), std::size(ops));
  EXPECT_EQ(services_.services().at("Kinesis_20131202").name, "kinesis");
  // Registering twice fails (duplicate prefix).
  EXPECT_FALSE(register_kinesis(services_, *engine_, metrics_, options_).ok());
}

TEST_F(KinesisApiTest, ShapeHintsConvertBlobsAndTimestamps) {
  auto put = services_.find("Kinesis_20131202.PutRecords");
  Document d = Document(Map{{"Records", Document(List{Document(Map{{"Data", "aGk="}})})}});
  ASSERT_TRUE(apply_shape(d, put.operation->input_shape, true).ok());
  EXPECT_EQ(d.find("Records")->as_list()[0].find("Data")->as_blob(), "hi");
  auto ls = services_.find("Kinesis_20131202.ListShards");
  Document l = Document(Map{{"ShardFilter", Document(Map{{"Timestamp", 1.5}})}});
  ASSERT_TRUE(apply_shape(l, ls.operation->input_shape, true).ok());
  EXPECT_EQ(l.find("ShardFilter")->find("Timestamp")->as_timestamp_ms(), 1500);
}

// ---- validation wording ----

TEST_F(KinesisApiTest, MissingRequiredMemberIsValidationException) {
  ApiError e = err("CreateStream", Document::make_map());
  EXPECT_EQ(e.type, AwsError::kValidation);
  EXPECT_EQ(e.message,
            "1 validation error detected: Value null at 'streamName' failed to satisfy "
            "constraint: Member must not be null");
}

TEST_F(KinesisApiTest, ListsEveryViolatedConstraintWithStreamNameLast) {
  // AWS's order, as kinesalite recorded it: the other members first, streamName last.
  ApiError e = err("CreateStream", Document(Map{{"StreamName", ""}, {"ShardCount", 0}}));
  EXPECT_EQ(e.type, AwsError::kValidation);
  EXPECT_EQ(e.message,
            "3 validation errors detected: "
            "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1; "
            "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: [a-zA-Z0-9_.-]+; "
            "Value '' at 'streamName' failed to satisfy constraint: Member must have length "
            "greater than or equal to 1");
}

TEST_F(KinesisApiTest, NestedAndListPathsAndEnums) {
  ApiError e = err("GetShardIterator", Document(Map{{"StreamName", "s"},
                                                    {"ShardIteratorType", "OLDEST"}}));
  EXPECT_EQ(e.message,
            "2 validation errors detected: Value null at 'shardId' failed to satisfy "
            "constraint: Member must not be null; Value 'OLDEST' at 'shardIteratorType' failed "
            "to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, "
            "AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]");

  Document rec = Document(Map{{"Data", Document::blob("x")}, {"PartitionKey", ""}});
  e = err("PutRecords", Document(Map{{"StreamName", "s"}, {"Records", Document(List{rec})}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to "
            "satisfy constraint: Member must have length greater than or equal to 1");

  e = err("ListShards", Document(Map{{"StreamName", "s"}, {"ShardFilter", Document::make_map()}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value null at 'shardFilter.type' failed to satisfy "
            "constraint: Member must not be null");

  e = err("EnableEnhancedMonitoring",
          Document(Map{{"StreamName", "s"}, {"ShardLevelMetrics", Document(List{"Bogus"})}}));
  EXPECT_EQ(e.type, AwsError::kValidation);
  EXPECT_NE(e.message.find("Value '[Bogus]' at 'shardLevelMetrics' failed to satisfy "
                           "constraint: Member must satisfy constraint: [Member must satisfy "
                           "enum value set: [IncomingBytes,"),
            std::string::npos)
      << e.message;

  e = err("PutRecord", Document(Map{{"StreamName", "s"},
                                    {"Data", Document::blob("x")},
                                    {"PartitionKey", "k"},
                                    {"ExplicitHashKey", "01"}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value '01' at 'explicitHashKey' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
}

TEST_F(KinesisApiTest, WrongTypeIsSerializationException) {
  ApiError e = err("DescribeStream", Document(Map{{"StreamName", 5}}));
  EXPECT_EQ(e.type, AwsError::kSerialization);
  e = err("DescribeStream", Document(Map{{"StreamName", "s"}, {"Limit", "10"}}));
  EXPECT_EQ(e.type, AwsError::kSerialization);
}

// ---- streams ----

TEST_F(KinesisApiTest, CreateDescribeSummaryAndDelete) {
  create("s1", 3);
  Document d = ok("DescribeStream", Document(Map{{"StreamName", "s1"}}));
  const Document& desc = *d.find("StreamDescription");
  EXPECT_EQ(keys(desc),
            (std::set<std::string>{"StreamName", "StreamARN", "StreamStatus", "StreamModeDetails",
                                   "Shards", "HasMoreShards", "RetentionPeriodHours",
                                   "StreamCreationTimestamp", "EnhancedMonitoring",
                                   "EncryptionType"}));
  EXPECT_EQ(desc.find("StreamARN")->as_string(), arn("s1"));
  EXPECT_EQ(desc.find("StreamStatus")->as_string(), "ACTIVE");
  EXPECT_TRUE(desc.find("StreamCreationTimestamp")->is_timestamp());
  EXPECT_EQ(desc.find("RetentionPeriodHours")->as_int(), 24);
  EXPECT_EQ(desc.find("Shards")->as_list().size(), 3u);
  const Document& shard0 = desc.find("Shards")->as_list()[0];
  EXPECT_EQ(shard0.find("ShardId")->as_string(), "shardId-000000000000");
  EXPECT_EQ(shard0.find("HashKeyRange")->find("StartingHashKey")->as_string(), "0");
  EXPECT_NE(shard0.find("SequenceNumberRange")->find("StartingSequenceNumber"), nullptr);
  EXPECT_EQ(desc.find("StreamModeDetails")->find("StreamMode")->as_string(), "PROVISIONED");

  Document s = ok("DescribeStreamSummary", Document(Map{{"StreamARN", arn("s1")}}));
  const Document& sum = *s.find("StreamDescriptionSummary");
  EXPECT_EQ(sum.find("OpenShardCount")->as_int(), 3);
  EXPECT_EQ(sum.find("ConsumerCount")->as_int(), 0);
  EXPECT_EQ(sum.find("EncryptionType")->as_string(), "NONE");
  EXPECT_TRUE(sum.find("EnhancedMonitoring")->is_list());

  ApiError dup = err("CreateStream", Document(Map{{"StreamName", "s1"}, {"ShardCount", 1}}));
  EXPECT_EQ(dup.type, AwsError::kResourceInUse);

  ok("DeleteStream", Document(Map{{"StreamName", "s1"}}));
  ApiError gone = err("DescribeStream", Document(Map{{"StreamName", "s1"}}));
  EXPECT_EQ(gone.type, AwsError::kResourceNotFound);
  EXPECT_EQ(gone.message, "Stream s1 under account 000000000000 not found.");
}

TEST_F(KinesisApiTest, StreamArnResolution) {
  create("s1", 1);
  ok("DescribeStreamSummary", Document(Map{{"StreamName", "s1"}, {"StreamARN", arn("s1")}}));
  ApiError e = err("DescribeStreamSummary",
                   Document(Map{{"StreamName", "other"}, {"StreamARN", arn("s1")}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  e = err("DescribeStreamSummary", Document::make_map());
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  // Another region than the request's: not found there.
  e = err("DescribeStreamSummary", Document(Map{{"StreamARN", arn("s1", "eu-west-1")}}));
  EXPECT_EQ(e.type, AwsError::kResourceNotFound);
  // Another account.
  e = err("DescribeStreamSummary",
          Document(Map{{"StreamARN", "arn:aws:kinesis:us-east-1:111111111111:stream/s1"}}));
  EXPECT_EQ(e.type, AwsError::kAccessDenied);
  // The SigV4 region selects the region's streams.
  e = err("DescribeStreamSummary", Document(Map{{"StreamName", "s1"}}), "eu-west-1");
  EXPECT_EQ(e.type, AwsError::kResourceNotFound);
  ok("DescribeStreamSummary", Document(Map{{"StreamName", "s1"}}), "us-east-1");
  // Bad pattern.
  e = err("DescribeStreamSummary", Document(Map{{"StreamARN", "arn:aws:s3:::bucket"}}));
  EXPECT_EQ(e.type, AwsError::kValidation);
}

TEST_F(KinesisApiTest, DescribeStreamPagination) {
  create("p", 5);
  Document d = ok("DescribeStream", Document(Map{{"StreamName", "p"}, {"Limit", 2}}));
  const Document* desc = d.find("StreamDescription");
  ASSERT_EQ(desc->find("Shards")->as_list().size(), 2u);
  EXPECT_TRUE(desc->find("HasMoreShards")->as_bool());
  d = ok("DescribeStream", Document(Map{{"StreamName", "p"},
                                        {"Limit", 10},
                                        {"ExclusiveStartShardId", "shardId-000000000001"}}));
  desc = d.find("StreamDescription");
  ASSERT_EQ(desc->find("Shards")->as_list().size(), 3u);
  EXPECT_EQ(desc->find("Shards")->as_list()[0].find("ShardId")->as_string(),
            "shardId-000000000002");
  EXPECT_FALSE(desc->find("HasMoreShards")->as_bool());
  ApiError e = err("DescribeStream", Document(Map{{"StreamName", "p"}, {"Limit", 10001}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
            "constraint: Member must have value less than or equal to 10000");
}

TEST_F(KinesisApiTest, ListStreamsPagination) {
  for (const char* n : {"a", "b", "c"}) create(n, 1);
  Document p1 = ok("ListStreams", Document(Map{{"Limit", 2}}));
  ASSERT_EQ(p1.find("StreamNames")->as_list().size(), 2u);
  EXPECT_TRUE(p1.find("HasMoreStreams")->as_bool());
  ASSERT_NE(p1.find("NextToken"), nullptr);
  ASSERT_EQ(p1.find("StreamSummaries")->as_list().size(), 2u);
  EXPECT_EQ(p1.find("StreamSummaries")->as_list()[0].find("StreamARN")->as_string(), arn("a"));
  Document p2 = ok("ListStreams", Document(Map{{"NextToken", *p1.find("NextToken")}}));
  ASSERT_EQ(p2.find("StreamNames")->as_list().size(), 1u);
  EXPECT_EQ(p2.find("StreamNames")->as_list()[0].as_string(), "c");
  EXPECT_FALSE(p2.find("HasMoreStreams")->as_bool());
  EXPECT_EQ(p2.find("NextToken"), nullptr);
  Document p3 = ok("ListStreams", Document(Map{{"ExclusiveStartStreamName", "a"}}));
  EXPECT_EQ(p3.find("StreamNames")->as_list().size(), 2u);
  // Other regions do not see them.
  Document other = ok("ListStreams", Document::make_map(), "eu-west-1");
  EXPECT_TRUE(other.find("StreamNames")->as_list().empty());
}

TEST_F(KinesisApiTest, ListShardsPaginationFiltersAndTokenMisuse) {
  create("ls", 4);
  Document p1 = ok("ListShards", Document(Map{{"StreamName", "ls"}, {"MaxResults", 3}}));
  ASSERT_EQ(p1.find("Shards")->as_list().size(), 3u);
  ASSERT_NE(p1.find("NextToken"), nullptr);
  const std::string token = p1.find("NextToken")->as_string();

  ApiError e = err("ListShards", Document(Map{{"StreamName", "ls"}, {"NextToken", token}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_EQ(e.message, "NextToken and StreamName cannot be provided together.");

  Document p2 = ok("ListShards", Document(Map{{"NextToken", token}}));
  ASSERT_EQ(p2.find("Shards")->as_list().size(), 1u);
  EXPECT_EQ(p2.find("Shards")->as_list()[0].find("ShardId")->as_string(), "shardId-000000000003");
  EXPECT_EQ(p2.find("NextToken"), nullptr);

  e = err("ListShards", Document(Map{{"NextToken", "bm90IGEgdG9rZW4="}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  e = err("ListShards", Document::make_map());
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_EQ(e.message, "Either NextToken or StreamName should be provided.");
  // A ListStreams token is not a ListShards token.
  for (const char* n : {"ls2"}) create(n, 1);
  Document streams = ok("ListStreams", Document(Map{{"Limit", 1}}));
  e = err("ListShards", Document(Map{{"NextToken", *streams.find("NextToken")}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);

  Document after = ok("ListShards", Document(Map{{"StreamName", "ls"},
                                                 {"ExclusiveStartShardId", "shardId-000000000001"}}));
  EXPECT_EQ(after.find("Shards")->as_list().size(), 2u);
  Document f = ok("ListShards",
                  Document(Map{{"StreamName", "ls"},
                               {"ShardFilter", Document(Map{{"Type", "AFTER_SHARD_ID"},
                                                            {"ShardId", "shardId-000000000002"}})}}));
  EXPECT_EQ(f.find("Shards")->as_list().size(), 1u);
  Document latest = ok("ListShards", Document(Map{{"StreamARN", arn("ls")},
                                                  {"ShardFilter", Document(Map{{"Type", "AT_LATEST"}})}}));
  EXPECT_EQ(latest.find("Shards")->as_list().size(), 4u);
  e = err("ListShards", Document(Map{{"StreamName", "ls"},
                                     {"ShardFilter", Document(Map{{"Type", "AT_TIMESTAMP"}})}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
}

TEST_F(KinesisApiTest, ExpiredNextToken) {
  options_.next_token_lifetime_ms = -1;  // every token is already expired
  ServiceRegistry fresh;
  ASSERT_TRUE(register_kinesis(fresh, *engine_, metrics_, options_).ok());
  create("x", 2);
  Document p1 = ok("ListShards", Document(Map{{"StreamName", "x"}, {"MaxResults", 1}}));
  RequestContext ctx;
  ctx.operation = "ListShards";
  ctx.input = Document(Map{{"NextToken", *p1.find("NextToken")}});
  ApiResult r = fresh.find("Kinesis_20131202.ListShards").operation->handler(ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, AwsError::kExpiredNextToken);
}

// ---- data plane ----

TEST_F(KinesisApiTest, PutRecordAndGetRecords) {
  create("d", 1);
  std::string shard;
  const std::string seq = put("d", "hello", "pk", &shard);
  EXPECT_EQ(shard, "shardId-000000000000");
  EXPECT_EQ(seq.size(), 56u);
  Document it = ok("GetShardIterator", Document(Map{{"StreamName", "d"},
                                                    {"ShardId", "shardId-000000000000"},
                                                    {"ShardIteratorType", "TRIM_HORIZON"}}));
  const std::string iterator = it.find("ShardIterator")->as_string();
  Document r = ok("GetRecords", Document(Map{{"ShardIterator", iterator}}));
  EXPECT_EQ(keys(r), (std::set<std::string>{"Records", "NextShardIterator", "MillisBehindLatest"}));
  ASSERT_EQ(r.find("Records")->as_list().size(), 1u);
  const Document& rec = r.find("Records")->as_list()[0];
  EXPECT_EQ(rec.find("Data")->as_blob(), "hello");
  EXPECT_EQ(rec.find("PartitionKey")->as_string(), "pk");
  EXPECT_EQ(rec.find("SequenceNumber")->as_string(), seq);
  EXPECT_TRUE(rec.find("ApproximateArrivalTimestamp")->is_timestamp());

  // AT/AFTER_SEQUENCE_NUMBER.
  Document after = ok("GetShardIterator", Document(Map{{"StreamName", "d"},
                                                       {"ShardId", "shardId-000000000000"},
                                                       {"ShardIteratorType", "AFTER_SEQUENCE_NUMBER"},
                                                       {"StartingSequenceNumber", seq}}));
  Document none = ok("GetRecords", Document(Map{{"ShardIterator", *after.find("ShardIterator")}}));
  EXPECT_TRUE(none.find("Records")->as_list().empty());

  // Metrics were counted per stream.
  const std::string text = metrics_.render_prometheus();
  EXPECT_NE(text.find("freshet_kinesis_IncomingRecords_total{stream=\"d\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("freshet_kinesis_GetRecords_Records_total{stream=\"d\"} 1"), std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecord_Latency_seconds_count{stream=\"d\"} 1"),
            std::string::npos);
}

TEST_F(KinesisApiTest, GetShardIteratorErrors) {
  create("g", 1);
  auto gsi = [&](Map extra) {
    Document d(Map{{"StreamName", "g"}, {"ShardId", "shardId-000000000000"}});
    for (auto& m : extra) d.set(m.key, m.value);
    return err("GetShardIterator", std::move(d));
  };
  ApiError e = err("GetShardIterator", Document(Map{{"StreamName", "g"},
                                                    {"ShardId", "shardId-000000000007"},
                                                    {"ShardIteratorType", "LATEST"}}));
  EXPECT_EQ(e.type, AwsError::kResourceNotFound);
  EXPECT_EQ(e.message,
            "Shard shardId-000000000007 in stream g under account 000000000000 does not exist");
  e = gsi(Map{{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}});
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_NE(e.message.find("Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."),
            std::string::npos);
  e = gsi(Map{{"ShardIteratorType", "AT_TIMESTAMP"}});
  EXPECT_EQ(e.message,
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
            "request has no timestamp parameter.");
  e = gsi(Map{{"ShardIteratorType", "AT_TIMESTAMP"},
              {"Timestamp", Document::timestamp_ms(32503680000000)}});
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_NE(e.message.find("The timestampInMillis parameter cannot be greater than the "
                           "currentTimestampInMillis. timestampInMillis: 32503680000000"),
            std::string::npos);
  e = gsi(Map{{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", "123"}});
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  ok("GetShardIterator", Document(Map{{"StreamName", "g"},
                                      {"ShardId", "shardId-000000000000"},
                                      {"ShardIteratorType", "AT_TIMESTAMP"},
                                      {"Timestamp", Document::timestamp_ms(1000)}}));
  e = err("GetRecords", Document(Map{{"ShardIterator", "AAAA"}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
}

TEST_F(KinesisApiTest, PutRecordChecks) {
  create("h", 1);
  ApiError e = err("PutRecord", Document(Map{{"StreamName", "h"},
                                             {"Data", Document::blob("x")},
                                             {"PartitionKey", "k"},
                                             {"ExplicitHashKey", std::string(39, '9')}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_EQ(e.message,
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            "Specified value was " +
                std::string(39, '9'));
  Document out = ok("PutRecord", Document(Map{{"StreamName", "h"},
                                              {"Data", Document::blob("x")},
                                              {"PartitionKey", "k"},
                                              {"ExplicitHashKey", "0"}}));
  EXPECT_EQ(keys(out), (std::set<std::string>{"ShardId", "SequenceNumber", "EncryptionType"}));
  e = err("PutRecord", Document(Map{{"StreamName", "h"},
                                    {"Data", Document::blob("x")},
                                    {"PartitionKey", "k"},
                                    {"SequenceNumberForOrdering", "5"}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  ok("PutRecord", Document(Map{{"StreamName", "h"},
                               {"Data", Document::blob("x")},
                               {"PartitionKey", "k"},
                               {"SequenceNumberForOrdering", out.find("SequenceNumber")->as_string()}}));
  e = err("PutRecord", Document(Map{{"StreamName", "nope"},
                                    {"Data", Document::blob("x")},
                                    {"PartitionKey", "k"}}));
  EXPECT_EQ(e.type, AwsError::kResourceNotFound);
  // Over the stream's max record size (1 MiB by default) but within the model's 10 MiB.
  e = err("PutRecord", Document(Map{{"StreamName", "h"},
                                    {"Data", Document::blob(std::string((1 << 20) + 1, 'x'))},
                                    {"PartitionKey", "k"}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
}

TEST_F(KinesisApiTest, PutRecordsResultsAndLimits) {
  create("r", 2);
  List recs;
  for (int i = 0; i < 5; ++i) {
    recs.push_back(Document(Map{{"Data", Document::blob("d" + std::to_string(i))},
                                {"PartitionKey", "k" + std::to_string(i)}}));
  }
  Document out = ok("PutRecords", Document(Map{{"StreamName", "r"}, {"Records", Document(recs)}}));
  EXPECT_EQ(out.find("FailedRecordCount")->as_int(), 0);
  EXPECT_EQ(out.find("EncryptionType")->as_string(), "NONE");
  ASSERT_EQ(out.find("Records")->as_list().size(), 5u);
  for (const auto& r : out.find("Records")->as_list()) {
    EXPECT_EQ(keys(r), (std::set<std::string>{"SequenceNumber", "ShardId"}));
  }
  ApiError e = err("PutRecords", Document(Map{{"StreamName", "r"}, {"Records", Document(List{})}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1");
  List many(501, Document(Map{{"Data", Document::blob("x")}, {"PartitionKey", "k"}}));
  e = err("PutRecords", Document(Map{{"StreamName", "r"}, {"Records", Document(many)}}));
  EXPECT_EQ(e.type, AwsError::kValidation);
  EXPECT_NE(e.message.find("Member must have length less than or equal to 500"), std::string::npos);
  // Over the request total.
  List big(11, Document(Map{{"Data", Document::blob(std::string(1 << 20, 'x'))},
                            {"PartitionKey", "k"}}));
  e = err("PutRecords", Document(Map{{"StreamName", "r"}, {"Records", Document(big)}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  EXPECT_EQ(e.message, "Records size exceeds 10 MB limit");
  const std::string text = metrics_.render_prometheus();
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_SuccessfulRecords_total{stream=\"r\"} 5"),
            std::string::npos);
}

TEST_F(KinesisApiTest, PutRecordsPartialFailure) {
  // Per-shard write limits make records fail individually.
  testing::TempDir dir;
  stream::EngineOptions o;
  o.data_dir = dir.path();
  o.durability = log::Durability::kOs;
  o.enforce_limits = true;
  auto engine = stream::Engine::open(o);
  ASSERT_TRUE(engine.ok());
  ServiceRegistry services;
  metrics::Registry metrics;
  ASSERT_TRUE(register_kinesis(services, **engine, metrics, options_).ok());
  auto run = [&](const char* op, Document in) {
    RequestContext ctx;
    ctx.operation = op;
    ctx.input = std::move(in);
    return invoke(*services.find(std::string("Kinesis_20131202.") + op).operation, ctx);
  };
  ASSERT_TRUE(run("CreateStream", Document(Map{{"StreamName", "t"}, {"ShardCount", 1}})).ok());
  // 3 records of 400 KiB: the third passes the 1 MiB/s shard limit.
  List recs(3, Document(Map{{"Data", Document::blob(std::string(400 << 10, 'x'))},
                            {"PartitionKey", "k"}}));
  ApiResult r = run("PutRecords", Document(Map{{"StreamName", "t"}, {"Records", Document(recs)}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().find("FailedRecordCount")->as_int(), 1);
  const Document& failed = r.value().find("Records")->as_list()[2];
  EXPECT_EQ(failed.find("ErrorCode")->as_string(), "ProvisionedThroughputExceededException");
  EXPECT_NE(failed.find("ErrorMessage"), nullptr);
  EXPECT_EQ(failed.find("SequenceNumber"), nullptr);
  const std::string text = metrics.render_prometheus();
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_FailedRecords_total{stream=\"t\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_WriteProvisionedThroughputExceeded_total{stream=\"t\"} 1"),
            std::string::npos);
}

TEST_F(KinesisApiTest, PutAnswersAlikeInJsonAndCbor) {
  // JSON answers are written directly by the handlers, CBOR ones are Documents: same members.
  create("pc", 2);
  List recs;
  for (int i = 0; i < 4; ++i) {
    recs.push_back(Document(Map{{"Data", Document::blob("d")}, {"PartitionKey", "k" + std::to_string(i)}}));
  }
  const Document in = Document(Map{{"StreamName", "pc"}, {"Records", Document(recs)}});
  const Document one = Document(Map{{"StreamName", "pc"}, {"Data", Document::blob("x")}, {"PartitionKey", "k1"}});
  Document json = ok("PutRecords", in);
  Document json_one = ok("PutRecord", one);
  protocol_ = Protocol::kCbor;
  Document cbor = ok("PutRecords", in);
  Document cbor_one = ok("PutRecord", one);
  ASSERT_EQ(keys(json), keys(cbor));
  EXPECT_EQ(keys(json_one), keys(cbor_one));
  EXPECT_EQ(json_one.find("ShardId")->as_string(), cbor_one.find("ShardId")->as_string());
  EXPECT_EQ(json.find("FailedRecordCount")->as_int(), cbor.find("FailedRecordCount")->as_int());
  const List& a = json.find("Records")->as_list();
  const List& b = cbor.find("Records")->as_list();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].as_map()[0].key, "SequenceNumber");
    EXPECT_EQ(keys(a[i]), keys(b[i]));
    EXPECT_EQ(a[i].find("ShardId")->as_string(), b[i].find("ShardId")->as_string());
    const std::string& sj = a[i].find("SequenceNumber")->as_string();
    const std::string& sc = b[i].find("SequenceNumber")->as_string();
    EXPECT_EQ(sj.size(), 56u);
    EXPECT_LT(sj, sc);  // written later, same shard: a larger sequence number
  }
  // GetRecords: the JSON writer and the Document give the same members and values.
  protocol_ = Protocol::kJson;
  Document it = ok("GetShardIterator", Document(Map{{"StreamName", "pc"},
                                                    {"ShardId", "shardId-000000000000"},
                                                    {"ShardIteratorType", "TRIM_HORIZON"}}));
  const Document get_in = Document(Map{{"ShardIterator", it.find("ShardIterator")->as_string()}});
  Document gj = ok("GetRecords", get_in);
  protocol_ = Protocol::kCbor;
  Document gc = ok("GetRecords", get_in);
  ASSERT_EQ(keys(gj), keys(gc));
  const List& rj = gj.find("Records")->as_list();
  const List& rc = gc.find("Records")->as_list();
  ASSERT_EQ(rj.size(), rc.size());
  ASSERT_GT(rj.size(), 0u);
  for (size_t i = 0; i < rj.size(); ++i) {
    EXPECT_EQ(rj[i], rc[i]);  // blobs and timestamps converted by invoke()
  }
  EXPECT_EQ(gj.find("MillisBehindLatest")->as_int(), gc.find("MillisBehindLatest")->as_int());
}

TEST_F(KinesisApiTest, GetRecordsAfterSplitReturnsChildShards) {
  create("sp", 1);
  put("sp", "before", "k");
  Document it = ok("GetShardIterator", Document(Map{{"StreamName", "sp"},
                                                    {"ShardId", "shardId-000000000000"},
                                                    {"ShardIteratorType", "TRIM_HORIZON"}}));
  ok("SplitShard", Document(Map{{"StreamName", "sp"},
                                {"ShardToSplit", "shardId-000000000000"},
                                {"NewStartingHashKey", "170141183460469231731687303715884105728"}}));
  Document r = ok("GetRecords", Document(Map{{"ShardIterator", *it.find("ShardIterator")}}));
  ASSERT_EQ(r.find("Records")->as_list().size(), 1u);
  std::string next = r.find("NextShardIterator") ? r.find("NextShardIterator")->as_string() : "";
  Document last = r;
  for (int i = 0; i < 3 && !next.empty(); ++i) {
    last = ok("GetRecords", Document(Map{{"ShardIterator", next}}));
    next = last.find("NextShardIterator") ? last.find("NextShardIterator")->as_string() : "";
  }
  EXPECT_TRUE(next.empty());
  ASSERT_NE(last.find("ChildShards"), nullptr);
  const List& children = last.find("ChildShards")->as_list();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].find("ShardId")->as_string(), "shardId-000000000001");
  EXPECT_EQ(children[0].find("ParentShards")->as_list()[0].as_string(), "shardId-000000000000");
  EXPECT_NE(children[0].find("HashKeyRange")->find("EndingHashKey"), nullptr);

  Document d = ok("DescribeStream", Document(Map{{"StreamName", "sp"}}));
  const List& shards = d.find("StreamDescription")->find("Shards")->as_list();
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_NE(shards[0].find("SequenceNumberRange")->find("EndingSequenceNumber"), nullptr);
  EXPECT_EQ(shards[1].find("ParentShardId")->as_string(), "shardId-000000000000");
  ApiError e = err("SplitShard", Document(Map{{"StreamName", "sp"},
                                              {"ShardToSplit", "shardId-000000000000"},
                                              {"NewStartingHashKey", "5"}}));
  EXPECT_EQ(e.type, AwsError::kResourceInUse);
}

// ---- control plane ----

TEST_F(KinesisApiTest, RetentionShardCountLimitsAndMonitoring) {
  create("c", 2);
  ApiError e = err("IncreaseStreamRetentionPeriod",
                   Document(Map{{"StreamName", "c"}, {"RetentionPeriodHours", 8761}}));
  EXPECT_EQ(e.message,
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 "
            "hours) is too long.");
  e = err("DecreaseStreamRetentionPeriod",
          Document(Map{{"StreamName", "c"}, {"RetentionPeriodHours", 23}}));
  EXPECT_EQ(e.message,
            "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) "
            "is too short.");
  ok("IncreaseStreamRetentionPeriod", Document(Map{{"StreamName", "c"}, {"RetentionPeriodHours", 48}}));
  e = err("IncreaseStreamRetentionPeriod",
          Document(Map{{"StreamName", "c"}, {"RetentionPeriodHours", 30}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);

  Document u = ok("UpdateShardCount", Document(Map{{"StreamName", "c"},
                                                   {"TargetShardCount", 4},
                                                   {"ScalingType", "UNIFORM_SCALING"}}));
  EXPECT_EQ(keys(u), (std::set<std::string>{"StreamName", "CurrentShardCount", "TargetShardCount",
                                            "StreamARN"}));
  EXPECT_EQ(u.find("CurrentShardCount")->as_int(), 2);
  EXPECT_EQ(u.find("TargetShardCount")->as_int(), 4);

  Document lim = ok("DescribeLimits", Document::make_map());
  EXPECT_EQ(lim.find("ShardLimit")->as_int(), 500);
  EXPECT_EQ(lim.find("OpenShardCount")->as_int(), 4);
  EXPECT_EQ(lim.find("OnDemandStreamCount")->as_int(), 0);
  EXPECT_EQ(lim.find("OnDemandStreamCountLimit")->as_int(), 50);

  Document m = ok("EnableEnhancedMonitoring",
                  Document(Map{{"StreamName", "c"}, {"ShardLevelMetrics", Document(List{"IncomingRecords"})}}));
  EXPECT_TRUE(m.find("CurrentShardLevelMetrics")->as_list().empty());
  EXPECT_EQ(m.find("DesiredShardLevelMetrics")->as_list().size(), 1u);
  std::string shard;
  put("c", "x", "k", &shard);
  EXPECT_NE(metrics_.render_prometheus().find("freshet_kinesis_IncomingRecords_total{shard=\"" + shard +
                                              "\",stream=\"c\"} 1"),
            std::string::npos)
      << metrics_.render_prometheus();
  m = ok("DisableEnhancedMonitoring",
         Document(Map{{"StreamARN", arn("c")}, {"ShardLevelMetrics", Document(List{"ALL"})}}));
  EXPECT_TRUE(m.find("DesiredShardLevelMetrics")->as_list().empty());

  Document acct = ok("DescribeAccountSettings", Document::make_map());
  EXPECT_EQ(acct.find("MinimumThroughputBillingCommitment")->find("Status")->as_string(), "DISABLED");
  acct = ok("UpdateAccountSettings",
            Document(Map{{"MinimumThroughputBillingCommitment", Document(Map{{"Status", "ENABLED"}})}}));
  EXPECT_EQ(acct.find("MinimumThroughputBillingCommitment")->find("Status")->as_string(), "ENABLED");

  ok("StartStreamEncryption", Document(Map{{"StreamName", "c"},
                                           {"EncryptionType", "KMS"},
                                           {"KeyId", "alias/aws/kinesis"}}));
  Document p = ok("PutRecord", Document(Map{{"StreamName", "c"},
                                            {"Data", Document::blob("x")},
                                            {"PartitionKey", "k"}}));
  EXPECT_EQ(p.find("EncryptionType")->as_string(), "KMS");
}

TEST_F(KinesisApiTest, OnDemandStreams) {
  ok("CreateStream", Document(Map{{"StreamName", "od"},
                                  {"StreamModeDetails", Document(Map{{"StreamMode", "ON_DEMAND"}})}}));
  Document s = ok("DescribeStreamSummary", Document(Map{{"StreamName", "od"}}));
  EXPECT_EQ(s.find("StreamDescriptionSummary")->find("StreamModeDetails")->find("StreamMode")->as_string(),
            "ON_DEMAND");
  EXPECT_EQ(ok("DescribeLimits", Document::make_map()).find("OnDemandStreamCount")->as_int(), 1);
  ApiError scale = err("UpdateShardCount", Document(Map{{"StreamName", "od"},
                                                        {"TargetShardCount", 8},
                                                        {"ScalingType", "UNIFORM_SCALING"}}));
  EXPECT_EQ(scale.type, AwsError::kValidation);
  EXPECT_EQ(scale.message,
            "Request is invalid. Stream od under account 000000000000 is in On-Demand mode.");
  ApiError e = err("CreateStream", Document(Map{{"StreamName", "pv"},
                                                {"StreamModeDetails", Document(Map{{"StreamMode", "PROVISIONED"}})}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
}

// ---- tags, consumers, policies ----

TEST_F(KinesisApiTest, Tags) {
  create("t", 1);
  ok("AddTagsToStream", Document(Map{{"StreamName", "t"},
                                     {"Tags", Document(Map{{"a", "1"}, {"b", "2"}, {"c", "3"}})}}));
  Document l = ok("ListTagsForStream", Document(Map{{"StreamName", "t"}, {"Limit", 2}}));
  ASSERT_EQ(l.find("Tags")->as_list().size(), 2u);
  EXPECT_TRUE(l.find("HasMoreTags")->as_bool());
  EXPECT_EQ(l.find("Tags")->as_list()[0].find("Key")->as_string(), "a");
  EXPECT_EQ(l.find("Tags")->as_list()[0].find("Value")->as_string(), "1");
  l = ok("ListTagsForStream", Document(Map{{"StreamName", "t"}, {"ExclusiveStartTagKey", "b"}}));
  ASSERT_EQ(l.find("Tags")->as_list().size(), 1u);
  EXPECT_FALSE(l.find("HasMoreTags")->as_bool());
  ok("RemoveTagsFromStream", Document(Map{{"StreamName", "t"}, {"TagKeys", Document(List{"a"})}}));
  ok("TagResource", Document(Map{{"ResourceARN", arn("t")}, {"Tags", Document(Map{{"d", "4"}})}}));
  ok("UntagResource", Document(Map{{"ResourceARN", arn("t")}, {"TagKeys", Document(List{"b"})}}));
  Document r = ok("ListTagsForResource", Document(Map{{"ResourceARN", arn("t")}}));
  ASSERT_EQ(r.find("Tags")->as_list().size(), 2u);  // c, d
  ApiError e = err("AddTagsToStream", Document(Map{{"StreamName", "t"}, {"Tags", Document::make_map()}}));
  EXPECT_EQ(e.message,
            "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1");
}

TEST_F(KinesisApiTest, ConsumersAndPolicies) {
  create("cs", 1);
  Document reg = ok("RegisterStreamConsumer",
                    Document(Map{{"StreamARN", arn("cs")}, {"ConsumerName", "c1"}}));
  const Document& c = *reg.find("Consumer");
  EXPECT_EQ(keys(c), (std::set<std::string>{"ConsumerName", "ConsumerARN", "ConsumerStatus",
                                            "ConsumerCreationTimestamp"}));
  const std::string carn = c.find("ConsumerARN")->as_string();
  ok("RegisterStreamConsumer", Document(Map{{"StreamARN", arn("cs")}, {"ConsumerName", "c2"}}));
  Document d = ok("DescribeStreamConsumer", Document(Map{{"ConsumerARN", carn}}));
  EXPECT_EQ(d.find("ConsumerDescription")->find("StreamARN")->as_string(), arn("cs"));
  d = ok("DescribeStreamConsumer", Document(Map{{"StreamARN", arn("cs")}, {"ConsumerName", "c1"}}));
  EXPECT_EQ(d.find("ConsumerDescription")->find("ConsumerARN")->as_string(), carn);

  Document p1 = ok("ListStreamConsumers", Document(Map{{"StreamARN", arn("cs")}, {"MaxResults", 1}}));
  ASSERT_EQ(p1.find("Consumers")->as_list().size(), 1u);
  ASSERT_NE(p1.find("NextToken"), nullptr);
  Document p2 = ok("ListStreamConsumers",
                   Document(Map{{"StreamARN", arn("cs")}, {"NextToken", *p1.find("NextToken")}}));
  ASSERT_EQ(p2.find("Consumers")->as_list().size(), 1u);
  EXPECT_EQ(p2.find("Consumers")->as_list()[0].find("ConsumerName")->as_string(), "c2");

  ok("PutResourcePolicy", Document(Map{{"ResourceARN", arn("cs")}, {"Policy", "{\"Version\":\"2012-10-17\"}"}}));
  Document pol = ok("GetResourcePolicy", Document(Map{{"ResourceARN", arn("cs")}}));
  EXPECT_EQ(pol.find("Policy")->as_string(), "{\"Version\":\"2012-10-17\"}");
  ok("DeleteResourcePolicy", Document(Map{{"ResourceARN", arn("cs")}}));
  ApiError e = err("DeleteResourcePolicy", Document(Map{{"ResourceARN", arn("cs")}}));
  EXPECT_EQ(e.type, AwsError::kResourceNotFound);

  ok("DeregisterStreamConsumer", Document(Map{{"ConsumerARN", carn}}));
  e = err("DeregisterStreamConsumer", Document(Map{{"ConsumerName", "c1"}}));
  EXPECT_EQ(e.type, AwsError::kInvalidArgument);
  e = err("DeleteStream", Document(Map{{"StreamName", "cs"}}));
  EXPECT_EQ(e.type, AwsError::kResourceInUse);  // c2 is still registered
  ok("DeleteStream", Document(Map{{"StreamName", "cs"}, {"EnforceConsumerDeletion", true}}));
}

}  // namespace
}  // namespace freshet::api

// The DynamoDB handlers through the real dispatcher (JSON 1.0 bytes in, bytes out) over a real
// TableStore in a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "dispatcher.h"
#include "dynamodb/convert.h"
#include "dynamodb/service.h"
#include "freshet/api/codec.h"
#include "freshet/api/dynamodb.h"

namespace freshet::api {
namespace {

class DynamoDbApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("freshet_ddb_api_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    table::StoreOptions o;
    o.dir = dir_.string();
    store_ = std::move(table::TableStore::open(o).value());
    ASSERT_TRUE(register_dynamodb(services_, *store_, metrics_, {}).ok());
    dispatcher_ = std::make_unique<Dispatcher>(services_, metrics_, DecodeLimits{});
    AwsResponse r = call("CreateTable",
                         R"j({"TableName":"items","BillingMode":"PAY_PER_REQUEST",
                             "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
                             "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]})j");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void TearDown() override {
    dispatcher_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  AwsResponse call(const std::string& op, const std::string& body) {
    const std::string target = "DynamoDB_20120810." + op;
    AwsRequest req;
    req.target = "/";
    req.content_type = "application/x-amz-json-1.0";
    req.amz_target = target;
    req.authorization =
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc";
    req.has_date = true;
    req.body = body;
    req.request_id = "rid";
    return dispatcher_->dispatch(req);
  }

  Document json(const AwsResponse& r) { return decode_json(r.body).value(); }

  std::filesystem::path dir_;
  metrics::Registry metrics_;
  ServiceRegistry services_;
  std::unique_ptr<table::TableStore> store_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// GetItem, Query and Scan write their answers straight to JSON (append_item_json): the text
// must be what encoding the Document form gives, for every type and awkward string.
TEST(DynamoDbJson, DirectWriterMatchesDocumentEncoding) {
  using table::Type;
  using table::Value;
  table::Item inner{{"q\"uote", Value::s("tab\tnl\nnul" + std::string(1, '\0') + "\x01")},
                    {"u", Value::s("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")},
                    {"bad", Value::s("\xff\xfe invalid \xc3")}};
  table::Item item{
      {"s", Value::s("plain")},
      {"n", Value::n("-12.5E+3")},
      {"b", Value::b(std::string("\0\x01\xff", 3))},
      {"t", Value::boolean(true)},
      {"f", Value::boolean(false)},
      {"z", Value::null()},
      {"ss", Value::set(Type::kSS, {"b", "a\\", "</script>"})},
      {"ns", Value::set(Type::kNS, {"1", "2.5"})},
      {"bs", Value::set(Type::kBS, {std::string("\0", 1), "xyz"})},
      {"l", Value::list({Value::s("x"), Value::map(inner), Value::list({}), Value::null()})},
      {"m", Value::map(inner)},
      {"e", Value::map({})},
      {"\xe2\x82\xac key", Value::s("")}};
  std::string direct;
  dynamodb::append_item_json(item, direct);
  EXPECT_EQ(direct, encode_json(dynamodb::from_item(item)));
  std::string empty;
  dynamodb::append_item_json({}, empty);
  EXPECT_EQ(empty, encode_json(dynamodb::from_item({})));
}

TEST_F(DynamoDbApiTest, PutGetRoundTripsInJson10) {
  AwsResponse r = call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"},
      "n":{"N":"00012.500"},"b":{"B":"AAE="},"l":{"L":[{"NULL":true},{"BOOL":false}]}}})j");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/x-amz-json-1.0");
  r = call("GetItem", R"j({"TableName":"items","Key":{"pk":{"S":"a"}}})j");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"j({"Item":{"b":{"B":"AAE="},"l":{"L":[{"NULL":true},{"BOOL":false}]},"n":{"N":"12.5"},"pk":{"S":"a"}}})j");
}

TEST_F(DynamoDbApiTest, ErrorsCarryDynamoDbTypesAndBodies) {
  AwsResponse r = call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"},"v":{"N":"1"}}})j");
  ASSERT_EQ(r.status, 200);
  r = call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"}},
      "ConditionExpression":"attribute_not_exists(pk)",
      "ReturnValuesOnConditionCheckFailure":"ALL_OLD"})j");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_type, "ConditionalCheckFailedException");
  EXPECT_EQ(r.body, R"j({"__type":"ConditionalCheckFailedException","message":"The conditional request failed","Item":{"pk":{"S":"a"},"v":{"N":"1"}}})j");
  r = call("TransactWriteItems", R"j({"TransactItems":[
      {"Put":{"TableName":"items","Item":{"pk":{"S":"b"}}}},
      {"ConditionCheck":{"TableName":"items","Key":{"pk":{"S":"a"}},
                         "ConditionExpression":"v = :two","ExpressionAttributeValues":{":two":{"N":"2"}}}}]})j");
  EXPECT_EQ(r.error_type, "TransactionCanceledException");
  Document d = json(r);
  const List& reasons = d.find("CancellationReasons")->as_list();
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0].find("Code")->as_string(), "None");
  EXPECT_EQ(reasons[1].find("Code")->as_string(), "ConditionalCheckFailed");
  r = call("GetItem", R"j({"TableName":"items","Key":{"pk":{"S":"b"}}})j");
  EXPECT_EQ(r.body, "{}");  // the cancelled transaction wrote nothing
  r = call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"},"x":{"SS":[]}}})j");
  EXPECT_EQ(r.error_type, "ValidationException");
  EXPECT_EQ(json(r).find("message")->as_string(),
            "One or more parameter values were invalid: An AttributeValue may not contain an "
            "empty set.");
  r = call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"},"x":{"S":"a","N":"1"}}})j");
  EXPECT_EQ(json(r).find("message")->as_string(),
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes");
  r = call("PutItem", R"j({"TableName":"it","Item":{"pk":{"S":"a"}}})j");
  EXPECT_EQ(json(r).find("message")->as_string(),
            "1 validation error detected: Value 'it' at 'tableName' failed to satisfy "
            "constraint: Member must have length greater than or equal to 3");
  r = call("Query", R"j({"TableName":"items","KeyConditionExpression":"pk = :a OR pk = :b",
      "ExpressionAttributeValues":{":a":{"S":"a"},":b":{"S":"b"}}})j");
  EXPECT_EQ(json(r).find("message")->as_string(),
            "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR");
}

TEST_F(DynamoDbApiTest, MalformedBodiesNeverCrash) {
  const char* bodies[] = {
      "", "{", "[]", "null", R"j({"TableName":5})j", R"j({"TableName":"items","Item":[]})j",
      R"j({"TableName":"items","Item":{"pk":{"M":{"a":{"L":[{"L":[{"L":[]}]}]}}}}})j",
      R"j({"TableName":"items","Key":{"pk":{"S":"a"}},"UpdateExpression":"SET a[99999999999] = :v"})j",
      R"j({"TableName":"items","Item":{"pk":{"S":"a"}},"ConditionExpression":"((((((a"})j",
      R"j({"TableName":"items","Item":{"pk":{"B":"not base64"}}})j",
      R"j({"TableName":"items","Item":{"pk":{"S":"a"},"n":{"N":"1e999999999999"}}})j",
      R"j({"TableName":"items","Key":{"pk":{"S":"a"}},"UpdateExpression":"ADD n :v","ExpressionAttributeValues":{":v":{"S":"x"}}})j",
  };
  for (const char* op : {"PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                         "BatchWriteItem", "BatchGetItem", "TransactWriteItems", "CreateTable",
                         "UpdateTable"}) {
    for (const char* b : bodies) {
      AwsResponse r = call(op, b);
      EXPECT_GE(r.status, 200) << op << " " << b;
      EXPECT_LT(r.status, 500) << op << " " << b << " -> " << r.body;
    }
  }
  // Nested attribute values: DynamoDB's 32 levels are accepted, 33 are not.
  auto nested = [](int levels) {
    std::string v = "{\"S\":\"x\"}";
    for (int i = 1; i < levels; ++i) v = "{\"L\":[" + v + "]}";
    return "{\"TableName\":\"items\",\"Item\":{\"pk\":{\"S\":\"d\"},\"x\":" + v + "}}";
  };
  AwsResponse r = call("PutItem", nested(32));
  EXPECT_EQ(r.status, 200) << r.body;
  r = call("PutItem", nested(33));
  EXPECT_EQ(json(r).find("message")->as_string(), "Nesting Levels have exceeded supported limits");
}

TEST_F(DynamoDbApiTest, MetricsUseCloudWatchNames) {
  ASSERT_EQ(call("PutItem", R"j({"TableName":"items","Item":{"pk":{"S":"a"}}})j").status, 200);
  ASSERT_EQ(call("GetItem", R"j({"TableName":"items","Key":{"pk":{"S":"a"}}})j").status, 200);
  ASSERT_EQ(call("GetItem", R"j({"TableName":"items","Key":{}})j").status, 400);
  const std::string text = metrics_.render_prometheus();
  EXPECT_NE(text.find(R"j(freshet_dynamodb_ConsumedWriteCapacityUnits{operation="PutItem",table="items"} 1)j"),
            std::string::npos) << text;
  EXPECT_NE(text.find(R"j(freshet_dynamodb_ConsumedReadCapacityUnits{operation="GetItem",table="items"} 0.5)j"),
            std::string::npos);
  EXPECT_NE(text.find(R"j(freshet_dynamodb_UserErrors_total{operation="GetItem",table="items"} 1)j"),
            std::string::npos);
}

// The per (table, operation) series are found without a lock: threads looking up and
// creating them at once (more pairs than the hash table has chains) all get one series per
// pair, registered once with its labels.
TEST_F(DynamoDbApiTest, SeriesAreOnePerTableAndOperationAcrossThreads) {
  dynamodb::DynamoService service(*store_, metrics_, {});
  constexpr int kTables = 300, kThreads = 4;
  const std::string_view ops[] = {"GetItem", "Query"};
  std::vector<std::vector<dynamodb::Series*>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < kTables; ++i) {
          const int table = (i * 7 + t * 13) % kTables;  // threads race on different orders
          for (std::string_view op : ops) {
            seen[t].push_back(&service.series("tbl" + std::to_string(table), op));
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<dynamodb::Series*> distinct;
  for (int i = 0; i < kTables; ++i) {
    for (std::string_view op : ops) {
      dynamodb::Series* s = &service.series("tbl" + std::to_string(i), op);
      distinct.insert(s);
      EXPECT_EQ(s, &service.series(std::string("tbl") + std::to_string(i), std::string(op)));
    }
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kTables) * 2);
  for (const auto& v : seen) {
    for (dynamodb::Series* s : v) EXPECT_TRUE(distinct.count(s));
  }
  service.series("tbl7", "Query").returned_items->inc(3);
  const std::string text = metrics_.render_prometheus();
  EXPECT_NE(text.find(R"j(freshet_dynamodb_ReturnedItemCount_total{operation="Query",table="tbl7"} 3)j"),
            std::string::npos);
}

}  // namespace
}  // namespace freshet::api

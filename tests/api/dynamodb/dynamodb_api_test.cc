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
#include "freshet/table/codec.h"

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
  // From the stored encoding (GetItem and Query), with deep nesting of every container kind.
  Value deep = Value::map(inner);
  for (int i = 0; i < table::kMaxDepth - 2; ++i) {
    deep = i % 3 == 0 ? Value::list({deep, Value::s("after"), Value::set(Type::kNS, {"1", "2"})})
         : i % 3 == 1 ? Value::map({{"a", Value::null()}, {"b", deep}, {"c", Value::boolean(false)}})
                      : Value::list({Value::list({}), deep});
  }
  for (const table::Item& it :
       {item, table::Item{}, table::Item{{"deep", deep}, {"z", Value::s("last")}}}) {
    std::string from_encoding = "prefix";
    size_t size = 0;
    ASSERT_TRUE(dynamodb::append_encoded_item_json(table::encode_item(it), from_encoding, &size).ok());
    EXPECT_EQ(from_encoding, "prefix" + encode_json(dynamodb::from_item(it)));
    EXPECT_EQ(size, table::item_size(it));
  }
  std::string bad = table::encode_item(item);
  bad[3] ^= 1;
  std::string out;
  EXPECT_EQ(dynamodb::append_encoded_item_json(bad, out, nullptr).error().code(),
            ErrorCode::kCorruption);
}

// GetItem and Query answer from the stored encodings when they can, and from decoded items
// when a projection, a filter or Select needs them: the same bytes either way.
TEST_F(DynamoDbApiTest, ReadsFromStoredEncodingsMatchDecodedReads) {
  AwsResponse r = call("CreateTable",
                       R"j({"TableName":"rows","BillingMode":"PAY_PER_REQUEST",
                           "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},
                                        {"AttributeName":"sk","KeyType":"RANGE"}],
                           "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},
                                                   {"AttributeName":"sk","AttributeType":"N"}]})j");
  ASSERT_EQ(r.status, 200) << r.body;
  for (int i = 0; i < 12; ++i) {
    const std::string item = R"j({"pk":{"S":"p"},"sk":{"N":")j" + std::to_string(i) +
                             R"j("},"n":{"N":"-0012.50"},"s":{"S":"q\"\u0001\u00e9"},"m":{"M":{"l":{"L":[{"BS":["AAE="]},{"NULL":true}]}}}})j";
    r = call("PutItem", R"j({"TableName":"rows","Item":)j" + item + "}");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const std::string all_attributes = R"j("ProjectionExpression":"pk, sk, n, s, m")j";
  // GetItem: stored encoding (no projection) against decoded (a projection of every attribute).
  const std::string key = R"j("TableName":"rows","Key":{"pk":{"S":"p"},"sk":{"N":"3"}},"ReturnConsumedCapacity":"TOTAL")j";
  AwsResponse plain = call("GetItem", "{" + key + "}");
  AwsResponse projected = call("GetItem", "{" + key + "," + all_attributes + "}");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.body, projected.body);
  EXPECT_EQ(plain.body,
            R"j({"Item":{"m":{"M":{"l":{"L":[{"BS":["AAE="]},{"NULL":true}]}}},"n":{"N":"-12.5"},"pk":{"S":"p"},"s":{"S":"q\"\u0001é"},"sk":{"N":"3"}},"ConsumedCapacity":{"TableName":"rows","CapacityUnits":0.5,"ReadCapacityUnits":0.5}})j");
  AwsResponse missing = call("GetItem", R"j({"TableName":"rows","Key":{"pk":{"S":"p"},"sk":{"N":"99"}},"ReturnConsumedCapacity":"TOTAL"})j");
  EXPECT_EQ(missing.body, R"j({"ConsumedCapacity":{"TableName":"rows","CapacityUnits":0.5,"ReadCapacityUnits":0.5}})j");
  // Query, forward and backward, paged by Limit (LastEvaluatedKey) and not.
  for (const std::string& extra :
       {std::string(), std::string(R"j(,"Limit":5)j"),
        std::string(R"j(,"ScanIndexForward":false,"Limit":4,"ExclusiveStartKey":{"pk":{"S":"p"},"sk":{"N":"9"}})j")}) {
    const std::string q = R"j({"TableName":"rows","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p"}},"ReturnConsumedCapacity":"TOTAL")j" + extra;
    AwsResponse encoded = call("Query", q + "}");
    AwsResponse decoded = call("Query", q + "," + all_attributes + "}");
    ASSERT_EQ(encoded.status, 200) << encoded.body;
    EXPECT_EQ(encoded.body, decoded.body) << extra;
    AwsResponse count = call("Query", q + R"j(,"Select":"COUNT"})j");
    Document c = json(count);
    EXPECT_EQ(c.find("Count")->as_int(), json(encoded).find("Count")->as_int()) << extra;
  }
  AwsResponse page = call("Query", R"j({"TableName":"rows","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p"}},"Limit":2})j");
  EXPECT_EQ(json(page).find("Count")->as_int(), 2);
  EXPECT_EQ(encode_json(*json(page).find("LastEvaluatedKey")), R"j({"pk":{"S":"p"},"sk":{"N":"1"}})j");
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

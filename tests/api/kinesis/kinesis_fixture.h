// The in-process Kinesis fixture: a real stream::Engine on a temporary directory and the
// Kinesis handlers, called through ServiceRegistry lookups (shared by the tests of this folder).
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <set>
#include <string>

#include "freshet/api/kinesis.h"
#include "freshet/common/base64.h"
#include "freshet/stream/names.h"
#include "testing/temp_dir.h"

namespace freshet::api {

inline constexpr const char* kAccount = "000000000000";

// Runs an operation's handler, synchronous or not. An asynchronous one (the puts) answers
// inline with durability kOs, but this waits anyway; a deferred answer is made here. A body the handler encoded itself must
// be valid JSON; it comes back decoded, as the Document the other handlers return.
inline ApiResult invoke(const Operation& op, RequestContext& ctx) {
  std::promise<ApiResult> answer;
  auto future = answer.get_future();
  if (op.handler) {
    answer.set_value(op.handler(ctx));
  } else {
    op.async_handler(ctx, [&answer](ApiResult r) { answer.set_value(std::move(r)); });
  }
  ApiResult r = future.get();
  if (r.deferred()) r = std::move(r).made();  // what the dispatcher does on the connection
  if (!r.encoded()) return r;
  auto doc = decode_json(r.encoded_body());
  EXPECT_TRUE(doc.ok()) << r.encoded_body();
  if (!doc.ok()) return ApiError{AwsError::kInternalFailure, "bad JSON"};
  // Blobs and timestamps of the outputs written as JSON, converted as a client would.
  const ShapeHint out = ShapeHint().blob("Records[].Data").timestamp("Records[].ApproximateArrivalTimestamp");
  EXPECT_TRUE(apply_shape(*doc, out, true).ok());
  return std::move(*doc);
}

class KinesisApiTest : public ::testing::Test {
 protected:
  // Runs first in SetUp: a derived fixture may change options_ here.
  virtual void configure() {}

  void SetUp() override {
    configure();
    stream::EngineOptions o;
    o.data_dir = dir_.path() + "/data";
    o.account_id = kAccount;
    o.durability = log::Durability::kOs;
    o.enforce_limits = engine_limits_;
    auto e = stream::Engine::open(o);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    engine_ = std::move(*e);
    ASSERT_TRUE(register_kinesis(services_, *engine_, metrics_, options_).ok());
  }

  ApiResult call(const std::string& op, Document input, std::string region = "") {
    auto lookup = services_.find(std::string("Kinesis_20131202.") + op);
    if (lookup.operation == nullptr) return ApiError{AwsError::kUnknownOperation, op};
    RequestContext ctx;
    ctx.target_prefix = "Kinesis_20131202";
    ctx.service = "kinesis";
    ctx.operation = lookup.operation->name;
    ctx.input = std::move(input);
    ctx.region = std::move(region);
    ctx.protocol = protocol_;
    return invoke(*lookup.operation, ctx);
  }

  Protocol protocol_ = Protocol::kJson;

  Document ok(const std::string& op, Document input, std::string region = "") {
    ApiResult r = call(op, std::move(input), std::move(region));
    EXPECT_TRUE(r.ok()) << op << ": " << (r.ok() ? "" : r.error().info().type) << " "
                        << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : Document();
  }

  ApiError err(const std::string& op, Document input, std::string region = "") {
    ApiResult r = call(op, std::move(input), std::move(region));
    EXPECT_FALSE(r.ok()) << op << " unexpectedly succeeded";
    return r.ok() ? ApiError{AwsError::kCount, ""} : r.error();
  }

  void create(const std::string& name, int shards) {
    ok("CreateStream", Document(Map{{"StreamName", name}, {"ShardCount", shards}}));
  }

  std::string put(const std::string& stream, const std::string& data, const std::string& key,
                  std::string* shard = nullptr) {
    Document out = ok("PutRecord", Document(Map{{"StreamName", stream},
                                                {"Data", Document::blob(data)},
                                                {"PartitionKey", key}}));
    if (shard != nullptr && out.find("ShardId") != nullptr) *shard = out.find("ShardId")->as_string();
    return out.find("SequenceNumber") ? out.find("SequenceNumber")->as_string() : "";
  }

  static std::string arn(const std::string& name, const std::string& region = "us-east-1") {
    return stream::format_stream_arn(region, kAccount, name);
  }

  static std::set<std::string> keys(const Document& map) {
    std::set<std::string> s;
    for (const auto& m : map.as_map()) s.insert(m.key);
    return s;
  }

  testing::TempDir dir_;
  std::unique_ptr<stream::Engine> engine_;
  metrics::Registry metrics_;
  KinesisApiOptions options_;
  bool engine_limits_ = false;  // EngineOptions::enforce_limits (set in configure())
  ServiceRegistry services_;
};

}  // namespace freshet::api

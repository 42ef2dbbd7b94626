// The Lambda API at the handler level: routes, responses, Lambda's errors and headers.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "freshet/api/codec.h"
#include "freshet/api/lambda.h"
#include "freshet/common/base64.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"
#include "process/process_fixture.h"

namespace freshet::api {
namespace {

class LambdaApiTest : public process::testing_support::ProcessFixture {
 protected:
  void SetUp() override {
    ProcessFixture::SetUp();
    svc_ = std::move(process::ProcessService::open(options(dir_.path()))).value();
    process::FunctionConfig c;
    c.name = "extract";
    c.kind = process::FunctionConfig::Kind::kExtract;
    c.extract = {{"id", "id", process::ExtractField::Type::kS, true, std::nullopt}};
    ASSERT_TRUE(svc_->set_functions({c}).ok());
    svc_->start();
    api_ = std::make_unique<LambdaApi>(*svc_, metrics_, LambdaApiOptions{});
  }
  void TearDown() override {
    api_.reset();
    svc_.reset();
    ProcessFixture::TearDown();
  }

  struct Answer {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    Document json;
  };
  std::optional<Answer> call(std::string method, std::string target, std::string body = "",
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
    RestRequest r;
    r.method = method;
    r.target = target;
    r.body = std::move(body);
    for (const auto& [k, v] : headers) r.headers.emplace_back(k, v);
    auto resp = api_->handle(r);
    if (!resp) return std::nullopt;
    Answer a;
    a.status = resp->status;
    for (const auto& [k, v] : resp->headers) a.headers[k] = v;
    a.body = resp->body;
    if (!a.body.empty()) {
      auto d = decode_json(a.body);
      if (d.ok()) a.json = std::move(d).value();
    }
    return a;
  }

  metrics::Registry metrics_;
  std::unique_ptr<process::ProcessService> svc_;
  std::unique_ptr<LambdaApi> api_;
};

TEST_F(LambdaApiTest, DeclinesOtherPaths) {
  EXPECT_FALSE(call("GET", "/bucket/key"));
  EXPECT_FALSE(call("GET", "/2017-03-31/functions/x/concurrency"));
}

TEST_F(LambdaApiTest, FunctionsAndTheirErrors) {
  auto a = call("GET", "/2015-03-31/functions/");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->json.find("Functions")->as_list().at(0).find("FunctionName")->as_string(), "extract");
  a = call("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aextract/configuration");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(a->json.find("Handler")->as_string(), "freshet.extract");
  a = call("GET", "/2015-03-31/functions/missing");
  EXPECT_EQ(a->status, 404);
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "ResourceNotFoundException");
  EXPECT_EQ(a->json.find("message")->as_string(),
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing");
  a = call("GET", "/2015-03-31/functions/bad%20name");
  EXPECT_EQ(a->status, 400);
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidParameterValueException");
  a = call("GET", "/2015-03-31/functions?MaxItems=abc");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidParameterValueException");
  a = call("POST", "/2015-03-31/functions");  // CreateFunction: not offered
  EXPECT_EQ(a->status, 404);
}

TEST_F(LambdaApiTest, InvokeWithTailLog) {
  const std::string event = R"({"Records":[{"kinesis":{"partitionKey":"p","sequenceNumber":"1","data":")" +
                            base64_encode(R"({"x":1})") + R"(","approximateArrivalTimestamp":1}}]})";
  auto a = call("POST", "/2015-03-31/functions/extract/invocations", event,
                {{"X-Amz-Log-Type", "Tail"}});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->headers["X-Amz-Executed-Version"], "$LATEST");
  EXPECT_FALSE(a->headers.contains("X-Amz-Function-Error"));
  auto log = base64_decode(a->headers["X-Amz-Log-Result"]);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->starts_with("START RequestId: ")) << *log;
  EXPECT_NE(log->find("record 1 failed: missing required field 'id' (id)\n"), std::string::npos) << *log;
  EXPECT_NE(log->find("\nEND RequestId: "), std::string::npos);
  EXPECT_NE(log->find("\tMemory Size: 128 MB\tMax Memory Used: 0 MB\t\n"), std::string::npos) << *log;
  EXPECT_EQ(a->json.find("batchItemFailures")->as_list().size(), 1u);

  a = call("POST", "/2015-03-31/functions/extract/invocations", "{\"not\":\"an event\"}");
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->headers["X-Amz-Function-Error"], "Unhandled");
  a = call("POST", "/2015-03-31/functions/extract/invocations", "{oops");
  EXPECT_EQ(a->status, 400);
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidRequestContentException");
  a = call("POST", "/2015-03-31/functions/extract/invocations", "{}",
           {{"X-Amz-Invocation-Type", "Sometimes"}});
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidParameterValueException");
  a = call("POST", "/2015-03-31/functions/extract/invocations", "{}",
           {{"X-Amz-Invocation-Type", "DryRun"}});
  EXPECT_EQ(a->status, 204);
  a = call("POST", "/2015-03-31/functions/extract/invocations?Qualifier=3", "{}");
  EXPECT_EQ(a->status, 404);
}

TEST_F(LambdaApiTest, EventSourceMappingLifecycle) {
  ASSERT_TRUE(engine_->create_stream("us-east-1", "in", 1, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
  const std::string arn = "arn:aws:kinesis:us-east-1:000000000000:stream/in";
  auto a = call("POST", "/2015-03-31/event-source-mappings/",
                R"({"FunctionName":"extract","EventSourceArn":")" + arn +
                    R"(","StartingPosition":"TRIM_HORIZON","BatchSize":10,
                    "FunctionResponseTypes":["ReportBatchItemFailures"],
                    "FilterCriteria":{"Filters":[{"Pattern":"{\"data\":{\"x\":[1]}}"}]}})");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 202) << a->body;
  const std::string uuid = a->json.find("UUID")->as_string();
  EXPECT_EQ(a->json.find("State")->as_string(), "Creating");
  EXPECT_EQ(a->json.find("BatchSize")->as_int(), 10);
  EXPECT_EQ(a->json.find("FunctionResponseTypes")->as_list().size(), 1u);
  EXPECT_EQ(a->json.find("EventSourceMappingArn")->as_string(),
            "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:" + uuid);
  a = call("GET", "/2015-03-31/event-source-mappings/" + uuid);
  EXPECT_EQ(a->status, 200);
  a = call("GET", "/2015-03-31/event-source-mappings/?FunctionName=extract&EventSourceArn=" + arn);
  EXPECT_EQ(a->json.find("EventSourceMappings")->as_list().size(), 1u);
  a = call("GET", "/2015-03-31/event-source-mappings/?FunctionName=nope");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "ResourceNotFoundException");
  for (int i = 0; i < 100 && call("GET", "/2015-03-31/event-source-mappings/" + uuid)
                                     ->json.find("State")->as_string() != "Enabled"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  a = call("PUT", "/2015-03-31/event-source-mappings/" + uuid, R"({"BatchSize":"ten"})");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidParameterValueException");
  a = call("PUT", "/2015-03-31/event-source-mappings/" + uuid, R"({"TumblingWindowInSeconds":60})");
  EXPECT_EQ(a->status, 202) << a->body;
  EXPECT_EQ(a->json.find("State")->as_string(), "Updating");
  a = call("PUT", "/2015-03-31/event-source-mappings/" + uuid, R"({"BatchSize":5})");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "ResourceInUseException");
  a = call("POST", "/2015-03-31/event-source-mappings/",
           R"({"FunctionName":"extract","EventSourceArn":")" + arn + R"(","StartingPosition":"LATEST"})");
  EXPECT_EQ(a->status, 409);
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "ResourceConflictException");
  a = call("POST", "/2015-03-31/event-source-mappings/", "[1]");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidRequestContentException");
  a = call("POST", "/2015-03-31/event-source-mappings/",
           R"({"FunctionName":"extract","EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:q","StartingPosition":"LATEST"})");
  EXPECT_EQ(a->headers["X-Amzn-ErrorType"], "InvalidParameterValueException");
  a = call("DELETE", "/2015-03-31/event-source-mappings/" + uuid);
  EXPECT_EQ(a->status, 202);
  EXPECT_EQ(a->json.find("State")->as_string(), "Deleting");
  a = call("DELETE", "/2015-03-31/event-source-mappings/nope");
  EXPECT_EQ(a->status, 404);
}

}  // namespace
}  // namespace freshet::api

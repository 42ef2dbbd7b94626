// exec functions: a Python and a Node.js worker driven through Lambda's Kinesis event, their
// logs, errors, timeouts and memory limit.
#include <gtest/gtest.h>

#include <fstream>

#include "freshet/process/function.h"
#include "testing/temp_dir.h"

namespace freshet::process {
namespace {

class ExecTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() + "/" + name) << text;
  }
  FunctionConfig python(const std::string& handler, int timeout_s = 3) {
    FunctionConfig c;
    c.name = "py";
    c.kind = FunctionConfig::Kind::kExec;
    c.exec.runtime = "python";
    c.exec.handler = handler;
    c.exec.working_dir = dir_.path();
    c.timeout_s = timeout_s;
    return c;
  }
  Batch batch(const std::vector<std::string>& datas) {
    Batch b;
    b.shard_id = "shardId-000000000001";
    b.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    b.region = "us-east-1";
    seqs_.clear();
    for (size_t i = 0; i < datas.size(); ++i) seqs_.push_back("4950000000000000000000000" + std::to_string(i));
    datas_ = datas;
    for (size_t i = 0; i < datas.size(); ++i) b.records.push_back({seqs_[i], "pk", datas_[i], 1700000000000});
    return b;
  }
  testing::TempDir dir_;
  std::vector<std::string> seqs_, datas_;
};

constexpr const char* kHandler = R"PY(
import base64, json
def handler(event, context):
    failures, items = [], []
    for r in event["Records"]:
        data = base64.b64decode(r["kinesis"]["data"]).decode()
        print("got", data, "in", context.function_name)
        if data == "bad":
            failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
        else:
            items.append({"id": data, "shard": r["eventID"].split(":")[0]})
    if any(base64.b64decode(r["kinesis"]["data"]) == b"raise" for r in event["Records"]):
        raise ValueError("asked to raise")
    return {"batchItemFailures": failures, "items": items}

def echo(event, context):
    return {"echo": event, "remaining_ok": context.get_remaining_time_in_millis() > 0}

def slow(event, context):
    import time
    time.sleep(10)

def hog(event, context):
    x = bytearray(400 * 1024 * 1024)
    return len(x)
)PY";

TEST_F(ExecTest, PythonWorkerAnswersBatchItemFailuresAndItems) {
  write("handler.py", kHandler);
  auto fn = make_function(python("handler.handler"));
  ASSERT_TRUE(fn.ok()) << fn.error().to_string();
  for (int round = 0; round < 2; ++round) {  // the same long-lived worker twice
    InvokeResult r = (*fn)->invoke(batch({"a", "bad", "c"}));
    ASSERT_TRUE(r.function_error.empty()) << r.error_message << r.log;
    ASSERT_EQ(r.failures.size(), 1u);
    EXPECT_EQ(r.failures[0].record, 1u);
    EXPECT_FALSE(r.failures[0].permanent);
    ASSERT_EQ(r.outputs.size(), 2u);
    EXPECT_EQ(r.outputs[1].item.at("id").str(), "c");
    EXPECT_EQ(r.outputs[1].item.at("shard").str(), "shardId-000000000001");
    EXPECT_NE(r.log.find("got a in py"), std::string::npos) << r.log;
    EXPECT_GT(r.max_memory_kb, 1000u);
  }
}

TEST_F(ExecTest, ExceptionsAreFunctionErrorsAndTheWorkerSurvives) {
  write("handler.py", kHandler);
  auto fn = make_function(python("handler.handler"));
  ASSERT_TRUE(fn.ok());
  InvokeResult r = (*fn)->invoke(batch({"a", "raise"}));
  EXPECT_EQ(r.function_error, "Unhandled");
  EXPECT_EQ(r.error_message, "ValueError: asked to raise");
  EXPECT_NE(r.log.find("Traceback"), std::string::npos) << r.log;
  EXPECT_NE(r.payload.find("\"errorType\":\"ValueError\""), std::string::npos) << r.payload;
  InvokeResult ok = (*fn)->invoke(batch({"a"}));
  EXPECT_TRUE(ok.function_error.empty()) << ok.error_message;
}

TEST_F(ExecTest, InvokePayloadPassesAnyJson) {
  write("handler.py", kHandler);
  auto fn = make_function(python("handler.echo"));
  ASSERT_TRUE(fn.ok());
  InvokeResult r = (*fn)->invoke_payload(R"({ "hello" : [1, 2] })");
  ASSERT_TRUE(r.function_error.empty()) << r.error_message << r.log;
  EXPECT_EQ(r.payload, R"({"echo":{"hello":[1,2]},"remaining_ok":true})");
  InvokeResult bad = (*fn)->invoke_payload("{");
  EXPECT_EQ(bad.function_error, "Unhandled");
}

TEST_F(ExecTest, TimeoutKillsTheWorkerAndTheNextInvokeRestartsIt) {
  write("handler.py", kHandler);
  auto fn = make_function(python("handler.slow", 1));
  ASSERT_TRUE(fn.ok());
  const auto t0 = std::chrono::steady_clock::now();
  InvokeResult r = (*fn)->invoke_payload("{}");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.function_error, "Unhandled");
  EXPECT_NE(r.error_message.find("Task timed out after 1.00 seconds"), std::string::npos);
  EXPECT_LT(took, std::chrono::seconds(3));
  InvokeResult again = (*fn)->invoke_payload("{}");  // a new worker, timed out again
  EXPECT_NE(again.error_message.find("Task timed out"), std::string::npos) << again.error_message;
}

TEST_F(ExecTest, MemoryLimitFailsTheInvocation) {
  write("handler.py", kHandler);
  FunctionConfig c = python("handler.hog");
  c.memory_mb = 128;
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok());
  InvokeResult r = (*fn)->invoke_payload("{}");
  EXPECT_EQ(r.function_error, "Unhandled");
  EXPECT_NE(r.error_message.find("MemoryError"), std::string::npos) << r.error_message;
}

TEST_F(ExecTest, MissingHandlerIsAnInitError) {
  write("handler.py", kHandler);
  auto fn = make_function(python("nomodule.handler"));
  ASSERT_TRUE(fn.ok());
  InvokeResult r = (*fn)->invoke_payload("{}");
  EXPECT_EQ(r.function_error, "Unhandled");
  EXPECT_NE(r.error_message.find("ModuleNotFoundError"), std::string::npos) << r.error_message;
}

TEST_F(ExecTest, NodeWorker) {
  if (system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no node";
  write("index.js", R"JS(
exports.handler = async (event, context) => {
  console.log('records', event.Records.length);
  const failures = event.Records
      .filter(r => Buffer.from(r.kinesis.data, 'base64').toString() === 'bad')
      .map(r => ({itemIdentifier: r.kinesis.sequenceNumber}));
  return {batchItemFailures: failures};
};
)JS");
  FunctionConfig c;
  c.name = "js";
  c.kind = FunctionConfig::Kind::kExec;
  c.exec.runtime = "node";
  c.exec.handler = "index.handler";
  c.exec.working_dir = dir_.path();
  c.memory_mb = 512;
  c.timeout_s = 10;
  auto fn = make_function(c);
  ASSERT_TRUE(fn.ok());
  InvokeResult r = (*fn)->invoke(batch({"x", "bad"}));
  ASSERT_TRUE(r.function_error.empty()) << r.error_message << r.log;
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].record, 1u);
  EXPECT_NE(r.log.find("records 2"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace freshet::process

// `freshet bench`: the SigV4 signer against AWS's published test suite, and the real binary
// driving a real `freshet serve` on port 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "../../src/cli/bench_client.h"
#include "../../src/cli/bench_sigv4.h"
#include "../testing/run_command.h"
#include "../testing/temp_dir.h"
#include "freshet/api/codec.h"
#include "freshet/api/document.h"

namespace freshet::cli {
namespace {

using bench::SigV4FixedSigner;
using bench::SigV4Request;
using bench::SigV4Signer;

SigV4Signer example_signer() {
  return SigV4Signer({"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, "us-east-1",
                     "service");
}

TEST(BenchSigV4, GetVanillaMatchesTheAwsTestSuite) {
  SigV4Request r;
  r.method = "GET";
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  auto s = example_signer().sign(r, "20150830T123600Z");
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(BenchSigV4, PostVanillaMatchesTheAwsTestSuite) {
  SigV4Request r;
  r.method = "POST";
  r.headers = {{"x-amz-date", "20150830T123600Z"}, {"host", "example.amazonaws.com"}};
  auto s = example_signer().sign(r, "20150830T123600Z");
  EXPECT_EQ(s.signed_headers, "host;x-amz-date");
  EXPECT_EQ(s.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(BenchSigV4, PrecomputedPayloadHashSignsLikeThePayload) {
  const std::string payload = R"({"StreamName":"s","Data":"eA==","PartitionKey":"k"})";
  SigV4Request with_payload;
  with_payload.headers = {{"Host", "example.amazonaws.com"},
                          {"X-Amz-Date", "20150830T123600Z"},
                          {"X-Amz-Target", "Kinesis_20131202.PutRecord"}};
  with_payload.payload = payload;
  SigV4Request with_hash = with_payload;
  with_hash.payload = "";
  const std::string hash = bench::sha256_hex(payload);
  with_hash.payload_sha256 = hash;
  auto a = example_signer().sign(with_payload, "20150830T123600Z");
  auto b = example_signer().sign(with_hash, "20150830T123600Z");
  EXPECT_EQ(a.canonical_request, b.canonical_request);
  EXPECT_EQ(a.authorization, b.authorization);
}

TEST(BenchSigV4, FixedSignerSignsLikeTheSigner) {
  SigV4Request shape;
  shape.headers = {{"host", "127.0.0.1:4567"},
                   {"x-amz-date", ""},
                   {"x-amz-target", "Kinesis_20131202.PutRecords"},
                   {"content-type", "application/x-amz-json-1.1"}};
  auto fixed = SigV4FixedSigner::create({"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
                                        "us-east-1", "kinesis", shape);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message();
  SigV4Signer signer({"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, "us-east-1",
                     "kinesis");
  // The date changes within a day and across days (a new signing key); payloads differ.
  const char* dates[] = {"20150830T123600Z", "20150830T123601Z", "20150831T000000Z",
                         "20150831T000000Z"};
  const char* payloads[] = {"{}", R"({"StreamName":"a"})", "", R"({"StreamName":"b"})"};
  for (int i = 0; i < 4; ++i) {
    SigV4Request r = shape;
    r.headers[1].second = dates[i];
    r.payload = payloads[i];
    std::string got = "prefix:";
    ASSERT_TRUE(fixed->append_authorization(dates[i], bench::sha256_hex(payloads[i]), &got).ok());
    EXPECT_EQ(got, "prefix:" + signer.sign(r, dates[i]).authorization) << i;
  }
}

TEST(BenchSigV4, FixedSignerWantsOneDateHeader) {
  SigV4Request shape;
  shape.headers = {{"host", "example.amazonaws.com"}};
  EXPECT_FALSE(SigV4FixedSigner::create({"a", "b"}, "us-east-1", "kinesis", shape).ok());
  shape.headers = {{"X-Amz-Date", ""}, {"x-amz-date", ""}};
  EXPECT_FALSE(SigV4FixedSigner::create({"a", "b"}, "us-east-1", "kinesis", shape).ok());
}

using testing::CommandResult;

CommandResult run(const std::string& args) {
  return testing::run_command(std::string(FRESHET_BINARY) + " " + args + " 2>/dev/null");
}

// Starts `freshet serve --listen 127.0.0.1:0` and reads the port from its first line.
class Server {
 public:
  explicit Server(const std::string& data_dir) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(FRESHET_BINARY, FRESHET_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
              data_dir.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    FILE* f = ::fdopen(fds[0], "r");
    char line[512] = {};
    if (std::fgets(line, sizeof line, f) != nullptr) {
      const std::string s = line;
      const size_t at = s.find("http://");
      if (at != std::string::npos) {
        const size_t end = s.find_first_of(" \n", at);
        endpoint_ = s.substr(at, end - at);
      }
    }
    out_ = f;  // kept open so the server never gets SIGPIPE
  }
  ~Server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string endpoint_;
};

api::Document parse(const std::string& out) {
  auto doc = api::decode_json(out);
  EXPECT_TRUE(doc.ok()) << out;
  return doc.ok() ? std::move(doc).value() : api::Document();
}

int64_t int_member(const api::Document& d, const char* name) {
  const api::Document* v = d.find(name);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}

double double_member(const api::Document& d, const char* name) {
  const api::Document* v = d.find(name);
  if (v == nullptr) return -1;
  return v->is_int() ? static_cast<double>(v->as_int()) : v->is_double() ? v->as_double() : -1;
}

TEST(BenchGetScan, FindsRecordsIteratorAndLagAsAParserWould) {
  // Compact, as Freshet writes it.
  auto a = bench::scan_get_records(
      R"({"Records":[{"SequenceNumber":"1","Data":"aGVsbG8=","PartitionKey":"k"},)"
      R"({"SequenceNumber":"2","Data":"YQ==","PartitionKey":"\"Data\":\"x"}],)"
      R"("NextShardIterator":"AAAA+/==","MillisBehindLatest":0})");
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(a.records, 2);
  EXPECT_EQ(a.bytes, 6);  // "hello" + "a": the escaped look-alike in a key is not a member
  ASSERT_TRUE(a.next_iterator.has_value());
  EXPECT_EQ(*a.next_iterator, "AAAA+/==");
  ASSERT_TRUE(a.millis_behind.has_value());
  EXPECT_EQ(*a.millis_behind, 0);
  // Spaced, as Python's json.dumps writes it; a closed shard has no NextShardIterator.
  auto b = bench::scan_get_records(
      R"({"Records": [{"Data": "YWJj", "PartitionKey": "p"}], "MillisBehindLatest": 1500, )"
      R"("ChildShards": []})");
  EXPECT_TRUE(b.ok);
  EXPECT_EQ(b.records, 1);
  EXPECT_EQ(b.bytes, 3);
  EXPECT_FALSE(b.next_iterator.has_value());
  EXPECT_EQ(b.millis_behind.value_or(-1), 1500);
  EXPECT_FALSE(bench::scan_get_records(R"({"__type":"ExpiredIteratorException"})").ok);
}

TEST(BenchCommand, PutThenGetThenE2eAgainstARealServer) {
  testing::TempDir dir;
  Server server(dir.path());
  ASSERT_FALSE(server.endpoint().empty());
  const std::string common = " --endpoint " + server.endpoint() + " --stream bench --json";

  CommandResult put = run("bench put" + common +
                          " --create --shards 2 --records 2000 --batch 100 --concurrency 4");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  api::Document p = parse(put.output);
  EXPECT_EQ(int_member(p, "records"), 2000) << put.output;
  EXPECT_EQ(int_member(p, "errors"), 0) << put.output;
  EXPECT_EQ(int_member(p, "requests"), 20) << put.output;

  CommandResult get = run("bench get" + common + " --limit 500");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  api::Document g = parse(get.output);
  EXPECT_EQ(int_member(g, "records"), 2000) << get.output;
  EXPECT_EQ(int_member(g, "errors"), 0) << get.output;

  CommandResult e2e = run("bench e2e" + common + " --duration 2 --poll-ms 10");
  ASSERT_EQ(e2e.exit_code, 0) << e2e.output;
  api::Document e = parse(e2e.output);
  EXPECT_GT(int_member(e, "count"), 0) << e2e.output;
  EXPECT_GT(double_member(e, "p99"), 0) << e2e.output;
  EXPECT_EQ(int_member(e, "errors"), 0) << e2e.output;
}

TEST(BenchCommand, PutSpreadsConnectionsOverThreads) {
  testing::TempDir dir;
  Server server(dir.path());
  ASSERT_FALSE(server.endpoint().empty());
  const std::string common = " --endpoint " + server.endpoint() + " --stream threads --json";

  // 2000 records in batches of 300: six full batches from the pools and one built for the
  // last 200.
  CommandResult put = run("bench put" + common +
                          " --create --shards 2 --records 2000 --batch 300 --concurrency 4"
                          " --threads 2");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  api::Document p = parse(put.output);
  EXPECT_EQ(int_member(p, "records"), 2000) << put.output;
  EXPECT_EQ(int_member(p, "errors"), 0) << put.output;
  EXPECT_EQ(int_member(p, "requests"), 7) << put.output;
  EXPECT_EQ(int_member(p, "threads"), 2) << put.output;

  // PutRecord, more threads asked for than connections: one thread per connection at most.
  CommandResult one = run("bench put" + common + " --records 50 --batch 1 --concurrency 3 --threads 8");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  api::Document o = parse(one.output);
  EXPECT_EQ(int_member(o, "records"), 50) << one.output;
  EXPECT_EQ(int_member(o, "requests"), 50) << one.output;
  EXPECT_EQ(int_member(o, "errors"), 0) << one.output;
  EXPECT_EQ(int_member(o, "threads"), 3) << one.output;

  CommandResult get = run("bench get" + common + " --limit 1000");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(int_member(parse(get.output), "records"), 2050) << get.output;
}

TEST(BenchCommand, BadFlagsExitTwo) {
  EXPECT_EQ(run("bench put --endpoint http://127.0.0.1:1 --stream s").exit_code, 2);  // no count
  EXPECT_EQ(run("bench put --endpoint http://127.0.0.1:1 --stream s --records 1 --bogus").exit_code, 2);
  EXPECT_EQ(run("bench put --endpoint ftp://x --stream s --records 1").exit_code, 2);
  EXPECT_EQ(run("bench put --endpoint http://127.0.0.1:1 --stream s --records 1 --keys x").exit_code, 2);
  EXPECT_EQ(run("bench put --endpoint http://127.0.0.1:1 --stream s --records 1 --threads 0").exit_code, 2);
  EXPECT_EQ(run("bench nope").exit_code, 2);
}

TEST(BenchCommand, RefusedConnectionExitsOne) {
  // Port 1 on loopback: nothing listens there.
  CommandResult r = run("bench put --endpoint http://127.0.0.1:1 --stream s --records 10");
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace freshet::cli

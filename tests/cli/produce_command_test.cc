// `freshet produce` against a real `freshet serve` on port 0: generated tweets, stdin, a
// recorded file replayed, and the errors a producer must stop on.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../testing/freshet_process.h"
#include "../testing/run_command.h"
#include "../testing/temp_dir.h"
#include "freshet/api/codec.h"
#include "freshet/api/document.h"
#include "../../src/cli/produce_sink.h"

namespace freshet {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) {
  return testing::run_command(std::string(FRESHET_BINARY) + " " + args + " 2>&1");
}

// The last line of output that looks like a JSON object.
api::Document last_json(const std::string& out) {
  const size_t at = out.rfind("\n{");
  const std::string line = out.substr(at == std::string::npos ? 0 : at + 1);
  auto doc = api::decode_json(line.substr(0, line.find('\n')));
  EXPECT_TRUE(doc.ok()) << out;
  return doc.ok() ? std::move(doc).value() : api::Document();
}

int64_t member(const api::Document& d, const char* name) {
  const api::Document* v = d.find(name);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(ProduceCommand, SendsGeneratedStdinAndReplayedRecordsToARealServer) {
  testing::TempDir dir;
  testing::FreshetProcess server(FRESHET_BINARY,
                                 {"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path()});
  ASSERT_FALSE(server.endpoint().empty()) << server.output();
  const std::string to = " --endpoint " + server.endpoint() + " --stream tweets";

  // A stream to write to (bench creates it and writes one record).
  CommandResult create = run("bench put" + to + " --create --shards 2 --records 1 --json");
  ASSERT_EQ(create.exit_code, 0) << create.output;

  CommandResult gen = run("produce" + to + " --count 3000 --malformed 0.01 --shape mixed "
                          "--seed 4 --concurrency 2 --json");
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  api::Document g = last_json(gen.output);
  EXPECT_EQ(member(g, "records"), 3000) << gen.output;
  EXPECT_EQ(member(g, "failed"), 0);
  const api::Document* kinds = g.find("kinds");
  ASSERT_NE(kinds, nullptr);
  EXPECT_GT(member(*kinds, "valid"), 2900);
  EXPECT_LT(member(*kinds, "valid"), 3000);

  CommandResult in = run("produce" + to + " --file - --json < /dev/null");
  ASSERT_EQ(in.exit_code, 0) << in.output;
  EXPECT_EQ(member(last_json(in.output), "records"), 0);
  CommandResult piped = testing::run_command("printf '{\"a\":1}\\n\\nnot json\\n' | " +
                                             std::string(FRESHET_BINARY) + " produce" + to +
                                             " --file - --json 2>&1");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(member(last_json(piped.output), "records"), 2);

  // The same seed and start time give the same file; replaying it sends every line.
  const std::string file = dir.path() + "/recorded.jsonl";
  const std::string gen_args = " --seed 9 --start-ms 1700000000000 --rate 1000 --count 500 "
                               "--malformed 0.02 --quiet";
  ASSERT_EQ(run("produce --output " + file + gen_args).exit_code, 0);
  ASSERT_EQ(run("produce --output " + file + ".2" + gen_args).exit_code, 0);
  const std::string recorded = slurp(file);
  EXPECT_EQ(recorded, slurp(file + ".2"));
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 500);
  // 500 records 1 ms apart at 5x: about 0.1 s.
  CommandResult replay = run("produce" + to + " --file " + file + " --replay --speed 5 --json");
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(member(last_json(replay.output), "records"), 500);

  CommandResult get = run("bench get" + to + " --limit 1000 --json");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(member(last_json(get.output), "records"), 1 + 3000 + 2 + 500) << get.output;
}

TEST(ProduceCommand, StopsWithTheReasonWhenTheStreamIsMissingOrFlagsAreBad) {
  testing::TempDir dir;
  testing::FreshetProcess server(FRESHET_BINARY,
                                 {"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path()});
  ASSERT_FALSE(server.endpoint().empty());
  CommandResult missing =
      run("produce --endpoint " + server.endpoint() + " --stream nope --count 10 --quiet");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("ResourceNotFoundException"), std::string::npos)
      << missing.output;
  EXPECT_EQ(run("produce --stream s --count 1").exit_code, 2);  // no endpoint
  EXPECT_EQ(run("produce --endpoint http://127.0.0.1:1 --stream s --shape v9").exit_code, 2);
  EXPECT_EQ(run("produce --endpoint https://x:1/path --stream s").exit_code, 2);
  EXPECT_EQ(run("produce --endpoint ftp://x:1 --stream s").exit_code, 2);
  EXPECT_NE(run("produce --output - --malformed 2").exit_code, 0);
}

// The libcurl sink (what https:// endpoints use) against a real server over plain HTTP: TLS
// itself cannot be tested without a certificate authority, the request and its answers can.
TEST(ProduceSink, TheCurlSinkPutsRecordsAndMapsErrors) {
  testing::TempDir dir;
  testing::FreshetProcess server(FRESHET_BINARY,
                                 {"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path()});
  ASSERT_FALSE(server.endpoint().empty());
  const std::string to = " --endpoint " + server.endpoint() + " --stream s";
  ASSERT_EQ(run("bench put" + to + " --create --shards 1 --records 1").exit_code, 0);
  auto sink = cli::make_curl_kinesis_sink(server.endpoint() + "/", "us-east-1", {"AKID", "secret"},
                                          std::chrono::seconds(10), "s");
  ASSERT_TRUE(sink.ok()) << sink.error().message();
  produce::Record a, b;
  a.data = "{\"a\":1}";
  a.partition_key = "k1";
  b.data = std::string("\x00\x01\xff binary", 10);
  b.partition_key = "k\"2";
  std::vector<uint8_t> retry;
  Status st = (*sink)->put({&a, &b}, &retry);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(retry, (std::vector<uint8_t>{0, 0}));
  CommandResult get = run("bench get" + to + " --json");
  EXPECT_EQ(member(last_json(get.output), "records"), 3) << get.output;

  auto missing = cli::make_curl_kinesis_sink(server.endpoint(), "us-east-1", {"AKID", "secret"},
                                             std::chrono::seconds(10), "nope");
  ASSERT_TRUE(missing.ok());
  st = (*missing)->put({&a}, &retry);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kNotFound);
  EXPECT_NE(st.error().message().find("ResourceNotFoundException"), std::string::npos);

  auto refused = cli::make_curl_kinesis_sink("http://127.0.0.1:1", "us-east-1", {"a", "b"},
                                             std::chrono::seconds(2), "s");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)->put({&a}, &retry).code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(cli::make_curl_kinesis_sink("ftp://x", "us-east-1", {}, std::chrono::seconds(1), "s").ok());
  EXPECT_FALSE(cli::make_curl_kinesis_sink("https://x/path", "us-east-1", {}, std::chrono::seconds(1), "s").ok());
}

}  // namespace
}  // namespace freshet

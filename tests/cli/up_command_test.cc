// `freshet up` with the real binary: a pipeline applied, its producer writing, the same file
// again changing nothing, an edited file planned, and a bad file refused with its position.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "../testing/freshet_process.h"
#include "../testing/run_command.h"
#include "../testing/temp_dir.h"

namespace freshet {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) {
  return testing::run_command(std::string(FRESHET_BINARY) + " " + args + " 2>&1");
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

// Records in a stream, read with `freshet bench get` ("records":N in its JSON summary).
int64_t stream_records(const std::string& endpoint, const std::string& stream) {
  CommandResult r = run("bench get --endpoint " + endpoint + " --stream " + stream + " --json");
  const size_t at = r.output.find("\"records\":");
  return at == std::string::npos ? -1 : std::stoll(r.output.substr(at + 10));
}

constexpr const char* kPipeline = R"(name: small
streams:
  events: {shards: 2}
tables:
  items: {partition_key: id}
buckets: [landing]
delivery_streams:
  to-landing: {source: events, bucket: landing, compression: GZIP}
producers:
  gen: {stream: events, generate: tweets, rate: 0, count: 3000, malformed: 2%, seed: 3}
)";

TEST(UpCommand, AppliesTheFileRunsItsProducerAndIsIdempotent) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/p.yaml";
  const std::string data = dir.path() + "/data";
  write(file, kPipeline);
  {
    testing::FreshetProcess up(FRESHET_BINARY,
                               {"up", file, "--listen", "127.0.0.1:0", "--data-dir", data});
    ASSERT_FALSE(up.endpoint().empty()) << up.output();
    EXPECT_NE(up.output().find("+ stream events (2 shards"), std::string::npos) << up.output();
    EXPECT_NE(up.output().find("Plan: 4 to add, 0 to change (0 unchanged)."), std::string::npos)
        << up.output();
    int64_t n = 0;
    for (int i = 0; i < 100 && (n = stream_records(up.endpoint(), "events")) < 3000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(n, 3000);
  }
  CommandResult again = run("up " + file + " --dry-run --data-dir " + data);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("No changes: 4 resources already as the file says."),
            std::string::npos)
      << again.output;

  std::string edited = kPipeline;
  edited.replace(edited.find("{shards: 2}"), 11, "{shards: 3}");
  write(file, edited);
  CommandResult plan = run("up " + file + " --dry-run --data-dir " + data);
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("~ stream events: shards 2 -> 3"), std::string::npos) << plan.output;
  {
    // --no-producers: the edit is applied and nothing more is written.
    testing::FreshetProcess up(FRESHET_BINARY, {"up", file, "--listen", "127.0.0.1:0",
                                                "--data-dir", data, "--no-producers"});
    ASSERT_FALSE(up.endpoint().empty()) << up.output();
    EXPECT_EQ(stream_records(up.endpoint(), "events"), 3000);
  }
  EXPECT_NE(run("up " + file + " --dry-run --data-dir " + data).output.find("No changes"),
            std::string::npos);
}

TEST(UpCommand, ABadFileIsRefusedWithFileLineAndColumn) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/bad.yaml";
  write(file, "streams:\n  events:\n    shards: many\n");
  CommandResult r = run("up " + file + " --dry-run --data-dir " + dir.path() + "/data");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(file + ":3:13: streams.events.shards: expected a whole number"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(run("up " + dir.path() + "/missing.yaml --dry-run").exit_code, 2);
}

}  // namespace
}  // namespace freshet

// kill -9 in the middle of processing: a child process (this test binary run again with
// --gtest_filter on the Child test) produces records into a 4-shard stream while a
// window_count mapping counts them into a table; the parent kills it with SIGKILL twice, then
// opens the same data directory and lets processing finish. Every record in the stream must
// be counted exactly once in the window items: the sum per (value, window) equals what the
// records' arrival times say, with nothing lost and nothing counted twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace freshet::process {
namespace {

constexpr int kWindowS = 1;
constexpr uint32_t kShards = 4;

struct Node {
  std::unique_ptr<stream::Engine> engine;
  std::unique_ptr<table::TableStore> tables;
  std::unique_ptr<ProcessService> svc;

  explicit Node(const std::string& dir) {
    stream::EngineOptions eo;
    eo.data_dir = dir + "/streams";
    eo.durability = log::Durability::kOs;  // kill -9, not power loss: the page cache survives
    engine = std::move(stream::Engine::open(eo)).value();
    table::StoreOptions to;
    to.dir = dir + "/tables";
    to.sync = false;
    tables = std::move(table::TableStore::open(to)).value();
    ProcessOptions po;
    po.data_dir = dir;
    po.engine = engine.get();
    po.tables = tables.get();
    po.poll_interval_ms = 10;
    po.discovery_interval_ms = 50;
    po.retry_backoff_max_ms = 20;
    po.sync = false;
    svc = std::move(ProcessService::open(po)).value();
    FunctionConfig c;
    c.name = "langs";
    c.kind = FunctionConfig::Kind::kWindowCount;
    c.counts = {{"lang", "lang"}};
    c.sink.kind = SinkConfig::Kind::kTable;
    c.sink.name = "counts";
    c.sink.create_key = table::KeySchema{{"key", table::Type::kS},
                                         table::KeyAttr{"window_start", table::Type::kN}};
    EXPECT_TRUE(svc->set_functions({c}).ok());
    svc->start();
  }
  ~Node() {
    svc.reset();
    tables.reset();
    engine.reset();
  }
};

// The child: round 1 creates the stream and the mapping; every round produces records
// (reporting each acknowledged put on fd) until it is killed.
TEST(ProcessCrashTest, Child) {
  const char* dir = std::getenv("FRESHET_CRASH_DIR");
  const char* fd_text = std::getenv("FRESHET_CRASH_FD");
  const char* round_text = std::getenv("FRESHET_CRASH_ROUND");
  if (dir == nullptr || fd_text == nullptr || round_text == nullptr) {
    GTEST_SKIP() << "run by ProcessCrashTest.KillNineCountsEveryRecordOnceInItsWindow";
  }
  const int fd = std::atoi(fd_text);
  const int round = std::atoi(round_text);
  Node n(dir);
  if (round == 1) {
    ASSERT_TRUE(n.engine->create_stream("us-east-1", "in", kShards, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
    Mapping m;
    m.function_name = "langs";
    m.event_source_arn = stream::format_stream_arn("us-east-1", n.engine->account_id(), "in");
    m.starting_position = StartingPosition::kTrimHorizon;
    m.tumbling_window_s = kWindowS;
    m.batch_size = 7;  // many checkpoints per window
    ASSERT_TRUE(n.svc->create_mapping(m).ok());
  }
  const char* langs[] = {"en", "fr", "ja", "es", "de"};
  for (int i = 0;; ++i) {
    std::vector<std::string> datas;
    std::vector<stream::PutEntry> e;
    for (int k = 0; k < 20; ++k) {
      datas.push_back(std::string("{\"lang\":\"") + langs[(i * 20 + k) % 5] + "\",\"r\":" +
                      std::to_string(round) + ",\"i\":" + std::to_string(i * 20 + k) + "}");
    }
    std::vector<std::string> keys;
    for (int k = 0; k < 20; ++k) keys.push_back("pk" + std::to_string(i * 20 + k));
    for (int k = 0; k < 20; ++k) e.push_back({datas[k], keys[k], ""});
    auto r = n.engine->put_records("us-east-1", "in", e);
    ASSERT_TRUE(r.ok());
    std::string line = "put " + std::to_string(e.size()) + "\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Runs the Child test in a new process and kills it with SIGKILL once it has put `records`
// records and a random extra delay has passed.
void run_and_kill(const std::string& dir, int round, int records, std::mt19937& rng) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("FRESHET_CRASH_DIR=" + dir);
  env_strings.push_back("FRESHET_CRASH_FD=" + std::to_string(fds[1]));
  env_strings.push_back("FRESHET_CRASH_ROUND=" + std::to_string(round));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=ProcessCrashTest.Child";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  ::close(fds[1]);
  int seen = 0;
  std::string text;
  char buf[4096];
  while (seen < records) {
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got <= 0) break;
    text.append(buf, static_cast<size_t>(got));
    size_t nl;
    while ((nl = text.find('\n')) != std::string::npos) {
      seen += std::atoi(text.c_str() + 4);
      text.erase(0, nl + 1);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own (status " << status << ") after " << seen << " records";
}

TEST(ProcessCrashTest, KillNineCountsEveryRecordOnceInItsWindow) {
  testing::TempDir dir;
  std::mt19937 rng(std::random_device{}());
  run_and_kill(dir.path(), 1, 800, rng);
  run_and_kill(dir.path(), 2, 800, rng);

  Node n(dir.path());
  // What the windows must hold: every record in the stream, by its arrival time.
  std::map<std::pair<std::string, int64_t>, int64_t> expected;
  int64_t records = 0;
  auto info = n.engine->describe_stream("us-east-1", "in");
  ASSERT_TRUE(info.ok());
  for (const auto& s : info->shards) {
    auto it = n.engine->get_shard_iterator("us-east-1", "in", s.shard_id,
                                           stream::IteratorType::kTrimHorizon, "", 0);
    ASSERT_TRUE(it.ok());
    std::string iter = *it;
    while (true) {
      auto r = n.engine->get_records(iter, 10000, false);
      ASSERT_TRUE(r.ok());
      for (const auto& rec : r->records) {
        const std::string data(rec.data);
        const size_t at = data.find("\"lang\":\"") + 8;
        const std::string lang = data.substr(at, data.find('"', at) - at);
        ++expected[{"lang#" + lang, rec.arrival_ms / 1000 / kWindowS * kWindowS}];
        ++records;
      }
      if (r->records.empty() || !r->next_iterator) break;
      iter = *r->next_iterator;
    }
  }
  ASSERT_GE(records, 1600);
  std::map<std::pair<std::string, int64_t>, int64_t> got;
  int64_t total = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    table::ScanSpec s;
    s.table = "counts";
    s.max_page_bytes = 64 << 20;
    auto p = n.tables->scan(s);
    got.clear();
    total = 0;
    if (p.ok()) {
      for (const auto& item : p->items) {
        const int64_t c = std::stoll(item.at("count").str());
        got[{item.at("key").str(), std::stoll(item.at("window_start").str())}] = c;
        total += c;
      }
    }
    if (got == expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(total, records);
  EXPECT_EQ(got, expected) << got.size() << " window items, " << expected.size() << " expected";
}

}  // namespace
}  // namespace freshet::process

// Leases: two workers (ProcessService instances with their own worker ids and catalogs,
// sharing the stream engine and the table store, as processes sharing them would) divide the
// shards of one mapping, rebalance when the second joins, and the survivor takes over the
// shards of a worker that stops (and gives its leases back).
// Records are produced throughout; every one ends up in the table (at-least-once, puts by
// key), and each shard is run by one worker at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"
#include "process/process_fixture.h"

namespace freshet::process {
namespace {

constexpr const char* kRegion = "us-east-1";
constexpr const char* kUuid = "6f1c2d3e-0000-4000-8000-00000000beef";
constexpr int kLeaseMs = 5000;

using testing_support::wait_for;

// Writes {id: <data>} per record and notes which worker ran which shard.
class NotingFunction : public Function {
 public:
  NotingFunction(std::string worker, std::mutex& mu, std::map<std::string, std::set<std::string>>& ran)
      : worker_(std::move(worker)), mu_(mu), ran_(ran) {}
  InvokeResult invoke(const Batch& b) override {
    {
      std::lock_guard lock(mu_);
      ran_[worker_].insert(b.shard_id);
    }
    InvokeResult r;
    for (uint32_t i = 0; i < b.records.size(); ++i) {
      Output o;
      o.record = i;
      o.item.emplace("id", table::Value::s(std::string(b.records[i].data)));
      r.outputs.push_back(std::move(o));
    }
    return r;
  }

 private:
  std::string worker_;
  std::mutex& mu_;
  std::map<std::string, std::set<std::string>>& ran_;
};

class LeaseTest : public testing_support::ProcessFixture {
 protected:
  void SetUp() override {
    ProcessFixture::SetUp();
    ASSERT_TRUE(engine_->create_stream(kRegion, "in", 4, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
  }
  void TearDown() override {
    stop_producer();
    workers_.clear();
    ProcessFixture::TearDown();
  }

  ProcessService& start_worker(const std::string& id) {
    ProcessOptions po = options(dir_.path() + "/" + id);
    po.poll_interval_ms = 10;
    po.discovery_interval_ms = 50;
    po.retry_backoff_max_ms = 20;
    po.worker_id = id;
    po.lease_ms = kLeaseMs;
    auto svc = std::move(ProcessService::open(po)).value();
    svc->register_compiled("note", [this, id](const FunctionConfig&) {
      return std::make_unique<NotingFunction>(id, mu_, ran_);
    });
    FunctionConfig c;
    c.name = "note";
    c.kind = FunctionConfig::Kind::kCompiled;
    c.compiled = "note";
    c.sink.kind = SinkConfig::Kind::kTable;
    c.sink.name = "out";
    c.sink.create_key = table::KeySchema{{"id", table::Type::kS}, std::nullopt};
    EXPECT_TRUE(svc->set_functions({c}).ok());
    Mapping m;
    m.uuid = kUuid;  // the same mapping in every worker
    m.function_name = "note";
    m.event_source_arn = stream::format_stream_arn(kRegion, engine_->account_id(), "in");
    m.starting_position = StartingPosition::kTrimHorizon;
    m.batch_size = 20;
    auto created = svc->create_mapping(m);
    EXPECT_TRUE(created.ok()) << created.error().to_string();
    svc->start();
    workers_[id] = std::move(svc);
    return *workers_[id];
  }

  // Live lease owners: worker -> shards.
  std::map<std::string, std::set<std::string>> owners() {
    std::map<std::string, std::set<std::string>> out;
    table::ScanSpec s;
    s.table = kCheckpointTable;
    auto p = tables_->scan(s);
    if (!p.ok()) return out;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& item : p->items) {
      auto o = item.find("lease_owner");
      auto e = item.find("lease_expires_ms");
      if (o == item.end() || e == item.end() || std::stoll(e->second.str()) < now) continue;
      out[o->second.str()].insert(item.at("shard").str());
    }
    return out;
  }

  void start_producer() {
    producer_ = std::thread([this] {
      for (int i = 0; !stop_.load(); ++i) {
        std::vector<std::string> datas;
        std::vector<stream::PutEntry> e;
        for (int k = 0; k < 10; ++k) datas.push_back("r" + std::to_string(i * 10 + k));
        for (const auto& d : datas) e.push_back({d, d, ""});
        auto r = engine_->put_records(kRegion, "in", e);
        if (r.ok()) {
          for (const auto& o : *r) {
            if (o.error_code.empty()) produced_.fetch_add(1);
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  void stop_producer() {
    stop_.store(true);
    if (producer_.joinable()) producer_.join();
  }
  int64_t items() {
    table::ScanSpec s;
    s.table = "out";
    s.max_page_bytes = 64 << 20;
    auto p = tables_->scan(s);
    return p.ok() ? static_cast<int64_t>(p->items.size()) : -1;
  }

  std::map<std::string, std::unique_ptr<ProcessService>> workers_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> ran_;  // GUARDED_BY(mu_)
  std::thread producer_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> produced_{0};
};

TEST_F(LeaseTest, TwoWorkersShareRebalanceAndTakeOverAfterExpiry) {
  start_producer();
  start_worker("a");
  ASSERT_TRUE(wait_for([&] { return owners()["a"].size() == 4; })) << owners().size();

  // b joins: it takes shards from a until each holds two.
  start_worker("b");
  ASSERT_TRUE(wait_for([&] {
    auto o = owners();
    return o["a"].size() == 2 && o["b"].size() == 2;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a's stolen runners stop
  {
    std::lock_guard lock(mu_);
    ran_.clear();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  {
    // Balanced: each ran only its own shards, and between them all four.
    auto o = owners();
    std::lock_guard lock(mu_);
    ASSERT_EQ(ran_["a"].size(), 2u);
    ASSERT_EQ(ran_["b"].size(), 2u);
    for (const auto& s : ran_["a"]) EXPECT_FALSE(ran_["b"].contains(s)) << s;
  }

  // a stops cleanly and gives its leases back: b takes them at its next rounds, long before
  // they would expire (lease_ms). (A worker that dies, kill -9, and the takeover after expiry:
  // tests/compat/test_lambda_workers.py, with real processes.)
  workers_.erase("a");
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return owners()["b"].size() == 4; }));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, std::chrono::milliseconds(kLeaseMs - 1000))
      << "the leases were not given back";
  stop_producer();
  // Every record is in the table, once per key.
  ASSERT_TRUE(wait_for([&] { return items() == produced_.load(); }))
      << items() << " items, " << produced_.load() << " records";
  std::lock_guard lock(mu_);
  EXPECT_EQ(ran_["b"].size(), 4u);
}

}  // namespace
}  // namespace freshet::process

// IteratorAge (AWS/Lambda) of a mapping: the largest of its shards' ages, not the last one
// reported, and 0 once every shard has been caught up and idle for a while. Arrival times come
// from the engine's clock, set back so that records look seconds old.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "freshet/common/clock.h"
#include "freshet/metrics/registry.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"
#include "testing/temp_dir.h"

namespace freshet::process {
namespace {

class OffsetClock final : public Clock {
 public:
  int64_t now_ms() const override { return SystemClock().now_ms() + offset.load(); }
  std::atomic<int64_t> offset{0};
};

class NoOp : public Function {
 public:
  InvokeResult invoke(const Batch&) override { return {}; }
};

bool wait_for(const std::function<bool()>& pred, int ms = 10000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(IteratorAge, MappingShowsItsOldestShardAndZeroWhenCaughtUp) {
  testing::TempDir dir;
  OffsetClock clock;
  stream::EngineOptions eo;
  eo.data_dir = dir.path() + "/streams";
  eo.durability = log::Durability::kOs;
  eo.clock = &clock;
  auto engine = std::move(stream::Engine::open(eo)).value();
  table::StoreOptions to;
  to.dir = dir.path() + "/tables";
  to.sync = false;
  auto tables = std::move(table::TableStore::open(to)).value();
  metrics::Registry registry;
  ProcessOptions po;
  po.data_dir = dir.path();
  po.engine = engine.get();
  po.tables = tables.get();
  po.metrics = &registry;
  po.poll_interval_ms = 10;
  po.discovery_interval_ms = 50;
  auto svc = std::move(ProcessService::open(po)).value();
  svc->register_compiled("noop", [](const FunctionConfig&) { return std::make_unique<NoOp>(); });
  FunctionConfig c;
  c.name = "noop";
  c.kind = FunctionConfig::Kind::kCompiled;
  c.compiled = "noop";
  ASSERT_TRUE(svc->set_functions({c}).ok());
  svc->start();
  ASSERT_TRUE(engine->create_stream("us-east-1", "in", 2, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
  Mapping m;
  m.function_name = "noop";
  m.event_source_arn = stream::format_stream_arn("us-east-1", engine->account_id(), "in");
  m.starting_position = StartingPosition::kTrimHorizon;
  auto created = svc->create_mapping(m);
  ASSERT_TRUE(created.ok());
  const std::string name = metrics::cloudwatch_metric_name("lambda", "IteratorAge");
  metrics::Gauge* mapping_age = registry.gauge(name, {{"EventSourceMappingUUID", created->uuid}});
  metrics::Gauge* shard1_age = registry.gauge(
      name, {{"EventSourceMappingUUID", created->uuid}, {"ShardId", "shardId-000000000001"}});
  auto put = [&](const char* hash_key, int64_t age_ms) {
    clock.offset.store(-age_ms);
    std::vector<stream::PutEntry> e;
    for (int i = 0; i < 5; ++i) e.push_back({"x", "pk", hash_key});
    auto r = engine->put_records("us-east-1", "in", e);
    ASSERT_TRUE(r.ok());
    clock.offset.store(0);
  };
  put("0", 8000);  // shard 0: records 8 s old
  ASSERT_TRUE(wait_for([&] { return mapping_age->value() >= 8000; })) << mapping_age->value();
  // Shard 1 reports a younger age after shard 0: the mapping still shows shard 0's.
  put("340282366920938463463374607431768211455", 3000);
  ASSERT_TRUE(wait_for([&] { return shard1_age->value() >= 3000; })) << shard1_age->value();
  EXPECT_GE(mapping_age->value(), 8000);
  EXPECT_LT(shard1_age->value(), 8000);
  // Caught up with nothing new: 0.
  EXPECT_TRUE(wait_for([&] { return mapping_age->value() == 0; })) << mapping_age->value();
  svc.reset();
}

}  // namespace
}  // namespace freshet::process

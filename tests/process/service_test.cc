// Event source mappings end to end in-process: stream::Engine -> ProcessService -> TableStore,
// with poison records, bisection, ReportBatchItemFailures, restarts, reshards and windows.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "freshet/common/base64.h"
#include "freshet/common/clock.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"
#include "process/process_fixture.h"

namespace freshet::process {
namespace {

using testing_support::wait_for;

// A compiled function: outputs {id: <data>} per record; fails as configured.
class ScriptedFunction : public Function {
 public:
  using Rule = std::function<void(const Batch&, InvokeResult&)>;
  explicit ScriptedFunction(Rule rule) : rule_(std::move(rule)) {}
  InvokeResult invoke(const Batch& b) override {
    InvokeResult r;
    rule_(b, r);
    if (!r.function_error.empty()) return r;
    for (uint32_t i = 0; i < b.records.size(); ++i) {
      bool failed = false;
      for (const auto& f : r.failures) failed |= f.record == i;
      if (failed) continue;
      Output o;
      o.record = i;
      o.item.emplace("id", table::Value::s(std::string(b.records[i].data)));
      o.item.emplace("shard", table::Value::s(b.shard_id));
      r.outputs.push_back(std::move(o));
    }
    return r;
  }

 private:
  Rule rule_;
};

class ProcessServiceTest : public testing_support::ProcessFixture {
 protected:
  void SetUp() override {
    ProcessFixture::SetUp();
    open_service();
  }
  void TearDown() override {
    svc_.reset();
    ProcessFixture::TearDown();
  }

  void open_service() {
    ProcessOptions po = options(dir_.path());
    po.poll_interval_ms = 20;
    po.discovery_interval_ms = 100;
    po.retry_backoff_max_ms = 20;
    svc_ = std::move(ProcessService::open(po)).value();
    svc_->register_compiled("scripted", [this](const FunctionConfig&) {
      return std::make_unique<ScriptedFunction>(
          [this](const Batch& b, InvokeResult& r) { rule_(b, r); });
    });
    if (!functions_.empty()) {
      ASSERT_TRUE(svc_->set_functions(functions_).ok());
    }
    svc_->start();
  }

  void declare(FunctionConfig c) {
    functions_.push_back(c);
    ASSERT_TRUE(svc_->set_functions(functions_).ok());
  }

  FunctionConfig extract_fn() {
    FunctionConfig c;
    c.name = "extract";
    c.kind = FunctionConfig::Kind::kExtract;
    c.extract = {{"id", "id", ExtractField::Type::kS, true, std::nullopt},
                 {"n", "n", ExtractField::Type::kN, false, std::nullopt}};
    c.sink.kind = SinkConfig::Kind::kTable;
    c.sink.name = "out";
    c.sink.create_key = table::KeySchema{{"id", table::Type::kS}, std::nullopt};
    return c;
  }
  FunctionConfig scripted_fn() {
    FunctionConfig c;
    c.name = "scripted";
    c.kind = FunctionConfig::Kind::kCompiled;
    c.compiled = "scripted";
    c.sink.kind = SinkConfig::Kind::kTable;
    c.sink.name = "out";
    c.sink.create_key = table::KeySchema{{"id", table::Type::kS}, std::nullopt};
    return c;
  }

  // window_count of each record's lang into the table "counts" (key, window_start).
  FunctionConfig lang_counts_fn() {
    FunctionConfig c;
    c.name = "tags";
    c.kind = FunctionConfig::Kind::kWindowCount;
    c.counts = {{"lang", "lang"}};
    c.sink.kind = SinkConfig::Kind::kTable;
    c.sink.name = "counts";
    c.sink.create_key = table::KeySchema{{"key", table::Type::kS}, table::KeyAttr{"window_start", table::Type::kN}};
    return c;
  }
  // The sum of the `count` attributes of a window_count table (0 while it does not exist).
  int64_t counted(const std::string& table) {
    table::ScanSpec s;
    s.table = table;
    auto p = tables_->scan(s);
    int64_t n = 0;
    if (p.ok()) {
      for (const auto& it : p->items) n += std::stoll(it.at("count").str());
    }
    return n;
  }

  std::string arn(const std::string& stream) {
    return stream::format_stream_arn("us-east-1", engine_->account_id(), stream);
  }
  void create_stream(const std::string& name, uint32_t shards) {
    ASSERT_TRUE(engine_->create_stream("us-east-1", name, shards, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
  }
  void put(const std::string& stream, const std::vector<std::string>& datas) {
    std::vector<stream::PutEntry> e;
    std::vector<std::string> keys;
    for (size_t i = 0; i < datas.size(); ++i) keys.push_back("k" + std::to_string(i));
    for (size_t i = 0; i < datas.size(); ++i) e.push_back({datas[i], keys[i], ""});
    auto r = engine_->put_records("us-east-1", stream, e);
    ASSERT_TRUE(r.ok());
    for (const auto& o : *r) ASSERT_TRUE(o.error_code.empty());
  }
  std::vector<std::string> read_all(const std::string& stream) {
    std::vector<std::string> out;
    auto info = engine_->describe_stream("us-east-1", stream);
    for (const auto& s : info->shards) {
      auto it = engine_->get_shard_iterator("us-east-1", stream, s.shard_id,
                                            stream::IteratorType::kTrimHorizon, "", 0);
      auto r = engine_->get_records(*it, 10000, false);
      for (const auto& rec : r->records) out.emplace_back(rec.data);
    }
    return out;
  }
  int64_t items(const std::string& table) {
    table::ScanSpec s;
    s.table = table;
    s.max_page_bytes = 64 << 20;
    auto p = tables_->scan(s);
    return p.ok() ? static_cast<int64_t>(p->items.size()) : -1;
  }
  Mapping mapping(const std::string& fn, const std::string& stream) {
    Mapping m;
    m.function_name = fn;
    m.event_source_arn = arn(stream);
    m.starting_position = StartingPosition::kTrimHorizon;
    return m;
  }

  std::unique_ptr<ProcessService> svc_;
  // A test's own engine clock: kept until TearDown has stopped the service and the engine,
  // whose threads read it (a clock on the test's stack was gone before they stopped).
  std::unique_ptr<ManualClock> manual_clock_;
  std::vector<FunctionConfig> functions_;
  std::function<void(const Batch&, InvokeResult&)> rule_ = [](const Batch&, InvokeResult&) {};
};

TEST_F(ProcessServiceTest, PoisonRecordsGoToTheFailureStreamAndTheRestToTheTable) {
  create_stream("in", 2);
  create_stream("dlq", 1);
  declare(extract_fn());
  std::vector<std::string> datas;
  for (int i = 0; i < 200; ++i) {
    if (i % 20 == 7) {
      datas.push_back(i % 40 == 7 ? "{not json" : "{\"n\":" + std::to_string(i) + "}");
    } else {
      datas.push_back("{\"id\":\"r" + std::to_string(i) + "\",\"n\":" + std::to_string(i) + "}");
    }
  }
  put("in", datas);
  Mapping m = mapping("extract", "in");
  m.batch_size = 50;
  m.on_failure_destination = arn("dlq");
  auto created = svc_->create_mapping(m);
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  EXPECT_EQ(created->state, "Creating");
  ASSERT_TRUE(wait_for([&] { return items("out") == 190 && read_all("dlq").size() == 10; }))
      << items("out") << " items, " << read_all("dlq").size() << " failures";
  int not_json = 0, missing = 0;
  simdjson::dom::parser parser;
  for (const std::string& doc : read_all("dlq")) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(doc).get(e), simdjson::SUCCESS) << doc;
    EXPECT_EQ(std::string_view(e["requestContext"]["condition"].get_string().value()), "RecordRejected");
    EXPECT_EQ(e["KinesisBatchInfo"]["batchSize"].get_int64().value(), 1);
    EXPECT_EQ(std::string_view(e["KinesisBatchInfo"]["streamArn"].get_string().value()), arn("in"));
    const std::string reason(e["errorMessage"].get_string().value());
    not_json += reason.find("not valid JSON") != std::string::npos;
    missing += reason.find("missing required field 'id'") != std::string::npos;
    auto data = base64_decode(e["records"].at(0)["data"].get_string().value());
    ASSERT_TRUE(data.ok());
    EXPECT_TRUE(data->starts_with("{n") || data->starts_with("{\"n\"")) << *data;
  }
  EXPECT_EQ(not_json, 5);
  EXPECT_EQ(missing, 5);
  EXPECT_TRUE(wait_for([&] { return svc_->get_mapping(created->uuid)->state == "Enabled"; }));
}

TEST_F(ProcessServiceTest, PutsOfOneKeyInABatchLeaveTheLastAndOversizedItemsFail) {
  // One batch with a key put twice (the table keeps the later put), an item over DynamoDB's
  // 400 KB (a failure of its record), into a hash-key table and a hash+range-key table.
  create_stream("in", 1);
  create_stream("dlq", 1);
  FunctionConfig hash = extract_fn();
  hash.extract.push_back({"pad", "pad", ExtractField::Type::kS, false, std::nullopt});
  declare(hash);
  FunctionConfig ranged = hash;
  ranged.name = "ranged";
  ranged.sink.name = "ranged";
  ranged.sink.create_key = table::KeySchema{{"id", table::Type::kS}, table::KeyAttr{"n", table::Type::kN}};
  declare(ranged);
  put("in", {"{\"id\":\"a\",\"n\":1,\"pad\":\"first\"}", "{\"id\":\"b\",\"n\":2}",
             "{\"id\":\"a\",\"n\":1,\"pad\":\"second\"}", "{\"id\":\"a\",\"n\":3}",
             "{\"id\":\"big\",\"n\":4,\"pad\":\"" + std::string(410 * 1024, 'x') + "\"}",
             "{\"id\":\"b\",\"n\":2,\"pad\":\"last\"}"});
  for (const char* fn : {"extract", "ranged"}) {
    Mapping m = mapping(fn, "in");
    m.batch_size = 100;
    m.on_failure_destination = arn("dlq");
    ASSERT_TRUE(svc_->create_mapping(m).ok());
  }
  ASSERT_TRUE(wait_for([&] {
    return items("out") == 2 && items("ranged") == 3 && read_all("dlq").size() == 2;
  })) << items("out") << " " << items("ranged") << " " << read_all("dlq").size();
  auto get = [&](const std::string& table, table::Item key) {
    auto r = tables_->get_item(table, key);
    EXPECT_TRUE(r.ok() && r->has_value()) << table << " " << table::to_debug_string(key);
    return r.ok() && r->has_value() ? **r : table::Item{};
  };
  // Hash key: a's last put ({n:3}, no pad) and b's last put.
  table::Item a = get("out", {{"id", table::Value::s("a")}});
  EXPECT_EQ(a.at("n").str(), "3");
  EXPECT_FALSE(a.contains("pad"));
  EXPECT_EQ(get("out", {{"id", table::Value::s("b")}}).at("pad").str(), "last");
  // Hash and range key: (a, 1) put twice, the second wins; (a, 3) and (b, 2).
  EXPECT_EQ(get("ranged", {{"id", table::Value::s("a")}, {"n", table::Value::n("1")}}).at("pad").str(),
            "second");
  EXPECT_EQ(get("ranged", {{"id", table::Value::s("b")}, {"n", table::Value::n("2")}}).at("pad").str(),
            "last");
  get("ranged", {{"id", table::Value::s("a")}, {"n", table::Value::n("3")}});
  // The oversized item: its record at the failure destination with the table's reason.
  for (const std::string& doc : read_all("dlq")) {
    EXPECT_NE(doc.find("Item size has exceeded the maximum allowed size"), std::string::npos)
        << doc.substr(0, 300);
  }
}

TEST_F(ProcessServiceTest, BisectIsolatesTheBadRecordAndTheShardMovesOn) {
  create_stream("in", 1);
  create_stream("dlq", 1);
  declare(scripted_fn());
  std::atomic<int> calls{0};
  rule_ = [&](const Batch& b, InvokeResult& r) {
    ++calls;
    for (const auto& rec : b.records) {
      if (rec.data == "r13") {
        r.function_error = "Unhandled";
        r.error_message = "boom on r13";
      }
    }
  };
  std::vector<std::string> datas;
  for (int i = 0; i < 32; ++i) datas.push_back("r" + std::to_string(i));
  put("in", datas);
  Mapping m = mapping("scripted", "in");
  m.batch_size = 16;
  m.bisect_batch_on_function_error = true;
  m.maximum_retry_attempts = 2;
  m.on_failure_destination = arn("dlq");
  ASSERT_TRUE(svc_->create_mapping(m).ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 31 && read_all("dlq").size() == 1; }));
  const std::string doc = read_all("dlq")[0];
  EXPECT_NE(doc.find("\"condition\":\"RetryAttemptsExhausted\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"batchSize\":1"), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"errorMessage\":\"boom on r13\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"data\":\"" + base64_encode("r13") + "\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"functionError\":\"Unhandled\""), std::string::npos) << doc;
  // Put more: the shard is not stalled.
  put("in", {"r100", "r101"});
  EXPECT_TRUE(wait_for([&] { return items("out") == 33; }));
}

TEST_F(ProcessServiceTest, ReportBatchItemFailuresRetriesFromTheFirstFailedItem) {
  create_stream("in", 1);
  declare(scripted_fn());
  std::mutex mu;
  std::map<std::string, int> seen;
  rule_ = [&](const Batch& b, InvokeResult& r) {
    std::lock_guard lock(mu);
    for (uint32_t i = 0; i < b.records.size(); ++i) {
      const std::string d(b.records[i].data);
      if (++seen[d] == 1 && (d == "r5" || d == "r7")) r.failures.push_back({i, "flaky", false});
    }
  };
  std::vector<std::string> datas;
  for (int i = 0; i < 10; ++i) datas.push_back("r" + std::to_string(i));
  put("in", datas);
  Mapping m = mapping("scripted", "in");
  m.batch_size = 10;
  m.report_batch_item_failures = true;
  ASSERT_TRUE(svc_->create_mapping(m).ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 10; }));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen["r0"], 1);  // before the first failure: checkpointed, not retried
  EXPECT_EQ(seen["r4"], 1);
  EXPECT_EQ(seen["r5"], 2);  // retried from the first failed item
  EXPECT_EQ(seen["r6"], 2);
}

TEST_F(ProcessServiceTest, ResumesAfterItsCheckpointAcrossARestart) {
  create_stream("in", 2);
  declare(scripted_fn());
  std::atomic<int> records{0};
  rule_ = [&](const Batch& b, InvokeResult&) { records += static_cast<int>(b.records.size()); };
  std::vector<std::string> datas;
  for (int i = 0; i < 100; ++i) datas.push_back("a" + std::to_string(i));
  put("in", datas);
  auto created = svc_->create_mapping(mapping("scripted", "in"));
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 100; }));
  // Wait for both checkpoints (the last write of each batch) before stopping.
  ASSERT_TRUE(wait_for([&] {
    auto p = svc_->progress(created->uuid);
    return p.size() == 2 && !p[0].checkpoint.empty() && !p[1].checkpoint.empty() &&
           p[0].records + p[1].records == 100;
  }));
  svc_.reset();
  datas.clear();
  for (int i = 0; i < 50; ++i) datas.push_back("b" + std::to_string(i));
  put("in", datas);
  open_service();
  auto again = svc_->get_mapping(created->uuid);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->batch_size, 100);
  ASSERT_TRUE(wait_for([&] { return items("out") == 150; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(records.load(), 150);  // nothing replayed after a clean stop
}

TEST_F(ProcessServiceTest, LatestKeepsItsStartAcrossARestartBeforeTheFirstCheckpoint) {
  // A LATEST mapping's runner writes where it started before it reads; a runner that starts
  // the shard again with no checkpoint (here a restart; with leases, another worker) reads
  // from there, not from its own LATEST, which would skip what arrived in between.
  create_stream("in", 1);
  declare(scripted_fn());
  std::mutex mu;
  std::vector<std::string> seen;  // GUARDED_BY(mu)
  rule_ = [&](const Batch& b, InvokeResult&) {
    std::lock_guard l(mu);
    for (const auto& r : b.records) seen.emplace_back(r.data);
  };
  put("in", {"old0", "old1", "old2"});
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // LATEST's ms is after them
  Mapping m = mapping("scripted", "in");
  m.starting_position = StartingPosition::kLatest;
  auto created = svc_->create_mapping(m);
  ASSERT_TRUE(created.ok());
  auto shard = engine_->describe_stream("us-east-1", "in")->shards.at(0).shard_id;
  table::Item key{{"shard", table::Value::s(created->uuid + "/" + shard)}};
  auto started = [&] {
    auto c = tables_->get_item(kCheckpointTable, key);
    return c.ok() && c->has_value() && (*c)->contains("start_ms") && !(*c)->contains("sequence");
  };
  const bool start_written = wait_for(started, 3000);  // else the runner has its LATEST by now
  svc_.reset();  // stopped before it read anything: no sequence in the checkpoint
  std::vector<std::string> datas;
  for (int i = 0; i < 20; ++i) datas.push_back("new" + std::to_string(i));
  put("in", datas);  // while no runner runs
  open_service();
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard l(mu);
    return seen.size() >= 20;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard l(mu);
  std::sort(seen.begin(), seen.end());
  std::sort(datas.begin(), datas.end());
  EXPECT_EQ(seen, datas);  // every record after the start, none from before it
  EXPECT_TRUE(start_written);
}

TEST_F(ProcessServiceTest, ParentsAreFinishedBeforeChildrenStart) {
  create_stream("in", 1);
  declare(scripted_fn());
  std::mutex mu;
  std::vector<std::string> order;  // shard of each record, in processing order
  rule_ = [&](const Batch& b, InvokeResult&) {
    std::lock_guard lock(mu);
    for (size_t i = 0; i < b.records.size(); ++i) order.push_back(b.shard_id);
  };
  std::vector<std::string> datas;
  for (int i = 0; i < 50; ++i) datas.push_back("p" + std::to_string(i));
  put("in", datas);
  // Split before the mapping exists: children hold records the parent must precede.
  ASSERT_TRUE(engine_->split_shard("us-east-1", "in", "shardId-000000000000",
                                   stream::HashKey::from_parts(1ull << 63, 0)).ok());
  datas.clear();
  for (int i = 0; i < 50; ++i) datas.push_back("c" + std::to_string(i));
  put("in", datas);
  ASSERT_TRUE(svc_->create_mapping(mapping("scripted", "in")).ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 100; }));
  std::lock_guard lock(mu);
  ASSERT_EQ(order.size(), 100u);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(order[i], "shardId-000000000000") << i;
  for (size_t i = 50; i < 100; ++i) EXPECT_NE(order[i], "shardId-000000000000") << i;
}

TEST_F(ProcessServiceTest, FilterCriteriaDropRecordsBeforeTheFunction) {
  create_stream("in", 1);
  declare(extract_fn());
  put("in", {R"({"id":"a","n":1})", R"({"id":"b","n":5})", R"({"id":"c","n":9})"});
  Mapping m = mapping("extract", "in");
  m.filter_patterns = {R"({"data":{"n":[{"numeric":[">",2]}]}})"};
  auto c = svc_->create_mapping(m);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 2; }));
  table::Item key;
  key.emplace("id", table::Value::s("a"));
  EXPECT_FALSE(tables_->get_item("out", key)->has_value());
}

TEST_F(ProcessServiceTest, TumblingWindowCountsLandWhenTheWindowCloses) {
  create_stream("in", 1);
  declare(lang_counts_fn());
  put("in", {R"({"lang":"en"})", R"({"lang":"en"})", R"({"lang":"fr"})"});
  Mapping m = mapping("tags", "in");
  m.tumbling_window_s = 1;
  ASSERT_TRUE(svc_->create_mapping(m).ok());
  ASSERT_TRUE(wait_for([&] { return items("counts") >= 2; }, 10000));
  EXPECT_EQ(counted("counts"), 3);
}

// A record can arrive (its arrival timestamp) inside a window yet become readable only after
// the runner closed that window by time: its append was still being synced. The engine's clock
// is held inside a window 5 s ago while the runner, on the real clock, closes it; the record put
// afterwards is such a late one. It reopens the window with the state so far, so the shard's
// count in the item grows to 3 instead of being replaced by a count of 1.
TEST_F(ProcessServiceTest, ARecordReadableOnlyAfterItsWindowClosedIsStillCounted) {
  svc_.reset();
  engine_.reset();
  const int64_t real_now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const int64_t window = real_now / 1000 * 1000 - 5000;
  manual_clock_ = std::make_unique<ManualClock>(window + 100);
  ManualClock& clock = *manual_clock_;
  stream::EngineOptions eo;
  eo.data_dir = dir_.path() + "/streams";
  eo.durability = log::Durability::kOs;
  eo.clock = &clock;
  engine_ = std::move(stream::Engine::open(eo)).value();
  open_service();

  create_stream("in", 1);
  declare(lang_counts_fn());
  auto total = [&] { return counted("counts"); };
  put("in", {R"({"lang":"en"})", R"({"lang":"en"})"});
  Mapping m = mapping("tags", "in");
  m.tumbling_window_s = 1;
  ASSERT_TRUE(svc_->create_mapping(m).ok());
  ASSERT_TRUE(wait_for([&] { return total() == 2; }, 10000)) << total();  // closed by time
  clock.advance(100);  // still inside the window
  put("in", {R"({"lang":"en"})"});
  EXPECT_TRUE(wait_for([&] { return total() == 3; }, 10000)) << total();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(total(), 3);
  // One item: the window's, not a second one for the same window and value.
  table::ScanSpec s;
  s.table = "counts";
  auto p = tables_->scan(s);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->items.size(), 1u);
}

// Windows are per shard (as Lambda's are); the items of one window and value are shared by
// every shard of the stream, so each shard's count must add to the others', not replace them.
TEST_F(ProcessServiceTest, TumblingWindowCountsOfEveryShardAddUp) {
  create_stream("in", 4);
  declare(lang_counts_fn());
  std::vector<std::string> datas;
  for (int i = 0; i < 400; ++i) datas.push_back(i % 4 == 0 ? R"({"lang":"fr"})" : R"({"lang":"en"})");
  put("in", datas);
  Mapping m = mapping("tags", "in");
  m.tumbling_window_s = 1;
  m.batch_size = 7;
  ASSERT_TRUE(svc_->create_mapping(m).ok());
  auto total = [&] { return counted("counts"); };
  EXPECT_TRUE(wait_for([&] { return total() == 400; }, 10000)) << total();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(total(), 400);
}

TEST_F(ProcessServiceTest, ParallelizationFactorRunsLanesConcurrentlyAndKeepsOrderPerKey) {
  create_stream("in", 1);
  declare(scripted_fn());
  std::mutex mu;
  std::map<std::string, std::vector<int>> by_key;  // partition key -> record numbers, in order
  std::atomic<int> running{0}, most{0};
  rule_ = [&](const Batch& b, InvokeResult&) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    {
      std::lock_guard lock(mu);
      for (const auto& r : b.records) {
        const std::string d(r.data);
        by_key[std::string(r.partition_key)].push_back(std::stoi(d.substr(d.find('-') + 1)));
      }
    }
    --running;
  };
  // 8 keys, 25 records each, interleaved.
  std::vector<stream::PutEntry> e;
  std::vector<std::string> datas, keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("key" + std::to_string(i % 8));
    datas.push_back(keys.back() + "-" + std::to_string(i));
  }
  for (int i = 0; i < 200; ++i) e.push_back({datas[i], keys[i], ""});
  ASSERT_TRUE(engine_->put_records("us-east-1", "in", e).ok());
  Mapping m = mapping("scripted", "in");
  m.batch_size = 50;
  m.parallelization_factor = 4;
  auto c = svc_->create_mapping(m);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(wait_for([&] { return items("out") == 200; }));
  ASSERT_TRUE(wait_for([&] {
    auto p = svc_->progress(c->uuid);
    return p.size() == 1 && p[0].checkpoint.size() > 0 && p[0].records == 200;
  }));
  EXPECT_GT(most.load(), 1);  // lanes ran at the same time
  std::lock_guard lock(mu);
  ASSERT_EQ(by_key.size(), 8u);
  for (const auto& [k, v] : by_key) {
    EXPECT_EQ(v.size(), 25u) << k;
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << k;
  }
}

TEST_F(ProcessServiceTest, MappingCatalogRulesAndPersistence) {
  create_stream("in", 1);
  declare(extract_fn());
  Mapping m = mapping("extract", "in");
  auto a = svc_->create_mapping(m);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(svc_->create_mapping(m).code(), ErrorCode::kAlreadyExists);
  Mapping bad = mapping("nope", "in");
  EXPECT_EQ(svc_->create_mapping(bad).code(), ErrorCode::kNotFound);
  bad = mapping("extract", "missing");
  EXPECT_EQ(svc_->create_mapping(bad).code(), ErrorCode::kInvalidArgument);
  bad = mapping("extract", "in");
  bad.batch_size = 10001;
  EXPECT_EQ(svc_->create_mapping(bad).code(), ErrorCode::kInvalidArgument);
  bad.batch_size = 10;
  bad.maximum_record_age_s = 30;
  EXPECT_EQ(svc_->create_mapping(bad).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(svc_->get_mapping("nope").code(), ErrorCode::kNotFound);

  ASSERT_TRUE(wait_for([&] { return svc_->get_mapping(a->uuid)->state == "Enabled"; }));
  MappingUpdate u;
  u.enabled = false;
  u.batch_size = 7;
  auto upd = svc_->update_mapping(a->uuid, u);
  ASSERT_TRUE(upd.ok());
  EXPECT_EQ(upd->state, "Disabling");
  ASSERT_TRUE(wait_for([&] { return svc_->get_mapping(a->uuid)->state == "Disabled"; }));
  svc_.reset();
  open_service();
  auto back = svc_->get_mapping(a->uuid);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->batch_size, 7);
  EXPECT_FALSE(back->enabled);
  EXPECT_EQ(back->state, "Disabled");
  EXPECT_EQ(svc_->list_mappings("extract", "").size(), 1u);
  EXPECT_EQ(svc_->list_mappings("other", "").size(), 0u);
  auto d = svc_->delete_mapping(a->uuid);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, "Deleting");
  ASSERT_TRUE(wait_for([&] { return !svc_->get_mapping(a->uuid).ok(); }));
  svc_.reset();
  open_service();
  EXPECT_FALSE(svc_->get_mapping(a->uuid).ok());
}

// UpdateEventSourceMapping and CreateEventSourceMapping (the Lambda API) share apply_to.
TEST(MappingUpdate, ApplyToSetsEverySetFieldAndOnlyThose) {
  Mapping m;
  m.function_name = "f";
  const Mapping before = m;
  MappingUpdate none;
  none.apply_to(m);
  EXPECT_EQ(m.batch_size, before.batch_size);
  EXPECT_EQ(m.filter_patterns, before.filter_patterns);
  MappingUpdate u;
  u.function_name = "g";
  u.enabled = false;
  u.batch_size = 7;
  u.maximum_batching_window_s = 3;
  u.parallelization_factor = 4;
  u.maximum_retry_attempts = 2;
  u.maximum_record_age_s = 120;
  u.bisect_batch_on_function_error = true;
  u.report_batch_item_failures = true;
  u.on_failure_destination = "arn:aws:kinesis:us-east-1:000000000000:stream/dlq";
  u.tumbling_window_s = 30;
  u.filter_patterns = std::vector<std::string>{R"({"data":{"a":[1]}})"};
  u.apply_to(m);
  EXPECT_EQ(m.function_name, "f");  // resolved by the caller
  EXPECT_TRUE(m.enabled);           // a state transition: the caller's
  EXPECT_EQ(m.batch_size, 7);
  EXPECT_EQ(m.maximum_batching_window_s, 3);
  EXPECT_EQ(m.parallelization_factor, 4);
  EXPECT_EQ(m.maximum_retry_attempts, 2);
  EXPECT_EQ(m.maximum_record_age_s, 120);
  EXPECT_TRUE(m.bisect_batch_on_function_error);
  EXPECT_TRUE(m.report_batch_item_failures);
  EXPECT_EQ(m.on_failure_destination, *u.on_failure_destination);
  EXPECT_EQ(m.tumbling_window_s, 30);
  EXPECT_EQ(m.filter_patterns, *u.filter_patterns);
  MappingUpdate clear;
  clear.on_failure_destination = "";
  clear.apply_to(m);
  EXPECT_EQ(m.on_failure_destination, "");
  EXPECT_EQ(m.batch_size, 7);
}

}  // namespace
}  // namespace freshet::process

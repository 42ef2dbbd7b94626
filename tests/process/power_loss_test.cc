// Power loss in the middle of processing, on the fault-injecting file system
// (tests/testing/power_loss_fs.h) that holds the streams: the input, a sink stream and the
// OnFailure stream. Checkpoints live in the table store (RocksDB on the real disk, which keeps
// every write of this test: the model of a power loss in which the checkpoint survives, the
// case that could lose output). Two mappings read one input of 2 shards: `tag` writes
// "out:<record>" to the stream `out`, `extract` writes items to a table; malformed records go
// to the stream `dlq`. Each round the power goes at a random moment (nothing unsynced kept,
// or a random prefix or random pages of it), and then:
//   - every record at or before a shard's checkpoint has its output in `out` (or its failure
//     record in `dlq`): the checkpoint is never ahead of durable output;
// and once processing has finished after the last round:
//   - every record's output is in `out` at least once and nothing else is there; every valid
//     record is in the table exactly once (puts by key) and every malformed one in `dlq`.
// The control: with the streams acknowledging before fsync (durability os), the checkpoint
// check must fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "freshet/common/base64.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"
#include "freshet/table/store.h"
#include "testing/power_loss_fs.h"
#include "testing/temp_dir.h"

namespace freshet::process {
namespace {

using freshet::testing::PowerLossFileSystem;

constexpr const char* kRegion = "us-east-1";
constexpr int kRecords = 1500;

bool bad(std::string_view d) { return d.starts_with("bad"); }

// out:<data> per record; malformed records are permanent failures.
class TagFunction : public Function {
 public:
  InvokeResult invoke(const Batch& b) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // so the power goes mid-way
    InvokeResult r;
    for (uint32_t i = 0; i < b.records.size(); ++i) {
      if (bad(b.records[i].data)) {
        r.failures.push_back({i, "malformed", true});
        continue;
      }
      Output o;
      o.record = i;
      o.data = "out:" + std::string(b.records[i].data);
      r.outputs.push_back(std::move(o));
    }
    return r;
  }
};

bool seq_le(std::string_view a, std::string_view b) {  // decimal sequence numbers
  return a.size() != b.size() ? a.size() < b.size() : a <= b;
}

struct StreamRecord {
  std::string shard, seq, data;
};

std::vector<StreamRecord> read_stream(stream::Engine& e, const std::string& name) {
  std::vector<StreamRecord> out;
  auto info = e.describe_stream(kRegion, name);
  if (!info.ok()) return out;
  for (const auto& s : info->shards) {
    auto it = e.get_shard_iterator(kRegion, name, s.shard_id, stream::IteratorType::kTrimHorizon, "", 0);
    if (!it.ok()) continue;
    std::string iter = *it;
    while (true) {
      auto r = e.get_records(iter, 10000, false);
      if (!r.ok()) break;
      for (const auto& rec : r->records) {
        out.push_back({s.shard_id, std::string(rec.sequence_number()), std::string(rec.data)});
      }
      if (r->records.empty() || !r->next_iterator) break;
      iter = *r->next_iterator;
    }
  }
  return out;
}

// The records inside the failure records of `dlq`.
std::multiset<std::string> dead_letters(stream::Engine& e) {
  std::multiset<std::string> out;
  for (const auto& r : read_stream(e, "dlq")) {
    size_t pos = 0;
    while ((pos = r.data.find("\"data\":\"", pos)) != std::string::npos) {
      pos += 8;
      const size_t end = r.data.find('"', pos);
      auto d = base64_decode(r.data.substr(pos, end - pos));
      if (d.ok()) out.insert(*d);
      pos = end;
    }
  }
  return out;
}

class ProcessPowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = PowerLossFileSystem::make();
    table::StoreOptions to;
    to.dir = dir_.path() + "/tables";
    to.sync = false;  // never power-lossed here: it keeps every write
    tables_ = std::move(table::TableStore::open(to)).value();
    // The input, durable before processing starts.
    auto e = open_engine(log::Durability::kFsync);
    ASSERT_TRUE(e->create_stream(kRegion, "in", 2, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
    ASSERT_TRUE(e->create_stream(kRegion, "out", 1, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
    ASSERT_TRUE(e->create_stream(kRegion, "dlq", 1, stream::StreamMode::kProvisioned, {}, std::nullopt).ok());
    for (int i = 0; i < kRecords; i += 100) {
      std::vector<std::string> datas, keys;
      for (int k = i; k < i + 100; ++k) {
        datas.push_back(k % 37 == 5 ? "bad" + std::to_string(k)
                                    : "{\"id\":\"r" + std::to_string(k) + "\"}");
        keys.push_back("pk" + std::to_string(k));
      }
      std::vector<stream::PutEntry> entries;
      for (size_t k = 0; k < datas.size(); ++k) entries.push_back({datas[k], keys[k], ""});
      auto r = e->put_records(kRegion, "in", entries);
      ASSERT_TRUE(r.ok());
      for (const auto& o : *r) ASSERT_TRUE(o.error_code.empty());
    }
  }

  std::unique_ptr<stream::Engine> open_engine(log::Durability d) {
    stream::EngineOptions eo;
    eo.data_dir = "/data/streams";
    eo.fs = fs_;
    eo.durability = d;
    eo.segment_bytes = 64 * 1024;
    auto e = stream::Engine::open(eo);
    EXPECT_TRUE(e.ok()) << e.error().to_string();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  std::unique_ptr<ProcessService> open_service(stream::Engine& e) {
    ProcessOptions po;
    po.data_dir = "/data";
    po.fs = fs_;
    po.engine = &e;
    po.tables = tables_.get();
    po.poll_interval_ms = 5;
    po.discovery_interval_ms = 20;
    po.retry_backoff_max_ms = 20;
    auto svc = std::move(ProcessService::open(po)).value();
    svc->register_compiled("tag", [](const FunctionConfig&) { return std::make_unique<TagFunction>(); });
    FunctionConfig tag;
    tag.name = "tag";
    tag.kind = FunctionConfig::Kind::kCompiled;
    tag.compiled = "tag";
    tag.sink.kind = SinkConfig::Kind::kStream;
    tag.sink.name = "out";
    FunctionConfig ex;
    ex.name = "extract";
    ex.kind = FunctionConfig::Kind::kExtract;
    ex.extract = {{"id", "id", ExtractField::Type::kS, true, std::nullopt}};
    ex.sink.kind = SinkConfig::Kind::kTable;
    ex.sink.name = "items";
    ex.sink.create_key = table::KeySchema{{"id", table::Type::kS}, std::nullopt};
    EXPECT_TRUE(svc->set_functions({tag, ex}).ok());
    return svc;
  }

  void create_mappings(ProcessService& svc, stream::Engine& e) {
    for (const char* fn : {"tag", "extract"}) {
      Mapping m;
      m.function_name = fn;
      m.event_source_arn = stream::format_stream_arn(kRegion, e.account_id(), "in");
      m.starting_position = StartingPosition::kTrimHorizon;
      m.batch_size = 10;
      m.on_failure_destination = stream::format_stream_arn(kRegion, e.account_id(), "dlq");
      auto c = svc.create_mapping(m);
      ASSERT_TRUE(c.ok()) << c.error().to_string();
      uuids_[fn] = c->uuid;
    }
  }

  // The checkpoint rule, checked on what survived: a failure message per violation.
  std::vector<std::string> checkpoint_violations(stream::Engine& e) {
    std::vector<std::string> v;
    std::set<std::string> out;
    for (const auto& r : read_stream(e, "out")) out.insert(r.data);
    const std::multiset<std::string> dlq = dead_letters(e);
    const auto input = read_stream(e, "in");
    for (const auto& [fn, uuid] : uuids_) {
      for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
        table::Item key;
        key.emplace("shard", table::Value::s(uuid + "/" + shard));
        auto cp = tables_->get_item(kCheckpointTable, key);
        if (!cp.ok() || !cp->has_value() || !(*cp)->contains("sequence")) continue;
        const std::string seq = (*cp)->at("sequence").str();
        for (const auto& r : input) {
          if (r.shard != shard || !seq_le(r.seq, seq)) continue;
          ++checked_.back();
          if (bad(r.data)) {
            if (!dlq.contains(r.data)) v.push_back(fn + ": " + r.data + " not in dlq");
          } else if (fn == "tag" && !out.contains("out:" + r.data)) {
            v.push_back(fn + ": the output of " + r.data + " (" + shard + " " + r.seq +
                        ", checkpoint " + seq + ") is lost");
          }
        }
      }
    }
    return v;
  }

  // Rounds of: process, lose power at a random moment, check the checkpoints. Returns the
  // violations found.
  std::vector<std::string> rounds(int n, log::Durability d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> all;
    for (int k = 0; k < n; ++k) {
      {
        auto e = open_engine(d);
        if (!e) return {"open failed"};
        auto svc = open_service(*e);
        if (uuids_.empty()) create_mappings(*svc, *e);
        svc->start();
        // Let some batches through, then the power goes.
        const auto delay = std::chrono::milliseconds(rng() % 60);
        std::this_thread::sleep_for(delay);
        fs_->crash(static_cast<PowerLossFileSystem::Keep>(rng() % 3), rng());
        svc.reset();  // its writes now fail with EIO; the runners stop
      }
      fs_->restart();
      auto e = open_engine(d);
      if (!e) return {"reopen failed"};
      checked_.push_back(0);
      auto v = checkpoint_violations(*e);
      for (auto& s : v) all.push_back("round " + std::to_string(k) + ": " + s);
    }
    return all;
  }

  testing::TempDir dir_;
  std::shared_ptr<PowerLossFileSystem> fs_;
  std::unique_ptr<table::TableStore> tables_;
  std::map<std::string, std::string> uuids_;  // function -> mapping
  std::vector<size_t> checked_;  // per round: records at or before a checkpoint (2 mappings)
};

TEST_F(ProcessPowerLossTest, CheckpointsNeverRunAheadOfDurableOutput) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto v = rounds(6, log::Durability::kFsync, seed);
  EXPECT_TRUE(v.empty()) << v.size() << " violations, first: " << v.front();
  // The power went while processing was under way, not only before or after it.
  EXPECT_TRUE(std::any_of(checked_.begin(), checked_.end(),
                          [](size_t n) { return n > 0 && n < 2 * kRecords; }))
      << ::testing::PrintToString(checked_);
  std::cout << "records checked per round: " << ::testing::PrintToString(checked_) << "\n";

  // Then processing finishes: every record's output is there, nothing invented; the table
  // holds each valid record once.
  auto e = open_engine(log::Durability::kFsync);
  ASSERT_TRUE(e);
  auto svc = open_service(*e);
  svc->start();
  auto done = [&] {
    for (const auto& [fn, uuid] : uuids_) {
      auto p = svc->progress(uuid);
      if (p.size() != 2) return false;
      auto input = read_stream(*e, "in");
      std::map<std::string, std::string> last;
      for (const auto& r : input) last[r.shard] = r.seq;
      for (const auto& s : p) {
        if (s.checkpoint.empty() || !seq_le(last[s.shard_id], s.checkpoint)) return false;
      }
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(done());
  svc.reset();
  const auto input = read_stream(*e, "in");
  ASSERT_EQ(input.size(), static_cast<size_t>(kRecords));
  std::multiset<std::string> out;
  for (const auto& r : read_stream(*e, "out")) out.insert(r.data);
  const std::multiset<std::string> dlq = dead_letters(*e);
  std::set<std::string> expected_out;
  size_t valid = 0;
  for (const auto& r : input) {
    if (bad(r.data)) {
      EXPECT_GE(dlq.count(r.data), 2u) << r.data;  // one failure record per mapping (or more)
    } else {
      ++valid;
      expected_out.insert("out:" + r.data);
      EXPECT_GE(out.count("out:" + r.data), 1u) << r.data;
    }
  }
  for (const auto& o : out) EXPECT_TRUE(expected_out.contains(o)) << "invented: " << o;
  table::ScanSpec s;
  s.table = "items";
  s.max_page_bytes = 64 << 20;
  auto p = tables_->scan(s);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->items.size(), valid);
}

// The control: streams that acknowledge before fsync lose acknowledged output in a power
// loss, and the check above sees it.
TEST_F(ProcessPowerLossTest, TheCheckFailsWhenOutputIsAcknowledgedBeforeFsync) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::vector<std::string> v;
  for (int attempt = 0; attempt < 5 && v.empty(); ++attempt) {
    v = rounds(3, log::Durability::kOs, seed + static_cast<uint64_t>(attempt));
  }
  EXPECT_FALSE(v.empty()) << "a power loss with unsynced output went unnoticed";
}

}  // namespace
}  // namespace freshet::process

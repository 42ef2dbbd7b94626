// --durability os on a PowerLossFileSystem: acknowledged records may be lost to a power loss
// (that is what os promises), but a sequence number never goes backwards or names two records.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "../testing/power_loss_fs.h"
#include "freshet/stream/engine.h"

namespace freshet::stream {
namespace {

using testing::PowerLossFileSystem;

TEST(OsDurabilityTest, SequenceNumbersNeverRepeatOrGoBackwardsAcrossPowerLosses) {
  auto fs = PowerLossFileSystem::make();
  std::mt19937_64 rng(7);
  // sequence number -> data, for every acknowledged record of every round. All numbers of a
  // stream have 56 digits, so string order is numeric order.
  std::map<std::string, std::string> acked;
  std::map<std::string, std::string> last_of_shard;  // shard -> its largest acked number
  for (int round = 0; round < 25; ++round) {
    EngineOptions o;
    o.data_dir = "/data";
    o.fs = fs;
    o.durability = log::Durability::kOs;
    o.segment_bytes = 8 * 1024;
    auto opened = Engine::open(o);
    ASSERT_TRUE(opened.ok()) << "round " << round << ": " << opened.error().to_string();
    Engine& e = **opened;
    if (round == 0) {
      ASSERT_TRUE(e.create_stream("us-east-1", "s", 2, StreamMode::kProvisioned, {}, {}).ok());
    }
    // What survived is a subset of what was acknowledged, byte for byte.
    for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
      auto it = e.get_shard_iterator("us-east-1", "s", shard, IteratorType::kTrimHorizon, "", 0);
      ASSERT_TRUE(it.ok()) << it.error().to_string();
      std::optional<std::string> cur = *it;
      for (int guard = 0; cur && guard < 1000; ++guard) {
        auto r = e.get_records(*cur, 100);
        ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.error().to_string();
        for (const auto& rec : r->records) {
          auto a = acked.find(std::string(rec.sequence_number()));
          ASSERT_NE(a, acked.end()) << rec.sequence_number() << " was never acknowledged";
          EXPECT_EQ(rec.data, a->second);
        }
        if (r->records.empty()) break;
        cur = r->next_iterator;
      }
    }
    const int puts = static_cast<int>(rng() % 40);
    for (int p = 0; p < puts; ++p) {
      std::vector<std::string> data;
      std::vector<std::string> keys;
      const size_t n = 1 + rng() % 8;
      for (size_t i = 0; i < n; ++i) {
        data.push_back("r" + std::to_string(round) + "." + std::to_string(p) + "." +
                       std::to_string(i) + std::string(rng() % 200, 'x'));
        keys.push_back("k" + std::to_string(rng() % 50));
      }
      std::vector<PutEntry> entries;
      for (size_t i = 0; i < n; ++i) entries.push_back(PutEntry{data[i], keys[i], ""});
      auto r = e.put_records("us-east-1", "s", entries);
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      for (size_t i = 0; i < n; ++i) {
        const PutOutcome& out = (*r)[i];
        ASSERT_TRUE(out.error_code.empty()) << out.error_message;
        ASSERT_EQ(acked.count(out.sequence_number), 0u)
            << "round " << round << ": " << out.sequence_number << " handed out twice";
        std::string& last = last_of_shard[out.shard_id];
        ASSERT_GT(out.sequence_number, last) << "round " << round << ": went backwards";
        last = out.sequence_number;
        acked[out.sequence_number] = data[i];
      }
    }
    fs->crash(static_cast<PowerLossFileSystem::Keep>(rng() % 3), rng());
    opened->reset();
    fs->restart();
  }
}

}  // namespace
}  // namespace freshet::stream

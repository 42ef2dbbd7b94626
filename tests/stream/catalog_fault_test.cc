// The catalog under failed writes (issue 9): a control-plane call whose catalog cannot be
// persisted fails, and nothing it would have changed is visible, in memory or after reopening.
// DeleteStream records the deletion before removing files, so a failed deletion leaves the
// stream whole and readable.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../testing/fault_fs.h"
#include "../testing/temp_dir.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/hash_key.h"

namespace freshet::stream {
namespace {

constexpr const char* kRegion = "us-east-1";

class CatalogFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<freshet::testing::FaultFileSystem>(posix_file_system());
    open();
  }

  void open() {
    engine_.reset();
    EngineOptions o;
    o.data_dir = dir_.path();
    o.fs = fs_;
    o.state_delay_ms = 0;
    auto e = Engine::open(o);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    engine_ = std::move(*e);
  }

  void put(const std::string& stream, const std::string& data) {
    const std::string key = "key-" + data;  // PutEntry holds views
    PutEntry entry{data, key, ""};
    auto r = engine_->put_records(kRegion, stream, std::span<const PutEntry>(&entry, 1));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }

  // Every record of every shard of a stream, from TRIM_HORIZON.
  std::vector<std::string> read_all(const std::string& stream) {
    std::vector<std::string> out;
    auto shards = engine_->list_shards(kRegion, stream, {});
    EXPECT_TRUE(shards.ok()) << shards.error().to_string();
    if (!shards.ok()) return out;
    for (const Shard& sh : *shards) {
      auto it = engine_->get_shard_iterator(kRegion, stream, sh.shard_id, IteratorType::kTrimHorizon,
                                            "", 0);
      EXPECT_TRUE(it.ok()) << it.error().to_string();
      std::optional<std::string> cur = it.ok() ? std::optional<std::string>(*it) : std::nullopt;
      for (int guard = 0; cur && guard < 100; ++guard) {
        auto r = engine_->get_records(*cur, 100);
        EXPECT_TRUE(r.ok()) << r.error().to_string();
        if (!r.ok()) break;
        for (const auto& rec : r->records) out.emplace_back(rec.data);
        if (r->records.empty()) break;
        cur = r->next_iterator;
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  size_t shard_count(const std::string& stream) {
    auto shards = engine_->list_shards(kRegion, stream, {});
    EXPECT_TRUE(shards.ok()) << shards.error().to_string();
    return shards.ok() ? shards->size() : 0;
  }

  freshet::testing::TempDir dir_;
  std::shared_ptr<freshet::testing::FaultFileSystem> fs_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(CatalogFaultTest, FailedCatalogWritesChangeNothingAndTheCallsWorkOnceTheDiskDoes) {
  ASSERT_TRUE(engine_->create_stream(kRegion, "a", 2, StreamMode::kProvisioned, {}, {}).ok());
  put("a", "before-1");
  put("a", "before-2");

  for (bool rename_fails : {true, false}) {
    SCOPED_TRACE(rename_fails ? "rename fails" : "fsync fails");
    (rename_fails ? fs_->faults().fail_rename : fs_->faults().fail_sync).store(true);
    EXPECT_FALSE(engine_->create_stream(kRegion, "b", 1, StreamMode::kProvisioned, {}, {}).ok());
    EXPECT_FALSE(engine_->split_shard(kRegion, "a", "shardId-000000000000",
                                      *parse_hash_key("1000000000000"))
                     .ok());
    EXPECT_FALSE(engine_->add_tags(kRegion, "a", {{"team", "x"}}).ok());
    EXPECT_FALSE(engine_->delete_stream(kRegion, "a", false).ok());
    (rename_fails ? fs_->faults().fail_rename : fs_->faults().fail_sync).store(false);

    // Nothing changed in memory: no stream b, a has its two shards, no tag, and it is whole.
    EXPECT_EQ(engine_->list_streams(kRegion), std::vector<std::string>{"a"});
    EXPECT_EQ(engine_->describe_stream(kRegion, "b").error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(shard_count("a"), 2u);
    auto info = engine_->describe_stream(kRegion, "a");
    ASSERT_TRUE(info.ok()) << info.error().to_string();
    EXPECT_TRUE(info->tags.empty());
    EXPECT_EQ(read_all("a"), (std::vector<std::string>{"before-1", "before-2"}));
  }

  // Nor on disk: a reopened engine sees the same catalog and the same records.
  open();
  EXPECT_EQ(engine_->list_streams(kRegion), std::vector<std::string>{"a"});
  EXPECT_EQ(shard_count("a"), 2u);
  EXPECT_EQ(read_all("a"), (std::vector<std::string>{"before-1", "before-2"}));

  // With the disk working again, the same calls succeed, without a restart in between.
  ASSERT_TRUE(engine_->create_stream(kRegion, "b", 1, StreamMode::kProvisioned, {}, {}).ok());
  put("b", "in-b");
  ASSERT_TRUE(engine_->split_shard(kRegion, "a", "shardId-000000000000",
                                   *parse_hash_key("1000000000000"))
                  .ok());
  put("a", "after-split");
  EXPECT_EQ(shard_count("a"), 4u);  // the closed parent and its two children
  open();
  EXPECT_EQ(engine_->list_streams(kRegion), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(read_all("a"), (std::vector<std::string>{"after-split", "before-1", "before-2"}));
  EXPECT_EQ(read_all("b"), std::vector<std::string>{"in-b"});

  ASSERT_TRUE(engine_->delete_stream(kRegion, "b", false).ok());
  open();
  EXPECT_EQ(engine_->list_streams(kRegion), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace freshet::stream

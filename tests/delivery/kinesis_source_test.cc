// KinesisStreamAsSource: a delivery stream reads a Freshet stream from TRIM_HORIZON, parents
// before children, and resumes from its durable checkpoint after a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "flaky_store.h"
#include "freshet/delivery/delivery.h"
#include "freshet/objstore/local_store.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/hash_key.h"
#include "testing/temp_dir.h"

namespace freshet::delivery {
namespace {

class KinesisSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stream::EngineOptions eo;
    eo.data_dir = dir_.path() + "/kinesis";
    eo.durability = log::Durability::kOs;
    engine_ = std::move(stream::Engine::open(eo)).value();
    ASSERT_TRUE(engine_->create_stream("us-east-1", "src", 2, stream::StreamMode::kProvisioned,
                                       {}, std::nullopt)
                    .ok());
    engine_->tick();  // CREATING -> ACTIVE
    objstore::LocalStoreOptions so;
    so.root = dir_.path() + "/s3";
    store_ = std::move(objstore::LocalObjectStore::open(so)).value();
    ASSERT_TRUE(store_->create_bucket("dest").ok());
    flaky_ = std::make_unique<test_support::FlakyStore>(*store_);
    reopen();
  }

  void reopen() {
    svc_.reset();
    DeliveryOptions o;
    o.root = dir_.path() + "/firehose";
    o.store = flaky_.get();
    o.engine = engine_.get();
    o.metrics = &metrics_;
    auto s = DeliveryService::open(o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    svc_ = std::move(s).value();
  }

  // Records "r<i>" padded with dots to `size` bytes (newline included).
  void put(int from, int to, size_t size = 0) {
    std::vector<std::string> data, keys;
    for (int i = from; i < to; ++i) {
      data.push_back("r" + std::to_string(i));
      if (data.back().size() + 1 < size) data.back().append(size - 1 - data.back().size(), '.');
      data.back().push_back('\n');
      keys.push_back("k" + std::to_string(i));
    }
    std::vector<stream::PutEntry> entries;
    for (size_t i = 0; i < data.size(); ++i) entries.push_back({data[i], keys[i], {}});
    auto r = engine_->put_records("us-east-1", "src", entries);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    for (auto& o : *r) ASSERT_TRUE(o.error_code.empty()) << o.error_message;
  }

  std::vector<std::string> delivered_lines() {
    std::vector<std::string> lines;
    auto listed = store_->list_objects("dest", {});
    for (auto& o : listed->objects) {
      std::string body = std::string(store_->get_object("dest", o.key, std::nullopt)->data());
      size_t start = 0;
      while (start < body.size()) {
        size_t nl = body.find('\n', start);
        std::string line = body.substr(start, nl - start);
        lines.push_back(line.substr(0, line.find('.')));
        start = nl + 1;
      }
    }
    return lines;
  }

  testing::TempDir dir_;
  metrics::Registry metrics_;
  std::unique_ptr<stream::Engine> engine_;
  std::unique_ptr<objstore::LocalObjectStore> store_;
  std::unique_ptr<test_support::FlakyStore> flaky_;
  std::unique_ptr<DeliveryService> svc_;
};

TEST_F(KinesisSourceTest, ReadsFromTrimHorizonFollowsSplitsAndResumes) {
  put(0, 100);
  DeliveryStreamInfo info;
  info.name = "from-kinesis";
  info.type = "KinesisStreamAsSource";
  info.source_stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/src";
  info.destination.bucket_arn = "arn:aws:s3:::dest";
  info.destination.interval_seconds = 0;
  ASSERT_TRUE(svc_->create(info).ok());
  DeliveryStreamInfo missing = info;
  missing.name = "no-source";
  missing.source_stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/none";
  EXPECT_EQ(svc_->create(missing).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(svc_->put("from-kinesis", {"x"}).code(), ErrorCode::kInvalidArgument);

  svc_->deliver_now();
  auto lines = delivered_lines();
  EXPECT_EQ(lines.size(), 100u);

  // Split shard 0; records after the split go to the children.
  auto shards = engine_->list_shards("us-east-1", "src", {});
  ASSERT_TRUE(shards.ok());
  const auto& s0 = (*shards)[0];
  stream::HashKey mid{s0.range.start.value + (s0.range.end.value - s0.range.start.value) / 2};
  ASSERT_TRUE(engine_->split_shard("us-east-1", "src", s0.shard_id, mid).ok());
  engine_->tick();
  put(100, 200);
  reopen();  // resumes from its checkpoint: nothing delivered twice
  svc_->deliver_now();
  svc_->deliver_now();
  lines = delivered_lines();
  std::sort(lines.begin(), lines.end());
  ASSERT_EQ(lines.size(), 200u);
  EXPECT_EQ(std::unique(lines.begin(), lines.end()), lines.end());
}

// A full buffer (SizeInMBs) goes at once, as several objects in one pass when several
// buffers are waiting, without waiting for IntervalInSeconds; what does not fill a buffer
// waits for the interval (or the stream's deletion).
TEST_F(KinesisSourceTest, FullBuffersGoAtOnceTheRestWaitsForTheInterval) {
  put(0, 3500, 1000);  // 3.5 MB: three full 1 MiB buffers and a rest
  DeliveryStreamInfo info;
  info.name = "by-size";
  info.type = "KinesisStreamAsSource";
  info.source_stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/src";
  info.destination.bucket_arn = "arn:aws:s3:::dest";
  info.destination.size_mb = 1;
  info.destination.interval_seconds = 900;
  ASSERT_TRUE(svc_->create(info).ok());
  svc_->deliver_now();
  auto listed = store_->list_objects("dest", {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->objects.size(), 3u);
  for (const auto& o : listed->objects) {
    EXPECT_LE(o.size, (1u << 20) + 1000) << o.key;
    EXPECT_GE(o.size, (1u << 20)) << o.key;
  }
  EXPECT_EQ(delivered_lines().size(), 3u * 1049);  // 1,049 records of 1,000 bytes fill 1 MiB
  ASSERT_TRUE(svc_->remove("by-size", false).ok());  // delivers the rest first
  svc_->deliver_now();
  svc_->deliver_now();
  auto lines = delivered_lines();
  ASSERT_EQ(lines.size(), 3500u);
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), 3500u);
  EXPECT_EQ(svc_->describe("by-size").code(), ErrorCode::kNotFound);
}

// A crash after an object is written but before the checkpoint moves: after the restart the
// batch is read again from the source and written under the same key with the same records;
// nothing is lost or doubled.
TEST_F(KinesisSourceTest, CrashAfterTheWriteRewritesTheSameObject) {
  put(0, 1500, 1000);
  DeliveryStreamInfo info;
  info.name = "crashy";
  info.type = "KinesisStreamAsSource";
  info.source_stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/src";
  info.destination.bucket_arn = "arn:aws:s3:::dest";
  info.destination.size_mb = 1;
  info.destination.interval_seconds = 0;
  ASSERT_TRUE(svc_->create(info).ok());
  flaky_->fail_after_write = 1;  // the first object lands, but delivery sees a failure
  svc_->deliver_now();
  auto listed = store_->list_objects("dest", {});
  ASSERT_EQ(listed->objects.size(), 1u);
  const std::string first_key = listed->objects[0].key;
  const std::string first_body =
      std::string(store_->get_object("dest", first_key, std::nullopt)->data());
  reopen();  // as after kill -9: the pending batch comes from the checkpoint
  put(1500, 2000, 1000);
  svc_->deliver_now();
  svc_->deliver_now();
  listed = store_->list_objects("dest", {});
  ASSERT_GE(listed->objects.size(), 2u);
  EXPECT_EQ(std::string(store_->get_object("dest", first_key, std::nullopt)->data()), first_body);
  auto lines = delivered_lines();
  ASSERT_EQ(lines.size(), 2000u);
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), 2000u);
  // And once more from the checkpoint: nothing new, nothing written twice.
  reopen();
  svc_->deliver_now();
  EXPECT_EQ(delivered_lines().size(), 2000u);
}

}  // namespace
}  // namespace freshet::delivery

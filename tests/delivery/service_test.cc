#include <zlib.h>

#include <gtest/gtest.h>

#include <chrono>

#include <atomic>
#include <thread>

#include "flaky_store.h"
#include "freshet/delivery/delivery.h"
#include "freshet/objstore/local_store.h"
#include "testing/temp_dir.h"

namespace freshet::delivery {
namespace {

using test_support::FlakyStore;

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objstore::LocalStoreOptions so;
    so.root = dir_.path() + "/s3";
    local_ = std::move(objstore::LocalObjectStore::open(so)).value();
    ASSERT_TRUE(local_->create_bucket("dest").ok());
    flaky_ = std::make_unique<FlakyStore>(*local_);
    reopen();
  }

  void reopen(int64_t create_delay_ms = 0, bool enforce_limits = false,
              std::string region = "us-east-1") {
    svc_.reset();
    DeliveryOptions o;
    o.root = dir_.path() + "/firehose";
    o.store = flaky_.get();
    o.metrics = &metrics_;
    o.max_backoff_ms = 1;
    o.create_delay_ms = create_delay_ms;
    o.enforce_limits = enforce_limits;
    o.region = region;
    auto s = DeliveryService::open(o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    svc_ = std::move(s).value();
  }

  DeliveryStreamInfo stream(std::string name, int interval = 0) {
    DeliveryStreamInfo i;
    i.name = std::move(name);
    i.destination.bucket_arn = "arn:aws:s3:::dest";
    i.destination.role_arn = "arn:aws:iam::000000000000:role/r";
    i.destination.prefix = "p/";
    i.destination.interval_seconds = interval;
    i.destination.size_mb = 1;
    return i;
  }

  std::vector<objstore::ObjectInfo> objects() {
    objstore::ListOptions lo;
    return local_->list_objects("dest", lo)->objects;
  }

  testing::TempDir dir_;
  metrics::Registry metrics_;
  std::unique_ptr<objstore::LocalObjectStore> local_;
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<DeliveryService> svc_;
};

TEST_F(DeliveryTest, ANewStreamIsCreatingForTheStateDelay) {
  reopen(300);
  ASSERT_TRUE(svc_->create(stream("c1")).ok());
  EXPECT_EQ(svc_->describe("c1")->status, "CREATING");
  EXPECT_EQ(svc_->put("c1", {"a"}).code(), ErrorCode::kNotFound);
  EXPECT_EQ(svc_->remove("c1", false).code(), ErrorCode::kResourceInUse);  // as AWS
  for (int i = 0; i < 100 && svc_->describe("c1")->status == "CREATING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(svc_->describe("c1")->status, "ACTIVE");
  EXPECT_TRUE(svc_->put("c1", {"a"}).ok());
  EXPECT_TRUE(svc_->remove("c1", true).ok());
}

TEST_F(DeliveryTest, PutDeliverAndNames) {
  ASSERT_TRUE(svc_->create(stream("s1")).ok());
  EXPECT_EQ(svc_->create(stream("s1")).code(), ErrorCode::kAlreadyExists);
  auto ids = svc_->put("s1", {"a", "b", "c"});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_NE((*ids)[0], (*ids)[1]);
  EXPECT_EQ(svc_->put("nope", {"a"}).code(), ErrorCode::kNotFound);
  svc_->deliver_now();
  auto objs = objects();
  ASSERT_EQ(objs.size(), 1u);
  // p/yyyy/MM/dd/HH/s1-1-yyyy-MM-dd-HH-mm-ss-<uuid>
  const std::string& key = objs[0].key;
  EXPECT_EQ(key.rfind("p/", 0), 0u);
  EXPECT_NE(key.find("/s1-1-"), std::string::npos);
  EXPECT_EQ(key.size(), std::string("p/2026/11/30/07/s1-1-2026-11-30-07-05-09-").size() + 36);
  EXPECT_EQ(local_->get_object("dest", key, std::nullopt)->data(), "abc");
  svc_->deliver_now();
  EXPECT_EQ(objects().size(), 1u);  // nothing new
}

TEST_F(DeliveryTest, BufferingHintsHoldRecordsUntilDue) {
  ASSERT_TRUE(svc_->create(stream("s2", /*interval=*/900)).ok());
  ASSERT_TRUE(svc_->put("s2", {"small"}).ok());
  svc_->deliver_now();
  EXPECT_EQ(objects().size(), 0u);  // neither 1 MiB nor 900 s yet
  std::string big(600 * 1024, 'x');
  ASSERT_TRUE(svc_->put("s2", {big, big}).ok());
  svc_->deliver_now();
  ASSERT_EQ(objects().size(), 1u);  // size hint reached: one object of about 1 MiB
  EXPECT_GE(objects()[0].size, 1024u * 1024);
}

TEST_F(DeliveryTest, RetriedObjectKeepsItsKeyAcrossRestart) {
  ASSERT_TRUE(svc_->create(stream("s3")).ok());
  ASSERT_TRUE(svc_->put("s3", {"one", "two"}).ok());
  flaky_->fail_after_write = 1;
  svc_->deliver_now();  // written, but delivery saw a failure: the checkpoint did not move
  ASSERT_EQ(objects().size(), 1u);
  const std::string first_key = objects()[0].key;
  reopen();  // as after a crash: the pending batch is read back from its state file
  ASSERT_TRUE(svc_->put("s3", {"three"}).ok());
  svc_->deliver_now();
  svc_->deliver_now();
  auto objs = objects();
  ASSERT_EQ(objs.size(), 2u);
  // The retried batch went to the same key with the same records; "three" is in a new object.
  std::string a = std::string(local_->get_object("dest", first_key, std::nullopt)->data());
  EXPECT_EQ(a, "onetwo");
  std::string other = objs[0].key == first_key ? objs[1].key : objs[0].key;
  EXPECT_EQ(local_->get_object("dest", other, std::nullopt)->data(), "three");
}

TEST_F(DeliveryTest, DestinationDownThenUp) {
  ASSERT_TRUE(svc_->create(stream("s4")).ok());
  ASSERT_TRUE(svc_->put("s4", {"x"}).ok());
  flaky_->fail_before_write = 3;
  for (int i = 0; i < 50 && objects().empty(); ++i) {
    svc_->deliver_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(objects().size(), 1u);
  EXPECT_GE(flaky_->puts.load(), 4);
}

TEST_F(DeliveryTest, RecordsSurviveRestartBeforeDelivery) {
  ASSERT_TRUE(svc_->create(stream("s5", 900)).ok());
  ASSERT_TRUE(svc_->put("s5", {"kept"}).ok());
  reopen();
  auto info = svc_->describe("s5");
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(svc_->remove("s5", false).ok());  // delete delivers what is buffered first
  svc_->deliver_now();
  ASSERT_EQ(objects().size(), 1u);
  EXPECT_EQ(local_->get_object("dest", objects()[0].key, std::nullopt)->data(), "kept");
  svc_->deliver_now();
  EXPECT_EQ(svc_->describe("s5").code(), ErrorCode::kNotFound);
}

TEST_F(DeliveryTest, DynamicPartitioningAndErrorPrefix) {
  DeliveryStreamInfo i = stream("s6");
  i.destination.dynamic_partitioning = true;
  i.destination.metadata_query = "{c: .customer}";
  i.destination.prefix = "c=!{partitionKeyFromQuery:c}/";
  i.destination.error_output_prefix = "err/!{firehose:error-output-type}/";
  i.destination.append_delimiter = true;
  ASSERT_TRUE(svc_->create(i).ok());
  ASSERT_TRUE(svc_->put("s6", {R"({"customer":"a"})", R"({"customer":"b"})",
                               R"({"customer":"a","n":2})", "not json"})
                  .ok());
  svc_->deliver_now();
  auto objs = objects();
  ASSERT_EQ(objs.size(), 3u);
  std::map<std::string, std::string> by_prefix;
  for (auto& o : objs) {
    by_prefix[o.key.substr(0, o.key.find('/'))] = std::string(local_->get_object("dest", o.key, std::nullopt)->data());
  }
  EXPECT_EQ(by_prefix["c=a"], "{\"customer\":\"a\"}\n{\"customer\":\"a\",\"n\":2}\n");
  EXPECT_EQ(by_prefix["c=b"], "{\"customer\":\"b\"}\n");
  ASSERT_TRUE(by_prefix.count("err"));
  EXPECT_NE(by_prefix["err"].find("\"rawData\":\"bm90IGpzb24=\""), std::string::npos);
}

TEST_F(DeliveryTest, UpdateDestinationChecksVersion) {
  ASSERT_TRUE(svc_->create(stream("s7")).ok());
  S3Destination d = stream("s7").destination;
  d.prefix = "new/";
  EXPECT_EQ(svc_->update_destination("s7", "2", d).code(), ErrorCode::kFailed);
  ASSERT_TRUE(svc_->update_destination("s7", "1", d).ok());
  auto info = svc_->describe("s7");
  EXPECT_EQ(info->version, 2u);
  ASSERT_TRUE(svc_->put("s7", {"z"}).ok());
  svc_->deliver_now();
  ASSERT_EQ(objects().size(), 1u);
  EXPECT_EQ(objects()[0].key.rfind("new/", 0), 0u);
  EXPECT_NE(objects()[0].key.find("/s7-2-"), std::string::npos);
  reopen();
  EXPECT_EQ(svc_->describe("s7")->destination.prefix, "new/");
}

TEST_F(DeliveryTest, TagsAndEncryptionPersist) {
  ASSERT_TRUE(svc_->create(stream("s8")).ok());
  ASSERT_TRUE(svc_->tag("s8", {{"a", "1"}, {"b", "2"}}).ok());
  ASSERT_TRUE(svc_->untag("s8", {"a"}).ok());
  Encryption e;
  e.key_type = "AWS_OWNED_CMK";
  ASSERT_TRUE(svc_->set_encryption("s8", e).ok());
  reopen();
  auto info = svc_->describe("s8");
  ASSERT_EQ(info->tags.size(), 1u);
  EXPECT_EQ(info->tags[0].first, "b");
  EXPECT_EQ(info->encryption.status, "ENABLED");
}

}  // namespace
}  // namespace freshet::delivery

namespace freshet::delivery {
namespace {

TEST_F(DeliveryTest, FailuresPastRetryDurationGoToErrorPrefix) {
  DeliveryStreamInfo i = stream("s9");
  i.destination.retry_seconds = 0;
  i.destination.error_output_prefix = "failed/!{firehose:error-output-type}/";
  ASSERT_TRUE(svc_->create(i).ok());
  ASSERT_TRUE(svc_->put("s9", {"payload"}).ok());
  flaky_->fail_before_write = 2;  // the first attempt fails; the second fails too ...
  svc_->deliver_now();            // ... then the error object succeeds (third put)
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  svc_->deliver_now();
  auto objs = objects();
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0].key.rfind("failed/delivery-failed/", 0), 0u) << objs[0].key;
  std::string body = std::string(local_->get_object("dest", objs[0].key, std::nullopt)->data());
  EXPECT_NE(body.find("\"errorMessage\":\"injected: destination down\""), std::string::npos);
  EXPECT_NE(body.find("\"rawData\":\"cGF5bG9hZA==\""), std::string::npos);
}

// --enforce-limits: a put past the stream's quotas (5 MiB/s in us-east-1, 1 MiB/s elsewhere)
// is refused whole with kThrottled ("Slow down."), nothing
// appended, and its records counted in ThrottledRecords; once the bucket refills puts pass.
TEST_F(DeliveryTest, PutsPastTheQuotasAreThrottledAndCounted) {
  reopen(0, true, "us-east-1");
  ASSERT_TRUE(svc_->create(stream("q1", 900)).ok());
  const std::string mb(1'000'000, 'x');
  ASSERT_TRUE(svc_->put("q1", {mb, mb, mb, mb}).ok());  // 4 MB of the 5 MiB a second
  auto r = svc_->put("q1", {mb, mb, mb, mb});  // 8 MB within a second
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kThrottled);
  EXPECT_EQ(r.error().message(), "Slow down.");
  auto throttled = [&](const std::string& name) {
    return metrics_
        .counter(metrics::cloudwatch_metric_name("firehose", "ThrottledRecords"),
                 {{"DeliveryStreamName", name}}, "")
        ->value();
  };
  EXPECT_EQ(throttled("q1"), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // 2.5 MiB more
  EXPECT_TRUE(svc_->put("q1", {mb, mb}).ok());
  EXPECT_EQ(throttled("q1"), 4u);
  // Elsewhere the quota is 1 MiB/s.
  reopen(0, true, "ap-south-1");
  ASSERT_TRUE(svc_->create(stream("q2", 900)).ok());
  EXPECT_TRUE(svc_->put("q2", {mb}).ok());
  EXPECT_EQ(svc_->put("q2", {mb}).code(), ErrorCode::kThrottled);
  EXPECT_EQ(throttled("q2"), 1u);
  // Without --enforce-limits nothing is throttled.
  reopen(0, false);
  ASSERT_TRUE(svc_->put("q1", {mb, mb, mb, mb}).ok());
  ASSERT_TRUE(svc_->put("q1", {mb, mb, mb, mb}).ok());
}

}  // namespace
}  // namespace freshet::delivery

#include "freshet/dashboard/dashboard.h"

#include <gtest/gtest.h>

#include <chrono>

#include "../testing/temp_dir.h"
#include "freshet/api/codec.h"

namespace freshet::dashboard {
namespace {

api::RestRequest get(std::string_view target, bool auth = false) {
  api::RestRequest r;
  r.method = "GET";
  r.target = target;
  if (auth) r.headers.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=x");
  return r;
}

TEST(DashboardTest, ServesThePageOnlyWithoutAuthorization) {
  Dashboard d(DashboardSources{});
  auto r = get("/");
  auto page = d.handle(r);
  ASSERT_TRUE(page.has_value());
  EXPECT_NE(page->body.find("<title>Freshet</title>"), std::string::npos);
  auto signed_get = get("/", true);
  EXPECT_FALSE(d.handle(signed_get).has_value());  // S3 ListBuckets
  auto presigned = get("/?X-Amz-Signature=abc");
  EXPECT_FALSE(d.handle(presigned).has_value());
  auto js = get("/dashboard/app.js");
  auto asset = d.handle(js);
  ASSERT_TRUE(asset.has_value());
  EXPECT_NE(asset->body.find("class Chart"), std::string::npos);
  auto missing = get("/dashboard/nope.js");
  EXPECT_EQ(d.handle(missing)->status, 404);
  auto bucket = get("/mybucket/key");
  EXPECT_FALSE(d.handle(bucket).has_value());
  api::RestRequest post = get("/");
  post.method = "POST";
  EXPECT_FALSE(d.handle(post).has_value());
}

TEST(DashboardTest, StateAndMetricJson) {
  testing::TempDir dir;
  metrics::MetricStoreOptions o;
  o.dir = dir.path();
  o.fsync = false;
  auto store = std::move(metrics::MetricStore::open(o)).value();
  Dashboard d(
      DashboardSources{nullptr, nullptr, nullptr, nullptr, store.get(), nullptr, "eu-west-1"});
  auto state = api::decode_json(d.state_json());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->find("region")->as_string(), "eu-west-1");
  EXPECT_TRUE(state->find("streams")->as_list().empty());
  EXPECT_TRUE(state->find("functions")->as_list().empty());
  // Two series of one table: agg=1 sums them, the exact key finds none.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const char* op : {"GetItem", "Query"}) {
    auto id = store->intern(
        {"AWS/DynamoDB", "ConsumedReadCapacityUnits", {{"TableName", "t"}, {"Operation", op}}},
        "Count");
    ASSERT_TRUE(store->record(*id, now - 5, metrics::Stat::of(2)).ok());
  }
  auto m =
      api::decode_json(d.metric_json("ns=AWS%2FDynamoDB&name=ConsumedReadCapacityUnits&dims="
                                     "TableName:t&stat=Sum&period=60&agg=1"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->find("series")->as_int(), 2);
  const api::List& pts = m->find("points")->as_list();
  ASSERT_EQ(pts.size(), 1u);
  const api::Document& v = pts[0].as_list()[1];
  EXPECT_DOUBLE_EQ(v.is_int() ? static_cast<double>(v.as_int()) : v.as_double(), 4);
  auto exact = api::decode_json(d.metric_json(
      "ns=AWS%2FDynamoDB&name=ConsumedReadCapacityUnits&dims=TableName:t&stat=Sum&period=60"));
  EXPECT_EQ(exact->find("series")->as_int(), 0);
  auto catalog = api::decode_json(d.metrics_json());
  EXPECT_EQ(catalog->find("metrics")->as_list().size(), 2u);
}

}  // namespace
}  // namespace freshet::dashboard

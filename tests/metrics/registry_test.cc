#include "freshet/metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace freshet::metrics {
namespace {

TEST(RegistryTest, CounterHandleIsStableAndLabelsAreSorted) {
  Registry r;
  Counter* a = r.counter("requests_total", {{"op", "Put"}, {"svc", "kinesis"}});
  Counter* b = r.counter("requests_total", {{"svc", "kinesis"}, {"op", "Put"}});
  EXPECT_EQ(a, b);
  Counter* c = r.counter("requests_total", {{"svc", "kinesis"}, {"op", "Get"}});
  EXPECT_NE(a, c);
  a->inc();
  b->inc(4);
  EXPECT_EQ(a->value(), 5u);
  EXPECT_EQ(r.render_prometheus(),
            "# HELP requests_total requests_total\n"
            "# TYPE requests_total counter\n"
            "requests_total{op=\"Get\",svc=\"kinesis\"} 0\n"
            "requests_total{op=\"Put\",svc=\"kinesis\"} 5\n");
}

TEST(RegistryTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter* c = r.counter("n_total");
  Histogram* h = r.histogram("lat_ms");
  Gauge* g = r.gauge("g");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->inc();
        h->observe(1.0);
        g->add(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000u);
  EXPECT_EQ(h->count(), 40000u);
  EXPECT_DOUBLE_EQ(h->sum(), 40000.0);
  EXPECT_DOUBLE_EQ(g->value(), 20000.0);
}

TEST(RegistryTest, GaugeAndHelpRendering) {
  Registry r;
  Gauge* g = r.gauge("open_connections", {}, "Open\nconnections \\ now");
  g->set(3);
  g->dec();
  EXPECT_EQ(r.render_prometheus(),
            "# HELP open_connections Open\\nconnections \\\\ now\n"
            "# TYPE open_connections gauge\n"
            "open_connections 2\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram* h = r.histogram("freshet_kinesis_PutRecords_Latency", {{"stream", "s1"}});
  h->observe(0.05);   // <= 0.1
  h->observe(1.0);    // <= 1 (boundary inclusive)
  h->observe(7);      // <= 10
  h->observe(20000);  // +Inf
  // Milliseconds are exposed in seconds, under a _seconds name, with the CloudWatch name in HELP.
  std::string text = r.render_prometheus();
  const std::string n = "freshet_kinesis_PutRecords_Latency_seconds";
  EXPECT_NE(text.find("# HELP " + n + " freshet_kinesis_PutRecords_Latency (exposed in seconds) "
                      "[CloudWatch AWS/Kinesis PutRecords.Latency, Milliseconds]\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE " + n + " histogram\n"), std::string::npos);
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"0.0001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"0.001\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"0.01\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"10\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find(n + "_bucket{stream=\"s1\",le=\"+Inf\"} 4\n"), std::string::npos);
  const size_t sum = text.find(n + "_sum{stream=\"s1\"} ");
  ASSERT_NE(sum, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(sum + n.size() + 18)), 20.00805, 1e-9);
  EXPECT_NE(text.find(n + "_count{stream=\"s1\"} 4\n"), std::string::npos);
  // A histogram without a unit keeps its values and name.
  r.histogram("freshet_log_group_commit_round_appends")->observe(3);
  text = r.render_prometheus();
  EXPECT_NE(text.find("freshet_log_group_commit_round_appends_bucket{le=\"5\"} 1\n"),
            std::string::npos);
}

// Prometheus's naming: counters end in _total; a unit suffix in base units (seconds, bytes);
// _total and unit suffixes already there are kept, not doubled.
TEST(RegistryTest, ExposedNamesFollowPrometheusConventions) {
  Registry r;
  r.counter("freshet_kinesis_IncomingRecords", {{"stream", "s"}})->inc(7);
  r.counter("freshet_kinesis_IncomingBytes", {{"stream", "s"}})->inc(700);
  r.counter("freshet_api_requests_total")->inc();
  r.gauge("freshet_firehose_DeliveryToS3_DataFreshness")->set(4);
  r.gauge("freshet_lambda_IteratorAge", {{"FunctionName", "f"}})->set(1500);
  r.histogram("freshet_api_request_duration_ms")->observe(2);
  r.gauge("freshet_wal_bytes")->set(10);
  const std::string text = r.render_prometheus();
  for (const char* line : {
           "# TYPE freshet_kinesis_IncomingRecords_total counter\n",
           "freshet_kinesis_IncomingRecords_total{stream=\"s\"} 7\n",
           "freshet_kinesis_IncomingBytes_bytes_total{stream=\"s\"} 700\n",
           "freshet_api_requests_total 1\n",
           "freshet_firehose_DeliveryToS3_DataFreshness_seconds 4\n",
           "freshet_lambda_IteratorAge_seconds{FunctionName=\"f\"} 1.5\n",
           "freshet_api_request_duration_seconds_sum 0.002\n",
           "# TYPE freshet_api_request_duration_seconds histogram\n",
           "freshet_wal_bytes 10\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("_total_total"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE freshet_api_request_duration_ms"), std::string::npos);
  EXPECT_EQ(text.find("freshet_api_request_duration_ms_"), std::string::npos);
  // Every family has HELP and TYPE.
  size_t help = 0, type = 0;
  for (size_t p = 0; (p = text.find("# HELP ", p)) != std::string::npos; ++p) ++help;
  for (size_t p = 0; (p = text.find("# TYPE ", p)) != std::string::npos; ++p) ++type;
  EXPECT_EQ(help, 7u);
  EXPECT_EQ(type, 7u);
}

TEST(RegistryTest, LabelValuesAreEscapedAndNamesSanitized) {
  Registry r;
  r.counter("bad.name-x", {{"la-bel", "a\"b\\c\nd"}})->inc();
  EXPECT_EQ(r.render_prometheus(),
            "# HELP bad_name_x_total bad_name_x\n"
            "# TYPE bad_name_x_total counter\n"
            "bad_name_x_total{la_bel=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, TypeConflictNeverReturnsNullAndIsNotExported) {
  Registry r;
  r.counter("x")->inc();
  Gauge* g = r.gauge("x");
  ASSERT_NE(g, nullptr);
  g->set(5);
  EXPECT_EQ(r.type_conflicts(), 1u);
  EXPECT_EQ(r.render_prometheus(), "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n");
}

TEST(NamingTest, CloudWatchNames) {
  EXPECT_EQ(cloudwatch_metric_name("Kinesis", "PutRecords.Latency"),
            "freshet_kinesis_PutRecords_Latency");
  EXPECT_EQ(cloudwatch_metric_name("firehose", "DeliveryToS3.DataFreshness"),
            "freshet_firehose_DeliveryToS3_DataFreshness");
  EXPECT_EQ(cloudwatch_metric_name("kinesis", "IncomingBytes"), "freshet_kinesis_IncomingBytes");
  EXPECT_EQ(sanitize_metric_name("9lives"), "_9lives");
  EXPECT_EQ(sanitize_metric_name("a:b"), "a:b");
  EXPECT_EQ(sanitize_label_name("a:b"), "a_b");
}

}  // namespace
}  // namespace freshet::metrics

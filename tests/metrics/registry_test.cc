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
  std::string text = r.render_prometheus();
  EXPECT_NE(text.find("# TYPE freshet_kinesis_PutRecords_Latency histogram\n"), std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"0.1\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"0.5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"1\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"10\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"10000\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_bucket{stream=\"s1\",le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_sum{stream=\"s1\"} 20008.05\n"),
            std::string::npos);
  EXPECT_NE(text.find("freshet_kinesis_PutRecords_Latency_count{stream=\"s1\"} 4\n"),
            std::string::npos);
}

TEST(RegistryTest, LabelValuesAreEscapedAndNamesSanitized) {
  Registry r;
  r.counter("bad.name-x", {{"la-bel", "a\"b\\c\nd"}})->inc();
  EXPECT_EQ(r.render_prometheus(),
            "# TYPE bad_name_x counter\n"
            "bad_name_x{la_bel=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(RegistryTest, TypeConflictNeverReturnsNullAndIsNotExported) {
  Registry r;
  r.counter("x")->inc();
  Gauge* g = r.gauge("x");
  ASSERT_NE(g, nullptr);
  g->set(5);
  EXPECT_EQ(r.type_conflicts(), 1u);
  EXPECT_EQ(r.render_prometheus(), "# TYPE x counter\nx 1\n");
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

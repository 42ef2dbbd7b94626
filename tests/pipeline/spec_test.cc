#include "freshet/pipeline/spec.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace freshet::pipeline {
namespace {

std::string errors_of(std::string_view text) {
  auto r = parse_pipeline(text, "p.yaml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error().message();
}

TEST(PipelineSpec, EveryExampleParses) {
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(FRESHET_SOURCE_DIR "/examples")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    auto spec = load_pipeline(e.path().string());
    ASSERT_TRUE(spec.ok()) << spec.error().message();
    EXPECT_FALSE(spec->streams.empty()) << e.path();
    for (const ProducerSpec& p : spec->producers) {
      if (!p.file.empty()) {
        EXPECT_TRUE(std::filesystem::exists(p.file)) << p.file;
      }
    }
  }
  EXPECT_GE(files, 3);  // tweets, clickstream, iot
}

TEST(PipelineSpec, TheTweetExampleSaysWhatTheReadmeSays) {
  auto spec = load_pipeline(FRESHET_SOURCE_DIR "/examples/tweets.yaml");
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  const StreamSpec* tweets = spec->find_stream("tweets");
  ASSERT_NE(tweets, nullptr);
  EXPECT_EQ(tweets->shards, 4u);
  ASSERT_NE(spec->find_stream("tweets-dlq"), nullptr);
  ASSERT_EQ(spec->tables.size(), 2u);
  const TableSpec& attrs = spec->tables[0];
  EXPECT_EQ(attrs.name, "tweet_attributes");
  EXPECT_EQ(attrs.key.hash.name, "user_id");
  ASSERT_TRUE(attrs.key.range.has_value());
  EXPECT_EQ(attrs.key.range->name, "tweet_id");
  ASSERT_EQ(attrs.indexes.size(), 2u);
  EXPECT_EQ(attrs.indexes[0].key.hash.name, "hashtag");
  EXPECT_EQ(attrs.indexes[1].key.hash.name, "lang");
  ASSERT_EQ(spec->deliveries.size(), 1u);
  EXPECT_EQ(spec->deliveries[0].source_stream, "tweets");
  EXPECT_EQ(spec->deliveries[0].bucket, "tweets-archive");
  EXPECT_EQ(spec->deliveries[0].compression, delivery::Compression::kGzip);
  EXPECT_EQ(spec->deliveries[0].interval_seconds, 60);
  ASSERT_EQ(spec->producers.size(), 1u);
  EXPECT_DOUBLE_EQ(spec->producers[0].malformed, 0.01);
  EXPECT_EQ(spec->tables[1].name, "tweet_trends");
  EXPECT_EQ(spec->tables[1].key.hash.name, "key");
  EXPECT_EQ(spec->tables[1].key.range->type, table::Type::kN);
  ASSERT_EQ(spec->functions.size(), 2u);
  EXPECT_EQ(spec->functions[0].kind, process::FunctionConfig::Kind::kExtract);
  EXPECT_EQ(spec->functions[0].sink.name, "tweet_attributes");
  EXPECT_EQ(spec->functions[1].kind, process::FunctionConfig::Kind::kWindowCount);
  ASSERT_EQ(spec->mappings.size(), 2u);
  EXPECT_EQ(spec->mappings[0].function, "tweets-extract");
  EXPECT_EQ(spec->mappings[0].on_failure, "tweets-dlq");
  EXPECT_EQ(spec->mappings[1].tumbling_window_s, 60);
}

TEST(PipelineSpec, FunctionAndMappingErrorsPointAtTheirLines) {
  const std::string base = R"(streams:
  s: {}
functions:
  - name: f
    kind: extract
    sink: {table: t}
    fields: [{name: id, path: id_str, required: true}]
  - name: g
    kind: sideways
mappings:
  m1: {function: f, source: s, batch_size: 0}
  m2: {function: nope, source: s, on_failure: gone}
  m3: {function: f, source: s}
)";
  const std::string e = errors_of(base);
  EXPECT_NE(e.find("p.yaml:8:5: functions: "), std::string::npos) << e;
  EXPECT_NE(e.find("sideways"), std::string::npos) << e;
  EXPECT_NE(e.find("p.yaml:11:44: mappings.m1.batch_size: expected a whole number from 1 to "
                   "10000, found '0'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("p.yaml:12:3: mappings.m2.on_failure: no stream 'gone' in streams"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("p.yaml:13:3: mappings.m3: a second mapping of function f and stream s"),
            std::string::npos)
      << e;
}

TEST(PipelineSpec, DefaultsAndShorthands) {
  auto spec = parse_pipeline(R"(
streams:
  a: {}
  b: {mode: on_demand, retention_hours: 48, enhanced_monitoring: ALL, tags: {team: x}}
tables:
  things:
    partition_key: id
    billing: provisioned
    read_capacity: 7
buckets: [bkt]
delivery_streams:
  d: {bucket: bkt}
producers:
  p: {stream: a, generate: tweets, rate: 0, count: 10, via: http}
)",
                             "dir/my-pipe.yaml");
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  EXPECT_EQ(spec->name, "my-pipe");
  EXPECT_EQ(spec->streams[0].shards, 1u);
  EXPECT_FALSE(spec->streams[0].on_demand);
  EXPECT_EQ(spec->streams[0].retention_hours, 24);
  EXPECT_TRUE(spec->streams[1].on_demand);
  EXPECT_EQ(spec->streams[1].enhanced_monitoring.size(), 7u);
  EXPECT_EQ(spec->streams[1].tags.at("team"), "x");
  EXPECT_EQ(spec->tables[0].key.hash.type, table::Type::kS);
  EXPECT_FALSE(spec->tables[0].pay_per_request);
  EXPECT_EQ(spec->tables[0].throughput.read, 7);
  EXPECT_EQ(spec->tables[0].throughput.write, 5);
  EXPECT_EQ(spec->deliveries[0].size_mb, 5);
  EXPECT_EQ(spec->deliveries[0].interval_seconds, 300);
  EXPECT_TRUE(spec->deliveries[0].append_newline);
  EXPECT_EQ(spec->deliveries[0].source_stream, "");
  EXPECT_EQ(spec->producers[0].count, 10);
  EXPECT_TRUE(spec->producers[0].via_http);
  EXPECT_EQ(spec->producers[0].rate, 0);
}

TEST(PipelineSpec, ErrorsSayFileLineColumnAndWhatWasExpected) {
  EXPECT_EQ(errors_of("streams:\n  s:\n    shards: four\n"),
            "p.yaml:3:13: streams.s.shards: expected a whole number from 1 to 10000, found 'four'");
  EXPECT_EQ(errors_of("streams:\n  s:\n    shard: 2\n"),
            "p.yaml:3:5: streams.s.shard: unknown key; did you mean 'shards'?");
  EXPECT_EQ(errors_of("streams: [a, b]\n"),
            "p.yaml:1:10: streams: expected a mapping of names to their settings (NAME: {...}), "
            "found a list");
  EXPECT_EQ(errors_of("tables:\n  things:\n    sort_key: x\n"),
            "p.yaml:3:5: tables.things.partition_key: required, expected an attribute name or "
            "{name: NAME, type: S|N|B}");
  EXPECT_EQ(errors_of("tables:\n  things:\n    partition_key: {name: id, type: X}\n"),
            "p.yaml:3:37: tables.things.partition_key.type: expected S, N or B, found 'X'");
  EXPECT_EQ(errors_of("streams:\n  s: {}\nproducers:\n  p: {stream: t, generate: tweets}\n"),
            "p.yaml:4:3: producers.p.stream: no stream 't' in streams: expected s");
  EXPECT_EQ(errors_of("streams:\n  s: {}\nproducers:\n  p: {stream: s}\n"),
            "p.yaml:4:3: producers.p: expected exactly one of generate: tweets or file: PATH");
  EXPECT_EQ(errors_of("streams:\n  s: {}\n  s: {}\n"), "p.yaml:3:3: streams.s: declared twice");
  EXPECT_EQ(errors_of("streams: {a: {shards: 1}\n"),
            "p.yaml:2:1: not valid YAML: end of map flow not found");
  EXPECT_EQ(errors_of("- a\n- b\n"),
            "p.yaml:1:1: expected a mapping with streams, tables, buckets, delivery_streams, "
            "producers; found a list");
  const std::string many = errors_of(
      "buckets: [UPPER]\ndelivery_streams:\n  d:\n    bucket: UPPER\n"
      "    prefix: 'x/!{timestamp:yyyy}/'\n    buffering: {size_mb: 500}\nalarms: [a]\n");
  EXPECT_NE(many.find("p.yaml:1:11: buckets.UPPER: not a valid bucket name"), std::string::npos) << many;
  EXPECT_NE(many.find("p.yaml:6:26: delivery_streams.d.buffering.size_mb: expected a whole number "
                      "from 1 to 128, found '500'"),
            std::string::npos)
      << many;
  EXPECT_NE(many.find("delivery_streams.d.error_prefix: required when prefix has"),
            std::string::npos)
      << many;
  EXPECT_NE(many.find("p.yaml:7:9: alarms: expected a mapping of names to their settings"),
            std::string::npos)
      << many;
  EXPECT_EQ(errors_of("tables:\n  things:\n    partition_key: id\n    indexes:\n"
                      "      by_id: {partition_key: {name: id, type: N}}\n"),
            "p.yaml:5:7: tables.things: attribute 'id' is a key with two types; expected one "
            "type per attribute");
  EXPECT_FALSE(load_pipeline("/nonexistent/p.yaml").ok());
}

TEST(PipelineSpec, AlarmsWithDefaultsAndTheirErrors) {
  auto spec = parse_pipeline(
      "alarms:\n"
      "  hot:\n"
      "    namespace: AWS/Kinesis\n"
      "    metric: IncomingRecords\n"
      "    dimensions: {StreamName: hot-readings}\n"
      "    statistic: Sum\n"
      "    threshold: 0\n"
      "    comparison: GreaterThanThreshold\n",
      "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  ASSERT_EQ(spec->alarms.size(), 1u);
  const AlarmSpec& a = spec->alarms[0];
  EXPECT_EQ(a.name, "hot");
  EXPECT_EQ(a.ns, "AWS/Kinesis");
  EXPECT_EQ(a.dimensions.at("StreamName"), "hot-readings");
  EXPECT_EQ(a.statistic, "Sum");
  EXPECT_EQ(a.period_s, 60);
  EXPECT_EQ(a.evaluation_periods, 1);
  EXPECT_EQ(a.treat_missing_data, "missing");
  EXPECT_EQ(errors_of("alarms:\n  a:\n    namespace: N\n    metric: M\n    threshold: 1\n"
                      "    comparison: Bigger\n"),
            "p.yaml:6:17: alarms.a.comparison: expected GreaterThanOrEqualToThreshold, "
            "GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold, found 'Bigger'");
  const std::string many = errors_of(
      "alarms:\n  a:\n    namespace: N\n    period_seconds: 45\n    evaluation_periods: 2\n"
      "    datapoints_to_alarm: 3\n    statistc: Sum\n");
  EXPECT_NE(many.find("p.yaml:3:5: alarms.a.metric: required, expected a string"),
            std::string::npos) << many;
  EXPECT_NE(many.find("p.yaml:4:21: alarms.a.period_seconds: expected 10, 30 or a multiple of 60"),
            std::string::npos) << many;
  EXPECT_NE(many.find("p.yaml:6:26: alarms.a.datapoints_to_alarm: expected at most "
                      "evaluation_periods (2)"),
            std::string::npos) << many;
  EXPECT_NE(many.find("alarms.a.threshold: required, expected a number"), std::string::npos) << many;
  EXPECT_NE(many.find("alarms.a.comparison: required"), std::string::npos) << many;
  EXPECT_NE(many.find("p.yaml:7:5: alarms.a.statistc: unknown key; did you mean 'statistic'?"),
            std::string::npos) << many;
}

}  // namespace
}  // namespace freshet::pipeline

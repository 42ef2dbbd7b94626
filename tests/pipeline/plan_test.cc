#include "freshet/pipeline/plan.h"

#include <gtest/gtest.h>

#include "../testing/temp_dir.h"
#include "freshet/api/cloudwatch.h"
#include "freshet/delivery/delivery.h"
#include "freshet/node/node.h"
#include "freshet/objstore/object_store.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"

namespace freshet::pipeline {
namespace {

constexpr const char* kFile = R"(
streams:
  tweets: {shards: 2}
  dlq: {shards: 1, retention_hours: 48}
tables:
  attrs:
    partition_key: user_id
    sort_key: tweet_id
    indexes:
      by_lang: {partition_key: lang, sort_key: tweet_id, projection: keys_only}
buckets: [archive]
delivery_streams:
  arch:
    source: tweets
    bucket: archive
    compression: GZIP
    buffering: {size_mb: 1, interval_seconds: 60}
)";

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open(const std::string& sub = "") {
    node_.reset();
    node::NodeOptions o;
    o.listen = "127.0.0.1:0";
    o.data_dir = dir_.path() + sub;
    o.durability = "os";
    auto n = node::Node::open(o);
    ASSERT_TRUE(n.ok()) << n.error().message();
    node_ = std::move(n).value();
    t_.engine = &node_->engine();
    t_.tables = &node_->tables();
    t_.delivery = &node_->delivery();
    t_.buckets = &node_->objects();
    t_.process = &node_->process();
    t_.cloudwatch = node_->cloudwatch();
  }
  Plan planned(const std::string& text) {
    auto spec = parse_pipeline(text, "p.yaml");
    EXPECT_TRUE(spec.ok()) << spec.error().message();
    auto p = plan(*spec, t_);
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? std::move(p).value() : Plan{};
  }
  Status plan_error(const std::string& text) {
    auto spec = parse_pipeline(text, "p.yaml");
    EXPECT_TRUE(spec.ok());
    auto p = plan(*spec, t_);
    return p.ok() ? Status() : p.status();
  }

  testing::TempDir dir_;
  std::unique_ptr<node::Node> node_;
  Targets t_;
};

TEST_F(PlanTest, CreatesEverythingThenNothingChangesEvenAfterARestart) {
  Plan p = planned(kFile);
  ASSERT_EQ(p.changes.size(), 5u) << p.render();
  for (const Change& c : p.changes) EXPECT_EQ(c.kind, Change::Kind::kCreate);
  EXPECT_NE(p.render().find("Plan: 5 to add, 0 to change (0 unchanged)."), std::string::npos)
      << p.render();
  ASSERT_TRUE(apply(p, t_).ok());

  auto s = node_->engine().describe_stream("us-east-1", "tweets");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->open_shard_count(), 2u);
  EXPECT_EQ(node_->engine().describe_stream("us-east-1", "dlq")->retention_hours, 48);
  auto t = node_->tables().describe_table("attrs");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->indexes.size(), 1u);
  EXPECT_EQ(t->indexes[0].projection.type, table::ProjectionType::kKeysOnly);
  EXPECT_TRUE(node_->objects().head_bucket("archive").ok());
  auto d = node_->delivery().describe("arch");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, "KinesisStreamAsSource");
  EXPECT_EQ(d->source_stream_arn, "arn:aws:kinesis:us-east-1:000000000000:stream/tweets");
  EXPECT_EQ(d->destination.compression, delivery::Compression::kGzip);
  EXPECT_TRUE(d->destination.append_delimiter);

  Plan again = planned(kFile);
  EXPECT_TRUE(again.empty()) << again.render();
  EXPECT_EQ(again.unchanged, 5);
  EXPECT_EQ(again.render(), "No changes: 5 resources already as the file says.\n");

  open();  // the same data directory, reopened
  EXPECT_TRUE(planned(kFile).empty());
}

TEST_F(PlanTest, AnEditedFileChangesOnlyWhatDiffers) {
  ASSERT_TRUE(apply(planned(kFile), t_).ok());
  std::string edited = kFile;
  edited.replace(edited.find("{shards: 2}"), 11, "{shards: 4, enhanced_monitoring: [IncomingBytes]}");
  edited.replace(edited.find("retention_hours: 48"), 19, "retention_hours: 24");
  edited.replace(edited.find("projection: keys_only}"), 22,
                 "projection: keys_only}\n      by_user: {partition_key: user_id, sort_key: lang}");
  edited.replace(edited.find("interval_seconds: 60"), 20, "interval_seconds: 120");
  edited += "    prefix: 'out/'\n";
  Plan p = planned(edited);
  const std::string text = p.render();
  EXPECT_NE(text.find("~ stream tweets: shards 2 -> 4, enhanced monitoring none -> IncomingBytes"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("~ stream dlq: retention 48 h -> 24 h"), std::string::npos) << text;
  EXPECT_NE(text.find("~ table attrs: add index by_user (user_id S, lang S)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("~ delivery stream arch: prefix '' -> 'out/', buffering 1 MB/60 s -> 1 MB/120 s"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Plan: 0 to add, 4 to change (1 unchanged)."), std::string::npos) << text;
  ASSERT_TRUE(apply(p, t_).ok());
  EXPECT_EQ(node_->engine().describe_stream("us-east-1", "tweets")->open_shard_count(), 4u);
  EXPECT_EQ(node_->engine().describe_stream("us-east-1", "dlq")->retention_hours, 24);
  EXPECT_EQ(node_->tables().describe_table("attrs")->indexes.size(), 2u);
  EXPECT_EQ(node_->delivery().describe("arch")->destination.prefix, "out/");
  EXPECT_EQ(node_->delivery().describe("arch")->version, 2u);
  EXPECT_TRUE(planned(edited).empty()) << planned(edited).render();

  // Removing an index from the file removes it from the table; other resources stay.
  Plan back = planned(kFile);
  EXPECT_NE(back.render().find("remove index by_user"), std::string::npos) << back.render();
}

TEST_F(PlanTest, ChangesTheServicesCannotMakeAreErrorsThatSayWhatToDo) {
  ASSERT_TRUE(apply(planned(kFile), t_).ok());
  std::string key = kFile;
  key.replace(key.find("partition_key: user_id"), 22, "partition_key: {name: user_id, type: N}");
  Status s = plan_error(key);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("a table's key cannot change"), std::string::npos)
      << s.error().message();
  std::string source = kFile;
  source.replace(source.find("source: tweets"), 14, "source: dlq");
  s = plan_error(source);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("source cannot change"), std::string::npos)
      << s.error().message();
}

TEST_F(PlanTest, ApplySaysWhichChangeFailed) {
  // 2 -> 40 shards is more than Kinesis allows in one UpdateShardCount (double at most).
  ASSERT_TRUE(apply(planned(kFile), t_).ok());
  std::string big = kFile;
  big.replace(big.find("{shards: 2}"), 11, "{shards: 40}");
  Status s = apply(planned(big), t_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message().rfind("stream tweets: ", 0), 0u) << s.error().message();
}

TEST_F(PlanTest, MappingsAreCreatedOnceAndUpdatedInPlace) {
  const std::string file = std::string(kFile) + R"(functions:
  - name: f
    kind: extract
    sink: {table: attrs}
    fields:
      - {name: user_id, path: u, required: true}
      - {name: tweet_id, path: t, required: true}
mappings:
  m: {function: f, source: tweets, batch_size: 50, on_failure: dlq}
)";
  auto spec = parse_pipeline(file, "p.yaml");
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  ASSERT_TRUE(node_->process().set_functions(spec->functions).ok());
  ASSERT_TRUE(node_->start().ok());  // mappings leave Creating once the service runs
  Plan p = planned(file);
  EXPECT_NE(p.render().find("+ mapping m (f on stream tweets, batch 50, failures to dlq)"),
            std::string::npos)
      << p.render();
  ASSERT_TRUE(apply(p, t_).ok());
  const std::string arn = "arn:aws:kinesis:us-east-1:000000000000:stream/tweets";
  auto mappings = node_->process().list_mappings("f", arn);
  ASSERT_EQ(mappings.size(), 1u);
  EXPECT_EQ(mappings[0].batch_size, 50);
  EXPECT_EQ(mappings[0].on_failure_destination, "arn:aws:kinesis:us-east-1:000000000000:stream/dlq");
  EXPECT_TRUE(planned(file).empty()) << planned(file).render();

  std::string edited = file;
  edited.replace(edited.find("batch_size: 50"), 14, "batch_size: 60");
  Plan u = planned(edited);
  EXPECT_NE(u.render().find("~ mapping m: batch size 50 -> 60"), std::string::npos) << u.render();
  Status applied = apply(u, t_);
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  EXPECT_EQ(node_->process().list_mappings("f", arn).at(0).batch_size, 60);
  EXPECT_EQ(node_->process().list_mappings("f", arn).size(), 1u);
  EXPECT_TRUE(planned(edited).empty());
}

constexpr const char* kAlarm = R"(
alarms:
  hot-readings:
    description: a sensor read over 30 degrees
    namespace: AWS/Kinesis
    metric: IncomingRecords
    dimensions: {StreamName: hot}
    statistic: Sum
    period_seconds: 60
    threshold: 0
    comparison: GreaterThanThreshold
    treat_missing_data: notBreaching
)";

// Alarms are created through the node's CloudWatch (PutMetricAlarm), seen by DescribeAlarms,
// planned as unchanged when they match, as an update naming what differs when edited, and
// kept across a restart.
TEST_F(PlanTest, AlarmsAreCreatedUpdatedAndKept) {
  ASSERT_NE(t_.cloudwatch, nullptr);
  Plan p = planned(kAlarm);
  ASSERT_EQ(p.changes.size(), 1u) << p.render();
  EXPECT_EQ(p.changes[0].resource, "alarm");
  EXPECT_EQ(p.changes[0].kind, Change::Kind::kCreate);
  EXPECT_NE(p.render().find("+ alarm hot-readings (AWS/Kinesis IncomingRecords {StreamName=hot}, "
                            "Sum over 60 s GreaterThanThreshold 0)"),
            std::string::npos)
      << p.render();
  ASSERT_TRUE(apply(p, t_).ok());

  auto described = [&]() {
    api::Document q = api::Document::make_map();
    api::Document names = api::Document::make_list();
    names.push_back("hot-readings");
    q.set("AlarmNames", std::move(names));
    auto r = t_.cloudwatch->call("DescribeAlarms", q);
    EXPECT_TRUE(std::holds_alternative<api::Document>(r));
    const api::Document* l = std::get<api::Document>(r).find("MetricAlarms");
    EXPECT_TRUE(l != nullptr && l->is_list() && l->as_list().size() == 1u);
    return l != nullptr && l->is_list() && !l->as_list().empty() ? l->as_list()[0]
                                                                  : api::Document();
  };
  api::Document a = described();
  ASSERT_TRUE(a.is_map());
  EXPECT_EQ(a.find("ComparisonOperator")->as_string(), "GreaterThanThreshold");
  EXPECT_EQ(a.find("TreatMissingData")->as_string(), "notBreaching");
  EXPECT_EQ(a.find("Statistic")->as_string(), "Sum");
  EXPECT_TRUE(planned(kAlarm).empty()) << planned(kAlarm).render();

  std::string edited = kAlarm;
  edited.replace(edited.find("threshold: 0"), 12, "threshold: 5");
  Plan u = planned(edited);
  ASSERT_EQ(u.changes.size(), 1u) << u.render();
  EXPECT_EQ(u.changes[0].kind, Change::Kind::kUpdate);
  EXPECT_NE(u.render().find("~ alarm hot-readings: threshold 0 -> 5"), std::string::npos)
      << u.render();
  ASSERT_TRUE(apply(u, t_).ok());
  EXPECT_DOUBLE_EQ(described().find("Threshold")->as_double(), 5.0);
  open();  // a restart: the alarm is still there, as the file says
  EXPECT_TRUE(planned(edited).empty()) << planned(edited).render();
}

// Every example applies to a fresh node (its functions, mappings and alarms included) and
// then plans no changes.
TEST_F(PlanTest, EveryExampleAppliesAndThenPlansNoChanges) {
  for (const char* name : {"tweets", "clickstream", "iot"}) {
    SCOPED_TRACE(name);
    open(std::string("/") + name);
    auto spec = load_pipeline(std::string(FRESHET_SOURCE_DIR "/examples/") + name + ".yaml");
    ASSERT_TRUE(spec.ok()) << spec.error().message();
    ASSERT_TRUE(node_->process().set_functions(spec->functions).ok());
    auto p = plan(*spec, t_);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_FALSE(p->empty());
    Status applied = apply(*p, t_);
    ASSERT_TRUE(applied.ok()) << applied.error().message();
    auto again = plan(*spec, t_);
    ASSERT_TRUE(again.ok()) << again.error().message();
    EXPECT_TRUE(again->empty()) << again->render();
  }
}

}  // namespace
}  // namespace freshet::pipeline

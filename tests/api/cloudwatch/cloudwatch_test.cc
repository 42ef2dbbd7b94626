#include "freshet/api/cloudwatch.h"

#include <gtest/gtest.h>

#include "../../testing/temp_dir.h"
#include "cloudwatch_internal.h"

namespace freshet::api {
namespace {

constexpr int64_t kT0 = 1'800'000'000;

struct Fixture {
  testing::TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kT0 * 1000);
  metrics::Registry registry;
  std::unique_ptr<metrics::MetricStore> store;
  std::unique_ptr<CloudWatchApi> api;
  Fixture() { open(); }
  void open() {
    api.reset();
    store.reset();
    metrics::MetricStoreOptions o;
    o.dir = dir.path() + "/metrics";
    o.clock = clock;
    o.fsync = false;
    store = std::move(metrics::MetricStore::open(o)).value();
    CloudWatchApiOptions co;
    co.clock = clock;
    co.alarms_file = dir.path() + "/alarms.json";
    api = std::move(CloudWatchApi::open(*store, registry, co)).value();
  }
  Document ok(std::string_view op, const std::string& form) {
    std::string action;
    auto in =
        decode_query_form("Action=" + std::string(op) + "&Version=2010-08-01&" + form, action);
    EXPECT_TRUE(in.ok());
    auto out = api->call(op, *in);
    if (auto* e = std::get_if<CloudWatchError>(&out)) {
      ADD_FAILURE() << op << ": " << e->code << ": " << e->message;
      return Document();
    }
    return std::get<Document>(out);
  }
  std::string error(std::string_view op, const std::string& form) {
    std::string action;
    auto in = decode_query_form(form, action);
    EXPECT_TRUE(in.ok());
    auto out = api->call(op, *in);
    if (auto* e = std::get_if<CloudWatchError>(&out)) return e->code;
    return "no error";
  }
};

TEST(CloudWatchQueryTest, DecodesMembersIntoListsAndMaps) {
  std::string action;
  auto d = decode_query_form(
      "Action=PutMetricData&Version=2010-08-01&Namespace=App%2FX&MetricData.member.2.MetricName=b"
      "&MetricData.member.1.MetricName=a&MetricData.member.1.Dimensions.member.1.Name=H"
      "&MetricData.member.1.Dimensions.member.1.Value=x+y",
      action);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(action, "PutMetricData");
  EXPECT_EQ(d->find("Namespace")->as_string(), "App/X");
  const List& l = d->find("MetricData")->as_list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].find("MetricName")->as_string(), "a");
  EXPECT_EQ(l[1].find("MetricName")->as_string(), "b");
  EXPECT_EQ(l[0].find("Dimensions")->as_list()[0].find("Value")->as_string(), "x y");
  EXPECT_FALSE(decode_query_form("A.member.0.B=1", action).ok());
  EXPECT_FALSE(decode_query_form("A=%zz", action).ok());
}

TEST(CloudWatchQueryTest, RendersXml) {
  Document out = Document::make_map();
  Document dp = Document::make_map();
  dp.set("Timestamp", Document::timestamp_ms(kT0 * 1000));
  dp.set("Sum", 2.5);
  dp.set("ExtendedStatistics", Document(Map{{"p99", 1.0}}));
  out.set("Label", "a<b").set("Datapoints", Document(List{dp}));
  const std::string xml = render_query_xml("GetMetricStatistics", out, "rid");
  EXPECT_NE(xml.find("<GetMetricStatisticsResult><Label>a&lt;b</Label><Datapoints><member>"
                     "<Timestamp>2027-01-15T08:00:00Z</Timestamp><Sum>2.5</Sum>"
                     "<ExtendedStatistics><entry><key>p99</key><value>1</value></entry>"),
            std::string::npos)
      << xml;
  EXPECT_EQ(*cloudwatch::parse_iso8601("2027-01-15T08:00:00Z"), kT0 * 1000);
  EXPECT_EQ(*cloudwatch::parse_iso8601("2027-01-15T09:00:00.250+01:00"), kT0 * 1000 + 250);
  EXPECT_FALSE(cloudwatch::parse_iso8601("2027-13-15T08:00:00Z").ok());
}

TEST(CloudWatchApiTest, PutMetricDataThenStatisticsAndMath) {
  Fixture f;
  for (int i = 0; i < 4; ++i) {
    f.ok("PutMetricData",
         "Namespace=App&MetricData.member.1.MetricName=Lat&MetricData.member.1.Unit=Milliseconds"
         "&MetricData.member.1.Timestamp=" +
             std::to_string(kT0 + 10 * i) +
             "&MetricData.member.1.Values.member.1=" + std::to_string(i + 1) +
             "&MetricData.member.1.Values.member.2=10&MetricData.member.1.Counts.member.2=3");
  }
  f.clock->advance(70'000);
  Document out = f.ok("GetMetricStatistics",
                      "Namespace=App&MetricName=Lat&StartTime=" + std::to_string(kT0) +
                          "&EndTime=" + std::to_string(kT0 + 60) +
                          "&Period=60&Statistics.member.1=Sum&Statistics.member.2=SampleCount");
  const List& dps = out.find("Datapoints")->as_list();
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_DOUBLE_EQ(dps[0].find("Sum")->as_double(), 1 + 2 + 3 + 4 + 4 * 30);
  EXPECT_DOUBLE_EQ(dps[0].find("SampleCount")->as_double(), 16);
  EXPECT_EQ(dps[0].find("Unit")->as_string(), "Milliseconds");
  Document p =
      f.ok("GetMetricStatistics", "Namespace=App&MetricName=Lat&StartTime=" + std::to_string(kT0) +
                                      "&EndTime=" + std::to_string(kT0 + 60) +
                                      "&Period=60&ExtendedStatistics.member.1=p50");
  EXPECT_NEAR(
      p.find("Datapoints")->as_list()[0].find("ExtendedStatistics")->find("p50")->as_double(), 10,
      0.2);
  Document m =
      f.ok("GetMetricData",
           "StartTime=" + std::to_string(kT0) + "&EndTime=" + std::to_string(kT0 + 40) +
               "&ScanBy=TimestampAscending"
               "&MetricDataQueries.member.1.Id=m&MetricDataQueries.member.1.ReturnData=false"
               "&MetricDataQueries.member.1.MetricStat.Metric.Namespace=App"
               "&MetricDataQueries.member.1.MetricStat.Metric.MetricName=Lat"
               "&MetricDataQueries.member.1.MetricStat.Period=10"
               "&MetricDataQueries.member.1.MetricStat.Stat=Maximum"
               "&MetricDataQueries.member.2.Id=e&MetricDataQueries.member.2.Expression="
               "FILL(m%2C0)*2%2BRATE(m)*0");
  const List& r = m.find("MetricDataResults")->as_list();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].find("Id")->as_string(), "e");
  const List& values = r[0].find("Values")->as_list();
  ASSERT_EQ(values.size(), 3u);  // RATE drops the first point
  EXPECT_DOUBLE_EQ(values[0].as_double(), 20);

  EXPECT_EQ(f.error("PutMetricData",
                    "Namespace=AWS/Kinesis&MetricData.member.1.MetricName=a"
                    "&MetricData.member.1.Value=1"),
            "InvalidParameterValue");
  EXPECT_EQ(f.error("PutMetricData",
                    "Namespace=App&MetricData.member.1.MetricName=a"
                    "&MetricData.member.1.Value=1"
                    "&MetricData.member.1.StatisticValues.Sum=1"),
            "InvalidParameterCombination");
  EXPECT_EQ(f.error("GetMetricStatistics", "Namespace=App&MetricName=Lat"), "MissingParameter");
  EXPECT_EQ(f.error("GetMetricStatistics",
                    "Namespace=App&MetricName=Lat&StartTime=0&EndTime="
                    "100000&Period=1&Statistics.member.1=Sum"),
            "InvalidParameterCombination");
  EXPECT_EQ(f.error("Nope", ""), "InvalidAction");
  Document lm = f.ok("ListMetrics", "Namespace=App");
  EXPECT_EQ(lm.find("Metrics")->as_list().size(), 1u);
}

TEST(CloudWatchApiTest, AlarmsTransitionAndSurviveRestart) {
  Fixture f;
  f.ok("PutMetricAlarm",
       "AlarmName=hot&Namespace=App&MetricName=Q&Statistic=Sum&Period=10&EvaluationPeriods=2"
       "&DatapointsToAlarm=2&Threshold=5&ComparisonOperator=GreaterThanThreshold"
       "&TreatMissingData=notBreaching");
  auto state = [&] {
    Document d = f.ok("DescribeAlarms", "AlarmNames.member.1=hot");
    return d.find("MetricAlarms")->as_list()[0].find("StateValue")->as_string();
  };
  EXPECT_EQ(state(), "INSUFFICIENT_DATA");
  f.clock->advance(10'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(state(), "OK");  // missing data is not breaching
  for (int i = 0; i < 20; ++i) {
    const int64_t now = f.clock->now_ms() / 1000;
    f.ok("PutMetricData",
         "Namespace=App&MetricData.member.1.MetricName=Q"
         "&MetricData.member.1.Value=1&MetricData.member.1.Timestamp=" +
             std::to_string(now));
    f.clock->advance(1000);
    f.api->evaluate_alarms();
  }
  EXPECT_EQ(state(), "ALARM");
  Document h = f.ok("DescribeAlarmHistory", "AlarmName=hot&HistoryItemType=StateUpdate");
  ASSERT_EQ(h.find("AlarmHistoryItems")->as_list().size(), 2u);
  EXPECT_EQ(h.find("AlarmHistoryItems")->as_list()[0].find("HistorySummary")->as_string(),
            "Alarm updated from OK to ALARM");
  f.open();  // a restart keeps alarms and history
  EXPECT_EQ(state(), "ALARM");
  f.ok("SetAlarmState", "AlarmName=hot&StateValue=OK&StateReason=test");
  EXPECT_EQ(state(), "OK");
  Document fm = f.ok("DescribeAlarmsForMetric", "Namespace=App&MetricName=Q");
  EXPECT_EQ(fm.find("MetricAlarms")->as_list().size(), 1u);
  EXPECT_EQ(f.error("DeleteAlarms", "AlarmNames.member.1=nope"), "ResourceNotFound");
  f.ok("DeleteAlarms", "AlarmNames.member.1=hot");
  EXPECT_EQ(f.ok("DescribeAlarms", "").find("MetricAlarms")->as_list().size(), 0u);
}

}  // namespace
}  // namespace freshet::api

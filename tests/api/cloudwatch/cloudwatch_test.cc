#include "freshet/api/cloudwatch.h"

#include <gtest/gtest.h>

#include <map>

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

// An alarm on metric math (Metrics: two MetricStats and an expression) and a composite alarm
// over it and a plain alarm, evaluated with a manual clock; both survive a restart.
// ActionsSuppressor: on entering ALARM a composite waits WaitPeriod for the suppressor;
// the suppressor in ALARM suppresses; after it leaves, ExtensionPeriod; kept across a restart.
TEST(CloudWatchApiTest, CompositeActionsSuppressor) {
  Fixture f;
  for (const char* n : {"child", "maintenance"}) {
    f.ok("PutMetricAlarm", std::string("AlarmName=") + n + "&Namespace=App&MetricName=" + n +
                               "&Statistic=Sum&Period=10&EvaluationPeriods=1&Threshold=1"
                               "&ComparisonOperator=GreaterThanThreshold&TreatMissingData=ignore");
  }
  EXPECT_EQ(f.error("PutCompositeAlarm",
                    "AlarmName=c&AlarmRule=ALARM(child)&ActionsSuppressor=maintenance"),
            "MissingParameter");
  EXPECT_EQ(f.error("PutCompositeAlarm",
                    "AlarmName=c&AlarmRule=ALARM(child)&ActionsSuppressorWaitPeriod=10"),
            "InvalidParameterCombination");
  EXPECT_EQ(f.error("PutCompositeAlarm",
                    "AlarmName=c&AlarmRule=ALARM(child)&ActionsSuppressor=nope"
                    "&ActionsSuppressorWaitPeriod=10&ActionsSuppressorExtensionPeriod=10"),
            "InvalidParameterValue");
  EXPECT_EQ(f.error("PutCompositeAlarm",
                    "AlarmName=c&AlarmRule=ALARM(child)&ActionsSuppressor=maintenance"
                    "&ActionsSuppressorWaitPeriod=-1&ActionsSuppressorExtensionPeriod=10"),
            "InvalidParameterValue");
  const std::string arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:maintenance";
  f.ok("PutCompositeAlarm",
       "AlarmName=c&AlarmRule=ALARM(child)&ActionsSuppressor=arn%3Aaws%3Acloudwatch%3Aus-east-1"
       "%3A000000000000%3Aalarm%3Amaintenance&ActionsSuppressorWaitPeriod=30"
       "&ActionsSuppressorExtensionPeriod=20");
  auto composite = [&] {
    Document d = f.ok("DescribeAlarms", "AlarmTypes.member.1=CompositeAlarm");
    return d.find("CompositeAlarms")->as_list().at(0);
  };
  auto by = [&] {
    const Document a = composite();
    const Document* b = a.find("ActionsSuppressedBy");
    return b ? b->as_string() : std::string("-");
  };
  EXPECT_EQ(composite().find("ActionsSuppressor")->as_string(), arn);
  EXPECT_EQ(composite().find("ActionsSuppressorWaitPeriod")->as_int(), 30);
  EXPECT_EQ(composite().find("ActionsSuppressorExtensionPeriod")->as_int(), 20);
  EXPECT_EQ(by(), "-");
  // The child goes into ALARM: the composite waits up to 30 s for the suppressor.
  f.ok("SetAlarmState", "AlarmName=child&StateValue=ALARM&StateReason=test");
  f.api->evaluate_alarms();
  EXPECT_EQ(composite().find("StateValue")->as_string(), "ALARM");
  EXPECT_EQ(by(), "WaitPeriod");
  EXPECT_NE(composite().find("ActionsSuppressedReason")->as_string().find("maintenance"),
            std::string::npos);
  f.clock->advance(29'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "WaitPeriod");
  f.clock->advance(2'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "-");  // waited long enough: the actions run (Freshet runs none)
  // The suppressor in ALARM suppresses; once it leaves, ExtensionPeriod for 20 s.
  f.ok("SetAlarmState", "AlarmName=maintenance&StateValue=ALARM&StateReason=test");
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "Alarm");
  f.ok("SetAlarmState", "AlarmName=maintenance&StateValue=OK&StateReason=test");
  f.clock->advance(1'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "ExtensionPeriod");
  f.open();
  EXPECT_EQ(by(), "ExtensionPeriod");
  f.clock->advance(20'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "-");
  // Outside ALARM nothing is suppressed; entering it with the suppressor in ALARM: Alarm.
  f.ok("SetAlarmState", "AlarmName=child&StateValue=OK&StateReason=test");
  f.ok("SetAlarmState", "AlarmName=maintenance&StateValue=ALARM&StateReason=test");
  f.api->evaluate_alarms();
  EXPECT_EQ(composite().find("StateValue")->as_string(), "OK");
  EXPECT_EQ(by(), "-");
  f.ok("SetAlarmState", "AlarmName=child&StateValue=ALARM&StateReason=test");
  f.api->evaluate_alarms();
  EXPECT_EQ(by(), "Alarm");
}

TEST(CloudWatchApiTest, MetricMathAndCompositeAlarms) {
  Fixture f;
  const std::string m =
      "Metrics.member.1.Id=a&Metrics.member.1.ReturnData=false"
      "&Metrics.member.1.MetricStat.Metric.Namespace=App&Metrics.member.1.MetricStat.Metric."
      "MetricName=Errors&Metrics.member.1.MetricStat.Period=10&Metrics.member.1.MetricStat.Stat=Sum"
      "&Metrics.member.2.Id=b&Metrics.member.2.ReturnData=false"
      "&Metrics.member.2.MetricStat.Metric.Namespace=App&Metrics.member.2.MetricStat.Metric."
      "MetricName=Requests&Metrics.member.2.MetricStat.Period=10&Metrics.member.2.MetricStat.Stat=Sum"
      "&Metrics.member.3.Id=rate&Metrics.member.3.Expression=100*a%2Fb&Metrics.member.3.Label=Rate";
  f.ok("PutMetricAlarm", "AlarmName=error-rate&EvaluationPeriods=1&Threshold=10"
                         "&ComparisonOperator=GreaterThanThreshold&TreatMissingData=notBreaching&" + m);
  f.ok("PutMetricAlarm",
       "AlarmName=busy&Namespace=App&MetricName=Requests&Statistic=Sum&Period=10"
       "&EvaluationPeriods=1&Threshold=50&ComparisonOperator=GreaterThanOrEqualToThreshold"
       "&TreatMissingData=notBreaching");
  // Errors: bad rules and unknown children; a metric alarm's own fields with Metrics.
  EXPECT_EQ(f.error("PutCompositeAlarm", "AlarmName=c&AlarmRule=ALARM(nope)"),
            "InvalidParameterValue");
  EXPECT_EQ(f.error("PutCompositeAlarm", "AlarmName=c&AlarmRule=ALARM(busy)+AND"),
            "InvalidParameterValue");
  EXPECT_EQ(f.error("PutCompositeAlarm", "AlarmName=c"), "MissingParameter");
  EXPECT_EQ(f.error("PutMetricAlarm", "AlarmName=x&EvaluationPeriods=1&Threshold=1"
                                      "&ComparisonOperator=GreaterThanThreshold&Namespace=App&" + m),
            "InvalidParameterCombination");
  EXPECT_EQ(f.error("PutMetricAlarm",
                    "AlarmName=x&EvaluationPeriods=1&Threshold=1&ComparisonOperator="
                    "GreaterThanThreshold&Metrics.member.1.Id=a&Metrics.member.1.Expression=nope(1)"
                    "&Metrics.member.1.Period=10"),
            "InvalidParameterValue");
  f.ok("PutCompositeAlarm",
       "AlarmName=page&AlarmRule=ALARM(%22error-rate%22)+AND+NOT+ALARM(busy)"
       "&AlarmActions.member.1=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Apage");
  // A name keeps its type: no metric alarm over a composite, and the reverse.
  EXPECT_EQ(f.error("PutMetricAlarm",
                    "AlarmName=page&Namespace=App&MetricName=Q&Statistic=Sum&Period=10"
                    "&EvaluationPeriods=1&Threshold=1&ComparisonOperator=GreaterThanThreshold"),
            "InvalidParameterValue");
  EXPECT_EQ(f.error("PutCompositeAlarm", "AlarmName=busy&AlarmRule=TRUE"), "InvalidParameterValue");
  auto states = [&] {
    Document d = f.ok("DescribeAlarms", "AlarmTypes.member.1=MetricAlarm&AlarmTypes.member.2=CompositeAlarm");
    std::map<std::string, std::string> out;
    for (const char* k : {"MetricAlarms", "CompositeAlarms"}) {
      for (const Document& a : d.find(k)->as_list()) {
        out[a.find("AlarmName")->as_string()] = a.find("StateValue")->as_string();
      }
    }
    return out;
  };
  using S = std::map<std::string, std::string>;
  // The composite is evaluated at once: its children are not in ALARM.
  EXPECT_EQ(states(), (S{{"busy", "INSUFFICIENT_DATA"}, {"error-rate", "INSUFFICIENT_DATA"}, {"page", "OK"}}));
  // Only metric alarms without AlarmTypes; the composite with its rule.
  Document plain = f.ok("DescribeAlarms", "");
  EXPECT_EQ(plain.find("MetricAlarms")->as_list().size(), 2u);
  EXPECT_TRUE(plain.find("CompositeAlarms")->as_list().empty());
  Document comp = f.ok("DescribeAlarms", "AlarmTypes.member.1=CompositeAlarm");
  ASSERT_EQ(comp.find("CompositeAlarms")->as_list().size(), 1u);
  EXPECT_EQ(comp.find("CompositeAlarms")->as_list()[0].find("AlarmRule")->as_string(),
            "ALARM(\"error-rate\") AND NOT ALARM(busy)");
  Document math = f.ok("DescribeAlarms", "AlarmNames.member.1=error-rate");
  const Document& ma = math.find("MetricAlarms")->as_list()[0];
  EXPECT_EQ(ma.find("Metrics")->as_list().size(), 3u);
  EXPECT_EQ(ma.find("Metrics")->as_list()[0].find("MetricStat")->find("Period")->as_int(), 10);
  EXPECT_FALSE(ma.find("Metrics")->as_list()[0].find("ReturnData")->as_bool());
  EXPECT_EQ(ma.find("MetricName"), nullptr);

  // One period with 20 requests and 4 errors: 20% > 10%: error-rate in ALARM, busy OK.
  auto put = [&](const char* name, int value) {
    f.ok("PutMetricData", "Namespace=App&MetricData.member.1.MetricName=" + std::string(name) +
                              "&MetricData.member.1.Value=" + std::to_string(value) +
                              "&MetricData.member.1.Timestamp=" +
                              std::to_string(f.clock->now_ms() / 1000));
  };
  put("Requests", 20);
  put("Errors", 4);
  f.clock->advance(10'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(states(), (S{{"busy", "OK"}, {"error-rate", "ALARM"}, {"page", "ALARM"}}));
  Document reason = f.ok("DescribeAlarms", "AlarmNames.member.1=error-rate");
  EXPECT_NE(reason.find("MetricAlarms")->as_list()[0].find("StateReason")->as_string().find("[20 ("),
            std::string::npos);
  // 60 requests, 7 errors: 11.7% still over, but busy is in ALARM: the composite goes OK.
  put("Requests", 60);
  put("Errors", 7);
  f.clock->advance(10'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(states(), (S{{"busy", "ALARM"}, {"error-rate", "ALARM"}, {"page", "OK"}}));
  // 100 requests, 1 error: 1%: the math alarm goes OK.
  put("Requests", 100);
  put("Errors", 1);
  f.clock->advance(10'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(states()["error-rate"], "OK");
  Document h = f.ok("DescribeAlarmHistory", "AlarmName=page&HistoryItemType=StateUpdate");
  ASSERT_EQ(h.find("AlarmHistoryItems")->as_list().size(), 3u);
  EXPECT_EQ(h.find("AlarmHistoryItems")->as_list()[0].find("HistorySummary")->as_string(),
            "Alarm updated from ALARM to OK");
  const S before = states();
  f.open();  // definitions and states survive a restart
  EXPECT_EQ(states(), before);
  f.ok("SetAlarmState", "AlarmName=error-rate&StateValue=ALARM&StateReason=test");
  f.clock->advance(1'000);
  f.api->evaluate_alarms();
  EXPECT_EQ(states()["page"], "OK");  // busy still in ALARM
  f.ok("DeleteAlarms", "AlarmNames.member.1=page");
  EXPECT_TRUE(f.ok("DescribeAlarms", "AlarmTypes.member.1=CompositeAlarm")
                  .find("CompositeAlarms")->as_list().empty());
}

}  // namespace
}  // namespace freshet::api

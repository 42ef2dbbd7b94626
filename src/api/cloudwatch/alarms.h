// Metric alarms (on one metric, or on metric math: Metrics), composite alarms (AlarmRule over
// other alarms' states): their definitions, state, history and evaluation.
//
// Alarms are kept in memory and written to one JSON file (replaced atomically: temp file,
// fsync, rename, fsync of the directory) on every change of definition or state; history
// keeps the newest 10,000 items. evaluate() runs once a second on the owner's thread: each
// alarm is evaluated when one of its periods has ended, over its last EvaluationPeriods
// periods, with DatapointsToAlarm and TreatMissingData as CloudWatch applies them. An alarm
// on metric math gets its values from GetMetricData (the `metric_data` function given to
// open(), called without mu_'s protection being needed: it reads only the store). Composite
// alarms are evaluated after the metric alarms of the same pass: ALARM when the rule is true,
// else OK.
//
// Threads: every method may be called from any thread; mu_ guards all state and the file.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/api/cloudwatch.h"
#include "freshet/metrics/store.h"

namespace freshet::api::cloudwatch {

class AlarmBook {
 public:
  // GetMetricData: MetricDataQueries, StartTime, EndTime, ScanBy in; MetricDataResults out.
  using MetricData = std::function<CloudWatchApi::Outcome(const Document&)>;
  static Result<std::unique_ptr<AlarmBook>> open(metrics::MetricStore& store, std::string file,
                                                 std::string region, std::string account,
                                                 std::shared_ptr<const Clock> clock,
                                                 MetricData metric_data = {});
  static const std::vector<std::string_view>& operations();
  bool handles(std::string_view op) const;
  CloudWatchApi::Outcome call(std::string_view op, const Document& in);
  void evaluate();

  struct Alarm {
    std::string name, description;
    metrics::SeriesKey metric;
    std::string statistic, extended_statistic, unit;
    int64_t period = 60;
    int64_t evaluation_periods = 1;
    int64_t datapoints_to_alarm = 1;
    double threshold = 0;
    std::string comparison;
    std::string treat_missing = "missing";
    bool actions_enabled = true;
    std::vector<std::string> ok_actions, alarm_actions, insufficient_actions;
    std::string state = "INSUFFICIENT_DATA";
    std::string state_reason = "Unchecked: Initial alarm creation";
    std::string state_reason_data;
    int64_t state_updated_ms = 0;
    int64_t config_updated_ms = 0;
    int64_t evaluated_to = 0;  // end of the last evaluated window (seconds)
    Document metrics;          // metric math alarms: PutMetricAlarm's Metrics (a list), else null
    bool composite = false;    // a composite alarm: rule, no metric
    std::string rule;          // AlarmRule
    // A composite's ActionsSuppressor (a name or an ARN, as given) and its periods, and
    // whether its actions are suppressed now: "" (no), "WaitPeriod", "Alarm" or
    // "ExtensionPeriod" (until suppressed_until_ms for the two periods).
    std::string suppressor;
    int64_t suppressor_wait_s = 0;
    int64_t suppressor_extension_s = 0;
    std::string suppressed_by;
    std::string suppressed_reason;
    int64_t suppressed_until_ms = 0;
  };
  struct HistoryItem {
    std::string alarm;
    int64_t t_ms = 0;
    std::string type;  // ConfigurationUpdate, StateUpdate, Action
    std::string summary;
    std::string data;
  };

 private:
  AlarmBook(metrics::MetricStore& store, std::string file, std::string region, std::string account,
            std::shared_ptr<const Clock> clock, MetricData metric_data);
  Status load();
  Status save_locked();
  // DescribeAlarms' members of an alarm: those of both types, then each type's own.
  Document common_members(const Alarm& a) const;
  Document alarm_document(const Alarm& a) const;
  void set_state_locked(Alarm& a, std::string state, std::string reason, std::string data);
  void evaluate_locked(Alarm& a, int64_t now_s);
  // The values of a metric math alarm's periods [start, end), by period index.
  void math_values_locked(const Alarm& a, int64_t start, int64_t end,
                          std::vector<std::optional<double>>& values);
  void evaluate_composite_locked(Alarm& a);
  // Moves a composite's action suppression on (CloudWatch's ActionsSuppressor): on entering
  // ALARM, suppressed by the suppressor's ALARM or for WaitPeriod while waiting for it; when
  // the suppressor leaves ALARM, for ExtensionPeriod; never outside ALARM. Freshet runs no
  // actions: the state is what DescribeAlarms reports. True if it changed.
  // REQUIRES: mu_ held.
  bool suppression_locked(Alarm& a, bool entered_alarm, int64_t now_ms);
  // Stores a new or updated definition (an update keeps the alarm's state) with its history
  // item. nullptr and `error` past the alarm limit or if the update changes the alarm's type.
  // REQUIRES: mu_ held.
  Alarm* store_locked(Alarm a, CloudWatchError& error);
  Document composite_document(const Alarm& a) const;

  CloudWatchApi::Outcome put(const Document& in);
  CloudWatchApi::Outcome put_composite(const Document& in);
  CloudWatchApi::Outcome describe(const Document& in);
  CloudWatchApi::Outcome describe_for_metric(const Document& in);
  CloudWatchApi::Outcome remove(const Document& in);
  CloudWatchApi::Outcome set_state(const Document& in);
  CloudWatchApi::Outcome history(const Document& in);
  CloudWatchApi::Outcome enable_actions(const Document& in, bool enabled);

  metrics::MetricStore& store_;
  const std::string file_;
  const std::string region_, account_;
  std::shared_ptr<const Clock> clock_;
  const MetricData metric_data_;
  std::mutex mu_;
  std::map<std::string, Alarm> alarms_;  // GUARDED_BY(mu_)
  std::deque<HistoryItem> history_;      // GUARDED_BY(mu_); newest last
};

}  // namespace freshet::api::cloudwatch

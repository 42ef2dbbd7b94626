#include "alarms.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "cloudwatch_internal.h"
#include "freshet/api/codec.h"
#include "freshet/common/file.h"

namespace freshet::api::cloudwatch {
namespace {

constexpr size_t kMaxAlarms = 5000;
constexpr size_t kMaxHistory = 10'000;

const std::vector<std::string_view> kComparisons = {"GreaterThanOrEqualToThreshold",
                                                    "GreaterThanThreshold", "LessThanThreshold",
                                                    "LessThanOrEqualToThreshold"};
const std::vector<std::string_view> kMissing = {"breaching", "notBreaching", "ignore", "missing"};
const std::vector<std::string_view> kStates = {"OK", "ALARM", "INSUFFICIENT_DATA"};
const std::vector<std::string_view> kStats = {"SampleCount", "Average", "Sum", "Minimum",
                                              "Maximum"};

// An alarm's name from its name or its ARN (the part after ":alarm:").
std::string alarm_name_of(std::string name) {
  if (const size_t a = name.find(":alarm:"); name.starts_with("arn:") && a != std::string::npos) {
    return name.substr(a + 7);
  }
  return name;
}

bool breaches(const std::string& cmp, double v, double threshold) {
  if (cmp == "GreaterThanOrEqualToThreshold") return v >= threshold;
  if (cmp == "GreaterThanThreshold") return v > threshold;
  if (cmp == "LessThanThreshold") return v < threshold;
  return v <= threshold;
}

std::string comparison_words(const std::string& cmp) {
  if (cmp == "GreaterThanOrEqualToThreshold") return "greater than or equal to";
  if (cmp == "GreaterThanThreshold") return "greater than";
  if (cmp == "LessThanThreshold") return "less than";
  return "less than or equal to";
}

Document string_list(const std::vector<std::string>& v) {
  Document l = Document::make_list();
  for (const auto& s : v) l.push_back(s);
  return l;
}

#define CW_ASSIGN(lhs, expr)                                                 \
  auto FRESHET_CONCAT(cw_r_, __LINE__) = (expr);                             \
  if (!FRESHET_CONCAT(cw_r_, __LINE__).ok()) {                               \
    return invalid_value(FRESHET_CONCAT(cw_r_, __LINE__).error().message()); \
  }                                                                          \
  lhs = std::move(FRESHET_CONCAT(cw_r_, __LINE__)).value()

Result<std::vector<std::string>> strings(const Document& in, std::string_view key) {
  FRESHET_ASSIGN_OR_RETURN(const List* l, get_items(in, key));
  std::vector<std::string> out;
  if (l == nullptr) return out;
  for (const Document& d : *l) {
    if (!d.is_string()) {
      return Error(ErrorCode::kInvalidArgument,
                   "The parameter " + std::string(key) + " must hold strings.");
    }
    out.push_back(d.as_string());
  }
  return out;
}

// AlarmRule of a composite alarm (CloudWatch's grammar): ALARM(name), OK(name),
// INSUFFICIENT_DATA(name) (name: an alarm's name or ARN, optionally in double quotes), TRUE,
// FALSE, NOT, AND, OR (NOT binds tightest, then AND, then OR; keywords in capitals) and
// parentheses. state_of answers an alarm's state, or nullopt if there is no such alarm.
class RuleEvaluator {
 public:
  using StateOf = std::function<std::optional<std::string>(std::string_view)>;
  RuleEvaluator(std::string_view rule, StateOf state_of)
      : s_(rule), state_of_(std::move(state_of)) {}
  Result<bool> run() {
    if (s_.empty() || s_.size() > 10240) {
      return Error(ErrorCode::kInvalidArgument, "AlarmRule must be 1 to 10240 characters.");
    }
    FRESHET_ASSIGN_OR_RETURN(bool v, expr(0));
    skip_space();
    if (pos_ != s_.size()) return fail("unexpected text");
    return v;
  }
  std::vector<std::string> referenced;  // the alarm names the rule uses

 private:
  Error fail(std::string_view what) const {
    return Error(ErrorCode::kInvalidArgument, "Error in alarm rule at character " +
                                                  std::to_string(pos_ + 1) + ": " +
                                                  std::string(what) + ".");
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool keyword(std::string_view k) {
    skip_space();
    if (s_.substr(pos_, k.size()) != k) return false;
    const size_t end = pos_ + k.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) {
      return false;
    }
    pos_ = end;
    return true;
  }
  // OR of ANDs of factors; depth bounds the recursion.
  Result<bool> expr(int depth) {
    if (depth > 100) return fail("too deeply nested");
    FRESHET_ASSIGN_OR_RETURN(bool v, term(depth));
    while (keyword("OR")) {
      FRESHET_ASSIGN_OR_RETURN(bool w, term(depth));
      v = v || w;
    }
    return v;
  }
  Result<bool> term(int depth) {
    FRESHET_ASSIGN_OR_RETURN(bool v, factor(depth));
    while (keyword("AND")) {
      FRESHET_ASSIGN_OR_RETURN(bool w, factor(depth));
      v = v && w;
    }
    return v;
  }
  Result<bool> factor(int depth) {
    if (depth > 100) return fail("too deeply nested");
    if (keyword("NOT")) {
      FRESHET_ASSIGN_OR_RETURN(bool v, factor(depth + 1));
      return !v;
    }
    if (keyword("TRUE")) return true;
    if (keyword("FALSE")) return false;
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      FRESHET_ASSIGN_OR_RETURN(bool v, expr(depth + 1));
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != ')') return fail("expected )");
      ++pos_;
      return v;
    }
    for (std::string_view state : {"ALARM", "OK", "INSUFFICIENT_DATA"}) {
      if (!keyword(state)) continue;
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '(') return fail("expected ( after " + std::string(state));
      ++pos_;
      skip_space();
      std::string name;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        const size_t close = s_.find('"', pos_ + 1);
        if (close == std::string_view::npos) return fail("unterminated alarm name");
        name = std::string(s_.substr(pos_ + 1, close - pos_ - 1));
        pos_ = close + 1;
      } else {
        const size_t close = s_.find(')', pos_);
        if (close == std::string_view::npos) return fail("expected )");
        name = std::string(s_.substr(pos_, close - pos_));
        while (!name.empty() && name.back() == ' ') name.pop_back();
        pos_ = close;
      }
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != ')') return fail("expected )");
      ++pos_;
      name = alarm_name_of(std::move(name));
      if (name.empty()) return fail("an empty alarm name");
      const std::optional<std::string> st = state_of_(name);
      if (!st) {
        return Error(ErrorCode::kInvalidArgument,
                     "Could not save the composite alarm as alarms [" + name +
                         "] in the alarm rule do not exist");
      }
      referenced.push_back(name);
      return *st == state;
    }
    return fail("expected ALARM(...), OK(...), INSUFFICIENT_DATA(...), TRUE, FALSE, NOT or (");
  }

  std::string_view s_;
  const StateOf state_of_;
  size_t pos_ = 0;
};

}  // namespace

AlarmBook::AlarmBook(metrics::MetricStore& store, std::string file, std::string region,
                     std::string account, std::shared_ptr<const Clock> clock,
                     MetricData metric_data)
    : store_(store),
      file_(std::move(file)),
      region_(std::move(region)),
      account_(std::move(account)),
      clock_(std::move(clock)),
      metric_data_(std::move(metric_data)) {}

Result<std::unique_ptr<AlarmBook>> AlarmBook::open(metrics::MetricStore& store, std::string file,
                                                   std::string region, std::string account,
                                                   std::shared_ptr<const Clock> clock,
                                                   MetricData metric_data) {
  if (!clock) clock = std::make_shared<SystemClock>();
  std::unique_ptr<AlarmBook> b(new AlarmBook(store, std::move(file), std::move(region),
                                             std::move(account), clock, std::move(metric_data)));
  FRESHET_RETURN_IF_ERROR(b->load());
  return b;
}

const std::vector<std::string_view>& AlarmBook::operations() {
  static const std::vector<std::string_view> kOps = {
      "PutMetricAlarm", "DescribeAlarms",       "DescribeAlarmsForMetric", "DeleteAlarms",
      "SetAlarmState",  "DescribeAlarmHistory", "EnableAlarmActions",      "DisableAlarmActions",
      "PutCompositeAlarm"};
  return kOps;
}

bool AlarmBook::handles(std::string_view op) const {
  const auto& ops = operations();
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

CloudWatchApi::Outcome AlarmBook::call(std::string_view op, const Document& in) {
  if (op == "PutMetricAlarm") return put(in);
  if (op == "PutCompositeAlarm") return put_composite(in);
  if (op == "DescribeAlarms") return describe(in);
  if (op == "DescribeAlarmsForMetric") return describe_for_metric(in);
  if (op == "DeleteAlarms") return remove(in);
  if (op == "SetAlarmState") return set_state(in);
  if (op == "DescribeAlarmHistory") return history(in);
  if (op == "EnableAlarmActions") return enable_actions(in, true);
  return enable_actions(in, false);
}

// The members DescribeAlarms gives both types of alarm (MetricAlarm and CompositeAlarm).
Document AlarmBook::common_members(const Alarm& a) const {
  Document d = Document::make_map();
  d.set("AlarmName", a.name);
  d.set("AlarmArn", "arn:aws:cloudwatch:" + region_ + ":" + account_ + ":alarm:" + a.name);
  if (!a.description.empty()) d.set("AlarmDescription", a.description);
  d.set("AlarmConfigurationUpdatedTimestamp", Document::timestamp_ms(a.config_updated_ms));
  d.set("ActionsEnabled", a.actions_enabled);
  d.set("OKActions", string_list(a.ok_actions));
  d.set("AlarmActions", string_list(a.alarm_actions));
  d.set("InsufficientDataActions", string_list(a.insufficient_actions));
  d.set("StateValue", a.state);
  d.set("StateReason", a.state_reason);
  if (!a.state_reason_data.empty()) d.set("StateReasonData", a.state_reason_data);
  d.set("StateUpdatedTimestamp", Document::timestamp_ms(a.state_updated_ms));
  d.set("StateTransitionedTimestamp", Document::timestamp_ms(a.state_updated_ms));
  return d;
}

Document AlarmBook::alarm_document(const Alarm& a) const {
  Document d = common_members(a);
  if (a.metrics.is_list()) {
    d.set("Metrics", a.metrics);
  } else {
    d.set("MetricName", a.metric.name);
    d.set("Namespace", a.metric.ns);
    if (!a.statistic.empty()) d.set("Statistic", a.statistic);
    if (!a.extended_statistic.empty()) d.set("ExtendedStatistic", a.extended_statistic);
    Document dims = Document::make_list();
    for (const auto& x : a.metric.dims)
      dims.push_back(Document(Map{{"Name", x.name}, {"Value", x.value}}));
    d.set("Dimensions", std::move(dims));
    d.set("Period", a.period);
  }
  if (!a.unit.empty()) d.set("Unit", a.unit);
  d.set("EvaluationPeriods", a.evaluation_periods);
  d.set("DatapointsToAlarm", a.datapoints_to_alarm);
  d.set("Threshold", a.threshold);
  d.set("ComparisonOperator", a.comparison);
  d.set("TreatMissingData", a.treat_missing);
  return d;
}

Document AlarmBook::composite_document(const Alarm& a) const {
  Document d = common_members(a);
  d.set("AlarmRule", a.rule);
  if (!a.suppressor.empty()) {
    d.set("ActionsSuppressor", a.suppressor);
    d.set("ActionsSuppressorWaitPeriod", a.suppressor_wait_s);
    d.set("ActionsSuppressorExtensionPeriod", a.suppressor_extension_s);
  }
  if (!a.suppressed_by.empty()) {
    d.set("ActionsSuppressedBy", a.suppressed_by);
    d.set("ActionsSuppressedReason", a.suppressed_reason);
  }
  return d;
}

// ---- persistence ----

Status AlarmBook::load() {
  if (file_.empty()) return {};
  auto fs = posix_file_system();
  if (!fs->exists(file_)) return {};
  FRESHET_ASSIGN_OR_RETURN(auto f, fs->open(file_, OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, f->size());
  std::string text(size, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got, f->read_at(text.data(), size, 0));
  text.resize(got);
  DecodeLimits limits;
  limits.max_nodes = 5'000'000;
  limits.max_input_bytes = 256 << 20;
  FRESHET_ASSIGN_OR_RETURN(Document doc, decode_json(text, limits));
  auto num = [](const Document& d, std::string_view k) {
    auto v = get_num(d, k);
    return v.ok() && *v ? **v : 0.0;
  };
  auto str = [](const Document& d, std::string_view k) {
    auto v = get_str(d, k);
    return v.ok() && *v ? **v : std::string();
  };
  auto strs = [](const Document& d, std::string_view k) {
    auto v = strings(d, k);
    return v.ok() ? *v : std::vector<std::string>{};
  };
  if (const Document* l = doc.find("alarms"); l && l->is_list()) {
    for (const Document& d : l->as_list()) {
      Alarm a;
      a.name = str(d, "AlarmName");
      a.description = str(d, "AlarmDescription");
      a.metric.ns = str(d, "Namespace");
      a.metric.name = str(d, "MetricName");
      if (const Document* dims = d.find("Dimensions"); dims && dims->is_list()) {
        for (const Document& x : dims->as_list())
          a.metric.dims.push_back({str(x, "Name"), str(x, "Value")});
      }
      a.statistic = str(d, "Statistic");
      a.extended_statistic = str(d, "ExtendedStatistic");
      a.unit = str(d, "Unit");
      a.period = static_cast<int64_t>(num(d, "Period"));
      a.evaluation_periods = static_cast<int64_t>(num(d, "EvaluationPeriods"));
      a.datapoints_to_alarm = static_cast<int64_t>(num(d, "DatapointsToAlarm"));
      a.threshold = num(d, "Threshold");
      a.comparison = str(d, "ComparisonOperator");
      a.treat_missing = str(d, "TreatMissingData");
      auto enabled = get_flag(d, "ActionsEnabled");
      a.actions_enabled = enabled.ok() && *enabled ? **enabled : true;
      a.ok_actions = strs(d, "OKActions");
      a.alarm_actions = strs(d, "AlarmActions");
      a.insufficient_actions = strs(d, "InsufficientDataActions");
      a.state = str(d, "StateValue");
      a.state_reason = str(d, "StateReason");
      a.state_reason_data = str(d, "StateReasonData");
      a.state_updated_ms = static_cast<int64_t>(num(d, "StateUpdatedMs"));
      a.config_updated_ms = static_cast<int64_t>(num(d, "ConfigUpdatedMs"));
      if (const Document* m = d.find("Metrics"); m && m->is_list()) a.metrics = *m;
      a.rule = str(d, "AlarmRule");
      a.composite = !a.rule.empty();
      a.suppressor = str(d, "ActionsSuppressor");
      a.suppressor_wait_s = static_cast<int64_t>(num(d, "ActionsSuppressorWaitPeriod"));
      a.suppressor_extension_s = static_cast<int64_t>(num(d, "ActionsSuppressorExtensionPeriod"));
      a.suppressed_by = str(d, "ActionsSuppressedBy");
      a.suppressed_reason = str(d, "ActionsSuppressedReason");
      a.suppressed_until_ms = static_cast<int64_t>(num(d, "SuppressedUntilMs"));
      if (a.composite) {
        a.period = 60;
        a.evaluation_periods = 1;
        a.datapoints_to_alarm = 1;
      }
      if (a.name.empty() || a.period <= 0 || a.evaluation_periods <= 0) continue;
      alarms_[a.name] = std::move(a);
    }
  }
  if (const Document* l = doc.find("history"); l && l->is_list()) {
    for (const Document& d : l->as_list()) {
      history_.push_back(HistoryItem{str(d, "AlarmName"), static_cast<int64_t>(num(d, "T")),
                                     str(d, "Type"), str(d, "Summary"), str(d, "Data")});
    }
  }
  return {};
}

Status AlarmBook::save_locked() {
  if (file_.empty()) return {};
  Document doc = Document::make_map();
  Document list = Document::make_list();
  for (const auto& [name, a] : alarms_) {
    Document d = a.composite ? composite_document(a) : alarm_document(a);
    if (a.metrics.is_list()) d.set("Period", a.period);
    if (a.suppressed_until_ms != 0) d.set("SuppressedUntilMs", a.suppressed_until_ms);
    d.set("StateUpdatedMs", a.state_updated_ms);
    d.set("ConfigUpdatedMs", a.config_updated_ms);
    list.push_back(std::move(d));
  }
  doc.set("alarms", std::move(list));
  Document hist = Document::make_list();
  for (const HistoryItem& h : history_) {
    hist.push_back(Document(Map{{"AlarmName", h.alarm},
                                {"T", h.t_ms},
                                {"Type", h.type},
                                {"Summary", h.summary},
                                {"Data", h.data}}));
  }
  doc.set("history", std::move(hist));
  const std::string text = encode_json(doc);
  auto fs = posix_file_system();
  const std::string tmp = file_ + ".tmp";
  FRESHET_ASSIGN_OR_RETURN(auto f, fs->open(tmp, OpenMode::kCreate));
  FRESHET_RETURN_IF_ERROR(f->truncate(0));
  FRESHET_RETURN_IF_ERROR(f->write_at(text.data(), text.size(), 0));
  FRESHET_RETURN_IF_ERROR(f->sync());
  f.reset();
  FRESHET_RETURN_IF_ERROR(fs->rename(tmp, file_));
  const size_t slash = file_.rfind('/');
  return fs->sync_dir(slash == std::string::npos ? "." : file_.substr(0, slash));
}

void AlarmBook::set_state_locked(Alarm& a, std::string state, std::string reason,
                                 std::string data) {
  const int64_t now = clock_->now_ms();
  const std::string old = a.state;
  a.state = std::move(state);
  a.state_reason = std::move(reason);
  a.state_reason_data = std::move(data);
  a.state_updated_ms = now;
  Document hd = Document(
      Map{{"version", "1.0"},
          {"oldState", Document(Map{{"stateValue", old}})},
          {"newState", Document(Map{{"stateValue", a.state}, {"stateReason", a.state_reason}})}});
  history_.push_back(HistoryItem{a.name, now, "StateUpdate",
                                 "Alarm updated from " + old + " to " + a.state, encode_json(hd)});
  while (history_.size() > kMaxHistory) history_.pop_front();
}

// ---- evaluation ----

void AlarmBook::evaluate_locked(Alarm& a, int64_t now_s) {
  const int64_t end = now_s / a.period * a.period;
  if (end <= a.evaluated_to) return;
  a.evaluated_to = end;
  const int64_t n = a.evaluation_periods;
  const int64_t start = end - n * a.period;
  std::vector<std::optional<double>> values(static_cast<size_t>(n));
  std::vector<double> pcts;
  double pct = 0;
  if (!a.extended_statistic.empty()) {
    double v = 0;
    std::from_chars(a.extended_statistic.data() + 1,
                    a.extended_statistic.data() + a.extended_statistic.size(), v);
    pct = v;
    pcts.push_back(v);
  }
  if (a.metrics.is_list()) {
    math_values_locked(a, start, end, values);
  } else if (auto id = store_.find(a.metric)) {
    auto info = store_.info(*id);
    if (a.unit.empty() || (info && info->unit == a.unit)) {
      auto dps = store_.query(*id, start, end, a.period, pcts);
      if (dps.ok()) {
        for (const metrics::Datapoint& d : *dps) {
          const size_t k = static_cast<size_t>((d.t - start) / a.period);
          if (k >= values.size()) continue;
          double v = 0;
          const std::string& s = a.statistic;
          if (!pcts.empty()) {
            v = d.percentiles.empty() ? 0 : d.percentiles[0].second;
          } else if (s == "Sum") {
            v = d.stat.sum;
          } else if (s == "SampleCount") {
            v = d.stat.count;
          } else if (s == "Average") {
            v = d.stat.sum / d.stat.count;
          } else if (s == "Minimum") {
            v = d.stat.min;
          } else {
            v = d.stat.max;
          }
          values[k] = v;
        }
      }
    }
  }
  (void)pct;
  int64_t present = 0, breaching = 0;
  std::string points;
  for (size_t k = 0; k < values.size(); ++k) {
    if (values[k]) {
      ++present;
      if (breaches(a.comparison, *values[k], a.threshold)) ++breaching;
      if (!points.empty()) points += ", ";
      points += format_double(*values[k]) + " (" +
                iso8601((start + static_cast<int64_t>(k) * a.period) * 1000) + ")";
    } else if (a.treat_missing == "breaching") {
      ++breaching;
    }
  }
  const int64_t m = a.datapoints_to_alarm;
  std::string next;
  if (breaching >= m) {
    next = "ALARM";
  } else if (present == 0) {
    if (a.treat_missing == "ignore") return;
    if (a.treat_missing == "notBreaching" || a.treat_missing == "breaching") {
      next = "OK";
    } else {
      next = "INSUFFICIENT_DATA";
    }
  } else {
    next = "OK";
  }
  if (next == a.state) return;
  std::string reason;
  if (next == "INSUFFICIENT_DATA") {
    reason = "Insufficient Data: " + std::to_string(n) + " datapoint" +
             (n == 1 ? " was" : "s were") + " unknown.";
  } else {
    reason = "Threshold Crossed: " + std::to_string(present) + " out of the last " +
             std::to_string(n) + " datapoints [" + points + "] " +
             (next == "ALARM" ? "were " : "were not ") + comparison_words(a.comparison) +
             " the threshold (" + format_double(a.threshold) + ") (minimum " + std::to_string(m) +
             " datapoint" + (m == 1 ? "" : "s") + " for " + a.state + " -> " + next +
             " transition).";
  }
  Document data = Document(Map{{"version", "1.0"},
                               {"queryDate", iso8601(clock_->now_ms())},
                               {"startDate", iso8601(start * 1000)},
                               {"period", a.period},
                               {"threshold", a.threshold}});
  set_state_locked(a, next, reason, encode_json(data));
}

void AlarmBook::math_values_locked(const Alarm& a, int64_t start, int64_t end,
                                   std::vector<std::optional<double>>& values) {
  if (!metric_data_) return;
  Document in = Document(Map{{"MetricDataQueries", a.metrics},
                             {"StartTime", Document::timestamp_ms(start * 1000)},
                             {"EndTime", Document::timestamp_ms(end * 1000)},
                             {"ScanBy", "TimestampAscending"}});
  CloudWatchApi::Outcome o = metric_data_(in);
  const Document* out = std::get_if<Document>(&o);
  const Document* results = out != nullptr ? out->find("MetricDataResults") : nullptr;
  if (results == nullptr || !results->is_list() || results->as_list().empty()) return;
  // The one query with ReturnData (put() checked there is exactly one).
  const Document& r = results->as_list().front();
  const Document* ts = r.find("Timestamps");
  const Document* vs = r.find("Values");
  if (ts == nullptr || vs == nullptr || !ts->is_list() || !vs->is_list()) return;
  for (size_t i = 0; i < ts->as_list().size() && i < vs->as_list().size(); ++i) {
    const Document& t = ts->as_list()[i];
    const Document& v = vs->as_list()[i];
    int64_t t_s = 0;
    if (t.type() == Document::Type::kTimestamp) {
      t_s = t.as_timestamp_ms() / 1000;
    } else if (t.is_int()) {
      t_s = t.as_int();
    } else {
      continue;
    }
    if (t_s < start || t_s >= end) continue;
    const size_t k = static_cast<size_t>((t_s - start) / a.period);
    if (k >= values.size()) continue;
    if (v.is_double()) {
      values[k] = v.as_double();
    } else if (v.is_int()) {
      values[k] = static_cast<double>(v.as_int());
    }
  }
}

void AlarmBook::evaluate_composite_locked(Alarm& a) {
  std::vector<std::string> changed_children;
  auto state_of = [&](std::string_view name) -> std::optional<std::string> {
    auto it = alarms_.find(std::string(name));
    if (it == alarms_.end()) return std::nullopt;
    return it->second.state;
  };
  RuleEvaluator ev(a.rule, state_of);
  Result<bool> v = ev.run();
  if (!v.ok()) {
    // A child deleted since: the rule cannot be evaluated.
    if (a.state != "INSUFFICIENT_DATA") {
      set_state_locked(a, "INSUFFICIENT_DATA", v.error().message(), "");
    }
    return;
  }
  const std::string next = *v ? "ALARM" : "OK";
  if (next == a.state) return;
  // CloudWatch names the child alarms that triggered the change.
  std::string reason;
  std::string triggering;
  for (const std::string& n : ev.referenced) {
    const Alarm& c = alarms_.at(n);
    if (!triggering.empty()) triggering += ", ";
    triggering += "arn:aws:cloudwatch:" + region_ + ":" + account_ + ":alarm:" + n + " (" +
                  c.state + ")";
  }
  reason = "Alarm rule " + std::string(*v ? "" : "no longer ") + "evaluates to TRUE: " + a.rule +
           " [" + triggering + "]";
  Document data =
      Document(Map{{"triggeringAlarms", triggering}, {"rule", a.rule}});
  set_state_locked(a, next, reason, encode_json(data));
}

bool AlarmBook::suppression_locked(Alarm& a, bool entered_alarm, int64_t now_ms) {
  const std::string by = a.suppressed_by;
  const int64_t until = a.suppressed_until_ms;
  auto set = [&](std::string b, std::string reason, int64_t u) {
    a.suppressed_by = std::move(b);
    a.suppressed_reason = std::move(reason);
    a.suppressed_until_ms = u;
  };
  if (a.suppressor.empty() || a.state != "ALARM") {
    set("", "", 0);
  } else {
    const std::string name = alarm_name_of(a.suppressor);
    auto it = alarms_.find(name);
    const bool suppressor_alarm = it != alarms_.end() && it->second.state == "ALARM";
    if (suppressor_alarm) {
      set("Alarm", "Alarm " + name + " is in ALARM state", 0);
    } else if (entered_alarm) {
      set("WaitPeriod",
          "Actions suppressed by WaitPeriod: waiting up to " + std::to_string(a.suppressor_wait_s) +
              " s for alarm " + name + " to go into ALARM state",
          now_ms + a.suppressor_wait_s * 1000);
    } else if (a.suppressed_by == "Alarm") {
      set("ExtensionPeriod",
          "Actions suppressed by ExtensionPeriod: alarm " + name + " left ALARM state, " +
              std::to_string(a.suppressor_extension_s) + " s ago at most",
          now_ms + a.suppressor_extension_s * 1000);
    }
    if ((a.suppressed_by == "WaitPeriod" || a.suppressed_by == "ExtensionPeriod") &&
        now_ms >= a.suppressed_until_ms) {
      set("", "", 0);  // the period is over: the actions would run now
    }
  }
  return a.suppressed_by != by || a.suppressed_until_ms != until;
}

void AlarmBook::evaluate() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms() / 1000;
  bool changed = false;
  for (auto& [name, a] : alarms_) {
    if (a.composite) continue;
    const std::string before = a.state;
    evaluate_locked(a, now);
    changed = changed || a.state != before;
  }
  // Composites see this pass's metric alarm states (a composite of composites may take one
  // more pass).
  for (auto& [name, a] : alarms_) {
    if (!a.composite) continue;
    const std::string before = a.state;
    evaluate_composite_locked(a);
    const bool suppression =
        suppression_locked(a, before != "ALARM" && a.state == "ALARM", now * 1000);
    changed = changed || a.state != before || suppression;
  }
  if (changed) {
    if (Status s = save_locked(); !s.ok()) logging::warn("alarms: cannot save: {}", s.to_string());
  }
}

// ---- operations ----

CloudWatchApi::Outcome AlarmBook::put(const Document& in) {
  Alarm a;
  CW_ASSIGN(auto name, get_str(in, "AlarmName"));
  if (!name) return missing("AlarmName");
  if (name->empty() || name->size() > 255) {
    return invalid_value("The parameter AlarmName must be 1 to 255 characters.");
  }
  a.name = *name;
  CW_ASSIGN(auto desc, get_str(in, "AlarmDescription"));
  a.description = desc.value_or("");
  CW_ASSIGN(const List* math, get_items(in, "Metrics"));
  if (math != nullptr) {
    // An alarm on metric math: no single metric; the queries are GetMetricData's, exactly
    // one with ReturnData, and the alarm's period is their MetricStat period.
    for (std::string_view k : {"Namespace", "MetricName", "Statistic", "ExtendedStatistic",
                               "Dimensions", "Period", "Unit"}) {
      if (member(in, k) != nullptr) {
        return combination("The parameter " + std::string(k) +
                           " cannot be used together with Metrics.");
      }
    }
    if (math->empty() || math->size() > 20) {
      return invalid_value("The collection Metrics must have 1 to 20 members.");
    }
    int64_t returned = 0, period = 0;
    for (const Document& q : *math) {
      CW_ASSIGN(auto rd, get_flag(q, "ReturnData"));
      returned += rd.value_or(true) ? 1 : 0;
      if (const Document* ms = member(q, "MetricStat")) {
        CW_ASSIGN(auto p, get_num(*ms, "Period"));
        if (p) period = std::max(period, to_i64(*p));
      }
      CW_ASSIGN(auto qp, get_num(q, "Period"));
      if (qp && period == 0) period = to_i64(*qp);
    }
    if (returned != 1) {
      return invalid_value(
          "Exactly one element of the metrics list should return data (ReturnData).");
    }
    if (period == 0) return missing("Metrics.member.N.MetricStat.Period");
    a.period = period;
    // Typed as the model has them (Query carries every value as a string).
    a.metrics = Document::make_list();
    for (const Document& q : *math) {
      Document n = Document::make_map();
      for (std::string_view k : {"Id", "Label", "Expression", "AccountId"}) {
        CW_ASSIGN(auto v, get_str(q, k));
        if (v) n.set(std::string(k), *v);
      }
      CW_ASSIGN(auto rd, get_flag(q, "ReturnData"));
      n.set("ReturnData", rd.value_or(true));
      CW_ASSIGN(auto qp, get_num(q, "Period"));
      if (qp) n.set("Period", to_i64(*qp));
      if (const Document* ms = member(q, "MetricStat")) {
        Document m = Document::make_map();
        const Document* metric = member(*ms, "Metric");
        if (metric == nullptr) return missing("Metrics.member.N.MetricStat.Metric");
        Document md = Document::make_map();
        for (std::string_view k : {"Namespace", "MetricName"}) {
          CW_ASSIGN(auto v, get_str(*metric, k));
          if (v) md.set(std::string(k), *v);
        }
        Document dl = Document::make_list();
        CW_ASSIGN(const List* dims, get_items(*metric, "Dimensions"));
        if (dims != nullptr) {
          for (const Document& d : *dims) {
            CW_ASSIGN(auto dn, get_str(d, "Name"));
            CW_ASSIGN(auto dv, get_str(d, "Value"));
            if (!dn || !dv) return missing("Dimensions.member.Name and Value");
            dl.push_back(Document(Map{{"Name", *dn}, {"Value", *dv}}));
          }
        }
        md.set("Dimensions", std::move(dl));
        m.set("Metric", std::move(md));
        CW_ASSIGN(auto p, get_num(*ms, "Period"));
        if (p) m.set("Period", to_i64(*p));
        for (std::string_view k : {"Stat", "Unit"}) {
          CW_ASSIGN(auto v, get_str(*ms, k));
          if (v) m.set(std::string(k), *v);
        }
        n.set("MetricStat", std::move(m));
      }
      a.metrics.push_back(std::move(n));
    }
    // The queries must run: an unknown id or a bad expression fails here, not at evaluation.
    if (metric_data_) {
      const int64_t now_ms = clock_->now_ms();
      CloudWatchApi::Outcome o = metric_data_(Document(
          Map{{"MetricDataQueries", a.metrics},
              {"StartTime", Document::timestamp_ms(now_ms - period * 1000)},
              {"EndTime", Document::timestamp_ms(now_ms)}}));
      if (auto* e = std::get_if<CloudWatchError>(&o)) return *e;
    }
  }
  CW_ASSIGN(auto ns, get_str(in, "Namespace"));
  CW_ASSIGN(auto metric, get_str(in, "MetricName"));
  if (math == nullptr && !metric) return missing("MetricName");
  if (math == nullptr && !ns) return missing("Namespace");
  if (math != nullptr) ns = metric = "";
  a.metric.ns = *ns;
  a.metric.name = *metric;
  CW_ASSIGN(const List* dims, get_items(in, "Dimensions"));
  if (dims != nullptr) {
    for (const Document& d : *dims) {
      CW_ASSIGN(auto dn, get_str(d, "Name"));
      CW_ASSIGN(auto dv, get_str(d, "Value"));
      if (!dn || !dv) return missing("Dimensions.member.Name and Value");
      a.metric.dims.push_back({*dn, *dv});
    }
    std::sort(a.metric.dims.begin(), a.metric.dims.end());
  }
  CW_ASSIGN(auto stat, get_str(in, "Statistic"));
  CW_ASSIGN(auto ext, get_str(in, "ExtendedStatistic"));
  if (math == nullptr && stat.has_value() == ext.has_value()) {
    return combination("Exactly one of Statistic or ExtendedStatistic must be specified.");
  }
  if (stat && std::find(kStats.begin(), kStats.end(), *stat) == kStats.end()) {
    return invalid_value(
        "The parameter Statistic must be one of SampleCount, Average, Sum, "
        "Minimum, Maximum.");
  }
  if (ext) {
    double v = -1;
    auto r = ext->size() > 1 && (*ext)[0] == 'p'
                 ? std::from_chars(ext->data() + 1, ext->data() + ext->size(), v)
                 : std::from_chars_result{ext->data(), std::errc::invalid_argument};
    if (r.ec != std::errc() || v < 0 || v > 100) {
      return invalid_value("The value " + *ext + " for parameter ExtendedStatistic is invalid.");
    }
  }
  a.statistic = stat.value_or("");
  a.extended_statistic = ext.value_or("");
  CW_ASSIGN(auto period, get_num(in, "Period"));
  CW_ASSIGN(auto eval, get_num(in, "EvaluationPeriods"));
  CW_ASSIGN(auto dta, get_num(in, "DatapointsToAlarm"));
  CW_ASSIGN(auto threshold, get_num(in, "Threshold"));
  CW_ASSIGN(auto cmp, get_str(in, "ComparisonOperator"));
  if (!period && math == nullptr) return missing("Period");
  if (!eval) return missing("EvaluationPeriods");
  if (!threshold) return missing("Threshold");
  if (!cmp) return missing("ComparisonOperator");
  if (math == nullptr) a.period = to_i64(*period);
  if (a.period < 10 || (a.period > 60 && a.period % 60 != 0) ||
      (a.period < 60 && a.period != 10 && a.period != 30)) {
    return invalid_value("The parameter Period must be 10, 30, or a multiple of 60.");
  }
  a.evaluation_periods = to_i64(*eval);
  if (a.evaluation_periods < 1 || a.evaluation_periods * a.period > 7 * 86400) {
    return invalid_value(
        "The parameter EvaluationPeriods must be at least 1, and "
        "EvaluationPeriods times Period at most one week.");
  }
  a.datapoints_to_alarm = dta ? to_i64(*dta) : a.evaluation_periods;
  if (a.datapoints_to_alarm < 1 || a.datapoints_to_alarm > a.evaluation_periods) {
    return invalid_value("DatapointsToAlarm must be between 1 and EvaluationPeriods.");
  }
  a.threshold = *threshold;
  if (std::find(kComparisons.begin(), kComparisons.end(), *cmp) == kComparisons.end()) {
    return invalid_value("The value " + *cmp + " for parameter ComparisonOperator is invalid.");
  }
  a.comparison = *cmp;
  CW_ASSIGN(auto treat, get_str(in, "TreatMissingData"));
  if (treat && std::find(kMissing.begin(), kMissing.end(), *treat) == kMissing.end()) {
    return invalid_value("The value " + *treat + " for parameter TreatMissingData is invalid.");
  }
  a.treat_missing = treat.value_or("missing");
  CW_ASSIGN(auto enabled, get_flag(in, "ActionsEnabled"));
  a.actions_enabled = enabled.value_or(true);
  CW_ASSIGN(a.ok_actions, strings(in, "OKActions"));
  CW_ASSIGN(a.alarm_actions, strings(in, "AlarmActions"));
  CW_ASSIGN(a.insufficient_actions, strings(in, "InsufficientDataActions"));
  CW_ASSIGN(auto unit, get_str(in, "Unit"));
  a.unit = unit.value_or("");
  std::lock_guard lock(mu_);
  CloudWatchError error;
  if (store_locked(std::move(a), error) == nullptr) return error;
  if (Status s = save_locked(); !s.ok()) return internal(s.error().message());
  return Document::make_map();
}

AlarmBook::Alarm* AlarmBook::store_locked(Alarm a, CloudWatchError& error) {
  const int64_t now = clock_->now_ms();
  auto it = alarms_.find(a.name);
  if (it == alarms_.end()) {
    if (alarms_.size() >= kMaxAlarms) {
      error = limit_exceeded("The maximum number of alarms (5000) has been reached.");
      return nullptr;
    }
    a.state_updated_ms = now;
  } else {
    if (it->second.composite != a.composite) {
      error = invalid_value("The alarm " + a.name + " is a " +
                            (it->second.composite ? "composite" : "metric") + " alarm.");
      return nullptr;
    }
    // An update keeps the state; the next evaluation decides with the new definition.
    a.state = it->second.state;
    a.state_reason = it->second.state_reason;
    a.state_reason_data = it->second.state_reason_data;
    a.state_updated_ms = it->second.state_updated_ms;
  }
  a.config_updated_ms = now;
  history_.push_back(HistoryItem{
      a.name, now, "ConfigurationUpdate",
      std::string("Alarm \"") + a.name + "\" " + (it == alarms_.end() ? "created" : "updated"),
      "{}"});
  while (history_.size() > kMaxHistory) history_.pop_front();
  Alarm& stored = alarms_[a.name] = std::move(a);
  return &stored;
}

CloudWatchApi::Outcome AlarmBook::put_composite(const Document& in) {
  Alarm a;
  a.composite = true;
  CW_ASSIGN(auto name, get_str(in, "AlarmName"));
  if (!name) return missing("AlarmName");
  if (name->empty() || name->size() > 255) {
    return invalid_value("The parameter AlarmName must be 1 to 255 characters.");
  }
  a.name = *name;
  CW_ASSIGN(auto rule, get_str(in, "AlarmRule"));
  if (!rule) return missing("AlarmRule");
  a.rule = *rule;
  CW_ASSIGN(auto desc, get_str(in, "AlarmDescription"));
  a.description = desc.value_or("");
  CW_ASSIGN(auto enabled, get_flag(in, "ActionsEnabled"));
  a.actions_enabled = enabled.value_or(true);
  CW_ASSIGN(a.ok_actions, strings(in, "OKActions"));
  CW_ASSIGN(a.alarm_actions, strings(in, "AlarmActions"));
  CW_ASSIGN(a.insufficient_actions, strings(in, "InsufficientDataActions"));
  a.period = 60;
  a.evaluation_periods = a.datapoints_to_alarm = 1;
  CW_ASSIGN(auto suppressor, get_str(in, "ActionsSuppressor"));
  CW_ASSIGN(auto wait, get_num(in, "ActionsSuppressorWaitPeriod"));
  CW_ASSIGN(auto extension, get_num(in, "ActionsSuppressorExtensionPeriod"));
  if (suppressor) {
    if (!wait) return missing("ActionsSuppressorWaitPeriod");
    if (!extension) return missing("ActionsSuppressorExtensionPeriod");
    a.suppressor = *suppressor;
    a.suppressor_wait_s = to_i64(*wait);
    a.suppressor_extension_s = to_i64(*extension);
    if (a.suppressor_wait_s < 0 || a.suppressor_extension_s < 0 ||
        a.suppressor_wait_s > 86400 || a.suppressor_extension_s > 86400) {
      return invalid_value(
          "ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod must be between 0 "
          "and 86400 seconds.");
    }
  } else if (wait || extension) {
    return combination(
        "ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod require "
        "ActionsSuppressor.");
  }
  std::lock_guard lock(mu_);
  if (!a.suppressor.empty()) {
    const std::string s = alarm_name_of(a.suppressor);
    if (s == a.name || !alarms_.contains(s)) {
      return invalid_value("The ActionsSuppressor alarm " + a.suppressor + " does not exist.");
    }
  }
  // The rule must parse and name alarms that exist (not itself).
  auto state_of = [&](std::string_view n) -> std::optional<std::string> {
    if (n == a.name) return std::nullopt;
    auto it = alarms_.find(std::string(n));
    if (it == alarms_.end()) return std::nullopt;
    return it->second.state;
  };
  RuleEvaluator ev(a.rule, state_of);
  if (Result<bool> v = ev.run(); !v.ok()) return invalid_value(v.error().message());
  CloudWatchError error;
  Alarm* stored = store_locked(std::move(a), error);
  if (stored == nullptr) return error;
  const std::string before = stored->state;
  evaluate_composite_locked(*stored);  // at once: children already have states
  suppression_locked(*stored, before != "ALARM" && stored->state == "ALARM", clock_->now_ms());
  if (Status s = save_locked(); !s.ok()) return internal(s.error().message());
  return Document::make_map();
}

CloudWatchApi::Outcome AlarmBook::describe(const Document& in) {
  CW_ASSIGN(auto names, strings(in, "AlarmNames"));
  CW_ASSIGN(auto prefix, get_str(in, "AlarmNamePrefix"));
  CW_ASSIGN(auto state, get_str(in, "StateValue"));
  CW_ASSIGN(auto action_prefix, get_str(in, "ActionPrefix"));
  CW_ASSIGN(auto max, get_num(in, "MaxRecords"));
  CW_ASSIGN(auto token, get_str(in, "NextToken"));
  CW_ASSIGN(auto types, strings(in, "AlarmTypes"));
  if (!names.empty() && prefix) {
    return combination("AlarmNames and AlarmNamePrefix cannot be used together.");
  }
  if (state && std::find(kStates.begin(), kStates.end(), *state) == kStates.end()) {
    return invalid_value("The value " + *state + " for parameter StateValue is invalid.");
  }
  const size_t page = max ? static_cast<size_t>(std::clamp<int64_t>(to_i64(*max), 0, 1000000)) : 50;
  if (page < 1 || page > 100) return invalid_value("MaxRecords must be between 1 and 100.");
  size_t skip = 0;
  if (token) {
    auto r = std::from_chars(token->data(), token->data() + token->size(), skip);
    if (r.ec != std::errc()) return bad_next_token();
  }
  const bool metric_alarms =
      types.empty() || std::find(types.begin(), types.end(), "MetricAlarm") != types.end();
  const bool composite_alarms =
      std::find(types.begin(), types.end(), "CompositeAlarm") != types.end();
  for (const std::string& t : types) {
    if (t != "MetricAlarm" && t != "CompositeAlarm") {
      return invalid_value("The value " + t + " for parameter AlarmTypes is invalid.");
    }
  }
  std::lock_guard lock(mu_);
  std::vector<const Alarm*> found;
  if (metric_alarms || composite_alarms) {
    for (const auto& [name, a] : alarms_) {
      if (a.composite ? !composite_alarms : !metric_alarms) continue;
      if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
      if (prefix && !name.starts_with(*prefix)) continue;
      if (state && a.state != *state) continue;
      if (action_prefix) {
        bool any = false;
        for (const auto* l : {&a.ok_actions, &a.alarm_actions, &a.insufficient_actions}) {
          for (const auto& x : *l) any = any || x.starts_with(*action_prefix);
        }
        if (!any) continue;
      }
      found.push_back(&a);
    }
  }
  Document list = Document::make_list();
  Document composites = Document::make_list();
  for (size_t i = skip; i < found.size() && i < skip + page; ++i) {
    if (found[i]->composite) {
      composites.push_back(composite_document(*found[i]));
    } else {
      list.push_back(alarm_document(*found[i]));
    }
  }
  Document out = Document::make_map();
  out.set("CompositeAlarms", std::move(composites));
  out.set("MetricAlarms", std::move(list));
  if (skip + page < found.size()) out.set("NextToken", std::to_string(skip + page));
  return out;
}

CloudWatchApi::Outcome AlarmBook::describe_for_metric(const Document& in) {
  CW_ASSIGN(auto ns, get_str(in, "Namespace"));
  CW_ASSIGN(auto metric, get_str(in, "MetricName"));
  if (!metric) return missing("MetricName");
  if (!ns) return missing("Namespace");
  CW_ASSIGN(auto stat, get_str(in, "Statistic"));
  CW_ASSIGN(auto ext, get_str(in, "ExtendedStatistic"));
  CW_ASSIGN(auto period, get_num(in, "Period"));
  CW_ASSIGN(auto unit, get_str(in, "Unit"));
  std::vector<metrics::Dimension> dims;
  CW_ASSIGN(const List* dl, get_items(in, "Dimensions"));
  if (dl != nullptr) {
    for (const Document& d : *dl) {
      CW_ASSIGN(auto dn, get_str(d, "Name"));
      CW_ASSIGN(auto dv, get_str(d, "Value"));
      dims.push_back({dn.value_or(""), dv.value_or("")});
    }
    std::sort(dims.begin(), dims.end());
  }
  std::lock_guard lock(mu_);
  Document list = Document::make_list();
  for (const auto& [name, a] : alarms_) {
    if (a.composite || a.metrics.is_list()) continue;
    if (a.metric.ns != *ns || a.metric.name != *metric) continue;
    if (dl != nullptr && a.metric.dims != dims) continue;
    if (stat && a.statistic != *stat) continue;
    if (ext && a.extended_statistic != *ext) continue;
    if (period && a.period != to_i64(*period)) continue;
    if (unit && a.unit != *unit) continue;
    list.push_back(alarm_document(a));
  }
  Document out = Document::make_map();
  out.set("MetricAlarms", std::move(list));
  return out;
}

CloudWatchApi::Outcome AlarmBook::remove(const Document& in) {
  CW_ASSIGN(auto names, strings(in, "AlarmNames"));
  if (names.empty()) return missing("AlarmNames");
  if (names.size() > 100) return invalid_value("At most 100 AlarmNames may be given.");
  std::lock_guard lock(mu_);
  std::vector<std::string> absent;
  for (const auto& n : names) {
    if (!alarms_.count(n)) absent.push_back(n);
  }
  if (!absent.empty()) {
    std::string list;
    for (const auto& n : absent) list += (list.empty() ? "" : ", ") + n;
    return not_found("Alarms not found: [" + list + "]");
  }
  for (const auto& n : names) alarms_.erase(n);
  if (Status s = save_locked(); !s.ok()) return internal(s.error().message());
  return Document::make_map();
}

CloudWatchApi::Outcome AlarmBook::set_state(const Document& in) {
  CW_ASSIGN(auto name, get_str(in, "AlarmName"));
  CW_ASSIGN(auto state, get_str(in, "StateValue"));
  CW_ASSIGN(auto reason, get_str(in, "StateReason"));
  CW_ASSIGN(auto data, get_str(in, "StateReasonData"));
  if (!name) return missing("AlarmName");
  if (!state) return missing("StateValue");
  if (!reason) return missing("StateReason");
  if (std::find(kStates.begin(), kStates.end(), *state) == kStates.end()) {
    return invalid_value("The value " + *state + " for parameter StateValue is invalid.");
  }
  if (data && !decode_json(*data).ok()) {
    return invalid_value("The parameter StateReasonData must be JSON.");
  }
  std::lock_guard lock(mu_);
  auto it = alarms_.find(*name);
  if (it == alarms_.end()) return not_found("Alarm " + *name + " does not exist");
  if (it->second.state != *state) {
    set_state_locked(it->second, *state, *reason, data.value_or(""));
    // The next evaluation decides again (as CloudWatch does: the state holds until then).
    it->second.evaluated_to = clock_->now_ms() / 1000 / it->second.period * it->second.period;
    if (Status s = save_locked(); !s.ok()) return internal(s.error().message());
  }
  return Document::make_map();
}

CloudWatchApi::Outcome AlarmBook::history(const Document& in) {
  CW_ASSIGN(auto name, get_str(in, "AlarmName"));
  CW_ASSIGN(auto type, get_str(in, "HistoryItemType"));
  CW_ASSIGN(auto start, get_time_ms(in, "StartDate"));
  CW_ASSIGN(auto end, get_time_ms(in, "EndDate"));
  CW_ASSIGN(auto max, get_num(in, "MaxRecords"));
  CW_ASSIGN(auto token, get_str(in, "NextToken"));
  CW_ASSIGN(auto scan, get_str(in, "ScanBy"));
  const size_t page =
      max ? static_cast<size_t>(std::clamp<int64_t>(to_i64(*max), 0, 1000000)) : 100;
  if (page < 1 || page > 100) return invalid_value("MaxRecords must be between 1 and 100.");
  size_t skip = 0;
  if (token) {
    auto r = std::from_chars(token->data(), token->data() + token->size(), skip);
    if (r.ec != std::errc()) return bad_next_token();
  }
  std::lock_guard lock(mu_);
  std::vector<const HistoryItem*> found;
  for (const HistoryItem& h : history_) {
    if (name && h.alarm != *name) continue;
    if (type && h.type != *type) continue;
    if (start && h.t_ms < *start) continue;
    if (end && h.t_ms > *end) continue;
    found.push_back(&h);
  }
  if (!scan || *scan != "TimestampAscending") std::reverse(found.begin(), found.end());
  Document list = Document::make_list();
  for (size_t i = skip; i < found.size() && i < skip + page; ++i) {
    const HistoryItem& h = *found[i];
    list.push_back(Document(Map{{"AlarmName", h.alarm},
                                {"AlarmType", "MetricAlarm"},
                                {"Timestamp", Document::timestamp_ms(h.t_ms)},
                                {"HistoryItemType", h.type},
                                {"HistorySummary", h.summary},
                                {"HistoryData", h.data}}));
  }
  Document out = Document::make_map();
  out.set("AlarmHistoryItems", std::move(list));
  if (skip + page < found.size()) out.set("NextToken", std::to_string(skip + page));
  return out;
}

CloudWatchApi::Outcome AlarmBook::enable_actions(const Document& in, bool enabled) {
  CW_ASSIGN(auto names, strings(in, "AlarmNames"));
  if (names.empty()) return missing("AlarmNames");
  std::lock_guard lock(mu_);
  for (const auto& n : names) {
    auto it = alarms_.find(n);
    if (it != alarms_.end()) it->second.actions_enabled = enabled;
  }
  if (Status s = save_locked(); !s.ok()) return internal(s.error().message());
  return Document::make_map();
}

}  // namespace freshet::api::cloudwatch

#undef CW_ASSIGN  // file-local (the module may be built as one unity translation unit)

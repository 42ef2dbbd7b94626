#include "freshet/api/cloudwatch.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>

#include "alarms.h"
#include "dashboards.h"
#include "cloudwatch_internal.h"
#include "freshet/api/codec.h"

namespace freshet::api {
namespace cw = cloudwatch;
using metrics::Dimension;
using metrics::SeriesKey;

namespace cloudwatch {

const Document* member(const Document& map, std::string_view key) {
  const Document* v = map.find(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Result<std::optional<std::string>> get_str(const Document& map, std::string_view key) {
  const Document* v = member(map, key);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->as_string());
  if (v->is_int()) return std::optional<std::string>(std::to_string(v->as_int()));
  if (v->is_double()) return std::optional<std::string>(format_double(v->as_double()));
  return Error(ErrorCode::kInvalidArgument,
               "The parameter " + std::string(key) + " must be a string.");
}

Result<std::optional<double>> get_num(const Document& map, std::string_view key) {
  const Document* v = member(map, key);
  if (v == nullptr) return std::optional<double>();
  if (v->is_int()) return std::optional<double>(static_cast<double>(v->as_int()));
  if (v->is_double()) return std::optional<double>(v->as_double());
  if (v->is_string()) {
    const std::string& s = v->as_string();
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return std::optional<double>(d);
  }
  return Error(ErrorCode::kInvalidArgument,
               "The parameter " + std::string(key) + " must be a number.");
}

Result<std::optional<int64_t>> get_time_ms(const Document& map, std::string_view key) {
  const Document* v = member(map, key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_timestamp()) return std::optional<int64_t>(v->as_timestamp_ms());
  if (v->is_int()) return std::optional<int64_t>(v->as_int() * 1000);
  if (v->is_double()) return std::optional<int64_t>(to_i64(v->as_double() * 1000));
  if (v->is_string()) {
    Result<int64_t> t = parse_iso8601(v->as_string());
    if (t.ok()) return std::optional<int64_t>(*t);
  }
  return Error(ErrorCode::kInvalidArgument,
               "The parameter " + std::string(key) + " must be a timestamp.");
}

Result<std::optional<bool>> get_flag(const Document& map, std::string_view key) {
  const Document* v = member(map, key);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_bool()) return std::optional<bool>(v->as_bool());
  if (v->is_string() && (v->as_string() == "true" || v->as_string() == "false")) {
    return std::optional<bool>(v->as_string() == "true");
  }
  return Error(ErrorCode::kInvalidArgument,
               "The parameter " + std::string(key) + " must be true or false.");
}

Result<const List*> get_items(const Document& map, std::string_view key) {
  const Document* v = member(map, key);
  if (v == nullptr) return static_cast<const List*>(nullptr);
  if (v->is_list()) return &v->as_list();
  return Error(ErrorCode::kInvalidArgument,
               "The parameter " + std::string(key) + " must be a list.");
}

}  // namespace cloudwatch

namespace {

constexpr std::string_view kTarget = "GraniteServiceVersion20100801";
constexpr std::string_view kRpcPrefix = "/service/GraniteServiceVersion20100801/operation/";
constexpr int64_t kMaxGetStatisticsPoints = 1440;

const std::vector<std::string_view> kStatistics = {"SampleCount", "Average", "Sum", "Minimum",
                                                   "Maximum"};
const std::vector<std::string_view> kUnits = {"Seconds",
                                              "Microseconds",
                                              "Milliseconds",
                                              "Bytes",
                                              "Kilobytes",
                                              "Megabytes",
                                              "Gigabytes",
                                              "Terabytes",
                                              "Bits",
                                              "Kilobits",
                                              "Megabits",
                                              "Gigabits",
                                              "Terabits",
                                              "Percent",
                                              "Count",
                                              "Bytes/Second",
                                              "Kilobytes/Second",
                                              "Megabytes/Second",
                                              "Gigabytes/Second",
                                              "Terabytes/Second",
                                              "Bits/Second",
                                              "Kilobits/Second",
                                              "Megabits/Second",
                                              "Gigabits/Second",
                                              "Terabits/Second",
                                              "Count/Second",
                                              "None"};

// "p99", "p99.9" -> 99, 99.9.
std::optional<double> percentile_of(std::string_view s) {
  if (s.size() < 2 || s[0] != 'p') return std::nullopt;
  double v = 0;
  auto r = std::from_chars(s.data() + 1, s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0 || v > 100) return std::nullopt;
  return v;
}

double statistic_value(const metrics::Datapoint& d, std::string_view stat, size_t pct_index) {
  if (stat == "Sum") return d.stat.sum;
  if (stat == "SampleCount") return d.stat.count;
  if (stat == "Average") return d.stat.count > 0 ? d.stat.sum / d.stat.count : 0;
  if (stat == "Minimum") return d.stat.min;
  if (stat == "Maximum") return d.stat.max;
  return pct_index < d.percentiles.size() ? d.percentiles[pct_index].second : 0;
}

ApiError to_api_error(const CloudWatchError& e) {
  // By shape: two shapes share the code ResourceNotFound.
  static const std::map<std::string, AwsError, std::less<>> kMap = {
      {"InvalidParameterValueException", AwsError::kCwInvalidParameterValue},
      {"MissingRequiredParameterException", AwsError::kCwMissingParameter},
      {"InvalidParameterCombinationException", AwsError::kCwInvalidParameterCombination},
      {"ResourceNotFound", AwsError::kCwResourceNotFound},
      {"LimitExceededFault", AwsError::kCwLimitExceeded},
      {"InvalidNextToken", AwsError::kCwInvalidNextToken},
      {"DashboardInvalidInputError", AwsError::kCwDashboardInvalidInput},
      {"DashboardNotFoundError", AwsError::kCwDashboardNotFound},
  };
  auto it = kMap.find(e.shape);
  return ApiError{it != kMap.end() ? it->second : AwsError::kCwInternalServiceFault, e.message,
                  e.extra};
}

// Smithy RPC v2 CBOR: like encode_cbor, but timestamps are tag 1 around float64 epoch
// *seconds* (AWS CBOR 1.1, which encode_cbor speaks for Kinesis, carries milliseconds).
void cbor_head(uint8_t major, uint64_t n, std::string& out) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<char>(m | n));
    return;
  }
  int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffULL ? 4 : 8;
  out.push_back(static_cast<char>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(n >> (8 * i)));
}

void cbor_double(double v, std::string& out) {
  out.push_back(static_cast<char>(0xfb));
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(bits >> (8 * i)));
}

void rpcv2_cbor(const Document& d, std::string& out) {
  switch (d.type()) {
    case Document::Type::kNull:
      out.push_back(static_cast<char>(0xf6));
      break;
    case Document::Type::kBool:
      out.push_back(static_cast<char>(d.as_bool() ? 0xf5 : 0xf4));
      break;
    case Document::Type::kInt:
      if (d.as_int() >= 0) {
        cbor_head(0, static_cast<uint64_t>(d.as_int()), out);
      } else {
        cbor_head(1, static_cast<uint64_t>(-(d.as_int() + 1)), out);
      }
      break;
    case Document::Type::kDouble:
      cbor_double(d.as_double(), out);
      break;
    case Document::Type::kString:
      cbor_head(3, d.as_string().size(), out);
      out += d.as_string();
      break;
    case Document::Type::kBlob:
      cbor_head(2, d.as_blob().size(), out);
      out += d.as_blob();
      break;
    case Document::Type::kTimestamp:
      cbor_head(6, 1, out);
      cbor_double(static_cast<double>(d.as_timestamp_ms()) / 1000.0, out);
      break;
    case Document::Type::kList:
      cbor_head(4, d.as_list().size(), out);
      for (const Document& e : d.as_list()) rpcv2_cbor(e, out);
      break;
    case Document::Type::kMap:
      cbor_head(5, d.as_map().size(), out);
      for (const Member& m : d.as_map()) {
        cbor_head(3, m.key.size(), out);
        out += m.key;
        rpcv2_cbor(m.value, out);
      }
      break;
  }
}

std::string encode_rpcv2(const Document& d) {
  std::string out;
  rpcv2_cbor(d, out);
  return out;
}

}  // namespace

class CloudWatchApi::Impl {
 public:
  Impl(metrics::MetricStore& store, metrics::Registry& registry, CloudWatchApiOptions o)
      : store_(store), options_(std::move(o)) {
    if (!options_.clock) options_.clock = std::make_shared<SystemClock>();
    requests_ = registry.counter("freshet_cloudwatch_requests_total", {},
                                 "CloudWatch API requests (every protocol)");
    errors_ = registry.counter("freshet_cloudwatch_errors_total", {},
                               "CloudWatch API requests answered with an error");
  }

  Outcome call(std::string_view op, const Document& in);
  Outcome put_metric_data(const Document& in);
  Outcome get_metric_statistics(const Document& in);
  Outcome get_metric_data(const Document& in);
  Outcome list_metrics(const Document& in);

  // Reads Namespace/MetricName/Dimensions of a metric structure.
  Result<SeriesKey> metric_key(const Document& m, bool names_required = true);
  int64_t now_ms() const { return options_.clock->now_ms(); }

  metrics::MetricStore& store_;
  CloudWatchApiOptions options_;
  std::unique_ptr<cw::AlarmBook> alarms_;
  std::unique_ptr<cw::DashboardBook> dashboards_;
  metrics::Counter* requests_;
  metrics::Counter* errors_;
};

Result<SeriesKey> CloudWatchApi::Impl::metric_key(const Document& m, bool names_required) {
  SeriesKey k;
  FRESHET_ASSIGN_OR_RETURN(auto ns, cw::get_str(m, "Namespace"));
  FRESHET_ASSIGN_OR_RETURN(auto name, cw::get_str(m, "MetricName"));
  if (names_required && (!ns || ns->empty())) return Error(ErrorCode::kNotFound, "Namespace");
  if (names_required && (!name || name->empty())) return Error(ErrorCode::kNotFound, "MetricName");
  k.ns = ns.value_or("");
  k.name = name.value_or("");
  FRESHET_ASSIGN_OR_RETURN(const List* dims, cw::get_items(m, "Dimensions"));
  if (dims != nullptr) {
    if (dims->size() > 30) {
      return Error(ErrorCode::kInvalidArgument,
                   "The collection Dimensions must not have more than 30 members.");
    }
    for (const Document& d : *dims) {
      FRESHET_ASSIGN_OR_RETURN(auto dn, cw::get_str(d, "Name"));
      FRESHET_ASSIGN_OR_RETURN(auto dv, cw::get_str(d, "Value"));
      if (!dn || dn->empty() || dn->size() > 255) {
        return Error(ErrorCode::kInvalidArgument,
                     "The parameter Dimensions.member.Name must be 1 to 255 characters.");
      }
      if (dv && dv->size() > 1024) {
        return Error(ErrorCode::kInvalidArgument,
                     "The parameter Dimensions.member.Value must be at most 1024 characters.");
      }
      k.dims.push_back({*dn, dv.value_or("")});
    }
  }
  std::sort(k.dims.begin(), k.dims.end());
  return k;
}

namespace {
CloudWatchError from_error(const Error& e) {
  if (e.code() == ErrorCode::kNotFound) return cw::missing(e.message());
  if (e.code() == ErrorCode::kLimitExceeded) return cw::limit_exceeded(e.message());
  if (e.code() == ErrorCode::kInvalidArgument) return cw::invalid_value(e.message());
  return cw::internal(e.message());
}
}  // namespace

#define CW_ASSIGN(lhs, expr)                                    \
  auto FRESHET_CONCAT(cw_r_, __LINE__) = (expr);                \
  if (!FRESHET_CONCAT(cw_r_, __LINE__).ok()) {                  \
    return from_error(FRESHET_CONCAT(cw_r_, __LINE__).error()); \
  }                                                             \
  lhs = std::move(FRESHET_CONCAT(cw_r_, __LINE__)).value()

CloudWatchApi::Outcome CloudWatchApi::Impl::put_metric_data(const Document& in) {
  CW_ASSIGN(auto ns, cw::get_str(in, "Namespace"));
  if (!ns) return cw::missing("Namespace");
  if (ns->empty() || ns->size() > 255) {
    return cw::invalid_value("The parameter Namespace must be 1 to 255 characters.");
  }
  if (ns->starts_with("AWS/")) {
    return cw::invalid_value("The value AWS/ for parameter Namespace is invalid.");
  }
  CW_ASSIGN(const List* data, cw::get_items(in, "MetricData"));
  if (data == nullptr) return cw::missing("MetricData");
  if (data->size() > 1000) {
    return cw::invalid_value("The collection MetricData must not have a size greater than 1000.");
  }
  const int64_t now = now_ms();
  struct Item {
    uint32_t series;
    int64_t t_s;
    metrics::Stat stat;
    metrics::Sketch sketch;
  };
  std::vector<Item> items;
  for (size_t i = 0; i < data->size(); ++i) {
    const Document& d = (*data)[i];
    const std::string where = "MetricData.member." + std::to_string(i + 1);
    CW_ASSIGN(auto name, cw::get_str(d, "MetricName"));
    if (!name) return cw::missing(where + ".MetricName");
    CW_ASSIGN(auto unit, cw::get_str(d, "Unit"));
    if (unit && std::find(kUnits.begin(), kUnits.end(), *unit) == kUnits.end()) {
      return cw::invalid_value("The parameter " + where + ".Unit must be a standard unit.");
    }
    CW_ASSIGN(auto ts, cw::get_time_ms(d, "Timestamp"));
    const int64_t t = ts.value_or(now);
    if (t < now - 14 * 86'400'000LL || t > now + 2 * 3'600'000LL) {
      return cw::invalid_value("The parameter " + where +
                               ".Timestamp must specify a time no more than two weeks in the "
                               "past and no more than two hours in the future.");
    }
    CW_ASSIGN(auto value, cw::get_num(d, "Value"));
    CW_ASSIGN(const List* values, cw::get_items(d, "Values"));
    CW_ASSIGN(const List* counts, cw::get_items(d, "Counts"));
    const Document* sv = cw::member(d, "StatisticValues");
    const int given = (value ? 1 : 0) + (values ? 1 : 0) + (sv ? 1 : 0);
    if (given > 1) {
      return cw::combination("The parameters " + where + ".Value, " + where +
                             ".StatisticValues and " + where +
                             ".Values are mutually exclusive and you have specified more than "
                             "one.");
    }
    if (given == 0) {
      return cw::combination("At least one of the parameters " + where + ".Value, " + where +
                             ".StatisticValues or " + where + ".Values must be specified.");
    }
    Item item{0, t >= 0 ? t / 1000 : (t - 999) / 1000, {}, {}};
    if (value) {
      if (!std::isfinite(*value)) {
        return cw::invalid_value("The value " + cw::format_double(*value) + " for parameter " +
                                 where + ".Value is invalid.");
      }
      item.stat = metrics::Stat::of(*value);
    } else if (sv) {
      double f[4];
      const char* names[4] = {"SampleCount", "Sum", "Minimum", "Maximum"};
      for (int k = 0; k < 4; ++k) {
        CW_ASSIGN(auto x, cw::get_num(*sv, names[k]));
        if (!x) return cw::missing(where + ".StatisticValues." + names[k]);
        f[k] = *x;
      }
      if (f[0] <= 0 || f[2] > f[3]) {
        return cw::invalid_value("The parameter " + where +
                                 ".StatisticValues must have SampleCount > 0 and Minimum <= "
                                 "Maximum.");
      }
      item.stat = metrics::Stat{f[1], f[0], f[2], f[3]};
    } else {
      if (values->size() > 150) {
        return cw::invalid_value("The collection " + where +
                                 ".Values must not have a size greater than 150.");
      }
      if (counts != nullptr && counts->size() != values->size()) {
        return cw::combination("The parameters " + where + ".Values and " + where +
                               ".Counts must be of the same size.");
      }
      for (size_t k = 0; k < values->size(); ++k) {
        Document holder = Document::make_map();
        holder.set("v", (*values)[k]);
        CW_ASSIGN(auto x, cw::get_num(holder, "v"));
        double c = 1;
        if (counts != nullptr) {
          holder.set("c", (*counts)[k]);
          CW_ASSIGN(auto y, cw::get_num(holder, "c"));
          c = y.value_or(1);
        }
        if (!x || !std::isfinite(*x) || c < 0) {
          return cw::invalid_value("The parameter " + where + ".Values is invalid.");
        }
        metrics::Stat s{*x * c, c, *x, *x};
        item.stat.merge(s);
        metrics::sketch_add(
            item.sketch, *x,
            static_cast<uint32_t>(std::clamp<int64_t>(cw::to_i64(c), 0, 1'000'000'000)));
      }
      if (item.stat.empty()) continue;
    }
    SeriesKey key;
    key.ns = *ns;
    key.name = *name;
    Document holder = Document::make_map();
    holder.set("Namespace", *ns).set("MetricName", *name);
    if (const Document* dims = cw::member(d, "Dimensions")) holder.set("Dimensions", *dims);
    CW_ASSIGN(key, metric_key(holder));
    Result<uint32_t> id = store_.intern(key, unit.value_or("None"));
    if (!id.ok()) return from_error(id.error());
    item.series = *id;
    items.push_back(std::move(item));
  }
  // Acknowledged datapoints are in the store's write-ahead log before the answer.
  std::vector<metrics::MetricStore::DurableSample> durable;
  durable.reserve(items.size());
  for (Item& it : items) {
    durable.push_back({it.series, it.t_s, it.stat, std::move(it.sketch)});
  }
  if (Status s = store_.record_durable(durable); !s.ok()) return from_error(s.error());
  return Document::make_map();
}

CloudWatchApi::Outcome CloudWatchApi::Impl::get_metric_statistics(const Document& in) {
  CW_ASSIGN(SeriesKey key, metric_key(in));
  CW_ASSIGN(auto start, cw::get_time_ms(in, "StartTime"));
  CW_ASSIGN(auto end, cw::get_time_ms(in, "EndTime"));
  CW_ASSIGN(auto period, cw::get_num(in, "Period"));
  if (!start) return cw::missing("StartTime");
  if (!end) return cw::missing("EndTime");
  if (!period) return cw::missing("Period");
  const int64_t p = cw::to_i64(*period);
  if (p < 1 || static_cast<double>(p) != *period || (p > 60 && p % 60 != 0) ||
      (p < 60 && 60 % p != 0)) {
    return cw::invalid_value(
        "The parameter Period must be 1, 5, 10, 30, 60, or any multiple of 60.");
  }
  if (*start >= *end) {
    return cw::invalid_value("The parameter StartTime must be less than the parameter EndTime.");
  }
  CW_ASSIGN(const List* stats, cw::get_items(in, "Statistics"));
  CW_ASSIGN(const List* ext, cw::get_items(in, "ExtendedStatistics"));
  if ((stats == nullptr || stats->empty()) == (ext == nullptr || ext->empty())) {
    return cw::combination("Must specify either Statistics or ExtendedStatistics, but not both.");
  }
  std::vector<std::string> names;
  std::vector<double> pcts;
  for (const List* l : {stats, ext}) {
    if (l == nullptr) continue;
    for (const Document& s : *l) {
      if (!s.is_string()) return cw::invalid_value("Statistics must be strings.");
      const std::string& n = s.as_string();
      if (l == stats) {
        if (std::find(kStatistics.begin(), kStatistics.end(), n) == kStatistics.end()) {
          return cw::invalid_value("The parameter Statistics.member contains an invalid value: " +
                                   n);
        }
      } else {
        auto pv = percentile_of(n);
        if (!pv) {
          return cw::invalid_value("The value " + n +
                                   " for parameter ExtendedStatistics is not supported.");
        }
        pcts.push_back(*pv);
      }
      names.push_back(n);
    }
  }
  CW_ASSIGN(auto unit, cw::get_str(in, "Unit"));
  // Periods start at multiples of the period (CloudWatch rounds StartTime down likewise).
  const int64_t start_s = *start / 1000 / p * p;
  const int64_t end_s = (*end + 999) / 1000;
  const int64_t n = (end_s - start_s + p - 1) / p;
  if (n > kMaxGetStatisticsPoints) {
    return cw::combination("You have requested up to " + std::to_string(n) +
                           " datapoints, which exceeds the limit of 1440. You may reduce the "
                           "datapoints requested by increasing Period, or decreasing the time "
                           "range.");
  }
  Document out = Document::make_map();
  out.set("Label", key.name);
  Document points = Document::make_list();
  if (auto id = store_.find(key)) {
    auto info = store_.info(*id);
    if (!unit || (info && info->unit == *unit)) {
      CW_ASSIGN(auto dps, store_.query(*id, start_s, end_s, p, pcts));
      for (const metrics::Datapoint& d : dps) {
        Document dp = Document::make_map();
        dp.set("Timestamp", Document::timestamp_ms(d.t * 1000));
        size_t pi = 0;
        Document extm = Document::make_map();
        for (const std::string& s : names) {
          if (s[0] == 'p') {
            extm.set(s, statistic_value(d, s, pi++));
          } else {
            dp.set(s, statistic_value(d, s, 0));
          }
        }
        dp.set("Unit", info ? info->unit : "None");
        if (!pcts.empty()) dp.set("ExtendedStatistics", std::move(extm));
        points.push_back(std::move(dp));
      }
    }
  }
  out.set("Datapoints", std::move(points));
  return out;
}

CloudWatchApi::Outcome CloudWatchApi::Impl::get_metric_data(const Document& in) {
  CW_ASSIGN(const List* queries, cw::get_items(in, "MetricDataQueries"));
  if (queries == nullptr) return cw::missing("MetricDataQueries");
  if (queries->empty() || queries->size() > 500) {
    return cw::invalid_value("The collection MetricDataQueries must have 1 to 500 members.");
  }
  CW_ASSIGN(auto start, cw::get_time_ms(in, "StartTime"));
  CW_ASSIGN(auto end, cw::get_time_ms(in, "EndTime"));
  if (!start) return cw::missing("StartTime");
  if (!end) return cw::missing("EndTime");
  if (*start >= *end) {
    return cw::invalid_value("The parameter StartTime must be less than the parameter EndTime.");
  }
  CW_ASSIGN(auto scan_by, cw::get_str(in, "ScanBy"));
  const bool ascending = scan_by && *scan_by == "TimestampAscending";
  if (scan_by && *scan_by != "TimestampAscending" && *scan_by != "TimestampDescending") {
    return cw::invalid_value(
        "The parameter ScanBy must be TimestampDescending or "
        "TimestampAscending.");
  }
  CW_ASSIGN(auto max_points, cw::get_num(in, "MaxDatapoints"));
  const int64_t limit = max_points ? cw::to_i64(*max_points) : 100'800;
  if (limit < 1) return cw::invalid_value("The parameter MaxDatapoints must be positive.");
  CW_ASSIGN(auto token, cw::get_str(in, "NextToken"));
  int64_t skip = 0;
  if (token) {
    auto r = std::from_chars(token->data(), token->data() + token->size(), skip);
    if (r.ec != std::errc() || r.ptr != token->data() + token->size() || skip < 0) {
      return cw::bad_next_token();
    }
  }
  const int64_t start_s = *start / 1000;
  const int64_t end_s = (*end + 999) / 1000;

  struct Query {
    std::string id, label, expression;
    bool return_data = true;
    int64_t period = 0;
  };
  std::vector<Query> qs;
  std::map<std::string, cw::Series> named;
  std::vector<std::pair<std::string, cw::Series>> all;
  std::map<std::string, std::string> default_labels;
  for (size_t i = 0; i < queries->size(); ++i) {
    const Document& q = (*queries)[i];
    const std::string where = "MetricDataQueries.member." + std::to_string(i + 1);
    Query x;
    CW_ASSIGN(auto id, cw::get_str(q, "Id"));
    if (!id) return cw::missing(where + ".Id");
    if (id->empty() || !((*id)[0] >= 'a' && (*id)[0] <= 'z') ||
        !std::all_of(id->begin(), id->end(), [](char c) { return std::isalnum(c) || c == '_'; })) {
      return cw::invalid_value("The value " + *id + " for parameter " + where +
                               ".Id is invalid: it must start with a lowercase letter and "
                               "contain only letters, numbers and underscores.");
    }
    if (named.count(*id) ||
        std::any_of(qs.begin(), qs.end(), [&](const Query& o) { return o.id == *id; })) {
      return cw::invalid_value("The value " + *id + " for parameter " + where +
                               ".Id is not unique.");
    }
    x.id = *id;
    CW_ASSIGN(auto label, cw::get_str(q, "Label"));
    CW_ASSIGN(auto rd, cw::get_flag(q, "ReturnData"));
    x.return_data = rd.value_or(true);
    CW_ASSIGN(auto expr, cw::get_str(q, "Expression"));
    const Document* ms = cw::member(q, "MetricStat");
    if ((expr ? 1 : 0) + (ms ? 1 : 0) != 1) {
      return cw::combination("Exactly one of " + where + ".MetricStat and " + where +
                             ".Expression must be specified.");
    }
    if (ms != nullptr) {
      const Document* m = cw::member(*ms, "Metric");
      if (m == nullptr) return cw::missing(where + ".MetricStat.Metric");
      CW_ASSIGN(SeriesKey key, metric_key(*m));
      CW_ASSIGN(auto period, cw::get_num(*ms, "Period"));
      CW_ASSIGN(auto stat, cw::get_str(*ms, "Stat"));
      CW_ASSIGN(auto unit, cw::get_str(*ms, "Unit"));
      if (!period) return cw::missing(where + ".MetricStat.Period");
      if (!stat) return cw::missing(where + ".MetricStat.Stat");
      const int64_t p = cw::to_i64(*period);
      if (p < 1 || (p > 60 && p % 60 != 0) || (p < 60 && 60 % p != 0)) {
        return cw::invalid_value("The parameter " + where +
                                 ".MetricStat.Period must be 1, 5, 10, 30, 60, or any multiple "
                                 "of 60.");
      }
      std::vector<double> pcts;
      const bool known =
          std::find(kStatistics.begin(), kStatistics.end(), *stat) != kStatistics.end();
      if (!known) {
        auto pv = percentile_of(*stat);
        if (!pv) {
          return cw::invalid_value("The value " + *stat + " for parameter " + where +
                                   ".MetricStat.Stat is invalid.");
        }
        pcts.push_back(*pv);
      }
      cw::Series series;
      if (auto sid = store_.find(key)) {
        auto info = store_.info(*sid);
        if (!unit || (info && info->unit == *unit)) {
          CW_ASSIGN(auto dps, store_.query(*sid, start_s / p * p, end_s, p, pcts));
          for (const auto& d : dps) series[d.t] = statistic_value(d, *stat, 0);
        }
      }
      x.period = p;
      x.label = label.value_or(key.name);
      named[x.id] = series;
      all.emplace_back(x.label, series);
    } else {
      if (expr->empty() || expr->size() > 2048) {
        return cw::invalid_value("The parameter " + where +
                                 ".Expression must be 1 to 2048 characters.");
      }
      CW_ASSIGN(auto period, cw::get_num(q, "Period"));
      x.period = period ? cw::to_i64(*period) : 0;
      x.expression = *expr;
      x.label = label.value_or(x.id);
    }
    qs.push_back(std::move(x));
  }
  // Expressions, in order (each may use the queries before and after it that are metrics, and
  // expressions evaluated before it).
  struct Out {
    std::string id, label;
    cw::Series series;
    std::string status = "Complete";
    std::string message;
  };
  std::vector<Out> results;
  int64_t default_period = 60;
  for (const Query& q : qs) {
    if (q.expression.empty()) default_period = q.period;
  }
  for (const Query& q : qs) {
    Out o{q.id, q.label, {}, "Complete", {}};
    if (!q.expression.empty()) {
      Result<cw::MathValue> v = cw::evaluate_expression(q.expression, named, all, start_s, end_s,
                                                        q.period ? q.period : default_period);
      if (!v.ok()) {
        return cw::invalid_value("Error in expression '" + q.id + "': " + v.error().message());
      }
      if (v->scalar && v->series.empty()) {
        // A constant: one value per period of the range.
        const int64_t p = q.period ? q.period : default_period;
        for (int64_t t = start_s; t < end_s; t += std::max<int64_t>(p, 1)) o.series[t] = *v->scalar;
      } else if (!v->series.empty()) {
        o.series = v->series.front();
        if (v->series.size() > 1) {
          // Several series from one expression: each becomes its own result.
          for (size_t k = 1; k < v->series.size(); ++k) {
            if (q.return_data) {
              results.push_back(
                  Out{q.id + "_" + std::to_string(k), v->labels[k], v->series[k], "Complete", {}});
            }
          }
          if (!v->labels.empty() && q.label == q.id) o.label = v->labels.front();
        }
      }
      named[q.id] = o.series;
    }
    if (q.expression.empty()) o.series = named[q.id];
    if (q.return_data) results.push_back(std::move(o));
  }
  // Pagination over the concatenated datapoints of every result.
  Document out = Document::make_map();
  Document list = Document::make_list();
  int64_t index = 0, emitted = 0;
  bool more = false;
  for (Out& o : results) {
    Document r = Document::make_map();
    r.set("Id", o.id).set("Label", o.label);
    Document ts = Document::make_list(), vs = Document::make_list();
    std::vector<std::pair<int64_t, double>> pts(o.series.begin(), o.series.end());
    if (!ascending) std::reverse(pts.begin(), pts.end());
    bool partial = false;
    for (const auto& [t, v] : pts) {
      if (index++ < skip) continue;
      if (emitted >= limit) {
        more = true;
        partial = true;
        break;
      }
      if (!std::isfinite(v)) continue;
      ts.push_back(Document::timestamp_ms(t * 1000));
      vs.push_back(v);
      ++emitted;
    }
    r.set("Timestamps", std::move(ts)).set("Values", std::move(vs));
    r.set("StatusCode", partial ? "PartialData" : "Complete");
    r.set("Messages", Document::make_list());
    list.push_back(std::move(r));
  }
  out.set("MetricDataResults", std::move(list));
  if (more) out.set("NextToken", std::to_string(skip + emitted));
  out.set("Messages", Document::make_list());
  return out;
}

CloudWatchApi::Outcome CloudWatchApi::Impl::list_metrics(const Document& in) {
  CW_ASSIGN(SeriesKey filter, metric_key(in, /*names_required=*/false));
  CW_ASSIGN(auto recent, cw::get_str(in, "RecentlyActive"));
  if (recent && *recent != "PT3H") {
    return cw::invalid_value("The parameter RecentlyActive must be PT3H.");
  }
  CW_ASSIGN(auto token, cw::get_str(in, "NextToken"));
  size_t skip = 0;
  if (token) {
    auto r = std::from_chars(token->data(), token->data() + token->size(), skip);
    if (r.ec != std::errc() || r.ptr != token->data() + token->size()) return cw::bad_next_token();
  }
  const int64_t since = recent ? now_ms() / 1000 - 3 * 3600 : 0;
  std::vector<metrics::SeriesInfo> found = store_.list(filter.ns, filter.name, filter.dims, since);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key.ns, a.key.name, a.key.dims) < std::tie(b.key.ns, b.key.name, b.key.dims);
  });
  constexpr size_t kPage = 500;
  Document list = Document::make_list();
  for (size_t i = skip; i < found.size() && i < skip + kPage; ++i) {
    const auto& s = found[i];
    Document m = Document::make_map();
    m.set("Namespace", s.key.ns).set("MetricName", s.key.name);
    Document dims = Document::make_list();
    for (const Dimension& d : s.key.dims) {
      dims.push_back(Document(Map{{"Name", d.name}, {"Value", d.value}}));
    }
    m.set("Dimensions", std::move(dims));
    list.push_back(std::move(m));
  }
  Document out = Document::make_map();
  out.set("Metrics", std::move(list));
  if (skip + kPage < found.size()) out.set("NextToken", std::to_string(skip + kPage));
  return out;
}

CloudWatchApi::Outcome CloudWatchApi::Impl::call(std::string_view op, const Document& in) {
  requests_->inc();
  Outcome o = [&]() -> Outcome {
    if (!in.is_map()) return cw::invalid_value("The request body must be a structure.");
    if (op == "PutMetricData") return put_metric_data(in);
    if (op == "GetMetricStatistics") return get_metric_statistics(in);
    if (op == "GetMetricData") return get_metric_data(in);
    if (op == "ListMetrics") return list_metrics(in);
    if (alarms_ && alarms_->handles(op)) return alarms_->call(op, in);
    if (dashboards_ && dashboards_->handles(op)) return dashboards_->call(op, in);
    return CloudWatchError{
        "InvalidAction", "InvalidAction", 400,
        "Could not find operation " + std::string(op) + " for version 2010-08-01"};
  }();
  if (std::holds_alternative<CloudWatchError>(o)) errors_->inc();
  return o;
}

// ---- CloudWatchApi ----

CloudWatchApi::CloudWatchApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CloudWatchApi::~CloudWatchApi() = default;

Result<std::unique_ptr<CloudWatchApi>> CloudWatchApi::open(metrics::MetricStore& store,
                                                           metrics::Registry& registry,
                                                           CloudWatchApiOptions options) {
  auto impl = std::make_unique<Impl>(store, registry, std::move(options));
  // Alarms on metric math evaluate through GetMetricData (Impl outlives its AlarmBook).
  Impl* raw = impl.get();
  FRESHET_ASSIGN_OR_RETURN(
      impl->alarms_,
      cw::AlarmBook::open(store, impl->options_.alarms_file, impl->options_.region,
                          impl->options_.account_id, impl->options_.clock,
                          [raw](const Document& in) { return raw->get_metric_data(in); }));
  FRESHET_ASSIGN_OR_RETURN(impl->dashboards_,
                           cw::DashboardBook::open(impl->options_.dashboards_file,
                                                   impl->options_.account_id,
                                                   impl->options_.clock));
  return std::unique_ptr<CloudWatchApi>(new CloudWatchApi(std::move(impl)));
}

CloudWatchApi::Outcome CloudWatchApi::call(std::string_view operation, const Document& input) {
  return impl_->call(operation, input);
}

void CloudWatchApi::evaluate_alarms() {
  if (impl_->alarms_) impl_->alarms_->evaluate();
}

Status CloudWatchApi::register_json(ServiceRegistry& services) {
  FRESHET_RETURN_IF_ERROR(services.add_service(std::string(kTarget), "cloudwatch"));
  std::vector<std::string> ops = {"PutMetricData", "GetMetricStatistics", "GetMetricData",
                                  "ListMetrics"};
  for (std::string_view op : cw::AlarmBook::operations()) ops.emplace_back(op);
  for (std::string_view op : cw::DashboardBook::operations()) ops.emplace_back(op);
  for (const std::string& op : ops) {
    FRESHET_RETURN_IF_ERROR(services.add_operation(kTarget, op, ShapeHint{},
                                                   [this, op](RequestContext& ctx) -> ApiResult {
                                                     Outcome o = impl_->call(op, ctx.input);
                                                     if (auto* e = std::get_if<CloudWatchError>(&o))
                                                       return to_api_error(*e);
                                                     return std::get<Document>(std::move(o));
                                                   }));
  }
  return {};
}

std::optional<RestResponse> CloudWatchApi::handle(RestRequest& r) {
  if (r.method != "POST") return std::nullopt;
  const std::string_view path = r.target.substr(0, r.target.find('?'));
  RestResponse resp;
  if (path.starts_with(kRpcPrefix)) {
    // Smithy RPC v2 CBOR.
    const std::string op(path.substr(kRpcPrefix.size()));
    resp.headers.emplace_back("smithy-protocol", "rpc-v2-cbor");
    resp.headers.emplace_back("Content-Type", "application/cbor");
    Document input = Document::make_map();
    if (!r.body.empty()) {
      Result<Document> d = decode_cbor(r.body);
      if (!d.ok()) {
        resp.status = 400;
        resp.headers.emplace_back("x-amzn-query-error", "SerializationException;Sender");
        resp.body =
            encode_cbor(Document(Map{{"__type", "com.amazonaws.cloudwatch#SerializationException"},
                                     {"message", d.error().message()}}));
        return resp;
      }
      input = std::move(d).value();
    }
    Outcome o = impl_->call(op, input);
    if (auto* e = std::get_if<CloudWatchError>(&o)) {
      resp.status = e->status;
      resp.headers.emplace_back("x-amzn-query-error",
                                e->code + (e->sender ? ";Sender" : ";Receiver"));
      Document body(
          Map{{"__type", "com.amazonaws.cloudwatch#" + e->shape}, {"message", e->message}});
      if (e->extra.is_map()) {
        for (const Member& m : e->extra.as_map()) body.set(m.key, m.value);
      }
      resp.body = encode_cbor(body);
    } else {
      resp.body = encode_rpcv2(std::get<Document>(o));
    }
    return resp;
  }
  if (path != "/") return std::nullopt;
  const std::string_view ct = r.header("Content-Type");
  if (ct.find("application/x-www-form-urlencoded") == std::string_view::npos) return std::nullopt;
  if (r.body.find("Version=2010-08-01") == std::string::npos) return std::nullopt;
  std::string action;
  Result<Document> in = decode_query_form(r.body, action);
  resp.headers.emplace_back("Content-Type", "text/xml");
  if (!in.ok() || action.empty()) {
    CloudWatchError e =
        action.empty() ? cw::missing("Action") : cw::invalid_value(in.error().message());
    resp.status = e.status;
    resp.body = cw::render_query_error(e, r.request_id);
    return resp;
  }
  Outcome o = impl_->call(action, *in);
  if (auto* e = std::get_if<CloudWatchError>(&o)) {
    resp.status = e->status;
    resp.body = cw::render_query_error(*e, r.request_id);
  } else {
    resp.body = render_query_xml(action, std::get<Document>(o), r.request_id);
  }
  return resp;
}

}  // namespace freshet::api

#undef CW_ASSIGN  // file-local (the module may be built as one unity translation unit)

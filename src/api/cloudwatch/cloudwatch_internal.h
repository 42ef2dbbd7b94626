// Helpers shared by the CloudWatch API's files: errors, lenient member access (the Query
// protocol carries every value as a string, JSON numbers, CBOR typed values), time formats,
// metric math.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "freshet/api/cloudwatch.h"
#include "freshet/api/document.h"
#include "freshet/common/result.h"

namespace freshet::api::cloudwatch {

inline CloudWatchError invalid_value(std::string message) {
  return {"InvalidParameterValue", "InvalidParameterValueException", 400, std::move(message)};
}
inline CloudWatchError missing(std::string_view parameter) {
  return {"MissingParameter", "MissingRequiredParameterException", 400,
          "The parameter " + std::string(parameter) + " is required."};
}
inline CloudWatchError combination(std::string message) {
  return {"InvalidParameterCombination", "InvalidParameterCombinationException", 400,
          std::move(message)};
}
inline CloudWatchError not_found(std::string message) {
  return {"ResourceNotFound", "ResourceNotFound", 404, std::move(message)};
}
inline CloudWatchError limit_exceeded(std::string message) {
  return {"LimitExceeded", "LimitExceededFault", 400, std::move(message)};
}
inline CloudWatchError bad_next_token() {
  return {"InvalidNextToken", "InvalidNextToken", 400, "The service cannot use this NextToken."};
}
inline CloudWatchError internal(std::string message) {
  return {"InternalServiceError", "InternalServiceFault", 500, std::move(message), false};
}

// A member that is present and not null, else nullptr.
const Document* member(const Document& map, std::string_view key);
// Strings (and numbers rendered as text).
Result<std::optional<std::string>> get_str(const Document& map, std::string_view key);
// Numbers, or strings holding one.
Result<std::optional<double>> get_num(const Document& map, std::string_view key);
// Timestamps: typed (CBOR), epoch seconds (JSON numbers), ISO 8601 strings (Query).
Result<std::optional<int64_t>> get_time_ms(const Document& map, std::string_view key);
Result<std::optional<bool>> get_flag(const Document& map, std::string_view key);
// A list (Query: "member.N"); nullptr if absent; an error for another type.
Result<const List*> get_items(const Document& map, std::string_view key);

// A client's number as an integer, clamped to +-1e15 (NaN -> 0): never an out-of-range cast.
inline int64_t to_i64(double v) {
  if (!(v == v)) return 0;
  if (v > 1e15) return 1'000'000'000'000'000;
  if (v < -1e15) return -1'000'000'000'000'000;
  return static_cast<int64_t>(v);
}

std::string format_double(double v);
std::string iso8601(int64_t ms);
Result<int64_t> parse_iso8601(std::string_view s);
std::string render_query_error(const CloudWatchError& e, std::string_view request_id);

// Metric math over aligned series. A value is a scalar or a list of series (t -> value).
using Series = std::map<int64_t, double>;
struct MathValue {
  std::optional<double> scalar;
  std::vector<Series> series;
  std::vector<std::string> labels;
};
// Evaluates `expression` with the named results of other queries. `all` is what METRICS()
// returns (label, series). The grid [start_s, end_s) in steps of period_s is what FILL fills.
// Supported: numbers, ids, + - * / and parentheses, [a, b] arrays, METRICS(["filter"]),
// SUM AVG MIN MAX (of an array: per timestamp; of one series: a scalar), RATE, DIFF, ABS,
// FILL(x, number | REPEAT | LINEAR).
Result<MathValue> evaluate_expression(std::string_view expression,
                                      const std::map<std::string, Series>& named,
                                      const std::vector<std::pair<std::string, Series>>& all,
                                      int64_t start_s, int64_t end_s, int64_t period_s);

}  // namespace freshet::api::cloudwatch

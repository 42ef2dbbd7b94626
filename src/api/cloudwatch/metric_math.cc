// Metric math for GetMetricData: a recursive-descent parser that evaluates as it parses.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "cloudwatch_internal.h"

namespace freshet::api::cloudwatch {
namespace {

constexpr int kMaxDepth = 32;

Error bad(std::string m) { return Error(ErrorCode::kInvalidArgument, std::move(m)); }

class Evaluator {
 public:
  Evaluator(std::string_view text, const std::map<std::string, Series>& named,
            const std::vector<std::pair<std::string, Series>>& all, int64_t start, int64_t end,
            int64_t period)
      : s_(text), named_(named), all_(all), start_(start), end_(end), period_(period) {}

  Result<MathValue> run() {
    FRESHET_ASSIGN_OR_RETURN(MathValue v, expr(0));
    skip();
    if (pos_ != s_.size()) return bad("unexpected '" + std::string(s_.substr(pos_, 1)) + "'");
    return v;
  }

 private:
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  static MathValue scalar(double v) {
    MathValue m;
    m.scalar = v;
    return m;
  }

  Result<MathValue> binary(char op, const MathValue& a, const MathValue& b) {
    auto f = [op](double x, double y) {
      switch (op) {
        case '+':
          return x + y;
        case '-':
          return x - y;
        case '*':
          return x * y;
        default:
          return y == 0 ? std::nan("") : x / y;
      }
    };
    if (a.scalar && b.scalar) return scalar(f(*a.scalar, *b.scalar));
    MathValue out;
    if (a.scalar || b.scalar) {
      const MathValue& s = a.scalar ? b : a;
      for (const Series& x : s.series) {
        Series r;
        for (const auto& [t, v] : x) r[t] = a.scalar ? f(*a.scalar, v) : f(v, *b.scalar);
        out.series.push_back(std::move(r));
      }
      out.labels = s.labels;
      return out;
    }
    if (a.series.size() != 1 && b.series.size() != 1 && a.series.size() != b.series.size()) {
      return bad("arrays of different sizes");
    }
    const size_t n = std::max(a.series.size(), b.series.size());
    for (size_t i = 0; i < n; ++i) {
      const Series& x = a.series[a.series.size() == 1 ? 0 : i];
      const Series& y = b.series[b.series.size() == 1 ? 0 : i];
      Series r;
      for (const auto& [t, v] : x) {
        auto it = y.find(t);
        if (it != y.end()) r[t] = f(v, it->second);
      }
      out.series.push_back(std::move(r));
      out.labels.push_back(a.labels.size() > i ? a.labels[i] : "");
    }
    return out;
  }

  Result<MathValue> expr(int depth) {
    if (depth > kMaxDepth) return bad("expression nested too deeply");
    FRESHET_ASSIGN_OR_RETURN(MathValue v, term(depth));
    while (true) {
      skip();
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
        const char op = s_[pos_++];
        FRESHET_ASSIGN_OR_RETURN(MathValue r, term(depth));
        FRESHET_ASSIGN_OR_RETURN(v, binary(op, v, r));
      } else {
        return v;
      }
    }
  }

  Result<MathValue> term(int depth) {
    FRESHET_ASSIGN_OR_RETURN(MathValue v, unary(depth));
    while (true) {
      skip();
      if (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '/')) {
        const char op = s_[pos_++];
        FRESHET_ASSIGN_OR_RETURN(MathValue r, unary(depth));
        FRESHET_ASSIGN_OR_RETURN(v, binary(op, v, r));
      } else {
        return v;
      }
    }
  }

  Result<MathValue> unary(int depth) {
    if (eat('-')) {
      FRESHET_ASSIGN_OR_RETURN(MathValue v, unary(depth + 1));
      return binary('*', scalar(-1), v);
    }
    return primary(depth + 1);
  }

  Result<MathValue> primary(int depth) {
    if (depth > kMaxDepth) return bad("expression nested too deeply");
    skip();
    if (pos_ >= s_.size()) return bad("unexpected end of expression");
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      FRESHET_ASSIGN_OR_RETURN(MathValue v, expr(depth + 1));
      if (!eat(')')) return bad("missing ')'");
      return v;
    }
    if (c == '[') {
      ++pos_;
      MathValue out;
      if (!eat(']')) {
        do {
          FRESHET_ASSIGN_OR_RETURN(MathValue v, expr(depth + 1));
          if (v.scalar) return bad("arrays hold time series");
          for (size_t i = 0; i < v.series.size(); ++i) {
            out.series.push_back(v.series[i]);
            out.labels.push_back(i < v.labels.size() ? v.labels[i] : "");
          }
        } while (eat(','));
        if (!eat(']')) return bad("missing ']'");
      }
      return out;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      double v = 0;
      auto r = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), v);
      if (r.ec != std::errc()) return bad("bad number");
      pos_ = static_cast<size_t>(r.ptr - s_.data());
      return scalar(v);
    }
    if (c == '"') {
      return bad("a string is only allowed as METRICS()'s argument");
    }
    if (!std::isalpha(static_cast<unsigned char>(c))) {
      return bad("unexpected '" + std::string(1, c) + "'");
    }
    size_t b = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      ++pos_;
    }
    const std::string name(s_.substr(b, pos_ - b));
    if (eat('(')) return call(name, depth);
    auto it = named_.find(name);
    if (it == named_.end()) return bad("unknown id " + name);
    MathValue v;
    v.series.push_back(it->second);
    v.labels.push_back(name);
    return v;
  }

  Result<MathValue> call(const std::string& fn, int depth) {
    std::string upper = fn;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (upper == "METRICS") {
      std::string filter;
      skip();
      if (pos_ < s_.size() && s_[pos_] == '"') {
        const size_t close = s_.find('"', pos_ + 1);
        if (close == std::string_view::npos) return bad("unterminated string");
        filter = std::string(s_.substr(pos_ + 1, close - pos_ - 1));
        pos_ = close + 1;
      }
      if (!eat(')')) return bad("missing ')'");
      MathValue out;
      for (const auto& [label, series] : all_) {
        if (!filter.empty() && label.find(filter) == std::string::npos) continue;
        out.series.push_back(series);
        out.labels.push_back(label);
      }
      return out;
    }
    std::vector<MathValue> args;
    if (!eat(')')) {
      do {
        skip();
        if (upper == "FILL" && args.size() == 1 && s_.substr(pos_).starts_with("REPEAT")) {
          pos_ += 6;
          args.push_back(MathValue{std::nullopt, {}, {"REPEAT"}});
          continue;
        }
        if (upper == "FILL" && args.size() == 1 && s_.substr(pos_).starts_with("LINEAR")) {
          pos_ += 6;
          args.push_back(MathValue{std::nullopt, {}, {"LINEAR"}});
          continue;
        }
        FRESHET_ASSIGN_OR_RETURN(MathValue v, expr(depth + 1));
        args.push_back(std::move(v));
      } while (eat(','));
      if (!eat(')')) return bad("missing ')'");
    }
    if (upper == "SUM" || upper == "AVG" || upper == "MIN" || upper == "MAX") {
      if (args.size() != 1 || args[0].scalar) return bad(upper + " takes one time series or array");
      const MathValue& a = args[0];
      auto agg = [&](const std::vector<double>& v) {
        if (upper == "SUM") {
          double s = 0;
          for (double x : v) s += x;
          return s;
        }
        if (upper == "AVG") {
          double s = 0;
          for (double x : v) s += x;
          return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
        }
        if (upper == "MIN") return *std::min_element(v.begin(), v.end());
        return *std::max_element(v.begin(), v.end());
      };
      if (a.series.size() == 1) {
        std::vector<double> v;
        for (const auto& [t, x] : a.series[0]) v.push_back(x);
        if (v.empty()) return MathValue{std::nullopt, {Series{}}, {upper}};
        return scalar(agg(v));
      }
      std::map<int64_t, std::vector<double>> by_t;
      for (const Series& s : a.series) {
        for (const auto& [t, x] : s) by_t[t].push_back(x);
      }
      Series r;
      for (const auto& [t, v] : by_t) r[t] = agg(v);
      return MathValue{std::nullopt, {std::move(r)}, {upper}};
    }
    if (upper == "RATE" || upper == "DIFF" || upper == "ABS") {
      if (args.size() != 1) return bad(upper + " takes one argument");
      if (args[0].scalar) return upper == "ABS" ? scalar(std::fabs(*args[0].scalar)) : args[0];
      MathValue out;
      out.labels = args[0].labels;
      for (const Series& s : args[0].series) {
        Series r;
        bool first = true;
        int64_t pt = 0;
        double pv = 0;
        for (const auto& [t, v] : s) {
          if (upper == "ABS") {
            r[t] = std::fabs(v);
          } else if (!first) {
            r[t] = upper == "RATE" ? (v - pv) / static_cast<double>(t - pt) : v - pv;
          }
          first = false;
          pt = t;
          pv = v;
        }
        out.series.push_back(std::move(r));
      }
      return out;
    }
    if (upper == "FILL") {
      if (args.size() != 2 || args[0].scalar) return bad("FILL takes a time series and a value");
      const std::string mode = args[1].labels.empty() ? "" : args[1].labels[0];
      if (mode.empty() && !args[1].scalar) return bad("FILL's second argument must be a number");
      MathValue out;
      out.labels = args[0].labels;
      const int64_t step = std::max<int64_t>(period_, 1);
      if ((end_ - start_) / step > 1'000'000) return bad("too many periods to fill");
      for (const Series& s : args[0].series) {
        Series r;
        std::optional<double> last;
        for (int64_t t = start_; t < end_; t += step) {
          auto it = s.find(t);
          if (it != s.end()) {
            r[t] = it->second;
            last = it->second;
            continue;
          }
          if (mode == "REPEAT") {
            if (last) r[t] = *last;
          } else if (mode == "LINEAR") {
            auto next = s.lower_bound(t);
            if (last && next != s.end()) {
              auto prev = std::prev(next);
              const double w = static_cast<double>(t - prev->first) /
                               static_cast<double>(next->first - prev->first);
              r[t] = prev->second + w * (next->second - prev->second);
            }
          } else {
            r[t] = *args[1].scalar;
          }
        }
        out.series.push_back(std::move(r));
      }
      return out;
    }
    return bad("unknown function " + fn);
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::map<std::string, Series>& named_;
  const std::vector<std::pair<std::string, Series>>& all_;
  int64_t start_, end_, period_;
};

}  // namespace

Result<MathValue> evaluate_expression(std::string_view expression,
                                      const std::map<std::string, Series>& named,
                                      const std::vector<std::pair<std::string, Series>>& all,
                                      int64_t start_s, int64_t end_s, int64_t period_s) {
  return Evaluator(expression, named, all, start_s, end_s, period_s).run();
}

}  // namespace freshet::api::cloudwatch

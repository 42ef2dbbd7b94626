#include "freshet/metrics/registry.h"

#include "exposition.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

namespace freshet::metrics {
namespace {

uint64_t to_bits(double v) { return std::bit_cast<uint64_t>(v); }
double from_bits(uint64_t b) { return std::bit_cast<double>(b); }

void atomic_add_double(std::atomic<uint64_t>& bits, double delta) {
  uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, to_bits(from_bits(old) + delta),
                                     std::memory_order_relaxed)) {
  }
}

bool is_name_char(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (allow_colon && c == ':');
}

std::string sanitize(std::string_view name, bool allow_colon) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) out.push_back('_');
  for (char c : name) out.push_back(is_name_char(c, allow_colon) ? c : '_');
  return out;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string render_labels(const Labels& labels, std::string_view extra_name = {},
                          std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Gauge::set(double v) { bits_.store(to_bits(v), std::memory_order_relaxed); }
void Gauge::add(double delta) { atomic_add_double(bits_, delta); }
double Gauge::value() const { return from_bits(bits_.load(std::memory_order_relaxed)); }

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < kBounds.size() && !(value <= kBounds[i])) ++i;  // NaN lands in +Inf
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add_double(sum_bits_, value);
}

double Histogram::sum() const { return from_bits(sum_bits_.load(std::memory_order_relaxed)); }

Registry::Series* Registry::find_or_create_locked(MetricType type, std::string_view name,
                                                  Labels labels, std::string_view help) {
  for (auto& [k, v] : labels) k = sanitize_label_name(k);
  std::sort(labels.begin(), labels.end());
  std::string key = render_labels(labels);
  std::string fname = sanitize_metric_name(name);

  auto make_series = [&](Series& s) {
    s.labels = labels;
    switch (type) {
      case MetricType::kCounter:
        s.counter = std::make_unique<Counter>();
        break;
      case MetricType::kGauge:
        s.gauge = std::make_unique<Gauge>();
        break;
      case MetricType::kHistogram:
        s.histogram = std::make_unique<Histogram>();
        break;
    }
  };

  auto it = families_.find(fname);
  if (it == families_.end()) {
    it = families_.emplace(fname, Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    type_conflicts_.fetch_add(1, std::memory_order_relaxed);
    orphans_.push_back(std::make_unique<Series>());
    make_series(*orphans_.back());
    return orphans_.back().get();
  }
  auto [sit, inserted] = it->second.series.try_emplace(key);
  if (inserted) make_series(sit->second);
  return &sit->second;
}

Counter* Registry::counter(std::string_view name, Labels labels, std::string_view help) {
  std::lock_guard lock(mu_);
  return find_or_create_locked(MetricType::kCounter, name, std::move(labels), help)->counter.get();
}

Gauge* Registry::gauge(std::string_view name, Labels labels, std::string_view help) {
  std::lock_guard lock(mu_);
  return find_or_create_locked(MetricType::kGauge, name, std::move(labels), help)->gauge.get();
}

Histogram* Registry::histogram(std::string_view name, Labels labels, std::string_view help) {
  std::lock_guard lock(mu_);
  return find_or_create_locked(MetricType::kHistogram, name, std::move(labels), help)
      ->histogram.get();
}

namespace {

// A bucket bound: six significant digits, fixed down to 0.0001 (0.1 ms in seconds), so that
// le values read as written ("0.00025", not "0.00025000000000000001" or "2.5e-04").
std::string format_bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// How a family is exposed: its Prometheus name and the divisor from the registry's values to
// the base unit (milliseconds are exposed in seconds: 1000).
struct Exposed {
  std::string name;
  double divisor = 1;
  std::string help;
};

Exposed exposed(const std::string& family, MetricType type, const std::string& help) {
  std::string base = family;
  if (type == MetricType::kCounter && ends_with(base, "_total")) base.resize(base.size() - 6);
  const std::optional<CloudWatchName> cw = cloudwatch_name_of(family);
  std::string unit = cw ? cw->unit : "";
  if (!cw) {
    if (ends_with(base, "_ms")) unit = "Milliseconds";
    if (ends_with(base, "_seconds")) unit = "Seconds";
    if (ends_with(base, "_bytes")) unit = "Bytes";
  }
  Exposed e;
  if (unit == "Milliseconds") {
    if (ends_with(base, "_ms")) base.resize(base.size() - 3);
    base += "_seconds";
    e.divisor = 1000;
  } else if (unit == "Seconds" && !ends_with(base, "_seconds")) {
    base += "_seconds";
  } else if (unit == "Bytes" && !ends_with(base, "_bytes")) {
    base += "_bytes";
  }
  if (type == MetricType::kCounter) base += "_total";
  e.name = std::move(base);
  e.help = help.empty() ? family : help;
  if (e.divisor != 1) e.help += " (exposed in seconds)";
  if (cw) e.help += " [CloudWatch " + cw->ns + " " + cw->name + ", " + cw->unit + "]";
  return e;
}

}  // namespace

std::string Registry::render_prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  std::set<std::string> names;  // exposed names so far: a clash keeps the registry's name
  for (const auto& [family, fam] : families_) {
    Exposed e = exposed(family, fam.type, fam.help);
    const std::string& name = names.insert(e.name).second ? e.name : family;
    if (&name == &family) {
      names.insert(family);
      e.divisor = 1;
    }
    out += "# HELP " + name + " " + escape_help(e.help) + "\n";
    out += "# TYPE " + name + " " + type_name(fam.type) + "\n";
    for (const auto& [key, s] : fam.series) {
      switch (fam.type) {
        case MetricType::kCounter:
          out += name + key + " " +
                 (e.divisor == 1
                      ? std::to_string(s.counter->value())
                      : format_double(static_cast<double>(s.counter->value()) / e.divisor)) +
                 "\n";
          break;
        case MetricType::kGauge:
          out += name + key + " " + format_double(s.gauge->value() / e.divisor) + "\n";
          break;
        case MetricType::kHistogram: {
          const Histogram& h = *s.histogram;
          uint64_t cumulative = 0;
          for (size_t i = 0; i < Histogram::kBuckets; ++i) {
            cumulative += h.bucket(i);
            std::string le = i < Histogram::kBounds.size()
                                 ? format_bound(Histogram::kBounds[i] / e.divisor)
                                 : std::string("+Inf");
            out += name + "_bucket" + render_labels(s.labels, "le", le) + " " +
                   std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + key + " " + format_double(h.sum() / e.divisor) + "\n";
          // _count equals the +Inf bucket so the exposition is self-consistent even while
          // observations race with the scrape.
          out += name + "_count" + key + " " + std::to_string(cumulative) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

std::optional<double> Registry::value(std::string_view name, Labels labels) const {
  for (auto& [k, v] : labels) k = sanitize_label_name(k);
  std::sort(labels.begin(), labels.end());
  const std::string key = render_labels(labels);
  std::lock_guard lock(mu_);
  auto fam = families_.find(sanitize_metric_name(name));
  if (fam == families_.end()) return std::nullopt;
  auto it = fam->second.series.find(key);
  if (it == fam->second.series.end()) return std::nullopt;
  if (it->second.counter) return static_cast<double>(it->second.counter->value());
  if (it->second.gauge) return it->second.gauge->value();
  return std::nullopt;
}

void Registry::for_each_series(const std::function<void(const SeriesView&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [name, fam] : families_) {
    for (const auto& [key, s] : fam.series) {
      fn(SeriesView{name, fam.type, s.labels, s.counter.get(), s.gauge.get(), s.histogram.get()});
    }
  }
}

std::string sanitize_metric_name(std::string_view name) { return sanitize(name, true); }
std::string sanitize_label_name(std::string_view name) { return sanitize(name, false); }

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string cloudwatch_metric_name(std::string_view ns, std::string_view cloudwatch_name) {
  std::string out = "freshet_";
  for (char c : ns) out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  out += '_';
  out += cloudwatch_name;
  return sanitize_metric_name(out);
}

}  // namespace freshet::metrics

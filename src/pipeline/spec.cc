// parse_pipeline: YAML (yaml-cpp) to PipelineSpec, with every problem reported at its
// file:line:column. yaml-cpp throws; every call into it stays inside this file and its
// exceptions become messages here.
#include "freshet/pipeline/spec.h"

#include <yaml-cpp/yaml.h>

#include "freshet/process/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace freshet::pipeline {

const StreamSpec* PipelineSpec::find_stream(std::string_view name) const {
  for (const StreamSpec& s : streams) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

namespace {

// Kinesis' shard-level metrics (EnableEnhancedMonitoring).
const std::vector<std::string>& shard_level_metrics() {
  static const std::vector<std::string> kMetrics = {
      "IncomingBytes",          "IncomingRecords",     "IteratorAgeMilliseconds",
      "OutgoingBytes",          "OutgoingRecords",     "ReadProvisionedThroughputExceeded",
      "WriteProvisionedThroughputExceeded"};
  return kMetrics;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string one_of(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string shown(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "'" + s + "'";
}

class Checker {
 public:
  explicit Checker(std::string path) : path_(std::move(path)) {}

  void error(const YAML::Mark& m, const std::string& where, const std::string& message) {
    std::ostringstream o;
    o << path_ << ':' << (m.line >= 0 ? m.line + 1 : 0) << ':'
      << (m.column >= 0 ? m.column + 1 : 0) << ": " << where << (where.empty() ? "" : ": ")
      << message;
    errors_.push_back(o.str());
  }
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string path_;
  std::vector<std::string> errors_;
};

Location location(const YAML::Mark& m) { return {m.line + 1, m.column + 1}; }

YAML::Mark mark_of(const Location& l) {
  YAML::Mark m;
  m.line = l.line - 1;
  m.column = l.column - 1;
  return m;
}

// A YAML mapping read key by key; finish() reports the keys nobody asked for.
class Map {
 public:
  Map(Checker& c, const YAML::Node& node, std::string where)
      : c_(c), node_(node), where_(std::move(where)) {
    valid_ = node.IsMap();
    if (!valid_ && node.IsDefined() && !node.IsNull()) {
      c_.error(node.Mark(), where_, "expected a mapping (key: value lines), found " + shown(node));
    }
  }
  bool valid() const { return valid_; }
  const std::string& where() const { return where_; }
  std::string at(const std::string& key) const {
    return where_.empty() ? key : where_ + "." + key;
  }
  const YAML::Mark mark() const { return node_.Mark(); }

  YAML::Node get(const std::string& key) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
    if (!valid_) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }
  bool has(const std::string& key) {
    YAML::Node n = get(key);
    return n.IsDefined() && !n.IsNull();
  }

  std::optional<std::string> str(const std::string& key, bool required = false) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) {
      if (required) c_.error(mark(), at(key), "required, expected a string");
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      c_.error(n.Mark(), at(key), "expected a string, found " + shown(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  template <typename T>
  std::optional<T> integer(const std::string& key, T lo, T hi) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    const std::string expected =
        "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (!n.IsScalar()) {
      c_.error(n.Mark(), at(key), expected + ", found " + shown(n));
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    long long v = 0;
    size_t used = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || v < static_cast<long long>(lo) ||
        v > static_cast<long long>(hi)) {
      c_.error(n.Mark(), at(key), expected + ", found " + shown(n));
      return std::nullopt;
    }
    return static_cast<T>(v);
  }

  std::optional<double> number(const std::string& key, double lo, double hi) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    std::ostringstream e;
    e << "expected a number from " << lo << " to " << hi;
    if (!n.IsScalar()) {
      c_.error(n.Mark(), at(key), e.str() + ", found " + shown(n));
      return std::nullopt;
    }
    std::string s = n.Scalar();
    double scale = 1;
    if (!s.empty() && s.back() == '%') {  // "1%" = 0.01
      s.pop_back();
      scale = 0.01;
    }
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    v *= scale;
    if (used == 0 || used != s.size() || !std::isfinite(v) || v < lo || v > hi) {
      c_.error(n.Mark(), at(key), e.str() + ", found " + shown(n));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const std::string& key) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (s == "true" || s == "yes" || s == "on") return true;
      if (s == "false" || s == "no" || s == "off") return false;
    }
    c_.error(n.Mark(), at(key), "expected true or false, found " + shown(n));
    return std::nullopt;
  }

  std::optional<std::string> choice(const std::string& key, const std::vector<std::string>& options) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    if (n.IsScalar()) {
      for (const std::string& o : options) {
        if (n.Scalar() == o) return o;
      }
    }
    c_.error(n.Mark(), at(key), "expected " + one_of(options) + ", found " + shown(n));
    return std::nullopt;
  }

  std::map<std::string, std::string> string_map(const std::string& key) {
    std::map<std::string, std::string> out;
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsMap()) {
      c_.error(n.Mark(), at(key), "expected a mapping of strings, found " + shown(n));
      return out;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->second.IsScalar()) {
        c_.error(it->second.Mark(), at(key) + "." + it->first.Scalar(),
                 "expected a string, found " + shown(it->second));
        continue;
      }
      out[it->first.Scalar()] = it->second.Scalar();
    }
    return out;
  }

  // Keys nobody asked for: a typo or a section this build does not know.
  void finish() {
    if (!valid_) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (std::find(known_.begin(), known_.end(), k) != known_.end()) continue;
      std::string best;
      size_t best_d = 3;
      for (const std::string& c : known_) {
        const size_t d = edit_distance(k, c);
        if (d < best_d) {
          best_d = d;
          best = c;
        }
      }
      c_.error(it->first.Mark(), at(k),
               "unknown key" + (best.empty() ? "; expected " + one_of(known_)
                                             : "; did you mean '" + best + "'?"));
    }
  }

 private:
  Checker& c_;
  YAML::Node node_;
  std::string where_;
  bool valid_ = false;
  std::vector<std::string> known_;
};

// Calls fn(name, node, mark) for each entry of a `name: {...}` section; duplicates reported.
template <typename Fn>
void each_named(Checker& c, const YAML::Node& section, const std::string& where, Fn fn) {
  if (!section.IsDefined() || section.IsNull()) return;
  if (!section.IsMap()) {
    c.error(section.Mark(), where,
            "expected a mapping of names to their settings (NAME: {...}), found " + shown(section));
    return;
  }
  std::set<std::string> seen;
  for (auto it = section.begin(); it != section.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (!seen.insert(name).second) {
      c.error(it->first.Mark(), where + "." + name, "declared twice");
      continue;
    }
    fn(name, it->second, it->first.Mark());
  }
}

// The name rules of the AWS models, matched by hand: the pattern text is only for the message.
enum class NameRule {
  kName,       // streams, tables, indexes, delivery streams: [a-zA-Z0-9_.-]+
  kBucket,     // S3 buckets: [a-z0-9][a-z0-9.-]*[a-z0-9]
  kPrintable,  // alarms: [^\\x00-\\x1f]+
};

const char* pattern_of(NameRule rule) {
  switch (rule) {
    case NameRule::kName: return "[a-zA-Z0-9_.-]+";
    case NameRule::kBucket: return "[a-z0-9][a-z0-9.-]*[a-z0-9]";
    case NameRule::kPrintable: return "[^\\x00-\\x1f]+";
  }
  return "";
}

bool matches(const std::string& s, NameRule rule) {
  const auto lower_or_digit = [](unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
  };
  if (s.empty()) return false;
  switch (rule) {
    case NameRule::kName:
      return std::all_of(s.begin(), s.end(), [](unsigned char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '.' || ch == '-';
      });
    case NameRule::kBucket:
      return s.size() >= 2 && lower_or_digit(s.front()) && lower_or_digit(s.back()) &&
             std::all_of(s.begin(), s.end(), [&](unsigned char ch) {
               return lower_or_digit(ch) || ch == '.' || ch == '-';
             });
    case NameRule::kPrintable:
      return std::all_of(s.begin(), s.end(), [](unsigned char ch) { return ch >= 0x20; });
  }
  return false;
}

void check_name(Checker& c, const YAML::Mark& m, const std::string& where, const std::string& name,
                NameRule rule, size_t lo, size_t hi, const char* what) {
  if (name.size() < lo || name.size() > hi || !matches(name, rule)) {
    c.error(m, where,
            std::string("not a valid ") + what + " name: expected " + std::to_string(lo) + " to " +
                std::to_string(hi) + " characters of " + pattern_of(rule) + ", found '" + name +
                "'");
  }
}

// partition_key: NAME | {name: NAME, type: S|N|B}
std::optional<table::KeyAttr> key_attr(Checker& c, Map& m, const std::string& key, bool required) {
  YAML::Node n = m.get(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required) c.error(m.mark(), m.at(key), "required, expected an attribute name or {name: NAME, type: S|N|B}");
    return std::nullopt;
  }
  table::KeyAttr a;
  if (n.IsScalar()) {
    a.name = n.Scalar();
    a.type = table::Type::kS;
  } else {
    Map km(c, n, m.at(key));
    if (!km.valid()) return std::nullopt;
    auto name = km.str("name", true);
    auto type = km.choice("type", {"S", "N", "B"});
    km.finish();
    if (!name) return std::nullopt;
    a.name = *name;
    a.type = !type || *type == "S" ? table::Type::kS : *type == "N" ? table::Type::kN : table::Type::kB;
  }
  if (a.name.empty() || a.name.size() > 255) {
    c.error(n.Mark(), m.at(key), "expected an attribute name of 1 to 255 characters");
    return std::nullopt;
  }
  return a;
}

std::optional<table::Projection> projection(Checker& c, Map& m) {
  YAML::Node n = m.get("projection");
  table::Projection p;
  if (!n.IsDefined() || n.IsNull()) return p;
  if (n.IsScalar() && (n.Scalar() == "all" || n.Scalar() == "ALL")) return p;
  if (n.IsScalar() && (n.Scalar() == "keys_only" || n.Scalar() == "KEYS_ONLY")) {
    p.type = table::ProjectionType::kKeysOnly;
    return p;
  }
  if (n.IsSequence()) {
    p.type = table::ProjectionType::kInclude;
    for (const YAML::Node& a : n) {
      if (!a.IsScalar()) {
        c.error(a.Mark(), m.at("projection"), "expected attribute names, found " + shown(a));
        return std::nullopt;
      }
      p.non_key_attributes.push_back(a.Scalar());
    }
    return p;
  }
  c.error(n.Mark(), m.at("projection"),
          "expected all, keys_only or a list of attribute names, found " + shown(n));
  return std::nullopt;
}

void parse_node(Checker& c, const YAML::Node& n, NodeSpec& out) {
  Map m(c, n, "node");
  out.listen = m.str("listen");
  out.data_dir = m.str("data_dir");
  out.region = m.str("region");
  out.durability = m.choice("durability", {"fsync", "os"});
  out.s3_endpoint = m.str("s3_endpoint");
  out.s3_region = m.str("s3_region");
  if (out.listen && out.listen->find(':') == std::string::npos) {
    c.error(m.get("listen").Mark(), "node.listen", "expected HOST:PORT, found '" + *out.listen + "'");
  }
  if (out.s3_endpoint && out.s3_endpoint->rfind("http://", 0) != 0 &&
      out.s3_endpoint->rfind("https://", 0) != 0) {
    c.error(m.get("s3_endpoint").Mark(), "node.s3_endpoint",
            "expected http://HOST:PORT or https://HOST, found '" + *out.s3_endpoint + "'");
  }
  m.finish();
}

void parse_streams(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "streams", [&](const std::string& name, const YAML::Node& n,
                                        const YAML::Mark& mark) {
    const std::string where = "streams." + name;
    check_name(c, mark, where, name, NameRule::kName, 1, 128, "stream");
    StreamSpec s;
    s.name = name;
    s.at = location(mark);
    Map m(c, n, where);
    auto mode = m.choice("mode", {"provisioned", "on_demand"});
    s.on_demand = mode && *mode == "on_demand";
    auto shards = m.integer<uint32_t>("shards", 1, 10'000);
    if (s.on_demand && shards) {
      c.error(m.get("shards").Mark(), m.at("shards"),
              "an on_demand stream sizes itself; expected no shards (or mode: provisioned)");
    }
    s.shards = shards.value_or(1);
    s.retention_hours = m.integer<int32_t>("retention_hours", 24, 8760).value_or(24);
    YAML::Node em = m.get("enhanced_monitoring");
    if (em.IsDefined() && !em.IsNull()) {
      std::vector<std::string> names;
      if (em.IsScalar()) {
        names.push_back(em.Scalar());
      } else if (em.IsSequence()) {
        for (const YAML::Node& x : em) names.push_back(x.IsScalar() ? x.Scalar() : "?");
      }
      for (const std::string& x : names) {
        if (x == "ALL") {
          s.enhanced_monitoring = shard_level_metrics();
          continue;
        }
        if (std::find(shard_level_metrics().begin(), shard_level_metrics().end(), x) ==
            shard_level_metrics().end()) {
          c.error(em.Mark(), m.at("enhanced_monitoring"),
                  "expected ALL or shard-level metrics (" + one_of(shard_level_metrics()) +
                      "), found '" + x + "'");
          continue;
        }
        s.enhanced_monitoring.push_back(x);
      }
      std::sort(s.enhanced_monitoring.begin(), s.enhanced_monitoring.end());
      s.enhanced_monitoring.erase(
          std::unique(s.enhanced_monitoring.begin(), s.enhanced_monitoring.end()),
          s.enhanced_monitoring.end());
    }
    s.tags = m.string_map("tags");
    m.finish();
    spec.streams.push_back(std::move(s));
  });
}

void parse_tables(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "tables", [&](const std::string& name, const YAML::Node& n,
                                       const YAML::Mark& mark) {
    const std::string where = "tables." + name;
    check_name(c, mark, where, name, NameRule::kName, 3, 255, "table");
    TableSpec t;
    t.name = name;
    t.at = location(mark);
    Map m(c, n, where);
    if (!m.valid()) {
      if (!n.IsDefined() || n.IsNull()) c.error(mark, where, "expected a mapping with partition_key");
      return;
    }
    auto pk = key_attr(c, m, "partition_key", true);
    auto sk = key_attr(c, m, "sort_key", false);
    if (pk) t.key.hash = *pk;
    t.key.range = sk;
    auto billing = m.choice("billing", {"pay_per_request", "provisioned"});
    t.pay_per_request = !billing || *billing == "pay_per_request";
    t.throughput.read = m.integer<int64_t>("read_capacity", 1, 40'000).value_or(t.pay_per_request ? 0 : 5);
    t.throughput.write = m.integer<int64_t>("write_capacity", 1, 40'000).value_or(t.pay_per_request ? 0 : 5);
    if (auto ttl = m.str("ttl")) t.ttl_attribute = *ttl;
    t.tags = m.string_map("tags");
    each_named(c, m.get("indexes"), m.at("indexes"), [&](const std::string& iname,
                                                         const YAML::Node& in,
                                                         const YAML::Mark& imark) {
      const std::string iwhere = where + ".indexes." + iname;
      check_name(c, imark, iwhere, iname, NameRule::kName, 3, 255, "index");
      IndexSpec ix;
      ix.name = iname;
      ix.at = location(imark);
      Map im(c, in, iwhere);
      if (!im.valid()) {
        if (!in.IsDefined() || in.IsNull()) c.error(imark, iwhere, "expected a mapping with partition_key");
        return;
      }
      auto ipk = key_attr(c, im, "partition_key", true);
      auto isk = key_attr(c, im, "sort_key", false);
      auto proj = projection(c, im);
      im.finish();
      if (!ipk || !proj) return;
      ix.key.hash = *ipk;
      ix.key.range = isk;
      ix.projection = *proj;
      t.indexes.push_back(std::move(ix));
    });
    if (t.indexes.size() > 20) c.error(mark, where, "at most 20 global secondary indexes");
    // One type per attribute across the table's and its indexes' keys.
    std::map<std::string, table::Type> types;
    auto same_type = [&](const table::KeyAttr& a, const Location& at) {
      auto [it, fresh] = types.emplace(a.name, a.type);
      if (!fresh && it->second != a.type) {
        c.error(mark_of(at), where,
                "attribute '" + a.name + "' is a key with two types; expected one type per "
                "attribute");
      }
    };
    if (pk) same_type(t.key.hash, t.at);
    if (sk) same_type(*sk, t.at);
    for (const IndexSpec& ix : t.indexes) {
      same_type(ix.key.hash, ix.at);
      if (ix.key.range) same_type(*ix.key.range, ix.at);
    }
    m.finish();
    if (pk) spec.tables.push_back(std::move(t));
  });
}

void parse_buckets(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  if (!section.IsDefined() || section.IsNull()) return;
  if (!section.IsSequence()) {
    c.error(section.Mark(), "buckets", "expected a list of bucket names, found " + shown(section));
    return;
  }
  std::set<std::string> seen;
  for (const YAML::Node& b : section) {
    if (!b.IsScalar()) {
      c.error(b.Mark(), "buckets", "expected a bucket name, found " + shown(b));
      continue;
    }
    const std::string name = b.Scalar();
    check_name(c, b.Mark(), "buckets." + name, name, NameRule::kBucket, 3, 63, "bucket");
    if (!seen.insert(name).second) {
      c.error(b.Mark(), "buckets." + name, "declared twice");
      continue;
    }
    spec.buckets.push_back({name, location(b.Mark())});
  }
}

void parse_deliveries(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "delivery_streams", [&](const std::string& name, const YAML::Node& n,
                                                 const YAML::Mark& mark) {
    const std::string where = "delivery_streams." + name;
    check_name(c, mark, where, name, NameRule::kName, 1, 64, "delivery stream");
    DeliverySpec d;
    d.name = name;
    d.at = location(mark);
    Map m(c, n, where);
    if (!m.valid()) {
      if (!n.IsDefined() || n.IsNull()) c.error(mark, where, "expected a mapping with bucket");
      return;
    }
    d.source_stream = m.str("source").value_or("");
    d.bucket = m.str("bucket", true).value_or("");
    d.prefix = m.str("prefix").value_or("");
    d.error_prefix = m.str("error_prefix").value_or("");
    if (Status s = delivery::validate_prefix(d.prefix, false, false); !s.ok()) {
      c.error(m.get("prefix").Mark(), m.at("prefix"), s.error().message());
    }
    if (Status s = delivery::validate_prefix(d.error_prefix, true, false); !s.ok()) {
      c.error(m.get("error_prefix").Mark(), m.at("error_prefix"), s.error().message());
    }
    if (delivery::prefix_has_expressions(d.prefix) && d.error_prefix.empty()) {
      c.error(m.get("prefix").Mark(), m.at("error_prefix"),
              "required when prefix has !{...} expressions (as Firehose requires)");
    }
    Map buf(c, m.get("buffering"), m.at("buffering"));
    d.size_mb = buf.integer<int>("size_mb", 1, 128).value_or(5);
    d.interval_seconds = buf.integer<int>("interval_seconds", 0, 900).value_or(300);
    buf.finish();
    if (auto comp = m.choice("compression",
                             {"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"})) {
      d.compression = *delivery::parse_compression(*comp);
    }
    d.append_newline = m.boolean("append_newline").value_or(true);
    m.finish();
    spec.deliveries.push_back(std::move(d));
  });
}

void parse_alarms(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "alarms", [&](const std::string& name, const YAML::Node& n,
                                       const YAML::Mark& mark) {
    const std::string where = "alarms." + name;
    // CloudWatch's AlarmName: 1..255 characters, no control characters.
    check_name(c, mark, where, name, NameRule::kPrintable, 1, 255, "alarm");
    AlarmSpec a;
    a.name = name;
    a.at = location(mark);
    Map m(c, n, where);
    if (!m.valid()) {
      if (!n.IsDefined() || n.IsNull()) {
        c.error(mark, where, "expected a mapping with namespace, metric, threshold, comparison");
      }
      return;
    }
    a.description = m.str("description").value_or("");
    if (a.description.size() > 1024) {
      c.error(m.get("description").Mark(), m.at("description"), "expected at most 1024 characters");
    }
    a.ns = m.str("namespace", true).value_or("");
    a.metric = m.str("metric", true).value_or("");
    for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"namespace", a.ns},
                                     {"metric", a.metric}}) {
      if (value.size() > 255) c.error(m.get(key).Mark(), m.at(key), "expected at most 255 characters");
    }
    a.dimensions = m.string_map("dimensions");
    if (a.dimensions.size() > 30) {
      c.error(m.get("dimensions").Mark(), m.at("dimensions"), "expected at most 30 dimensions");
    }
    a.statistic = m.choice("statistic", {"SampleCount", "Average", "Sum", "Minimum", "Maximum"})
                      .value_or("Average");
    a.period_s = m.integer<int32_t>("period_seconds", 10, 86'400).value_or(60);
    if (a.period_s != 10 && a.period_s != 30 && a.period_s % 60 != 0) {
      c.error(m.get("period_seconds").Mark(), m.at("period_seconds"),
              "expected 10, 30 or a multiple of 60 (as CloudWatch requires), found " +
                  std::to_string(a.period_s));
    }
    a.evaluation_periods = m.integer<int32_t>("evaluation_periods", 1, 100).value_or(1);
    a.datapoints_to_alarm = m.integer<int32_t>("datapoints_to_alarm", 1, 100).value_or(0);
    if (a.datapoints_to_alarm > a.evaluation_periods) {
      c.error(m.get("datapoints_to_alarm").Mark(), m.at("datapoints_to_alarm"),
              "expected at most evaluation_periods (" + std::to_string(a.evaluation_periods) + ")");
    }
    if (!m.has("threshold")) c.error(mark, m.at("threshold"), "required, expected a number");
    a.threshold = m.number("threshold", -1e300, 1e300).value_or(0);
    a.comparison = m.choice("comparison", {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                           "LessThanThreshold", "LessThanOrEqualToThreshold"})
                       .value_or("");
    if (a.comparison.empty() && !m.has("comparison")) {
      c.error(mark, m.at("comparison"),
              "required, expected one of GreaterThanOrEqualToThreshold, GreaterThanThreshold, "
              "LessThanThreshold, LessThanOrEqualToThreshold");
    }
    a.treat_missing_data =
        m.choice("treat_missing_data", {"breaching", "notBreaching", "ignore", "missing"})
            .value_or("missing");
    a.actions_enabled = m.boolean("actions_enabled").value_or(true);
    m.finish();
    spec.alarms.push_back(std::move(a));
  });
}

void parse_producers(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "producers", [&](const std::string& name, const YAML::Node& n,
                                          const YAML::Mark& mark) {
    const std::string where = "producers." + name;
    ProducerSpec p;
    p.name = name;
    p.at = location(mark);
    Map m(c, n, where);
    if (!m.valid()) {
      if (!n.IsDefined() || n.IsNull()) c.error(mark, where, "expected a mapping with stream");
      return;
    }
    p.stream = m.str("stream", true).value_or("");
    p.generate = m.choice("generate", {"tweets"}).value_or("");
    p.file = m.str("file").value_or("");
    // A relative path is relative to the pipeline file, like functions' dir.
    if (!p.file.empty() && p.file[0] != '/' && spec.path.find('/') != std::string::npos) {
      p.file = spec.path.substr(0, spec.path.find_last_of('/') + 1) + p.file;
    }
    if (p.generate.empty() == p.file.empty()) {
      c.error(mark, where, "expected exactly one of generate: tweets or file: PATH");
    }
    p.replay = m.boolean("replay").value_or(false);
    p.speed = m.number("speed", 0.001, 1e6).value_or(1.0);
    p.shape = m.choice("shape", {"v1", "v2", "mixed"}).value_or("v1");
    p.seed = m.integer<uint64_t>("seed", 0, 1ull << 62).value_or(1);
    p.malformed = m.number("malformed", 0, 1).value_or(0);
    p.users = m.integer<uint32_t>("users", 1, 10'000'000).value_or(50'000);
    p.hashtags = m.integer<uint32_t>("hashtags", 1, 10'000'000).value_or(2'000);
    p.rate = m.number("rate", 0, 1e8).value_or(1000);
    p.count = m.integer<int64_t>("count", 0, int64_t{1} << 50).value_or(-1);
    p.duration_s = m.number("duration_seconds", 0, 1e7).value_or(0);
    p.senders = m.integer<int>("senders", 1, 64).value_or(2);
    p.via_http = m.choice("via", {"in_process", "http"}).value_or("in_process") == "http";
    if (p.replay && p.file.empty()) c.error(m.get("replay").Mark(), m.at("replay"), "replays a file: expected file: PATH");
    m.finish();
    spec.producers.push_back(std::move(p));
  });
}

// functions: process::parse_functions reads them (docs/process.md). It is called on each
// entry alone first, so a problem is reported at that entry's line, then on the whole list
// (duplicate names).
void parse_functions_section(Checker& c, const YAML::Node& section, const std::string& base_dir,
                             PipelineSpec& spec) {
  if (!section.IsDefined() || section.IsNull()) return;
  if (!section.IsSequence()) {
    c.error(section.Mark(), "functions",
            "expected a list of functions (- name: ..., kind: extract|filter|window_count|exec), "
            "found " + shown(section));
    return;
  }
  bool each_ok = true;
  for (const YAML::Node& f : section) {
    YAML::Node one(YAML::NodeType::Sequence);
    one.push_back(f);
    auto r = process::parse_functions(one, base_dir);
    if (!r.ok()) {
      c.error(f.Mark(), "functions", r.error().message());
      each_ok = false;
    }
  }
  if (!each_ok) return;
  auto all = process::parse_functions(section, base_dir);
  if (!all.ok()) {
    c.error(section.Mark(), "functions", all.error().message());
    return;
  }
  spec.functions = std::move(all).value();
}

void parse_mappings(Checker& c, const YAML::Node& section, PipelineSpec& spec) {
  each_named(c, section, "mappings", [&](const std::string& name, const YAML::Node& n,
                                         const YAML::Mark& mark) {
    const std::string where = "mappings." + name;
    MappingSpec m;
    m.name = name;
    m.at = location(mark);
    Map r(c, n, where);
    if (!r.valid()) {
      if (!n.IsDefined() || n.IsNull()) c.error(mark, where, "expected a mapping with function and source");
      return;
    }
    m.function = r.str("function", true).value_or("");
    m.source = r.str("source", true).value_or("");
    m.batch_size = r.integer<int32_t>("batch_size", 1, 10'000).value_or(100);
    m.batching_window_s = r.integer<int32_t>("batching_window_seconds", 0, 300).value_or(0);
    m.starting_position =
        r.choice("starting_position", {"TRIM_HORIZON", "LATEST"}).value_or("TRIM_HORIZON");
    m.parallelization = r.integer<int32_t>("parallelization", 1, 10).value_or(1);
    m.retries = r.integer<int32_t>("retries", -1, 10'000).value_or(-1);
    m.max_record_age_s = r.integer<int32_t>("max_record_age_seconds", -1, 604'800).value_or(-1);
    m.bisect = r.boolean("bisect").value_or(false);
    m.report_batch_item_failures = r.boolean("report_batch_item_failures").value_or(false);
    m.on_failure = r.str("on_failure").value_or("");
    m.tumbling_window_s = r.integer<int32_t>("tumbling_window_seconds", 0, 900).value_or(0);
    m.enabled = r.boolean("enabled").value_or(true);
    YAML::Node filters = r.get("filters");
    if (filters.IsDefined() && !filters.IsNull()) {
      if (!filters.IsSequence()) {
        c.error(filters.Mark(), r.at("filters"),
                "expected a list of FilterCriteria patterns as JSON text, found " + shown(filters));
      } else {
        for (const YAML::Node& f : filters) {
          if (!f.IsScalar()) {
            c.error(f.Mark(), r.at("filters"),
                    "expected a pattern as JSON text ('{\"data\": {...}}'), found " + shown(f));
            continue;
          }
          m.filters.push_back(f.Scalar());
        }
      }
    }
    r.finish();
    spec.mappings.push_back(std::move(m));
  });
}

// References between sections, checked once everything is read.
void check_references(Checker& c, const YAML::Node& root, PipelineSpec& spec) {
  std::vector<std::string> stream_names;
  for (const StreamSpec& s : spec.streams) stream_names.push_back(s.name);
  std::set<std::string> buckets;
  for (const BucketSpec& b : spec.buckets) buckets.insert(b.name);
  const bool remote = spec.node.s3_endpoint.has_value();
  for (const DeliverySpec& d : spec.deliveries) {
    if (!d.source_stream.empty() && spec.find_stream(d.source_stream) == nullptr) {
      c.error(mark_of(d.at), "delivery_streams." + d.name + ".source",
              "no stream '" + d.source_stream + "' in streams: expected " +
                  (stream_names.empty() ? std::string("a stream declared under streams")
                                        : one_of(stream_names)));
    }
    if (!remote && !d.bucket.empty() && buckets.count(d.bucket) == 0) {
      c.error(mark_of(d.at), "delivery_streams." + d.name + ".bucket",
              "no bucket '" + d.bucket + "' in buckets: declare it there (or set node.s3_endpoint "
              "to deliver to a bucket that exists at another S3 endpoint)");
    }
  }
  for (const ProducerSpec& p : spec.producers) {
    if (!p.stream.empty() && spec.find_stream(p.stream) == nullptr) {
      c.error(mark_of(p.at), "producers." + p.name + ".stream",
              "no stream '" + p.stream + "' in streams: expected " +
                  (stream_names.empty() ? std::string("a stream declared under streams")
                                        : one_of(stream_names)));
    }
  }
  std::vector<std::string> function_names;
  for (const process::FunctionConfig& f : spec.functions) function_names.push_back(f.name);
  std::set<std::pair<std::string, std::string>> pairs;
  for (const MappingSpec& m : spec.mappings) {
    const std::string where = "mappings." + m.name;
    if (!m.function.empty() &&
        std::find(function_names.begin(), function_names.end(), m.function) == function_names.end()) {
      c.error(mark_of(m.at), where + ".function",
              "no function '" + m.function + "' in functions: expected " +
                  (function_names.empty() ? std::string("a function declared under functions")
                                          : one_of(function_names)));
    }
    for (const auto& [key, stream] : {std::pair<const char*, const std::string&>{"source", m.source},
                                      {"on_failure", m.on_failure}}) {
      if (!stream.empty() && spec.find_stream(stream) == nullptr) {
        c.error(mark_of(m.at), where + "." + key,
                "no stream '" + stream + "' in streams: expected " +
                    (stream_names.empty() ? std::string("a stream declared under streams")
                                          : one_of(stream_names)));
      }
    }
    if (!pairs.emplace(m.function, m.source).second) {
      c.error(mark_of(m.at), where,
              "a second mapping of function " + m.function + " and stream " + m.source +
                  "; expected one per pair (as Lambda allows)");
    }
  }
  (void)root;
}

}  // namespace

Result<PipelineSpec> parse_pipeline(std::string_view text, const std::string& path) {
  Checker c(path);
  PipelineSpec spec;
  spec.path = path;
  {
    std::string base = path.substr(path.find_last_of('/') + 1);
    spec.name = base.substr(0, base.find('.'));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    c.error(e.mark, "", "not valid YAML: " + e.msg);
    return Error(ErrorCode::kInvalidArgument, c.errors().front());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInvalidArgument, path + ": not valid YAML: " + e.what());
  }
  try {
    if (!root.IsMap()) {
      c.error(root.Mark(), "",
              "expected a mapping with streams, tables, buckets, delivery_streams, producers; "
              "found " + shown(root));
    } else {
      Map top(c, root, "");
      if (auto v = top.integer<int>("version", 1, 1); !v && top.has("version")) {
        // reported by integer()
      }
      if (auto name = top.str("name")) spec.name = *name;
      parse_node(c, top.get("node"), spec.node);
      parse_streams(c, top.get("streams"), spec);
      parse_tables(c, top.get("tables"), spec);
      parse_buckets(c, top.get("buckets"), spec);
      parse_deliveries(c, top.get("delivery_streams"), spec);
      parse_producers(c, top.get("producers"), spec);
      const size_t slash = path.find_last_of('/');
      parse_functions_section(c, top.get("functions"),
                              slash == std::string::npos ? "." : path.substr(0, slash), spec);
      parse_mappings(c, top.get("mappings"), spec);
      parse_alarms(c, top.get("alarms"), spec);
      top.finish();
      check_references(c, root, spec);
    }
  } catch (const YAML::Exception& e) {
    c.error(e.mark, "", e.msg);
  }
  if (!c.ok()) {
    std::string all;
    for (const std::string& e : c.errors()) all += (all.empty() ? "" : "\n") + e;
    return Error(ErrorCode::kInvalidArgument, all);
  }
  return spec;
}

Result<PipelineSpec> load_pipeline(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return errno_error(errno, "open " + path);
  std::stringstream s;
  s << f.rdbuf();
  if (s.str().size() > (4u << 20)) {
    return Error(ErrorCode::kInvalidArgument, path + ": larger than 4 MiB; not a pipeline file");
  }
  return parse_pipeline(s.str(), path);
}

}  // namespace freshet::pipeline

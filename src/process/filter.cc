// FilterCriteria patterns (see filter.h). Patterns are compiled once into a tree; records are
// matched against it with one simdjson parse of their data.
#include "freshet/process/filter.h"

#include <simdjson.h>

#include <cmath>

#include "json_util.h"

namespace freshet::process {
namespace {

// A value of the record at a pattern's leaf.
struct Val {
  enum class T { kStr, kNum, kBool, kNull, kOther } t = T::kOther;
  std::string_view s;
  double n = 0;
  bool b = false;
};

Val val_of(simdjson::dom::element e) {
  Val v;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      v.t = Val::T::kStr;
      v.s = e.get_string().value_unsafe();
      break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      v.t = Val::T::kNum;
      v.n = e.get_double().value_unsafe();
      break;
    case simdjson::dom::element_type::BOOL:
      v.t = Val::T::kBool;
      v.b = e.get_bool().value_unsafe();
      break;
    case simdjson::dom::element_type::NULL_VALUE: v.t = Val::T::kNull; break;
    default: break;
  }
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

struct Matcher {
  enum class K {
    kStr, kNum, kNull, kBool, kPrefix, kSuffix, kIgnoreCase, kAnythingBut, kAnythingButPrefix,
    kNumeric, kExists
  };
  K k = K::kStr;
  std::string s;
  double n = 0;
  bool b = false;
  std::vector<Val> but;                 // kAnythingBut (strings point into but_text)
  std::vector<std::string> but_text;
  std::vector<std::pair<std::string, double>> ranges;  // kNumeric: (op, value)

  bool match(const Val& v) const {
    switch (k) {
      case K::kStr: return v.t == Val::T::kStr && v.s == s;
      case K::kNum: return v.t == Val::T::kNum && v.n == n;
      case K::kNull: return v.t == Val::T::kNull;
      case K::kBool: return v.t == Val::T::kBool && v.b == b;
      case K::kPrefix: return v.t == Val::T::kStr && v.s.starts_with(s);
      case K::kSuffix: return v.t == Val::T::kStr && v.s.ends_with(s);
      case K::kIgnoreCase: return v.t == Val::T::kStr && iequals(v.s, s);
      case K::kAnythingButPrefix: return v.t == Val::T::kStr && !v.s.starts_with(s);
      case K::kAnythingBut:
        for (const Val& x : but) {
          if (x.t == v.t && ((x.t == Val::T::kStr && x.s == v.s) ||
                             (x.t == Val::T::kNum && x.n == v.n))) {
            return false;
          }
        }
        return v.t == Val::T::kStr || v.t == Val::T::kNum;
      case K::kNumeric:
        if (v.t != Val::T::kNum) return false;
        for (const auto& [op, x] : ranges) {
          bool ok = op == "=" ? v.n == x : op == ">" ? v.n > x : op == ">=" ? v.n >= x
                  : op == "<" ? v.n < x : v.n <= x;
          if (!ok) return false;
        }
        return true;
      case K::kExists: return false;  // handled by the leaf
    }
    return false;
  }
};

}  // namespace

struct FilterSet::Node {
  bool leaf = false;
  std::vector<Matcher> matchers;                                  // leaf
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> children;  // object

  // A leaf matches the values found at its key (several when the value is an array).
  bool match_leaf(const std::vector<Val>& vals, bool present) const {
    for (const Matcher& m : matchers) {
      if (m.k == Matcher::K::kExists) {
        if (m.b == present) return true;
        continue;
      }
      for (const Val& v : vals) {
        if (m.match(v)) return true;
      }
    }
    return false;
  }

  bool match_element(simdjson::dom::element e) const {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) {
      for (const auto& [key, child] : children) {
        if (!child->leaf || !child->match_leaf({}, false)) return false;
      }
      return true;
    }
    for (const auto& [key, child] : children) {
      simdjson::dom::element c;
      const bool present = obj.at_key(key).get(c) == simdjson::SUCCESS;
      if (child->leaf) {
        std::vector<Val> vals;
        if (present) {
          simdjson::dom::array arr;
          if (c.get_array().get(arr) == simdjson::SUCCESS) {
            for (simdjson::dom::element x : arr) vals.push_back(val_of(x));
          } else {
            vals.push_back(val_of(c));
          }
        }
        if (!child->match_leaf(vals, present)) return false;
      } else {
        if (!present) {
          if (!child->match_absent()) return false;
        } else if (!child->match_element(c)) {
          return false;
        }
      }
    }
    return true;
  }

  // An object pattern under a missing key matches only if all its leaves say exists: false.
  bool match_absent() const {
    if (leaf) return match_leaf({}, false);
    for (const auto& [key, child] : children) {
      if (!child->match_absent()) return false;
    }
    return true;
  }
};

namespace {

Status compile_matcher(simdjson::dom::element e, Matcher& m) {
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "Invalid filter pattern definition: " + why);
  };
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      m.k = Matcher::K::kStr;
      m.s = std::string(e.get_string().value_unsafe());
      return {};
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      m.k = Matcher::K::kNum;
      m.n = e.get_double().value_unsafe();
      return {};
    case simdjson::dom::element_type::NULL_VALUE: m.k = Matcher::K::kNull; return {};
    case simdjson::dom::element_type::BOOL:
      m.k = Matcher::K::kBool;
      m.b = e.get_bool().value_unsafe();
      return {};
    case simdjson::dom::element_type::ARRAY: return bad("nested arrays are not allowed");
    case simdjson::dom::element_type::OBJECT: break;
  }
  simdjson::dom::object obj = e.get_object().value_unsafe();
  if (obj.size() != 1) return bad("a matcher object has exactly one key");
  auto [key, v] = *obj.begin();
  std::string_view sv;
  if (key == "prefix" || key == "suffix" || key == "equals-ignore-case") {
    if (v.get_string().get(sv) != simdjson::SUCCESS) return bad(std::string(key) + " wants a string");
    m.k = key == "prefix" ? Matcher::K::kPrefix
        : key == "suffix" ? Matcher::K::kSuffix : Matcher::K::kIgnoreCase;
    m.s = std::string(sv);
    return {};
  }
  if (key == "exists") {
    if (v.get_bool().get(m.b) != simdjson::SUCCESS) return bad("exists wants true or false");
    m.k = Matcher::K::kExists;
    return {};
  }
  if (key == "anything-but") {
    simdjson::dom::object po;
    if (v.get_object().get(po) == simdjson::SUCCESS) {
      simdjson::dom::element p;
      if (po.size() != 1 || po.at_key("prefix").get(p) != simdjson::SUCCESS ||
          p.get_string().get(sv) != simdjson::SUCCESS) {
        return bad("anything-but takes a value, a list or {\"prefix\": string}");
      }
      m.k = Matcher::K::kAnythingButPrefix;
      m.s = std::string(sv);
      return {};
    }
    m.k = Matcher::K::kAnythingBut;
    std::vector<simdjson::dom::element> items;
    simdjson::dom::array arr;
    if (v.get_array().get(arr) == simdjson::SUCCESS) {
      for (auto x : arr) items.push_back(x);
    } else {
      items.push_back(v);
    }
    m.but_text.reserve(items.size());
    for (auto x : items) {
      Val vx = val_of(x);
      if (vx.t == Val::T::kStr) {
        m.but_text.emplace_back(vx.s);
      } else if (vx.t != Val::T::kNum) {
        return bad("anything-but takes strings or numbers");
      }
      m.but.push_back(vx);
    }
    size_t si = 0;
    for (Val& vx : m.but) {
      if (vx.t == Val::T::kStr) vx.s = m.but_text[si++];
    }
    return {};
  }
  if (key == "numeric") {
    simdjson::dom::array arr;
    if (v.get_array().get(arr) != simdjson::SUCCESS) return bad("numeric wants a list");
    std::vector<simdjson::dom::element> items;
    for (auto x : arr) items.push_back(x);
    if (items.empty() || items.size() % 2 != 0 || items.size() > 4) {
      return bad("numeric wants [op, number] or [op, number, op, number]");
    }
    m.k = Matcher::K::kNumeric;
    for (size_t i = 0; i < items.size(); i += 2) {
      std::string_view op;
      double x = 0;
      if (items[i].get_string().get(op) != simdjson::SUCCESS ||
          (op != "=" && op != ">" && op != ">=" && op != "<" && op != "<=") ||
          items[i + 1].get_double().get(x) != simdjson::SUCCESS) {
        return bad("numeric wants [op, number] with op one of = > >= < <=");
      }
      m.ranges.emplace_back(std::string(op), x);
    }
    return {};
  }
  return bad("unknown matcher " + std::string(key));
}

Status compile_node(simdjson::dom::object obj, FilterSet::Node& node, int depth) {
  if (depth > 16) return Error(ErrorCode::kInvalidArgument, "Invalid filter pattern definition: too deep");
  for (auto [key, v] : obj) {
    auto child = std::make_unique<FilterSet::Node>();
    simdjson::dom::array arr;
    simdjson::dom::object sub;
    if (v.get_array().get(arr) == simdjson::SUCCESS) {
      child->leaf = true;
      for (auto x : arr) {
        Matcher m;
        FRESHET_RETURN_IF_ERROR(compile_matcher(x, m));
        child->matchers.push_back(std::move(m));
      }
      if (child->matchers.empty()) {
        return Error(ErrorCode::kInvalidArgument,
                     "Invalid filter pattern definition: empty list for " + std::string(key));
      }
    } else if (v.get_object().get(sub) == simdjson::SUCCESS) {
      FRESHET_RETURN_IF_ERROR(compile_node(sub, *child, depth + 1));
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "Invalid filter pattern definition: the value of " + std::string(key) +
                       " must be a list or an object");
    }
    node.children.emplace_back(std::string(key), std::move(child));
  }
  return {};
}

}  // namespace

FilterSet::FilterSet() = default;
FilterSet::~FilterSet() = default;
FilterSet::FilterSet(FilterSet&&) noexcept = default;
FilterSet& FilterSet::operator=(FilterSet&&) noexcept = default;

Result<FilterSet> FilterSet::compile(const std::vector<std::string>& patterns) {
  FilterSet set;
  simdjson::dom::parser parser;
  for (const std::string& p : patterns) {
    simdjson::dom::element root;
    simdjson::dom::object obj;
    if (parser.parse(p).get(root) != simdjson::SUCCESS ||
        root.get_object().get(obj) != simdjson::SUCCESS) {
      return Error(ErrorCode::kInvalidArgument,
                   "Invalid filter pattern definition: not a JSON object: " + p);
    }
    auto node = std::make_unique<Node>();
    FRESHET_RETURN_IF_ERROR(compile_node(obj, *node, 0));
    set.patterns_.push_back(std::move(node));
  }
  return set;
}

bool FilterSet::empty() const { return patterns_.empty(); }

bool FilterSet::matches(const Record& record, simdjson::dom::parser* caller_parser) const {
  if (patterns_.empty()) return true;
  simdjson::dom::parser own;
  simdjson::dom::parser& parser = caller_parser != nullptr ? *caller_parser : own;
  simdjson::dom::element data;
  const bool json = parser.parse(record.data.data(), record.data.size()).get(data) ==
                    simdjson::SUCCESS;
  for (const auto& pattern : patterns_) {
    bool all = true;
    for (const auto& [key, child] : pattern->children) {
      bool ok;
      if (key == "data") {
        if (!json) {
          ok = child->match_absent();
        } else if (child->leaf) {
          std::vector<Val> vals;
          simdjson::dom::array arr;
          if (data.get_array().get(arr) == simdjson::SUCCESS) {
            for (auto x : arr) vals.push_back(val_of(x));
          } else {
            vals.push_back(val_of(data));
          }
          ok = child->match_leaf(vals, true);
        } else {
          ok = child->match_element(data);
        }
      } else if (key == "partitionKey" || key == "sequenceNumber") {
        Val v;
        v.t = Val::T::kStr;
        v.s = key == "partitionKey" ? record.partition_key : record.sequence_number;
        ok = child->leaf ? child->match_leaf({v}, true) : false;
      } else if (key == "approximateArrivalTimestamp") {
        Val v;
        v.t = Val::T::kNum;
        v.n = static_cast<double>(record.arrival_ms) / 1000.0;
        ok = child->leaf ? child->match_leaf({v}, true) : false;
      } else {
        ok = child->match_absent();
      }
      if (!ok) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace freshet::process

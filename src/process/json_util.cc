#include "json_util.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "freshet/common/base64.h"
#include "freshet/table/number.h"

namespace freshet::process {

void append_json_string(std::string& out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

Result<JsonPath> parse_json_path(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid JSON path '" + std::string(text) + "': " + why);
  };
  std::string_view s = text;
  if (s.starts_with("$.")) s.remove_prefix(2);
  if (s.empty()) return bad("empty");
  JsonPath path;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i);
      if (close == std::string_view::npos) return bad("missing ]");
      std::string_view inner = s.substr(i + 1, close - i - 1);
      PathStep step;
      if (inner == "*") {
        step.wildcard = true;
      } else {
        if (inner.empty() || inner.size() > 9) return bad("bad index");
        int64_t v = 0;
        for (char c : inner) {
          if (c < '0' || c > '9') return bad("bad index");
          v = v * 10 + (c - '0');
        }
        step.index = v;
      }
      path.push_back(std::move(step));
      i = close + 1;
      if (i < s.size() && s[i] == '.') {
        ++i;
        if (i == s.size()) return bad("ends with .");
      }
      continue;
    }
    size_t end = i;
    while (end < s.size() && s[end] != '.' && s[end] != '[') ++end;
    if (end == i) return bad("empty member name");
    PathStep step;
    step.key = std::string(s.substr(i, end - i));
    path.push_back(std::move(step));
    i = end;
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (i == s.size()) return bad("ends with .");
    }
  }
  if (path.size() > 32) return bad("more than 32 steps");
  return path;
}

bool path_has_wildcard(const JsonPath& p) {
  for (const auto& s : p) {
    if (s.wildcard) return true;
  }
  return false;
}

void collect_path(simdjson::dom::element root, const JsonPath& path, size_t step,
                  std::vector<simdjson::dom::element>& out) {
  if (step == path.size()) {
    out.push_back(root);
    return;
  }
  const PathStep& p = path[step];
  if (!p.key.empty()) {
    simdjson::dom::object obj;
    if (root.get_object().get(obj) != simdjson::SUCCESS) return;
    simdjson::dom::element child;
    if (obj.at_key(p.key).get(child) != simdjson::SUCCESS) return;
    collect_path(child, path, step + 1, out);
    return;
  }
  simdjson::dom::array arr;
  if (root.get_array().get(arr) != simdjson::SUCCESS) return;
  if (p.wildcard) {
    for (simdjson::dom::element e : arr) collect_path(e, path, step + 1, out);
    return;
  }
  simdjson::dom::element child;
  if (arr.at(static_cast<size_t>(p.index)).get(child) != simdjson::SUCCESS) return;
  collect_path(child, path, step + 1, out);
}

PathSet::PathSet(const std::vector<JsonPath>& paths) {
  for (const JsonPath& path : paths) {
    int at = -1;
    size_t step = 0;
    for (; step < path.size() && !path[step].key.empty(); ++step) {
      int found = -1;
      for (int c : at < 0 ? root_children_ : nodes_[static_cast<size_t>(at)].children) {
        if (nodes_[static_cast<size_t>(c)].key == path[step].key) found = c;
      }
      if (found < 0) {
        found = static_cast<int>(nodes_.size());
        nodes_.push_back(Node{path[step].key, {}});
        (at < 0 ? root_children_ : nodes_[static_cast<size_t>(at)].children).push_back(found);
      }
      at = found;
    }
    node_.push_back(at);
    rest_.emplace_back(path.begin() + static_cast<ptrdiff_t>(step), path.end());
  }
  elems_.resize(nodes_.size());
  have_.resize(nodes_.size());
}

void PathSet::resolve(simdjson::dom::element root) {
  root_ = root;
  std::fill(have_.begin(), have_.end(), 0);
  match_members(root, root_children_);
  for (size_t n = 0; n < nodes_.size(); ++n) {  // parents come before their children
    if (have_[n] && !nodes_[n].children.empty()) match_members(elems_[n], nodes_[n].children);
  }
}

// One pass over e's members (if e is an object): each child takes the first of its name.
void PathSet::match_members(simdjson::dom::element e, const std::vector<int>& children) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return;
  size_t left = children.size();
  for (auto field : obj) {
    const std::string_view key = field.key;
    for (int c : children) {
      const auto n = static_cast<size_t>(c);
      if (!have_[n] && nodes_[n].key.size() == key.size() && nodes_[n].key == key) {
        have_[n] = 1;
        elems_[n] = field.value;
        --left;
        break;
      }
    }
    if (left == 0) break;
  }
}

void PathSet::collect(size_t k, std::vector<simdjson::dom::element>& out) const {
  const int n = node_[k];
  if (n < 0) {
    collect_path(root_, rest_[k], 0, out);
  } else if (have_[static_cast<size_t>(n)]) {
    if (rest_[k].empty()) {
      out.push_back(elems_[static_cast<size_t>(n)]);
    } else {
      collect_path(elems_[static_cast<size_t>(n)], rest_[k], 0, out);
    }
  }
}

Result<table::Value> json_to_value(simdjson::dom::element e, int depth) {
  if (depth > table::kMaxDepth) {
    return Error(ErrorCode::kInvalidArgument, "nested more than 32 levels");
  }
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      return table::Value::s(std::string(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: {
      const std::string text = simdjson::to_string(e);
      auto d = table::Decimal::parse(text);
      if (!d.ok()) return Error(ErrorCode::kInvalidArgument, "number " + text + ": " + d.error().message());
      return table::Value::n(d->canonical());
    }
    case simdjson::dom::element_type::BOOL:
      return table::Value::boolean(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return table::Value::null();
    case simdjson::dom::element_type::ARRAY: {
      std::vector<table::Value> l;
      const simdjson::dom::array arr = e.get_array().value_unsafe();
      for (simdjson::dom::element c : arr) {
        auto v = json_to_value(c, depth + 1);
        if (!v.ok()) return v.error();
        l.push_back(std::move(v).value());
      }
      return table::Value::list(std::move(l));
    }
    case simdjson::dom::element_type::OBJECT: {
      table::Item m;
      const simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto [k, c] : obj) {
        auto v = json_to_value(c, depth + 1);
        if (!v.ok()) return v.error();
        m.insert_or_assign(std::string(k), std::move(v).value());
      }
      return table::Value::map(std::move(m));
    }
  }
  return table::Value::null();
}

void append_value_json(std::string& out, const table::Value& v) {
  using table::Type;
  switch (v.type()) {
    case Type::kS: append_json_string(out, v.str()); break;
    case Type::kN: out += v.str(); break;
    case Type::kB: append_json_string(out, base64_encode(v.str())); break;
    case Type::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Type::kNull: out += "null"; break;
    case Type::kM: append_item_json(out, v.as_map()); break;
    case Type::kL: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out.push_back(',');
        first = false;
        append_value_json(out, e);
      }
      out.push_back(']');
      break;
    }
    case Type::kSS:
    case Type::kNS:
    case Type::kBS: {
      out.push_back('[');
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) out.push_back(',');
        first = false;
        if (v.type() == Type::kNS) {
          out += m;
        } else if (v.type() == Type::kBS) {
          append_json_string(out, base64_encode(m));
        } else {
          append_json_string(out, m);
        }
      }
      out.push_back(']');
      break;
    }
  }
}

void append_item_json(std::string& out, const table::Item& item) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : item) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, k);
    out.push_back(':');
    append_value_json(out, v);
  }
  out.push_back('}');
}

std::string iso8601_ms(int64_t epoch_ms) {
  const time_t secs = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

}  // namespace freshet::process

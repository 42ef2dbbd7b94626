#include "freshet/table/value.h"

#include <algorithm>

#include "freshet/common/base64.h"
#include "freshet/table/number.h"

namespace freshet::table {

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kS: return "S";
    case Type::kN: return "N";
    case Type::kB: return "B";
    case Type::kBool: return "BOOL";
    case Type::kNull: return "NULL";
    case Type::kM: return "M";
    case Type::kL: return "L";
    case Type::kSS: return "SS";
    case Type::kNS: return "NS";
    case Type::kBS: return "BS";
  }
  return "?";
}

bool type_from_name(std::string_view name, Type& out) {
  static constexpr Type kAll[] = {Type::kS,  Type::kN, Type::kB,  Type::kBool, Type::kNull,
                                  Type::kM,  Type::kL, Type::kSS, Type::kNS,   Type::kBS};
  for (Type t : kAll) {
    if (type_name(t) == name) {
      out = t;
      return true;
    }
  }
  return false;
}

Value Value::map(Item m) {
  Value v(Type::kM, {});
  v.m_ = std::make_unique<Item>(std::move(m));
  return v;
}

Value Value::list(std::vector<Value> l) {
  Value v(Type::kL, {});
  v.l_ = std::make_unique<std::vector<Value>>(std::move(l));
  return v;
}

Value Value::set(Type t, std::vector<std::string> members) {
  Value v(t, {});
  if (t == Type::kNS) {
    std::sort(members.begin(), members.end(), [](const std::string& a, const std::string& b) {
      auto da = Decimal::parse(a), db = Decimal::parse(b);
      if (!da.ok() || !db.ok()) return a < b;
      return da->compare(*db) < 0;
    });
  } else {
    std::sort(members.begin(), members.end());
  }
  members.erase(std::unique(members.begin(), members.end()), members.end());
  v.set_ = std::move(members);
  return v;
}

void Value::copy_from(const Value& o) {
  type_ = o.type_;
  bool_ = o.bool_;
  s_ = o.s_;
  set_ = o.set_;
  m_ = o.m_ ? std::make_unique<Item>(*o.m_) : nullptr;
  l_ = o.l_ ? std::make_unique<std::vector<Value>>(*o.l_) : nullptr;
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kS:
    case Type::kN:
    case Type::kB: return s_ == o.s_;
    case Type::kBool: return bool_ == o.bool_;
    case Type::kNull: return true;
    case Type::kM: return *m_ == *o.m_;
    case Type::kL: return *l_ == *o.l_;
    default: return set_ == o.set_;
  }
}

size_t value_size(const Value& v) {
  switch (v.type()) {
    case Type::kS:
    case Type::kB: return v.str().size();
    case Type::kN: return Decimal::text_size(v.str());
    case Type::kBool:
    case Type::kNull: return 1;
    case Type::kSS:
    case Type::kBS: {
      size_t n = 0;
      for (const auto& m : v.members()) n += m.size();
      return n;
    }
    case Type::kNS: {
      size_t n = 0;
      for (const auto& m : v.members()) n += Decimal::text_size(m);
      return n;
    }
    case Type::kL: {
      size_t n = 3;
      for (const auto& e : v.as_list()) n += 1 + value_size(e);
      return n;
    }
    case Type::kM: {
      size_t n = 3;
      for (const auto& [k, e] : v.as_map()) n += 1 + k.size() + value_size(e);
      return n;
    }
  }
  return 0;
}

size_t item_size(const Item& item) {
  size_t n = 0;
  for (const auto& [k, v] : item) n += k.size() + value_size(v);
  return n;
}

namespace {
void append_quoted(std::string_view s, std::string& out) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[(c >> 4) & 15]);
      out.push_back(kHex[c & 15]);
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
}

void debug(const Value& v, std::string& out) {
  out += "{\"";
  out += type_name(v.type());
  out += "\":";
  switch (v.type()) {
    case Type::kS:
    case Type::kN: append_quoted(v.str(), out); break;
    case Type::kB: append_quoted(base64_encode(v.str()), out); break;
    case Type::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Type::kNull: out += "true"; break;
    case Type::kSS:
    case Type::kNS:
    case Type::kBS: {
      out.push_back('[');
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) out.push_back(',');
        first = false;
        append_quoted(v.type() == Type::kBS ? base64_encode(m) : m, out);
      }
      out.push_back(']');
      break;
    }
    case Type::kL: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out.push_back(',');
        first = false;
        debug(e, out);
      }
      out.push_back(']');
      break;
    }
    case Type::kM: out += to_debug_string(v.as_map()); break;
  }
  out.push_back('}');
}
}  // namespace

std::string to_debug_string(const Value& v) {
  std::string s;
  debug(v, s);
  return s;
}

std::string to_debug_string(const Item& item) {
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : item) {
    if (!first) s.push_back(',');
    first = false;
    append_quoted(k, s);
    s.push_back(':');
    debug(v, s);
  }
  s.push_back('}');
  return s;
}

}  // namespace freshet::table

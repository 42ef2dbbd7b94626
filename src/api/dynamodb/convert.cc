#include "convert.h"

#include <algorithm>
#include <array>

#include "freshet/api/codec.h"
#include "freshet/common/base64.h"
#include "freshet/table/codec.h"
#include "freshet/table/number.h"

namespace freshet::api::dynamodb {

using table::Type;
using table::Value;

ApiError validation(std::string message) {
  return ApiError{AwsError::kValidation, std::move(message)};
}

namespace {

Converted<Value> fail(ApiError e) {
  Converted<Value> c;
  c.error = std::move(e);
  return c;
}
Converted<Value> fail(std::string message) { return fail(validation(std::move(message))); }
Converted<Value> done(Value v) {
  Converted<Value> c;
  c.value = std::move(v);
  return c;
}

std::string join_members(const std::vector<std::string>& m) {
  std::string s = "[";
  for (size_t i = 0; i < m.size(); ++i) {
    if (i) s += ", ";
    s += m[i];
  }
  return s + "]";
}

ApiError wrong_json(const char* expected) { return serialization_error(expected); }

}  // namespace

Converted<Value> to_value(const Document& av, int depth) {
  if (depth > table::kMaxDepth) {
    return fail("Nesting Levels have exceeded supported limits");
  }
  if (!av.is_map()) {
    if (av.is_list()) return fail(wrong_json("Start of list found where not expected"));
    return fail(wrong_json("Expected map or null"));
  }
  const Map& m = av.as_map();
  // Members with null values are ignored, as the AWS JSON parsers do.
  const Member* only = nullptr;
  size_t set_count = 0;
  for (const Member& mem : m) {
    if (mem.value.is_null()) continue;
    ++set_count;
    only = &mem;
  }
  if (set_count == 0) {
    return fail("Supplied AttributeValue is empty, must contain exactly one of the supported "
                "datatypes");
  }
  if (set_count > 1) {
    return fail("Supplied AttributeValue has more than one datatypes set, must contain exactly "
                "one of the supported datatypes");
  }
  const std::string& t = only->key;
  const Document& v = only->value;
  auto want_string = [&](const Document& d) -> std::optional<ApiError> {
    if (d.is_string()) return std::nullopt;
    if (d.is_bool()) return wrong_json("class java.lang.Boolean can not be converted to an String");
    if (d.is_number()) return wrong_json("class java.lang.Integer can not be converted to an String");
    if (d.is_list()) return wrong_json("Start of list found where not expected");
    return wrong_json("Start of structure or map found where not expected.");
  };
  auto want_list = [&](const Document& d) -> std::optional<ApiError> {
    if (d.is_list()) return std::nullopt;
    if (d.is_map()) return wrong_json("Start of structure or map found where not expected.");
    return wrong_json("Expected list or null");
  };
  if (t == "S") {
    if (auto e = want_string(v)) return fail(*e);
    return done(Value::s(v.as_string()));
  }
  if (t == "N") {
    if (auto e = want_string(v)) return fail(*e);
    if (v.as_string().empty()) return fail("The parameter cannot be converted to a numeric value");
    auto d = table::Decimal::parse(v.as_string());
    if (!d.ok()) return fail(d.error().message());
    return done(Value::n(d->canonical()));
  }
  if (t == "B") {
    if (auto e = want_string(v)) return fail(*e);
    auto bytes = base64_decode(v.as_string());
    if (!bytes.ok()) return fail(serialization_error(bytes.error().message()));
    return done(Value::b(std::move(*bytes)));
  }
  if (t == "BOOL") {
    if (!v.is_bool()) return fail(wrong_json("Expected a boolean"));
    return done(Value::boolean(v.as_bool()));
  }
  if (t == "NULL") {
    if (!v.is_bool()) return fail(wrong_json("Expected a boolean"));
    if (!v.as_bool()) {
      return fail("One or more parameter values were invalid: Null attribute value types must "
                  "have the value of true");
    }
    return done(Value::null());
  }
  if (t == "SS" || t == "NS" || t == "BS") {
    if (auto e = want_list(v)) return fail(*e);
    const List& l = v.as_list();
    if (l.empty()) {
      return fail("One or more parameter values were invalid: An AttributeValue may not contain "
                  "an empty set.");
    }
    std::vector<std::string> members, shown;
    for (const Document& e : l) {
      if (auto err = want_string(e)) return fail(*err);
      shown.push_back(e.as_string());
      if (t == "NS") {
        if (e.as_string().empty()) return fail("The parameter cannot be converted to a numeric value");
        auto d = table::Decimal::parse(e.as_string());
        if (!d.ok()) return fail(d.error().message());
        members.push_back(d->canonical());
      } else if (t == "BS") {
        auto bytes = base64_decode(e.as_string());
        if (!bytes.ok()) return fail(serialization_error(bytes.error().message()));
        members.push_back(std::move(*bytes));
      } else {
        members.push_back(e.as_string());
      }
    }
    std::vector<std::string> sorted = members;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      if (t == "SS") {
        return fail("One or more parameter values were invalid: Input collection " +
                    join_members(shown) + " contains duplicates.");
      }
      if (t == "NS") return fail("Input collection contains duplicates");
      return fail("One or more parameter values were invalid: Input collection " +
                  join_members(shown) + "of type BS contains duplicates.");
    }
    Type st = t == "SS" ? Type::kSS : t == "NS" ? Type::kNS : Type::kBS;
    return done(Value::set(st, std::move(members)));
  }
  if (t == "L") {
    if (auto e = want_list(v)) return fail(*e);
    std::vector<Value> out;
    out.reserve(v.as_list().size());
    for (const Document& e : v.as_list()) {
      auto c = to_value(e, depth + 1);
      if (!c.ok()) return c;
      out.push_back(std::move(*c.value));
    }
    return done(Value::list(std::move(out)));
  }
  if (t == "M") {
    if (!v.is_map()) return fail(wrong_json("Expected map or null"));
    table::Item out;
    for (const Member& e : v.as_map()) {
      if (e.value.is_null()) continue;
      auto c = to_value(e.value, depth + 1);
      if (!c.ok()) return c;
      out[e.key] = std::move(*c.value);
    }
    return done(Value::map(std::move(out)));
  }
  return fail("Supplied AttributeValue is empty, must contain exactly one of the supported "
              "datatypes");
}

Converted<table::Item> to_item(const Document& map) {
  Converted<table::Item> out;
  if (!map.is_map()) {
    out.error = serialization_error(map.is_list() ? "Start of list found where not expected"
                                                  : "Expected map or null");
    return out;
  }
  table::Item item;
  for (const Member& m : map.as_map()) {
    if (m.value.is_null()) continue;
    auto c = to_value(m.value);
    if (!c.ok()) {
      out.error = std::move(c.error);
      return out;
    }
    item[m.key] = std::move(*c.value);
  }
  out.value = std::move(item);
  return out;
}

Document from_value(const Value& v) {
  Document d = Document::make_map();
  const std::string t(table::type_name(v.type()));
  switch (v.type()) {
    case Type::kS:
    case Type::kN: d.set(t, v.str()); break;
    case Type::kB: d.set(t, Document::blob(v.str())); break;
    case Type::kBool: d.set(t, v.as_bool()); break;
    case Type::kNull: d.set(t, true); break;
    case Type::kSS:
    case Type::kNS:
    case Type::kBS: {
      Document l = Document::make_list();
      for (const auto& m : v.members()) {
        l.push_back(v.type() == Type::kBS ? Document::blob(m) : Document(m));
      }
      d.set(t, std::move(l));
      break;
    }
    case Type::kL: {
      Document l = Document::make_list();
      for (const auto& e : v.as_list()) l.push_back(from_value(e));
      d.set(t, std::move(l));
      break;
    }
    case Type::kM: d.set(t, from_item(v.as_map())); break;
  }
  return d;
}

Document from_item(const table::Item& item) {
  Document d = Document::make_map();
  Map& m = d.as_map();
  m.reserve(item.size());
  for (const auto& [k, v] : item) m.push_back(Member{k, from_value(v)});
  return d;
}

void append_value_json(const Value& v, std::string& out) {
  out += "{\"";
  out += table::type_name(v.type());
  out += "\":";
  switch (v.type()) {
    case Type::kS:
    case Type::kN: append_json_string(v.str(), out); break;
    case Type::kB:
      out.push_back('"');
      base64_encode_append(v.str(), out);
      out.push_back('"');
      break;
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
        if (v.type() == Type::kBS) {
          out.push_back('"');
          base64_encode_append(m, out);
          out.push_back('"');
        } else {
          append_json_string(m, out);
        }
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
        append_value_json(e, out);
      }
      out.push_back(']');
      break;
    }
    case Type::kM: append_item_json(v.as_map(), out); break;
  }
  out.push_back('}');
}

void append_item_json(const table::Item& item, std::string& out) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : item) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(k, out);
    out.push_back(':');
    append_value_json(v, out);
  }
  out.push_back('}');
}

namespace {

// Writes append_value_json's text for each value walk_item reports. Commas: a member of an
// item or M is preceded by one when it is not the first (at its name); an element of an L
// or a set, at its value.
class JsonItemWriter final : public table::ItemVisitor {
 public:
  explicit JsonItemWriter(std::string& out) : out_(out) {}

  void name(std::string_view n) override {
    separate();
    append_json_string(n, out_);
    out_.push_back(':');
  }
  void scalar(Type t, std::string_view bytes) override {
    open_value(t);
    if (t == Type::kB) {
      out_.push_back('"');
      base64_encode_append(bytes, out_);
      out_.push_back('"');
    } else {
      append_json_string(bytes, out_);
    }
    out_.push_back('}');
  }
  void boolean(bool b) override {
    open_value(Type::kBool);
    out_ += b ? "true}" : "false}";
  }
  void null() override {
    open_value(Type::kNull);
    out_ += "true}";
  }
  void begin(Type t) override {
    open_value(t);
    out_.push_back(t == Type::kM ? '{' : '[');
    ++depth_;
    first_[depth_] = true;
    in_list_[depth_] = t != Type::kM;
  }
  void set_member(Type set_type, std::string_view bytes) override {
    separate();
    if (set_type == Type::kBS) {
      out_.push_back('"');
      base64_encode_append(bytes, out_);
      out_.push_back('"');
    } else {
      append_json_string(bytes, out_);
    }
  }
  void end(Type t) override {
    --depth_;
    out_ += t == Type::kM ? "}}" : "]}";
  }

 private:
  void separate() {
    if (!first_[depth_]) out_.push_back(',');
    first_[depth_] = false;
  }
  // {"T": with the comma before it inside an L.
  void open_value(Type t) {
    static constexpr std::string_view kOpen[] = {
        "",         "{\"S\":",  "{\"N\":", "{\"B\":",  "{\"BOOL\":", "{\"NULL\":",
        "{\"M\":", "{\"L\":", "{\"SS\":", "{\"NS\":", "{\"BS\":"};
    static_assert(static_cast<int>(Type::kBS) == 10);
    if (in_list_[depth_]) separate();
    out_ += kOpen[static_cast<uint8_t>(t)];
  }

  std::string& out_;
  // walk_item stops past kMaxDepth + 1 levels of values.
  static constexpr int kLevels = table::kMaxDepth + 4;
  int depth_ = 0;
  std::array<bool, kLevels> first_{true};
  std::array<bool, kLevels> in_list_{false};
};

}  // namespace

Status append_encoded_item_json(std::string_view encoded, std::string& out, size_t* size) {
  out.push_back('{');
  JsonItemWriter w(out);
  FRESHET_RETURN_IF_ERROR(table::walk_item(encoded, &w, size));
  out.push_back('}');
  return Status();
}

}  // namespace freshet::api::dynamodb

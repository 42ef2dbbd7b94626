// The built-in functions: extract, filter and window_count (see function.h).
#include "builtins.h"

#include <simdjson.h>

#include <algorithm>
#include <unordered_map>

#include "freshet/process/filter.h"
#include "freshet/table/number.h"
#include "json_util.h"

namespace freshet::process {
namespace {

std::string json_error(simdjson::error_code e) {
  return std::string("record is not valid JSON: ") + simdjson::error_message(e);
}

// ---- extract ----

struct CompiledField {
  ExtractField f;
  JsonPath path;
  bool multi = false;  // the path has [*]
  std::optional<table::Value> default_value;
};

const char* type_label(ExtractField::Type t) {
  switch (t) {
    case ExtractField::Type::kS: return "S";
    case ExtractField::Type::kN: return "N";
    case ExtractField::Type::kBool: return "BOOL";
    case ExtractField::Type::kSS: return "SS";
    case ExtractField::Type::kNS: return "NS";
    case ExtractField::Type::kJson: return "JSON";
  }
  return "?";
}

const char* json_type_name(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
  }
  return "?";
}

bool is_number(simdjson::dom::element e) {
  auto t = e.type();
  return t == simdjson::dom::element_type::INT64 || t == simdjson::dom::element_type::UINT64 ||
         t == simdjson::dom::element_type::DOUBLE;
}

Result<std::string> number_text(simdjson::dom::element e) {
  int64_t i;
  if (e.type() == simdjson::dom::element_type::INT64 && e.get_int64().get(i) == simdjson::SUCCESS) {
    return std::to_string(i);
  }
  auto d = table::Decimal::parse(simdjson::to_string(e));
  if (!d.ok()) return d.error();
  return d->canonical();
}

Result<std::string> canonical_number(std::string_view text) {
  auto d = table::Decimal::parse(text);
  if (!d.ok()) return d.error();
  return d->canonical();
}

// A scalar element as the field's type, or why not.
Result<table::Value> convert_scalar(const CompiledField& cf, simdjson::dom::element e) {
  auto mismatch = [&](const char* want) {
    return Error(ErrorCode::kInvalidArgument, "field '" + cf.f.name + "' (" + cf.f.path +
                                                  "): expected " + want + ", got " +
                                                  json_type_name(e.type()));
  };
  switch (cf.f.type) {
    case ExtractField::Type::kS: {
      std::string_view s;
      if (e.get_string().get(s) == simdjson::SUCCESS) return table::Value::s(std::string(s));
      if (is_number(e)) return table::Value::s(simdjson::to_string(e));
      return mismatch("a string");
    }
    case ExtractField::Type::kN: {
      std::string_view s;
      if (is_number(e)) {
        auto t = number_text(e);
        if (!t.ok()) return mismatch("a number DynamoDB can store");
        return table::Value::n(std::move(t).value());
      }
      if (e.get_string().get(s) == simdjson::SUCCESS) {
        auto t = canonical_number(s);
        if (t.ok()) return table::Value::n(std::move(t).value());
      }
      return mismatch("a number");
    }
    case ExtractField::Type::kBool: {
      bool b;
      if (e.get_bool().get(b) == simdjson::SUCCESS) return table::Value::boolean(b);
      return mismatch("a boolean");
    }
    case ExtractField::Type::kJson:
      return table::Value::s(simdjson::minify(e));
    default: break;
  }
  return mismatch("a scalar");
}

Result<std::optional<table::Value>> convert_field(const CompiledField& cf,
                                                  std::vector<simdjson::dom::element>& found) {
  const bool set = cf.f.type == ExtractField::Type::kSS || cf.f.type == ExtractField::Type::kNS;
  if (set) {
    // A single array at the path counts as its elements.
    if (!cf.multi && found.size() == 1 &&
        found[0].type() == simdjson::dom::element_type::ARRAY) {
      std::vector<simdjson::dom::element> elems;
      const simdjson::dom::array arr = found[0].get_array().value_unsafe();
      for (auto x : arr) elems.push_back(x);
      found = std::move(elems);
    }
    std::vector<std::string> members;
    for (auto e : found) {
      if (e.type() == simdjson::dom::element_type::NULL_VALUE) continue;
      if (cf.f.type == ExtractField::Type::kSS) {
        std::string_view s;
        if (e.get_string().get(s) != simdjson::SUCCESS) {
          return Error(ErrorCode::kInvalidArgument, "field '" + cf.f.name + "' (" + cf.f.path +
                                                        "): expected strings, got " +
                                                        json_type_name(e.type()));
        }
        members.emplace_back(s);
      } else {
        auto t = is_number(e) ? number_text(e) : Result<std::string>(Error(ErrorCode::kInvalidArgument, ""));
        if (!t.ok()) {
          return Error(ErrorCode::kInvalidArgument, "field '" + cf.f.name + "' (" + cf.f.path +
                                                        "): expected numbers, got " +
                                                        json_type_name(e.type()));
        }
        members.push_back(std::move(t).value());
      }
    }
    if (members.empty()) return std::optional<table::Value>();
    return std::optional<table::Value>(table::Value::set(
        cf.f.type == ExtractField::Type::kSS ? table::Type::kSS : table::Type::kNS,
        std::move(members)));
  }
  if (found.empty() || found[0].type() == simdjson::dom::element_type::NULL_VALUE) {
    return std::optional<table::Value>();
  }
  auto v = convert_scalar(cf, found[0]);
  if (!v.ok()) return v.error();
  return std::optional<table::Value>(std::move(v).value());
}

class ExtractFunction : public Function {
 public:
  explicit ExtractFunction(std::vector<CompiledField> fields)
      : fields_(std::move(fields)), paths_(paths_of(fields_)) {
    // Items are maps by name: inserted in name order, each goes at the end.
    for (size_t i = 0; i < fields_.size(); ++i) order_.push_back(i);
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
      return fields_[a].f.name < fields_[b].f.name;
    });
    values_.resize(fields_.size());
  }

  InvokeResult invoke(const Batch& batch) override {
    InvokeResult r;
    r.outputs.reserve(batch.records.size());
    std::vector<simdjson::dom::element> found;
    for (uint32_t i = 0; i < batch.records.size(); ++i) {
      const Record& rec = batch.records[i];
      simdjson::dom::element root;
      if (auto err = parser_.parse(rec.data.data(), rec.data.size()).get(root)) {
        r.failures.push_back({i, json_error(err), true});
        continue;
      }
      paths_.resolve(root);
      std::string failure;
      for (size_t k = 0; k < fields_.size(); ++k) {
        const CompiledField& cf = fields_[k];
        values_[k].reset();
        found.clear();
        paths_.collect(k, found);
        auto v = convert_field(cf, found);
        if (!v.ok()) {
          failure = v.error().message();
          break;
        }
        if (v->has_value()) {
          values_[k] = std::move(**v);
        } else if (cf.default_value) {
          values_[k] = *cf.default_value;
        } else if (cf.f.required) {
          failure = "missing required field '" + cf.f.name + "' (" + cf.f.path + ")";
          break;
        }
      }
      if (!failure.empty()) {
        r.failures.push_back({i, std::move(failure), true});
        continue;
      }
      Output& out = r.outputs.emplace_back();
      out.record = i;
      for (size_t k : order_) {
        if (!values_[k]) continue;
        const std::string& name = fields_[k].f.name;
        if (!out.item.empty() && out.item.rbegin()->first == name) {
          out.item.rbegin()->second = std::move(*values_[k]);  // a name declared twice: the last
        } else {
          out.item.emplace_hint(out.item.end(), name, std::move(*values_[k]));
        }
      }
    }
    return r;
  }

 private:
  static std::vector<JsonPath> paths_of(const std::vector<CompiledField>& fields) {
    std::vector<JsonPath> p;
    for (const CompiledField& cf : fields) p.push_back(cf.path);
    return p;
  }

  std::vector<CompiledField> fields_;
  PathSet paths_;               // the fields' paths (one thread at a time uses a Function)
  std::vector<size_t> order_;   // fields by name (declared order among equal names)
  std::vector<std::optional<table::Value>> values_;  // per record
  simdjson::dom::parser parser_;
};

// ---- filter ----

class FilterFunction : public Function {
 public:
  explicit FilterFunction(FilterSet filters) : filters_(std::move(filters)) {}
  InvokeResult invoke(const Batch& batch) override {
    InvokeResult r;
    for (uint32_t i = 0; i < batch.records.size(); ++i) {
      const Record& rec = batch.records[i];
      if (!filters_.matches(rec, &parser_)) continue;
      Output out;
      out.record = i;
      out.data = std::string(rec.data);
      out.partition_key = std::string(rec.partition_key);
      r.outputs.push_back(std::move(out));
    }
    return r;
  }

 private:
  FilterSet filters_;
  simdjson::dom::parser parser_;
};

// ---- window_count ----

class WindowCountFunction : public Function {
 public:
  WindowCountFunction(std::vector<std::pair<CountField, JsonPath>> fields, size_t max_keys)
      : fields_(std::move(fields)), paths_(paths_of(fields_)), max_keys_(max_keys) {}

  bool keeps_window_state() const override { return true; }
  std::string window_state() const override {
    std::string s = "{";
    bool first = true;
    for (const auto& [k, n] : counts_) {
      if (!first) s.push_back(',');
      first = false;
      append_json_string(s, k);
      s.push_back(':');
      s += std::to_string(n);
    }
    s.push_back('}');
    return s;
  }

  InvokeResult invoke(const Batch& batch) override {
    InvokeResult r;
    const bool continues = batch.window && batch.window->continues;
    if (!continues) {
      // The state as text (a mapping's first invocation of a window, or Lambda's Invoke).
      counts_.clear();
      const std::string& state = batch.window ? batch.window->state : std::string();
      simdjson::dom::element root;
      simdjson::dom::object obj;
      state_bytes_ = 2;
      if (!state.empty() && parser_.parse(state).get(root) == simdjson::SUCCESS &&
          root.get_object().get(obj) == simdjson::SUCCESS) {
        for (auto [k, v] : obj) {
          int64_t n = 0;
          if (v.get_int64().get(n) == simdjson::SUCCESS &&
              counts_.try_emplace(std::string(k), n).second) {
            state_bytes_ += entry_bytes(k);
          }
        }
      }
    }
    std::vector<simdjson::dom::element> found;
    std::string key;
    for (uint32_t i = 0; i < batch.records.size(); ++i) {
      const Record& rec = batch.records[i];
      simdjson::dom::element root;
      if (auto err = parser_.parse(rec.data.data(), rec.data.size()).get(root)) {
        r.failures.push_back({i, json_error(err), true});
        continue;
      }
      paths_.resolve(root);
      for (size_t f = 0; f < fields_.size(); ++f) {
        const CountField& field = fields_[f].first;
        found.clear();
        paths_.collect(f, found);
        for (auto e : found) {
          std::string_view s;
          key.assign(field.name);
          key.push_back('#');
          if (e.get_string().get(s) == simdjson::SUCCESS) {
            key.append(s);
          } else if (is_number(e) || e.type() == simdjson::dom::element_type::BOOL) {
            key += simdjson::to_string(e);
          } else {
            continue;  // null, objects and arrays are not counted
          }
          auto it = counts_.find(key);
          if (it == counts_.end() &&
              (counts_.size() >= max_keys_ || state_bytes_ + entry_bytes(key) > kMaxStateBytes)) {
            key.assign(field.name);
            key += "#(other)";
            it = counts_.find(key);
          }
          if (it == counts_.end()) {
            counts_.emplace(key, 1);
            state_bytes_ += entry_bytes(key);
          } else {
            ++it->second;
          }
        }
      }
    }
    const bool final_invoke = batch.window && batch.window->is_final;
    if (final_invoke) {
      for (const auto& [k, n] : counts_) {
        const size_t hash = k.find('#');
        Output out;
        out.item.emplace("key", table::Value::s(k));
        out.item.emplace("window_start", table::Value::n(std::to_string(batch.window->start_ms / 1000)));
        out.item.emplace("window_end", table::Value::n(std::to_string(batch.window->end_ms / 1000)));
        out.item.emplace("dimension", table::Value::s(k.substr(0, hash)));
        out.item.emplace("value", table::Value::s(k.substr(hash + 1)));
        out.item.emplace("count", table::Value::n(std::to_string(n)));
        r.outputs.push_back(std::move(out));
      }
      counts_.clear();
      state_bytes_ = 2;
      r.window_state = "{}";
    } else if (!continues) {
      r.window_state = window_state();
    }
    return r;
  }

 private:
  static std::vector<JsonPath> paths_of(const std::vector<std::pair<CountField, JsonPath>>& fields) {
    std::vector<JsonPath> p;
    for (const auto& f : fields) p.push_back(f.second);
    return p;
  }

  std::vector<std::pair<CountField, JsonPath>> fields_;
  PathSet paths_;
  size_t max_keys_;
  simdjson::dom::parser parser_;
  // The state's text is stored in the shard's checkpoint item, which must stay under the
  // table's 400 KB item limit (a checkpoint the table rejects would stall the shard): values
  // that would take the text past kMaxStateBytes count as "<name>#(other)", like those past
  // max_keys_. An "(other)" entry is at most one per count field, outside the budget.
  static constexpr size_t kMaxStateBytes = 320 * 1024;
  // What a key adds to the state's text, `"key":count,` with the key escaped and the count
  // taken as 10 digits (a count is at most the records a shard takes in one window: Kinesis'
  // limits and a window of at most 900 s keep it far below 10^10); the item limit leaves
  // some 80 KB more for counts that grow longer still.
  static size_t entry_bytes(std::string_view key) {
    size_t n = 14;
    for (char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      n += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 2 : c < 0x20 ? 6 : 1;
    }
    return n;
  }

  // The open window's counts (value key -> count), kept between invocations.
  std::unordered_map<std::string, int64_t> counts_;
  size_t state_bytes_ = 2;  // a bound of window_state().size() for counts_
};

}  // namespace

Result<std::unique_ptr<Function>> make_extract(const FunctionConfig& c) {
  if (c.extract.empty()) {
    return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": extract needs fields");
  }
  std::vector<CompiledField> fields;
  for (const ExtractField& f : c.extract) {
    CompiledField cf;
    cf.f = f;
    auto p = parse_json_path(f.path);
    if (!p.ok()) return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": " + p.error().message());
    cf.path = std::move(p).value();
    cf.multi = path_has_wildcard(cf.path);
    if (cf.multi && f.type != ExtractField::Type::kSS && f.type != ExtractField::Type::kNS &&
        f.type != ExtractField::Type::kJson) {
      return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": field " + f.name +
                                                    ": a [*] path needs type SS or NS");
    }
    if (f.default_value) {
      switch (f.type) {
        case ExtractField::Type::kS:
        case ExtractField::Type::kJson:
          cf.default_value = table::Value::s(*f.default_value);
          break;
        case ExtractField::Type::kN: {
          auto t = canonical_number(*f.default_value);
          if (!t.ok()) {
            return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": field " + f.name +
                                                          ": default is not a number");
          }
          cf.default_value = table::Value::n(std::move(t).value());
          break;
        }
        case ExtractField::Type::kBool:
          if (*f.default_value != "true" && *f.default_value != "false") {
            return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": field " + f.name +
                                                          ": default is not true or false");
          }
          cf.default_value = table::Value::boolean(*f.default_value == "true");
          break;
        default:
          return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": field " + f.name +
                                                        ": type " + type_label(f.type) +
                                                        " takes no default");
      }
    }
    fields.push_back(std::move(cf));
  }
  return std::unique_ptr<Function>(new ExtractFunction(std::move(fields)));
}

Result<std::unique_ptr<Function>> make_filter(const FunctionConfig& c) {
  auto f = FilterSet::compile(c.filter_patterns);
  if (!f.ok()) return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": " + f.error().message());
  return std::unique_ptr<Function>(new FilterFunction(std::move(f).value()));
}

Result<std::unique_ptr<Function>> make_window_count(const FunctionConfig& c) {
  if (c.counts.empty()) {
    return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": window_count needs counts");
  }
  std::vector<std::pair<CountField, JsonPath>> fields;
  for (const CountField& f : c.counts) {
    if (f.name.empty() || f.name.find('#') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "function " + c.name + ": a count needs a name without '#'");
    }
    auto p = parse_json_path(f.path);
    if (!p.ok()) return Error(ErrorCode::kInvalidArgument, "function " + c.name + ": " + p.error().message());
    fields.emplace_back(f, std::move(p).value());
  }
  return std::unique_ptr<Function>(new WindowCountFunction(std::move(fields), c.max_window_keys));
}

}  // namespace freshet::process

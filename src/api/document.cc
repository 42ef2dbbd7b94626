#include "freshet/api/document.h"

#include <cmath>
#include <string>

namespace freshet::api {

const Document* Document::find(std::string_view key) const {
  if (!is_map()) return nullptr;
  const Map& m = as_map();
  for (auto it = m.rbegin(); it != m.rend(); ++it) {
    if (it->key == key) return &it->value;
  }
  return nullptr;
}

Document* Document::find(std::string_view key) {
  return const_cast<Document*>(static_cast<const Document*>(this)->find(key));
}

Document& Document::set(std::string key, Document value) {
  if (Document* existing = find(key)) {
    *existing = std::move(value);
  } else {
    as_map().push_back(Member{std::move(key), std::move(value)});
  }
  return *this;
}

Document& Document::push_back(Document value) {
  as_list().push_back(std::move(value));
  return *this;
}

bool Document::operator==(const Document& other) const { return v_ == other.v_; }

const char* document_type_name(Document::Type t) {
  switch (t) {
    case Document::Type::kNull:
      return "null";
    case Document::Type::kBool:
      return "boolean";
    case Document::Type::kInt:
      return "integer";
    case Document::Type::kDouble:
      return "double";
    case Document::Type::kString:
      return "string";
    case Document::Type::kBlob:
      return "blob";
    case Document::Type::kTimestamp:
      return "timestamp";
    case Document::Type::kList:
      return "list";
    case Document::Type::kMap:
      return "map";
  }
  return "unknown";
}

namespace {

// Jackson/Coral style messages for a value of the wrong type (see kinesalite's validations).
std::string wrong_type_message(const Document& v, const char* target) {
  switch (v.type()) {
    case Document::Type::kBool:
      return std::string("class java.lang.Boolean can not be converted to ") + target;
    case Document::Type::kInt:
    case Document::Type::kDouble:
    case Document::Type::kTimestamp:
      // AWS's Coral JSON reader holds every number as a TruncatingBigNumber.
      return std::string("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not "
                         "be converted to ") + target;
    case Document::Type::kString:
    case Document::Type::kBlob:
      return std::string("class java.lang.String can not be converted to ") + target;
    case Document::Type::kList:
      return "Start of list found where not expected";
    case Document::Type::kMap:
      return "Start of structure or map found where not expected.";
    case Document::Type::kNull:
      break;
  }
  return std::string("null can not be converted to ") + target;
}

Error missing(std::string_view key) {
  return Error(ErrorCode::kNotFound, "missing member '" + std::string(key) + "'");
}

Error wrong_type(const Document& v, const char* target) {
  return Error(ErrorCode::kInvalidArgument, wrong_type_message(v, target));
}

// Looks up a member; null counts as absent.
const Document* lookup(const Document& map, std::string_view key) {
  const Document* d = map.find(key);
  if (d == nullptr || d->is_null()) return nullptr;
  return d;
}

Result<int64_t> to_int(const Document& d) {
  if (d.is_int()) return d.as_int();
  if (d.is_double()) {
    double v = d.as_double();
    if (std::isfinite(v) && v == std::floor(v) && v >= -9.2233720368547758e18 &&
        v < 9.2233720368547758e18) {
      return static_cast<int64_t>(v);
    }
    return Error(ErrorCode::kInvalidArgument, "Value out of range for a Long");
  }
  return wrong_type(d, "an Integer");
}

}  // namespace

Result<std::string_view> get_string(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_string()) return wrong_type(*d, "an String");
  return std::string_view(d->as_string());
}

Result<int64_t> get_int(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  return to_int(*d);
}

Result<double> get_double(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (d->is_double()) return d->as_double();
  if (d->is_int()) return static_cast<double>(d->as_int());
  return wrong_type(*d, "a Double");
}

Result<bool> get_bool(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_bool()) return wrong_type(*d, "an Boolean");
  return d->as_bool();
}

Result<std::string_view> get_blob(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_blob()) return wrong_type(*d, "a Blob");
  return std::string_view(d->as_blob());
}

Result<int64_t> get_timestamp_ms(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_timestamp()) return wrong_type(*d, "a Timestamp");
  return d->as_timestamp_ms();
}

Result<const List*> get_list(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_list()) {
    if (d->is_map()) return wrong_type(*d, "a List");
    return Error(ErrorCode::kInvalidArgument, "Expected list or null");
  }
  return &d->as_list();
}

Result<const Document*> get_map(const Document& map, std::string_view key) {
  const Document* d = lookup(map, key);
  if (!d) return missing(key);
  if (!d->is_map()) {
    if (d->is_list()) return wrong_type(*d, "a Map");
    return Error(ErrorCode::kInvalidArgument, "Expected map or null");
  }
  return d;
}

namespace {
template <typename T, typename F>
Result<std::optional<T>> optional_of(F&& f) {
  auto r = f();
  if (r.ok()) return std::optional<T>(std::move(r).value());
  if (is_missing_member(r.error())) return std::optional<T>();
  return r.error();
}
}  // namespace

Result<std::optional<std::string_view>> get_optional_string(const Document& map,
                                                            std::string_view key) {
  return optional_of<std::string_view>([&] { return get_string(map, key); });
}
Result<std::optional<int64_t>> get_optional_int(const Document& map, std::string_view key) {
  return optional_of<int64_t>([&] { return get_int(map, key); });
}
Result<std::optional<bool>> get_optional_bool(const Document& map, std::string_view key) {
  return optional_of<bool>([&] { return get_bool(map, key); });
}
Result<std::optional<std::string_view>> get_optional_blob(const Document& map,
                                                          std::string_view key) {
  return optional_of<std::string_view>([&] { return get_blob(map, key); });
}
Result<std::optional<int64_t>> get_optional_timestamp_ms(const Document& map,
                                                         std::string_view key) {
  return optional_of<int64_t>([&] { return get_timestamp_ms(map, key); });
}
Result<const List*> get_optional_list(const Document& map, std::string_view key) {
  auto r = get_list(map, key);
  if (!r.ok() && is_missing_member(r.error())) return static_cast<const List*>(nullptr);
  return r;
}
Result<const Document*> get_optional_map(const Document& map, std::string_view key) {
  auto r = get_map(map, key);
  if (!r.ok() && is_missing_member(r.error())) return static_cast<const Document*>(nullptr);
  return r;
}

}  // namespace freshet::api

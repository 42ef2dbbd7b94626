// DynamoDB's data model as plain C++ values: Value (one AttributeValue of any of the ten
// types) and Item (attribute name -> Value).
//
// Numbers are kept as their canonical decimal text (see number.h): never as a double, so
// 38 significant digits survive every round trip. Sets are kept sorted and free of
// duplicates (the order DynamoDB returns is unspecified; sorted makes equality cheap).
//
// A Value is a plain value type: copyable, comparable with ==, not thread-safe for
// concurrent mutation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace freshet::table {

enum class Type : uint8_t { kS = 1, kN, kB, kBool, kNull, kM, kL, kSS, kNS, kBS };

// "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS".
std::string_view type_name(Type t);
// Inverse of type_name; false if unknown.
bool type_from_name(std::string_view name, Type& out);

class Value;
using Item = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  Value() : type_(Type::kNull) {}
  static Value s(std::string v) { return Value(Type::kS, std::move(v)); }
  // REQUIRES: v is a canonical number (number.h: Decimal::parse(...).canonical()).
  static Value n(std::string canonical) { return Value(Type::kN, std::move(canonical)); }
  static Value b(std::string bytes) { return Value(Type::kB, std::move(bytes)); }
  static Value boolean(bool v) {
    Value x(Type::kBool, {});
    x.bool_ = v;
    return x;
  }
  static Value null() { return Value(); }
  static Value map(Item m);
  static Value list(std::vector<Value> l);
  // Sets: members are sorted and de-duplicated here (callers check duplicates first when
  // DynamoDB wants an error for them). NS members must be canonical numbers.
  static Value set(Type t, std::vector<std::string> members);

  Type type() const { return type_; }
  bool is(Type t) const { return type_ == t; }
  bool is_set() const { return type_ == Type::kSS || type_ == Type::kNS || type_ == Type::kBS; }

  // REQUIRES matching type.
  const std::string& str() const { return s_; }  // S, N (canonical text), B (bytes)
  bool as_bool() const { return bool_; }
  const Item& as_map() const { return *m_; }
  Item& as_map() { return *m_; }
  const std::vector<Value>& as_list() const { return *l_; }
  std::vector<Value>& as_list() { return *l_; }
  const std::vector<std::string>& members() const { return set_; }  // sets, sorted

  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  Value(const Value& o) { copy_from(o); }
  Value(Value&&) noexcept = default;
  Value& operator=(const Value& o) {
    if (this != &o) copy_from(o);
    return *this;
  }
  Value& operator=(Value&&) noexcept = default;

 private:
  Value(Type t, std::string s) : type_(t), s_(std::move(s)) {}
  void copy_from(const Value& o);

  Type type_;
  bool bool_ = false;
  std::string s_;
  std::vector<std::string> set_;
  // Heap-allocated so that Value stays a complete type inside its own containers.
  std::unique_ptr<Item> m_;
  std::unique_ptr<std::vector<Value>> l_;
};

// DynamoDB's size of an attribute value and of an item (name lengths + value sizes), the
// numbers its 400 KB limit and capacity units are computed from:
//   S, B: bytes; N: ceil(significant digits / 2) + 1 or 2 (see number.h); BOOL, NULL: 1;
//   SS/BS/NS: sum of members; L: 3 + sum(1 + element); M: 3 + sum(1 + name + value).
size_t value_size(const Value& v);
size_t item_size(const Item& item);

constexpr size_t kMaxItemBytes = 400 * 1024;
constexpr size_t kMaxHashKeyBytes = 2048;
constexpr size_t kMaxRangeKeyBytes = 1024;
constexpr int kMaxDepth = 32;

// A short human-readable form (tests, the dump tool): {"id":{"S":"a"},"n":{"N":"1"}}-like
// DynamoDB JSON with blobs in base64.
std::string to_debug_string(const Value& v);
std::string to_debug_string(const Item& item);

}  // namespace freshet::table

// Document: the protocol-independent value tree that API handlers see.
//
// Codecs (JSON 1.1, CBOR 1.1) convert bytes <-> Document; handlers never see JSON or CBOR.
// Types: null, bool, int64, double, string (UTF-8), blob (raw bytes), timestamp (milliseconds
// since the Unix epoch), list, and map with string keys in insertion order.
//
// Maps are vectors of members. Lookups scan from the back, so with duplicate keys (legal in
// the input of both codecs) the last one wins, as with Jackson on the AWS side. Maps in AWS
// shapes are small; decoders bound total size, so linear scans stay cheap.
//
// A Document is a plain value: not thread-safe for concurrent mutation, fine to read from
// several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::api {

class Document;

struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

struct Timestamp {
  int64_t ms = 0;  // milliseconds since the Unix epoch
  bool operator==(const Timestamp&) const = default;
};

struct Member;  // {key, value}
using List = std::vector<Document>;
using Map = std::vector<Member>;

class Document {
 public:
  enum class Type : uint8_t {
    kNull,
    kBool,
    kInt,
    kDouble,
    kString,
    kBlob,
    kTimestamp,
    kList,
    kMap
  };

  Document() = default;                                 // null
  Document(std::nullptr_t) {}                           // NOLINT
  Document(bool v) : v_(v) {}                           // NOLINT
  Document(int v) : v_(int64_t{v}) {}                   // NOLINT
  Document(int64_t v) : v_(v) {}                        // NOLINT
  Document(double v) : v_(v) {}                         // NOLINT
  Document(std::string v) : v_(std::move(v)) {}         // NOLINT
  Document(std::string_view v) : v_(std::string(v)) {}  // NOLINT
  Document(const char* v) : v_(std::string(v)) {}       // NOLINT
  Document(Blob v) : v_(std::move(v)) {}                // NOLINT
  Document(Timestamp v) : v_(v) {}                      // NOLINT
  Document(List v) : v_(std::move(v)) {}                // NOLINT
  Document(Map v) : v_(std::move(v)) {}                 // NOLINT

  static Document make_map() { return Document(Map{}); }
  static Document make_list() { return Document(List{}); }
  static Document blob(std::string bytes) { return Document(Blob{std::move(bytes)}); }
  static Document timestamp_ms(int64_t ms) { return Document(Timestamp{ms}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type() == Type::kString; }
  bool is_blob() const { return type() == Type::kBlob; }
  bool is_timestamp() const { return type() == Type::kTimestamp; }
  bool is_list() const { return type() == Type::kList; }
  bool is_map() const { return type() == Type::kMap; }

  // Unchecked accessors: REQUIRES the matching type (std::get throws otherwise; handlers should
  // use the checked get_* helpers below on untrusted input).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const std::string& as_blob() const { return std::get<Blob>(v_).bytes; }
  int64_t as_timestamp_ms() const { return std::get<Timestamp>(v_).ms; }
  const List& as_list() const { return std::get<List>(v_); }
  List& as_list() { return std::get<List>(v_); }
  const Map& as_map() const { return std::get<Map>(v_); }
  Map& as_map() { return std::get<Map>(v_); }

  // Map helpers. find() returns null if this is not a map or the key is absent (last wins).
  const Document* find(std::string_view key) const;
  Document* find(std::string_view key);
  // Appends (or replaces, if present) a member. REQUIRES is_map(). Returns *this for chaining.
  Document& set(std::string key, Document value);
  // List helper. REQUIRES is_list().
  Document& push_back(Document value);

  bool operator==(const Document& other) const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Blob, Timestamp, List, Map> v_;
};

struct Member {
  std::string key;
  Document value;
  bool operator==(const Member&) const = default;
};

const char* document_type_name(Document::Type t);

// ---- Checked member access for handlers -------------------------------------------------
//
// get_X(map, "StreamName"):
//   - member absent or null          -> Error(ErrorCode::kNotFound, ...)        ("missing")
//   - member present, other type     -> Error(ErrorCode::kInvalidArgument, ...) ("wrong type")
// get_optional_X returns std::nullopt instead of the kNotFound error.
// If `map` itself is not a map, every member is "missing".
// Integers: get_int accepts kInt and doubles with an integral value (JSON clients sometimes
// send 1.0); get_double accepts kInt and kDouble. Returned references point into `map`.
//
// The error message is an AWS SerializationException-style text for wrong types
// (e.g. "class java.lang.String can not be converted to an Integer"), and names the member
// for missing ones. to_api_error() in aws_error.h turns these into AWS errors.
Result<std::string_view> get_string(const Document& map, std::string_view key);
Result<int64_t> get_int(const Document& map, std::string_view key);
Result<double> get_double(const Document& map, std::string_view key);
Result<bool> get_bool(const Document& map, std::string_view key);
Result<std::string_view> get_blob(const Document& map, std::string_view key);
Result<int64_t> get_timestamp_ms(const Document& map, std::string_view key);
Result<const List*> get_list(const Document& map, std::string_view key);
Result<const Document*> get_map(const Document& map, std::string_view key);

Result<std::optional<std::string_view>> get_optional_string(const Document& map,
                                                            std::string_view key);
Result<std::optional<int64_t>> get_optional_int(const Document& map, std::string_view key);
Result<std::optional<bool>> get_optional_bool(const Document& map, std::string_view key);
Result<std::optional<std::string_view>> get_optional_blob(const Document& map,
                                                          std::string_view key);
Result<std::optional<int64_t>> get_optional_timestamp_ms(const Document& map, std::string_view key);
Result<const List*> get_optional_list(const Document& map, std::string_view key);  // null if absent
Result<const Document*> get_optional_map(const Document& map,
                                         std::string_view key);  // null if absent

// True for the "missing" category of the get_* errors.
inline bool is_missing_member(const Error& e) { return e.code() == ErrorCode::kNotFound; }

}  // namespace freshet::api

// JSON helpers of the process module: writing strings, JSON paths over simdjson's DOM, and
// plain JSON <-> table items. Internal to src/process.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/table/value.h"

namespace freshet::process {

// Appends s as a JSON string literal (quotes included), escaping what JSON requires.
void append_json_string(std::string& out, std::string_view s);

// A path into a JSON document: "a.b", "a[0].b", "a[*].b" (every element), optionally
// starting with "$." as in JSONPath.
struct PathStep {
  std::string key;       // member name (empty for an index step)
  int64_t index = -1;    // array index, or -1
  bool wildcard = false; // [*]
};
using JsonPath = std::vector<PathStep>;
Result<JsonPath> parse_json_path(std::string_view text);
bool path_has_wildcard(const JsonPath& p);
// Every element the path reaches from root (none if missing; several through wildcards).
void collect_path(simdjson::dom::element root, const JsonPath& path, size_t step,
                  std::vector<simdjson::dom::element>& out);

// Several paths evaluated on one document: their leading member names form a tree of lookups
// ("user" -> "id_str", "screen_name", ...), resolved once per document with one pass over
// each object's members instead of one scan of an object per path (a v1.1 tweet's root has
// ~25 members, its user ~40). Each name takes the object's first member of that name, as a
// lookup by key does, so collect(k) finds what collect_path(root, paths[k]) finds.
// One thread at a time (resolve keeps per-document state).
class PathSet {
 public:
  explicit PathSet(const std::vector<JsonPath>& paths);
  size_t size() const { return node_.size(); }
  void resolve(simdjson::dom::element root);  // before collect, once per document
  void collect(size_t k, std::vector<simdjson::dom::element>& out) const;

 private:
  struct Node {
    std::string key;  // the member name looked up in the parent
    std::vector<int> children;
  };
  void match_members(simdjson::dom::element e, const std::vector<int>& children);

  std::vector<Node> nodes_;  // parents before their children
  std::vector<int> root_children_;
  std::vector<int> node_;       // per path: the node of its leading names (-1: the root)
  std::vector<JsonPath> rest_;  // per path: the steps after them
  simdjson::dom::element root_;
  std::vector<simdjson::dom::element> elems_;  // per node, if have_
  std::vector<char> have_;
};

// Plain JSON to a DynamoDB value: string S, number N (canonical decimal; kInvalidArgument if
// out of DynamoDB's range), bool BOOL, null NULL, array L, object M.
Result<table::Value> json_to_value(simdjson::dom::element e, int depth = 0);
// The inverse (S as strings, N as numbers, B as base64, sets as arrays).
void append_value_json(std::string& out, const table::Value& v);
void append_item_json(std::string& out, const table::Item& item);

// ISO 8601 UTC with milliseconds: 2026-11-30T15:40:00.123Z
std::string iso8601_ms(int64_t epoch_ms);

}  // namespace freshet::process

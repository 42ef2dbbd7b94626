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

// Plain JSON to a DynamoDB value: string S, number N (canonical decimal; kInvalidArgument if
// out of DynamoDB's range), bool BOOL, null NULL, array L, object M.
Result<table::Value> json_to_value(simdjson::dom::element e, int depth = 0);
// The inverse (S as strings, N as numbers, B as base64, sets as arrays).
void append_value_json(std::string& out, const table::Value& v);
void append_item_json(std::string& out, const table::Item& item);

// ISO 8601 UTC with milliseconds: 2026-11-30T15:40:00.123Z
std::string iso8601_ms(int64_t epoch_ms);

}  // namespace freshet::process

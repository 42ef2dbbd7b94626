// Lambda's event filtering (FilterCriteria): patterns as AWS defines them for Kinesis
// mappings, matched against {"partitionKey":..., "sequenceNumber":..., "data": <the record's
// JSON>, ...}. A pattern is a JSON object whose leaves are arrays of matchers, any of which
// may match (OR); every key must match (AND). Matchers: a string, number, null or boolean
// (equality), {"prefix": s}, {"suffix": s}, {"equals-ignore-case": s}, {"anything-but": v |
// [v...] | {"prefix": s}}, {"numeric": [op, n (, op, n)]} with op one of = > >= < <=,
// {"exists": bool}. When the value in the record is an array, the key matches if any element
// does. A record whose data is not JSON is matched on its other fields only ("data" absent).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/process/function.h"

namespace simdjson::dom {
class parser;
}

namespace freshet::process {

class FilterSet {
 public:
  // Compiles the patterns (each a JSON object). kInvalidArgument with the reason otherwise.
  static Result<FilterSet> compile(const std::vector<std::string>& patterns);
  FilterSet();
  ~FilterSet();
  FilterSet(FilterSet&&) noexcept;
  FilterSet& operator=(FilterSet&&) noexcept;

  bool empty() const;
  // True if any pattern matches the record (always true for an empty set). `parser` is the
  // caller's (one per thread, reused across calls); null: a fresh one per call.
  bool matches(const Record& record, simdjson::dom::parser* parser = nullptr) const;

  struct Node;

 private:
  std::vector<std::unique_ptr<Node>> patterns_;
};

}  // namespace freshet::process

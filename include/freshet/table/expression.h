// DynamoDB expressions: parsing (ConditionExpression, FilterExpression, KeyConditionExpression,
// UpdateExpression, ProjectionExpression) and evaluation against an Item.
//
// Parsing resolves #names and :values through an ExpressionContext, which records which ones
// were used so that the caller can report DynamoDB's "unused" errors after parsing every
// expression of a request. Errors are Error(kInvalidArgument, <DynamoDB's message>), e.g.
//   Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "a ="
// Evaluation never fails for conditions (a type mismatch makes a comparison false, as in
// DynamoDB); applying an update can fail with DynamoDB's runtime messages.
//
// All types here are plain values; parse once per request, evaluate from one thread.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/table/value.h"

namespace freshet::table {

struct PathElement {
  std::string name;    // map member (when index < 0)
  int32_t index = -1;  // list index (>= 0)
  bool operator==(const PathElement&) const = default;
};
using Path = std::vector<PathElement>;
// "a.b[1]" rendered as DynamoDB prints paths in messages: "[a, b, [1]]".
std::string path_to_string(const Path& p);

struct Operand {
  enum class Kind : uint8_t { kPath, kValue, kSize, kIfNotExists, kListAppend, kPlus, kMinus };
  Kind kind = Kind::kValue;
  Path path;                  // kPath, kSize, kIfNotExists
  Value value;                // kValue
  std::vector<Operand> args;  // kIfNotExists (1: default), kListAppend/kPlus/kMinus (2)
};

struct Condition {
  enum class Kind : uint8_t {
    kTrue,  // no condition
    kCompare,
    kBetween,
    kIn,
    kAnd,
    kOr,
    kNot,
    kExists,
    kNotExists,
    kType,
    kBeginsWith,
    kContains,
  };
  enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  Kind kind = Kind::kTrue;
  Op op = Op::kEq;
  std::vector<Operand> operands;
  std::vector<Condition> children;
};

struct UpdateAction {
  enum class Kind : uint8_t { kSet, kRemove, kAdd, kDelete };
  Kind kind;
  Path path;
  Operand value;  // kSet, kAdd, kDelete
};

struct UpdateExpr {
  std::vector<UpdateAction> actions;
};

// The request's ExpressionAttributeNames/Values; records which were used.
class ExpressionContext {
 public:
  ExpressionContext(const std::map<std::string, std::string>* names,
                    const std::map<std::string, Value>* values)
      : names_(names), values_(values) {}
  const std::string* name(std::string_view placeholder);  // marks it used; null if undefined
  const Value* value(std::string_view placeholder);
  // DynamoDB's messages, or OK:
  //   "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}"
  //   "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"
  Status check_all_used() const;

 private:
  const std::map<std::string, std::string>* names_;
  const std::map<std::string, Value>* values_;
  std::set<std::string, std::less<>> used_names_, used_values_;
};

// kind: "ConditionExpression", "FilterExpression", "KeyConditionExpression" (messages name it).
Result<Condition> parse_condition(std::string_view text, std::string_view kind,
                                  ExpressionContext& ctx);
Result<UpdateExpr> parse_update(std::string_view text, ExpressionContext& ctx);
Result<std::vector<Path>> parse_projection(std::string_view text, ExpressionContext& ctx);

// The value at path, or null.
const Value* resolve(const Item& item, const Path& path);

bool evaluate(const Condition& c, const Item& item);

// Applies the actions (right-hand sides evaluated against the item as it was before).
// Errors (kInvalidArgument) with DynamoDB's messages:
//   "The provided expression refers to an attribute that does not exist in the item"
//   "An operand in the update expression has an incorrect data type"
//   "The document path provided in the update expression is invalid for update"
Status apply_update(const UpdateExpr& u, Item& item);

// The parts of item that paths select, nested as in the item (DynamoDB's projection).
Item project(const Item& item, const std::vector<Path>& paths);

// Total order of two scalar values of the same type (S, N, B); false if not comparable.
bool compare_scalars(const Value& a, const Value& b, int& result);

}  // namespace freshet::table

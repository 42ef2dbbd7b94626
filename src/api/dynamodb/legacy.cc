// The legacy (pre-expression) parameters that older SDKs and the KCL still send: Expected,
// QueryFilter, ScanFilter and KeyConditions (conditions), AttributeUpdates (updates),
// AttributesToGet (projection). Each is translated into the same expression trees.
#include "service.h"

namespace freshet::api::dynamodb {

using table::Condition;
using table::Operand;

namespace {

Operand path_operand(const std::string& name) {
  Operand o;
  o.kind = Operand::Kind::kPath;
  o.path = {table::PathElement{name, -1}};
  return o;
}

Operand value_operand(table::Value v) {
  Operand o;
  o.kind = Operand::Kind::kValue;
  o.value = std::move(v);
  return o;
}

Condition func(Condition::Kind k, const std::string& name, std::optional<table::Value> v = {}) {
  Condition c;
  c.kind = k;
  c.operands.push_back(path_operand(name));
  if (v) c.operands.push_back(value_operand(std::move(*v)));
  return c;
}

Condition compare(Condition::Op op, const std::string& name, table::Value v) {
  Condition c = func(Condition::Kind::kCompare, name, std::move(v));
  c.op = op;
  return c;
}

Condition negate(Condition c) {
  Condition n;
  n.kind = Condition::Kind::kNot;
  n.children.push_back(std::move(c));
  return n;
}

Condition both(Condition a, Condition b, Condition::Kind k) {
  Condition c;
  c.kind = k;
  c.children.push_back(std::move(a));
  c.children.push_back(std::move(b));
  return c;
}

std::string prefix() { return "One or more parameter values were invalid: "; }

}  // namespace

std::optional<ApiError> legacy_conditions(const Document& conditions, const Document* op,
                                          bool allow_exists, std::optional<Condition>& out) {
  if (!conditions.is_map()) return serialization_error("Expected map or null");
  Condition::Kind join = Condition::Kind::kAnd;
  if (op != nullptr && !op->is_null()) {
    if (!op->is_string() || (op->as_string() != "AND" && op->as_string() != "OR")) {
      ValidationErrors e;
      e.add("conditionalOperator", op->is_string() ? op->as_string() : "?",
            "Member must satisfy enum value set: [OR, AND]");
      return e.to_error();
    }
    if (op->as_string() == "OR") join = Condition::Kind::kOr;
  }
  std::optional<Condition> all;
  for (const Member& m : conditions.as_map()) {
    const Document& c = m.value;
    const std::string& name = m.key;
    if (!c.is_map()) return serialization_error("Expected map or null");
    std::vector<table::Value> values;
    const Document* list = c.find("AttributeValueList");
    const Document* value = c.find("Value");
    const Document* cmp = c.find("ComparisonOperator");
    const Document* exists = c.find("Exists");
    const bool has_cmp = cmp != nullptr && !cmp->is_null();
    const bool has_value = value != nullptr && !value->is_null();
    const bool has_list = list != nullptr && !list->is_null();
    const bool has_exists = exists != nullptr && !exists->is_null();
    if (has_cmp && has_exists && allow_exists) {
      return validation(prefix() + "Exists and ComparisonOperator cannot be used together for "
                                   "Attribute: " + name);
    }
    if (has_value && has_list) {
      return validation(prefix() + "Value and AttributeValueList cannot be used together for "
                                   "Attribute: " + name);
    }
    if (has_list) {
      if (!list->is_list()) return serialization_error("Expected list or null");
      for (const Document& v : list->as_list()) {
        auto cv = to_value(v);
        if (!cv.ok()) return cv.error;
        values.push_back(std::move(*cv.value));
      }
    }
    if (has_value) {
      auto cv = to_value(*value);
      if (!cv.ok()) return cv.error;
      values.push_back(std::move(*cv.value));
    }
    Condition cond;
    if (!has_cmp) {
      if (!allow_exists) {
        ValidationErrors e;
        e.add_null("comparisonOperator");
        return e.to_error();
      }
      if (has_list) {
        return validation(prefix() + "AttributeValueList can only be used with a "
                                     "ComparisonOperator for Attribute: " + name);
      }
      const bool ex = !has_exists || (exists->is_bool() && exists->as_bool());
      if (ex && !has_value) {
        return validation(prefix() + "Value must be provided when Exists is " +
                          (has_exists ? "true" : "null") + " for Attribute: " + name);
      }
      if (!ex && has_value) {
        return validation(prefix() + "Value cannot be used when Exists is false for Attribute: " +
                          name);
      }
      cond = ex ? compare(Condition::Op::kEq, name, values[0])
                : func(Condition::Kind::kNotExists, name);
    } else {
      if (!cmp->is_string()) return serialization_error("Expected a string");
      const std::string& o = cmp->as_string();
      size_t want = 1;
      if (o == "NULL" || o == "NOT_NULL") want = 0;
      if (o == "BETWEEN") want = 2;
      const bool in_op = o == "IN";
      static const char* kOps[] = {"EQ", "NE", "LE", "LT", "GE", "GT", "NOT_NULL", "NULL",
                                   "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH", "IN", "BETWEEN"};
      bool known = false;
      for (const char* k : kOps) known |= o == k;
      if (!known) {
        ValidationErrors e;
        e.add("comparisonOperator", o,
              "Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, "
              "NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]");
        return e.to_error();
      }
      if ((in_op && values.empty()) || (!in_op && values.size() != want)) {
        return validation(prefix() + "Invalid number of argument(s) for the " + o +
                          " ComparisonOperator");
      }
      if (o == "EQ") cond = compare(Condition::Op::kEq, name, values[0]);
      else if (o == "NE") cond = compare(Condition::Op::kNe, name, values[0]);
      else if (o == "LE") cond = compare(Condition::Op::kLe, name, values[0]);
      else if (o == "LT") cond = compare(Condition::Op::kLt, name, values[0]);
      else if (o == "GE") cond = compare(Condition::Op::kGe, name, values[0]);
      else if (o == "GT") cond = compare(Condition::Op::kGt, name, values[0]);
      else if (o == "NOT_NULL") cond = func(Condition::Kind::kExists, name);
      else if (o == "NULL") cond = func(Condition::Kind::kNotExists, name);
      else if (o == "CONTAINS") cond = func(Condition::Kind::kContains, name, values[0]);
      else if (o == "NOT_CONTAINS") {
        cond = both(func(Condition::Kind::kExists, name),
                    negate(func(Condition::Kind::kContains, name, values[0])),
                    Condition::Kind::kAnd);
      } else if (o == "BEGINS_WITH") cond = func(Condition::Kind::kBeginsWith, name, values[0]);
      else if (o == "IN") {
        cond = func(Condition::Kind::kIn, name);
        for (auto& v : values) cond.operands.push_back(value_operand(v));
      } else {  // BETWEEN
        cond = func(Condition::Kind::kBetween, name);
        cond.operands.push_back(value_operand(values[0]));
        cond.operands.push_back(value_operand(values[1]));
      }
    }
    all = all ? both(std::move(*all), std::move(cond), join) : std::move(cond);
  }
  if (all) {
    out = out ? both(std::move(*out), std::move(*all), Condition::Kind::kAnd) : std::move(*all);
  }
  return std::nullopt;
}

std::optional<ApiError> legacy_updates(const Document& updates, table::UpdateExpr& out) {
  if (!updates.is_map()) return serialization_error("Expected map or null");
  using A = table::UpdateAction;
  for (const Member& m : updates.as_map()) {
    if (!m.value.is_map()) return serialization_error("Expected map or null");
    std::string action = "PUT";
    if (const Document* a = m.value.find("Action"); a != nullptr && a->is_string()) {
      action = a->as_string();
    }
    std::optional<table::Value> value;
    if (const Document* v = m.value.find("Value"); v != nullptr && !v->is_null()) {
      auto c = to_value(*v);
      if (!c.ok()) return c.error;
      value = std::move(*c.value);
    }
    A act{A::Kind::kSet, {table::PathElement{m.key, -1}}, {}};
    if (action == "PUT") {
      if (!value) {
        return validation(prefix() + "Only DELETE action is allowed when no attribute value is "
                                     "specified: " + m.key);
      }
      act.value = value_operand(*value);
    } else if (action == "DELETE") {
      if (!value) {
        act.kind = A::Kind::kRemove;
      } else {
        if (!value->is_set()) {
          return validation(prefix() + "DELETE action with value is not supported for the type " +
                            std::string(table::type_name(value->type())));
        }
        act.kind = A::Kind::kDelete;
        act.value = value_operand(*value);
      }
    } else if (action == "ADD") {
      if (!value) {
        return validation(prefix() + "Only DELETE action is allowed when no attribute value is "
                                     "specified: " + m.key);
      }
      if (value->is(table::Type::kL)) {
        // Legacy ADD appends lists: SET a = list_append(if_not_exists(a, []), v).
        Operand ine;
        ine.kind = Operand::Kind::kIfNotExists;
        ine.path = act.path;
        ine.args.push_back(value_operand(table::Value::list({})));
        Operand app;
        app.kind = Operand::Kind::kListAppend;
        app.args.push_back(std::move(ine));
        app.args.push_back(value_operand(*value));
        act.value = std::move(app);
      } else if (value->is(table::Type::kN) || value->is_set()) {
        act.kind = A::Kind::kAdd;
        act.value = value_operand(*value);
      } else {
        return validation(prefix() + "ADD action is not supported for the type " +
                          std::string(table::type_name(value->type())));
      }
    } else {
      ValidationErrors e;
      e.add("attributeUpdates." + m.key + ".member.action", action,
            "Member must satisfy enum value set: [ADD, PUT, DELETE]");
      return e.to_error();
    }
    out.actions.push_back(std::move(act));
  }
  return std::nullopt;
}

std::optional<ApiError> legacy_attributes_to_get(const Document& list,
                                                 std::optional<std::vector<table::Path>>& out) {
  if (!list.is_list()) return serialization_error("Expected list or null");
  std::vector<table::Path> paths;
  std::set<std::string> seen;
  for (const Document& a : list.as_list()) {
    if (!a.is_string()) return serialization_error("Expected a string");
    if (!seen.insert(a.as_string()).second) {
      return validation(prefix() + "Duplicate value in attribute name: " + a.as_string());
    }
    paths.push_back({table::PathElement{a.as_string(), -1}});
  }
  out = std::move(paths);
  return std::nullopt;
}

}  // namespace freshet::api::dynamodb

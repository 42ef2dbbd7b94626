// PutItem, GetItem, DeleteItem, UpdateItem, BatchWriteItem, BatchGetItem, TransactWriteItems,
// TransactGetItems.
#include <set>

#include "freshet/api/codec.h"
#include "service.h"

namespace freshet::api::dynamodb {

using table::Item;

namespace {

std::optional<ApiError> required_map(const Document& in, const char* member, const Document*& out) {
  const Document* v = in.find(member);
  if (v == nullptr || v->is_null()) {
    ValidationErrors e;
    e.add_null(ValidationErrors::lower_first(member));
    return e.to_error();
  }
  if (!v->is_map()) {
    return serialization_error(v->is_list() ? "Start of list found where not expected"
                                            : "Expected map or null");
  }
  out = v;
  return std::nullopt;
}

std::optional<ApiError> read_item(const Document& in, const char* member, Item& out) {
  const Document* v = nullptr;
  if (auto e = required_map(in, member, v)) return e;
  auto c = to_item(*v);
  if (!c.ok()) return c.error;
  out = std::move(*c.value);
  return std::nullopt;
}

std::string string_member(const Document& in, const char* member, const char* dflt) {
  const Document* v = in.find(member);
  return v != nullptr && v->is_string() ? v->as_string() : dflt;
}

std::optional<ApiError> check_enum(const Document& in, const char* member,
                                   std::initializer_list<std::string_view> allowed) {
  const Document* v = in.find(member);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) return serialization_error("Expected a string");
  for (std::string_view a : allowed) {
    if (v->as_string() == a) return std::nullopt;
  }
  ValidationErrors e;
  std::vector<std::string_view> vals(allowed);
  e.add(ValidationErrors::lower_first(member), v->as_string(), ValidationErrors::enum_values(vals));
  return e.to_error();
}

std::optional<ApiError> return_values(const Document& in, bool update, std::string& out) {
  if (auto e = check_enum(in, "ReturnValues",
                          {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"})) {
    return e;
  }
  out = string_member(in, "ReturnValues", "NONE");
  if (!update && out != "NONE" && out != "ALL_OLD") {
    return validation("ReturnValues can only be ALL_OLD or NONE");
  }
  if (auto e = check_enum(in, "ReturnValuesOnConditionCheckFailure", {"ALL_OLD", "NONE"})) return e;
  if (auto e = check_enum(in, "ReturnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"})) return e;
  if (auto e = check_enum(in, "ReturnItemCollectionMetrics", {"SIZE", "NONE"})) return e;
  return std::nullopt;
}

// Every table of a batch was throttled (a partly throttled batch answers UnprocessedItems).
ApiError batch_throttled() {
  return ApiError{AwsError::kProvisionedThroughputExceeded,
                  "The level of configured provisioned throughput for one or more tables was "
                  "exceeded. Consider increasing your provisioning level with the UpdateTable API."};
}

// ConsumedCapacity of a single-item write, with its indexes' units (nullopt for NONE).
std::optional<Document> write_capacity(DynamoService& s, const Document& in,
                                       const std::string& table, double units,
                                       const table::WriteOutcome& r) {
  const Document* rcc = in.find("ReturnConsumedCapacity");
  if (rcc == nullptr || !rcc->is_string() || rcc->as_string() == "NONE") return std::nullopt;
  auto d = s.store().describe_table(table);
  if (!d.ok()) return consumed_capacity(in, table, units, false);
  const IndexUnits iu = index_write_units(*d, r.old_item, r.new_item);
  return consumed_capacity(in, table, units, false, &iu);
}

ApiError condition_failed(const Document& in, const std::optional<Item>& old) {
  ApiError e{AwsError::kConditionalCheckFailed, "The conditional request failed"};
  if (string_member(in, "ReturnValuesOnConditionCheckFailure", "NONE") == "ALL_OLD" && old) {
    e.extra = Document::make_map();
    e.extra.set("Item", from_item(*old));
  }
  return e;
}

// The condition of a write: ConditionExpression or legacy Expected (+ ConditionalOperator).
std::optional<ApiError> write_condition(const Document& in, Expressions& e,
                                        std::optional<table::Condition>& cond, bool& expression) {
  if (auto err = check_mixed(in, {"Expected", "ConditionalOperator"}, {"ConditionExpression"})) {
    return err;
  }
  expression = in.find("ConditionExpression") != nullptr &&
               !in.find("ConditionExpression")->is_null();
  if (auto err = parse_condition_member(in, "ConditionExpression", e, cond)) return err;
  const Document* expected = in.find("Expected");
  if (expected != nullptr && !expected->is_null()) {
    if (auto err = legacy_conditions(*expected, in.find("ConditionalOperator"), true, cond)) {
      return err;
    }
  }
  return std::nullopt;
}

void add_item_collection_metrics(const Document& in, const table::TableDesc& d, const Item& item,
                                 Document& out) {
  if (string_member(in, "ReturnItemCollectionMetrics", "NONE") != "SIZE") return;
  bool has_lsi = false;
  for (const auto& x : d.indexes) has_lsi |= !x.global;
  if (!has_lsi) return;
  Document m = Document::make_map();
  Document key = Document::make_map();
  key.set(d.key.hash.name, from_value(item.at(d.key.hash.name)));
  m.set("ItemCollectionKey", std::move(key));
  Document range = Document::make_list();
  range.push_back(0.0);
  range.push_back(1.0);
  m.set("SizeEstimateRangeGB", std::move(range));
  out.set("ItemCollectionMetrics", std::move(m));
}

// The members every single-item write starts with: TableName, the item or key (member),
// and ReturnValues with the other Return* enums.
std::optional<ApiError> read_write_target(const Document& in, const char* member, bool update,
                                          std::string& table, Item& item, std::string& rv) {
  if (auto e = check_table_name(in, "TableName", table)) return e;
  if (auto e = read_item(in, member, item)) return e;
  return return_values(in, update, rv);
}

// The members every single-item write ends with: the condition (ConditionExpression or
// Expected), the unused-attribute check over every expression of the request (other_expression:
// an UpdateExpression was given), and the throughput admission.
std::optional<ApiError> read_write_condition(DynamoService& s, const Document& in,
                                             const std::string& table, std::string_view op,
                                             Expressions& ex, bool other_expression,
                                             std::optional<table::Condition>& cond) {
  bool expression = false;
  if (auto e = write_condition(in, ex, cond, expression)) return e;
  if (auto e = check_expression_attributes(ex, expression || other_expression)) return e;
  return s.admit(table, op, false);
}

// What every single-item write's answer starts with: counts and charges the units, and
// answers a store error or a failed condition. False when it has answered.
bool account_write(DynamoService& s, const Document& in, const std::string& table,
                   std::string_view op, const Result<table::WriteOutcome>& r, double& units,
                   Responder& respond) {
  if (!r.ok()) {
    respond(to_dynamo_error(r.error()));
    return false;
  }
  Series& m = s.series(table, op);
  units = write_units(op == "DeleteItem" ? r->old_size : std::max(r->old_size, r->new_size));
  m.consumed_write->add(units);
  s.charge(table, false, units);
  if (r->condition_failed) {
    m.conditional_failed->inc();
    respond(condition_failed(in, r->old_item));
    return false;
  }
  return true;
}

}  // namespace

ApiResult batch_write_prepare(DynamoService& s, RequestContext& ctx, Responder& respond);

void put_item(DynamoService& s, RequestContext& ctx, Responder respond) {
  const Document& in = ctx.input;
  std::string table, rv;
  Item item;
  if (auto e = read_write_target(in, "Item", false, table, item, rv)) return respond(*e);
  Expressions ex;
  if (auto e = read_expression_attributes(in, ex)) return respond(*e);
  std::optional<table::Condition> cond;
  if (auto e = read_write_condition(s, in, table, "PutItem", ex, false, cond)) return respond(*e);
  s.store().put_item_async(
      table, std::move(item), cond ? &*cond : nullptr,
      [&s, &in, table, rv, respond = std::move(respond)](Result<table::WriteOutcome> r) mutable {
        double units = 0;
        if (!account_write(s, in, table, "PutItem", r, units, respond)) return;
        Document out = Document::make_map();
        if (rv == "ALL_OLD" && r->old_item) out.set("Attributes", from_item(*r->old_item));
        if (auto c = write_capacity(s, in, table, units, *r)) {
          out.set("ConsumedCapacity", std::move(*c));
        }
        if (const Document* icm = in.find("ReturnItemCollectionMetrics");
            icm != nullptr && icm->is_string() && icm->as_string() == "SIZE") {
          if (auto d = s.store().describe_table(table); d.ok()) {
            add_item_collection_metrics(in, *d, *r->new_item, out);
          }
        }
        respond(std::move(out));
      });
}

void delete_item(DynamoService& s, RequestContext& ctx, Responder respond) {
  const Document& in = ctx.input;
  std::string table, rv;
  Item key;
  if (auto e = read_write_target(in, "Key", false, table, key, rv)) return respond(*e);
  Expressions ex;
  if (auto e = read_expression_attributes(in, ex)) return respond(*e);
  std::optional<table::Condition> cond;
  if (auto e = read_write_condition(s, in, table, "DeleteItem", ex, false, cond)) {
    return respond(*e);
  }
  s.store().delete_item_async(
      table, key, cond ? &*cond : nullptr,
      [&s, &in, table, rv, respond = std::move(respond)](Result<table::WriteOutcome> r) mutable {
        double units = 0;
        if (!account_write(s, in, table, "DeleteItem", r, units, respond)) return;
        Document out = Document::make_map();
        if (rv == "ALL_OLD" && r->old_item) out.set("Attributes", from_item(*r->old_item));
        if (auto c = write_capacity(s, in, table, units, *r)) {
          out.set("ConsumedCapacity", std::move(*c));
        }
        respond(std::move(out));
      });
}

void update_item(DynamoService& s, RequestContext& ctx, Responder respond) {
  const Document& in = ctx.input;
  std::string table, rv;
  Item key;
  if (auto e = read_write_target(in, "Key", true, table, key, rv)) return respond(*e);
  if (auto e = check_mixed(in, {"AttributeUpdates", "Expected", "ConditionalOperator"},
                           {"UpdateExpression", "ConditionExpression"})) {
    return respond(*e);
  }
  Expressions ex;
  if (auto e = read_expression_attributes(in, ex)) return respond(*e);
  auto update = std::make_shared<table::UpdateExpr>();
  bool expression = false;
  if (const Document* u = in.find("UpdateExpression"); u != nullptr && !u->is_null()) {
    if (!u->is_string()) return respond(serialization_error("Expected a string"));
    expression = true;
    auto p = table::parse_update(u->as_string(), *ex.ctx);
    if (!p.ok()) return respond(validation(p.error().message()));
    *update = std::move(*p);
  } else if (const Document* au = in.find("AttributeUpdates"); au != nullptr && !au->is_null()) {
    if (auto e = legacy_updates(*au, *update)) return respond(*e);
  }
  std::optional<table::Condition> cond;
  if (auto e = read_write_condition(s, in, table, "UpdateItem", ex, expression, cond)) {
    return respond(*e);
  }
  s.store().update_item_async(
      table, key, *update, cond ? &*cond : nullptr,
      [&s, &in, table, rv, update,
       respond = std::move(respond)](Result<table::WriteOutcome> r) mutable {
        double units = 0;
        if (!account_write(s, in, table, "UpdateItem", r, units, respond)) return;
        Document out = Document::make_map();
        std::vector<table::Path> touched;
        for (const auto& a : update->actions) touched.push_back(a.path);
        if (rv == "ALL_OLD" && r->old_item) {
          out.set("Attributes", from_item(*r->old_item));
        } else if (rv == "ALL_NEW" && r->new_item) {
          out.set("Attributes", from_item(*r->new_item));
        } else if (rv == "UPDATED_OLD" && r->old_item) {
          Item p = table::project(*r->old_item, touched);
          if (!p.empty()) out.set("Attributes", from_item(p));
        } else if (rv == "UPDATED_NEW" && r->new_item) {
          Item p = table::project(*r->new_item, touched);
          if (!p.empty()) out.set("Attributes", from_item(p));
        }
        if (auto c = write_capacity(s, in, table, units, *r)) {
          out.set("ConsumedCapacity", std::move(*c));
        }
        respond(std::move(out));
      });
}

ApiResult get_item(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  std::string table;
  if (auto e = check_table_name(in, "TableName", table)) return *e;
  Item key;
  if (auto e = read_item(in, "Key", key)) return *e;
  if (auto e = check_enum(in, "ReturnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"})) return *e;
  if (auto e = check_mixed(in, {"AttributesToGet"}, {"ProjectionExpression"})) return *e;
  Expressions ex;
  if (auto e = read_expression_attributes(in, ex)) return *e;
  std::optional<std::vector<table::Path>> projection;
  if (auto e = parse_projection_member(in, ex, projection)) return *e;
  if (const Document* a = in.find("AttributesToGet"); a != nullptr && !a->is_null()) {
    if (auto e = legacy_attributes_to_get(*a, projection)) return *e;
  }
  if (auto e = check_expression_attributes(ex, in.find("ProjectionExpression") != nullptr)) return *e;
  bool consistent = false;
  if (const Document* c = in.find("ConsistentRead"); c != nullptr && c->is_bool()) {
    consistent = c->as_bool();
  }
  if (auto e = s.admit(table, "GetItem", true)) return *e;
  if (ctx.protocol == Protocol::kJson) {  // written straight into the body
    std::string body(1, '{');
    bool found = false;
    size_t size = 0;
    if (!projection) {  // the common read: from the stored encoding, no Item built
      std::string value;
      auto r = s.store().get_item_encoded(table, key, value);
      if (!r.ok()) return to_dynamo_error(r.error());
      if ((found = *r)) {
        body += "\"Item\":";
        Status written = append_encoded_item_json(value, body, &size);
        if (!written.ok()) return to_dynamo_error(written.error());
      }
    } else {
      auto r = s.store().get_item(table, key);
      if (!r.ok()) return to_dynamo_error(r.error());
      if ((found = r->has_value())) {
        size = table::item_size(**r);
        body += "\"Item\":";
        append_item_json(table::project(**r, *projection), body);
      }
    }
    const double units = read_units(size, consistent);
    s.series(table, "GetItem").consumed_read->add(units);
    s.charge(table, true, units);
    if (auto capacity = consumed_capacity(in, table, units, true)) {
      body += std::string(found ? "," : "") + "\"ConsumedCapacity\":" + encode_json(*capacity);
    }
    body.push_back('}');
    return EncodedBody{std::move(body)};
  }
  auto r = s.store().get_item(table, key);
  if (!r.ok()) return to_dynamo_error(r.error());
  const double units = read_units(*r ? table::item_size(**r) : 0, consistent);
  s.series(table, "GetItem").consumed_read->add(units);
  s.charge(table, true, units);
  if (*r && projection) **r = table::project(**r, *projection);
  Document out = Document::make_map();
  if (*r) out.set("Item", from_item(**r));
  if (auto capacity = consumed_capacity(in, table, units, true)) {
    out.set("ConsumedCapacity", std::move(*capacity));
  }
  return out;
}

void batch_write_item(DynamoService& s, RequestContext& ctx, Responder respond) {
  ApiResult early = batch_write_prepare(s, ctx, respond);
  if (!early.ok()) respond(std::move(early));
}

ApiResult batch_write_prepare(DynamoService& s, RequestContext& ctx, Responder& respond) {
  const Document& in = ctx.input;
  const Document* req = nullptr;
  if (auto e = required_map(in, "RequestItems", req)) return *e;
  if (req->as_map().empty()) {
    return validation("1 validation error detected: Value '{}' at 'requestItems' failed to "
                      "satisfy constraint: Member must have length greater than or equal to 1");
  }
  if (auto e = check_enum(in, "ReturnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"})) return *e;
  std::vector<table::WriteOp> ops;
  std::map<std::string, double> units;
  size_t total = 0;
  // Tables whose write capacity is used up: their requests come back in UnprocessedItems.
  Document unprocessed = Document::make_map();
  for (const Member& t : req->as_map()) {
    std::string name;
    Document wrapper = Document::make_map();
    wrapper.set("TableName", t.key);
    if (auto e = check_table_name(wrapper, "TableName", name)) return *e;
    if (!t.value.is_list()) return serialization_error("Expected list or null");
    for (const Document& w : t.value.as_list()) {
      if (++total > 25) return validation("Too many items requested for the BatchWriteItem call");
      const Document* put = w.find("PutRequest");
      const Document* del = w.find("DeleteRequest");
      bool has_put = put != nullptr && !put->is_null(), has_del = del != nullptr && !del->is_null();
      if (has_put == has_del) {
        return validation("Supplied AttributeValue has more than one datatypes set, must contain "
                          "exactly one of the supported datatypes");
      }
      table::WriteOp op;
      op.table = t.key;
      if (has_put) {
        op.kind = table::WriteOp::Kind::kPut;
        if (auto e = read_item(*put, "Item", op.item)) return *e;
      } else {
        op.kind = table::WriteOp::Kind::kDelete;
        if (auto e = read_item(*del, "Key", op.item)) return *e;
      }
      units[t.key] += write_units(table::item_size(op.item));
      ops.push_back(std::move(op));
    }
  }
  for (const Member& t : req->as_map()) {
    if (s.admit(t.key, "BatchWriteItem", false)) {
      unprocessed.set(t.key, t.value);
      units.erase(t.key);
      std::erase_if(ops, [&](const table::WriteOp& op) { return op.table == t.key; });
    }
  }
  if (ops.empty() && !unprocessed.as_map().empty()) return batch_throttled();
  s.store().batch_write_async(
      ops, [&s, &in, units, unprocessed = std::move(unprocessed),
            respond = std::move(respond)](Status st) mutable {
        if (!st.ok()) return respond(to_dynamo_error(st.error()));
        Document out = Document::make_map();
        out.set("UnprocessedItems", std::move(unprocessed));
        Document caps = Document::make_list();
        for (const auto& [t, u] : units) {
          s.series(t, "BatchWriteItem").consumed_write->add(u);
          s.charge(t, false, u);
          if (auto c = consumed_capacity(in, t, u, false)) caps.push_back(std::move(*c));
        }
        if (!caps.as_list().empty()) out.set("ConsumedCapacity", std::move(caps));
        respond(std::move(out));
      });
  return Document();  // answered by the callback
}

ApiResult batch_get_item(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  const Document* req = nullptr;
  if (auto e = required_map(in, "RequestItems", req)) return *e;
  if (req->as_map().empty()) {
    return validation("1 validation error detected: Value '{}' at 'requestItems' failed to "
                      "satisfy constraint: Member must have length greater than or equal to 1");
  }
  if (auto e = check_enum(in, "ReturnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"})) return *e;
  size_t total = 0;
  Document responses = Document::make_map();
  Document unprocessed = Document::make_map();
  Document caps = Document::make_list();
  size_t response_bytes = 0;
  bool any_throttled = false, any_processed = false;
  for (const Member& t : req->as_map()) {
    std::string name;
    Document wrapper = Document::make_map();
    wrapper.set("TableName", t.key);
    if (auto e = check_table_name(wrapper, "TableName", name)) return *e;
    const Document& spec = t.value;
    const Document* keys = nullptr;
    if (auto e = required_map(spec, "Keys", keys); e && keys == nullptr) {
      const Document* k = spec.find("Keys");
      if (k == nullptr || !k->is_list()) return *e;
      keys = k;
    }
    if (!keys->is_list()) return serialization_error("Expected list or null");
    if (keys->as_list().empty()) {
      return validation("1 validation error detected: Value '[]' at 'requestItems." + t.key +
                        ".member.keys' failed to satisfy constraint: Member must have length "
                        "greater than or equal to 1");
    }
    if (auto e = check_mixed(spec, {"AttributesToGet"}, {"ProjectionExpression"})) return *e;
    Expressions ex;
    if (auto e = read_expression_attributes(spec, ex)) return *e;
    std::optional<std::vector<table::Path>> projection;
    if (auto e = parse_projection_member(spec, ex, projection)) return *e;
    if (const Document* a = spec.find("AttributesToGet"); a != nullptr && !a->is_null()) {
      if (auto e = legacy_attributes_to_get(*a, projection)) return *e;
    }
    if (auto e = check_expression_attributes(ex, spec.find("ProjectionExpression") != nullptr)) {
      return *e;
    }
    bool consistent = false;
    if (const Document* c = spec.find("ConsistentRead"); c != nullptr && c->is_bool()) {
      consistent = c->as_bool();
    }
    std::set<std::string> seen;
    Document items = Document::make_list();
    Document left = Document::make_list();
    double units = 0;
    // A table whose read capacity is used up: all its keys come back unprocessed.
    const bool throttled = s.admit(t.key, "BatchGetItem", true).has_value();
    any_throttled |= throttled;
    for (const Document& k : keys->as_list()) {
      if (++total > 100) return validation("Too many items requested for the BatchGetItem call");
      auto key = to_item(k);
      if (!key.ok()) return *key.error;
      if (!seen.insert(table::to_debug_string(*key.value)).second) {
        return validation("Provided list of item keys contains duplicates");
      }
      if (throttled || response_bytes > (16u << 20)) {  // DynamoDB's 16 MB response limit
        left.push_back(k);
        continue;
      }
      auto r = s.store().get_item(t.key, *key.value);
      if (!r.ok()) return to_dynamo_error(r.error());
      if (*r) {
        response_bytes += table::item_size(**r);
        units += read_units(table::item_size(**r), consistent);
        items.push_back(from_item(projection ? table::project(**r, *projection) : **r));
      } else {
        units += read_units(0, consistent);
      }
    }
    if (!throttled) responses.set(t.key, std::move(items));
    any_processed |= !throttled;
    if (!left.as_list().empty()) {
      Document u = spec;
      u.set("Keys", std::move(left));
      unprocessed.set(t.key, std::move(u));
    }
    if (throttled) continue;
    s.series(t.key, "BatchGetItem").consumed_read->add(units);
    s.charge(t.key, true, units);
    if (auto c = consumed_capacity(in, t.key, units, true)) caps.push_back(std::move(*c));
  }
  if (any_throttled && !any_processed) return batch_throttled();
  Document out = Document::make_map();
  out.set("Responses", std::move(responses));
  out.set("UnprocessedKeys", std::move(unprocessed));
  if (!caps.as_list().empty()) out.set("ConsumedCapacity", std::move(caps));
  return out;
}

ApiResult transact_write_items(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  const Document* list = in.find("TransactItems");
  if (list == nullptr || list->is_null()) {
    ValidationErrors e;
    e.add_null("transactItems");
    return e.to_error();
  }
  if (!list->is_list()) return serialization_error("Expected list or null");
  const size_t n = list->as_list().size();
  if (n < 1 || n > 100) {
    ValidationErrors e;
    e.add("transactItems", "[...]",
          n < 1 ? ValidationErrors::length_at_least(1) : ValidationErrors::length_at_most(100));
    return e.to_error();
  }
  if (auto e = check_enum(in, "ReturnConsumedCapacity", {"INDEXES", "TOTAL", "NONE"})) return *e;
  std::string token;
  std::string fingerprint;
  if (const Document* t = in.find("ClientRequestToken"); t != nullptr && t->is_string()) {
    token = t->as_string();
    Document copy = in;
    copy.set("ClientRequestToken", nullptr);
    fingerprint = encode_json(copy);
    if (auto earlier = s.recall(token, fingerprint)) return std::move(*earlier);
  }
  // Parsed expressions must outlive the ops that point at them.
  std::vector<std::unique_ptr<Expressions>> exprs;
  std::vector<std::optional<table::Condition>> conds(n);
  std::vector<table::UpdateExpr> updates(n);
  std::vector<table::WriteOp> ops(n);
  std::vector<const Document*> specs(n);
  for (size_t i = 0; i < n; ++i) {
    const Document& ti = list->as_list()[i];
    const char* kinds[] = {"ConditionCheck", "Put", "Delete", "Update"};
    const Document* spec = nullptr;
    int kind = -1, count = 0;
    for (int k = 0; k < 4; ++k) {
      const Document* v = ti.find(kinds[k]);
      if (v != nullptr && !v->is_null()) {
        spec = v;
        kind = k;
        ++count;
      }
    }
    if (count != 1) {
      return validation("TransactItems can only contain one of Check, Put, Update or Delete");
    }
    specs[i] = spec;
    table::WriteOp& op = ops[i];
    if (auto e = check_table_name(*spec, "TableName", op.table)) return *e;
    op.kind = kind == 0   ? table::WriteOp::Kind::kCheck
              : kind == 1 ? table::WriteOp::Kind::kPut
              : kind == 2 ? table::WriteOp::Kind::kDelete
                          : table::WriteOp::Kind::kUpdate;
    if (auto e = read_item(*spec, kind == 1 ? "Item" : "Key", op.item)) return *e;
    auto ex = std::make_unique<Expressions>();
    if (auto e = read_expression_attributes(*spec, *ex)) return *e;
    bool any = false;
    if (kind == 3) {
      const Document* u = spec->find("UpdateExpression");
      if (u == nullptr || !u->is_string()) {
        ValidationErrors e;
        e.add_null("transactItems." + std::to_string(i + 1) + ".member.update.updateExpression");
        return e.to_error();
      }
      auto p = table::parse_update(u->as_string(), *ex->ctx);
      if (!p.ok()) return validation(p.error().message());
      updates[i] = std::move(*p);
      op.update = &updates[i];
      any = true;
    }
    if (kind == 0 && spec->find("ConditionExpression") == nullptr) {
      ValidationErrors e;
      e.add_null("transactItems." + std::to_string(i + 1) + ".member.conditionCheck.conditionExpression");
      return e.to_error();
    }
    if (auto e = parse_condition_member(*spec, "ConditionExpression", *ex, conds[i])) return *e;
    any |= conds[i].has_value();
    if (auto e = check_expression_attributes(*ex, any)) return *e;
    if (conds[i]) op.condition = &*conds[i];
    exprs.push_back(std::move(ex));
  }
  auto r = s.store().transact_write(ops);
  if (!r.ok()) return to_dynamo_error(r.error());
  if (!r->failed.empty()) {
    Document reasons = Document::make_list();
    std::string codes;
    for (size_t i = 0; i < n; ++i) {
      Document reason = Document::make_map();
      const bool conflict = !r->conflicted.empty() && r->conflicted[i];
      if (conflict) {
        reason.set("Code", "TransactionConflict");
        reason.set("Message", table::kTransactionOngoing);
      } else if (r->failed[i]) {
        reason.set("Code", "ConditionalCheckFailed");
        reason.set("Message", "The conditional request failed");
        if (string_member(*specs[i], "ReturnValuesOnConditionCheckFailure", "NONE") == "ALL_OLD" &&
            r->old_items[i]) {
          reason.set("Item", from_item(*r->old_items[i]));
        }
        s.series(ops[i].table, "TransactWriteItems").conditional_failed->inc();
      } else {
        reason.set("Code", "None");
      }
      codes += (i ? ", " : "") + std::string(conflict        ? "TransactionConflict"
                                             : r->failed[i] ? "ConditionalCheckFailed"
                                                            : "None");
      reasons.push_back(std::move(reason));
    }
    ApiError e{AwsError::kTransactionCanceled,
               "Transaction cancelled, please refer cancellation reasons for specific reasons [" +
                   codes + "]"};
    e.extra = Document::make_map();
    e.extra.set("CancellationReasons", std::move(reasons));
    return e;
  }
  std::map<std::string, double> units;
  for (size_t i = 0; i < n; ++i) units[ops[i].table] += 2 * write_units(r->sizes[i]);
  Document out = Document::make_map();
  Document caps = Document::make_list();
  for (const auto& [t, u] : units) {
    s.series(t, "TransactWriteItems").consumed_write->add(u);
    s.charge(t, false, u);
    if (auto c = consumed_capacity(in, t, u, false)) caps.push_back(std::move(*c));
  }
  if (!caps.as_list().empty()) out.set("ConsumedCapacity", std::move(caps));
  if (!token.empty()) s.remember(token, fingerprint, out);
  return out;
}

ApiResult transact_get_items(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  const Document* list = in.find("TransactItems");
  if (list == nullptr || list->is_null()) {
    ValidationErrors e;
    e.add_null("transactItems");
    return e.to_error();
  }
  if (!list->is_list()) return serialization_error("Expected list or null");
  const size_t n = list->as_list().size();
  if (n < 1 || n > 100) {
    ValidationErrors e;
    e.add("transactItems", "[...]",
          n < 1 ? ValidationErrors::length_at_least(1) : ValidationErrors::length_at_most(100));
    return e.to_error();
  }
  std::vector<std::pair<std::string, Item>> keys;
  std::vector<std::optional<std::vector<table::Path>>> projections(n);
  for (size_t i = 0; i < n; ++i) {
    const Document* g = list->as_list()[i].find("Get");
    if (g == nullptr || !g->is_map()) {
      ValidationErrors e;
      e.add_null("transactItems." + std::to_string(i + 1) + ".member.get");
      return e.to_error();
    }
    std::string table;
    if (auto e = check_table_name(*g, "TableName", table)) return *e;
    Item key;
    if (auto e = read_item(*g, "Key", key)) return *e;
    Expressions ex;
    if (auto e = read_expression_attributes(*g, ex)) return *e;
    if (auto e = parse_projection_member(*g, ex, projections[i])) return *e;
    if (auto e = check_expression_attributes(ex, projections[i].has_value())) return *e;
    keys.emplace_back(std::move(table), std::move(key));
  }
  auto r = s.store().transact_get(keys);
  if (!r.ok()) return to_dynamo_error(r.error());
  Document responses = Document::make_list();
  for (size_t i = 0; i < n; ++i) {
    Document one = Document::make_map();
    const auto& item = (*r)[i];
    if (item) {
      one.set("Item", from_item(projections[i] ? table::project(*item, *projections[i]) : *item));
    }
    s.series(keys[i].first, "TransactGetItems")
        .consumed_read->add(2 * read_units(item ? table::item_size(*item) : 0, true));
    responses.push_back(std::move(one));
  }
  Document out = Document::make_map();
  out.set("Responses", std::move(responses));
  return out;
}

}  // namespace freshet::api::dynamodb

// Query and Scan.
#include "service.h"

namespace freshet::api::dynamodb {

using table::Condition;
using table::Item;
using table::KeyRange;

namespace {

const char* op_text(Condition::Op op) {
  switch (op) {
    case Condition::Op::kEq: return "=";
    case Condition::Op::kNe: return "<>";
    case Condition::Op::kLt: return "<";
    case Condition::Op::kLe: return "<=";
    case Condition::Op::kGt: return ">";
    case Condition::Op::kGe: return ">=";
  }
  return "?";
}

ApiError key_error(std::string m) { return validation("Invalid KeyConditionExpression: " + m); }

// One comparison of a key condition: attribute name, range op, values.
struct KeyPart {
  std::string attr;
  KeyRange range;
};

std::optional<ApiError> key_part(const Condition& c, KeyPart& out) {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kOr: return key_error("Invalid operator used in KeyConditionExpression: OR");
    case K::kNot: return key_error("Invalid operator used in KeyConditionExpression: NOT");
    case K::kIn: return key_error("Invalid operator used in KeyConditionExpression: IN");
    case K::kExists: return key_error("Invalid operator used in KeyConditionExpression: attribute_exists");
    case K::kNotExists:
      return key_error("Invalid operator used in KeyConditionExpression: attribute_not_exists");
    case K::kType: return key_error("Invalid operator used in KeyConditionExpression: attribute_type");
    case K::kContains: return key_error("Invalid operator used in KeyConditionExpression: contains");
    default: break;
  }
  if (c.kind == K::kCompare && c.op == Condition::Op::kNe) {
    return key_error("Invalid operator used in KeyConditionExpression: <>");
  }
  const table::Operand* path = &c.operands[0];
  const table::Operand* value = c.operands.size() > 1 ? &c.operands[1] : nullptr;
  Condition::Op op = c.op;
  if (c.kind == K::kCompare && path->kind != table::Operand::Kind::kPath &&
      value->kind == table::Operand::Kind::kPath) {
    std::swap(path, value);  // ":v = pk"
    op = op == Condition::Op::kLt   ? Condition::Op::kGt
         : op == Condition::Op::kLe ? Condition::Op::kGe
         : op == Condition::Op::kGt ? Condition::Op::kLt
         : op == Condition::Op::kGe ? Condition::Op::kLe
                                    : op;
  }
  if (path->kind != table::Operand::Kind::kPath) {
    if (path->kind == table::Operand::Kind::kSize) {
      return key_error("Invalid operator used in KeyConditionExpression: size");
    }
    return key_error("Invalid condition in KeyConditionExpression: " + std::string(op_text(op)) +
                     " operator must have the key attribute as its first operand");
  }
  if (path->path.size() != 1) {
    return validation("Key attributes must be scalars; list random access '[]' and map lookup "
                      "'.' are not allowed: Key: " + path->path[0].name);
  }
  out.attr = path->path[0].name;
  auto val = [&](const table::Operand& o) -> std::optional<table::Value> {
    if (o.kind != table::Operand::Kind::kValue) return std::nullopt;
    return o.value;
  };
  if (c.kind == K::kCompare) {
    auto v = val(*value);
    if (!v) return key_error("Invalid condition in KeyConditionExpression: the right operand must be a value");
    out.range.a = *v;
    out.range.op = op == Condition::Op::kEq   ? KeyRange::Op::kEq
                   : op == Condition::Op::kLt ? KeyRange::Op::kLt
                   : op == Condition::Op::kLe ? KeyRange::Op::kLe
                   : op == Condition::Op::kGt ? KeyRange::Op::kGt
                                              : KeyRange::Op::kGe;
  } else if (c.kind == K::kBetween) {
    auto lo = val(c.operands[1]), hi = val(c.operands[2]);
    if (!lo || !hi) return key_error("Invalid condition in KeyConditionExpression: BETWEEN bounds must be values");
    out.range = {KeyRange::Op::kBetween, *lo, *hi};
  } else if (c.kind == K::kBeginsWith) {
    auto v = val(c.operands[1]);
    if (!v) return key_error("Invalid condition in KeyConditionExpression: begins_with needs a value");
    out.range = {KeyRange::Op::kBeginsWith, *v, {}};
  } else {
    return validation("Query key condition not supported");
  }
  return std::nullopt;
}

std::optional<ApiError> split_key_condition(const Condition& c, const table::KeySchema& ks,
                                            table::Value& hash, KeyRange& range) {
  std::vector<const Condition*> parts;
  if (c.kind == Condition::Kind::kAnd) {
    for (const Condition& ch : c.children) {
      if (ch.kind == Condition::Kind::kAnd) {
        return validation("KeyConditionExpressions must only contain one condition per key");
      }
      parts.push_back(&ch);
    }
  } else {
    parts.push_back(&c);
  }
  bool have_hash = false, have_range = false;
  for (const Condition* p : parts) {
    KeyPart kp;
    if (auto e = key_part(*p, kp)) return e;
    if (kp.attr == ks.hash.name) {
      if (have_hash) return validation("KeyConditionExpressions must only contain one condition per key");
      if (kp.range.op != KeyRange::Op::kEq) return validation("Query key condition not supported");
      have_hash = true;
      hash = kp.range.a;
    } else if (ks.range && kp.attr == ks.range->name) {
      if (have_range) return validation("KeyConditionExpressions must only contain one condition per key");
      have_range = true;
      range = kp.range;
    } else {
      return validation("Query condition missed key schema element: " +
                        (have_hash || !ks.range ? (ks.range ? ks.range->name : ks.hash.name)
                                                : ks.hash.name));
    }
  }
  if (!have_hash) return validation("Query condition missed key schema element: " + ks.hash.name);
  return std::nullopt;
}

std::optional<ApiError> read_limit(const Document& in, int64_t& limit) {
  const Document* l = in.find("Limit");
  if (l == nullptr || l->is_null()) return std::nullopt;
  if (!l->is_number()) return serialization_error("class java.lang.String can not be converted to an Integer");
  limit = l->is_int() ? l->as_int() : static_cast<int64_t>(l->as_double());
  if (limit < 1) {
    ValidationErrors e;
    e.add("limit", std::to_string(limit), ValidationErrors::value_at_least(1));
    return e.to_error();
  }
  return std::nullopt;
}

std::optional<ApiError> read_select(const Document& in, bool has_projection, bool has_index,
                                    std::string& select) {
  const Document* s = in.find("Select");
  if (s == nullptr || s->is_null()) {
    select = has_projection ? "SPECIFIC_ATTRIBUTES" : "";
    return std::nullopt;
  }
  if (!s->is_string()) return serialization_error("Expected a string");
  select = s->as_string();
  static constexpr std::string_view kAll[] = {"ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES",
                                              "SPECIFIC_ATTRIBUTES", "COUNT"};
  bool known = false;
  for (auto k : kAll) known |= k == select;
  if (!known) {
    ValidationErrors e;
    e.add("select", select, ValidationErrors::enum_values(kAll));
    return e.to_error();
  }
  if (select == "SPECIFIC_ATTRIBUTES" && !has_projection) {
    return validation("1 validation error detected: Value 'SPECIFIC_ATTRIBUTES' at 'select' failed to satisfy "
                      "constraint: Select type SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet");
  }
  if (select != "SPECIFIC_ATTRIBUTES" && has_projection) {
    return validation("Cannot specify the AttributesToGet or ProjectionExpression when choosing to get " +
                      select);
  }
  if (select == "ALL_PROJECTED_ATTRIBUTES" && !has_index) {
    return validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
  }
  return std::nullopt;
}

// Shared by Query and Scan: index, projection, filter, paging parameters.
struct ReadRequest {
  std::string table, index;
  Expressions ex;
  std::optional<std::vector<table::Path>> projection;
  std::optional<Condition> filter;
  std::string select;
  int64_t limit = 0;
  std::optional<Item> start;
  bool consistent = false;
  bool any_expression = false;
};

std::optional<ApiError> read_common(DynamoService& s, const Document& in, const char* legacy_filter,
                                    ReadRequest& r, table::TableDesc& desc) {
  if (auto e = check_table_name(in, "TableName", r.table)) return e;
  if (const Document* i = in.find("IndexName"); i != nullptr && !i->is_null()) {
    if (auto e = check_table_name(in, "IndexName", r.index)) return e;
  }
  if (auto e = check_mixed(in, {"AttributesToGet", legacy_filter, "ConditionalOperator"},
                           {"ProjectionExpression", "FilterExpression"})) {
    return e;
  }
  if (auto e = read_expression_attributes(in, r.ex)) return e;
  if (auto e = parse_projection_member(in, r.ex, r.projection)) return e;
  if (const Document* a = in.find("AttributesToGet"); a != nullptr && !a->is_null()) {
    if (auto e = legacy_attributes_to_get(*a, r.projection)) return e;
  }
  if (auto e = parse_condition_member(in, "FilterExpression", r.ex, r.filter)) return e;
  if (const Document* f = in.find(legacy_filter); f != nullptr && !f->is_null()) {
    if (auto e = legacy_conditions(*f, in.find("ConditionalOperator"), false, r.filter)) return e;
  }
  r.any_expression = in.find("ProjectionExpression") != nullptr ||
                     in.find("FilterExpression") != nullptr;
  if (auto e = read_limit(in, r.limit)) return e;
  if (const Document* c = in.find("ConsistentRead"); c != nullptr && c->is_bool()) {
    r.consistent = c->as_bool();
  }
  if (const Document* k = in.find("ExclusiveStartKey"); k != nullptr && !k->is_null()) {
    auto c = to_item(*k);
    if (!c.ok()) return c.error;
    r.start = std::move(*c.value);
  }
  auto d = s.store().describe_table(r.table);
  if (!d.ok() || !s.store().is_active(*d)) {
    return ApiError{AwsError::kResourceNotFound, "Requested resource not found"};
  }
  desc = std::move(*d);
  const table::IndexDesc* x = nullptr;
  if (!r.index.empty()) {
    x = desc.find_index(r.index);
    if (x == nullptr) {
      return validation("The table does not have the specified index: " + r.index);
    }
    if (x->global && r.consistent) {
      return validation("Consistent reads are not supported on global secondary indexes");
    }
  }
  if (auto e = read_select(in, r.projection.has_value(), x != nullptr, r.select)) return e;
  if (x != nullptr && r.select == "ALL_ATTRIBUTES" &&
      x->projection.type != table::ProjectionType::kAll && x->global) {
    return validation("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is "
                      "not supported for global secondary index " + r.index +
                      " because its projection type is not ALL");
  }
  return s.admit(r.table, std::string_view(legacy_filter) == "QueryFilter" ? "Query" : "Scan",
                 true);
}

// The answer of a Query or Scan page. JSON requests get it written straight into the body
// (Items can be a megabyte of attributes); other protocols get the same members as a Document.
ApiResult page_response(DynamoService& s, const RequestContext& ctx, const ReadRequest& r,
                        const table::TableDesc& d, table::Page& page, const char* op) {
  const Document& in = ctx.input;
  const table::IndexDesc* x = r.index.empty() ? nullptr : d.find_index(r.index);
  const bool items_wanted = r.select != "COUNT";
  if (items_wanted) {
    for (Item& item : page.items) {
      // An LSI whose projection lacks attributes: ALL_ATTRIBUTES fetches the table's item.
      if (x != nullptr && !x->global && r.select == "ALL_ATTRIBUTES" &&
          x->projection.type != table::ProjectionType::kAll) {
        Item key{{d.key.hash.name, item.at(d.key.hash.name)}};
        if (d.key.range) key[d.key.range->name] = item.at(d.key.range->name);
        auto full = s.store().get_item(r.table, key);
        if (full.ok() && *full) item = std::move(**full);
      }
      if (r.projection) item = table::project(item, *r.projection);
    }
  }
  const double units = read_units(page.bytes_read, r.consistent);
  Series& m = s.series(r.table, op);
  m.consumed_read->add(units);
  s.charge(r.table, true, units);
  const bool encoded = !page.encoded_ends.empty();  // then page.items is empty
  const size_t returned = encoded ? page.encoded_ends.size() : page.items.size();
  m.returned_items->inc(returned);
  std::optional<Document> capacity = consumed_capacity(in, r.table, units, true, nullptr, x);
  const int64_t count = static_cast<int64_t>(returned);
  if (ctx.protocol == Protocol::kJson) {
    std::string body;
    body.reserve(64 + (items_wanted ? page.bytes_read + page.bytes_read / 2 : 0));
    body.push_back('{');
    if (items_wanted) {
      body += "\"Items\":[";
      for (size_t i = 0; i < returned; ++i) {
        if (i > 0) body.push_back(',');
        if (encoded) {
          const size_t begin = i == 0 ? 0 : page.encoded_ends[i - 1];
          const std::string_view item(page.encoded.data() + begin, page.encoded_ends[i] - begin);
          Status written = append_encoded_item_json(item, body, nullptr);  // sized by the store
          if (!written.ok()) return to_dynamo_error(written.error());
        } else {
          append_item_json(page.items[i], body);
        }
      }
      body += "],";
    }
    body += "\"Count\":" + std::to_string(count);
    body += ",\"ScannedCount\":" + std::to_string(page.scanned_count);
    if (page.last_evaluated_key) {
      body += ",\"LastEvaluatedKey\":";
      append_item_json(*page.last_evaluated_key, body);
    }
    if (capacity) body += ",\"ConsumedCapacity\":" + encode_json(*capacity);
    body.push_back('}');
    return EncodedBody{std::move(body)};
  }
  Document out = Document::make_map();
  if (items_wanted) {
    Document items = Document::make_list();
    for (const Item& item : page.items) items.push_back(from_item(item));
    out.set("Items", std::move(items));
  }
  out.set("Count", count);
  out.set("ScannedCount", page.scanned_count);
  if (page.last_evaluated_key) out.set("LastEvaluatedKey", from_item(*page.last_evaluated_key));
  if (capacity) out.set("ConsumedCapacity", std::move(*capacity));
  return out;
}

}  // namespace

ApiResult query(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  ReadRequest r;
  table::TableDesc d;
  if (auto e = check_mixed(in, {"KeyConditions"}, {"KeyConditionExpression"})) return *e;
  if (auto e = read_common(s, in, "QueryFilter", r, d)) return *e;
  const table::IndexDesc* x = r.index.empty() ? nullptr : d.find_index(r.index);
  const table::KeySchema& ks = x ? x->key : d.key;
  table::QuerySpec q;
  q.table = r.table;
  q.index = r.index;
  bool key_expression = false;
  if (const Document* k = in.find("KeyConditionExpression"); k != nullptr && !k->is_null()) {
    if (!k->is_string()) return serialization_error("Expected a string");
    key_expression = true;
    auto c = table::parse_condition(k->as_string(), "KeyConditionExpression", *r.ex.ctx);
    if (!c.ok()) return validation(c.error().message());
    if (auto e = split_key_condition(*c, ks, q.hash, q.range)) return *e;
  } else if (const Document* kc = in.find("KeyConditions"); kc != nullptr && kc->is_map()) {
    std::optional<table::Condition> legacy;
    if (auto e = legacy_conditions(*kc, nullptr, false, legacy)) return *e;
    if (!legacy) return validation("Query condition missed key schema element: " + ks.hash.name);
    if (auto e = split_key_condition(*legacy, ks, q.hash, q.range)) return *e;
  } else {
    return validation("Either the KeyConditions or KeyConditionExpression parameter must be "
                      "specified in the request.");
  }
  if (auto e = check_expression_attributes(r.ex, r.any_expression || key_expression)) return *e;
  if (r.filter) {
    // Filters cannot name key attributes of the table or index queried.
    std::vector<std::string> keys{ks.hash.name};
    if (ks.range) keys.push_back(ks.range->name);
    std::function<std::optional<std::string>(const Condition&)> find_key =
        [&](const Condition& c) -> std::optional<std::string> {
      for (const auto& o : c.operands) {
        if (o.kind == table::Operand::Kind::kPath || o.kind == table::Operand::Kind::kSize) {
          for (const auto& k : keys) {
            if (o.path[0].name == k) return k;
          }
        }
      }
      for (const auto& ch : c.children) {
        if (auto k = find_key(ch)) return k;
      }
      return std::nullopt;
    };
    if (auto k = find_key(*r.filter)) {
      return validation("Filter Expression can only contain non-primary key attributes: Primary "
                        "key attribute: " + *k);
    }
  }
  q.limit = r.limit;
  q.exclusive_start_key = r.start;
  q.filter = r.filter ? &*r.filter : nullptr;
  if (const Document* f = in.find("ScanIndexForward"); f != nullptr && f->is_bool()) {
    q.forward = f->as_bool();
  }
  // JSON answers of items as stored (no filter, no projection, no fetch of LSI items from the
  // table) are written straight from the stored encodings.
  q.encoded = ctx.protocol == Protocol::kJson && !r.filter && !r.projection &&
              !(x != nullptr && !x->global && r.select == "ALL_ATTRIBUTES" &&
                x->projection.type != table::ProjectionType::kAll);
  auto page = s.store().query(q);
  if (!page.ok()) return to_dynamo_error(page.error());
  return page_response(s, ctx, r, d, *page, "Query");
}

ApiResult scan(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  ReadRequest r;
  table::TableDesc d;
  if (auto e = read_common(s, in, "ScanFilter", r, d)) return *e;
  if (auto e = check_expression_attributes(r.ex, r.any_expression)) return *e;
  table::ScanSpec sp;
  sp.table = r.table;
  sp.index = r.index;
  sp.limit = r.limit;
  sp.exclusive_start_key = r.start;
  sp.filter = r.filter ? &*r.filter : nullptr;
  const Document* seg = in.find("Segment");
  const Document* total = in.find("TotalSegments");
  const bool has_seg = seg != nullptr && !seg->is_null();
  const bool has_total = total != nullptr && !total->is_null();
  if (has_seg || has_total) {
    ValidationErrors v;
    int64_t sv = has_seg && seg->is_number() ? (seg->is_int() ? seg->as_int() : 0) : 0;
    int64_t tv = has_total && total->is_number() ? (total->is_int() ? total->as_int() : 0) : 0;
    if (has_seg && sv < 0) v.add("segment", std::to_string(sv), ValidationErrors::value_at_least(0));
    if (has_seg && sv > 999999) v.add("segment", std::to_string(sv), ValidationErrors::value_at_most(999999));
    if (has_total && tv < 1) v.add("totalSegments", std::to_string(tv), ValidationErrors::value_at_least(1));
    if (has_total && tv > 1000000) {
      v.add("totalSegments", std::to_string(tv), ValidationErrors::value_at_most(1000000));
    }
    if (!v.empty()) return v.to_error();
    if (has_seg && !has_total) {
      return validation("The TotalSegments parameter is required but was not present in the "
                        "request when parameter Segment is present");
    }
    if (has_total && !has_seg) {
      return validation("The Segment parameter is required but was not present in the request "
                        "when parameter TotalSegments is present");
    }
    if (sv >= tv) {
      return validation("The Segment parameter is zero-based and must be less than parameter "
                        "TotalSegments: Segment: " + std::to_string(sv) +
                        " is not less than TotalSegments: " + std::to_string(tv));
    }
    sp.segment = static_cast<int32_t>(sv);
    sp.total_segments = static_cast<int32_t>(tv);
  }
  auto page = s.store().scan(sp);
  if (!page.ok()) return to_dynamo_error(page.error());
  return page_response(s, ctx, r, d, *page, "Scan");
}

}  // namespace freshet::api::dynamodb

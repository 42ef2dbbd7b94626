// CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable, the TTL operations, tags,
// DescribeLimits, DescribeEndpoints.
#include <algorithm>
#include <set>

#include "service.h"

namespace freshet::api::dynamodb {

using table::IndexDesc;
using table::KeyAttr;
using table::TableDesc;

namespace {

std::string invalid_parameters_prefix() { return "One or more parameter values were invalid: "; }

Document key_schema_doc(const table::KeySchema& ks) {
  Document l = Document::make_list();
  Document h = Document::make_map();
  h.set("AttributeName", ks.hash.name);
  h.set("KeyType", "HASH");
  l.push_back(std::move(h));
  if (ks.range) {
    Document r = Document::make_map();
    r.set("AttributeName", ks.range->name);
    r.set("KeyType", "RANGE");
    l.push_back(std::move(r));
  }
  return l;
}

Document throughput_doc(const table::Throughput& t) {
  Document p = Document::make_map();
  p.set("NumberOfDecreasesToday", 0);
  p.set("ReadCapacityUnits", t.read);
  p.set("WriteCapacityUnits", t.write);
  return p;
}

Document describe(DynamoService& s, const RequestContext& ctx, const TableDesc& d,
                  const char* status_override = nullptr) {
  Document t = Document::make_map();
  Document defs = Document::make_list();
  for (const KeyAttr& a : d.attribute_definitions) {
    Document x = Document::make_map();
    x.set("AttributeName", a.name);
    x.set("AttributeType", std::string(table::type_name(a.type)));
    defs.push_back(std::move(x));
  }
  t.set("AttributeDefinitions", std::move(defs));
  t.set("TableName", d.name);
  t.set("KeySchema", key_schema_doc(d.key));
  const bool active = s.store().is_active(d);
  t.set("TableStatus", status_override ? status_override : active ? "ACTIVE" : "CREATING");
  t.set("CreationDateTime", Document::timestamp_ms(d.created_ms));
  t.set("ProvisionedThroughput", throughput_doc(d.throughput));
  const table::TableStats st = s.store().stats(d.name);
  t.set("TableSizeBytes", st.size_bytes);
  t.set("ItemCount", st.item_count);
  const std::string arn = s.table_arn(ctx, d.name);
  t.set("TableArn", arn);
  char id[37];
  std::snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012llx", d.id,
                static_cast<unsigned long long>(d.created_ms));
  t.set("TableId", std::string(id));
  if (d.pay_per_request) {
    Document b = Document::make_map();
    b.set("BillingMode", "PAY_PER_REQUEST");
    b.set("LastUpdateToPayPerRequestDateTime", Document::timestamp_ms(d.created_ms));
    t.set("BillingModeSummary", std::move(b));
  }
  Document lsis = Document::make_list(), gsis = Document::make_list();
  for (const IndexDesc& x : d.indexes) {
    Document i = Document::make_map();
    i.set("IndexName", x.name);
    i.set("KeySchema", key_schema_doc(x.key));
    Document p = Document::make_map();
    p.set("ProjectionType", std::string(table::projection_type_name(x.projection.type)));
    if (x.projection.type == table::ProjectionType::kInclude) {
      Document nk = Document::make_list();
      for (const auto& n : x.projection.non_key_attributes) nk.push_back(n);
      p.set("NonKeyAttributes", std::move(nk));
    }
    i.set("Projection", std::move(p));
    const table::TableStats is = s.store().index_stats(d.name, x.id);
    i.set("IndexSizeBytes", is.size_bytes);
    i.set("ItemCount", is.item_count);
    i.set("IndexArn", arn + "/index/" + x.name);
    if (x.global) {
      i.set("IndexStatus", active ? "ACTIVE" : "CREATING");
      i.set("ProvisionedThroughput", throughput_doc(x.throughput));
      gsis.push_back(std::move(i));
    } else {
      lsis.push_back(std::move(i));
    }
  }
  if (!lsis.as_list().empty()) t.set("LocalSecondaryIndexes", std::move(lsis));
  if (!gsis.as_list().empty()) t.set("GlobalSecondaryIndexes", std::move(gsis));
  if (d.stream_enabled) {
    Document ss = Document::make_map();
    ss.set("StreamEnabled", true);
    ss.set("StreamViewType", d.stream_view_type);
    t.set("StreamSpecification", std::move(ss));
    t.set("LatestStreamLabel", std::to_string(d.created_ms));
    t.set("LatestStreamArn", arn + "/stream/" + std::to_string(d.created_ms));
  }
  t.set("DeletionProtectionEnabled", false);
  return t;
}

std::optional<ApiError> read_key_schema(const Document* ks, const char* path, table::KeySchema& out,
                                        std::vector<std::string>& names) {
  if (ks == nullptr || ks->is_null()) {
    ValidationErrors e;
    e.add_null(path);
    return e.to_error();
  }
  if (!ks->is_list()) return serialization_error("Expected list or null");
  const List& l = ks->as_list();
  if (l.empty() || l.size() > 2) {
    ValidationErrors e;
    e.add(path, "[...]", l.empty() ? ValidationErrors::length_at_least(1)
                                   : ValidationErrors::length_at_most(2));
    return e.to_error();
  }
  std::vector<std::string> types;
  for (const Document& k : l) {
    const Document* n = k.find("AttributeName");
    const Document* t = k.find("KeyType");
    if (n == nullptr || !n->is_string() || t == nullptr || !t->is_string()) {
      ValidationErrors e;
      e.add_null(std::string(path) + ".member.attributeName");
      return e.to_error();
    }
    names.push_back(n->as_string());
    types.push_back(t->as_string());
  }
  if (names.size() == 2 && names[0] == names[1]) {
    return validation("Both the Hash Key and the Range Key element in the KeySchema have the same name");
  }
  if (types[0] != "HASH") return validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
  if (types.size() == 2 && types[1] != "RANGE") {
    return validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
  }
  out.hash.name = names[0];
  if (names.size() == 2) out.range = KeyAttr{names[1], table::Type::kS};
  return std::nullopt;
}

std::optional<ApiError> resolve_types(table::KeySchema& ks, const std::vector<KeyAttr>& defs,
                                      const std::vector<std::string>& names) {
  auto type_of = [&](const std::string& n) -> const KeyAttr* {
    for (const KeyAttr& a : defs) {
      if (a.name == n) return &a;
    }
    return nullptr;
  };
  for (const auto& n : names) {
    if (type_of(n) == nullptr) {
      std::string keys, ds;
      for (const auto& k : names) keys += (keys.empty() ? "" : ", ") + k;
      for (const auto& a : defs) ds += (ds.empty() ? "" : ", ") + a.name;
      return validation(invalid_parameters_prefix() +
                        "Some index key attributes are not defined in "
                        "AttributeDefinitions. Keys: [" +
                        keys + "], AttributeDefinitions: [" + ds + "]");
    }
  }
  ks.hash.type = type_of(ks.hash.name)->type;
  if (ks.range) ks.range->type = type_of(ks.range->name)->type;
  return std::nullopt;
}

std::optional<ApiError> read_throughput(const Document* p, table::Throughput& out) {
  if (p == nullptr || p->is_null()) return std::nullopt;
  if (!p->is_map()) return serialization_error("Expected map or null");
  ValidationErrors e;
  const Document* r = p->find("ReadCapacityUnits");
  const Document* w = p->find("WriteCapacityUnits");
  if (r == nullptr || !r->is_number()) e.add_null("provisionedThroughput.readCapacityUnits");
  if (w == nullptr || !w->is_number()) e.add_null("provisionedThroughput.writeCapacityUnits");
  if (!e.empty()) return e.to_error();
  out.read = r->is_int() ? r->as_int() : static_cast<int64_t>(r->as_double());
  out.write = w->is_int() ? w->as_int() : static_cast<int64_t>(w->as_double());
  if (out.read < 1) e.add("provisionedThroughput.readCapacityUnits", std::to_string(out.read), ValidationErrors::value_at_least(1));
  if (out.write < 1) e.add("provisionedThroughput.writeCapacityUnits", std::to_string(out.write), ValidationErrors::value_at_least(1));
  if (!e.empty()) return e.to_error();
  if (out.read > 1'000'000'000'000) {
    return validation("Given value " + std::to_string(out.read) + " for ReadCapacityUnits is out of bounds");
  }
  if (out.write > 1'000'000'000'000) {
    return validation("Given value " + std::to_string(out.write) + " for WriteCapacityUnits is out of bounds");
  }
  return std::nullopt;
}

std::optional<ApiError> read_projection(const Document* p, table::Projection& out) {
  if (p == nullptr || !p->is_map()) {
    ValidationErrors e;
    e.add_null("projection");
    return e.to_error();
  }
  const Document* t = p->find("ProjectionType");
  if (t == nullptr || !t->is_string())
    return validation(invalid_parameters_prefix() + "Unknown ProjectionType: null");
  const std::string& pt = t->as_string();
  if (pt == "ALL") out.type = table::ProjectionType::kAll;
  else if (pt == "KEYS_ONLY") out.type = table::ProjectionType::kKeysOnly;
  else if (pt == "INCLUDE") out.type = table::ProjectionType::kInclude;
  else
    return validation(invalid_parameters_prefix() + "Unknown ProjectionType: " + pt);
  const Document* nk = p->find("NonKeyAttributes");
  if (nk != nullptr && !nk->is_null()) {
    if (out.type != table::ProjectionType::kInclude) {
      return validation(invalid_parameters_prefix() + "ProjectionType is " + pt +
                        ", but NonKeyAttributes is specified");
    }
    if (!nk->is_list()) return serialization_error("Expected list or null");
    for (const Document& a : nk->as_list()) {
      if (a.is_string()) out.non_key_attributes.push_back(a.as_string());
    }
  }
  return std::nullopt;
}

std::optional<ApiError> read_definitions(const Document& in, std::vector<KeyAttr>& defs) {
  const Document* ad = in.find("AttributeDefinitions");
  if (ad == nullptr || ad->is_null()) return std::nullopt;
  if (!ad->is_list()) return serialization_error("Expected list or null");
  for (const Document& a : ad->as_list()) {
    const Document* n = a.find("AttributeName");
    const Document* t = a.find("AttributeType");
    if (n == nullptr || !n->is_string()) {
      ValidationErrors e;
      e.add_null("attributeDefinitions.member.attributeName");
      return e.to_error();
    }
    table::Type ty;
    if (t == nullptr || !t->is_string() || !table::type_from_name(t->as_string(), ty) ||
        !(ty == table::Type::kS || ty == table::Type::kN || ty == table::Type::kB)) {
      ValidationErrors e;
      e.add("attributeDefinitions.member.attributeType", t && t->is_string() ? t->as_string() : "null",
            "Member must satisfy enum value set: [B, N, S]");
      return e.to_error();
    }
    for (const KeyAttr& k : defs) {
      if (k.name == n->as_string()) {
        return validation("Cannot have two attributes with the same name");
      }
    }
    defs.push_back(KeyAttr{n->as_string(), ty});
  }
  return std::nullopt;
}

std::optional<ApiError> read_index(const Document& x, bool global, const std::vector<KeyAttr>& defs,
                                   bool pay_per_request, IndexDesc& out,
                                   std::set<std::string>& used) {
  std::string name;
  if (auto e = check_table_name(x, "IndexName", name)) return e;
  out.name = name;
  out.global = global;
  std::vector<std::string> names;
  if (auto e = read_key_schema(x.find("KeySchema"), "keySchema", out.key, names)) return e;
  if (auto e = resolve_types(out.key, defs, names)) return e;
  for (const auto& n : names) used.insert(n);
  if (auto e = read_projection(x.find("Projection"), out.projection)) return e;
  const Document* pt = x.find("ProvisionedThroughput");
  if (global) {
    if (pay_per_request && pt != nullptr && !pt->is_null()) {
      return validation(invalid_parameters_prefix() +
                        "ProvisionedThroughput should not be specified for index: " + name +
                        " when BillingMode is PAY_PER_REQUEST");
    }
    if (!pay_per_request && (pt == nullptr || pt->is_null())) {
      return validation(invalid_parameters_prefix() +
                        "ProvisionedThroughput must be specified for index: " + name);
    }
    if (auto e = read_throughput(pt, out.throughput)) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> read_billing(const Document& in, bool& pay_per_request) {
  const Document* b = in.find("BillingMode");
  if (b == nullptr || b->is_null()) return std::nullopt;
  if (!b->is_string() || (b->as_string() != "PROVISIONED" && b->as_string() != "PAY_PER_REQUEST")) {
    ValidationErrors e;
    e.add("billingMode", b->is_string() ? b->as_string() : "?",
          "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
    return e.to_error();
  }
  pay_per_request = b->as_string() == "PAY_PER_REQUEST";
  return std::nullopt;
}

std::optional<ApiError> read_stream(const Document& in, TableDesc& d) {
  const Document* ss = in.find("StreamSpecification");
  if (ss == nullptr || !ss->is_map()) return std::nullopt;
  const Document* en = ss->find("StreamEnabled");
  d.stream_enabled = en != nullptr && en->is_bool() && en->as_bool();
  const Document* vt = ss->find("StreamViewType");
  if (d.stream_enabled) {
    if (vt == nullptr || !vt->is_string()) {
      return validation(invalid_parameters_prefix() +
                        "You must specify a StreamViewType when enabling a stream");
    }
    d.stream_view_type = vt->as_string();
  }
  return std::nullopt;
}

std::optional<ApiError> read_tags(const Document* tags, std::map<std::string, std::string>& out) {
  if (tags == nullptr || tags->is_null()) return std::nullopt;
  if (!tags->is_list()) return serialization_error("Expected list or null");
  for (const Document& t : tags->as_list()) {
    const Document* k = t.find("Key");
    const Document* v = t.find("Value");
    if (k == nullptr || !k->is_string() || v == nullptr || !v->is_string()) {
      ValidationErrors e;
      e.add_null("tags.member.key");
      return e.to_error();
    }
    if (k->as_string().empty() || k->as_string().size() > 128 || v->as_string().size() > 256) {
      return validation("One or more parameter values were invalid: Tag key or value is too long");
    }
    out[k->as_string()] = v->as_string();
  }
  if (out.size() > 50) return validation("One or more parameter values were invalid: Too many tags");
  return std::nullopt;
}

// "arn:aws:dynamodb:<region>:<account>:table/<name>" -> name.
std::optional<ApiError> table_from_arn(const Document& in, std::string& name) {
  const Document* a = in.find("ResourceArn");
  if (a == nullptr || !a->is_string()) {
    ValidationErrors e;
    e.add_null("resourceArn");
    return e.to_error();
  }
  const std::string& arn = a->as_string();
  const size_t slash = arn.find(":table/");
  if (arn.rfind("arn:aws:dynamodb:", 0) != 0 || slash == std::string::npos) {
    return validation("Invalid TableArn: Invalid ResourceArn provided as input " + arn);
  }
  name = arn.substr(slash + 7);
  if (size_t i = name.find('/'); i != std::string::npos) name.resize(i);
  return std::nullopt;
}

}  // namespace

ApiResult create_table(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  TableDesc d;
  if (auto e = check_table_name(in, "TableName", d.name)) return *e;
  if (in.find("AttributeDefinitions") == nullptr || in.find("AttributeDefinitions")->is_null()) {
    ValidationErrors e;
    e.add_null("attributeDefinitions");
    return e.to_error();
  }
  if (auto e = read_definitions(in, d.attribute_definitions)) return *e;
  if (auto e = read_billing(in, d.pay_per_request)) return *e;
  const Document* pt = in.find("ProvisionedThroughput");
  if (d.pay_per_request) {
    if (pt != nullptr && !pt->is_null()) {
      return validation(invalid_parameters_prefix() +
                        "Neither ReadCapacityUnits nor WriteCapacityUnits can be "
                        "specified when BillingMode is PAY_PER_REQUEST");
    }
  } else {
    if (pt == nullptr || pt->is_null()) {
      return validation(invalid_parameters_prefix() +
                        "ReadCapacityUnits and WriteCapacityUnits must both be "
                        "specified when BillingMode is PROVISIONED");
    }
    if (auto e = read_throughput(pt, d.throughput)) return *e;
  }
  std::vector<std::string> names;
  if (auto e = read_key_schema(in.find("KeySchema"), "keySchema", d.key, names)) return *e;
  if (names.size() > d.attribute_definitions.size()) {
    return validation("Invalid KeySchema: Some index key attribute have no definition");
  }
  if (auto e = resolve_types(d.key, d.attribute_definitions, names)) return *e;
  std::set<std::string> used(names.begin(), names.end());
  std::set<std::string> index_names;
  if (const Document* l = in.find("LocalSecondaryIndexes"); l != nullptr && !l->is_null()) {
    if (!l->is_list()) return serialization_error("Expected list or null");
    if (l->as_list().empty())
      return validation(invalid_parameters_prefix() + "List of LocalSecondaryIndexes is empty");
    if (!d.key.range) {
      return validation(invalid_parameters_prefix() +
                        "Table KeySchema does not have a range key, which is required "
                        "when specifying a LocalSecondaryIndex");
    }
    for (const Document& x : l->as_list()) {
      IndexDesc idx;
      if (auto e = read_index(x, false, d.attribute_definitions, d.pay_per_request, idx, used)) return *e;
      if (!idx.key.range) {
        return validation(invalid_parameters_prefix() +
                          "Index KeySchema does not have a range key for index: " + idx.name);
      }
      if (idx.key.hash.name != d.key.hash.name) {
        return validation(invalid_parameters_prefix() +
                          "Index KeySchema does not have the same leading hash key as "
                          "table KeySchema for index: " +
                          idx.name + ". index hash key: " + idx.key.hash.name +
                          ", table hash key: " + d.key.hash.name);
      }
      if (!index_names.insert(idx.name).second) {
        return validation(invalid_parameters_prefix() + "Duplicate index name: " + idx.name);
      }
      d.indexes.push_back(std::move(idx));
    }
    if (l->as_list().size() > 5) {
      return validation(invalid_parameters_prefix() +
                        "Number of LocalSecondaryIndexes exceeds per-table limit of 5");
    }
  }
  if (const Document* g = in.find("GlobalSecondaryIndexes"); g != nullptr && !g->is_null()) {
    if (!g->is_list()) return serialization_error("Expected list or null");
    if (g->as_list().empty())
      return validation(invalid_parameters_prefix() + "List of GlobalSecondaryIndexes is empty");
    for (const Document& x : g->as_list()) {
      IndexDesc idx;
      if (auto e = read_index(x, true, d.attribute_definitions, d.pay_per_request, idx, used)) return *e;
      if (!index_names.insert(idx.name).second) {
        return validation(invalid_parameters_prefix() + "Duplicate index name: " + idx.name);
      }
      d.indexes.push_back(std::move(idx));
    }
    if (g->as_list().size() > 20) {
      return validation(invalid_parameters_prefix() +
                        "GlobalSecondaryIndex count exceeds the per-table limit of 20");
    }
  }
  if (used.size() != d.attribute_definitions.size()) {
    return validation(invalid_parameters_prefix() +
                      "Number of attributes in KeySchema does not exactly match number "
                      "of attributes defined in AttributeDefinitions");
  }
  if (auto e = read_stream(in, d)) return *e;
  if (auto e = read_tags(in.find("Tags"), d.tags)) return *e;
  auto r = s.store().create_table(std::move(d));
  if (!r.ok()) return to_dynamo_error(r.error());
  Document out = Document::make_map();
  out.set("TableDescription", describe(s, ctx, *r, s.store().is_active(*r) ? nullptr : "CREATING"));
  return out;
}

ApiResult describe_table(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = check_table_name(ctx.input, "TableName", name)) return *e;
  auto d = s.store().describe_table(name);
  if (!d.ok()) return to_dynamo_error(d.error());
  Document out = Document::make_map();
  out.set("Table", describe(s, ctx, *d));
  return out;
}

ApiResult list_tables(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  int64_t limit = 100;
  if (const Document* l = in.find("Limit"); l != nullptr && !l->is_null()) {
    if (!l->is_number()) return serialization_error("class java.lang.String can not be converted to an Integer");
    limit = l->is_int() ? l->as_int() : static_cast<int64_t>(l->as_double());
    ValidationErrors e;
    if (limit < 1) e.add("limit", std::to_string(limit), ValidationErrors::value_at_least(1));
    if (limit > 100) e.add("limit", std::to_string(limit), ValidationErrors::value_at_most(100));
    if (!e.empty()) return e.to_error();
  }
  std::string start;
  if (const Document* st = in.find("ExclusiveStartTableName"); st != nullptr && !st->is_null()) {
    if (auto e = check_table_name(in, "ExclusiveStartTableName", start)) return *e;
  }
  Document names = Document::make_list();
  std::vector<std::string> all = s.store().list_tables();
  std::string last;
  size_t taken = 0;
  bool more = false;
  for (const std::string& n : all) {
    if (!start.empty() && n <= start) continue;
    if (taken == static_cast<size_t>(limit)) {
      more = true;
      break;
    }
    names.push_back(n);
    last = n;
    ++taken;
  }
  Document out = Document::make_map();
  out.set("TableNames", std::move(names));
  if (more) out.set("LastEvaluatedTableName", last);
  return out;
}

ApiResult delete_table(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = check_table_name(ctx.input, "TableName", name)) return *e;
  auto d = s.store().delete_table(name);
  if (!d.ok()) return to_dynamo_error(d.error());
  Document out = Document::make_map();
  out.set("TableDescription", describe(s, ctx, *d, "DELETING"));
  return out;
}

ApiResult update_table(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  std::string name;
  if (auto e = check_table_name(in, "TableName", name)) return *e;
  auto cur = s.store().describe_table(name);
  if (!cur.ok()) return to_dynamo_error(cur.error());
  std::vector<KeyAttr> defs = cur->attribute_definitions;
  std::vector<KeyAttr> new_defs;
  if (auto e = read_definitions(in, new_defs)) return *e;
  for (const KeyAttr& a : new_defs) {
    auto f = std::find_if(defs.begin(), defs.end(), [&](const KeyAttr& k) { return k.name == a.name; });
    if (f == defs.end()) defs.push_back(a);
    else if (f->type != a.type) {
      return validation(invalid_parameters_prefix() +
                        "Cannot change the type of an existing attribute: " + a.name);
    }
  }
  bool ppr = cur->pay_per_request;
  if (auto e = read_billing(in, ppr)) return *e;
  table::Throughput tp = cur->throughput;
  if (auto e = read_throughput(in.find("ProvisionedThroughput"), tp)) return *e;
  TableDesc stream_holder = *cur;
  if (auto e = read_stream(in, stream_holder)) return *e;
  const bool has_stream = in.find("StreamSpecification") != nullptr;
  auto r = s.store().alter_table(name, [&](TableDesc& d) -> Status {
    d.pay_per_request = ppr;
    d.throughput = ppr ? table::Throughput{} : tp;
    if (has_stream) {
      d.stream_enabled = stream_holder.stream_enabled;
      d.stream_view_type = stream_holder.stream_view_type;
    }
    return Status();
  });
  if (!r.ok()) return to_dynamo_error(r.error());
  if (const Document* g = in.find("GlobalSecondaryIndexUpdates"); g != nullptr && g->is_list()) {
    for (const Document& u : g->as_list()) {
      if (const Document* c = u.find("Create"); c != nullptr && c->is_map()) {
        IndexDesc idx;
        std::set<std::string> used;
        if (auto e = read_index(*c, true, defs, ppr, idx, used)) return *e;
        // Definitions the new index needs join the table's.
        auto added = s.store().alter_table(name, [&](TableDesc& d) -> Status {
          for (const auto& n : used) {
            auto f = std::find_if(defs.begin(), defs.end(), [&](const KeyAttr& k) { return k.name == n; });
            bool have = std::any_of(d.attribute_definitions.begin(), d.attribute_definitions.end(),
                                    [&](const KeyAttr& k) { return k.name == n; });
            if (!have && f != defs.end()) d.attribute_definitions.push_back(*f);
          }
          return Status();
        });
        if (!added.ok()) return to_dynamo_error(added.error());
        auto x = s.store().add_global_index(name, idx);
        if (!x.ok()) return to_dynamo_error(x.error());
      } else if (const Document* del = u.find("Delete"); del != nullptr && del->is_map()) {
        std::string iname;
        if (auto e = check_table_name(*del, "IndexName", iname)) return *e;
        auto x = s.store().delete_global_index(name, iname);
        if (!x.ok()) return to_dynamo_error(x.error());
      } else if (const Document* up = u.find("Update"); up != nullptr && up->is_map()) {
        std::string iname;
        if (auto e = check_table_name(*up, "IndexName", iname)) return *e;
        table::Throughput itp;
        if (auto e = read_throughput(up->find("ProvisionedThroughput"), itp)) return *e;
        auto x = s.store().alter_table(name, [&](TableDesc& d) -> Status {
          for (auto& i : d.indexes) {
            if (i.name == iname && i.global) {
              i.throughput = itp;
              return Status();
            }
          }
          return Error(ErrorCode::kNotFound,
                       "Requested resource not found: Index: " + iname + " not found");
        });
        if (!x.ok()) return to_dynamo_error(x.error());
      }
    }
  }
  auto fin = s.store().describe_table(name);
  if (!fin.ok()) return to_dynamo_error(fin.error());
  Document out = Document::make_map();
  out.set("TableDescription", describe(s, ctx, *fin));
  return out;
}

ApiResult update_time_to_live(DynamoService& s, RequestContext& ctx) {
  const Document& in = ctx.input;
  std::string name;
  if (auto e = check_table_name(in, "TableName", name)) return *e;
  const Document* spec = in.find("TimeToLiveSpecification");
  if (spec == nullptr || !spec->is_map()) {
    ValidationErrors e;
    e.add_null("timeToLiveSpecification");
    return e.to_error();
  }
  const Document* en = spec->find("Enabled");
  const Document* attr = spec->find("AttributeName");
  if (en == nullptr || !en->is_bool() || attr == nullptr || !attr->is_string()) {
    ValidationErrors e;
    if (en == nullptr || !en->is_bool()) e.add_null("timeToLiveSpecification.enabled");
    if (attr == nullptr || !attr->is_string()) e.add_null("timeToLiveSpecification.attributeName");
    return e.to_error();
  }
  const bool enable = en->as_bool();
  const std::string a = attr->as_string();
  auto r = s.store().alter_table(name, [&](TableDesc& d) -> Status {
    if (enable && !d.ttl_attribute.empty()) {
      return Error(ErrorCode::kInvalidArgument, "TimeToLive is already enabled");
    }
    if (!enable && d.ttl_attribute.empty()) {
      return Error(ErrorCode::kInvalidArgument, "TimeToLive is already disabled");
    }
    if (!enable && d.ttl_attribute != a) {
      return Error(ErrorCode::kInvalidArgument,
                   "TimeToLive attribute name does not match: " + d.ttl_attribute);
    }
    d.ttl_attribute = enable ? a : "";
    return Status();
  });
  if (!r.ok()) return to_dynamo_error(r.error());
  Document out = Document::make_map();
  Document sp = Document::make_map();
  sp.set("Enabled", enable);
  sp.set("AttributeName", a);
  out.set("TimeToLiveSpecification", std::move(sp));
  return out;
}

ApiResult describe_time_to_live(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = check_table_name(ctx.input, "TableName", name)) return *e;
  auto d = s.store().describe_table(name);
  if (!d.ok()) return to_dynamo_error(d.error());
  Document desc = Document::make_map();
  desc.set("TimeToLiveStatus", d->ttl_attribute.empty() ? "DISABLED" : "ENABLED");
  if (!d->ttl_attribute.empty()) desc.set("AttributeName", d->ttl_attribute);
  Document out = Document::make_map();
  out.set("TimeToLiveDescription", std::move(desc));
  return out;
}

ApiResult tag_resource(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = table_from_arn(ctx.input, name)) return *e;
  std::map<std::string, std::string> tags;
  const Document* t = ctx.input.find("Tags");
  if (t == nullptr || t->is_null()) {
    ValidationErrors e;
    e.add_null("tags");
    return e.to_error();
  }
  if (auto e = read_tags(t, tags)) return *e;
  auto r = s.store().alter_table(name, [&](TableDesc& d) -> Status {
    for (auto& [k, v] : tags) d.tags[k] = v;
    if (d.tags.size() > 50) return Error(ErrorCode::kLimitExceeded, "Too many tags");
    return Status();
  });
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kNotFound) {
      return ApiError{AwsError::kResourceNotFound,
                      "Requested resource not found: ResourcArn: " +
                          ctx.input.find("ResourceArn")->as_string() + " not found"};
    }
    return to_dynamo_error(r.error());
  }
  return Document::make_map();
}

ApiResult untag_resource(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = table_from_arn(ctx.input, name)) return *e;
  const Document* keys = ctx.input.find("TagKeys");
  if (keys == nullptr || !keys->is_list()) {
    ValidationErrors e;
    e.add_null("tagKeys");
    return e.to_error();
  }
  auto r = s.store().alter_table(name, [&](TableDesc& d) -> Status {
    for (const Document& k : keys->as_list()) {
      if (k.is_string()) d.tags.erase(k.as_string());
    }
    return Status();
  });
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kNotFound) {
      return ApiError{AwsError::kResourceNotFound,
                      "Requested resource not found: ResourcArn: " +
                          ctx.input.find("ResourceArn")->as_string() + " not found"};
    }
    return to_dynamo_error(r.error());
  }
  return Document::make_map();
}

ApiResult list_tags_of_resource(DynamoService& s, RequestContext& ctx) {
  std::string name;
  if (auto e = table_from_arn(ctx.input, name)) return *e;
  auto d = s.store().describe_table(name);
  if (!d.ok()) {
    return ApiError{AwsError::kResourceNotFound,
                    "Requested resource not found: ResourcArn: " +
                        ctx.input.find("ResourceArn")->as_string() + " not found"};
  }
  Document tags = Document::make_list();
  for (const auto& [k, v] : d->tags) {
    Document t = Document::make_map();
    t.set("Key", k);
    t.set("Value", v);
    tags.push_back(std::move(t));
  }
  Document out = Document::make_map();
  out.set("Tags", std::move(tags));
  return out;
}

ApiResult describe_limits(DynamoService&, RequestContext&) {
  Document out = Document::make_map();
  out.set("AccountMaxReadCapacityUnits", 80000);
  out.set("AccountMaxWriteCapacityUnits", 80000);
  out.set("TableMaxReadCapacityUnits", 40000);
  out.set("TableMaxWriteCapacityUnits", 40000);
  return out;
}

ApiResult describe_endpoints(DynamoService& s, RequestContext&) {
  Document e = Document::make_map();
  e.set("Address", s.options().endpoint_address);
  e.set("CachePeriodInMinutes", 1440);
  Document l = Document::make_list();
  l.push_back(std::move(e));
  Document out = Document::make_map();
  out.set("Endpoints", std::move(l));
  return out;
}

}  // namespace freshet::api::dynamodb

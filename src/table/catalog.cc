#include "catalog.h"

namespace freshet::table {
namespace {

Value num(int64_t v) { return Value::n(std::to_string(v)); }

Value key_attr(const KeyAttr& k) {
  return Value::map({{"name", Value::s(k.name)}, {"type", Value::s(std::string(type_name(k.type)))}});
}

Value key_schema(const KeySchema& ks) {
  Item m{{"hash", key_attr(ks.hash)}};
  if (ks.range) m["range"] = key_attr(*ks.range);
  return Value::map(std::move(m));
}

Value index(const IndexDesc& x) {
  std::vector<Value> nka;
  for (const auto& n : x.projection.non_key_attributes) nka.push_back(Value::s(n));
  return Value::map({{"name", Value::s(x.name)},
                     {"global", Value::boolean(x.global)},
                     {"id", num(x.id)},
                     {"key", key_schema(x.key)},
                     {"projection", Value::s(std::string(projection_type_name(x.projection.type)))},
                     {"non_key", Value::list(std::move(nka))},
                     {"rcu", num(x.throughput.read)},
                     {"wcu", num(x.throughput.write)}});
}

Error bad(const char* what) {
  return Error(ErrorCode::kCorruption, std::string("table descriptor: ") + what);
}

const Value* get(const Item& m, const char* name, Type t) {
  auto f = m.find(name);
  if (f == m.end() || !f->second.is(t)) return nullptr;
  return &f->second;
}

bool read_int(const Item& m, const char* name, int64_t& out) {
  const Value* v = get(m, name, Type::kN);
  if (v == nullptr) return false;
  try {
    out = std::stoll(v->str());
  } catch (...) {
    return false;
  }
  return true;
}

bool read_key_attr(const Value& v, KeyAttr& out) {
  if (!v.is(Type::kM)) return false;
  const Value* n = get(v.as_map(), "name", Type::kS);
  const Value* t = get(v.as_map(), "type", Type::kS);
  if (n == nullptr || t == nullptr || !type_from_name(t->str(), out.type)) return false;
  out.name = n->str();
  return true;
}

bool read_key_schema(const Value& v, KeySchema& out) {
  if (!v.is(Type::kM)) return false;
  auto h = v.as_map().find("hash");
  if (h == v.as_map().end() || !read_key_attr(h->second, out.hash)) return false;
  auto r = v.as_map().find("range");
  if (r != v.as_map().end()) {
    KeyAttr k;
    if (!read_key_attr(r->second, k)) return false;
    out.range = k;
  }
  return true;
}

}  // namespace

Item desc_to_item(const TableDesc& d) {
  std::vector<Value> defs, idx;
  for (const auto& a : d.attribute_definitions) defs.push_back(key_attr(a));
  for (const auto& x : d.indexes) idx.push_back(index(x));
  Item tags;
  for (const auto& [k, v] : d.tags) tags[k] = Value::s(v);
  return Item{{"name", Value::s(d.name)},
              {"id", num(d.id)},
              {"key", key_schema(d.key)},
              {"attribute_definitions", Value::list(std::move(defs))},
              {"pay_per_request", Value::boolean(d.pay_per_request)},
              {"rcu", num(d.throughput.read)},
              {"wcu", num(d.throughput.write)},
              {"created_ms", num(d.created_ms)},
              {"active_at_ms", num(d.active_at_ms)},
              {"indexes", Value::list(std::move(idx))},
              {"ttl_attribute", Value::s(d.ttl_attribute)},
              {"tags", Value::map(std::move(tags))},
              {"stream_enabled", Value::boolean(d.stream_enabled)},
              {"stream_view_type", Value::s(d.stream_view_type)},
              {"next_index_id", num(d.next_index_id)}};
}

Result<TableDesc> item_to_desc(const Item& m) {
  TableDesc d;
  const Value* name = get(m, "name", Type::kS);
  if (name == nullptr) return bad("name");
  d.name = name->str();
  int64_t id = 0, v = 0;
  if (!read_int(m, "id", id) || id <= 0 || id > UINT32_MAX) return bad("id");
  d.id = static_cast<uint32_t>(id);
  const Value* key = get(m, "key", Type::kM);
  if (key == nullptr || !read_key_schema(*key, d.key)) return bad("key");
  if (const Value* defs = get(m, "attribute_definitions", Type::kL)) {
    for (const Value& a : defs->as_list()) {
      KeyAttr k;
      if (!read_key_attr(a, k)) return bad("attribute_definitions");
      d.attribute_definitions.push_back(k);
    }
  }
  if (const Value* p = get(m, "pay_per_request", Type::kBool)) d.pay_per_request = p->as_bool();
  if (read_int(m, "rcu", v)) d.throughput.read = v;
  if (read_int(m, "wcu", v)) d.throughput.write = v;
  if (read_int(m, "created_ms", v)) d.created_ms = v;
  if (read_int(m, "active_at_ms", v)) d.active_at_ms = v;
  if (const Value* idx = get(m, "indexes", Type::kL)) {
    for (const Value& xv : idx->as_list()) {
      if (!xv.is(Type::kM)) return bad("index");
      const Item& xm = xv.as_map();
      IndexDesc x;
      const Value* n = get(xm, "name", Type::kS);
      const Value* k = get(xm, "key", Type::kM);
      const Value* p = get(xm, "projection", Type::kS);
      if (n == nullptr || k == nullptr || p == nullptr || !read_key_schema(*k, x.key)) {
        return bad("index");
      }
      x.name = n->str();
      if (const Value* g = get(xm, "global", Type::kBool)) x.global = g->as_bool();
      if (!read_int(xm, "id", v) || v <= 0 || v > 255) return bad("index id");
      x.id = static_cast<uint8_t>(v);
      x.projection.type = p->str() == "KEYS_ONLY" ? ProjectionType::kKeysOnly
                          : p->str() == "INCLUDE" ? ProjectionType::kInclude
                                                  : ProjectionType::kAll;
      if (const Value* nk = get(xm, "non_key", Type::kL)) {
        for (const Value& a : nk->as_list()) {
          if (a.is(Type::kS)) x.projection.non_key_attributes.push_back(a.str());
        }
      }
      if (read_int(xm, "rcu", v)) x.throughput.read = v;
      if (read_int(xm, "wcu", v)) x.throughput.write = v;
      d.indexes.push_back(std::move(x));
    }
  }
  if (const Value* t = get(m, "ttl_attribute", Type::kS)) d.ttl_attribute = t->str();
  if (const Value* t = get(m, "tags", Type::kM)) {
    for (const auto& [k, tv] : t->as_map()) {
      if (tv.is(Type::kS)) d.tags[k] = tv.str();
    }
  }
  if (const Value* s = get(m, "stream_enabled", Type::kBool)) d.stream_enabled = s->as_bool();
  if (const Value* s = get(m, "stream_view_type", Type::kS)) d.stream_view_type = s->str();
  if (read_int(m, "next_index_id", v) && v > 0 && v <= 255) {
    d.next_index_id = static_cast<uint8_t>(v);
  }
  return d;
}

}  // namespace freshet::table

#include "freshet/table/inspect.h"

#include <rocksdb/db.h>

#include <cstring>
#include <map>
#include <memory>

#include "catalog.h"
#include "stats_merge.h"
#include "freshet/table/codec.h"

namespace freshet::table {

Result<InspectReport> inspect_tables(const std::string& dir, bool dump,
                                     const std::function<void(std::string_view)>& out) {
  rocksdb::Options o;
  o.merge_operator = std::make_shared<StatsAdd>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(o, dir, &raw);
  if (!s.ok()) return Error(ErrorCode::kIoError, s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  InspectReport r;
  std::map<uint32_t, TableDesc> tables;
  std::map<uint32_t, int64_t> counted;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  auto key_hex = [](rocksdb::Slice k) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string h;
    for (size_t i = 0; i < k.size() && i < 64; ++i) {
      h.push_back(kHex[(static_cast<uint8_t>(k[i]) >> 4) & 15]);
      h.push_back(kHex[static_cast<uint8_t>(k[i]) & 15]);
    }
    return h;
  };
  const std::string cp(1, kCatalogPrefix);
  for (it->Seek(cp); it->Valid() && it->key().starts_with(cp); it->Next()) {
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    auto desc = item.ok() ? item_to_desc(*item) : Result<TableDesc>(item.error());
    if (!desc.ok()) {
      r.problems.push_back("catalog entry " + it->key().ToString() + ": " +
                           desc.error().message());
      continue;
    }
    ++r.tables;
    if (dump) {
      std::string line = "table " + desc->name + " id=" + std::to_string(desc->id) +
                         " hash=" + desc->key.hash.name + ":" +
                         std::string(type_name(desc->key.hash.type));
      if (desc->key.range) {
        line += " range=" + desc->key.range->name + ":" +
                std::string(type_name(desc->key.range->type));
      }
      line += " indexes=" + std::to_string(desc->indexes.size());
      if (!desc->ttl_attribute.empty()) line += " ttl=" + desc->ttl_attribute;
      out(line);
    }
    tables[desc->id] = std::move(*desc);
  }
  const std::string dp(1, kItemPrefix);
  for (it->Seek(dp); it->Valid() && it->key().starts_with(dp); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() < 7) {
      r.problems.push_back("short item key " + key_hex(k));
      continue;
    }
    const uint32_t id = read_u32_be(k.data() + 1);
    auto t = tables.find(id);
    if (t == tables.end()) {
      r.problems.push_back("item of unknown table id " + std::to_string(id));
      continue;
    }
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    if (!item.ok()) {
      r.problems.push_back("item " + key_hex(k) + ": " + item.error().message());
      continue;
    }
    ++r.items;
    ++counted[id];
    const TableDesc& d = t->second;
    // Recompute the key from the item's own attributes.
    auto h = item->find(d.key.hash.name);
    bool ok = h != item->end() && h->second.type() == d.key.hash.type;
    std::string expect;
    if (ok) {
      std::string pk;
      encode_key_component(h->second, pk);
      expect.push_back(kItemPrefix);
      append_u32_be(d.id, expect);
      append_u16_be(key_bucket(pk), expect);
      expect += pk;
      if (d.key.range) {
        auto rg = item->find(d.key.range->name);
        ok = rg != item->end() && rg->second.type() == d.key.range->type;
        if (ok) encode_key_component(rg->second, expect);
      }
    }
    if (!ok || expect != k.ToString()) {
      r.problems.push_back("item " + key_hex(k) + " of table " + d.name +
                           ": key does not match the item's key attributes");
    }
    if (dump) out(d.name + " " + to_debug_string(*item));
  }
  if (!it->status().ok()) return Error(ErrorCode::kIoError, it->status().ToString());
  const std::string ip(1, kIndexPrefix);
  for (it->Seek(ip); it->Valid() && it->key().starts_with(ip); it->Next()) {
    rocksdb::Slice k = it->key();
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    if (k.size() < 8 || !item.ok()) {
      r.problems.push_back("index entry " + key_hex(k) + ": " +
                           (item.ok() ? std::string("short key") : item.error().message()));
      continue;
    }
    ++r.index_entries;
    const uint32_t id = read_u32_be(k.data() + 1);
    if (!tables.count(id)) r.problems.push_back("index entry of unknown table id " + std::to_string(id));
  }
  // The stored statistics are exact only after a clean close; otherwise the next open
  // recounts them from the items, and there is nothing to compare.
  std::string marker;
  s = db->Get(rocksdb::ReadOptions(), kStatsCleanKey, &marker);
  if (!s.ok() && !s.IsNotFound()) return Error(ErrorCode::kIoError, s.ToString());
  const bool clean = s.ok();
  const std::string sp(1, kStatsPrefix);
  for (it->Seek(sp); clean && it->Valid() && it->key().starts_with(sp); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 5 || it->value().size() != 16) continue;  // index statistics: not checked
    const uint32_t id = read_u32_be(k.data() + 1);
    int64_t v[2];
    std::memcpy(v, it->value().data(), 16);
    auto t = tables.find(id);
    if (t != tables.end() && v[0] != counted[id]) {
      r.problems.push_back("table " + t->second.name + ": statistics say " + std::to_string(v[0]) +
                           " items, found " + std::to_string(counted[id]));
    }
  }
  if (!it->status().ok()) return Error(ErrorCode::kIoError, it->status().ToString());
  return r;
}

}  // namespace freshet::table

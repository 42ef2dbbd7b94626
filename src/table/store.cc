#include "freshet/table/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <set>

#include "catalog.h"
#include "stats_merge.h"
#include "freshet/common/crc32c.h"
#include "freshet/common/thread_name.h"
#include "freshet/table/codec.h"
#include "freshet/table/number.h"

namespace freshet::table {

std::string_view projection_type_name(ProjectionType p) {
  switch (p) {
    case ProjectionType::kAll: return "ALL";
    case ProjectionType::kKeysOnly: return "KEYS_ONLY";
    case ProjectionType::kInclude: return "INCLUDE";
  }
  return "ALL";
}

const IndexDesc* TableDesc::find_index(std::string_view n) const {
  for (const auto& i : indexes) {
    if (i.name == n) return &i;
  }
  return nullptr;
}

namespace {

constexpr size_t kStripes = 4096;

Error io_error(const rocksdb::Status& s) { return Error(ErrorCode::kIoError, s.ToString()); }
Error validation(std::string m) { return Error(ErrorCode::kInvalidArgument, std::move(m)); }
Error table_gone() { return Error(ErrorCode::kNotFound, "Requested resource not found"); }

std::string stats_delta(int64_t items, int64_t bytes) {
  int64_t v[2] = {items, bytes};
  return std::string(reinterpret_cast<const char*>(v), 16);
}

std::string successor(std::string s) {
  while (!s.empty() && static_cast<uint8_t>(s.back()) == 0xFF) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
  return s;
}

std::string type_letter(Type t) { return std::string(type_name(t)); }

// Escaped bytes of an S/B prefix without the terminator (begins_with bounds).
std::string escaped_prefix(const std::string& s) {
  std::string out;
  for (char c : s) {
    out.push_back(c);
    if (c == '\0') out.push_back(static_cast<char>(0xFF));
  }
  return out;
}

Status check_key_value(const KeyAttr& k, const Value& v, bool is_hash) {
  if (v.type() != k.type) {
    return validation("One or more parameter values were invalid: Type mismatch for key " +
                      k.name + " expected: " + type_letter(k.type) +
                      " actual: " + type_letter(v.type()));
  }
  if (k.type == Type::kS && v.str().empty()) {
    return validation(
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: " +
        k.name);
  }
  if (k.type == Type::kB && v.str().empty()) {
    return validation(
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty binary value. Key: " +
        k.name);
  }
  if (k.type != Type::kN) {
    if (is_hash && v.str().size() > kMaxHashKeyBytes) {
      return validation(
          "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
          "size limit of2048 bytes");
    }
    if (!is_hash && v.str().size() > kMaxRangeKeyBytes) {
      return validation(
          "One or more parameter values were invalid: Aggregated size of all range keys has "
          "exceeded the size limit of 1024 bytes");
    }
  }
  return Status();
}

}  // namespace

struct TableStore::TableState {
  mutable std::mutex desc_mu;
  std::shared_ptr<const TableDesc> desc;  // GUARDED_BY(desc_mu)
  std::shared_mutex drop_mu;
  std::atomic<bool> dropped{false};
  std::atomic<int64_t> items{0}, bytes{0};
  // Index entry counts and sizes, by index id (ids are a u8, never reused). A fixed array, not
  // a map: add_global_index sets an entry while other threads read others (DescribeTable,
  // writes of other items), and nothing is ever inserted into or moved in the array.
  struct IndexStats {
    std::atomic<int64_t> items{0}, bytes{0};
  };
  std::array<IndexStats, 256> index_stats;

  std::shared_ptr<const TableDesc> snapshot() const {
    std::lock_guard<std::mutex> l(desc_mu);
    return desc;
  }
};

// RocksDB counts every key comparison (and more) in a thread-local perf context unless the
// thread's perf level says not to; the default level counts. In the shared library each
// count is a call through the perf context's TLS wrapper: turning them off saves 9 % of a
// put_item's instructions and 15 % of a get_item's (callgrind, bench/table_fill). The store
// reads no perf counters, so every store entry point that calls into RocksDB turns them off
// for its thread first (one thread-local store; the level stays with the thread).
namespace {
void no_perf_counters() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

// The prefixes of the memtable's insert hints (Options::memtable_insert_with_hint_prefix_
// extractor): the skiplist remembers where the last key of each prefix went and starts the
// next insert of that prefix from there, walking up only as far as it must (without a hint a
// non-adjacent insert searches from the top). A prefix is an item's or index entry's table
// (and index) and the high byte of its key bucket: at most 256 hints per table and per index
// (a hint takes about 250 bytes of the memtable). Batches are written in key order (Writes),
// so each key of a batch lands near the one before it in its prefix. Memtable-only: nothing
// of it is stored. Writers that RocksDB groups for a concurrent insert use one hint per batch
// instead (WriteOptions::memtable_insert_hint_per_batch).
class InsertHintPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "freshet.InsertHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key[0] == kIndexPrefix ? 7 : 6);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.empty()) return false;
    if (key[0] == kItemPrefix) return key.size() >= 6;
    if (key[0] == kIndexPrefix) return key.size() >= 7;
    return false;
  }
};

// Whether the database in dir uses dynamic level sizes: yes for a new one; an existing one
// keeps what it was created with (RocksDB advises against turning them on or off for an
// existing database), which is no for every store created before they were turned on.
bool dynamic_levels(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) return true;
  rocksdb::ConfigOptions co;
  co.ignore_unknown_options = true;
  co.ignore_unsupported_options = true;
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  if (!rocksdb::LoadLatestOptions(co, dir, &db, &cfs).ok()) return false;
  for (const auto& cf : cfs) {
    if (cf.name == rocksdb::kDefaultColumnFamilyName) {
      return cf.options.level_compaction_dynamic_level_bytes;
    }
  }
  return false;
}
}  // namespace

struct TableStore::Impl {
  StoreOptions opt;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions wopt;
  mutable std::shared_mutex catalog_mu;
  std::map<std::string, std::shared_ptr<TableState>, std::less<>> tables;  // GUARDED_BY(catalog_mu)
  uint32_t next_table_id = 1;                                             // GUARDED_BY(catalog_mu)
  std::array<std::mutex, kStripes> stripes;
  // TTL thread.
  std::mutex ttl_mu;
  std::condition_variable ttl_cv;
  bool stopping = false;  // GUARDED_BY(ttl_mu)
  std::thread ttl_thread;
  // Statistics recount after an unclean open (recount_thread, started by open(), joined by the
  // destructor before it checkpoints the statistics). recount_mu guards recount_done.
  std::thread recount_thread;
  std::atomic<bool> recount_stop{false};
  std::atomic<bool> stats_exact{true};  // false while a recount is due or under way
  std::mutex recount_mu;
  std::condition_variable recount_cv;
  bool recount_done = false;  // GUARDED_BY(recount_mu)

  int64_t now() const {
    if (opt.now_ms) return opt.now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<std::shared_ptr<TableState>> find(std::string_view name) const {
    std::shared_lock<std::shared_mutex> l(catalog_mu);
    auto it = tables.find(name);
    if (it == tables.end()) return table_gone();
    return it->second;
  }

  // An ACTIVE (or UPDATING) table for item operations.
  Result<std::pair<std::shared_ptr<TableState>, std::shared_ptr<const TableDesc>>> active(
      std::string_view name) const {
    auto t = find(name);
    if (!t.ok()) return t.error();
    auto d = (*t)->snapshot();
    if (now() < d->active_at_ms) return table_gone();
    return std::make_pair(*t, d);
  }

  // ---- keys ----
  static std::string pk_bytes(const TableDesc& d, const Item& item) {
    std::string pk;
    encode_key_component(item.at(d.key.hash.name), pk);
    return pk;
  }

  static std::string item_key(const TableDesc& d, const Item& item) {
    const Value& h = item.at(d.key.hash.name);
    const Value* r = d.key.range ? &item.at(d.key.range->name) : nullptr;
    std::string k;
    k.reserve(16 + h.str().size() + (r != nullptr ? r->str().size() + 8 : 0));
    k.push_back(kItemPrefix);
    append_u32_be(d.id, k);
    append_bucketed(h, k);
    if (r != nullptr) encode_key_component(*r, k);
    return k;
  }

  // Appends the bucket of the partition key value pk and then pk's key component.
  static void append_bucketed(const Value& pk, std::string& k) {
    const size_t at = k.size();
    k.append(2, '\0');
    encode_key_component(pk, k);
    const uint16_t bucket = key_bucket(std::string_view(k).substr(at + 2));
    k[at] = static_cast<char>(bucket >> 8);
    k[at + 1] = static_cast<char>(bucket & 0xFF);
  }

  static std::string table_prefix(char p, uint32_t id) {
    std::string k(1, p);
    append_u32_be(id, k);
    return k;
  }

  static std::string index_prefix(uint32_t table_id, uint8_t index_id) {
    std::string k = table_prefix(kIndexPrefix, table_id);
    k.push_back(static_cast<char>(index_id));
    return k;
  }

  // The index entry's key, or nullopt when the item lacks an index key attribute (or has it
  // with another type): such items are not in the index.
  static std::optional<std::string> index_key(const TableDesc& d, const IndexDesc& x,
                                              const Item& item) {
    auto h = item.find(x.key.hash.name);
    if (h == item.end() || h->second.type() != x.key.hash.type) return std::nullopt;
    const Value* r = nullptr;
    if (x.key.range) {
      auto f = item.find(x.key.range->name);
      if (f == item.end() || f->second.type() != x.key.range->type) return std::nullopt;
      r = &f->second;
    }
    const Value& pk = item.at(d.key.hash.name);
    const Value* sk = d.key.range ? &item.at(d.key.range->name) : nullptr;
    std::string k;
    k.reserve(32 + h->second.str().size() + (r != nullptr ? r->str().size() : 0) +
              pk.str().size() + (sk != nullptr ? sk->str().size() : 0));
    k.push_back(kIndexPrefix);
    append_u32_be(d.id, k);
    k.push_back(static_cast<char>(x.id));
    append_bucketed(h->second, k);
    if (r != nullptr) encode_key_component(*r, k);
    encode_key_component(pk, k);
    if (sk != nullptr) encode_key_component(*sk, k);
    return k;
  }

  // The value of item's entry in index x: the item's projection, encoded. `encoded` is the
  // item's own encoding, the value when the index projects ALL.
  static std::string index_value(const TableDesc& d, const IndexDesc& x, const Item& item,
                                 const std::string& encoded) {
    if (x.projection.type == ProjectionType::kAll) return encoded;
    std::vector<std::string_view> names = {d.key.hash.name, x.key.hash.name};
    if (d.key.range) names.push_back(d.key.range->name);
    if (x.key.range) names.push_back(x.key.range->name);
    if (x.projection.type == ProjectionType::kInclude) {
      for (const auto& n : x.projection.non_key_attributes) names.push_back(n);
    }
    return encode_item_subset(item, std::move(names));
  }

  static Item index_projection(const TableDesc& d, const IndexDesc& x, const Item& item) {
    if (x.projection.type == ProjectionType::kAll) return item;
    Item out;
    auto copy = [&](const std::string& n) {
      auto f = item.find(n);
      if (f != item.end()) out[n] = f->second;
    };
    copy(d.key.hash.name);
    if (d.key.range) copy(d.key.range->name);
    copy(x.key.hash.name);
    if (x.key.range) copy(x.key.range->name);
    if (x.projection.type == ProjectionType::kInclude) {
      for (const auto& n : x.projection.non_key_attributes) copy(n);
    }
    return out;
  }

  size_t stripe_of(const TableDesc& d, std::string_view key) const {
    return (crc32c::extend(d.id, key.data(), key.size())) % kStripes;
  }

  Result<std::optional<Item>> read(const std::string& key,
                                   const rocksdb::Snapshot* snap = nullptr) const {
    std::string v;
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    rocksdb::Status s = db->Get(ro, key, &v);
    if (s.IsNotFound()) return std::optional<Item>();
    if (!s.ok()) return io_error(s);
    auto item = decode_item(v);
    if (!item.ok()) return item.error();
    return std::optional<Item>(std::move(*item));
  }

  // Adds to batch the changes of replacing old by next (either may be null), and updates
  // the in-memory statistics deltas (returned, applied after the write succeeds).
  struct Deltas {
    int64_t items = 0, bytes = 0;
    std::vector<std::tuple<uint8_t, int64_t, int64_t>> index;
    std::string collection_key;  // tables with an LSI: the item collection's size key
    int64_t collection = 0;      // and how much the write grows it
  };

  // ---- item collections (tables with a local secondary index) ----
  static bool has_lsi(const TableDesc& d) {
    for (const IndexDesc& x : d.indexes) {
      if (!x.global) return true;
    }
    return false;
  }
  // An item's share of its collection: its size plus its LSI entries' projected sizes.
  static int64_t collection_bytes(const TableDesc& d, const Item& item) {
    int64_t n = static_cast<int64_t>(item_size(item));
    for (const IndexDesc& x : d.indexes) {
      if (!x.global && index_key(d, x, item)) {
        n += static_cast<int64_t>(item_size(index_projection(d, x, item)));
      }
    }
    return n;
  }
  static std::string collection_key(const TableDesc& d, const Item& item) {
    std::string k = table_prefix(kCollectionPrefix, d.id);
    k += pk_bytes(d, item);
    return k;
  }
  // kItemCollectionTooLarge when a write's growth would take its collection past the limit.
  // The size read is the one before this write; concurrent writes to one collection (other
  // sort keys, other stripes) may each pass the check and overshoot by their own sizes.
  Status check_collections(const std::vector<const Deltas*>& ds) const {
    std::map<std::string, int64_t> grow;
    for (const Deltas* d : ds) {
      if (!d->collection_key.empty()) grow[d->collection_key] += d->collection;
    }
    for (const auto& [key, g] : grow) {
      if (g <= 0) continue;
      std::string v;
      rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &v);
      if (!s.ok() && !s.IsNotFound()) return io_error(s);
      int64_t a[2] = {0, 0};
      if (s.ok() && v.size() == 16) std::memcpy(a, v.data(), 16);
      if (a[1] + g > opt.item_collection_limit_bytes) {
        return Error(ErrorCode::kLimitExceeded, kItemCollectionTooLarge);
      }
    }
    return Status();
  }

  // ---- in-flight transactions (TransactionConflict) ----
  std::mutex txn_mu;
  std::set<std::string> txn_keys;       // GUARDED_BY(txn_mu)
  std::atomic<int> txn_inflight{0};     // transactions holding keys (0: skip the lookup)
  Status check_not_held(const std::string& key) {
    if (txn_inflight.load(std::memory_order_acquire) == 0) return Status();
    std::lock_guard<std::mutex> l(txn_mu);
    if (txn_keys.count(key)) return Error(ErrorCode::kUnavailable, kTransactionOngoing);
    return Status();
  }
  // The RocksDB writes of an item write, a batch or a transaction, collected by stage() and
  // handed to RocksDB in key order (into_batch): the memtable skiplist then inserts each key
  // from where the one before it went (its splice; WriteOptions::memtable_insert_hint_per_batch
  // for concurrent writers) instead of searching from the top. An item and its index entries
  // lie in different key ranges, so the staging order is far from key order.
  struct Writes {
    enum class Op : uint8_t { kPut, kDelete, kMerge };
    struct W {
      std::string key;
      std::string value;
      Op op;
    };
    std::vector<W> w;
    size_t bytes = 0;

    void put(std::string k, std::string v) { add(std::move(k), std::move(v), Op::kPut); }
    void del(std::string k) { add(std::move(k), std::string(), Op::kDelete); }
    void merge(std::string k, std::string v) { add(std::move(k), std::move(v), Op::kMerge); }
    bool empty() const { return w.empty(); }

    // Writes of one key keep their staged order (merges of an item collection's size).
    void into_batch(rocksdb::WriteBatch& b) const {
      std::vector<uint32_t> order(w.size());
      for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [this](uint32_t a, uint32_t c) { return w[a].key < w[c].key; });
      for (uint32_t i : order) {
        const W& x = w[i];
        switch (x.op) {
          case Op::kPut: b.Put(x.key, x.value); break;
          case Op::kDelete: b.Delete(x.key); break;
          case Op::kMerge: b.Merge(x.key, x.value); break;
        }
      }
    }
    // A WriteBatch with room for all of them (no regrowth while it is filled).
    rocksdb::WriteBatch batch() const {
      // Per record: a type byte, two varint32 lengths (at most 5 bytes each).
      rocksdb::WriteBatch b(12 + bytes + 11 * w.size());
      into_batch(b);
      return b;
    }

   private:
    void add(std::string k, std::string v, Op op) {
      bytes += k.size() + v.size();
      w.push_back({std::move(k), std::move(v), op});
    }
  };

  static void stage(const TableDesc& d, const std::string& key, const std::optional<Item>& old,
                    const Item* next, Writes& b, Deltas& deltas) {
    int64_t old_size = old ? static_cast<int64_t>(item_size(*old)) : 0;
    int64_t new_size = next ? static_cast<int64_t>(item_size(*next)) : 0;
    // The item's encoding, also the value of its entries in indexes projecting ALL.
    std::string encoded;
    if (next) {
      encoded = encode_item(*next);
      b.put(key, encoded);
    } else {
      b.del(key);
    }
    int64_t di = (next ? 1 : 0) - (old ? 1 : 0);
    int64_t db_ = new_size - old_size;
    if ((next || old) && has_lsi(d)) {
      const int64_t dc = (next ? collection_bytes(d, *next) : 0) - (old ? collection_bytes(d, *old) : 0);
      if (di != 0 || dc != 0) {
        deltas.collection_key = collection_key(d, next ? *next : *old);
        deltas.collection += dc;
        b.merge(deltas.collection_key, stats_delta(di, dc));
      }
    }
    // Table and index statistics are kept in memory only (TableState); they are written at a
    // clean close and recounted from the items after an unclean one (see open()).
    deltas.items += di;
    deltas.bytes += db_;
    for (const IndexDesc& x : d.indexes) {
      std::optional<std::string> ok = old ? index_key(d, x, *old) : std::nullopt;
      std::optional<std::string> nk = next ? index_key(d, x, *next) : std::nullopt;
      int64_t ii = 0, ib = 0;
      if (ok && (!nk || *ok != *nk)) {
        b.del(*ok);
        ii -= 1;
        ib -= old_size;
      }
      if (nk) {
        if (!ok || *ok != *nk) ii += 1;
        ib += new_size;
        if (ok && *ok == *nk) ib -= old_size;
        b.put(std::move(*nk), index_value(d, x, *next, encoded));
      }
      if (ii != 0 || ib != 0) deltas.index.emplace_back(x.id, ii, ib);
    }
  }

  static void apply_deltas(TableState& t, const Deltas& d) {
    t.items += d.items;
    t.bytes += d.bytes;
    for (const auto& [id, i, b] : d.index) {
      t.index_stats[id].items += i;
      t.index_stats[id].bytes += b;
    }
  }

  // Catalog changes and backfills: synced before they return.
  Status write(rocksdb::WriteBatch& b) {
    rocksdb::Status s = db->Write(wopt, &b);
    if (!s.ok()) return io_error(s);
    return Status();
  }

  // Item writes: into the WAL and memtable without a sync; the caller then waits for the
  // syncer (after_write), which fsyncs the WAL once for every write that came before.
  Status write_nowait(rocksdb::WriteBatch& b) {
    FRESHET_RETURN_IF_ERROR(syncer_status());
    rocksdb::WriteOptions w;
    w.sync = false;
    w.memtable_insert_hint_per_batch = true;  // batches are in key order (Writes)
    rocksdb::Status s = db->Write(w, &b);
    if (!s.ok()) return io_error(s);
    return Status();
  }

  // ---- WAL group sync ----
  // REQUIRES: the write this waits for has returned from db->Write. done runs on the syncer
  // thread (or inline when sync is off or the store is closing).
  void after_write(std::function<void(Status)> done) {
    if (!opt.sync) return done(Status());
    {
      std::lock_guard<std::mutex> l(sync_mu);
      if (!sync_stopping) {
        sync_pending.push_back(std::move(done));
        sync_cv.notify_one();
        return;
      }
    }
    // Closing: sync here so the answer is still a durable one.
    rocksdb::Status s = sync_wal();
    done(s.ok() ? Status() : Status(io_error(s)));
  }

  // Makes every write that returned from db->Write durable. With sync on, the WAL is written
  // by hand (Options::manual_wal_flush): a write leaves its WAL record in RocksDB's buffer
  // instead of making a write(2) of its own, and each round writes the buffer out once and
  // fsyncs (FlushWAL(true): WriteBuffer under the WAL mutex, then SyncWAL).
  rocksdb::Status sync_wal() { return db->FlushWAL(/*sync=*/true); }

  Status syncer_status() {
    std::lock_guard<std::mutex> l(sync_mu);
    return sync_failed;
  }

  void sync_loop() {
    no_perf_counters();
    std::unique_lock<std::mutex> l(sync_mu);
    while (true) {
      sync_cv.wait(l, [&] { return sync_stopping || !sync_pending.empty(); });
      if (sync_pending.empty() && sync_stopping) break;
      std::vector<std::function<void(Status)>> round;
      round.swap(sync_pending);
      Status st = sync_failed;
      l.unlock();
      if (opt.before_wal_sync) opt.before_wal_sync();
      if (st.ok()) {
        rocksdb::Status s = sync_wal();
        if (!s.ok()) st = io_error(s);
      }
      l.lock();
      // A failed fsync leaves the WAL's durability unknown: every later write fails too
      // (sticky), as the shard log's group committer does. Counted before the answers go out,
      // so a caller that saw its write answered sees the round that made it durable.
      if (!st.ok()) sync_failed = st;
      ++sync_rounds;
      l.unlock();
      for (auto& d : round) d(st);
      l.lock();
    }
  }

  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::vector<std::function<void(Status)>> sync_pending;  // GUARDED_BY(sync_mu)
  bool sync_stopping = false;                            // GUARDED_BY(sync_mu)
  Status sync_failed;                                    // GUARDED_BY(sync_mu)
  uint64_t sync_rounds = 0;                              // GUARDED_BY(sync_mu)
  std::thread sync_thread;

  // ---- one item's read-modify-write (put, delete, update) ----
  // Finds the table, runs check(desc) (key validation), locks the item's stripe, reads the
  // item, evaluates the condition, and writes next(desc, old) without a sync: an item to put,
  // or nullopt to delete (nothing is written when there is nothing to delete). key_attrs
  // holds the key attributes; it is read before next runs (which may move from it).
  template <typename Check, typename Next>
  Result<WriteOutcome> write_one(std::string_view table, const Item& key_attrs,
                                 const Condition* condition, Check check, Next next) {
    no_perf_counters();
    auto a = active(table);
    if (!a.ok()) return a.error();
    const std::shared_ptr<TableState>& st = a->first;
    // Index changes (add_global_index, delete_global_index) swap the descriptor while they
    // hold drop_mu exclusively, so the descriptor read under the shared lock is the one this
    // write must maintain: one read before it misses an index whose backfill ran in between.
    std::shared_lock<std::shared_mutex> drop(st->drop_mu);
    if (st->dropped) return table_gone();
    const std::shared_ptr<const TableDesc> d = st->snapshot();
    FRESHET_RETURN_IF_ERROR(check(*d));
    const std::string key = item_key(*d, key_attrs);
    FRESHET_RETURN_IF_ERROR(check_not_held(key));
    std::lock_guard<std::mutex> lock(stripes[stripe_of(*d, key)]);
    auto old = read(key);
    if (!old.ok()) return old.error();
    WriteOutcome out;
    out.old_item = std::move(*old);
    out.old_size = out.old_item ? item_size(*out.old_item) : 0;
    if (condition != nullptr && !evaluate(*condition, out.old_item ? *out.old_item : Item())) {
      out.condition_failed = true;
      return out;
    }
    Result<std::optional<Item>> n = next(*d, out.old_item);
    if (!n.ok()) return n.error();
    if (!*n && !out.old_item) return out;  // nothing to delete; nothing to sync
    Writes w;
    Deltas deltas;
    stage(*d, key, out.old_item, *n ? &**n : nullptr, w, deltas);
    FRESHET_RETURN_IF_ERROR(check_collections({&deltas}));
    rocksdb::WriteBatch b = w.batch();
    FRESHET_RETURN_IF_ERROR(write_nowait(b));
    apply_deltas(*st, deltas);
    out.wrote = true;
    if (*n) {
      out.new_size = item_size(**n);
      out.new_item = std::move(**n);
    }
    return out;
  }

  // ---- statistics (ItemCount, TableSizeBytes, index sizes) ----
  // Kept in memory (TableState) and updated by every write after it reaches the WAL. They
  // reach the database only at a clean close, together with the clean-close marker; open()
  // loads them and deletes the marker (synced) before the first write, or, without the marker
  // (a crash, a power loss, a store of an older version), recounts them from the items.
  static std::string stats_key(uint32_t table_id, std::optional<uint8_t> index_id) {
    std::string k = table_prefix(kStatsPrefix, table_id);
    if (index_id) k.push_back(static_cast<char>(*index_id));
    return k;
  }

  // Writes every table's statistics and the marker, synced. REQUIRES: no write in flight
  // and every acknowledged write durable (the destructor, after the WAL syncer stopped).
  Status checkpoint_stats() {
    // Approximate statistics (a recount that did not finish) are written, as a better start
    // for the next open's recount than older ones, but without the marker.
    const bool exact = stats_exact.load();
    rocksdb::WriteBatch b;
    std::shared_lock<std::shared_mutex> l(catalog_mu);
    for (const auto& [name, st] : tables) {
      auto d = st->snapshot();
      b.Put(stats_key(d->id, std::nullopt), stats_delta(st->items.load(), st->bytes.load()));
      for (const IndexDesc& x : d->indexes) {
        const TableState::IndexStats& f = st->index_stats[x.id];
        b.Put(stats_key(d->id, x.id), stats_delta(f.items.load(), f.bytes.load()));
      }
    }
    if (exact) b.Put(kStatsCleanKey, std::string());
    rocksdb::WriteOptions w;
    w.sync = true;
    rocksdb::Status s = db->Write(w, &b);
    if (!s.ok()) return io_error(s);
    return Status();
  }

  // Reads the statistics that the last clean close wrote.
  Status load_stats(TableState& st) {
    auto read_stats = [&](const std::string& key, int64_t& items, int64_t& bytes) -> Status {
      std::string v;
      rocksdb::Status g = db->Get(rocksdb::ReadOptions(), key, &v);
      if (g.IsNotFound()) return Status();
      if (!g.ok()) return io_error(g);
      if (v.size() == 16) {
        int64_t a[2];
        std::memcpy(a, v.data(), 16);
        items = a[0];
        bytes = a[1];
      }
      return Status();
    };
    int64_t i = 0, b = 0;
    FRESHET_RETURN_IF_ERROR(read_stats(stats_key(st.desc->id, std::nullopt), i, b));
    st.items = i;
    st.bytes = b;
    for (const IndexDesc& x : st.desc->indexes) {
      int64_t ii = 0, ib = 0;
      FRESHET_RETURN_IF_ERROR(read_stats(stats_key(st.desc->id, x.id), ii, ib));
      st.index_stats[x.id].items = ii;
      st.index_stats[x.id].bytes = ib;
    }
    return Status();
  }

  // A table's item and index-entry counts and sizes, as stage() adds them up.
  struct Counts {
    int64_t items = 0, bytes = 0;
    std::map<uint8_t, std::pair<int64_t, int64_t>> index;  // id -> (entries, bytes)
  };

  static Counts counts_of(const TableState& st, const TableDesc& d) {
    Counts c{st.items.load(), st.bytes.load(), {}};
    for (const IndexDesc& x : d.indexes) {
      c.index[x.id] = {st.index_stats[x.id].items.load(), st.index_stats[x.id].bytes.load()};
    }
    return c;
  }

  // Counts a table's items and index entries from its items as `snap` sees them: after an
  // unclean shutdown, one read of the table. kClosed when the store closes meanwhile.
  Result<Counts> count_items(const TableDesc& d, const rocksdb::Snapshot* snap) {
    Counts c;
    for (const IndexDesc& x : d.indexes) c.index[x.id] = {0, 0};
    const std::string lo = table_prefix(kItemPrefix, d.id);
    const std::string hi = successor(lo);
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;
    ro.snapshot = snap;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(lo); it->Valid(); it->Next()) {
      if ((c.items & 4095) == 0 && recount_stop.load(std::memory_order_relaxed)) {
        return Error(ErrorCode::kClosed, "table store closed during the statistics recount");
      }
      auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
      if (!item.ok()) return item.error();
      const int64_t sz = static_cast<int64_t>(item_size(*item));
      ++c.items;
      c.bytes += sz;
      for (const IndexDesc& x : d.indexes) {
        if (index_key(d, x, *item)) {
          c.index[x.id].first += 1;
          c.index[x.id].second += sz;
        }
      }
    }
    if (!it->status().ok()) return io_error(it->status());
    return c;
  }

  // The recount thread's work after an unclean open. Each table's statistics started from
  // `base` (what the last clean close stored) and have since moved by every write; the
  // snapshot was taken before the first write, so adding (exact - base) makes them exact
  // without stopping writers. Tables and indexes created or dropped meanwhile are not in
  // `tables` or are harmlessly corrected (index ids are never reused).
  struct RecountBase {
    std::shared_ptr<TableState> st;
    std::shared_ptr<const TableDesc> desc;  // as of the snapshot
    Counts base;
  };
  void recount(std::vector<RecountBase> tables, const rocksdb::Snapshot* snap) {
    name_this_thread("table-recount");
    no_perf_counters();
    if (opt.before_recount) opt.before_recount();
    const auto t0 = std::chrono::steady_clock::now();
    Status result;
    for (auto& [st, desc, base] : tables) {
      auto exact = count_items(*desc, snap);
      if (!exact.ok()) {
        result = exact.error();  // the statistics stay approximate; the next open recounts
        break;
      }
      st->items += exact->items - base.items;
      st->bytes += exact->bytes - base.bytes;
      for (const auto& [id, v] : exact->index) {
        st->index_stats[id].items += v.first - base.index[id].first;
        st->index_stats[id].bytes += v.second - base.index[id].second;
      }
    }
    db->ReleaseSnapshot(snap);
    {
      std::lock_guard<std::mutex> l(recount_mu);
      stats_exact = result.ok();
      recount_done = true;
    }
    recount_cv.notify_all();
    if (opt.on_recount_done) {
      opt.on_recount_done(
          result, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }

  Status persist_desc(const TableDesc& d, rocksdb::WriteBatch& b) {
    b.Put(std::string(1, kCatalogPrefix) + d.name, encode_item(desc_to_item(d)));
    return Status();
  }

  void ttl_loop();
};

TableStore::TableStore(StoreOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->wopt.sync = impl_->opt.sync;
}

TableStore::~TableStore() {
  {
    std::lock_guard<std::mutex> l(impl_->ttl_mu);
    impl_->stopping = true;
  }
  impl_->ttl_cv.notify_all();
  if (impl_->ttl_thread.joinable()) impl_->ttl_thread.join();
  {
    std::lock_guard<std::mutex> l(impl_->sync_mu);
    impl_->sync_stopping = true;
  }
  impl_->sync_cv.notify_all();
  if (impl_->sync_thread.joinable()) impl_->sync_thread.join();
  impl_->recount_stop = true;
  if (impl_->recount_thread.joinable()) impl_->recount_thread.join();
  if (impl_->db && impl_->opt.close_uncleanly) {
    rocksdb::Status s = impl_->db->Close();
    (void)s;
  } else if (impl_->db) {
    // The statistics and the clean-close marker; not after a failed WAL sync (the in-memory
    // statistics may count writes that were never acknowledged): the next open recounts.
    if (impl_->syncer_status().ok()) {
      Status c = impl_->checkpoint_stats();
      (void)c;  // without the marker the next open recounts
    }
    // A clean close flushes the memtables, so the next open replays no WAL (start-up time).
    rocksdb::Status f = impl_->db->Flush(rocksdb::FlushOptions());
    (void)f;  // the WAL still holds everything if the flush fails
    rocksdb::Status s = impl_->db->Close();
    (void)s;  // every acknowledged write is already synced; nothing to report here
  }
}

Result<std::unique_ptr<TableStore>> TableStore::open(StoreOptions options) {
  std::unique_ptr<TableStore> store(new TableStore(std::move(options)));
  Impl& m = *store->impl_;
  no_perf_counters();
  rocksdb::Options o;
  o.create_if_missing = true;
  o.merge_operator = std::make_shared<StatsAdd>();
  // No max_successive_merges: collapsing merge operands at write time (a Get inside the
  // write) miscounted the statistics of batches with many operands on one key (1,038,000
  // items counted for 1,000,000 written); operands are folded on read and compaction.
  o.max_successive_merges = 0;
  o.IncreaseParallelism(2);
  // Compaction CPU per byte written (bench/table_fill --tweets, 1,000,000 tweet items with
  // two GSIs: 5.3 s of compaction threads with 32 MiB memtables and static level sizes).
  // Keys land all over the key space (the bucket is a hash), so every compaction out of L0
  // rewrites the whole of the level below it: memtables of 64 MiB make half as many of them
  // for the same data, and dynamic level sizes (L0 compacts into the level that keeps the
  // levels a factor 10 apart, the last one holding most of the data) keep the level below
  // small. Together: 1.9 s.
  o.write_buffer_size = 64 << 20;
  o.max_write_buffer_number = 3;
  o.level_compaction_dynamic_level_bytes = dynamic_levels(m.opt.dir);
  o.allow_concurrent_memtable_write = true;
  // A bloom filter over the memtable's whole keys: the read before a write of a fresh key
  // (the common put) answers "not there" without a skiplist search.
  o.memtable_prefix_bloom_size_ratio = 0.05;
  o.memtable_whole_key_filtering = true;
  o.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHintPrefix>();
  o.enable_write_thread_adaptive_yield = true;
  // Durable stores write the WAL buffer out once per sync round (sync_wal), not once per
  // write. Without sync (durability "os") every write still reaches the page cache at once.
  o.manual_wal_flush = m.opt.sync;
  // The library's default log level here is DEBUG, and FlushWAL logs a "FlushWAL sync=true"
  // line at DEBUG on every call: a vsnprintf and a write(2) to LOG per sync round, on the
  // WAL sync thread between the fsync and the answers (4 % of a PutItem's instructions).
  o.info_log_level = rocksdb::InfoLogLevel::INFO_LEVEL;
  o.max_open_files = 256;
  // No compression where the recent items live (memtable flushes to L0, and L1, which with
  // dynamic level sizes is the level L0 compacts into, whatever its number): a read or
  // write of a recent item that misses the block cache pays no Snappy decompression (16 % of
  // a get_item's instructions with 300,000 items), and flushes compress nothing. Older levels
  // keep the default Snappy.
  o.compression_per_level.assign(o.num_levels, rocksdb::kSnappyCompression);
  o.compression_per_level[0] = o.compression_per_level[1] = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions bt;
  bt.block_cache = rocksdb::NewLRUCache(m.opt.block_cache_bytes);
  bt.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  bt.cache_index_and_filter_blocks = true;
  bt.pin_l0_filter_and_index_blocks_in_cache = true;
  // Index and filter in partitions of metadata_block_size, with only their top levels pinned:
  // a whole-file filter of a large SST (megabytes at 10 M items) is bigger than a shard of the
  // block cache, so it was evicted as soon as it was read and read again by the next lookup
  // (a fill of 10 M items spent most of its time re-reading filter blocks). Partitions are
  // cached like data blocks; memory stays within the cache at any table size.
  bt.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  bt.partition_filters = true;
  bt.pin_top_level_index_and_filter = true;
  bt.cache_index_and_filter_blocks_with_high_priority = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bt));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, m.opt.dir, &raw);
  if (!s.ok()) return io_error(s);
  m.db.reset(raw);

  // Catalog and statistics.
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions()));
  const std::string cp(1, kCatalogPrefix);
  for (it->Seek(cp); it->Valid() && it->key().starts_with(cp); it->Next()) {
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    if (!item.ok()) return item.error();
    auto desc = item_to_desc(*item);
    if (!desc.ok()) return desc.error();
    auto st = std::make_shared<TableState>();
    st->desc = std::make_shared<const TableDesc>(std::move(*desc));
    m.tables[st->desc->name] = st;
  }
  if (!it->status().ok()) return io_error(it->status());
  std::string marker;
  s = m.db->Get(rocksdb::ReadOptions(), kStatsCleanKey, &marker);
  if (!s.ok() && !s.IsNotFound()) return io_error(s);
  const bool clean = s.ok();
  for (auto& [name, st] : m.tables) FRESHET_RETURN_IF_ERROR(m.load_stats(*st));
  if (!clean) {
    // Recount from a snapshot taken before any write (open() has not returned), on a thread,
    // so a large table does not hold up start-up; wait a little, which covers small tables.
    m.stats_exact = false;
    std::vector<Impl::RecountBase> bases;
    for (auto& [name, st] : m.tables) {
      bases.push_back({st, st->desc, Impl::counts_of(*st, *st->desc)});
    }
    const rocksdb::Snapshot* snap = m.db->GetSnapshot();
    m.recount_thread = std::thread(
        [&m, b = std::move(bases), snap]() mutable { m.recount(std::move(b), snap); });
    std::unique_lock<std::mutex> l(m.recount_mu);
    m.recount_cv.wait_for(l, std::chrono::milliseconds(m.opt.recount_wait_ms),
                          [&m] { return m.recount_done; });
  }
  if (clean) {
    // From here on the stored statistics are stale until the next clean close.
    rocksdb::WriteOptions w;
    w.sync = true;
    s = m.db->Delete(w, kStatsCleanKey);
    if (!s.ok()) return io_error(s);
  }
  std::string next;
  s = m.db->Get(rocksdb::ReadOptions(), std::string(1, kMetaPrefix) + "next_table_id", &next);
  if (s.ok() && next.size() == 4) {
    m.next_table_id = read_u32_be(next.data());
  } else if (!s.IsNotFound() && !s.ok()) {
    return io_error(s);
  }
  if (m.opt.sync) m.sync_thread = std::thread([&m] { m.sync_loop(); });
  if (m.opt.ttl_interval_ms > 0) {
    m.ttl_thread = std::thread([&m, self = store.get()] {
      std::unique_lock<std::mutex> l(m.ttl_mu);
      while (!m.stopping) {
        m.ttl_cv.wait_for(l, std::chrono::milliseconds(m.opt.ttl_interval_ms));
        if (m.stopping) break;
        l.unlock();
        auto r = self->expire_now();
        (void)r;  // a failed pass is retried on the next interval
        l.lock();
      }
    });
  }
  return store;
}

// ---- tables ----

Result<TableDesc> TableStore::create_table(TableDesc desc) {
  Impl& m = *impl_;
  std::unique_lock<std::shared_mutex> l(m.catalog_mu);
  if (m.tables.count(desc.name)) {
    return Error(ErrorCode::kAlreadyExists, "Table already exists: " + desc.name);
  }
  desc.id = m.next_table_id;
  desc.created_ms = m.now();
  desc.active_at_ms = desc.created_ms + m.opt.create_delay_ms;
  uint8_t next_index = 1;
  for (IndexDesc& x : desc.indexes) x.id = next_index++;
  desc.next_index_id = next_index;
  rocksdb::WriteBatch b;
  FRESHET_RETURN_IF_ERROR(m.persist_desc(desc, b));
  std::string next;
  append_u32_be(desc.id + 1, next);
  b.Put(std::string(1, kMetaPrefix) + "next_table_id", next);
  FRESHET_RETURN_IF_ERROR(m.write(b));
  m.next_table_id = desc.id + 1;
  auto st = std::make_shared<TableState>();
  st->desc = std::make_shared<const TableDesc>(desc);
  m.tables[desc.name] = st;
  return desc;
}

Result<TableDesc> TableStore::describe_table(std::string_view name) const {
  auto t = impl_->find(name);
  if (!t.ok()) {
    return Error(ErrorCode::kNotFound,
                 "Requested resource not found: Table: " + std::string(name) + " not found");
  }
  return *(*t)->snapshot();
}

bool TableStore::is_active(const TableDesc& d) const { return impl_->now() >= d.active_at_ms; }

TableStats TableStore::stats(std::string_view name) const {
  auto t = impl_->find(name);
  if (!t.ok()) return {};
  // Never below zero while a recount is under way (deletes counted against an old base).
  return TableStats{std::max<int64_t>(0, (*t)->items.load()),
                    std::max<int64_t>(0, (*t)->bytes.load())};
}

bool TableStore::stats_exact() const { return impl_->stats_exact.load(); }

TableStats TableStore::index_stats(std::string_view name, uint8_t index_id) const {
  auto t = impl_->find(name);
  if (!t.ok()) return {};
  const TableState::IndexStats& f = (*t)->index_stats[index_id];
  return TableStats{std::max<int64_t>(0, f.items.load()), std::max<int64_t>(0, f.bytes.load())};
}

std::vector<std::string> TableStore::list_tables() const {
  std::shared_lock<std::shared_mutex> l(impl_->catalog_mu);
  std::vector<std::string> names;
  for (const auto& [n, t] : impl_->tables) names.push_back(n);
  return names;
}

Result<TableDesc> TableStore::delete_table(std::string_view name) {
  Impl& m = *impl_;
  std::shared_ptr<TableState> st;
  {
    std::unique_lock<std::shared_mutex> l(m.catalog_mu);
    auto it = m.tables.find(name);
    if (it == m.tables.end()) {
      return Error(ErrorCode::kNotFound,
                   "Requested resource not found: Table: " + std::string(name) + " not found");
    }
    st = it->second;
    auto d = st->snapshot();
    if (m.now() < d->active_at_ms) {
      return Error(ErrorCode::kResourceInUse,
                   "Attempt to change a resource which is still in use: Table is being created: " +
                       std::string(name));
    }
    m.tables.erase(it);
  }
  std::unique_lock<std::shared_mutex> drop(st->drop_mu);
  st->dropped = true;
  auto d = st->snapshot();
  rocksdb::WriteBatch b;
  const std::string items = Impl::table_prefix(kItemPrefix, d->id);
  const std::string index = Impl::table_prefix(kIndexPrefix, d->id);
  b.DeleteRange(items, successor(items));
  b.DeleteRange(index, successor(index));
  const std::string stats = Impl::table_prefix(kStatsPrefix, d->id);
  b.DeleteRange(stats, successor(stats));
  const std::string collections = Impl::table_prefix(kCollectionPrefix, d->id);
  b.DeleteRange(collections, successor(collections));
  b.Delete(std::string(1, kCatalogPrefix) + d->name);
  FRESHET_RETURN_IF_ERROR(m.write(b));
  return *d;
}

Result<TableDesc> TableStore::alter_table(std::string_view name,
                                          const std::function<Status(TableDesc&)>& change) {
  Impl& m = *impl_;
  auto t = m.find(name);
  if (!t.ok()) {
    return Error(ErrorCode::kNotFound,
                 "Requested resource not found: Table: " + std::string(name) + " not found");
  }
  std::unique_lock<std::shared_mutex> drop((*t)->drop_mu);
  if ((*t)->dropped) return table_gone();
  TableDesc d = *(*t)->snapshot();
  FRESHET_RETURN_IF_ERROR(change(d));
  rocksdb::WriteBatch b;
  FRESHET_RETURN_IF_ERROR(m.persist_desc(d, b));
  FRESHET_RETURN_IF_ERROR(m.write(b));
  std::lock_guard<std::mutex> l((*t)->desc_mu);
  (*t)->desc = std::make_shared<const TableDesc>(d);
  return d;
}

Result<TableDesc> TableStore::add_global_index(std::string_view table, IndexDesc index) {
  Impl& m = *impl_;
  auto t = m.find(table);
  if (!t.ok()) {
    return Error(ErrorCode::kNotFound,
                 "Requested resource not found: Table: " + std::string(table) + " not found");
  }
  TableState& st = **t;
  // Writers are held off for the backfill: each write then maintains the new index too.
  std::unique_lock<std::shared_mutex> drop(st.drop_mu);
  if (st.dropped) return table_gone();
  TableDesc d = *st.snapshot();
  if (d.find_index(index.name) != nullptr) {
    return validation("One or more parameter values were invalid: Index with name: " +
                      index.name + " already exists");
  }
  index.id = d.next_index_id++;
  index.global = true;
  index.backfilling = false;
  d.indexes.push_back(index);
  const IndexDesc& x = d.indexes.back();
  // Backfill in batches.
  int64_t count = 0, bytes = 0;
  rocksdb::WriteBatch b;
  const std::string lo = Impl::table_prefix(kItemPrefix, d.id);
  const std::string hi = successor(lo);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    if (!item.ok()) return item.error();
    auto k = Impl::index_key(d, x, *item);
    if (!k) continue;
    b.Put(*k, encode_item(Impl::index_projection(d, x, *item)));
    ++count;
    bytes += static_cast<int64_t>(item_size(*item));
    if (b.Count() >= 1000) {
      FRESHET_RETURN_IF_ERROR(m.write(b));
      b.Clear();
    }
  }
  if (!it->status().ok()) return io_error(it->status());
  FRESHET_RETURN_IF_ERROR(m.persist_desc(d, b));
  FRESHET_RETURN_IF_ERROR(m.write(b));
  st.index_stats[x.id].items = count;
  st.index_stats[x.id].bytes = bytes;
  std::lock_guard<std::mutex> l(st.desc_mu);
  st.desc = std::make_shared<const TableDesc>(d);
  return d;
}

Result<TableDesc> TableStore::delete_global_index(std::string_view table, std::string_view index) {
  Impl& m = *impl_;
  auto t = m.find(table);
  if (!t.ok()) {
    return Error(ErrorCode::kNotFound,
                 "Requested resource not found: Table: " + std::string(table) + " not found");
  }
  TableState& st = **t;
  std::unique_lock<std::shared_mutex> drop(st.drop_mu);
  TableDesc d = *st.snapshot();
  auto f = std::find_if(d.indexes.begin(), d.indexes.end(),
                        [&](const IndexDesc& x) { return x.name == index && x.global; });
  if (f == d.indexes.end()) {
    return Error(ErrorCode::kNotFound,
                 "Requested resource not found: Index: " + std::string(index) + " not found");
  }
  uint8_t id = f->id;
  d.indexes.erase(f);
  rocksdb::WriteBatch b;
  std::string p = Impl::index_prefix(d.id, id);
  b.DeleteRange(p, successor(p));
  std::string sk = Impl::table_prefix(kStatsPrefix, d.id);
  sk.push_back(static_cast<char>(id));
  b.Delete(sk);
  FRESHET_RETURN_IF_ERROR(m.persist_desc(d, b));
  FRESHET_RETURN_IF_ERROR(m.write(b));
  st.index_stats[id].items = 0;
  st.index_stats[id].bytes = 0;
  std::lock_guard<std::mutex> l(st.desc_mu);
  st.desc = std::make_shared<const TableDesc>(d);
  return d;
}

// ---- items ----

Status TableStore::validate_item_keys(const TableDesc& d, const Item& item) {
  auto check = [&](const KeyAttr& k, bool is_hash) -> Status {
    auto f = item.find(k.name);
    if (f == item.end()) {
      return validation("One or more parameter values were invalid: Missing the key " + k.name +
                        " in the item");
    }
    return check_key_value(k, f->second, is_hash);
  };
  FRESHET_RETURN_IF_ERROR(check(d.key.hash, true));
  if (d.key.range) FRESHET_RETURN_IF_ERROR(check(*d.key.range, false));
  for (const IndexDesc& x : d.indexes) {
    for (const KeyAttr* k : {&x.key.hash, x.key.range ? &*x.key.range : nullptr}) {
      if (k == nullptr) continue;
      auto f = item.find(k->name);
      if (f == item.end()) continue;
      if (f->second.type() != k->type) {
        return validation(
            "One or more parameter values were invalid: Type mismatch for Index Key " + k->name +
            " Expected: " + type_letter(k->type) + " Actual: " + type_letter(f->second.type()) +
            " IndexName: " + x.name);
      }
      if ((k->type == Type::kS || k->type == Type::kB) && f->second.str().empty()) {
        return validation(
            "One or more parameter values are not valid. A value specified for a secondary "
            "index key is not supported. The AttributeValue for a key attribute cannot contain "
            "an empty string value. IndexName: " +
            x.name + ", IndexKey: " + k->name);
      }
    }
  }
  if (item_size(item) > kMaxItemBytes) {
    return validation("Item size has exceeded the maximum allowed size");
  }
  return Status();
}

Status TableStore::validate_key(const TableDesc& d, const Item& key) {
  const size_t want = d.key.range ? 2 : 1;
  if (key.size() != want) return validation("The provided key element does not match the schema");
  auto h = key.find(d.key.hash.name);
  if (h == key.end() || h->second.type() != d.key.hash.type) {
    return validation("The provided key element does not match the schema");
  }
  FRESHET_RETURN_IF_ERROR(check_key_value(d.key.hash, h->second, true));
  if (d.key.range) {
    auto r = key.find(d.key.range->name);
    if (r == key.end() || r->second.type() != d.key.range->type) {
      return validation("The provided key element does not match the schema");
    }
    FRESHET_RETURN_IF_ERROR(check_key_value(*d.key.range, r->second, false));
  }
  return Status();
}

Result<WriteOutcome> TableStore::put_item_nowait(std::string_view table, Item item,
                                                 const Condition* condition) {
  return impl_->write_one(
      table, item, condition, [&](const TableDesc& d) { return validate_item_keys(d, item); },
      [&](const TableDesc&, const std::optional<Item>&) -> Result<std::optional<Item>> {
        return std::optional<Item>(std::move(item));
      });
}

Result<WriteOutcome> TableStore::delete_item_nowait(std::string_view table, const Item& key,
                                                    const Condition* condition) {
  return impl_->write_one(
      table, key, condition, [&](const TableDesc& d) { return validate_key(d, key); },
      [](const TableDesc&, const std::optional<Item>&) -> Result<std::optional<Item>> {
        return std::optional<Item>();
      });
}

namespace {
// DynamoDB refuses updates that touch a key attribute.
Status check_update_keys(const TableDesc& d, const UpdateExpr& u) {
  for (const UpdateAction& a : u.actions) {
    const std::string& top = a.path[0].name;
    if (top == d.key.hash.name || (d.key.range && top == d.key.range->name)) {
      return validation("One or more parameter values were invalid: Cannot update attribute " +
                        top + ". This attribute is part of the key");
    }
  }
  return Status();
}
}  // namespace

Result<WriteOutcome> TableStore::update_item_nowait(std::string_view table, const Item& key,
                                                    const UpdateExpr& update,
                                                    const Condition* condition) {
  return impl_->write_one(
      table, key, condition,
      [&](const TableDesc& d) -> Status {
        FRESHET_RETURN_IF_ERROR(validate_key(d, key));
        return check_update_keys(d, update);
      },
      [&](const TableDesc& d, const std::optional<Item>& old) -> Result<std::optional<Item>> {
        Item next = old ? *old : key;
        FRESHET_RETURN_IF_ERROR(apply_update(update, next));
        if (item_size(next) > kMaxItemBytes) {
          return validation("Item size to update has exceeded the maximum allowed size");
        }
        FRESHET_RETURN_IF_ERROR(validate_item_keys(d, next));
        return std::optional<Item>(std::move(next));
      });
}

Result<std::optional<Item>> TableStore::get_item(std::string_view table, const Item& key) const {
  std::string value;
  auto found = get_item_encoded(table, key, value);
  if (!found.ok()) return found.error();
  if (!*found) return std::optional<Item>();
  auto item = decode_item(value);
  if (!item.ok()) return item.error();
  return std::optional<Item>(std::move(*item));
}

Result<bool> TableStore::get_item_encoded(std::string_view table, const Item& key,
                                          std::string& value) const {
  const Impl& m = *impl_;
  auto a = m.active(table);
  if (!a.ok()) return a.error();
  const TableDesc& d = *a->second;
  FRESHET_RETURN_IF_ERROR(validate_key(d, key));
  no_perf_counters();
  rocksdb::Status s = m.db->Get(rocksdb::ReadOptions(), Impl::item_key(d, key), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return io_error(s);
  return true;
}

// ---- query and scan ----

namespace {

struct Bounds {
  std::string lo, hi;  // [lo, hi)
};

}  // namespace

Result<Page> TableStore::query(const QuerySpec& spec) const {
  const Impl& m = *impl_;
  auto a = m.active(spec.table);
  if (!a.ok()) return a.error();
  const TableDesc& d = *a->second;
  const IndexDesc* x = nullptr;
  if (!spec.index.empty()) {
    x = d.find_index(spec.index);
    if (x == nullptr) {
      return validation("The table does not have the specified index: " + spec.index);
    }
  }
  const KeySchema& ks = x ? x->key : d.key;
  if (spec.hash.type() != ks.hash.type) {
    return validation("One or more parameter values were invalid: Condition parameter type does "
                      "not match schema type");
  }
  std::string pk;
  encode_key_component(spec.hash, pk);
  std::string prefix = x ? Impl::index_prefix(d.id, x->id) : Impl::table_prefix(kItemPrefix, d.id);
  append_u16_be(key_bucket(pk), prefix);
  prefix += pk;
  Bounds bnd{prefix, successor(prefix)};
  auto enc = [&](const Value& v) {
    std::string s = prefix;
    encode_key_component(v, s);
    return s;
  };
  using Op = KeyRange::Op;
  if (spec.range.op != Op::kNone) {
    if (!ks.range) return validation("Query key condition not supported");
    const Type rt = ks.range->type;
    if (spec.range.a.type() != rt ||
        (spec.range.op == Op::kBetween && spec.range.b.type() != rt)) {
      return validation("One or more parameter values were invalid: Condition parameter type "
                        "does not match schema type");
    }
    switch (spec.range.op) {
      case Op::kEq: bnd = {enc(spec.range.a), successor(enc(spec.range.a))}; break;
      case Op::kLt: bnd.hi = enc(spec.range.a); break;
      case Op::kLe: bnd.hi = successor(enc(spec.range.a)); break;
      case Op::kGt: bnd.lo = successor(enc(spec.range.a)); break;
      case Op::kGe: bnd.lo = enc(spec.range.a); break;
      case Op::kBetween: {
        int c = 0;
        compare_scalars(spec.range.a, spec.range.b, c);
        if (c > 0) {
          return validation("Invalid KeyConditionExpression: The BETWEEN operator requires upper "
                            "bound to be greater than or equal to lower bound; lower bound "
                            "operand: AttributeValue: {" + std::string(type_name(rt)) + ":" +
                            spec.range.a.str() + "}, upper bound operand: AttributeValue: {" +
                            std::string(type_name(rt)) + ":" + spec.range.b.str() + "}");
        }
        bnd = {enc(spec.range.a), successor(enc(spec.range.b))};
        break;
      }
      case Op::kBeginsWith: {
        if (rt == Type::kN) {
          return validation("Invalid KeyConditionExpression: Incorrect operand type for operator "
                            "or function; operator or function: begins_with, operand type: N");
        }
        std::string p = prefix + escaped_prefix(spec.range.a.str());
        bnd = {p, successor(p)};
        break;
      }
      default: break;
    }
  }
  if (spec.exclusive_start_key) {
    const Item& esk = *spec.exclusive_start_key;
    auto bad = [] {
      return validation("The provided starting key is invalid: The provided key element does "
                        "not match the schema");
    };
    Item tk;
    for (const KeyAttr* k : {&d.key.hash, d.key.range ? &*d.key.range : nullptr}) {
      if (k == nullptr) continue;
      auto f = esk.find(k->name);
      if (f == esk.end() || f->second.type() != k->type) return bad();
      tk[k->name] = f->second;
    }
    std::string sk;
    if (x != nullptr) {
      Item full = esk;
      auto k = Impl::index_key(d, *x, full);
      if (!k) return bad();
      sk = *k;
    } else {
      sk = Impl::item_key(d, tk);
    }
    if (sk.compare(0, prefix.size(), prefix) != 0) {
      return validation("The provided starting key is invalid: The provided key element does "
                        "not match the schema");
    }
    if (spec.forward) {
      std::string after = sk + '\0';
      if (after > bnd.lo) bnd.lo = after;
    } else {
      if (sk < bnd.hi) bnd.hi = sk;
    }
  }
  Page page;
  if (bnd.lo >= bnd.hi) return page;
  no_perf_counters();
  rocksdb::ReadOptions ro;
  rocksdb::Slice lo(bnd.lo), hi(bnd.hi);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro));
  if (spec.forward) {
    it->Seek(lo);
  } else {
    it->SeekForPrev(bnd.hi);
    if (it->Valid() && it->key().compare(hi) >= 0) it->Prev();
  }
  if (spec.encoded && spec.filter != nullptr) {
    return Error(ErrorCode::kInvalidArgument, "an encoded query takes no filter");
  }
  // LastEvaluatedKey: the key attributes of the table and of the index queried.
  auto last_key = [&](const Item& item) {
    Item key_attrs;
    auto add_key = [&](const std::string& n) {
      auto f = item.find(n);
      if (f != item.end()) key_attrs[n] = f->second;
    };
    add_key(d.key.hash.name);
    if (d.key.range) add_key(d.key.range->name);
    if (x) {
      add_key(x->key.hash.name);
      if (x->key.range) add_key(x->key.range->name);
    }
    return key_attrs;
  };
  for (; it->Valid(); spec.forward ? it->Next() : it->Prev()) {
    const std::string_view raw(it->value().data(), it->value().size());
    std::optional<Item> item;
    if (spec.encoded) {
      // The item stays encoded: walking it checks it and gives its size.
      size_t sz = 0;
      FRESHET_RETURN_IF_ERROR(walk_item(raw, nullptr, &sz));
      page.bytes_read += sz;
      page.encoded.append(raw);
      page.encoded_ends.push_back(page.encoded.size());
    } else {
      auto decoded = decode_item(raw);
      if (!decoded.ok()) return decoded.error();
      page.bytes_read += item_size(*decoded);
      item = std::move(*decoded);
    }
    ++page.scanned_count;
    const bool stop = (spec.limit > 0 && page.scanned_count >= spec.limit) ||
                      page.bytes_read >= spec.max_page_bytes;
    if (stop) {
      if (!item) {
        auto decoded = decode_item(raw);
        if (!decoded.ok()) return decoded.error();
        page.last_evaluated_key = last_key(*decoded);
      } else {
        page.last_evaluated_key = last_key(*item);
      }
    }
    if (item && (spec.filter == nullptr || evaluate(*spec.filter, *item))) {
      page.items.push_back(std::move(*item));
    }
    if (stop) break;
  }
  if (!it->status().ok()) return io_error(it->status());
  return page;
}

Result<Page> TableStore::scan(const ScanSpec& spec) const {
  const Impl& m = *impl_;
  auto a = m.active(spec.table);
  if (!a.ok()) return a.error();
  const TableDesc& d = *a->second;
  const IndexDesc* x = nullptr;
  if (!spec.index.empty()) {
    x = d.find_index(spec.index);
    if (x == nullptr) {
      return validation("The table does not have the specified index: " + spec.index);
    }
  }
  std::string prefix = x ? Impl::index_prefix(d.id, x->id) : Impl::table_prefix(kItemPrefix, d.id);
  const int32_t n = std::max(1, spec.total_segments);
  const uint32_t b0 = static_cast<uint32_t>(spec.segment) * 65536u / static_cast<uint32_t>(n);
  const uint32_t b1 = static_cast<uint32_t>(spec.segment + 1) * 65536u / static_cast<uint32_t>(n);
  Bounds bnd;
  bnd.lo = prefix;
  append_u16_be(static_cast<uint16_t>(b0), bnd.lo);
  if (b1 >= 65536) {
    bnd.hi = successor(prefix);
  } else {
    bnd.hi = prefix;
    append_u16_be(static_cast<uint16_t>(b1), bnd.hi);
  }
  if (spec.exclusive_start_key) {
    const Item& esk = *spec.exclusive_start_key;
    auto bad = [] {
      return validation("The provided starting key is invalid: The provided key element does "
                        "not match the schema");
    };
    Item tk;
    for (const KeyAttr* k : {&d.key.hash, d.key.range ? &*d.key.range : nullptr}) {
      if (k == nullptr) continue;
      auto f = esk.find(k->name);
      if (f == esk.end() || f->second.type() != k->type) return bad();
      tk[k->name] = f->second;
    }
    std::string sk;
    if (x != nullptr) {
      auto k = Impl::index_key(d, *x, esk);
      if (!k) return bad();
      sk = *k;
    } else {
      sk = Impl::item_key(d, tk);
    }
    std::string after = sk + '\0';
    if (after > bnd.lo) bnd.lo = after;
  }
  Page page;
  if (bnd.lo >= bnd.hi) return page;
  no_perf_counters();
  rocksdb::ReadOptions ro;
  rocksdb::Slice lo(bnd.lo), hi(bnd.hi);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    auto item = decode_item(std::string_view(it->value().data(), it->value().size()));
    if (!item.ok()) return item.error();
    page.bytes_read += item_size(*item);
    ++page.scanned_count;
    const bool stop = (spec.limit > 0 && page.scanned_count >= spec.limit) ||
                      page.bytes_read >= spec.max_page_bytes;
    Item key_attrs;
    if (stop) {
      auto add_key = [&](const std::string& nm) {
        auto f = item->find(nm);
        if (f != item->end()) key_attrs[nm] = f->second;
      };
      add_key(d.key.hash.name);
      if (d.key.range) add_key(d.key.range->name);
      if (x) {
        add_key(x->key.hash.name);
        if (x->key.range) add_key(x->key.range->name);
      }
    }
    if (spec.filter == nullptr || evaluate(*spec.filter, *item)) {
      page.items.push_back(std::move(*item));
    }
    if (stop) {
      page.last_evaluated_key = std::move(key_attrs);
      break;
    }
  }
  if (!it->status().ok()) return io_error(it->status());
  return page;
}

// ---- batches and transactions ----

namespace {
// The descriptors of a batch's or transaction's ops, read again once their tables' drop locks
// are held (see write_one): an index added since the ops were checked must be maintained, and
// the items checked against its key types.
template <typename Prepared>
Status refresh_descs(const std::vector<WriteOp>& ops, std::vector<Prepared>& prep) {
  const void* last = nullptr;
  std::shared_ptr<const TableDesc> cur;
  for (size_t i = 0; i < prep.size(); ++i) {
    if (prep[i].st.get() != last) {
      last = prep[i].st.get();
      cur = prep[i].st->snapshot();
    }
    if (cur == prep[i].d) continue;
    const WriteOp& op = ops[i];
    FRESHET_RETURN_IF_ERROR(op.kind == WriteOp::Kind::kPut
                                ? TableStore::validate_item_keys(*cur, op.item)
                                : TableStore::validate_key(*cur, op.item));
    prep[i].d = cur;
  }
  return Status();
}
}  // namespace

Status TableStore::batch_write_nowait(const std::vector<WriteOp>& ops) {
  Impl& m = *impl_;
  struct Prepared {
    std::shared_ptr<TableState> st;
    std::shared_ptr<const TableDesc> d;
    std::string key;
    size_t stripe;
  };
  std::vector<Prepared> prep;
  prep.reserve(ops.size());
  // Batches usually write one table: its state and descriptor are looked up once per run of
  // ops on the same table, not per op.
  const std::string* looked_up = nullptr;
  std::pair<std::shared_ptr<TableState>, std::shared_ptr<const TableDesc>> table;
  for (const WriteOp& op : ops) {
    if (looked_up == nullptr || *looked_up != op.table) {
      auto a = m.active(op.table);
      if (!a.ok()) return a.error();
      table = std::move(*a);
      looked_up = &op.table;
    }
    const TableDesc& d = *table.second;
    if (op.kind == WriteOp::Kind::kPut) {
      FRESHET_RETURN_IF_ERROR(validate_item_keys(d, op.item));
    } else {
      FRESHET_RETURN_IF_ERROR(validate_key(d, op.item));
    }
    std::string key = Impl::item_key(d, op.item);
    FRESHET_RETURN_IF_ERROR(m.check_not_held(key));
    size_t stripe = m.stripe_of(d, key);
    prep.push_back({table.first, table.second, std::move(key), stripe});
  }
  // Duplicate keys (a key names its table by id): sorted, so a batch of n costs n log n
  // comparisons, not n^2 (in-server writers send batches of a thousand).
  {
    std::vector<const std::string*> keys;
    keys.reserve(prep.size());
    for (const Prepared& p : prep) keys.push_back(&p.key);
    std::sort(keys.begin(), keys.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    for (size_t i = 1; i < keys.size(); ++i) {
      if (*keys[i] == *keys[i - 1]) {
        return validation("Provided list of item keys contains duplicates");
      }
    }
  }
  // Lock order: drop locks by table pointer, then stripes ascending.
  std::vector<TableState*> tables;
  for (auto& p : prep) tables.push_back(p.st.get());
  std::sort(tables.begin(), tables.end());
  tables.erase(std::unique(tables.begin(), tables.end()), tables.end());
  std::vector<std::shared_lock<std::shared_mutex>> drops;
  for (TableState* t : tables) {
    drops.emplace_back(t->drop_mu);
    if (t->dropped) return table_gone();
  }
  FRESHET_RETURN_IF_ERROR(refresh_descs(ops, prep));
  std::vector<size_t> stripes;
  for (auto& p : prep) stripes.push_back(p.stripe);
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t s : stripes) locks.emplace_back(m.stripes[s]);
  no_perf_counters();
  Impl::Writes w;
  std::vector<Impl::Deltas> deltas(prep.size());
  for (size_t i = 0; i < prep.size(); ++i) {
    auto old = m.read(prep[i].key);
    if (!old.ok()) return old.error();
    const WriteOp& op = ops[i];
    if (op.kind == WriteOp::Kind::kPut) {
      Impl::stage(*prep[i].d, prep[i].key, *old, &op.item, w, deltas[i]);
    } else if (*old) {
      Impl::stage(*prep[i].d, prep[i].key, *old, nullptr, w, deltas[i]);
    }
  }
  if (w.empty()) return Status();
  std::vector<const Impl::Deltas*> staged;
  for (const auto& dl : deltas) staged.push_back(&dl);
  FRESHET_RETURN_IF_ERROR(m.check_collections(staged));
  rocksdb::WriteBatch b = w.batch();
  FRESHET_RETURN_IF_ERROR(m.write_nowait(b));
  for (size_t i = 0; i < prep.size(); ++i) Impl::apply_deltas(*prep[i].st, deltas[i]);
  return Status();
}

void TableStore::release_held(const std::vector<std::string>& held) {
  if (held.empty()) return;
  Impl& m = *impl_;
  std::lock_guard<std::mutex> l(m.txn_mu);
  for (const std::string& k : held) m.txn_keys.erase(k);
  m.txn_inflight.fetch_sub(1, std::memory_order_release);
}

Result<TransactOutcome> TableStore::transact_write_nowait(const std::vector<WriteOp>& ops,
                                                          std::vector<std::string>* held) {
  Impl& m = *impl_;
  struct Prepared {
    std::shared_ptr<TableState> st;
    std::shared_ptr<const TableDesc> d;
    std::string key;
    size_t stripe;
  };
  std::vector<Prepared> prep;
  for (const WriteOp& op : ops) {
    auto a = m.active(op.table);
    if (!a.ok()) return a.error();
    const TableDesc& d = *a->second;
    if (op.kind == WriteOp::Kind::kPut) {
      FRESHET_RETURN_IF_ERROR(validate_item_keys(d, op.item));
    } else {
      FRESHET_RETURN_IF_ERROR(validate_key(d, op.item));
    }
    if (op.kind == WriteOp::Kind::kUpdate) FRESHET_RETURN_IF_ERROR(check_update_keys(d, *op.update));
    std::string key = Impl::item_key(d, op.item);
    size_t stripe = m.stripe_of(d, key);
    prep.push_back({a->first, a->second, std::move(key), stripe});
  }
  for (size_t i = 0; i < prep.size(); ++i) {
    for (size_t j = i + 1; j < prep.size(); ++j) {
      if (prep[i].key == prep[j].key) {
        return validation(
            "Transaction request cannot include multiple operations on one item");
      }
    }
  }
  // Hold the items (or find the ones another in-flight transaction holds).
  {
    std::lock_guard<std::mutex> l(m.txn_mu);
    std::vector<bool> conflicted(ops.size(), false);
    bool any = false;
    for (size_t i = 0; i < prep.size(); ++i) {
      conflicted[i] = m.txn_keys.count(prep[i].key) > 0;
      any |= conflicted[i];
    }
    if (any) {
      TransactOutcome out;
      out.conflicted = std::move(conflicted);
      out.failed.assign(ops.size(), false);
      out.old_items.resize(ops.size());
      out.sizes.resize(ops.size());
      return out;
    }
    m.txn_inflight.fetch_add(1, std::memory_order_acq_rel);
    for (const Prepared& p : prep) {
      m.txn_keys.insert(p.key);
      held->push_back(p.key);
    }
  }
  if (m.opt.transact_hold_hook) m.opt.transact_hold_hook();
  std::vector<TableState*> tables;
  for (auto& p : prep) tables.push_back(p.st.get());
  std::sort(tables.begin(), tables.end());
  tables.erase(std::unique(tables.begin(), tables.end()), tables.end());
  std::vector<std::shared_lock<std::shared_mutex>> drops;
  for (TableState* t : tables) {
    drops.emplace_back(t->drop_mu);
    if (t->dropped) return table_gone();
  }
  FRESHET_RETURN_IF_ERROR(refresh_descs(ops, prep));
  std::vector<size_t> stripes;
  for (auto& p : prep) stripes.push_back(p.stripe);
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t s : stripes) locks.emplace_back(m.stripes[s]);

  no_perf_counters();
  TransactOutcome out;
  out.old_items.resize(ops.size());
  out.sizes.resize(ops.size());
  std::vector<bool> failed(ops.size(), false);
  bool any_failed = false;
  for (size_t i = 0; i < ops.size(); ++i) {
    auto old = m.read(prep[i].key);
    if (!old.ok()) return old.error();
    out.old_items[i] = std::move(*old);
    const Condition* c = ops[i].condition;
    if (c != nullptr && !evaluate(*c, out.old_items[i] ? *out.old_items[i] : Item())) {
      failed[i] = true;
      any_failed = true;
    }
  }
  if (any_failed) {
    out.failed = std::move(failed);
    return out;
  }
  Impl::Writes b;
  std::vector<Impl::Deltas> deltas(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const WriteOp& op = ops[i];
    const auto& old = out.old_items[i];
    switch (op.kind) {
      case WriteOp::Kind::kPut:
        Impl::stage(*prep[i].d, prep[i].key, old, &op.item, b, deltas[i]);
        out.sizes[i] = item_size(op.item);
        break;
      case WriteOp::Kind::kDelete:
        if (old) Impl::stage(*prep[i].d, prep[i].key, old, nullptr, b, deltas[i]);
        out.sizes[i] = old ? item_size(*old) : 0;
        break;
      case WriteOp::Kind::kUpdate: {
        Item next = old ? *old : op.item;
        FRESHET_RETURN_IF_ERROR(apply_update(*op.update, next));
        FRESHET_RETURN_IF_ERROR(validate_item_keys(*prep[i].d, next));
        Impl::stage(*prep[i].d, prep[i].key, old, &next, b, deltas[i]);
        out.sizes[i] = item_size(next);
        break;
      }
      case WriteOp::Kind::kCheck: out.sizes[i] = old ? item_size(*old) : 0; break;
    }
  }
  if (!b.empty()) {
    std::vector<const Impl::Deltas*> staged;
    for (const auto& dl : deltas) staged.push_back(&dl);
    FRESHET_RETURN_IF_ERROR(m.check_collections(staged));
    rocksdb::WriteBatch wb = b.batch();
    FRESHET_RETURN_IF_ERROR(m.write_nowait(wb));
    out.wrote = true;
  }
  for (size_t i = 0; i < ops.size(); ++i) Impl::apply_deltas(*prep[i].st, deltas[i]);
  return out;
}

Result<std::vector<std::optional<Item>>> TableStore::transact_get(
    const std::vector<std::pair<std::string, Item>>& keys) const {
  const Impl& m = *impl_;
  std::vector<std::string> ks;
  for (const auto& [table, key] : keys) {
    auto a = m.active(table);
    if (!a.ok()) return a.error();
    FRESHET_RETURN_IF_ERROR(validate_key(*a->second, key));
    ks.push_back(Impl::item_key(*a->second, key));
  }
  no_perf_counters();
  const rocksdb::Snapshot* snap = m.db->GetSnapshot();
  std::vector<std::optional<Item>> out;
  Status err;
  for (const std::string& k : ks) {
    auto r = m.read(k, snap);
    if (!r.ok()) {
      err = r.error();
      break;
    }
    out.push_back(std::move(*r));
  }
  m.db->ReleaseSnapshot(snap);
  if (!err.ok()) return err.error();
  return out;
}

// ---- durable writes: the *_nowait body, then a wait for the WAL group sync ----

namespace {
template <typename T>
Result<T> wait_durable(std::function<void(std::function<void(Status)>)> after_write, Result<T> r,
                       bool wrote) {
  if (!r.ok() || !wrote) return r;
  std::promise<Status> p;
  std::future<Status> f = p.get_future();
  after_write([&p](Status s) { p.set_value(std::move(s)); });
  Status s = f.get();
  if (!s.ok()) return s.error();
  return r;
}
}  // namespace

void TableStore::finish_async(Result<WriteOutcome> r, WriteDone done) {
  if (!r.ok() || !r->wrote) return done(std::move(r));
  auto shared = std::make_shared<Result<WriteOutcome>>(std::move(r));
  impl_->after_write([shared, done = std::move(done)](Status s) {
    if (!s.ok()) return done(s.error());
    done(std::move(*shared));
  });
}

Result<WriteOutcome> TableStore::put_item(std::string_view table, Item item,
                                          const Condition* condition) {
  auto r = put_item_nowait(table, std::move(item), condition);
  const bool wrote = r.ok() && r->wrote;
  return wait_durable<WriteOutcome>([this](auto d) { impl_->after_write(std::move(d)); },
                                    std::move(r), wrote);
}

Result<WriteOutcome> TableStore::delete_item(std::string_view table, const Item& key,
                                             const Condition* condition) {
  auto r = delete_item_nowait(table, key, condition);
  const bool wrote = r.ok() && r->wrote;
  return wait_durable<WriteOutcome>([this](auto d) { impl_->after_write(std::move(d)); },
                                    std::move(r), wrote);
}

Result<WriteOutcome> TableStore::update_item(std::string_view table, const Item& key,
                                             const UpdateExpr& update,
                                             const Condition* condition) {
  auto r = update_item_nowait(table, key, update, condition);
  const bool wrote = r.ok() && r->wrote;
  return wait_durable<WriteOutcome>([this](auto d) { impl_->after_write(std::move(d)); },
                                    std::move(r), wrote);
}

void TableStore::put_item_async(std::string_view table, Item item, const Condition* condition,
                                WriteDone done) {
  finish_async(put_item_nowait(table, std::move(item), condition), std::move(done));
}

void TableStore::delete_item_async(std::string_view table, const Item& key,
                                   const Condition* condition, WriteDone done) {
  finish_async(delete_item_nowait(table, key, condition), std::move(done));
}

void TableStore::update_item_async(std::string_view table, const Item& key,
                                   const UpdateExpr& update, const Condition* condition,
                                   WriteDone done) {
  finish_async(update_item_nowait(table, key, update, condition), std::move(done));
}

Status TableStore::batch_write(const std::vector<WriteOp>& ops) {
  Status s = batch_write_nowait(ops);
  if (!s.ok()) return s;
  std::promise<Status> p;
  std::future<Status> f = p.get_future();
  impl_->after_write([&p](Status st) { p.set_value(std::move(st)); });
  return f.get();
}

void TableStore::batch_write_async(const std::vector<WriteOp>& ops,
                                   std::function<void(Status)> done) {
  Status s = batch_write_nowait(ops);
  if (!s.ok()) return done(s);
  impl_->after_write(std::move(done));
}

Result<TransactOutcome> TableStore::transact_write(const std::vector<WriteOp>& ops) {
  std::vector<std::string> held;
  auto r = transact_write_nowait(ops, &held);
  const bool wrote = r.ok() && r->wrote;
  auto out = wait_durable<TransactOutcome>([this](auto d) { impl_->after_write(std::move(d)); },
                                           std::move(r), wrote);
  release_held(held);  // in flight until durable
  return out;
}

uint64_t TableStore::wal_sync_rounds() const {
  std::lock_guard<std::mutex> l(impl_->sync_mu);
  return impl_->sync_rounds;
}

Result<int64_t> TableStore::expire_now() {
  Impl& m = *impl_;
  int64_t deleted = 0;
  const int64_t now_s = m.now() / 1000;
  const Decimal now_d = *Decimal::parse(std::to_string(now_s));
  for (const std::string& name : list_tables()) {
    auto t = m.find(name);
    if (!t.ok()) continue;
    auto d = (*t)->snapshot();
    if (d->ttl_attribute.empty()) continue;
    std::optional<Item> start;
    while (true) {
      ScanSpec s;
      s.table = name;
      s.limit = 1000;
      s.exclusive_start_key = start;
      auto page = scan(s);
      if (!page.ok()) break;
      for (const Item& item : page->items) {
        auto f = item.find(d->ttl_attribute);
        if (f == item.end() || !f->second.is(Type::kN)) continue;
        auto when = Decimal::parse(f->second.str());
        if (!when.ok() || when->compare(now_d) >= 0) continue;
        // Delete only if the attribute is unchanged (a writer may have extended it).
        Condition same;
        same.kind = Condition::Kind::kCompare;
        same.op = Condition::Op::kEq;
        Operand p;
        p.kind = Operand::Kind::kPath;
        p.path = {PathElement{d->ttl_attribute, -1}};
        Operand v;
        v.kind = Operand::Kind::kValue;
        v.value = f->second;
        same.operands = {p, v};
        Item key;
        key[d->key.hash.name] = item.at(d->key.hash.name);
        if (d->key.range) key[d->key.range->name] = item.at(d->key.range->name);
        auto r = delete_item(name, key, &same);
        if (r.ok() && !r->condition_failed && r->old_item) ++deleted;
      }
      if (!page->last_evaluated_key) break;
      start = page->last_evaluated_key;
    }
  }
  return deleted;
}

}  // namespace freshet::table

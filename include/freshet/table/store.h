// TableStore: DynamoDB-style tables on one RocksDB database, the in-process API that the
// DynamoDB handlers (src/api/dynamodb) and in-server writers (processing) call.
//
// Durability: every write is one RocksDB WriteBatch (item and index entries together). Item
// writes go into the WAL without a sync (with sync on, into RocksDB's WAL buffer:
// Options::manual_wal_flush); a WAL sync thread then runs DB::FlushWAL(true) (the buffer
// written out, then fsynced) once for every write that completed before it (group commit: all
// writers that arrive during one fsync share the next), and only then does a write return (or
// its async callback run). Catalog changes are written with WriteOptions::sync directly.
//
// Concurrency and ownership (lock order: catalog_mu_ -> TableState::drop_mu -> key stripes
// in ascending index -> RocksDB's own locks):
//  - catalog_mu_ (shared_mutex) guards tables_ (name -> TableState). Item operations hold it
//    only to copy a shared_ptr<TableState>.
//  - TableState::drop_mu: item writes hold it shared for their whole write; DeleteTable and
//    index backfills hold it exclusively, so no write lands after its table's key range was
//    deleted.
//  - TableState::desc is a shared_ptr<const TableDesc>, swapped under desc_mu; readers copy it.
//  - txn_mu guards the keys that in-flight transactions hold (from before they lock their
//    stripes until their write is durable); other writes of those keys fail at once with
//    kTransactionOngoing instead of waiting (TransactionConflictException).
//  - stripes_: read-modify-write of one item (conditions, updates, index maintenance) holds
//    the stripe of hash(table id, primary key); transactions lock all their stripes in
//    ascending order.
//  - The TTL thread (started by open() if ttl_interval_ms > 0) and the WAL sync thread (if
//    sync) are stopped and joined by the destructor; the sync thread answers every waiter
//    before it exits. sync_mu guards the sync queue, the sticky sync error and the round count.
// Statistics (item counts and sizes of tables and indexes) live in memory and are written
// only at a clean close, with a marker; an open without the marker (after a crash or a power
// loss) recounts them from the items, so they stay exact without a write per item. The
// recount reads a snapshot taken before the first write, on a thread of its own (owned by the
// store, joined by the destructor): open() waits for it at most
// StoreOptions::recount_wait_ms, so a large table opens at once with the statistics of the
// last clean close plus the writes since (approximate, as DynamoDB's ItemCount is), and
// they become exact when the recount ends (stats_exact()).
// All methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/table/expression.h"
#include "freshet/table/value.h"

namespace rocksdb {
class DB;
}

namespace freshet::table {

struct KeyAttr {
  std::string name;
  Type type = Type::kS;  // S, N or B
};

struct KeySchema {
  KeyAttr hash;
  std::optional<KeyAttr> range;
};

enum class ProjectionType : uint8_t { kAll, kKeysOnly, kInclude };
std::string_view projection_type_name(ProjectionType p);

struct Projection {
  ProjectionType type = ProjectionType::kAll;
  std::vector<std::string> non_key_attributes;  // kInclude
};

struct Throughput {
  int64_t read = 0;
  int64_t write = 0;
};

struct IndexDesc {
  std::string name;
  bool global = false;
  uint8_t id = 0;  // unique within the table, never reused
  KeySchema key;
  Projection projection;
  Throughput throughput;
  bool backfilling = false;
};

struct TableDesc {
  std::string name;
  uint32_t id = 0;  // assigned by create_table, never reused
  KeySchema key;
  std::vector<KeyAttr> attribute_definitions;
  bool pay_per_request = false;
  Throughput throughput;
  int64_t created_ms = 0;
  int64_t active_at_ms = 0;  // CREATING until then
  std::vector<IndexDesc> indexes;
  std::string ttl_attribute;  // empty: TTL disabled
  std::map<std::string, std::string> tags;
  bool stream_enabled = false;
  std::string stream_view_type;
  uint8_t next_index_id = 1;

  const IndexDesc* find_index(std::string_view name) const;
};

struct TableStats {
  int64_t item_count = 0;
  int64_t size_bytes = 0;
};

struct StoreOptions {
  std::string dir;
  bool sync = true;              // fsync the WAL before acknowledging (tests may turn it off)
  int64_t create_delay_ms = 0;   // CREATING -> ACTIVE
  int64_t ttl_interval_ms = 0;   // how often expired items are deleted (0: never)
  size_t block_cache_bytes = 64 << 20;
  std::function<int64_t()> now_ms;  // default: the system clock
  // The largest item collection (the items of one partition key value plus their local
  // secondary index entries) of a table with a local secondary index (DynamoDB: 10 GB).
  int64_t item_collection_limit_bytes = int64_t{10} << 30;
  // Test hook: transact_write calls it while it holds its items (after registering them as
  // in flight, before reading them), so a test can overlap another write with it.
  std::function<void()> transact_hold_hook;
  // Test hook: the WAL syncer calls it before each round's fsync, without its lock, so a test
  // can hold a round while more writes queue behind it.
  std::function<void()> before_wal_sync;
  // Test hook: the destructor closes RocksDB as a kill -9 after the last acknowledged write
  // would leave it: no statistics checkpoint, no clean-close marker, no memtable flush.
  bool close_uncleanly = false;
  // How long open() waits for the recount of statistics after an unclean shutdown before it
  // returns with approximate statistics and lets the recount finish in the background.
  int64_t recount_wait_ms = 200;
  // Test hook: the recount thread calls it after open() took the snapshot and before it
  // reads, so a test can write while a recount is under way.
  std::function<void()> before_recount;
  // Called by the recount thread when the recount ends: kOk (the statistics are exact now),
  // kClosed (the store closed first) or the read error; and the seconds it took.
  std::function<void(const Status&, double)> on_recount_done;
};

// The errors of item writes beyond validation (kInvalidArgument) and missing tables:
//  - kUnavailable, kTransactionOngoing: the item is held by an in-flight transact_write
//    (DynamoDB's TransactionConflictException);
//  - kLimitExceeded, kItemCollectionTooLarge: the write would grow an item collection past
//    item_collection_limit_bytes (ItemCollectionSizeLimitExceededException).
inline constexpr const char* kTransactionOngoing = "Transaction is ongoing for the item";
inline constexpr const char* kItemCollectionTooLarge =
    "Item collection size limit exceeded: the items of this partition key and their local "
    "secondary index entries would exceed the limit";

// What a write did. condition_failed: nothing was written.
struct WriteOutcome {
  bool condition_failed = false;
  bool wrote = false;  // something was written (a delete of a missing item writes nothing)
  std::optional<Item> old_item;  // when the item existed before (always filled)
  std::optional<Item> new_item;  // the item after the write (put/update)
  size_t old_size = 0, new_size = 0;  // DynamoDB item sizes (capacity units)
};

struct KeyRange {
  enum class Op : uint8_t { kNone, kEq, kLt, kLe, kGt, kGe, kBetween, kBeginsWith };
  Op op = Op::kNone;
  Value a, b;
};

struct QuerySpec {
  std::string table;
  std::string index;  // empty: the table
  Value hash;
  KeyRange range;
  bool forward = true;
  int64_t limit = 0;  // 0: none
  std::optional<Item> exclusive_start_key;
  const Condition* filter = nullptr;
  size_t max_page_bytes = 1 << 20;
  // The items as their stored encodings (Page::encoded) instead of decoded (Page::items).
  // REQUIRES: no filter.
  bool encoded = false;
};

struct ScanSpec {
  std::string table;
  std::string index;
  int64_t limit = 0;
  std::optional<Item> exclusive_start_key;
  const Condition* filter = nullptr;
  int32_t segment = 0, total_segments = 1;
  size_t max_page_bytes = 1 << 20;
};

struct Page {
  std::vector<Item> items;  // after the filter
  // QuerySpec::encoded: the items' stored encodings back to back (codec.h), item i ending at
  // encoded_ends[i]; items is then empty.
  std::string encoded;
  std::vector<size_t> encoded_ends;
  int64_t scanned_count = 0;
  std::optional<Item> last_evaluated_key;
  size_t bytes_read = 0;  // sum of the sizes of the items read (capacity units)
};

// One write of a batch or transaction.
struct WriteOp {
  enum class Kind : uint8_t { kPut, kDelete, kUpdate, kCheck };
  Kind kind = Kind::kPut;
  std::string table;
  Item item;  // kPut: the item; others: the key
  const UpdateExpr* update = nullptr;
  const Condition* condition = nullptr;
};

struct TransactOutcome {
  // Empty on success; else one entry per op: true where its condition failed.
  std::vector<bool> failed;
  std::vector<std::optional<Item>> old_items;  // per op, the item before
  std::vector<size_t> sizes;                   // per op, the item size written or checked
  // Non-empty when the transaction was cancelled because some of its items were held by
  // another in-flight transaction: true for those ops (failed is then all false).
  std::vector<bool> conflicted;
  bool wrote = false;
};

using WriteDone = std::function<void(Result<WriteOutcome>)>;

class TableStore {
 public:
  static Result<std::unique_ptr<TableStore>> open(StoreOptions options);
  ~TableStore();
  TableStore(const TableStore&) = delete;
  TableStore& operator=(const TableStore&) = delete;

  // ---- tables ----
  // Validates the schema (DynamoDB's messages), assigns ids, persists. kAlreadyExists if the
  // name is taken: "Table already exists: <name>".
  Result<TableDesc> create_table(TableDesc desc);
  // kNotFound: "Requested resource not found: Table: <name> not found".
  Result<TableDesc> describe_table(std::string_view name) const;
  bool is_active(const TableDesc& d) const;
  TableStats stats(std::string_view name) const;
  // False from an unclean open until its recount of the statistics has finished.
  bool stats_exact() const;
  TableStats index_stats(std::string_view name, uint8_t index_id) const;
  std::vector<std::string> list_tables() const;  // sorted
  Result<TableDesc> delete_table(std::string_view name);
  // Applies a change to the descriptor (throughput, billing, stream, TTL, tags) and persists.
  Result<TableDesc> alter_table(std::string_view name,
                                const std::function<Status(TableDesc&)>& change);
  // Adds a GSI and backfills it from the table's items before returning.
  Result<TableDesc> add_global_index(std::string_view table, IndexDesc index);
  Result<TableDesc> delete_global_index(std::string_view table, std::string_view index);

  // ---- items ----
  // DynamoDB's key and item checks with its messages (kInvalidArgument).
  static Status validate_item_keys(const TableDesc& d, const Item& item);
  static Status validate_key(const TableDesc& d, const Item& key);

  Result<WriteOutcome> put_item(std::string_view table, Item item,
                                const Condition* condition = nullptr);
  Result<WriteOutcome> delete_item(std::string_view table, const Item& key,
                                   const Condition* condition = nullptr);
  Result<WriteOutcome> update_item(std::string_view table, const Item& key,
                                   const UpdateExpr& update, const Condition* condition = nullptr);
  Result<std::optional<Item>> get_item(std::string_view table, const Item& key) const;
  // get_item without decoding: the item's stored encoding (codec.h: walk_item reads it)
  // into value, and false when there is no such item. Same errors as get_item.
  Result<bool> get_item_encoded(std::string_view table, const Item& key,
                                std::string& value) const;

  // The same writes without holding the caller's thread during the WAL fsync: the work is
  // done (and the condition evaluated) before these return; done runs once the write is
  // durable, on the WAL sync thread, or inline for errors, failed conditions and writes of
  // nothing. A concurrent reader may see the item before done runs (as with DB::SyncWAL).
  // The Condition and UpdateExpr are not used after the call returns.
  void put_item_async(std::string_view table, Item item, const Condition* condition,
                      WriteDone done);
  void delete_item_async(std::string_view table, const Item& key, const Condition* condition,
                         WriteDone done);
  void update_item_async(std::string_view table, const Item& key, const UpdateExpr& update,
                         const Condition* condition, WriteDone done);
  void batch_write_async(const std::vector<WriteOp>& ops, std::function<void(Status)> done);

  // How many WAL fsync rounds the group sync has run (each covers every write before it).
  uint64_t wal_sync_rounds() const;

  Result<Page> query(const QuerySpec& spec) const;
  Result<Page> scan(const ScanSpec& spec) const;

  // Unconditional puts and deletes on one or more tables, written with one fsync. Each op is
  // atomic; the batch as a whole is too (one WriteBatch).
  Status batch_write(const std::vector<WriteOp>& ops);
  // All-or-nothing: every condition holds and every write is applied, or nothing is.
  Result<TransactOutcome> transact_write(const std::vector<WriteOp>& ops);
  // A consistent snapshot of several items.
  Result<std::vector<std::optional<Item>>> transact_get(
      const std::vector<std::pair<std::string, Item>>& keys) const;

  // Deletes items whose TTL attribute is a number of epoch seconds before now (what the TTL
  // thread runs). Returns how many were deleted.
  Result<int64_t> expire_now();

 private:
  struct TableState;
  struct Impl;
  explicit TableStore(StoreOptions options);
  // The bodies of the writes: they write without a sync and say whether they wrote.
  Result<WriteOutcome> put_item_nowait(std::string_view table, Item item, const Condition* c);
  Result<WriteOutcome> delete_item_nowait(std::string_view table, const Item& key,
                                          const Condition* c);
  Result<WriteOutcome> update_item_nowait(std::string_view table, const Item& key,
                                          const UpdateExpr& update, const Condition* c);
  Status batch_write_nowait(const std::vector<WriteOp>& ops);
  // Registers the ops' keys as held (into *held) before it locks them; the caller releases
  // them (release_held) once the write is durable.
  Result<TransactOutcome> transact_write_nowait(const std::vector<WriteOp>& ops,
                                                std::vector<std::string>* held);
  void release_held(const std::vector<std::string>& held);
  void finish_async(Result<WriteOutcome> r, WriteDone done);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::table

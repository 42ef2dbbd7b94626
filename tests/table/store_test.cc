#include "freshet/table/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <optional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "freshet/table/codec.h"
#include "freshet/table/inspect.h"

namespace freshet::table {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("freshet_table_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    StoreOptions o;
    o.dir = dir_.string();
    o.now_ms = [this] { return now_; };
    o.recount_wait_ms = 60'000;  // statistics exact when open() returns, unless a test says
    if (tweak_) tweak_(o);
    auto s = TableStore::open(o);
    ASSERT_TRUE(s.ok()) << s.error().message();
    store_ = std::move(*s);
  }
  void create(const std::string& name, bool range = true) {
    TableDesc d;
    d.name = name;
    d.key.hash = {"pk", Type::kS};
    if (range) d.key.range = KeyAttr{"sk", Type::kN};
    d.attribute_definitions = {{"pk", Type::kS}};
    if (range) {
      d.attribute_definitions.push_back({"sk", Type::kN});
      IndexDesc gsi;
      gsi.name = "by_owner";
      gsi.global = true;
      gsi.key.hash = {"owner", Type::kS};
      gsi.key.range = KeyAttr{"sk", Type::kN};
      gsi.projection.type = ProjectionType::kKeysOnly;
      d.indexes.push_back(gsi);
      d.attribute_definitions.push_back({"owner", Type::kS});
    }
    ASSERT_TRUE(store_->create_table(d).ok());
  }
  static Item row(const std::string& pk, int sk, const std::string& owner = "") {
    Item i{{"pk", Value::s(pk)}, {"sk", Value::n(std::to_string(sk))}, {"v", Value::s("x")}};
    if (!owner.empty()) i["owner"] = Value::s(owner);
    return i;
  }

  std::filesystem::path dir_;
  std::function<void(StoreOptions&)> tweak_;  // applied by reopen()
  int64_t now_ = 1'700'000'000'000;
  std::unique_ptr<TableStore> store_;
};

TEST_F(StoreTest, PutGetDeleteSurviveReopen) {
  create("t");
  ASSERT_TRUE(store_->put_item("t", row("a", 1)).ok());
  ASSERT_TRUE(store_->put_item("t", row("a", 2)).ok());
  auto d = store_->delete_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("1")}});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->old_item.has_value());
  reopen();
  auto g = store_->get_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("2")}});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((**g).at("v"), Value::s("x"));
  EXPECT_EQ(store_->stats("t").item_count, 1);
}

TEST_F(StoreTest, KeyErrors) {
  create("t");
  Item bad = row("a", 1);
  bad.erase("sk");
  EXPECT_EQ(store_->put_item("t", bad).error().message(),
            "One or more parameter values were invalid: Missing the key sk in the item");
  bad = row("a", 1);
  bad["pk"] = Value::n("1");
  EXPECT_EQ(store_->put_item("t", bad).error().message(),
            "One or more parameter values were invalid: Type mismatch for key pk expected: S "
            "actual: N");
  EXPECT_EQ(store_->get_item("t", {{"pk", Value::s("a")}}).error().message(),
            "The provided key element does not match the schema");
  EXPECT_EQ(store_->get_item("nope", {{"pk", Value::s("a")}}).error().code(), ErrorCode::kNotFound);
  bad = row("a", 1);
  bad["big"] = Value::s(std::string(400 * 1024, 'x'));
  EXPECT_EQ(store_->put_item("t", bad).error().message(),
            "Item size has exceeded the maximum allowed size");
}

TEST_F(StoreTest, ConditionsAndUpdates) {
  create("t");
  std::map<std::string, std::string> names;
  std::map<std::string, Value> values{{":one", Value::n("1")}};
  ExpressionContext ctx(&names, &values);
  auto cond = parse_condition("attribute_not_exists(pk)", "ConditionExpression", ctx);
  ASSERT_TRUE(cond.ok());
  auto p1 = store_->put_item("t", row("a", 1), &*cond);
  ASSERT_TRUE(p1.ok());
  EXPECT_FALSE(p1->condition_failed);
  auto p2 = store_->put_item("t", row("a", 1), &*cond);
  ASSERT_TRUE(p2.ok());
  EXPECT_TRUE(p2->condition_failed);
  auto u = parse_update("ADD counter :one", ctx);
  ASSERT_TRUE(u.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->update_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("1")}}, *u).ok());
  }
  auto g = store_->get_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("1")}});
  EXPECT_EQ((**g).at("counter"), Value::n("3"));
  auto bad = parse_update("SET pk = :one", ctx);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(store_->update_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("1")}}, *bad)
                .error()
                .message(),
            "One or more parameter values were invalid: Cannot update attribute pk. This "
            "attribute is part of the key");
}

TEST_F(StoreTest, QueryRangesOrderAndPages) {
  create("t");
  for (int i = -20; i < 30; ++i) ASSERT_TRUE(store_->put_item("t", row("p", i, i % 2 ? "odd" : "even")).ok());
  ASSERT_TRUE(store_->put_item("t", row("other", 1)).ok());
  QuerySpec q;
  q.table = "t";
  q.hash = Value::s("p");
  auto all = store_->query(q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 50u);
  EXPECT_EQ(all->items.front().at("sk"), Value::n("-20"));
  q.range = {KeyRange::Op::kBetween, Value::n("-2"), Value::n("3")};
  q.forward = false;
  auto between = store_->query(q);
  ASSERT_EQ(between->items.size(), 6u);
  EXPECT_EQ(between->items.front().at("sk"), Value::n("3"));
  // Pagination with Limit.
  q.range = {};
  q.forward = true;
  q.limit = 7;
  size_t seen = 0;
  int pages = 0;
  std::optional<Item> start;
  do {
    q.exclusive_start_key = start;
    auto p = store_->query(q);
    ASSERT_TRUE(p.ok()) << p.error().message();
    seen += p->items.size();
    start = p->last_evaluated_key;
    ++pages;
  } while (start);
  EXPECT_EQ(seen, 50u);
  EXPECT_EQ(pages, 8);
  // The index follows puts, updates and deletes.
  QuerySpec qi;
  qi.table = "t";
  qi.index = "by_owner";
  qi.hash = Value::s("odd");
  EXPECT_EQ(store_->query(qi)->items.size(), 25u);
  ASSERT_TRUE(store_->put_item("t", row("p", 1, "even")).ok());
  ASSERT_TRUE(store_->delete_item("t", {{"pk", Value::s("p")}, {"sk", Value::n("3")}}).ok());
  EXPECT_EQ(store_->query(qi)->items.size(), 23u);
  EXPECT_EQ(store_->query(qi)->items[0].count("v"), 0u);  // KEYS_ONLY
}

// QuerySpec::encoded gives the stored encodings of the same items, with the same counts,
// sizes and LastEvaluatedKey, on the table and on an index, whichever way a page stops.
TEST_F(StoreTest, EncodedQueryMatchesDecodedQuery) {
  create("t");
  for (int i = 0; i < 40; ++i) {
    Item r = row("p", i, i % 3 ? "odd" : "even");
    r["n"] = Value::n(std::to_string(i * 1000) + ".5");
    ASSERT_TRUE(store_->put_item("t", r).ok());
  }
  for (bool index : {false, true}) {
    for (bool forward : {true, false}) {
      for (auto [limit, max_bytes] : {std::pair<int64_t, size_t>{0, 1 << 20}, {7, 1 << 20}, {0, 100}}) {
        QuerySpec q;
        q.table = "t";
        q.index = index ? "by_owner" : "";
        q.hash = Value::s(index ? "odd" : "p");
        q.forward = forward;
        q.limit = limit;
        q.max_page_bytes = max_bytes;
        auto decoded = store_->query(q);
        q.encoded = true;
        auto encoded = store_->query(q);
        ASSERT_TRUE(decoded.ok() && encoded.ok());
        EXPECT_TRUE(encoded->items.empty());
        ASSERT_EQ(encoded->encoded_ends.size(), decoded->items.size());
        ASSERT_FALSE(decoded->items.empty());
        size_t begin = 0;
        for (size_t i = 0; i < decoded->items.size(); ++i) {
          auto item = decode_item(
              std::string_view(encoded->encoded).substr(begin, encoded->encoded_ends[i] - begin));
          ASSERT_TRUE(item.ok());
          EXPECT_EQ(*item, decoded->items[i]);
          begin = encoded->encoded_ends[i];
        }
        EXPECT_EQ(begin, encoded->encoded.size());
        EXPECT_EQ(encoded->scanned_count, decoded->scanned_count);
        EXPECT_EQ(encoded->bytes_read, decoded->bytes_read);
        EXPECT_EQ(encoded->last_evaluated_key, decoded->last_evaluated_key);
        EXPECT_EQ(encoded->last_evaluated_key.has_value(), limit > 0 || max_bytes == 100);
      }
    }
  }
  // get_item_encoded: the stored bytes of get_item's item, or false.
  std::string value;
  auto found = store_->get_item_encoded("t", {{"pk", Value::s("p")}, {"sk", Value::n("5")}}, value);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ(*decode_item(value), **store_->get_item("t", {{"pk", Value::s("p")}, {"sk", Value::n("5")}}));
  found = store_->get_item_encoded("t", {{"pk", Value::s("p")}, {"sk", Value::n("99")}}, value);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(*found);
  EXPECT_FALSE(store_->get_item_encoded("t", {{"pk", Value::s("p")}}, value).ok());  // key error
  EXPECT_FALSE(store_->get_item_encoded("nope", {{"pk", Value::s("p")}}, value).ok());
}

TEST_F(StoreTest, ParallelScanCoversEverythingOnce) {
  create("t", false);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(store_->put_item("t", {{"pk", Value::s("k" + std::to_string(i))}}).ok());
  }
  std::set<std::string> seen;
  for (int s = 0; s < 4; ++s) {
    ScanSpec sp;
    sp.table = "t";
    sp.segment = s;
    sp.total_segments = 4;
    sp.limit = 50;
    std::optional<Item> start;
    do {
      sp.exclusive_start_key = start;
      auto p = store_->scan(sp);
      ASSERT_TRUE(p.ok());
      for (auto& it : p->items) EXPECT_TRUE(seen.insert(it.at("pk").str()).second);
      start = p->last_evaluated_key;
    } while (start);
  }
  EXPECT_EQ(seen.size(), 300u);
}

TEST_F(StoreTest, TransactionsAreAllOrNothing) {
  create("t");
  std::map<std::string, std::string> names;
  std::map<std::string, Value> values;
  ExpressionContext ctx(&names, &values);
  auto not_exists = parse_condition("attribute_not_exists(pk)", "ConditionExpression", ctx);
  ASSERT_TRUE(store_->put_item("t", row("a", 1)).ok());
  std::vector<WriteOp> ops(2);
  ops[0].table = "t";
  ops[0].item = row("b", 1);
  ops[1].table = "t";
  ops[1].item = row("a", 1);
  ops[1].condition = &*not_exists;
  auto r = store_->transact_write(ops);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->failed.size(), 2u);
  EXPECT_FALSE(r->failed[0]);
  EXPECT_TRUE(r->failed[1]);
  EXPECT_FALSE(store_->get_item("t", {{"pk", Value::s("b")}, {"sk", Value::n("1")}})->has_value());
  ops[1].condition = nullptr;
  r = store_->transact_write(ops);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->failed.empty());
  EXPECT_TRUE(store_->get_item("t", {{"pk", Value::s("b")}, {"sk", Value::n("1")}})->has_value());
}

TEST_F(StoreTest, TtlExpiresOnlyPastItems) {
  create("t", false);
  ASSERT_TRUE(store_->alter_table("t", [](TableDesc& d) {
    d.ttl_attribute = "exp";
    return Status();
  }).ok());
  const int64_t now_s = now_ / 1000;
  ASSERT_TRUE(store_->put_item("t", {{"pk", Value::s("old")}, {"exp", Value::n(std::to_string(now_s - 5))}}).ok());
  ASSERT_TRUE(store_->put_item("t", {{"pk", Value::s("new")}, {"exp", Value::n(std::to_string(now_s + 50))}}).ok());
  ASSERT_TRUE(store_->put_item("t", {{"pk", Value::s("none")}}).ok());
  auto n = store_->expire_now();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(store_->stats("t").item_count, 2);
}

TEST_F(StoreTest, ConcurrentWritersAllLand) {
  create("t", false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = store_->put_item("t", {{"pk", Value::s(std::to_string(t) + "-" + std::to_string(i))}});
        EXPECT_TRUE(r.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->stats("t").item_count, 400);
  reopen();
  EXPECT_EQ(store_->stats("t").item_count, 400);
}

TEST_F(StoreTest, StatisticsSurviveReopenAfterLargeBatches) {
  create("t", false);
  for (int b = 0; b < 5; ++b) {
    std::vector<WriteOp> ops;
    for (int i = 0; i < 1000; ++i) {
      WriteOp op;
      op.table = "t";
      op.item = {{"pk", Value::s(std::to_string(b) + "-" + std::to_string(i))}};
      ops.push_back(std::move(op));
    }
    ASSERT_TRUE(store_->batch_write(ops).ok());
  }
  EXPECT_EQ(store_->stats("t").item_count, 5000);
  reopen();
  EXPECT_EQ(store_->stats("t").item_count, 5000);
}

// Statistics live in memory and reach the database only at a clean close; after an unclean
// one (what a kill -9 after the last acknowledged write leaves) open() recounts them from the
// items, index entries included.
TEST_F(StoreTest, StatisticsRecountedAfterUncleanClose) {
  create("t");  // with the GSI by_owner on (owner, sk)
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store_->put_item("t", row("p" + std::to_string(i % 4), i, i % 3 ? "o" : "")).ok());
  }
  ASSERT_TRUE(store_->put_item("t", row("p0", 0, "o2")).ok());  // overwrite, enters the index
  ASSERT_TRUE(store_->delete_item("t", {{"pk", Value::s("p1")}, {"sk", Value::n("1")}}).ok());
  const TableStats want = store_->stats("t");
  const TableStats want_index = store_->index_stats("t", 1);
  EXPECT_EQ(want.item_count, 29);
  EXPECT_EQ(want_index.item_count, 20);  // i % 3 != 0 (20 of 30), +p0/0, -p1/1
  auto crash_after_writes = [&](const std::function<void()>& writes) {
    tweak_ = [](StoreOptions& o) { o.close_uncleanly = true; };
    reopen();  // closes the previous store cleanly, opens one that will not close cleanly
    writes();
    tweak_ = nullptr;
    reopen();
  };
  crash_after_writes([] {});
  EXPECT_EQ(store_->stats("t").item_count, want.item_count);
  EXPECT_EQ(store_->stats("t").size_bytes, want.size_bytes);
  EXPECT_EQ(store_->index_stats("t", 1).item_count, want_index.item_count);
  EXPECT_EQ(store_->index_stats("t", 1).size_bytes, want_index.size_bytes);
  // The open after a clean close consumes its marker: writes after it, then a crash, must
  // not be answered with the statistics of that clean close.
  crash_after_writes([&] {
    ASSERT_TRUE(store_->put_item("t", row("q", 1, "o")).ok());
    ASSERT_TRUE(store_->delete_item("t", {{"pk", Value::s("p2")}, {"sk", Value::n("2")}}).ok());
    ASSERT_TRUE(store_->delete_item("t", {{"pk", Value::s("p3")}, {"sk", Value::n("3")}}).ok());
  });
  EXPECT_EQ(store_->stats("t").item_count, 28);
  EXPECT_EQ(store_->index_stats("t", 1).item_count, 20);  // +q/1, -p2/2, -p3/3 (3 % 3 == 0)
  const TableStats after = store_->stats("t");
  reopen();  // clean: the checkpointed statistics, no recount
  EXPECT_EQ(store_->stats("t").item_count, after.item_count);
  EXPECT_EQ(store_->stats("t").size_bytes, after.size_bytes);
  // verify compares the stored statistics only after a clean close; both states check out.
  store_.reset();
  auto r = inspect_tables(dir_.string(), false, [](std::string_view) {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();
  EXPECT_EQ(r->items, 28);
  tweak_ = [](StoreOptions& o) { o.close_uncleanly = true; };
  reopen();
  ASSERT_TRUE(store_->put_item("t", row("z", 9)).ok());
  store_.reset();
  r = inspect_tables(dir_.string(), false, [](std::string_view) {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();
  tweak_ = nullptr;
  reopen();
  EXPECT_EQ(store_->stats("t").item_count, 29);
}

TEST_F(StoreTest, RecountAfterAnUncleanOpenRunsBesideWrites) {
  // After a crash the statistics are recounted on a thread of their own, from a snapshot
  // taken by open(): writes made while the recount runs are neither counted twice nor lost.
  create("t");  // with the GSI by_owner: rows with an owner are in it
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_->put_item("t", row("p" + std::to_string(i % 5), i, i % 2 ? "o" : "")).ok());
  }
  tweak_ = [](StoreOptions& o) { o.close_uncleanly = true; };
  reopen();  // a clean close stores 40 / 20; this store will crash
  for (int i = 40; i < 50; ++i) {
    ASSERT_TRUE(store_->put_item("t", row("p" + std::to_string(i % 5), i, i % 2 ? "o" : "")).ok());
  }
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, release = false;
  tweak_ = [&](StoreOptions& o) {
    o.recount_wait_ms = 0;
    o.before_recount = [&] {
      std::unique_lock<std::mutex> l(mu);
      held = true;
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    };
  };
  reopen();  // the crash; the recount is held
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return held; });
  }
  EXPECT_FALSE(store_->stats_exact());
  EXPECT_EQ(store_->stats("t").item_count, 40);  // the last clean close's, until the recount
  EXPECT_EQ(store_->index_stats("t", 1).item_count, 20);
  ASSERT_TRUE(store_->put_item("t", row("q1", 1, "o")).ok());  // +1 item, +1 entry
  ASSERT_TRUE(store_->put_item("t", row("q2", 2)).ok());       // +1 item
  ASSERT_TRUE(store_->delete_item("t", {{"pk", Value::s("p0")}, {"sk", Value::n("0")}}).ok());
  ASSERT_TRUE(store_->put_item("t", row("p1", 1)).ok());  // leaves the index
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 1000 && !store_->stats_exact(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(store_->stats_exact());
  EXPECT_EQ(store_->stats("t").item_count, 51);  // 50 + 2 - 1
  EXPECT_EQ(store_->index_stats("t", 1).item_count, 25);  // 25 + 1 - 1
  const TableStats table = store_->stats("t");
  const TableStats index = store_->index_stats("t", 1);
  // A recount with no writes beside it agrees, sizes included.
  tweak_ = [](StoreOptions& o) { o.close_uncleanly = true; };
  reopen();
  tweak_ = nullptr;
  reopen();
  ASSERT_TRUE(store_->stats_exact());  // open() waited for the recount
  EXPECT_EQ(store_->stats("t").item_count, table.item_count);
  EXPECT_EQ(store_->stats("t").size_bytes, table.size_bytes);
  EXPECT_EQ(store_->index_stats("t", 1).item_count, index.item_count);
  EXPECT_EQ(store_->index_stats("t", 1).size_bytes, index.size_bytes);
}

TEST_F(StoreTest, AsyncWritersShareWalSyncs) {
  // The first round's fsync is held until every write is queued (on tmpfs or a fast disk an
  // unheld syncer may take them one per round), so the rest must share the next round.
  std::mutex hold_mu;
  std::condition_variable hold_cv;
  bool armed = false, release = false;
  int syncs = 0;
  tweak_ = [&](StoreOptions& o) {
    o.before_wal_sync = [&] {
      std::unique_lock<std::mutex> l(hold_mu);
      if (armed && ++syncs == 1) hold_cv.wait(l, [&] { return release; });
    };
  };
  reopen();
  create("t", false);
  const uint64_t before = store_->wal_sync_rounds();
  {
    std::lock_guard<std::mutex> l(hold_mu);
    armed = true;
  }
  std::atomic<int> done{0}, failed{0};
  std::mutex mu;
  std::condition_variable cv;
  constexpr int kWrites = 64;
  for (int i = 0; i < kWrites; ++i) {
    store_->put_item_async("t", {{"pk", Value::s("a" + std::to_string(i))}}, nullptr,
                           [&](Result<WriteOutcome> r) {
                             if (!r.ok() || !r->wrote) failed.fetch_add(1);
                             std::lock_guard<std::mutex> l(mu);
                             done.fetch_add(1);
                             cv.notify_all();
                           });
  }
  {
    std::lock_guard<std::mutex> l(hold_mu);
    release = true;
  }
  hold_cv.notify_all();
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return done.load() == kWrites; }));
  EXPECT_EQ(failed.load(), 0);
  // Writes issued back to back while a round is in flight share the next round's fsync: the
  // held round plus one more (each round takes every write queued before it starts).
  const uint64_t rounds = store_->wal_sync_rounds() - before;
  EXPECT_GE(rounds, 1u);
  EXPECT_LE(rounds, 2u);
  // A failed condition or a delete of nothing answers at once, without a sync.
  std::map<std::string, std::string> names;
  std::map<std::string, Value> values;
  ExpressionContext ctx(&names, &values);
  auto cond = parse_condition("attribute_not_exists(pk)", "ConditionExpression", ctx);
  bool answered = false;
  store_->put_item_async("t", {{"pk", Value::s("a1")}}, &*cond, [&](Result<WriteOutcome> r) {
    answered = r.ok() && r->condition_failed && !r->wrote;
  });
  EXPECT_TRUE(answered);
}

// A durable write's sync round writes nothing to RocksDB's LOG (at the library's default
// DEBUG level every FlushWAL logged a line: a formatted write(2) per round).
TEST_F(StoreTest, WalSyncRoundsLogNothing) {
  create("t", false);
  const uint64_t before = store_->wal_sync_rounds();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store_->put_item("t", {{"pk", Value::s("k" + std::to_string(i))}}).ok());
  }
  EXPECT_GE(store_->wal_sync_rounds() - before, 10u);  // one per put (the count may lag the last)
  store_.reset();  // the logger is flushed at close
  std::ifstream log(dir_ / "LOG");
  ASSERT_TRUE(log.good());
  std::string line;
  int lines = 0, flush_wal = 0, debug = 0;
  while (std::getline(log, line)) {
    ++lines;
    flush_wal += line.find("FlushWAL") != std::string::npos;
    debug += line.find("[DEBUG]") != std::string::npos;
  }
  EXPECT_GT(lines, 0);
  EXPECT_EQ(flush_wal, 0);
  EXPECT_EQ(debug, 0);
}

// The levels recent items live in (L0 from memtable flushes, and L1) are not compressed:
// reads of recent items that miss the block cache decompress nothing. RocksDB writes the
// options it runs with to an OPTIONS file.
TEST_F(StoreTest, RecentLevelsAreNotCompressed) {
  store_.reset();
  std::string options;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().filename().string().rfind("OPTIONS-", 0) != 0) continue;
    std::ifstream f(e.path());
    options.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  ASSERT_FALSE(options.empty());
  EXPECT_NE(options.find("compression_per_level=kNoCompression:kNoCompression:kSnappyCompression"),
            std::string::npos);
}

// The newest OPTIONS file RocksDB wrote in dir (its name and text).
std::pair<std::filesystem::path, std::string> latest_options(const std::filesystem::path& dir) {
  std::filesystem::path newest;
  uint64_t newest_n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("OPTIONS-", 0) != 0 || name.find(".dbtmp") != std::string::npos) continue;
    const uint64_t n = std::stoull(name.substr(8));
    if (newest.empty() || n > newest_n) {
      newest = e.path();
      newest_n = n;
    }
  }
  std::ifstream f(newest);
  return {newest, std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>())};
}

// A new store uses dynamic level sizes; a store created without them (every store before
// they were turned on) keeps them off, as RocksDB advises.
TEST_F(StoreTest, DynamicLevelSizesOnlyForNewStores) {
  create("t");
  ASSERT_TRUE(store_->put_item("t", row("p", 1, "o")).ok());
  store_.reset();
  auto [path, text] = latest_options(dir_);
  const std::string on = "level_compaction_dynamic_level_bytes=true";
  const std::string off = "level_compaction_dynamic_level_bytes=false";
  const size_t at = text.find(on);
  ASSERT_NE(at, std::string::npos);
  reopen();
  store_.reset();
  EXPECT_NE(latest_options(dir_).second.find(on), std::string::npos);  // kept on
  // The same store as if an older version had created it.
  std::tie(path, text) = latest_options(dir_);
  text.replace(text.find(on), on.size(), off);
  std::ofstream(path, std::ios::trunc) << text;
  for (int i = 0; i < 2; ++i) {
    reopen();
    auto got = store_->get_item("t", {{"pk", Value::s("p")}, {"sk", Value::n("1")}});
    ASSERT_TRUE(got.ok() && got->has_value());
    store_.reset();
    const std::string now = latest_options(dir_).second;
    EXPECT_NE(now.find(off), std::string::npos) << i;
    EXPECT_EQ(now.find(on), std::string::npos) << i;
  }
}

TEST_F(StoreTest, InspectVerifiesAClosedStore) {
  create("t");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->put_item("t", row("p", i, "o")).ok());
  store_.reset();
  std::vector<std::string> lines;
  auto r = inspect_tables(dir_.string(), true, [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->tables, 1);
  EXPECT_EQ(r->items, 10);
  EXPECT_EQ(r->index_entries, 10);
  EXPECT_TRUE(r->problems.empty());
  EXPECT_EQ(lines.size(), 11u);
}


// A transaction in flight holds its items: single writes and batches of them fail with
// kTransactionOngoing, an overlapping transaction is cancelled with its conflicting ops
// marked, and a disjoint transaction goes through.
TEST_F(StoreTest, ItemsHeldByAnInFlightTransactionConflict) {
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  int calls = 0;
  tweak_ = [&](StoreOptions& o) {
    o.transact_hold_hook = [&] {
      std::unique_lock<std::mutex> l(mu);
      if (++calls > 1) return;  // only the first transaction stays in flight
      holding = true;
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    };
  };
  reopen();
  create("t");
  ASSERT_TRUE(store_->put_item("t", row("a", 1)).ok());
  std::vector<WriteOp> first(2);
  first[0].table = first[1].table = "t";
  first[0].item = row("a", 1, "new");
  first[1].item = row("b", 1);
  std::optional<Result<TransactOutcome>> r1;
  std::thread t([&] { r1.emplace(store_->transact_write(first)); });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return holding; });
  }
  auto p = store_->put_item("t", row("a", 1));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(p.error().message(), kTransactionOngoing);
  auto d = store_->delete_item("t", {{"pk", Value::s("b")}, {"sk", Value::n("1")}});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), ErrorCode::kUnavailable);
  std::vector<WriteOp> batch(1);
  batch[0].table = "t";
  batch[0].item = row("b", 1);
  EXPECT_EQ(store_->batch_write(batch).error().code(), ErrorCode::kUnavailable);
  // Overlapping on b: cancelled, nothing written.
  std::vector<WriteOp> second(2);
  second[0].table = second[1].table = "t";
  second[0].item = row("c", 1);
  second[1].item = row("b", 1, "other");
  auto r2 = store_->transact_write(second);
  ASSERT_TRUE(r2.ok()) << r2.error().message();
  EXPECT_EQ(r2->conflicted, (std::vector<bool>{false, true}));
  EXPECT_FALSE(r2->wrote);
  auto c = store_->get_item("t", {{"pk", Value::s("c")}, {"sk", Value::n("1")}});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
  // Disjoint: goes through while the first is still in flight.
  std::vector<WriteOp> third(1);
  third[0].table = "t";
  third[0].item = row("d", 1);
  auto r3 = store_->transact_write(third);
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->conflicted.empty());
  EXPECT_TRUE(r3->wrote);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  t.join();
  ASSERT_TRUE(r1->ok());
  EXPECT_TRUE((*r1)->wrote);
  auto a = store_->get_item("t", {{"pk", Value::s("a")}, {"sk", Value::n("1")}});
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((**a).at("owner"), Value::s("new"));
  // Released once durable: a single write of a works again.
  EXPECT_TRUE(store_->put_item("t", row("a", 1)).ok());
}

// With a local secondary index, the items of one partition key and their LSI entries may not
// grow past item_collection_limit_bytes; other partition keys, deletes and tables without an
// LSI are unaffected, and the sizes survive a reopen.
TEST_F(StoreTest, ItemCollectionSizeLimitWithALocalIndex) {
  tweak_ = [](StoreOptions& o) { o.item_collection_limit_bytes = 3500; };
  reopen();
  TableDesc d;
  d.name = "lsi";
  d.key.hash = {"pk", Type::kS};
  d.key.range = KeyAttr{"sk", Type::kN};
  d.attribute_definitions = {{"pk", Type::kS}, {"sk", Type::kN}, {"at", Type::kS}};
  IndexDesc lsi;
  lsi.name = "by_at";
  lsi.key.hash = {"pk", Type::kS};
  lsi.key.range = KeyAttr{"at", Type::kS};
  d.indexes.push_back(lsi);
  ASSERT_TRUE(store_->create_table(d).ok());
  create("plain", false);
  auto big = [](const std::string& pk, int sk) {
    // About 500 bytes, and as much again in the LSI (projection ALL): ~1000 per item.
    return Item{{"pk", Value::s(pk)}, {"sk", Value::n(std::to_string(sk))},
                {"at", Value::s("x")}, {"blob", Value::s(std::string(480, 'b'))}};
  };
  int written = 0;
  Status last;
  for (int i = 0; i < 10; ++i) {
    auto r = store_->put_item("lsi", big("a", i));
    if (!r.ok()) {
      last = r.error();
      break;
    }
    ++written;
  }
  EXPECT_EQ(written, 3);  // 3 x ~990 fit in 3500, a fourth would pass it
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(last.error().message(), kItemCollectionTooLarge);
  auto missing = store_->get_item("lsi", {{"pk", Value::s("a")}, {"sk", Value::n("3")}});
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(store_->stats("lsi").item_count, 3);
  EXPECT_TRUE(store_->put_item("lsi", big("other", 0)).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->put_item("plain", {{"pk", Value::s("a")},
                                           {"blob", Value::s(std::string(480, 'b'))}})
                    .ok());
  }
  reopen();
  EXPECT_FALSE(store_->put_item("lsi", big("a", 3)).ok());
  ASSERT_TRUE(store_->delete_item("lsi", {{"pk", Value::s("a")}, {"sk", Value::n("0")}}).ok());
  EXPECT_TRUE(store_->put_item("lsi", big("a", 3)).ok());
  // A transaction and a batch are held to the limit too.
  std::vector<WriteOp> ops(1);
  ops[0].table = "lsi";
  ops[0].item = big("a", 4);
  auto tr = store_->transact_write(ops);
  ASSERT_FALSE(tr.ok());
  EXPECT_EQ(tr.error().message(), kItemCollectionTooLarge);
  EXPECT_EQ(store_->batch_write(ops).error().message(), kItemCollectionTooLarge);
}

// Index statistics are read (DescribeTable) and updated (writes) while another thread adds or
// deletes a global index: the new index's counts come from its backfill plus the writes after
// it (a write checked before the index was added still maintains it), and a deleted index
// reports nothing.
TEST_F(StoreTest, IndexStatisticsWhileGlobalIndexesComeAndGo) {
  create("t");  // by_owner is index 1
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store_->put_item("t", row("p", i, "o")).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 100; !stop; ++i) {
      Item item = row("w", i, "o");
      item["tag"] = Value::s("g");
      if (store_->put_item("t", item).ok()) ++written;
    }
  });
  std::thread batcher([&] {  // batch_write checks its ops before it takes the drop lock
    for (int i = 100; !stop; i += 2) {
      std::vector<WriteOp> ops(2);
      for (int k = 0; k < 2; ++k) {
        ops[k].table = "t";
        ops[k].item = row("b", i + k, "o");
        ops[k].item["tag"] = Value::s("g");
      }
      if (store_->batch_write(ops).ok()) written += 2;
    }
  });
  std::thread reader([&] {
    while (!stop) {
      for (uint8_t id = 1; id < 4; ++id) {
        TableStats s = store_->index_stats("t", id);
        EXPECT_GE(s.item_count, 0);
      }
    }
  });
  IndexDesc by_tag;
  by_tag.name = "by_tag";
  by_tag.key.hash = {"tag", Type::kS};
  by_tag.projection.type = ProjectionType::kKeysOnly;
  auto added = store_->add_global_index("t", by_tag);
  ASSERT_TRUE(added.ok()) << added.error().message();
  const uint8_t id = added->find_index("by_tag")->id;
  ASSERT_TRUE(store_->delete_global_index("t", "by_owner").ok());
  while (written < 20) std::this_thread::yield();
  stop = true;
  writer.join();
  batcher.join();
  reader.join();
  EXPECT_EQ(store_->index_stats("t", 1).item_count, 0);  // deleted
  EXPECT_EQ(store_->index_stats("t", id).item_count, written.load());
  EXPECT_EQ(store_->stats("t").item_count, 50 + written.load());
}

}  // namespace
}  // namespace freshet::table

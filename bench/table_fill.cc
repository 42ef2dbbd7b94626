// Fills a table store directly through table::TableStore (no HTTP), for the start-up and
// memory targets: a 10-million-item table must open in under 1 s and serve in under 500 MiB.
//
//   table_fill --dir DATA/tables --items 10000000 --item-size 200 [--batch 1000]
//              [--op batch|put] [--gets N] [--no-sync] [--no-reopen] [--table big]
//              [--sort-key]
//
// Creates the table (pk S; with --sort-key also sk N, every item's sk 0, the schema of
// bench/table_load's keys, so `table_load --op get --table T --keys N` reads them over HTTP)
// if missing and writes items k0..k<items-1> in synced batches
// (--op put: one put_item per item instead). Then reopens the store and prints the open time
// and this process's RSS. --gets N reads N items (pseudo-random keys among those written)
// through get_item after the fill. --no-sync and --no-reopen make it a store-only workload
// for instruction counts (valgrind --tool=callgrind): the same instructions, no fsync waits.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "freshet/table/store.h"

using Clock = std::chrono::steady_clock;

namespace {
long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir = "tables";
  long items = 1'000'000;
  int item_size = 200, batch = 1000;
  std::string op_name = "batch";
  long gets = 0;
  bool sync = true, reopen = true, sort_key = false;
  std::string table = "big";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--dir") dir = next();
    else if (k == "--items") items = std::stol(next());
    else if (k == "--item-size") item_size = std::stoi(next());
    else if (k == "--batch") batch = std::stoi(next());
    else if (k == "--op") op_name = next();
    else if (k == "--gets") gets = std::stol(next());
    else if (k == "--no-sync") sync = false;
    else if (k == "--no-reopen") reopen = false;
    else if (k == "--table") table = next();
    else if (k == "--sort-key") sort_key = true;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  using namespace freshet::table;
  {
    StoreOptions o;
    o.dir = dir;
    o.sync = sync;
    auto store = TableStore::open(o);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.error().to_string().c_str());
      return 1;
    }
    TableDesc d;
    d.name = table;
    d.key.hash = {"pk", Type::kS};
    d.attribute_definitions = {{"pk", Type::kS}};
    if (sort_key) {
      d.key.range = KeyAttr{"sk", Type::kN};
      d.attribute_definitions.push_back({"sk", Type::kN});
    }
    d.pay_per_request = true;
    (void)(*store)->create_table(d);
    const std::string data(static_cast<size_t>(std::max(1, item_size - 20)), 'x');
    auto make_item = [&](long k) {
      Item item{{"pk", Value::s("k" + std::to_string(k))}, {"data", Value::s(data)}};
      if (sort_key) item["sk"] = Value::n("0");
      return item;
    };
    auto make_key = [&](long k) {
      Item key{{"pk", Value::s("k" + std::to_string(k))}};
      if (sort_key) key["sk"] = Value::n("0");
      return key;
    };
    const auto t0 = Clock::now();
    if (op_name == "put") {
      for (long k = 0; k < items; ++k) {
        auto r = (*store)->put_item(table, make_item(k));
        if (!r.ok()) {
          std::fprintf(stderr, "put_item: %s\n", r.error().to_string().c_str());
          return 1;
        }
      }
    }
    for (long i = 0; op_name == "batch" && i < items; i += batch) {
      std::vector<WriteOp> ops;
      for (long k = i; k < std::min(items, i + batch); ++k) {
        WriteOp op;
        op.table = table;
        op.item = make_item(k);
        ops.push_back(std::move(op));
      }
      freshet::Status s = (*store)->batch_write(ops);
      if (!s.ok()) {
        std::fprintf(stderr, "batch_write: %s\n", s.to_string().c_str());
        return 1;
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("filled items=%ld seconds=%.1f items_per_s=%.0f item_count=%lld\n", items, secs,
                items / secs, static_cast<long long>((*store)->stats(table).item_count));
    if (gets > 0) {
      const auto g0 = Clock::now();
      long found = 0;
      uint64_t x = 88172645463325252ull;  // xorshift: the same keys every run
      for (long g = 0; g < gets; ++g) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        auto r = (*store)->get_item(table, make_key(static_cast<long>(x % items)));
        if (r.ok() && *r) ++found;
      }
      const double gs = std::chrono::duration<double>(Clock::now() - g0).count();
      std::printf("gets=%ld found=%ld gets_per_s=%.0f\n", gets, found, gets / gs);
    }
  }
  if (!reopen) return 0;
  const auto t1 = Clock::now();
  StoreOptions o;
  o.dir = dir;
  auto store = TableStore::open(o);
  const double open_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (!store.ok()) return 1;
  std::printf("reopen_seconds=%.3f rss_mib=%.1f item_count=%lld\n", open_s, rss_kib() / 1024.0,
              static_cast<long long>((*store)->stats(table).item_count));
  return 0;
}

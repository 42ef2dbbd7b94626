// Fills a table store directly through table::TableStore (no HTTP), for the start-up and
// memory targets: a 10-million-item table must open in under 1 s and serve in under 500 MiB.
//
//   table_fill --dir DATA/tables --items 10000000 --item-size 200 [--batch 1000]
//
// Creates table "big" (pk S) if missing and writes items k0..k<items-1> in synced batches.
// Then reopens the store and prints the open time and this process's RSS.
#include <sys/resource.h>

#include <chrono>
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
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--dir") dir = next();
    else if (k == "--items") items = std::stol(next());
    else if (k == "--item-size") item_size = std::stoi(next());
    else if (k == "--batch") batch = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  using namespace freshet::table;
  {
    StoreOptions o;
    o.dir = dir;
    auto store = TableStore::open(o);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.error().to_string().c_str());
      return 1;
    }
    TableDesc d;
    d.name = "big";
    d.key.hash = {"pk", Type::kS};
    d.attribute_definitions = {{"pk", Type::kS}};
    d.pay_per_request = true;
    (void)(*store)->create_table(d);
    const std::string data(static_cast<size_t>(std::max(1, item_size - 20)), 'x');
    const auto t0 = Clock::now();
    for (long i = 0; i < items; i += batch) {
      std::vector<WriteOp> ops;
      for (long k = i; k < std::min(items, i + batch); ++k) {
        WriteOp op;
        op.table = "big";
        op.item = {{"pk", Value::s("k" + std::to_string(k))}, {"data", Value::s(data)}};
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
                items / secs, static_cast<long long>((*store)->stats("big").item_count));
  }
  const auto t1 = Clock::now();
  StoreOptions o;
  o.dir = dir;
  auto store = TableStore::open(o);
  const double open_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (!store.ok()) return 1;
  std::printf("reopen_seconds=%.3f rss_mib=%.1f item_count=%lld\n", open_s, rss_kib() / 1024.0,
              static_cast<long long>((*store)->stats("big").item_count));
  return 0;
}

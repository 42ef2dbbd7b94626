// Internal: the merge operator that sums table statistics deltas. Every opener of the
// database (the store, and freshet table dump|verify) must set it, or RocksDB cannot replay
// the WAL's merge records.
#pragma once

#include <rocksdb/merge_operator.h>

#include <cstring>
#include <string>

namespace freshet::table {

// Statistics deltas: two little-endian int64 (items, bytes), summed by the merge operator.
class StatsAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t a[2] = {0, 0}, b[2] = {0, 0};
    if (existing != nullptr && existing->size() == 16) std::memcpy(a, existing->data(), 16);
    if (value.size() == 16) std::memcpy(b, value.data(), 16);
    a[0] += b[0];
    a[1] += b[1];
    new_value->assign(reinterpret_cast<const char*>(a), 16);
    return true;
  }
  const char* Name() const override { return "freshet.StatsAdd"; }
};


}  // namespace freshet::table

// Offline inspection of a table store directory (freshet table dump|verify), reading RocksDB
// read-only without the server.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::table {

struct InspectReport {
  int64_t tables = 0;
  int64_t items = 0;
  int64_t index_entries = 0;
  std::vector<std::string> problems;  // empty: everything checked out
};

// Walks every catalog entry, item and index entry: decodes each value (CRC, structure),
// recomputes each item's key from its attributes, checks that index entries point at
// existing items and that the stored statistics match the counted items. With dump, writes
// one line per table and per item (DynamoDB JSON) to out.
Result<InspectReport> inspect_tables(const std::string& dir, bool dump,
                                     const std::function<void(std::string_view)>& out);

}  // namespace freshet::table

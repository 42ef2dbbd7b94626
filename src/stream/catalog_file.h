// The catalog file: every stream, shard, tag, consumer, policy and setting, as one JSON
// document (<data-dir>/catalog.json, format in docs/format.md). Rewritten atomically.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/result.h"
#include "freshet/stream/engine.h"

namespace freshet::stream {

struct CatalogData {
  uint64_t next_epoch = 1;
  AccountSettings account;
  struct StreamEntry {
    StreamInfo info;
    int64_t status_until_ms = 0;  // when the current transitional status ends
    uint64_t next_shard_index = 0;
  };
  std::vector<StreamEntry> streams;
  std::map<std::string, std::string> policies;  // ARN -> policy JSON text
};

std::string encode_catalog(const CatalogData& data);
Result<CatalogData> decode_catalog(std::string_view json);

}  // namespace freshet::stream

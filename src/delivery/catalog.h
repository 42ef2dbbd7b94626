// Persistence of delivery streams: one JSON file per stream (streams/<name>.json) and one
// delivery-state file per stream (state/<name>.<create_ms>), each replaced atomically
// (temp file, fsync, rename, fsync directory). Formats: docs/format.md, "Firehose".
#pragma once

#include <optional>
#include <string>

#include "freshet/common/file.h"
#include "freshet/delivery/delivery.h"

namespace freshet::delivery {

std::string encode_stream(const DeliveryStreamInfo& info);
Result<DeliveryStreamInfo> decode_stream(std::string_view json);

// Where delivery stands: records before `delivered` are in objects. A batch being written
// (pending) keeps its offsets, its time and the seed of its object names, so a retry after a
// crash writes the same objects under the same keys.
struct DeliveryState {
  uint64_t delivered = 0;
  bool pending = false;
  uint64_t pending_end = 0;
  int64_t pending_time_ms = 0;  // arrival of the batch's oldest record
  uint64_t pending_seed = 0;
  uint64_t pending_version = 0;
};
std::string encode_state(const DeliveryState& s);
Result<DeliveryState> decode_state(std::string_view text);

}  // namespace freshet::delivery

// Offline inspection of a log directory or a single segment file, without a server:
// `freshet log dump PATH` and `freshet log verify PATH`.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "freshet/common/file.h"
#include "freshet/common/result.h"

namespace freshet::log {

struct VerifyReport {
  size_t segments = 0;
  size_t batches = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t first_offset = 0;
  uint64_t next_offset = 0;
  std::vector<std::string> problems;  // empty when everything checked out
  bool ok() const { return problems.empty(); }
};

struct DumpOptions {
  bool records = true;        // print each record, not only batch headers
  size_t data_preview = 64;   // bytes of data shown per record (escaped)
};

// Checks every batch's header and payload CRC, offset continuity within and across segments,
// and that each sealed segment's index files are intact and point at the right batches.
// Prints a progress line per segment to `progress` when given.
Result<VerifyReport> verify_log(FileSystem& fs, const std::string& path, std::ostream* progress);

// Prints batches (and records) of every segment under path. Stops at the first bad batch of
// a segment, printing why.
Status dump_log(FileSystem& fs, const std::string& path, const DumpOptions& options,
                std::ostream& out);

}  // namespace freshet::log

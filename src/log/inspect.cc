#include "freshet/log/inspect.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "format.h"
#include "segment.h"

namespace freshet::log {
namespace {

struct SegmentFile {
  std::string dir;
  uint64_t base;
};

bool parse_base(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *base = v;
  return true;
}

// PATH is a log directory or one <base>.log file.
Result<std::vector<SegmentFile>> find_segments(FileSystem& fs, const std::string& path) {
  std::vector<SegmentFile> out;
  const size_t slash = path.find_last_of('/');
  const std::string leaf = slash == std::string::npos ? path : path.substr(slash + 1);
  uint64_t base = 0;
  if (parse_base(leaf, &base)) {
    out.push_back({slash == std::string::npos ? "." : path.substr(0, slash), base});
    return out;
  }
  FRESHET_ASSIGN_OR_RETURN(auto names, fs.list_dir(path));
  for (const auto& n : names) {
    if (parse_base(n, &base)) out.push_back({path, base});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.base < b.base; });
  if (out.empty()) return Error(ErrorCode::kNotFound, "no segment files in " + path);
  return out;
}

std::string escape(std::string_view s, size_t limit) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

void verify_index(const Segment& seg,
                  const std::map<uint64_t, std::pair<uint64_t, int64_t>>& batches,
                  std::vector<std::string>* problems) {
  const std::string name = seg.path("idx");
  for (const Position& p : seg.offset_entries()) {
    auto it = batches.find(p.pos);
    if (it == batches.end() || it->second.first != p.offset) {
      problems->push_back(name + ": entry (offset " + std::to_string(p.offset) + ", byte " +
                          std::to_string(p.pos) + ") does not point at that batch");
    }
  }
  int64_t running = INT64_MIN;
  auto bit = batches.begin();
  for (const auto& [max_before, p] : seg.time_entries()) {
    while (bit != batches.end() && bit->first < p.pos) {
      running = std::max(running, bit->second.second);
      ++bit;
    }
    if (bit == batches.end() || bit->first != p.pos || bit->second.first != p.offset ||
        max_before != running) {
      problems->push_back(seg.path("tix") + ": entry at byte " + std::to_string(p.pos) +
                          " is inconsistent with the segment");
    }
  }
}

}  // namespace

Result<VerifyReport> verify_log(FileSystem& fs, const std::string& path, std::ostream* progress) {
  FRESHET_ASSIGN_OR_RETURN(auto files, find_segments(fs, path));
  VerifyReport r;
  r.first_offset = files.front().base;
  uint64_t expected = files.front().base;
  for (size_t i = 0; i < files.size(); ++i) {
    const SegmentFile& sf = files[i];
    const std::string seg_path = sf.dir + "/" + Segment::file_name(sf.base, "log");
    if (sf.base < expected) {
      r.problems.push_back(seg_path + ": starts at offset " + std::to_string(sf.base) +
                           " but the previous segment ends at " + std::to_string(expected));
    } else if (sf.base > expected && progress != nullptr) {
      // A kOs log skips offsets it may have handed out before a power loss (docs/format.md).
      *progress << "gap: offsets " << expected << " to " << sf.base << " (skipped)" << std::endl;
    }
    FRESHET_ASSIGN_OR_RETURN(auto file, fs.open(seg_path, OpenMode::kReadOnly));
    FRESHET_ASSIGN_OR_RETURN(uint64_t size, file->size());
    std::map<uint64_t, std::pair<uint64_t, int64_t>> batches;  // pos -> (base, max ts)
    Status problem;
    uint64_t seg_records = 0;
    FRESHET_ASSIGN_OR_RETURN(
        uint64_t end, scan_segment(*file, sf.base, &problem,
                                   [&](const format::BatchHeader& h, uint64_t pos, const char*) {
                                     batches[pos] = {h.base_offset, h.max_timestamp_ms};
                                     seg_records += h.record_count;
                                     expected = format::next_offset(h);
                                   }));
    if (batches.empty()) expected = std::max(expected, sf.base);
    if (!problem.ok() || end != size) {
      r.problems.push_back(
          seg_path + ": " +
          (problem.ok() ? std::string("trailing bytes") : problem.error().message()) +
          " (valid up to byte " + std::to_string(end) + " of " + std::to_string(size) +
          (i + 1 == files.size() ? ", tail: recovery truncates it)" : ")"));
    }
    const bool last = i + 1 == files.size();
    if (!last) {
      Segment seg(sf.dir, sf.base, std::shared_ptr<File>(std::move(file)));
      Status loaded = seg.load_sealed(fs, size);
      if (!loaded.ok()) {
        r.problems.push_back(seg_path + ": index: " + loaded.error().message());
      } else {
        if (seg.summary().next_offset != expected) {
          r.problems.push_back(seg_path + ": index says next offset " +
                               std::to_string(seg.summary().next_offset) + ", segment has " +
                               std::to_string(expected));
        }
        verify_index(seg, batches, &r.problems);
      }
    }
    r.segments++;
    r.batches += batches.size();
    r.records += seg_records;
    r.bytes += size;
    if (progress != nullptr) {
      *progress << "[" << (i + 1) << "/" << files.size() << "] " << seg_path << ": "
                << batches.size() << " batches, " << seg_records << " records, " << size << " bytes"
                << std::endl;
    }
  }
  r.next_offset = expected;
  return r;
}

Status dump_log(FileSystem& fs, const std::string& path, const DumpOptions& options,
                std::ostream& out) {
  FRESHET_ASSIGN_OR_RETURN(auto files, find_segments(fs, path));
  for (const SegmentFile& sf : files) {
    const std::string seg_path = sf.dir + "/" + Segment::file_name(sf.base, "log");
    FRESHET_ASSIGN_OR_RETURN(auto file, fs.open(seg_path, OpenMode::kReadOnly));
    out << "segment " << seg_path << " base_offset=" << sf.base << "\n";
    BatchScanner scanner(*file, sf.base);
    while (true) {
      FRESHET_ASSIGN_OR_RETURN(bool more, scanner.next());
      if (!more) break;
      const format::BatchHeader& h = scanner.header();
      out << "batch pos=" << scanner.pos() << " base_offset=" << h.base_offset
          << " records=" << h.record_count << " payload_size=" << h.payload_size
          << " first_ts=" << h.first_timestamp_ms << " max_ts=" << h.max_timestamp_ms
          << " flags=" << h.flags << " header_crc=" << h.header_crc
          << " payload_crc=" << h.payload_crc << "\n";
      if (!options.records) continue;
      format::for_each_record(h, scanner.payload(), [&](uint32_t, const StoredRecord& rec) {
        out << "  offset=" << rec.offset << " ts=" << rec.timestamp_ms << " key=\""
            << escape(rec.partition_key, 256) << "\"";
        if (!rec.explicit_hash_key.empty()) out << " hash_key=" << rec.explicit_hash_key;
        out << " size=" << rec.data.size() << " data=\"" << escape(rec.data, options.data_preview)
            << "\"\n";
        return true;
      });
    }
    if (!scanner.problem().ok()) out << "stopped: " << scanner.problem().to_string() << "\n";
  }
  return {};
}

}  // namespace freshet::log

#include "freshet/metrics/store.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "freshet/common/crc32c.h"
#include "store_format.h"

namespace freshet::metrics {
namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;
constexpr int64_t kGraceS = 1;  // a minute is written this long after it ends
constexpr size_t kWriteBuffer = 1 << 20;

struct TierSpec {
  uint16_t res;
  int64_t chunk_span;
  int64_t file_span;
  int64_t retention;
  const char* dir;
};
constexpr std::array<TierSpec, 3> kTiers = {{
    {1, kMinute, kHour, 3 * kHour, "t1"},
    {60, kHour, kDay, 15 * kDay, "t60"},
    {300, kHour, 7 * kDay, 63 * kDay, "t300"},
}};

int64_t floor_to(int64_t t, int64_t span) {
  const int64_t q = t / span;
  return (t % span != 0 && t < 0 ? q - 1 : q) * span;
}

constexpr double kGamma = 1.02;
const double kLogGamma = std::log(kGamma);
constexpr int kBucketLimit = 16000;
constexpr int kBucketOffset = 16384;

}  // namespace

void Stat::merge(const Stat& o) {
  if (o.count <= 0) return;
  sum += o.sum;
  count += o.count;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
}

int16_t sketch_bucket(double v) {
  if (v == 0 || std::isnan(v)) return 0;
  const double a = std::fabs(v);
  int i = static_cast<int>(std::ceil(std::log(a) / kLogGamma));
  i = std::clamp(i, -kBucketLimit, kBucketLimit) + kBucketOffset;
  return static_cast<int16_t>(v < 0 ? -i : i);
}

double sketch_value(int16_t bucket) {
  if (bucket == 0) return 0;
  const int i = std::abs(static_cast<int>(bucket)) - kBucketOffset;
  const double v = std::exp((i - 0.5) * kLogGamma);
  return bucket < 0 ? -v : v;
}

void sketch_add(Sketch& s, double v, uint32_t n) {
  if (n == 0) return;
  const int16_t b = sketch_bucket(v);
  auto it =
      std::lower_bound(s.begin(), s.end(), b, [](const auto& e, int16_t k) { return e.first < k; });
  if (it != s.end() && it->first == b) {
    it->second += n;
  } else {
    s.insert(it, {b, n});
  }
}

void sketch_merge(Sketch& into, const Sketch& from) {
  if (from.empty()) return;
  if (into.empty()) {
    into = from;
    return;
  }
  Sketch out;
  out.reserve(into.size() + from.size());
  size_t i = 0, j = 0;
  while (i < into.size() || j < from.size()) {
    if (j == from.size() || (i < into.size() && into[i].first < from[j].first)) {
      out.push_back(into[i++]);
    } else if (i == into.size() || from[j].first < into[i].first) {
      out.push_back(from[j++]);
    } else {
      out.emplace_back(into[i].first, into[i].second + from[j].second);
      ++i, ++j;
    }
  }
  into = std::move(out);
}

std::string series_key_text(const SeriesKey& key) {
  std::string out = key.ns;
  out += '|';
  out += key.name;
  for (const Dimension& d : key.dims) {
    out += '|';
    out += d.name;
    out += '=';
    out += d.value;
  }
  return out;
}

// Calls fn(raw chunk bytes) for each chunk of an index entry's bytes: the entry itself, or in
// a runs batch (format::kFlagRuns) each chunk of the run. False if a run does not split into
// whole chunks (the chunks before the bad one have been passed on).
template <typename Fn>
bool for_each_chunk(std::string_view bytes, bool runs, Fn&& fn) {
  if (!runs) {
    fn(bytes);
    return true;
  }
  while (!bytes.empty()) {
    Result<size_t> n = format::chunk_size(bytes);
    if (!n.ok()) return false;
    fn(bytes.substr(0, *n));
    bytes.remove_prefix(*n);
  }
  return true;
}

class MetricStore::Impl {
 public:
  explicit Impl(MetricStoreOptions o) : opt_(std::move(o)) {}

  Status open();
  Result<uint32_t> intern(SeriesKey key, std::string_view unit);
  std::optional<uint32_t> find(const SeriesKey& key) const;
  Status record_locked(uint32_t series, int64_t t_s, const Stat& stat, const Sketch* sketch,
                       int64_t now_s);
  Status record_many(int64_t t_s, const std::vector<Sample>& samples);
  Status record_durable(const std::vector<DurableSample>& samples);
  Result<std::vector<Datapoint>> query(uint32_t series, int64_t start_s, int64_t end_s,
                                       int64_t period_s, const std::vector<double>& pcts) const;
  std::vector<SeriesInfo> list(std::string_view ns, std::string_view name,
                               const std::vector<Dimension>& dims, int64_t active_since) const;
  std::optional<SeriesInfo> info(uint32_t id) const;
  Status tick(bool all);
  StoreStats stats() const;

  int64_t now_s() const { return opt_.clock->now_ms() / 1000; }
  // Serializes tick() and flush(), the only writers of tier files. A rollup holds it (and not
  // mu_) for its reads and writes, taking mu_ only to look up the files and to publish what it
  // wrote. Lock order: tick_mu_, then mu_.
  std::mutex tick_mu_;
  mutable std::mutex mu_;

 private:
  struct Head {
    uint64_t present = 0;
    std::unique_ptr<double[]> simple;  // one value per second while every point is one sample
    std::unique_ptr<Stat[]> full;      // otherwise
    std::vector<std::pair<uint8_t, Sketch>> sketches;
  };
  struct Window {
    std::unordered_map<uint32_t, Head> heads;
  };
  struct BatchDesc {
    uint64_t offset;
    uint64_t index_offset;
    uint32_t entries;
    uint16_t flags;
    int64_t min_t;
    int64_t max_t;
    // The series of every kFenceStride-th index entry (entry 0, kFenceStride, ...), kept in
    // memory so that finding a series in the batch is one pread of a few KiB around it
    // instead of a binary search of ~17 preads over as many pages of the on-disk index
    // (each a page-cache miss when cold). 4 bytes per 256 entries.
    std::vector<uint32_t> fences;
  };
  static constexpr uint32_t kFenceStride = 256;
  static std::vector<uint32_t> fences_of(std::string_view index, uint32_t entries) {
    std::vector<uint32_t> out;
    out.reserve(entries / kFenceStride + 1);
    for (uint32_t i = 0; i < entries; i += kFenceStride) {
      out.push_back(format::decode_index_entry(index.data() + size_t{i} * format::kIndexEntrySize)
                        .series);
    }
    return out;
  }
  struct TierFile {
    int64_t start = 0;
    std::unique_ptr<File> file;
    uint64_t size = 0;
    std::vector<BatchDesc> batches;
  };
  using Slots = std::array<format::Slot, format::kMaxSlots>;

  class BatchWriter;

  static void head_add(Head& h, size_t slot, const Stat& s, const Sketch* sk);
  static void head_slots(const Head& h, Slots& out);
  std::string tier_path(size_t tier, int64_t start) const {
    return opt_.dir + "/" + kTiers[tier].dir + "/" + std::to_string(start) + ".fmb";
  }
  Status open_tier(size_t tier);
  Status scan_file(size_t tier, TierFile& f);
  Result<TierFile*> file_for(size_t tier, int64_t chunk_start);
  Status write_catalog_locked();
  Status open_wal();
  void maybe_reset_wal_locked();
  Status flush_window_locked(int64_t w, Window& win, int64_t now);
  Status rollup(int64_t hour);
  void retention_locked(int64_t now);
  template <typename Fn>
  void read_tier_locked(size_t tier, uint32_t series, int64_t a, int64_t b, Fn&& fn) const;
  template <typename Fn>
  void read_heads_locked(uint32_t series, int64_t a, int64_t b, Fn&& fn) const;
  Status read_exact(const File& f, uint64_t off, size_t n, std::string& out) const;

  MetricStoreOptions opt_;
  // All below: GUARDED_BY(mu_).
  std::vector<SeriesInfo> series_;
  std::unordered_map<std::string, uint32_t> by_key_;
  std::unique_ptr<File> catalog_;
  uint64_t catalog_size_ = 0;
  std::string catalog_pending_;  // records of series created since the last batch
  std::map<int64_t, Window> windows_;
  size_t head_points_ = 0;
  std::array<std::map<int64_t, TierFile>, 3> files_;
  int64_t cursor_ = 0;  // t1 hours before this are rolled up into t60 and t300
  // The write-ahead log of record_durable(): emptied once no window up to wal_max_window_
  // waits in windows_ (all its datapoints are in batches).
  std::unique_ptr<File> wal_;
  uint64_t wal_size_ = 0;
  int64_t wal_max_window_ = INT64_MIN;
  int64_t last_retention_ = 0;
  mutable StoreStats counters_;
};

// Appends one batch to a tier file: chunks (added sorted by series, then start) are written
// as they come, through a 1 MiB buffer; header and index at write(), then fsync; publish()
// makes the batch visible to readers.
// REQUIRES: no other writer of the file (tick_mu_ held, or the file is the writer's own);
// publish() and finish() with mu_ held. add() and write() touch no shared state: a rollup
// calls them without mu_, so that queries and records go on meanwhile (nothing reads a
// file past its published batches).
class MetricStore::Impl::BatchWriter {
 public:
  BatchWriter(Impl& impl, TierFile& f, uint16_t res) : impl_(impl), f_(f), base_(f.size) {
    h_.res = res;
  }
  void add(uint32_t series, int64_t start, int64_t span, std::string_view bytes) {
    format::append_index_entry(
        {series, static_cast<uint32_t>(bytes.size()),
         base_ + format::kBatchHeaderSize + h_.body_bytes + buf_.size(), start},
        index_);
    buf_ += bytes;
    ++h_.entries;
    h_.min_t = std::min(h_.min_t, start);
    h_.max_t = std::max(h_.max_t, start + span);
    if (buf_.size() >= kWriteBuffer) drain();
  }
  // Writes the header and the index and syncs. On an error the file is cut back to where the
  // batch began.
  Status write(uint16_t flags, int64_t min_t = 0, int64_t max_t = 0) {
    drain();
    h_.flags = flags;
    if (h_.entries == 0) h_.min_t = min_t, h_.max_t = max_t;
    if (flags & format::kFlagRollup) h_.min_t = min_t, h_.max_t = max_t;
    const std::string header = format::encode_batch_header(h_, index_);
    const uint64_t index_off = base_ + format::kBatchHeaderSize + h_.body_bytes;
    if (st_.ok()) st_ = f_.file->write_at(index_.data(), index_.size(), index_off);
    if (st_.ok()) st_ = f_.file->write_at(header.data(), header.size(), base_);
    if (st_.ok() && impl_.opt_.fsync) st_ = f_.file->sync();
    if (!st_.ok()) undo();
    return st_;
  }
  // Cuts the file back to where the batch began (a written batch that is not to be published).
  void undo() { (void)f_.file->truncate(base_); }
  // REQUIRES: mu_, and write() returned OK.
  void publish() {
    const uint64_t index_off = base_ + format::kBatchHeaderSize + h_.body_bytes;
    f_.size = index_off + index_.size();
    f_.batches.push_back({base_, index_off, h_.entries, h_.flags, h_.min_t, h_.max_t,
                          fences_of(index_, h_.entries)});
    ++impl_.counters_.batches_written;
    impl_.counters_.bytes_written += f_.size - base_;
  }
  // write() then publish(). REQUIRES: mu_.
  Status finish(uint16_t flags, int64_t min_t = 0, int64_t max_t = 0) {
    if (Status st = write(flags, min_t, max_t); !st.ok()) {
      ++impl_.counters_.write_errors;
      return st;
    }
    publish();
    return {};
  }

 private:
  void drain() {
    if (buf_.empty()) return;
    if (st_.ok()) {
      st_ = f_.file->write_at(buf_.data(), buf_.size(),
                              base_ + format::kBatchHeaderSize + h_.body_bytes);
    }
    h_.body_bytes += buf_.size();
    buf_.clear();
  }
  Impl& impl_;
  TierFile& f_;
  uint64_t base_;
  format::BatchHeader h_{0, 0, 0, INT64_MAX, INT64_MIN, 0};
  std::string buf_;
  std::string index_;
  Status st_;
};

Status MetricStore::Impl::read_exact(const File& f, uint64_t off, size_t n,
                                     std::string& out) const {
  out.resize(n);
  FRESHET_ASSIGN_OR_RETURN(size_t got, f.read_at(out.data(), n, off));
  if (got != n) return Error(ErrorCode::kCorruption, "short read in " + f.path());
  return {};
}

Status MetricStore::Impl::open() {
  if (!opt_.fs) opt_.fs = posix_file_system();
  if (!opt_.clock) opt_.clock = std::make_shared<SystemClock>();
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*opt_.fs, opt_.dir));
  // The series catalog.
  const std::string cpath = opt_.dir + "/series.fmc";
  const bool existed = opt_.fs->exists(cpath);
  FRESHET_ASSIGN_OR_RETURN(catalog_, opt_.fs->open(cpath, OpenMode::kCreate));
  if (!existed) FRESHET_RETURN_IF_ERROR(opt_.fs->sync_dir(opt_.dir));
  FRESHET_ASSIGN_OR_RETURN(uint64_t csize, catalog_->size());
  std::string bytes;
  FRESHET_RETURN_IF_ERROR(read_exact(*catalog_, 0, csize, bytes));
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t used = 0;
    Result<SeriesInfo> s = format::decode_series_record(std::string_view(bytes).substr(pos), used);
    if (!s.ok() || s->id != series_.size()) break;
    by_key_.emplace(series_key_text(s->key), s->id);
    series_.push_back(std::move(s).value());
    pos += used;
  }
  if (pos < bytes.size()) {
    logging::warn("metric store: series catalog {} cut at byte {} of {} (torn tail)", cpath, pos,
                 bytes.size());
    FRESHET_RETURN_IF_ERROR(catalog_->truncate(pos));
  }
  catalog_size_ = pos;
  for (size_t t = 0; t < kTiers.size(); ++t) FRESHET_RETURN_IF_ERROR(open_tier(t));
  FRESHET_RETURN_IF_ERROR(open_wal());
  // The rollup cursor: the end of the newest hourly rollup, else the oldest t1 hour.
  const int64_t now = now_s();
  cursor_ = 0;
  for (const auto& [start, f] : files_[1]) {
    for (const BatchDesc& b : f.batches) {
      if (b.flags & format::kFlagRollup) cursor_ = std::max(cursor_, b.max_t);
    }
  }
  if (cursor_ == 0) {
    cursor_ = files_[0].empty() ? floor_to(now, kHour) : files_[0].begin()->first;
  }
  // Hours with no t1 file left (expired while down) have nothing to roll up.
  if (!files_[0].empty() && files_[0].begin()->first > cursor_) cursor_ = files_[0].begin()->first;
  if (files_[0].empty() && cursor_ < floor_to(now, kHour)) cursor_ = floor_to(now, kHour);
  return {};
}

Status MetricStore::Impl::open_tier(size_t tier) {
  const std::string dir = opt_.dir + "/" + kTiers[tier].dir;
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*opt_.fs, dir));
  FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> names, opt_.fs->list_dir(dir));
  for (const std::string& n : names) {
    if (n.ends_with(".fmb.tmp")) {
      // An hour's runs file that a crash interrupted before its rename: the minute batches
      // it was made from are still in <start>.fmb.
      FRESHET_RETURN_IF_ERROR(opt_.fs->remove(dir + "/" + n));
      continue;
    }
    if (n.size() < 5 || n.substr(n.size() - 4) != ".fmb") continue;
    int64_t start = 0;
    try {
      start = std::stoll(n.substr(0, n.size() - 4));
    } catch (const std::exception&) {
      continue;
    }
    TierFile f;
    f.start = start;
    FRESHET_ASSIGN_OR_RETURN(f.file, opt_.fs->open(dir + "/" + n, OpenMode::kReadWrite));
    FRESHET_RETURN_IF_ERROR(scan_file(tier, f));
    files_[tier].emplace(start, std::move(f));
  }
  return {};
}

Status MetricStore::Impl::scan_file(size_t tier, TierFile& f) {
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, f.file->size());
  uint64_t off = 0;
  std::string header, index;
  while (off + format::kBatchHeaderSize <= size) {
    FRESHET_RETURN_IF_ERROR(read_exact(*f.file, off, format::kBatchHeaderSize, header));
    Result<format::BatchHeader> h = format::decode_batch_header(header);
    if (!h.ok()) break;
    const uint64_t index_off = off + format::kBatchHeaderSize + h->body_bytes;
    const uint64_t index_len = uint64_t{h->entries} * format::kIndexEntrySize;
    if (h->body_bytes > size || index_off + index_len > size) break;
    FRESHET_RETURN_IF_ERROR(read_exact(*f.file, index_off, index_len, index));
    if (!format::verify_batch_crc(header, index)) break;
    if (tier == 0) {
      for (uint32_t i = 0; i < h->entries; ++i) {
        const format::IndexEntry e =
            format::decode_index_entry(index.data() + i * format::kIndexEntrySize);
        if (e.series < series_.size()) {
          SeriesInfo& s = series_[e.series];
          // A run covers the batch's hour: its last second stands for the run's newest point.
          const int64_t last = (h->flags & format::kFlagRuns) ? h->max_t - 1 : e.start + kMinute - 1;
          s.last_write_s = std::max(s.last_write_s, last);
        }
      }
    }
    f.batches.push_back({off, index_off, h->entries, h->flags, h->min_t, h->max_t,
                         fences_of(index, h->entries)});
    off = index_off + index_len;
  }
  if (off < size) {
    logging::warn("metric store: {} cut at byte {} of {} (a batch torn by a crash)", f.file->path(),
                 off, size);
    FRESHET_RETURN_IF_ERROR(f.file->truncate(off));
  }
  f.size = off;
  return {};
}

Result<MetricStore::Impl::TierFile*> MetricStore::Impl::file_for(size_t tier, int64_t chunk_start) {
  const int64_t start = floor_to(chunk_start, kTiers[tier].file_span);
  auto it = files_[tier].find(start);
  if (it != files_[tier].end()) return &it->second;
  TierFile f;
  f.start = start;
  FRESHET_ASSIGN_OR_RETURN(f.file, opt_.fs->open(tier_path(tier, start), OpenMode::kCreate));
  FRESHET_RETURN_IF_ERROR(opt_.fs->sync_dir(opt_.dir + "/" + kTiers[tier].dir));
  return &files_[tier].emplace(start, std::move(f)).first->second;
}

Result<uint32_t> MetricStore::Impl::intern(SeriesKey key, std::string_view unit) {
  if (key.ns.empty() || key.name.empty()) {
    return Error(ErrorCode::kInvalidArgument, "namespace and metric name must not be empty");
  }
  if (key.dims.size() > 30) return Error(ErrorCode::kInvalidArgument, "over 30 dimensions");
  std::sort(key.dims.begin(), key.dims.end());
  std::string text = series_key_text(key);
  std::lock_guard lock(mu_);
  auto it = by_key_.find(text);
  if (it != by_key_.end()) return it->second;
  if (series_.size() >= opt_.max_series) {
    return Error(ErrorCode::kLimitExceeded,
                 "the metric store holds " + std::to_string(series_.size()) + " series already");
  }
  SeriesInfo s;
  s.id = static_cast<uint32_t>(series_.size());
  s.key = std::move(key);
  s.unit = unit.empty() ? "None" : std::string(unit);
  catalog_pending_ += format::encode_series_record(s);
  by_key_.emplace(std::move(text), s.id);
  series_.push_back(std::move(s));
  return series_.back().id;
}

std::optional<uint32_t> MetricStore::Impl::find(const SeriesKey& key) const {
  SeriesKey k = key;
  std::sort(k.dims.begin(), k.dims.end());
  std::lock_guard lock(mu_);
  auto it = by_key_.find(series_key_text(k));
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

void MetricStore::Impl::head_add(Head& h, size_t slot, const Stat& s, const Sketch* sk) {
  const uint64_t bit = uint64_t{1} << slot;
  const bool single = s.count == 1 && s.min == s.sum && s.max == s.sum;
  if (!h.full && (!single || (h.present & bit))) {
    h.full = std::make_unique<Stat[]>(kMinute);
    for (size_t i = 0; i < kMinute; ++i) {
      if (h.present >> i & 1) h.full[i] = Stat::of(h.simple[i]);
    }
    h.simple.reset();
  }
  if (h.full) {
    if (h.present & bit) {
      h.full[slot].merge(s);
    } else {
      h.full[slot] = s;
    }
  } else {
    if (!h.simple) h.simple = std::make_unique<double[]>(kMinute);
    h.simple[slot] = s.sum;
  }
  h.present |= bit;
  if (sk != nullptr && !sk->empty()) {
    for (auto& [i, k] : h.sketches) {
      if (i == slot) {
        sketch_merge(k, *sk);
        return;
      }
    }
    h.sketches.emplace_back(static_cast<uint8_t>(slot), *sk);
  }
}

void MetricStore::Impl::head_slots(const Head& h, Slots& out) {
  for (size_t i = 0; i < kMinute; ++i) {
    out[i].sketch.clear();
    if (!(h.present >> i & 1)) continue;
    out[i].stat = h.full ? h.full[i] : Stat::of(h.simple[i]);
  }
  for (const auto& [i, k] : h.sketches) out[i].sketch = k;
}

Status MetricStore::Impl::record_locked(uint32_t series, int64_t t_s, const Stat& stat,
                                        const Sketch* sketch, int64_t now) {
  if (series >= series_.size()) return Error(ErrorCode::kNotFound, "unknown series");
  if (stat.empty()) return {};
  if (t_s < now - kTiers[2].retention || t_s > now + 2 * kHour) {
    return Error(ErrorCode::kInvalidArgument, "timestamp outside the store's range");
  }
  const int64_t w = floor_to(t_s, kMinute);
  Head& h = windows_[w].heads[series];
  const uint64_t before = h.present;
  head_add(h, static_cast<size_t>(t_s - w), stat, sketch);
  if (h.present != before) ++head_points_;
  SeriesInfo& s = series_[series];
  s.last_write_s = std::max(s.last_write_s, t_s);
  return {};
}

// WAL record: 0 u32 crc (of [4, 8 + length)) | 4 u32 length | 8 u32 series | 12 i64 t |
// 20 f64 sum, count, min, max | 52 u16 n | n x { i16 bucket | u32 count } (length 46 + 6n).
namespace {
void wal_encode(const MetricStore::DurableSample& d, std::string& out) {
  std::string body;
  auto put = [&body](const auto& v) { body.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(d.series);
  put(d.t_s);
  put(d.stat.sum);
  put(d.stat.count);
  put(d.stat.min);
  put(d.stat.max);
  const uint16_t n = static_cast<uint16_t>(std::min<size_t>(d.sketch.size(), 65535));
  put(n);
  for (size_t i = 0; i < n; ++i) {
    put(d.sketch[i].first);
    put(d.sketch[i].second);
  }
  const uint32_t len = static_cast<uint32_t>(body.size());
  std::string rec(8, '\0');
  std::memcpy(rec.data() + 4, &len, 4);
  rec += body;
  const uint32_t crc = crc32c::value(rec.data() + 4, rec.size() - 4);
  std::memcpy(rec.data(), &crc, 4);
  out += rec;
}

bool wal_decode(std::string_view b, size_t& pos, MetricStore::DurableSample& d) {
  if (b.size() - pos < 8) return false;
  uint32_t crc, len;
  std::memcpy(&crc, b.data() + pos, 4);
  std::memcpy(&len, b.data() + pos + 4, 4);
  if (len < 46 || b.size() - pos - 8 < len) return false;
  if (crc32c::value(b.data() + pos + 4, 4 + len) != crc) return false;
  const char* p = b.data() + pos + 8;
  auto get = [&p](auto& v) {
    std::memcpy(&v, p, sizeof(v));
    p += sizeof(v);
  };
  get(d.series);
  get(d.t_s);
  get(d.stat.sum);
  get(d.stat.count);
  get(d.stat.min);
  get(d.stat.max);
  uint16_t n;
  get(n);
  if (len != 46u + 6u * n) return false;
  d.sketch.clear();
  for (uint16_t i = 0; i < n; ++i) {
    int16_t bucket;
    uint32_t count;
    get(bucket);
    get(count);
    d.sketch.emplace_back(bucket, count);
  }
  pos += 8 + len;
  return true;
}
}  // namespace

Status MetricStore::Impl::open_wal() {
  const std::string path = opt_.dir + "/custom.wal";
  const bool existed = opt_.fs->exists(path);
  FRESHET_ASSIGN_OR_RETURN(wal_, opt_.fs->open(path, OpenMode::kCreate));
  if (!existed) FRESHET_RETURN_IF_ERROR(opt_.fs->sync_dir(opt_.dir));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, wal_->size());
  std::string bytes;
  FRESHET_RETURN_IF_ERROR(read_exact(*wal_, 0, size, bytes));
  size_t pos = 0;
  DurableSample d;
  const int64_t now = now_s();
  size_t replayed = 0;
  while (pos < bytes.size() && wal_decode(bytes, pos, d)) {
    // Datapoints acknowledged before a crash: back into the heads (a minute written to a
    // batch just before the crash, with the log not yet emptied, is counted twice: the
    // window is the few microseconds between the batch's fsync and the log's truncation).
    if (record_locked(d.series, d.t_s, d.stat, d.sketch.empty() ? nullptr : &d.sketch, now).ok()) {
      wal_max_window_ = std::max(wal_max_window_, floor_to(d.t_s, kMinute));
      ++replayed;
    }
  }
  if (pos < bytes.size()) {
    logging::warn("metric store: {} cut at byte {} of {} (a record torn by a crash)", path, pos,
                 bytes.size());
    FRESHET_RETURN_IF_ERROR(wal_->truncate(pos));
  }
  wal_size_ = pos;
  if (replayed > 0) logging::info("metric store: {} datapoints replayed from {}", replayed, path);
  return {};
}

void MetricStore::Impl::maybe_reset_wal_locked() {
  if (wal_size_ == 0) return;
  if (!windows_.empty() && windows_.begin()->first <= wal_max_window_) return;
  if (Status s = wal_->truncate(0); !s.ok()) {
    logging::warn("metric store: cannot empty the write-ahead log: {}", s.to_string());
    return;
  }
  if (opt_.fsync) {
    if (Status s = wal_->sync(); !s.ok()) {
      logging::warn("metric store: cannot sync the write-ahead log: {}", s.to_string());
    }
  }
  wal_size_ = 0;
  wal_max_window_ = INT64_MIN;
}

Status MetricStore::Impl::record_durable(const std::vector<DurableSample>& samples) {
  std::lock_guard lock(mu_);
  const int64_t now = now_s();
  for (const DurableSample& d : samples) {
    if (d.series >= series_.size()) return Error(ErrorCode::kNotFound, "unknown series");
    if (d.t_s < now - kTiers[2].retention || d.t_s > now + 2 * kHour) {
      return Error(ErrorCode::kInvalidArgument, "timestamp outside the store's range");
    }
  }
  // Series first: the log names them by id.
  FRESHET_RETURN_IF_ERROR(write_catalog_locked());
  std::string bytes;
  for (const DurableSample& d : samples) wal_encode(d, bytes);
  if (Status s = wal_->write_at(bytes.data(), bytes.size(), wal_size_); !s.ok()) {
    (void)wal_->truncate(wal_size_);
    return s;
  }
  if (opt_.fsync) {
    if (Status s = wal_->sync(); !s.ok()) {
      (void)wal_->truncate(wal_size_);
      return s;
    }
  }
  wal_size_ += bytes.size();
  for (const DurableSample& d : samples) {
    FRESHET_RETURN_IF_ERROR(
        record_locked(d.series, d.t_s, d.stat, d.sketch.empty() ? nullptr : &d.sketch, now));
    wal_max_window_ = std::max(wal_max_window_, floor_to(d.t_s, kMinute));
  }
  return {};
}

Status MetricStore::Impl::record_many(int64_t t_s, const std::vector<Sample>& samples) {
  std::lock_guard lock(mu_);
  const int64_t now = now_s();
  Status first;
  for (const Sample& s : samples) {
    Status st = record_locked(s.series, t_s, s.stat, s.sketch, now);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status MetricStore::Impl::write_catalog_locked() {
  if (catalog_pending_.empty()) return {};
  FRESHET_RETURN_IF_ERROR(
      catalog_->write_at(catalog_pending_.data(), catalog_pending_.size(), catalog_size_));
  if (opt_.fsync) FRESHET_RETURN_IF_ERROR(catalog_->sync());
  catalog_size_ += catalog_pending_.size();
  catalog_pending_.clear();
  return {};
}

Status MetricStore::Impl::flush_window_locked(int64_t w, Window& win, int64_t now) {
  // Series must be durable before a batch names them.
  FRESHET_RETURN_IF_ERROR(write_catalog_locked());
  std::vector<uint32_t> ids;
  ids.reserve(win.heads.size());
  for (const auto& [id, h] : win.heads) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  Slots slots;
  if (w + kMinute > now - kTiers[0].retention) {
    FRESHET_ASSIGN_OR_RETURN(TierFile * f, file_for(0, w));
    BatchWriter bw(*this, *f, 1);
    for (uint32_t id : ids) {
      const Head& h = win.heads.at(id);
      head_slots(h, slots);
      bw.add(id, w, kMinute, format::encode_chunk(id, w, 1, h.present, slots.data(), kMinute));
    }
    FRESHET_RETURN_IF_ERROR(bw.finish(0, w, w + kMinute));
  }
  if (w < cursor_) {
    // A late minute whose hour is already rolled up: add it to the coarse tiers as well.
    const int64_t hour = floor_to(w, kHour);
    for (size_t tier = 1; tier < kTiers.size(); ++tier) {
      FRESHET_ASSIGN_OR_RETURN(TierFile * f, file_for(tier, hour));
      BatchWriter bw(*this, *f, kTiers[tier].res);
      const size_t slot = static_cast<size_t>((w - hour) / kTiers[tier].res);
      for (uint32_t id : ids) {
        head_slots(win.heads.at(id), slots);
        format::Slot agg;
        for (size_t i = 0; i < kMinute; ++i) {
          if (!(win.heads.at(id).present >> i & 1)) continue;
          agg.stat.merge(slots[i].stat);
          sketch_merge(agg.sketch, slots[i].sketch);
        }
        std::array<format::Slot, format::kMaxSlots> out;
        out[slot] = std::move(agg);
        bw.add(id, hour, kHour,
               format::encode_chunk(id, hour, kTiers[tier].res, uint64_t{1} << slot, out.data(),
                                    static_cast<size_t>(kHour / kTiers[tier].res)));
      }
      FRESHET_RETURN_IF_ERROR(bw.finish(0));
    }
  }
  return {};
}

// Reads index entries of one batch sequentially, 1024 at a time.
namespace {
struct IndexCursor {
  const File* file;
  uint64_t off;  // next entry to load
  uint32_t left;
  bool runs;  // the batch's entries are runs (format::kFlagRuns)
  std::string buf;
  size_t pos = 0;
  bool load() {
    if (pos < buf.size()) return true;
    if (left == 0) return false;
    const uint32_t n = std::min<uint32_t>(left, 1024);
    buf.resize(size_t{n} * format::kIndexEntrySize);
    Result<size_t> got = file->read_at(buf.data(), buf.size(), off);
    if (!got.ok() || *got != buf.size()) {
      left = 0;
      buf.clear();
      return false;
    }
    off += buf.size();
    left -= n;
    pos = 0;
    return true;
  }
  bool peek(format::IndexEntry& e) {
    if (!load()) return false;
    e = format::decode_index_entry(buf.data() + pos);
    return true;
  }
  void next() { pos += format::kIndexEntrySize; }
};
}  // namespace

// The hourly rollup of the t1 hour [hour, hour + 1 h). One pass over the hour's t1 batches,
// series by series (each batch's index is sorted by series), writes:
//  - the hour's t1 chunks again as one runs batch (format::kFlagRuns: each series' chunks
//    back to back, one index entry per series), so that a query reads a series' hour with
//    one pread instead of one per minute batch. It goes to <hour>.fmb.tmp, is fsync'd, then
//    renamed over <hour>.fmb and the directory fsync'd: a crash leaves the minute batches or
//    the runs batch, never neither (a leftover .tmp is removed at open);
//  - then one t60 and one t300 batch flagged kFlagRollup, each fsync'd.
// The runs file is an optimisation: if it cannot be written, the minute batches stay (the
// hour reads as before) and the rollup goes on.
//
// Locking: called by tick() with tick_mu_ held, so nothing else writes a tier file meanwhile.
// mu_ is taken only to look the files up (step 1) and to publish (step 3): the reads and
// writes (GBs for an hour of 100,000 dense series) run without it, so records and queries go
// on (they see the hour's minute batches until the swap). The hour's t1 file is neither
// appended to (only tick() flushes minutes) nor removed (retention waits for cursor_) before
// the swap, and the coarse files are read only up to their published batches.
Status MetricStore::Impl::rollup(int64_t hour) {
  // 1. Under mu_: the hour's t1 batches, the coarse tiers' files, the writers' offsets.
  const File* src = nullptr;
  std::vector<IndexCursor> cursors;
  uint64_t entries = 0;
  TierFile* f60 = nullptr;
  TierFile* f300 = nullptr;
  {
    std::lock_guard lock(mu_);
    auto fit = files_[0].find(hour);
    if (fit != files_[0].end()) {
      src = fit->second.file.get();
      for (const BatchDesc& b : fit->second.batches) {
        cursors.push_back(
            IndexCursor{src, b.index_offset, b.entries, (b.flags & format::kFlagRuns) != 0, {}});
        entries += b.entries;
      }
    }
    FRESHET_ASSIGN_OR_RETURN(f60, file_for(1, hour));
    FRESHET_ASSIGN_OR_RETURN(f300, file_for(2, hour));
  }

  // 2. Without mu_: read the hour, write the runs file and the coarse batches.
  uint64_t corrupt = 0, errors = 0;
  TierFile runs;
  std::optional<BatchWriter> w1;
  const std::string runs_path = tier_path(0, hour) + ".tmp";
  if (entries > 0) {
    Result<std::unique_ptr<File>> tmp = opt_.fs->open(runs_path, OpenMode::kCreate);
    Status st = tmp.ok() ? (*tmp)->truncate(0) : tmp.status();
    if (st.ok()) {
      runs.start = hour;
      runs.file = std::move(tmp).value();
      w1.emplace(*this, runs, 1);
    } else {
      ++errors;
      logging::warn("metric store: cannot create {}: {}", runs_path, st.to_string());
    }
  }
  BatchWriter w60(*this, *f60, 60), w300(*this, *f300, 300);
  Slots m1, m5;
  std::string bytes, run;
  while (true) {
    uint32_t series = UINT32_MAX;
    format::IndexEntry e;
    for (IndexCursor& c : cursors) {
      if (c.peek(e)) series = std::min(series, e.series);
    }
    if (series == UINT32_MAX) break;
    for (auto& s : m1) s = format::Slot{};
    uint64_t p1 = 0;
    run.clear();
    for (IndexCursor& c : cursors) {
      while (c.peek(e) && e.series == series) {
        c.next();
        if (!read_exact(*src, e.offset, e.length, bytes).ok()) continue;
        const bool whole = for_each_chunk(bytes, c.runs, [&](std::string_view raw) {
          Result<format::DecodedChunk> d = format::decode_chunk(raw);
          if (!d.ok() || d->series != series || d->start < hour || d->start >= hour + kHour) {
            ++corrupt;
            return;
          }
          if (w1) run += raw;
          for (size_t i = 0; i < format::kMaxSlots; ++i) {
            if (!(d->present >> i & 1)) continue;
            const int64_t t = d->start + static_cast<int64_t>(i) * d->res;
            const size_t m = static_cast<size_t>((t - hour) / kMinute);
            if (m >= 60) continue;
            m1[m].stat.merge(d->slots[i].stat);
            sketch_merge(m1[m].sketch, d->slots[i].sketch);
            p1 |= uint64_t{1} << m;
          }
        });
        if (!whole) ++corrupt;
      }
    }
    if (w1 && !run.empty()) w1->add(series, hour, kHour, run);
    if (p1 == 0) continue;
    uint64_t p5 = 0;
    for (size_t k = 0; k < 12; ++k) {
      m5[k] = format::Slot{};
      for (size_t m = 5 * k; m < 5 * k + 5; ++m) {
        if (!(p1 >> m & 1)) continue;
        m5[k].stat.merge(m1[m].stat);
        sketch_merge(m5[k].sketch, m1[m].sketch);
        p5 |= uint64_t{1} << k;
      }
    }
    w60.add(series, hour, kHour, format::encode_chunk(series, hour, 60, p1, m1.data(), 60));
    w300.add(series, hour, kHour, format::encode_chunk(series, hour, 300, p5, m5.data(), 12));
  }
  bool swap = false;
  if (w1) {
    Status st = w1->write(format::kFlagRuns, hour, hour + kHour);
    if (st.ok()) st = opt_.fs->rename(runs_path, tier_path(0, hour));
    if (st.ok()) {
      // The rename is the switch: from here the runs file is <hour>.fmb (the open handle
      // follows it; paths are derived from tier and start, never taken from the handle).
      // Until the swap below, readers keep reading the old (now unlinked) file's handle.
      swap = true;
      w1->publish();  // into `runs`, this function's own until the swap
      st = opt_.fs->sync_dir(opt_.dir + "/" + kTiers[0].dir);
    } else {
      runs.file.reset();
      (void)opt_.fs->remove(runs_path);
    }
    if (!st.ok()) {
      ++errors;
      logging::warn("metric store: the runs file of hour {}: {}", hour, st.to_string());
    }
  }
  Status coarse = w60.write(format::kFlagRollup, hour, hour + kHour);
  if (coarse.ok()) {
    coarse = w300.write(format::kFlagRollup, hour, hour + kHour);
    // Both coarse batches or neither: the hour is rolled up again at the next tick.
    if (!coarse.ok()) w60.undo();
  }
  if (!coarse.ok()) ++errors;

  // 3. Under mu_: swap the runs file in, publish the coarse batches, move the cursor.
  std::lock_guard lock(mu_);
  counters_.corrupt_chunks += corrupt;
  counters_.write_errors += errors;
  if (swap) {
    files_[0].find(hour)->second = std::move(runs);
    ++counters_.runs_written;
  }
  if (!coarse.ok()) return coarse;
  w60.publish();
  w300.publish();
  ++counters_.rollups;
  cursor_ = hour + kHour;
  return {};
}

void MetricStore::Impl::retention_locked(int64_t now) {
  for (size_t tier = 0; tier < kTiers.size(); ++tier) {
    const TierSpec& spec = kTiers[tier];
    auto& files = files_[tier];
    for (auto it = files.begin(); it != files.end();) {
      const int64_t end = it->first + spec.file_span + spec.chunk_span;
      const bool expired = end <= now - spec.retention;
      const bool rolled = tier != 0 || it->first + spec.file_span <= cursor_;
      if (!expired || !rolled) break;
      const std::string path = tier_path(tier, it->first);
      it->second.file.reset();
      if (Status s = opt_.fs->remove(path); !s.ok()) {
        logging::warn("metric store: cannot remove {}: {}", path, s.to_string());
      }
      it = files.erase(it);
    }
  }
}

Status MetricStore::Impl::tick(bool all) {
  std::lock_guard tick_lock(tick_mu_);
  Status first;
  int64_t now = 0, cursor = 0;
  {
    std::lock_guard lock(mu_);
    now = now_s();
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (!all && it->first + kMinute + kGraceS > now) break;
      Status s = flush_window_locked(it->first, it->second, now);
      if (!s.ok()) {
        if (first.ok()) first = s;
        // Keep the minute for the next tick unless it has failed for ten minutes.
        if (it->first + 10 * kMinute > now) {
          ++it;
          continue;
        }
        logging::error("metric store: dropping minute {} after write failures: {}", it->first,
                      s.to_string());
      }
      for (const auto& [id, h] : it->second.heads) head_points_ -= std::popcount(h.present);
      it = windows_.erase(it);
    }
    maybe_reset_wal_locked();
    if (all) {
      if (Status s = write_catalog_locked(); !s.ok() && first.ok()) first = s;
      return first;
    }
    cursor = cursor_;
  }
  // Rollups take mu_ only briefly (see rollup()); cursor_ changes only there.
  while (cursor + kHour + kMinute + 2 * kGraceS <= now) {
    if (Status s = rollup(cursor); !s.ok()) {
      if (first.ok()) first = s;
      break;
    }
    cursor += kHour;
  }
  std::lock_guard lock(mu_);
  if (now - last_retention_ >= kMinute) {
    retention_locked(now);
    last_retention_ = now;
  }
  return first;
}

// Reads a series' chunks of one tier over [a, b) in three steps, so that the disk sees the
// reads of all batches at once rather than one after another (each a wait when cold):
//   1. per batch, the stretch of its index where the series can be (bounded by the in-memory
//      fences), announced to the kernel (File::will_need) for every batch first, then read;
//   2. the series' chunks (or runs) found there, all announced, then read and decoded.
// With runs (a t1 hour rewritten at rollup) step 2 is one read per series per hour.
template <typename Fn>
void MetricStore::Impl::read_tier_locked(size_t tier, uint32_t series, int64_t a, int64_t b,
                                         Fn&& fn) const {
  if (a >= b) return;
  const TierSpec& spec = kTiers[tier];
  struct Probe {
    const File* file;
    const BatchDesc* bd;
    uint64_t block_lo, block_hi, first_hi;  // index entries [block_lo, block_hi) are read
  };
  std::vector<Probe> probes;
  for (const auto& [start, f] : files_[tier]) {
    if (start >= b) break;
    if (start + spec.file_span + spec.chunk_span <= a) continue;
    for (const BatchDesc& bd : f.batches) {
      if (bd.min_t >= b || bd.max_t <= a || bd.entries == 0) continue;
      // The fences bound where `series` can start: after the last fence below it, at or
      // before the first fence at or above it. The read takes that stretch and the stride
      // after it (the series' other entries); entries past it are read one by one.
      const auto fence = std::lower_bound(bd.fences.begin(), bd.fences.end(), series);
      const uint64_t j = static_cast<uint64_t>(fence - bd.fences.begin());
      const uint64_t lo = j == 0 ? 0 : (j - 1) * kFenceStride;
      const uint64_t hi = std::min<uint64_t>(bd.entries, (j + 1) * kFenceStride);
      probes.push_back({f.file.get(), &bd, lo, hi, std::min<uint64_t>(hi, j * kFenceStride + 1)});
      f.file->will_need(bd.index_offset + lo * format::kIndexEntrySize,
                        (hi - lo) * format::kIndexEntrySize);
    }
  }
  struct Want {
    const File* file;
    format::IndexEntry e;
    bool runs;
  };
  std::vector<Want> wants;
  std::string entry(format::kIndexEntrySize, '\0');
  std::string bytes, block;
  for (const Probe& p : probes) {
    const BatchDesc& bd = *p.bd;
    if (!read_exact(*p.file, bd.index_offset + p.block_lo * format::kIndexEntrySize,
                    (p.block_hi - p.block_lo) * format::kIndexEntrySize, block)
             .ok()) {
      continue;
    }
    auto series_at = [&](uint64_t i) {
      return format::decode_index_entry(block.data() + (i - p.block_lo) * format::kIndexEntrySize)
          .series;
    };
    uint64_t lo = p.block_lo, hi = p.first_hi;
    while (lo < hi) {  // lower bound within the block
      const uint64_t mid = lo + (hi - lo) / 2;
      if (series_at(mid) < series) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    // A run (one read for the series' whole hour) spans the rest of its batch's range.
    const bool runs = (bd.flags & format::kFlagRuns) != 0;
    for (uint64_t i = lo; i < bd.entries; ++i) {
      if (i < p.block_hi) {
        entry.assign(block, (i - p.block_lo) * format::kIndexEntrySize, format::kIndexEntrySize);
      } else if (!read_exact(*p.file, bd.index_offset + i * format::kIndexEntrySize,
                             format::kIndexEntrySize, entry)
                      .ok()) {
        break;
      }
      const format::IndexEntry e = format::decode_index_entry(entry.data());
      if (e.series != series) break;
      const int64_t span = runs ? bd.max_t - e.start : spec.chunk_span;
      if (e.start >= b || e.start + span <= a) continue;
      wants.push_back({p.file, e, runs});
      p.file->will_need(e.offset, e.length);
    }
  }
  for (const Want& w : wants) {
    if (!read_exact(*w.file, w.e.offset, w.e.length, bytes).ok()) continue;
    const bool whole = for_each_chunk(bytes, w.runs, [&](std::string_view raw) {
      Result<format::DecodedChunk> d = format::decode_chunk(raw);
      if (!d.ok() || d->series != series) {
        ++counters_.corrupt_chunks;
        return;
      }
      for (size_t k = 0; k < format::kMaxSlots; ++k) {
        if (!(d->present >> k & 1)) continue;
        const int64_t t = d->start + static_cast<int64_t>(k) * d->res;
        if (t >= a && t < b) fn(t, d->slots[k].stat, d->slots[k].sketch);
      }
    });
    if (!whole) ++counters_.corrupt_chunks;
  }
}

template <typename Fn>
void MetricStore::Impl::read_heads_locked(uint32_t series, int64_t a, int64_t b, Fn&& fn) const {
  static const Sketch kEmpty;
  for (const auto& [w, win] : windows_) {
    if (w >= b || w + kMinute <= a) continue;
    auto it = win.heads.find(series);
    if (it == win.heads.end()) continue;
    const Head& h = it->second;
    for (size_t i = 0; i < kMinute; ++i) {
      if (!(h.present >> i & 1)) continue;
      const int64_t t = w + static_cast<int64_t>(i);
      if (t < a || t >= b) continue;
      const Sketch* sk = &kEmpty;
      for (const auto& [slot, k] : h.sketches) {
        if (slot == i) sk = &k;
      }
      fn(t, h.full ? h.full[i] : Stat::of(h.simple[i]), *sk);
    }
  }
}

Result<std::vector<Datapoint>> MetricStore::Impl::query(uint32_t series, int64_t start, int64_t end,
                                                        int64_t period,
                                                        const std::vector<double>& pcts) const {
  if (period <= 0) return Error(ErrorCode::kInvalidArgument, "the period must be positive");
  if (end <= start) return std::vector<Datapoint>{};
  const int64_t n = (end - start + period - 1) / period;
  if (n > 1'000'000) return Error(ErrorCode::kInvalidArgument, "too many datapoints");
  std::lock_guard lock(mu_);
  if (series >= series_.size()) return Error(ErrorCode::kNotFound, "unknown series");
  const int64_t now = now_s();
  // The finest tier whose resolution divides the period and that still holds `start`.
  size_t tier = kTiers.size();
  for (size_t t = 0; t < kTiers.size(); ++t) {
    if (period % kTiers[t].res != 0) continue;
    tier = t;
    if (start >= now - kTiers[t].retention) break;
  }
  if (tier == kTiers.size()) tier = 0;

  std::vector<Stat> stats(static_cast<size_t>(n));
  std::vector<std::vector<std::pair<double, double>>> samples;
  if (!pcts.empty()) samples.resize(static_cast<size_t>(n));
  auto add = [&](int64_t t, const Stat& s, const Sketch& sk) {
    const size_t k = static_cast<size_t>((t - start) / period);
    stats[k].merge(s);
    if (pcts.empty()) return;
    if (!sk.empty()) {
      for (const auto& [b, c] : sk) samples[k].emplace_back(sketch_value(b), c);
    } else if (s.count > 0) {
      samples[k].emplace_back(s.sum / s.count, s.count);
    }
  };
  if (tier == 0) {
    read_tier_locked(0, series, start, end, add);
  } else {
    read_tier_locked(tier, series, start, std::min(end, cursor_), add);
    read_tier_locked(0, series, std::max(start, cursor_), end, add);
  }
  read_heads_locked(series, tier == 0 ? start : std::max(start, cursor_), end, add);

  std::vector<Datapoint> out;
  for (size_t k = 0; k < stats.size(); ++k) {
    if (stats[k].empty()) continue;
    Datapoint d;
    d.t = start + static_cast<int64_t>(k) * period;
    d.stat = stats[k];
    if (!pcts.empty()) {
      auto& v = samples[k];
      std::sort(v.begin(), v.end());
      double total = 0;
      for (const auto& [x, c] : v) total += c;
      for (double p : pcts) {
        const double rank = p / 100.0 * total;
        double acc = 0, value = v.empty() ? 0 : v.back().first;
        for (const auto& [x, c] : v) {
          acc += c;
          if (acc >= rank) {
            value = x;
            break;
          }
        }
        // Sketch buckets are approximate: keep answers inside the exact range.
        value = std::clamp(value, d.stat.min, d.stat.max);
        d.percentiles.emplace_back(p, value);
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<SeriesInfo> MetricStore::Impl::list(std::string_view ns, std::string_view name,
                                                const std::vector<Dimension>& dims,
                                                int64_t active_since) const {
  std::lock_guard lock(mu_);
  std::vector<SeriesInfo> out;
  for (const SeriesInfo& s : series_) {
    if (!ns.empty() && s.key.ns != ns) continue;
    if (!name.empty() && s.key.name != name) continue;
    if (active_since > 0 && s.last_write_s < active_since) continue;
    bool ok = true;
    for (const Dimension& want : dims) {
      bool found = false;
      for (const Dimension& d : s.key.dims) {
        if (d.name == want.name && (want.value.empty() || d.value == want.value)) found = true;
      }
      if (!found) {
        ok = false;
        break;
      }
    }
    if (ok) out.push_back(s);
  }
  return out;
}

std::optional<SeriesInfo> MetricStore::Impl::info(uint32_t id) const {
  std::lock_guard lock(mu_);
  if (id >= series_.size()) return std::nullopt;
  return series_[id];
}

StoreStats MetricStore::Impl::stats() const {
  std::lock_guard lock(mu_);
  StoreStats s = counters_;
  s.series = series_.size();
  s.head_points = head_points_;
  s.rolled_up_to = cursor_;
  return s;
}

// ---- MetricStore ----

MetricStore::MetricStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricStore::~MetricStore() {
  if (Status s = flush(); !s.ok()) logging::error("metric store: final flush: {}", s.to_string());
}

Result<std::unique_ptr<MetricStore>> MetricStore::open(MetricStoreOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  FRESHET_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<MetricStore>(new MetricStore(std::move(impl)));
}

Result<uint32_t> MetricStore::intern(SeriesKey key, std::string_view unit) {
  return impl_->intern(std::move(key), unit);
}
std::optional<uint32_t> MetricStore::find(const SeriesKey& key) const { return impl_->find(key); }

Status MetricStore::record(uint32_t series, int64_t t_s, const Stat& stat, const Sketch* sketch) {
  std::lock_guard lock(impl_->mu_);
  return impl_->record_locked(series, t_s, stat, sketch, impl_->now_s());
}

Status MetricStore::record_many(int64_t t_s, const std::vector<Sample>& samples) {
  return impl_->record_many(t_s, samples);
}

Status MetricStore::record_durable(const std::vector<DurableSample>& samples) {
  return impl_->record_durable(samples);
}

Result<std::vector<Datapoint>> MetricStore::query(uint32_t series, int64_t start_s, int64_t end_s,
                                                  int64_t period_s,
                                                  const std::vector<double>& percentiles) const {
  return impl_->query(series, start_s, end_s, period_s, percentiles);
}

std::vector<SeriesInfo> MetricStore::list(std::string_view ns, std::string_view name,
                                          const std::vector<Dimension>& dims,
                                          int64_t active_since_s) const {
  return impl_->list(ns, name, dims, active_since_s);
}

std::optional<SeriesInfo> MetricStore::info(uint32_t series) const { return impl_->info(series); }
Status MetricStore::tick() { return impl_->tick(false); }
Status MetricStore::flush() { return impl_->tick(true); }
StoreStats MetricStore::stats() const { return impl_->stats(); }

}  // namespace freshet::metrics

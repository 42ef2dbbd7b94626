#include "freshet/common/logging.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "service_impl.h"
#include "freshet/common/thread_name.h"
#include "freshet/common/base64.h"
#include "freshet/delivery/delivery.h"
#include "freshet/log/log_store.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/names.h"

namespace freshet::delivery {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr size_t kReadRecords = 100'000;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A UUID (version 4 layout) derived from a seed, so a retried object gets the same name.
std::string uuid_from(uint64_t seed, uint64_t index) {
  uint64_t a = splitmix64(seed ^ (index * 0x632BE59BD9B4E019ull));
  uint64_t b = splitmix64(a ^ 0x2545F4914F6CDD1Dull);
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 15; i >= 0; --i) {
    s.push_back(kHex[(a >> (i * 4)) & 15]);
    if (i == 8 || i == 4) s.push_back('-');
  }
  s.push_back('-');
  for (int i = 15; i >= 0; --i) {
    s.push_back(kHex[(b >> (i * 4)) & 15]);
    if (i == 12) s.push_back('-');
  }
  return s;
}

std::string random_string_from(uint64_t seed, uint64_t index) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint64_t x = splitmix64(seed + 0x51ED27u + index * 7919);
  std::string s;
  for (int i = 0; i < 11; ++i) {
    s.push_back(kChars[x % 36]);
    x = splitmix64(x);
  }
  return s;
}

// RecordIds: opaque and unique; they encode the stream's epoch and the record's offset.
std::string record_id(int64_t create_ms, uint64_t offset) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(create_ms),
                static_cast<unsigned long long>(offset));
  std::string id = base64_encode(std::string_view(buf, 32));
  return id;
}

std::string json_escape(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace

std::string S3Destination::bucket() const {
  size_t p = bucket_arn.find(":::");
  return p == std::string::npos ? bucket_arn : bucket_arn.substr(p + 3);
}

PutQuotas put_quotas(std::string_view region) {
  if (region == "us-east-1" || region == "us-west-2" || region == "eu-west-1") {
    return PutQuotas{500'000, 2'000, 5.0 * 1024 * 1024};
  }
  return PutQuotas{100'000, 1'000, 1.0 * 1024 * 1024};
}

bool DeliveryService::Impl::creating(const DeliveryStreamInfo& info) const {
  return opt_.create_delay_ms > 0 && now_ms() < info.create_ms + opt_.create_delay_ms;
}

Result<std::unique_ptr<DeliveryService>> DeliveryService::open(DeliveryOptions options) {
  if (options.store == nullptr || options.metrics == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "delivery needs an object store and metrics");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  FRESHET_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<DeliveryService>(new DeliveryService(std::move(impl)));
}

DeliveryService::DeliveryService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeliveryService::~DeliveryService() {
  stop();
  std::lock_guard lock(impl_->mu_);
  for (auto& [n, s] : impl_->streams_) (void)s->log->close();
  impl_->streams_.clear();
}

Status DeliveryService::Impl::open() {
  for (const char* d : {"/streams", "/state"}) {
    FRESHET_RETURN_IF_ERROR(create_dirs_durably(*fs_, opt_.root + d));
  }
  FRESHET_ASSIGN_OR_RETURN(logs_, log::LogStore::open(opt_.root + "/buffer", fs_));
  FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> files, fs_->list_dir(opt_.root + "/streams"));
  for (const std::string& f : files) {
    if (f.size() < 6 || f.substr(f.size() - 5) != ".json") continue;
    FRESHET_ASSIGN_OR_RETURN(std::string text, read_whole_file(*fs_, opt_.root + "/streams/" + f));
    FRESHET_ASSIGN_OR_RETURN(DeliveryStreamInfo info, decode_stream(text));
    FRESHET_RETURN_IF_ERROR(open_stream(std::move(info), false));
  }
  return {};
}

void DeliveryService::Impl::add_metrics(Stream& s) {
  metrics::Registry& r = *opt_.metrics;
  metrics::Labels l{{"DeliveryStreamName", s.info.name}};
  auto name = [](const char* n) { return metrics::cloudwatch_metric_name("firehose", n); };
  s.incoming_records = r.counter(name("IncomingRecords"), l, "Records put (AWS/Firehose)");
  s.incoming_bytes = r.counter(name("IncomingBytes"), l, "Bytes put (AWS/Firehose)");
  s.incoming_puts = r.counter(name("IncomingPutRequests"), l, "Put requests (AWS/Firehose)");
  s.delivered_records = r.counter(name("DeliveryToS3.Records"), l, "Records delivered to S3");
  s.delivered_bytes = r.counter(name("DeliveryToS3.Bytes"), l, "Bytes delivered to S3");
  s.delivered_objects = r.counter(name("DeliveryToS3.ObjectCount"), l, "Objects delivered");
  s.delivery_success = r.counter(name("DeliveryToS3.Success"), l, "Successful object writes");
  s.delivery_failures =
      r.counter("freshet_firehose_delivery_failures_total", l, "Failed object writes (retried)");
  s.throttled_records = r.counter(name("ThrottledRecords"), l,
                                 "Records refused because a put quota was exceeded");
  s.read_records = r.counter(name("DataReadFromKinesisStream.Records"), l,
                             "Records read from the source Kinesis stream");
  s.read_bytes = r.counter(name("DataReadFromKinesisStream.Bytes"), l,
                           "Bytes read from the source Kinesis stream");
  s.millis_behind = r.gauge(name("KinesisMillisBehindLatest"), l,
                            "How far the source reader is behind the stream's tip (ms)");
  s.freshness = r.gauge(name("DeliveryToS3.DataFreshness"), l,
                        "Age in seconds of the oldest record not yet delivered");
}

Status DeliveryService::Impl::open_stream(DeliveryStreamInfo info, bool fresh) {
  auto s = std::make_shared<Stream>();
  s->log_name = "ds/" + info.name + "." + std::to_string(info.create_ms);
  s->name = info.name;
  s->state_name = info.name + "." + std::to_string(info.create_ms);
  log::LogOptions lo;
  lo.durability = opt_.fsync ? log::Durability::kFsync : log::Durability::kOs;
  lo.retention_ms = 24ll * 60 * 60 * 1000;  // records wait for a down destination 24 hours
  lo.segment_bytes = 64ull << 20;
  FRESHET_ASSIGN_OR_RETURN(s->log, logs_->open_log(s->log_name, lo));
  const std::string state_name = info.name + "." + std::to_string(info.create_ms);
  if (fresh) {
    FRESHET_RETURN_IF_ERROR(write_file_atomically(*fs_, opt_.root + "/state", state_name,
                                                  encode_state(s->state)));
  } else {
    Result<std::string> text = read_whole_file(*fs_, opt_.root + "/state/" + state_name);
    if (text.ok()) {
      FRESHET_ASSIGN_OR_RETURN(s->state, decode_state(*text));
    } else if (text.code() != ErrorCode::kNotFound) {
      return text.error();
    }
  }
  s->info = std::move(info);
  add_metrics(*s);
  if (s->info.type == "KinesisStreamAsSource") FRESHET_RETURN_IF_ERROR(load_source(*s));
  if (s->state.pending || s->log->committed_tip() > s->state.delivered) {
    s->buffer_drained = false;
  } else {
    s->buffer_drained = true;
  }
  std::lock_guard lock(mu_);
  if (started_) start_source_thread(s);
  streams_[s->info.name] = std::move(s);
  return {};
}

void DeliveryService::start() {
  std::lock_guard lock(impl_->mu_);
  if (impl_->started_) return;
  impl_->stop_ = false;
  impl_->started_ = true;
  impl_->thread_ = std::thread([this] {
    name_this_thread("firehose");
    impl_->run();
  });
  for (auto& [n, s] : impl_->streams_) impl_->start_source_thread(s);
}

void DeliveryService::stop() {
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::lock_guard lock(impl_->mu_);
    impl_->stop_ = true;
    impl_->started_ = false;
    for (auto& [n, s] : impl_->streams_) all.push_back(s);
  }
  impl_->cv_.notify_all();
  if (impl_->thread_.joinable()) impl_->thread_.join();
  for (auto& s : all) impl_->stop_source_thread(*s);
}

void DeliveryService::deliver_now() { impl_->pass(false); }

void DeliveryService::Impl::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(opt_.tick_ms), [this] { return stop_ || wake_; });
    if (stop_) break;
    wake_ = false;
    lock.unlock();
    pass(true);
    lock.lock();
  }
}

void DeliveryService::Impl::pass(bool from_thread) {
  std::lock_guard pl(pass_mu_);
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [n, s] : streams_) all.push_back(s);
  }
  const int64_t now = now_ms();
  for (auto& s : all) deliver_stream(s, now, from_thread);
}

Status DeliveryService::Impl::save_state(Stream& s) {
  return write_file_atomically(*fs_, opt_.root + "/state", s.state_name, encode_state(s.state));
}

// REQUIRES: called on the delivery pass (pass_mu_ held).
void DeliveryService::Impl::deliver_stream(const std::shared_ptr<Stream>& sp, int64_t now,
                                           bool from_thread) {
  Stream& s = *sp;
  DeliveryStreamInfo cfg;
  bool deleting, force, threaded;
  {
    std::lock_guard lock(mu_);
    cfg = s.info;
    deleting = s.deleting;
    force = s.force_delete;
    threaded = s.source_thread.joinable();
  }
  if (deleting && force) {
    stop_source_thread(s);
    return finish_delete(sp);
  }
  bool again = false;
  bool drained = deliver_buffer(s, cfg, now, deleting, &again);
  while (again) drained = deliver_buffer(s, cfg, now_ms(), deleting, &again);
  if (cfg.type != "KinesisStreamAsSource") {
    if (deleting && drained) finish_delete(sp);
    return;
  }
  // KinesisStreamAsSource: records an older version copied into the buffer go first; then
  // the source thread reads the source stream directly (deliver_now() steps it here too).
  if (drained) s.buffer_drained = true;
  if (!from_thread || !threaded) {
    std::lock_guard sl(s.source_mu);
    while (source_step(s)) {
    }
  }
  if (deleting && s.source_drained) {
    stop_source_thread(s);
    finish_delete(sp);
  }
}

// REQUIRES: called on the delivery pass (pass_mu_ held).
bool DeliveryService::Impl::deliver_buffer(Stream& s, const DeliveryStreamInfo& cfg, int64_t now,
                                           bool deleting, bool* again) {
  *again = false;
  // Records the log dropped (retention: the destination was down over 24 hours) are skipped.
  const uint64_t horizon = s.log->trim_horizon();
  if (s.state.delivered < horizon) {
    logging::warn("delivery stream {}: records {}..{} expired before delivery", cfg.name,
                 s.state.delivered, horizon);
    s.state.delivered = horizon;
    s.state.pending = false;
    s.scan_end = 0;  // counted again from the new start
  }
  const uint64_t tip = s.log->committed_tip();
  if (!s.state.pending) {
    if (tip <= s.state.delivered) {
      if (cfg.type != "KinesisStreamAsSource") s.freshness->set(0);
      return true;
    }
    // Is the buffer full, or its oldest record old enough?
    const uint64_t limit = static_cast<uint64_t>(cfg.destination.size_mb) * kMiB;
    if (s.scan_end < s.state.delivered) {
      s.scan_end = s.state.delivered;
      s.scan_bytes = 0;
      s.scan_oldest = -1;
    }
    while (s.scan_end < tip && s.scan_bytes < limit) {
      Result<log::ReadResult> r = s.log->read(s.scan_end, kReadRecords, limit - s.scan_bytes);
      if (!r.ok() || r->records.empty()) break;
      for (const auto& rec : r->records) {
        if (s.scan_bytes >= limit) break;
        if (s.scan_oldest < 0) s.scan_oldest = rec.timestamp_ms;
        s.scan_bytes += rec.data.size();
        s.scan_end = rec.offset + 1;
      }
    }
    const uint64_t bytes = s.scan_bytes, end = s.scan_end;
    const int64_t oldest = s.scan_oldest;
    if (oldest < 0) return false;
    s.freshness->set(static_cast<double>(std::max<int64_t>(0, now - oldest)) / 1000.0);
    const bool full = bytes >= limit;
    const bool due = now - oldest >= int64_t{cfg.destination.interval_seconds} * 1000;
    if (!full && !due && !deleting) return false;
    s.state.pending = true;
    s.state.pending_end = end;
    s.state.pending_time_ms = oldest;
    s.state.pending_seed = std::random_device{}() * 0x100000000ull ^ std::random_device{}();
    s.state.pending_version = cfg.version;
    if (Status st = save_state(s); !st.ok()) {
      logging::error("delivery stream {}: cannot save state: {}", cfg.name, st.to_string());
      s.state.pending = false;
      return false;
    }
  }
  if (now < s.next_attempt_ms) return false;
  // Past RetryOptions.DurationInSeconds of failures, a batch the destination still refuses
  // goes to the error prefix instead (if that fails too, both keep being retried while the
  // log keeps the records: 24 hours).
  Status st = write_batch(s, cfg, std::string());
  if (!st.ok() && s.first_failure_ms != 0 &&
      now - s.first_failure_ms >= int64_t{cfg.destination.retry_seconds} * 1000) {
    Status es = write_batch(s, cfg, st.error().message());
    if (es.ok()) st = es;
  }
  if (st.ok()) {
    s.state.delivered = s.state.pending_end;
    s.state.pending = false;
    s.scan_end = s.state.delivered;
    s.scan_bytes = 0;
    s.scan_oldest = -1;
    s.first_failure_ms = 0;
    s.backoff_ms = 0;
    s.next_attempt_ms = 0;
    if (Status ss = save_state(s); !ss.ok()) {
      logging::error("delivery stream {}: cannot save state: {}", cfg.name, ss.to_string());
    }
    s.freshness->set(0);
    // More may be waiting: a full buffer is written at once, not one per tick.
    *again = true;
    return false;
  }
  s.delivery_failures->inc();
  if (s.first_failure_ms == 0) s.first_failure_ms = now;
  s.backoff_ms = std::min(s.backoff_ms == 0 ? 1000 : s.backoff_ms * 2, opt_.max_backoff_ms);
  s.next_attempt_ms = now + s.backoff_ms;
  logging::warn("delivery stream {}: delivery failed (retrying in {} ms): {}", cfg.name,
               s.backoff_ms, st.to_string());
  return false;
}

Status DeliveryService::Impl::write_batch(Stream& s, const DeliveryStreamInfo& cfg,
                                          const std::string& failure) {
  const uint64_t first = s.state.delivered, end = s.state.pending_end;
  std::vector<log::ReadResult> reads;
  std::vector<BatchRecord> records;
  uint64_t at = first;
  while (at < end) {
    FRESHET_ASSIGN_OR_RETURN(log::ReadResult r, s.log->read(at, kReadRecords, 64 * kMiB));
    if (r.records.empty()) return Error(ErrorCode::kCorruption, "buffer shorter than its tip");
    for (const auto& rec : r.records) {
      if (rec.offset >= end) break;
      at = rec.offset + 1;
      records.push_back(BatchRecord{rec.data, rec.timestamp_ms});
    }
    reads.push_back(std::move(r));
  }
  BatchId id{s.state.pending_time_ms, s.state.pending_seed, s.state.pending_version};
  FRESHET_ASSIGN_OR_RETURN(PreparedBatch b,
                           prepare_batch(cfg.name, cfg.destination, records, id, failure));
  return put_batch(s, b);
}

Status DeliveryService::Impl::put_batch(Stream& s, const PreparedBatch& b) {
  for (const PreparedObject& o : b.objects) {
    objstore::ObjectAttributes attrs;
    Result<objstore::ObjectInfo> r = opt_.store->put_object(b.bucket, o.key, o.data, attrs);
    if (!r.ok()) return r.error();
    s.delivered_objects->inc();
  }
  s.delivered_records->inc(b.records);
  s.delivered_bytes->inc(b.bytes);
  s.delivery_success->inc();
  return {};
}

Result<PreparedBatch> prepare_batch(const std::string& stream_name, const S3Destination& d,
                                    std::span<const BatchRecord> records, const BatchId& id,
                                    const std::string& failure) {
  // Group the batch's records by partition (one group without dynamic partitioning); records
  // whose keys cannot be extracted go to the error prefix.
  struct Group {
    std::map<std::string, std::string> keys;
    std::string body;
  };
  std::map<std::string, Group> groups;  // by rendered key set
  std::string failed_lines;
  uint64_t failed = 0;
  PreparedBatch out;
  out.bucket = d.bucket();
  Group* plain = nullptr;  // without dynamic partitioning: the one group
  if (failure.empty() && !d.dynamic_partitioning && !records.empty()) {
    size_t total = 0;
    for (const BatchRecord& rec : records) total += rec.data.size() + 1;
    plain = &groups[""];
    plain->body.reserve(total);
  }
  for (const BatchRecord& rec : records) {
    std::string group_key;
    std::map<std::string, std::string> keys;
    if (!failure.empty()) {
      failed_lines += "{\"attemptsMade\":1,\"arrivalTimestamp\":" +
                      std::to_string(rec.timestamp_ms) +
                      ",\"errorCode\":\"S3.DeliveryFailed\",\"errorMessage\":\"" +
                      json_escape(failure) + "\",\"attemptEndingTimestamp\":" +
                      std::to_string(now_ms()) + ",\"rawData\":\"" + base64_encode(rec.data) +
                      "\"}\n";
      ++failed;
      continue;
    }
    if (d.dynamic_partitioning) {
      Result<std::map<std::string, std::string>> k =
          extract_partition_keys(d.metadata_query, rec.data);
      if (!k.ok()) {
        failed_lines += "{\"attemptsMade\":1,\"arrivalTimestamp\":" +
                        std::to_string(rec.timestamp_ms) +
                        ",\"errorCode\":\"DynamicPartitioning.MetadataExtractionFailed\","
                        "\"errorMessage\":\"" + json_escape(k.error().message()) +
                        "\",\"attemptEndingTimestamp\":" + std::to_string(now_ms()) +
                        ",\"rawData\":\"" + base64_encode(rec.data) + "\"}\n";
        ++failed;
        continue;
      }
      keys = std::move(*k);
      for (const auto& [kk, vv] : keys) group_key += kk + "=" + vv + "\x1f";
    }
    Group& g = plain != nullptr ? *plain : groups[group_key];
    if (plain == nullptr) g.keys = std::move(keys);
    g.body.append(rec.data);
    if (d.append_delimiter) g.body.push_back('\n');
    ++out.records;
    out.bytes += rec.data.size();
  }
  const std::string stamp = format_java_time("yyyy-MM-dd-HH-mm-ss", id.time_ms).value();
  const std::string ext =
      d.file_extension.empty() ? std::string(default_extension(d.compression)) : d.file_extension;
  uint64_t index = 0;
  auto add = [&](const std::string& prefix, const PrefixContext& ctx, std::string_view body,
                 uint64_t idx) -> Status {
    std::string name = stream_name + "-" + std::to_string(id.version) + "-" + stamp + "-" +
                       uuid_from(id.seed, idx);
    FRESHET_ASSIGN_OR_RETURN(std::string data, compress(d.compression, body, name));
    out.objects.push_back(PreparedObject{evaluate_prefix(prefix, ctx) + name + ext, std::move(data)});
    return {};
  };
  for (auto& [gk, g] : groups) {
    PrefixContext ctx;
    ctx.time_ms = id.time_ms;
    ctx.random_string = random_string_from(id.seed, index);
    ctx.partition_keys = g.keys;
    FRESHET_RETURN_IF_ERROR(add(d.prefix, ctx, g.body, index));
    ++index;
  }
  if (failed > 0) {
    PrefixContext ctx;
    ctx.time_ms = id.time_ms;
    ctx.random_string = random_string_from(id.seed, index);
    ctx.error_output_type = failure.empty() ? "partitioning-failed" : "delivery-failed";
    FRESHET_RETURN_IF_ERROR(add(d.error_output_prefix, ctx, failed_lines, index));
    ++index;
  }
  return out;
}

void DeliveryService::Impl::finish_delete(const std::shared_ptr<Stream>& s) {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = s->info.name;
    auto it = streams_.find(name);
    if (it == streams_.end() || it->second != s) return;
    streams_.erase(it);
  }
  (void)s->log->close();
  const std::string state_name = name + "." + std::to_string(s->info.create_ms);
  (void)fs_->remove(opt_.root + "/streams/" + name + ".json");
  (void)fs_->sync_dir(opt_.root + "/streams");
  (void)fs_->remove(opt_.root + "/state/" + state_name);
  (void)fs_->remove(opt_.root + "/state/" + state_name + ".source");
  (void)logs_->remove_log(s->log_name);
}

// ---------------------------------------------------------------- control plane

Status DeliveryService::create(DeliveryStreamInfo info) {
  {
    std::lock_guard lock(impl_->mu_);
    if (impl_->streams_.count(info.name) != 0) {
      return Error(ErrorCode::kAlreadyExists,
                   "Firehose " + info.name + " under accountId " + impl_->opt_.account_id +
                       " already exists");
    }
  }
  if (info.type == "KinesisStreamAsSource") {
    Result<stream::StreamArn> arn = stream::parse_stream_arn(info.source_stream_arn);
    if (!arn.ok()) return Error(ErrorCode::kInvalidArgument, arn.error().message());
    if (impl_->opt_.engine == nullptr ||
        !impl_->opt_.engine->describe_stream(arn->region, arn->stream_name).ok()) {
      return Error(ErrorCode::kInvalidArgument,
                   "Kinesis stream " + info.source_stream_arn + " does not exist.");
    }
  }
  if (info.create_ms == 0) info.create_ms = now_ms();
  info.arn = "arn:aws:firehose:" + impl_->opt_.region + ":" + impl_->opt_.account_id +
             ":deliverystream/" + info.name;
  info.version = 1;
  FRESHET_RETURN_IF_ERROR(write_file_atomically(*impl_->fs_, impl_->opt_.root + "/streams",
                                                info.name + ".json", encode_stream(info)));
  return impl_->open_stream(std::move(info), true);
}

Result<DeliveryStreamInfo> DeliveryService::describe(std::string_view name) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->streams_.find(name);
  if (it == impl_->streams_.end()) {
    return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                           impl_->opt_.account_id + " not found.");
  }
  DeliveryStreamInfo i = it->second->info;
  if (it->second->deleting) {
    i.status = "DELETING";
  } else if (impl_->creating(i)) {
    i.status = "CREATING";
  }
  return i;
}

std::vector<std::string> DeliveryService::list(std::string_view type, std::string_view start_after,
                                               size_t limit, bool* has_more) {
  std::lock_guard lock(impl_->mu_);
  std::vector<std::string> out;
  *has_more = false;
  for (auto it = impl_->streams_.upper_bound(start_after); it != impl_->streams_.end(); ++it) {
    if (!type.empty() && it->second->info.type != type) continue;
    if (out.size() == limit) {
      *has_more = true;
      break;
    }
    out.push_back(it->first);
  }
  return out;
}

Status DeliveryService::remove(std::string_view name, bool force) {
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->streams_.find(name);
    if (it == impl_->streams_.end()) {
      return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                             impl_->opt_.account_id + " not found.");
    }
    if (impl_->creating(it->second->info)) {
      // As AWS: "You can't delete a Firehose stream that is in the CREATING state."
      return Error(ErrorCode::kResourceInUse,
                   "Firehose " + std::string(name) + " under account " + impl_->opt_.account_id +
                       " is in CREATING state and cannot be deleted.");
    }
    it->second->deleting = true;
    it->second->force_delete = force;
    impl_->wake_ = true;
  }
  impl_->cv_.notify_all();
  return {};
}

Status DeliveryService::update_destination(std::string_view name, std::string_view current_version,
                                           const S3Destination& dest) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->streams_.find(name);
  if (it == impl_->streams_.end()) {
    return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                           impl_->opt_.account_id + " not found.");
  }
  DeliveryStreamInfo next = it->second->info;
  if (std::to_string(next.version) != current_version) {
    return Error(ErrorCode::kFailed,
                 "Cannot update firehose: " + std::string(name) +
                     " since the current version id: " + std::to_string(next.version) +
                     " and the specified version id: " + std::string(current_version) +
                     " does not match");
  }
  next.destination = dest;
  next.version += 1;
  next.update_ms = now_ms();
  FRESHET_RETURN_IF_ERROR(write_file_atomically(*impl_->fs_, impl_->opt_.root + "/streams",
                                                next.name + ".json", encode_stream(next)));
  it->second->info = std::move(next);
  return {};
}

Status DeliveryService::tag(std::string_view name,
                            const std::vector<std::pair<std::string, std::string>>& tags) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->streams_.find(name);
  if (it == impl_->streams_.end()) {
    return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                           impl_->opt_.account_id + " not found.");
  }
  DeliveryStreamInfo next = it->second->info;
  for (const auto& [k, v] : tags) {
    auto t = std::find_if(next.tags.begin(), next.tags.end(),
                          [&](const auto& p) { return p.first == k; });
    if (t != next.tags.end()) t->second = v;
    else next.tags.emplace_back(k, v);
  }
  if (next.tags.size() > 50) {
    return Error(ErrorCode::kLimitExceeded,
                 "A delivery stream cannot have more than 50 tags.");
  }
  FRESHET_RETURN_IF_ERROR(write_file_atomically(*impl_->fs_, impl_->opt_.root + "/streams",
                                                next.name + ".json", encode_stream(next)));
  it->second->info = std::move(next);
  return {};
}

Status DeliveryService::untag(std::string_view name, const std::vector<std::string>& keys) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->streams_.find(name);
  if (it == impl_->streams_.end()) {
    return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                           impl_->opt_.account_id + " not found.");
  }
  DeliveryStreamInfo next = it->second->info;
  std::erase_if(next.tags, [&](const auto& p) {
    return std::find(keys.begin(), keys.end(), p.first) != keys.end();
  });
  FRESHET_RETURN_IF_ERROR(write_file_atomically(*impl_->fs_, impl_->opt_.root + "/streams",
                                                next.name + ".json", encode_stream(next)));
  it->second->info = std::move(next);
  return {};
}

Status DeliveryService::set_encryption(std::string_view name, std::optional<Encryption> enc) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->streams_.find(name);
  if (it == impl_->streams_.end()) {
    return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                           impl_->opt_.account_id + " not found.");
  }
  DeliveryStreamInfo next = it->second->info;
  next.encryption = enc ? *enc : Encryption{};
  if (enc) next.encryption.status = "ENABLED";
  FRESHET_RETURN_IF_ERROR(write_file_atomically(*impl_->fs_, impl_->opt_.root + "/streams",
                                                next.name + ".json", encode_stream(next)));
  it->second->info = std::move(next);
  return {};
}

Result<std::vector<std::string>> DeliveryService::put(std::string_view name,
                                                      const std::vector<std::string_view>& records) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->streams_.find(name);
    // A CREATING stream takes no records yet: answered as a missing one, as Kinesis answers
    // PutRecord to a CREATING stream.
    if (it == impl_->streams_.end() || it->second->deleting ||
        impl_->creating(it->second->info)) {
      return Error(ErrorCode::kNotFound, "Firehose " + std::string(name) + " under account " +
                                             impl_->opt_.account_id + " not found.");
    }
    if (it->second->info.type != "DirectPut") {
      return Error(ErrorCode::kInvalidArgument,
                   "This operation is not permitted on KinesisStreamAsSource type of delivery "
                   "stream.");
    }
    s = it->second;
    if (impl_->opt_.enforce_limits) {
      uint64_t bytes = 0;
      for (std::string_view r : records) bytes += r.size();
      const PutQuotas q = put_quotas(impl_->opt_.region);
      const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
      Stream& st = *s;
      if (st.tokens_at_us == 0) {
        st.tokens_records = q.records_per_s;
        st.tokens_requests = q.requests_per_s;
        st.tokens_bytes = q.bytes_per_s;
      } else {
        const double secs = static_cast<double>(now_us - st.tokens_at_us) / 1e6;
        st.tokens_records = std::min(q.records_per_s, st.tokens_records + secs * q.records_per_s);
        st.tokens_requests =
            std::min(q.requests_per_s, st.tokens_requests + secs * q.requests_per_s);
        st.tokens_bytes = std::min(q.bytes_per_s, st.tokens_bytes + secs * q.bytes_per_s);
      }
      st.tokens_at_us = now_us;
      if (st.tokens_records < static_cast<double>(records.size()) || st.tokens_requests < 1 ||
          st.tokens_bytes < static_cast<double>(bytes)) {
        st.throttled_records->inc(records.size());
        return Error(ErrorCode::kThrottled, "Slow down.");
      }
      st.tokens_records -= static_cast<double>(records.size());
      st.tokens_requests -= 1;
      st.tokens_bytes -= static_cast<double>(bytes);
    }
  }
  const int64_t ts = now_ms();
  std::vector<log::Record> recs(records.size());
  uint64_t bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    recs[i].data = records[i];
    recs[i].timestamp_ms = ts;
    bytes += records[i].size();
  }
  FRESHET_ASSIGN_OR_RETURN(uint64_t first, s->log->append(recs));
  s->incoming_puts->inc();
  s->incoming_records->inc(records.size());
  s->incoming_bytes->inc(bytes);
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) ids.push_back(record_id(s->info.create_ms, first + i));
  return ids;
}

}  // namespace freshet::delivery


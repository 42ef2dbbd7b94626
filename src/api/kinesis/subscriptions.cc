#include "subscriptions.h"

#include <algorithm>
#include <chrono>

#include "convert.h"
#include "freshet/common/thread_name.h"
#include "freshet/api/codec.h"
#include "freshet/common/base64.h"
#include "freshet/stream/sequence_number.h"

namespace freshet::api::kinesis {

namespace {

// Event payloads: JSON for AWS JSON 1.1 requests (what AWS and the SDKs put in an event's
// :content-type), CBOR for CBOR requests.
constexpr std::string_view kEventJson = "application/json";
constexpr std::string_view kEventCbor = "application/x-amz-cbor-1.1";

constexpr uint32_t kRecordsPerRead = 10'000;
constexpr size_t kEventDataBytes = 1u << 20;  // record data per event (events stay < 2 MiB)
constexpr double kBytesPerSecond = 2.0 * (1u << 20);

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Document child_shards_document(const std::vector<stream::ChildShard>& children) {
  Document list = Document::make_list();
  for (const auto& c : children) {
    Document cd = Document::make_map();
    cd.set("ShardId", c.shard_id);
    cd.set("ParentShards", string_list_doc(c.parent_shards));
    cd.set("HashKeyRange", hash_key_range_doc(c.range));
    list.push_back(std::move(cd));
  }
  return list;
}

}  // namespace

struct Subscriptions::Subscription {
  // Set at creation, then read-only.
  SubscriptionStart start;
  std::string key;        // consumer ARN + '\n' + shard id
  std::string shard_key;  // region/stream/shard
  int64_t expires_ms = 0;
  std::shared_ptr<ResponseStream> out;
  // Scheduling: GUARDED_BY(Subscriptions::mu_).
  bool queued = false;
  bool running = false;
  bool again = false;  // made ready while running
  bool done = false;   // ended; removed from the registry
  int64_t due_ms = 0;  // next timed run
  // Reading: only the worker that set `running`.
  std::string iterator;
  uint64_t next_offset = 0;
  std::string continuation;  // ContinuationSequenceNumber so far
  int64_t last_event_ms = 0;
  double tokens = kBytesPerSecond;  // enforce_limits: bytes that may go out now
  // Average event bytes per record seen so far; sizes reads to the buffer bound and the rate
  // limit. Starts at the bound itself, so the first read takes one record.
  double record_bytes = 0;
  double record_data = kBytesPerSecond;  // average record data bytes (the rate limit's unit)
  int64_t tokens_ms = 0;
};

Subscriptions::Subscriptions(stream::Engine& engine, metrics::Registry& metrics,
                             SubscriptionOptions options)
    : engine_(engine), options_(options) {
  events_ = metrics.counter("freshet_kinesis_subscribe_events_total", {},
                            "SubscribeToShardEvents sent");
  records_ = metrics.counter("freshet_kinesis_subscribe_records_total", {},
                             "Records delivered through SubscribeToShard");
  bytes_ = metrics.counter("freshet_kinesis_subscribe_bytes_total", {},
                           "Record data bytes delivered through SubscribeToShard");
  live_ = metrics.gauge("freshet_kinesis_subscriptions", {}, "Live SubscribeToShard subscriptions");
}

Subscriptions::~Subscriptions() {
  std::vector<std::shared_ptr<Subscription>> all;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [k, s] : by_consumer_) all.push_back(s);
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
  for (auto& s : all) s->out->end();
}

size_t Subscriptions::active() const { return count_.load(std::memory_order_relaxed); }

Result<std::shared_ptr<ResponseStream>> Subscriptions::subscribe(SubscriptionStart start,
                                                                 ApiError* in_use) {
  auto s = std::make_shared<Subscription>();
  s->key = start.consumer_arn + '\n' + start.shard_id;
  s->shard_key = start.region + '/' + start.stream + '/' + start.shard_id;
  const int64_t now = wall_ms();
  s->expires_ms = now + options_.lifetime_ms;
  s->iterator = start.iterator;
  s->next_offset = start.start_offset;
  s->continuation =
      start.start_offset == 0
          ? start.shard_starting_sequence
          : stream::SequenceNumberFormatter(start.stream_epoch, start.shard_index)
                .format(start.start_offset - 1);
  s->last_event_ms = now;
  s->tokens_ms = now;
  s->record_bytes = static_cast<double>(options_.max_buffered);
  s->out = std::make_shared<ResponseStream>();
  std::string initial;
  append_event("initial-response", start.protocol == Protocol::kCbor ? kEventCbor : kEventJson,
               start.protocol == Protocol::kCbor ? encode_cbor(Document::make_map()) : "{}",
               initial);
  s->out->write(initial);
  s->start = std::move(start);
  std::weak_ptr<Subscription> weak = s;
  s->out->set_on_drain([this, weak] {
    auto sub = weak.lock();
    if (!sub) return;
    std::lock_guard lock(mu_);
    make_ready_locked(sub);
    cv_.notify_one();
  });
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Error(ErrorCode::kUnavailable, "The server is stopping.");
    auto [it, inserted] = by_consumer_.emplace(s->key, s);
    if (!inserted) {
      *in_use = ApiError{AwsError::kResourceInUse,
                         "Another active subscription exists for this consumer: " +
                             s->start.consumer_arn + " and shard: " + s->start.shard_id + "."};
      return Error(ErrorCode::kResourceInUse, in_use->message);
    }
    by_shard_.emplace(s->shard_key, s);
    count_.fetch_add(1, std::memory_order_relaxed);
    live_->inc();
    if (threads_.empty()) {
      for (int i = 0; i < std::max(1, options_.threads); ++i) {
        threads_.emplace_back([this] {
          name_this_thread("subscribe");
          worker();
        });
      }
    }
    make_ready_locked(s);
  }
  cv_.notify_one();
  return s->out;
}

void Subscriptions::make_ready_locked(const std::shared_ptr<Subscription>& s) {
  if (s->done) return;
  if (s->running) {
    s->again = true;
    return;
  }
  if (s->queued) return;
  s->queued = true;
  ready_.push_back(s);
}

void Subscriptions::notify(const std::string& region, const std::string& stream,
                           const std::string& shard_id) {
  if (count_.load(std::memory_order_relaxed) == 0) return;
  const std::string key = region + '/' + stream + '/' + shard_id;
  bool any = false;
  {
    std::lock_guard lock(mu_);
    auto [lo, hi] = by_shard_.equal_range(key);
    for (auto it = lo; it != hi; ++it) {
      make_ready_locked(it->second);
      any = true;
    }
  }
  if (any) cv_.notify_all();
}

void Subscriptions::finish(const std::shared_ptr<Subscription>& s) {
  // REQUIRES: mu_ held.
  if (s->done) return;
  s->done = true;
  by_consumer_.erase(s->key);
  auto [lo, hi] = by_shard_.equal_range(s->shard_key);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == s) {
      by_shard_.erase(it);
      break;
    }
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
  live_->dec();
}

void Subscriptions::worker() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (ready_.empty()) {
      // Timed runs (polls, heartbeats, ends of life) are found by a scan: subscriptions are
      // few (one per consumer and shard) and the scan runs at most every 20 ms per worker.
      const int64_t now = wall_ms();
      for (auto& [k, s] : by_consumer_) {
        if (!s->queued && !s->running && s->due_ms <= now) make_ready_locked(s);
      }
      if (ready_.empty()) {
        cv_.wait_for(lock, std::chrono::milliseconds(20));
        continue;
      }
    }
    std::shared_ptr<Subscription> s = std::move(ready_.front());
    ready_.pop_front();
    s->queued = false;
    if (s->done) continue;
    s->running = true;
    s->again = false;
    lock.unlock();
    const int64_t next = step(*s);
    const int64_t now = wall_ms();
    lock.lock();
    s->running = false;
    if (next < 0) {
      finish(s);
    } else if (s->again || next == 0) {
      make_ready_locked(s);
    } else {
      s->due_ms = next == INT64_MAX ? std::min(s->expires_ms, now + options_.poll_ms * 5)
                                    : now + next;
    }
  }
}

// Returns -1 when the subscription has ended, else the delay before its next run.
int64_t Subscriptions::step(Subscription& s) {
  ResponseStream& out = *s.out;
  if (out.cancelled()) return -1;
  const int64_t now = wall_ms();
  const bool cbor = s.start.protocol == Protocol::kCbor;
  const std::string_view ct = cbor ? kEventCbor : kEventJson;
  auto fail = [&](AwsError type, const std::string& message) {
    std::string msg;
    ApiError e{type, message};
    Document body = Document::make_map();
    body.set("message", message);
    append_exception(e.info().type, ct, cbor ? encode_cbor(body) : encode_json(body), msg);
    out.write(msg);
    out.end();
    return int64_t{-1};
  };
  if (now >= s.expires_ms) {
    out.end();  // AWS closes every subscription after 5 minutes; the client resubscribes
    return -1;
  }
  // A reader that has not taken what is buffered holds the reading back (its drain makes the
  // subscription ready again).
  if (out.buffered() >= options_.max_buffered) return INT64_MAX;
  if (options_.enforce_limits) {
    s.tokens = std::min(kBytesPerSecond, s.tokens + (now - s.tokens_ms) * kBytesPerSecond / 1000);
    s.tokens_ms = now;
    // Wait until a record of the average size fits (a full bucket always reads one).
    const double need = std::min(s.record_data, kBytesPerSecond);
    if (s.tokens < need) {
      return std::max<int64_t>(1, static_cast<int64_t>((need - s.tokens) * 1000 / kBytesPerSecond));
    }
  }
  // Read about as much as the buffer bound has room for (a slow reader's memory stays bounded).
  double records = static_cast<double>(options_.max_buffered - out.buffered()) / s.record_bytes;
  if (options_.enforce_limits) records = std::min(records, s.tokens / s.record_data);
  const auto limit =
      static_cast<uint32_t>(std::clamp(records, 1.0, static_cast<double>(kRecordsPerRead)));
  // Enhanced fan-out: not counted against the shard's shared GetRecords limits.
  auto r = engine_.get_records(s.iterator, limit, /*shared_read_limits=*/false);
  if (!r.ok()) {
    switch (r.code()) {
      case ErrorCode::kNotFound:
        return fail(AwsError::kResourceNotFound, r.error().message());
      case ErrorCode::kExpired: {
        // Not read for longer than an iterator lives (a slow reader): continue where it was.
        auto it = engine_.get_shard_iterator(
            s.start.region, s.start.stream, s.start.shard_id,
            s.next_offset == 0 ? stream::IteratorType::kTrimHorizon
                               : stream::IteratorType::kAfterSequenceNumber,
            s.next_offset == 0 ? std::string()
                               : stream::SequenceNumberFormatter(s.start.stream_epoch,
                                                                 s.start.shard_index)
                                     .format(s.next_offset - 1),
            0);
        if (!it.ok()) return fail(AwsError::kInternalFailureException, it.error().message());
        s.iterator = std::move(*it);
        return 0;
      }
      default:
        return fail(AwsError::kInternalFailureException, r.error().message());
    }
  }
  const bool closed = !r->next_iterator.has_value();
  if (!closed) s.iterator = std::move(*r->next_iterator);
  if (r->records.empty() && !closed) {
    if (now - s.last_event_ms < options_.heartbeat_ms) {
      return std::min(options_.poll_ms, s.last_event_ms + options_.heartbeat_ms - now);
    }
  }
  // One event per kEventDataBytes of data (and one, possibly empty, if there is none).
  std::string msg;
  size_t i = 0;
  uint64_t sent_bytes = 0;
  do {
    size_t j = i, data = 0;
    while (j < r->records.size() && (j == i || data + r->records[j].data.size() <= kEventDataBytes)) {
      data += r->records[j].data.size() + r->records[j].partition_key.size();
      ++j;
    }
    const bool last = j == r->records.size();
    if (j > i) s.continuation.assign(r->records[j - 1].sequence_number());
    const bool kms = s.start.kms;
    std::string payload;
    if (cbor) {
      Document records = Document::make_list();
      for (size_t k = i; k < j; ++k) {
        const auto& rec = r->records[k];
        Document d = Document::make_map();
        d.set("SequenceNumber", rec.sequence_number());
        d.set("ApproximateArrivalTimestamp", Document::timestamp_ms(rec.arrival_ms));
        d.set("Data", Document::blob(std::string(rec.data)));
        d.set("PartitionKey", rec.partition_key);
        if (kms) d.set("EncryptionType", "KMS");
        records.push_back(std::move(d));
      }
      Document ev = Document::make_map();
      ev.set("Records", std::move(records));
      if (!(closed && last)) ev.set("ContinuationSequenceNumber", s.continuation);
      ev.set("MillisBehindLatest", last ? r->millis_behind_latest : int64_t{0});
      if (closed && last) ev.set("ChildShards", child_shards_document(r->child_shards));
      payload = encode_cbor(ev);
    } else {
      payload.reserve(128 + data * 4 / 3 + (j - i) * 160);
      payload += "{\"Records\":[";
      for (size_t k = i; k < j; ++k) {
        const auto& rec = r->records[k];
        if (k != i) payload += ',';
        payload += "{\"SequenceNumber\":\"";
        payload += rec.sequence_number();
        payload += "\",\"ApproximateArrivalTimestamp\":";
        append_json_timestamp(rec.arrival_ms, payload);
        payload += ",\"Data\":\"";
        base64_encode_append(rec.data, payload);
        payload += "\",\"PartitionKey\":";
        append_json_string(rec.partition_key, payload);
        if (kms) payload += ",\"EncryptionType\":\"KMS\"";
        payload += '}';
      }
      payload += ']';
      if (!(closed && last)) {
        payload += ",\"ContinuationSequenceNumber\":\"";
        payload += s.continuation;
        payload += '"';
      }
      payload += ",\"MillisBehindLatest\":";
      payload += std::to_string(last ? r->millis_behind_latest : int64_t{0});
      if (closed && last) {
        payload += ",\"ChildShards\":";
        payload += encode_json(child_shards_document(r->child_shards));
      }
      payload += '}';
    }
    append_event("SubscribeToShardEvent", ct, payload, msg);
    events_->inc();
    records_->inc(j - i);
    bytes_->inc(data);
    sent_bytes += data;
    i = j;
  } while (i < r->records.size());
  if (!r->records.empty()) {
    const double n = static_cast<double>(r->records.size());
    s.record_bytes = std::max(64.0, static_cast<double>(msg.size()) / n);
    s.record_data = std::max(1.0, static_cast<double>(sent_bytes) / n);
    auto parts = stream::decode_sequence_number(r->records.back().sequence_number());
    if (parts.ok()) s.next_offset = parts->offset + 1;
  }
  s.last_event_ms = now;
  if (!out.write(msg)) return -1;
  if (options_.enforce_limits) s.tokens -= static_cast<double>(sent_bytes);
  if (closed) {
    out.end();  // the shard is closed and read to its end: ChildShards tell where to go on
    return -1;
  }
  // After records, read again at once (a backlog drains at full speed); an empty read waits
  // for a put's notify() or the next poll.
  return r->records.empty() ? options_.poll_ms : 0;
}

}  // namespace freshet::api::kinesis

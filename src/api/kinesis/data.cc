// Data-plane operations: PutRecord, PutRecords, GetShardIterator, GetRecords (and the
// SubscribeToShard placeholder).
#include <chrono>
#include <cstring>

#include "convert.h"
#include "freshet/common/base64.h"
#include "freshet/stream/hash_key.h"
#include "freshet/stream/names.h"
#include "freshet/stream/sequence_number.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

ApiError invalid_hash_key(std::string_view key) {
  return ApiError{AwsError::kInvalidArgument,
                  "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                  "Specified value was " +
                      std::string(key)};
}

// Counts stored records in the stream's (and, with enhanced monitoring, the shard's) series.
void count_incoming(KinesisService& k, const StreamRef& s, const StreamFacts* facts,
                    const std::string& shard_id, uint64_t bytes) {
  StreamSeries& ss = k.stream_series(s.name);
  ss.incoming_records->inc();
  ss.incoming_bytes->inc(bytes);
  if (facts == nullptr) return;
  const bool recs = facts->monitors("IncomingRecords");
  const bool byts = facts->monitors("IncomingBytes");
  if (!recs && !byts) return;
  ShardSeries& sh = k.shard_series(s.name, shard_id);
  if (recs) sh.incoming_records->inc();
  if (byts) sh.incoming_bytes->inc(bytes);
}

void count_write_throttle(KinesisService& k, const StreamRef& s, const StreamFacts* facts,
                          const std::string& message) {
  k.stream_series(s.name).write_exceeded->inc();
  if (facts == nullptr || !facts->monitors("WriteProvisionedThroughputExceeded")) return;
  // "Rate exceeded for shard shardId-... in stream ...": the shard is the 5th word.
  const size_t at = message.find("shardId-");
  if (at == std::string::npos) return;
  k.shard_series(s.name, message.substr(at, 20)).write_exceeded->inc();
}

// What a shard iterator names, read from its documented layout (shard_iterator.h) without
// verifying it: used only for metrics labels and the StreamARN check after the engine has
// accepted the token.
struct IteratorPeek {
  std::string region;
  std::string stream;
  std::string shard_id;
};

std::optional<IteratorPeek> peek_iterator(std::string_view token) {
  auto bytes = freshet::base64_decode_bytes(token);
  if (!bytes.ok()) return std::nullopt;
  const std::vector<uint8_t>& b = *bytes;
  if (b.size() < 44) return std::nullopt;
  uint64_t shard = 0;
  for (int i = 7; i >= 0; --i) shard = (shard << 8) | b[18 + static_cast<size_t>(i)];
  const size_t r = b[42];
  if (43 + r + 1 > b.size()) return std::nullopt;
  const size_t l = b[43 + r];
  if (44 + r + l > b.size() || shard > stream::kMaxShardIndex) return std::nullopt;
  IteratorPeek p;
  p.region.assign(reinterpret_cast<const char*>(b.data()) + 43, r);
  p.stream.assign(reinterpret_cast<const char*>(b.data()) + 44 + r, l);
  p.shard_id = stream::format_shard_id(shard);
  return p;
}

}  // namespace

ApiResult put_record(KinesisService& k, RequestContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto data = in.blob(d, "", "Data", kMaxDataBytes, true);
  auto pk = in.str(d, "", "PartitionKey", kPartitionKeyRule, true);
  auto ehk = in.str(d, "", "ExplicitHashKey", kHashKeyRule);
  auto seq = in.str(d, "", "SequenceNumberForOrdering", kSequenceNumberRule);
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;
  if (ehk && !stream::parse_hash_key(*ehk).ok()) return invalid_hash_key(*ehk);
  if (seq && !stream::decode_sequence_number(*seq).ok()) {
    return ApiError{AwsError::kInvalidArgument,
                    "ExclusiveMinimumSequenceNumber " + *seq + " used in PutRecord on stream " +
                        s.name + " under account " + k.account() + " is invalid."};
  }
  const auto facts = k.facts(s.region, s.name);
  stream::PutEntry entry{*data, *pk, ehk ? std::string_view(*ehk) : std::string_view()};
  auto r = k.engine().put_records(s.region, s.name, std::span<const stream::PutEntry>(&entry, 1));
  if (!r.ok()) return engine_error(r.error());
  const stream::PutOutcome& o = r->front();
  if (!o.error_code.empty()) {
    if (o.error_code == "ProvisionedThroughputExceededException") {
      count_write_throttle(k, s, facts ? &*facts : nullptr, o.error_message);
      return ApiError{AwsError::kProvisionedThroughputExceeded, o.error_message};
    }
    return ApiError{AwsError::kInternalFailure, o.error_message};
  }
  count_incoming(k, s, facts ? &*facts : nullptr, o.shard_id, data->size() + pk->size());
  StreamSeries& ss = k.stream_series(s.name);
  ss.put_record_success->inc();
  Document out = Document::make_map();
  out.set("ShardId", o.shard_id);
  out.set("SequenceNumber", o.sequence_number);
  out.set("EncryptionType", facts ? facts->encryption_type : std::string("NONE"));
  ss.put_record_latency->observe(elapsed_ms(start));
  return out;
}

ApiResult put_records(KinesisService& k, RequestContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  Input in;
  const Document& d = ctx.input;
  struct Entry {  // views into ctx.input, which outlives this call
    std::optional<std::string_view> data, ehk, pk;
  };
  std::vector<Entry> entries;
  if (const List* records = in.struct_list(d, "", "Records", 1, 500, true)) {
    entries.reserve(records->size());
    for (size_t i = 0; i < records->size(); ++i) {
      const Document& rec = (*records)[i];
      const std::string prefix = "records." + std::to_string(i + 1) + ".member";
      Entry e;
      e.data = in.blob_view(rec, prefix, "Data", kMaxDataBytes, true);
      e.ehk = in.str_view(rec, prefix, "ExplicitHashKey", kHashKeyRule);
      e.pk = in.str_view(rec, prefix, "PartitionKey", kPartitionKeyRule, true);
      entries.push_back(std::move(e));
    }
  }
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;

  size_t total = 0;
  std::vector<stream::PutEntry> puts;
  puts.reserve(entries.size());
  for (const Entry& e : entries) {
    if (e.ehk && !stream::parse_hash_key(*e.ehk).ok()) return invalid_hash_key(*e.ehk);
    total += e.data->size() + e.pk->size();
    puts.push_back({*e.data, *e.pk, e.ehk ? *e.ehk : std::string_view()});
  }
  const size_t limit = k.options().put_records_max_request_bytes;
  if (total > limit) {
    return ApiError{AwsError::kInvalidArgument,
                    "Records size exceeds " + std::to_string(limit >> 20) + " MB limit"};
  }
  const auto facts = k.facts(s.region, s.name);
  const StreamFacts* f = facts ? &*facts : nullptr;
  auto r = k.engine().put_records(s.region, s.name, puts);
  if (!r.ok()) return engine_error(r.error());

  StreamSeries& ss = k.stream_series(s.name);
  int64_t failed = 0;
  Document results = Document::make_list();
  for (size_t i = 0; i < r->size(); ++i) {
    const stream::PutOutcome& o = (*r)[i];
    Document res = Document::make_map();
    if (o.error_code.empty()) {
      res.set("SequenceNumber", o.sequence_number);
      res.set("ShardId", o.shard_id);
      count_incoming(k, s, f, o.shard_id, puts[i].data.size() + puts[i].partition_key.size());
    } else {
      ++failed;
      res.set("ErrorCode", o.error_code);
      res.set("ErrorMessage", o.error_message);
      if (o.error_code == "ProvisionedThroughputExceededException") {
        count_write_throttle(k, s, f, o.error_message);
      }
    }
    results.push_back(std::move(res));
  }
  ss.put_records_records->inc(r->size());
  ss.put_records_successful->inc(r->size() - static_cast<size_t>(failed));
  ss.put_records_failed->inc(static_cast<uint64_t>(failed));
  Document out = Document::make_map();
  out.set("FailedRecordCount", failed);
  out.set("Records", std::move(results));
  out.set("EncryptionType", f ? f->encryption_type : std::string("NONE"));
  ss.put_records_latency->observe(elapsed_ms(start));
  return out;
}

ApiResult get_shard_iterator(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto name = in.str(d, "", "StreamName", kStreamNameRule);
  auto shard_id = in.str(d, "", "ShardId", kShardIdRule, true);
  auto type = in.str(d, "", "ShardIteratorType", enum_rule(kShardIteratorTypes), true);
  auto seq = in.str(d, "", "StartingSequenceNumber", kSequenceNumberRule);
  auto ts = in.timestamp_ms(d, "", "Timestamp");
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, name, arn, &s)) return *e;

  auto index = stream::resolve_shard_id(*shard_id);
  if (!index.ok()) {
    return ApiError{AwsError::kResourceNotFound, "Could not find shard " + *shard_id +
                                                     " in stream " + s.name + " under account " +
                                                     k.account() + "."};
  }
  const std::string canonical = stream::format_shard_id(*index);
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok()) return engine_error(info.error());
  bool exists = false;
  for (const auto& sh : info->shards) exists = exists || sh.index == *index;
  if (!exists) {
    return ApiError{AwsError::kResourceNotFound, "Shard " + canonical + " in stream " + s.name +
                                                     " under account " + k.account() +
                                                     " does not exist"};
  }

  stream::IteratorType it = stream::IteratorType::kLatest;
  const bool by_seq = *type == "AT_SEQUENCE_NUMBER" || *type == "AFTER_SEQUENCE_NUMBER";
  if (*type == "TRIM_HORIZON") it = stream::IteratorType::kTrimHorizon;
  if (*type == "AT_SEQUENCE_NUMBER") it = stream::IteratorType::kAtSequenceNumber;
  if (*type == "AFTER_SEQUENCE_NUMBER") it = stream::IteratorType::kAfterSequenceNumber;
  if (*type == "AT_TIMESTAMP") it = stream::IteratorType::kAtTimestamp;
  const std::string either =
      "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
      "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
      "Request specified " +
      *type;
  if (by_seq && !seq) {
    return ApiError{AwsError::kInvalidArgument, either + " and no StartingSequenceNumber."};
  }
  if ((*type == "TRIM_HORIZON" || *type == "LATEST") && seq) {
    return ApiError{AwsError::kInvalidArgument, either + " and also a StartingSequenceNumber."};
  }
  int64_t timestamp = 0;
  if (it == stream::IteratorType::kAtTimestamp) {
    if (!ts) {
      return ApiError{AwsError::kInvalidArgument,
                      "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                      "Current request has no timestamp parameter."};
    }
    const int64_t now = k.now_ms();
    if (*ts > now) {
      return ApiError{AwsError::kInvalidArgument,
                      "The timestampInMillis parameter cannot be greater than the "
                      "currentTimestampInMillis. timestampInMillis: " +
                          std::to_string(*ts) +
                          ", currentTimestampInMillis: " + std::to_string(now)};
    }
    timestamp = *ts;
  }
  if (by_seq) {
    auto parts = stream::decode_sequence_number(*seq);
    if (!parts.ok()) {
      return ApiError{AwsError::kInvalidArgument,
                      "StartingSequenceNumber " + *seq + " used in GetShardIterator on shard " +
                          canonical + " in stream " + s.name + " under account " + k.account() +
                          " is invalid."};
    }
    if (parts->stream_epoch != info->epoch) {
      return ApiError{AwsError::kInvalidArgument,
                      "StartingSequenceNumber " + *seq + " used in GetShardIterator on shard " +
                          canonical + " in stream " + s.name + " under account " + k.account() +
                          " is invalid because it did not come from this stream."};
    }
    if (parts->shard_index != *index) {
      return ApiError{AwsError::kInvalidArgument,
                      "Invalid StartingSequenceNumber. It encodes " +
                          stream::format_shard_id(parts->shard_index) +
                          ", while it was used in a call to a shard with " + canonical};
    }
  }
  auto token = k.engine().get_shard_iterator(s.region, s.name, canonical, it, seq.value_or(""),
                                             timestamp);
  if (!token.ok()) return engine_error(token.error());
  Document out = Document::make_map();
  out.set("ShardIterator", *token);
  return out;
}

ApiResult get_records(KinesisService& k, RequestContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  Input in;
  const Document& d = ctx.input;
  auto iterator = in.str(d, "", "ShardIterator", kShardIteratorRule, true);
  auto limit = in.integer(d, "", "Limit", IntRule{1, 10000});
  auto arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return *e;
  const auto peek = peek_iterator(*iterator);
  if (arn) {
    StreamRef from_arn;
    if (auto e = k.resolve_stream_arn(ctx, *arn, &from_arn)) return *e;
    if (peek && (peek->stream != from_arn.name || peek->region != from_arn.region)) {
      return ApiError{AwsError::kInvalidArgument,
                      "StreamARN " + *arn + " does not match the stream of the ShardIterator."};
    }
  }
  auto r = k.engine().get_records(*iterator, static_cast<uint32_t>(limit.value_or(10000)));
  std::optional<StreamFacts> facts;
  if (peek) facts = k.facts(peek->region, peek->stream);
  if (!r.ok()) {
    if (r.code() == ErrorCode::kThrottled && peek) {
      k.stream_series(peek->stream).read_exceeded->inc();
      if (facts && facts->monitors("ReadProvisionedThroughputExceeded")) {
        k.shard_series(peek->stream, peek->shard_id).read_exceeded->inc();
      }
    }
    return engine_error(r.error());
  }
  const bool kms = facts && facts->encryption_type == "KMS";
  Document records = Document::make_list();
  uint64_t bytes = 0;
  for (const auto& rec : r->records) {
    Document doc = Document::make_map();
    doc.set("SequenceNumber", rec.sequence_number);
    doc.set("ApproximateArrivalTimestamp", Document::timestamp_ms(rec.arrival_ms));
    doc.set("Data", Document::blob(std::string(rec.data)));
    doc.set("PartitionKey", std::string(rec.partition_key));
    if (kms) doc.set("EncryptionType", "KMS");
    records.push_back(std::move(doc));
    bytes += rec.data.size() + rec.partition_key.size();
  }
  Document out = Document::make_map();
  out.set("Records", std::move(records));
  if (r->next_iterator) out.set("NextShardIterator", *r->next_iterator);
  out.set("MillisBehindLatest", r->millis_behind_latest);
  if (!r->next_iterator || !r->child_shards.empty()) {
    Document children = Document::make_list();
    for (const auto& c : r->child_shards) {
      Document cd = Document::make_map();
      cd.set("ShardId", c.shard_id);
      cd.set("ParentShards", string_list_doc(c.parent_shards));
      cd.set("HashKeyRange", hash_key_range_doc(c.range));
      children.push_back(std::move(cd));
    }
    out.set("ChildShards", std::move(children));
  }
  if (peek) {
    const int64_t age = r->records.empty()
                            ? r->millis_behind_latest
                            : std::max<int64_t>(0, k.now_ms() - r->records.back().arrival_ms);
    StreamSeries& ss = k.stream_series(peek->stream);
    ss.get_records_success->inc();
    ss.get_records_records->inc(r->records.size());
    ss.get_records_bytes->inc(bytes);
    ss.iterator_age_ms->set(static_cast<double>(age));
    if (facts && !facts->shard_level_metrics.empty()) {
      ShardSeries& sh = k.shard_series(peek->stream, peek->shard_id);
      if (facts->monitors("OutgoingRecords")) sh.outgoing_records->inc(r->records.size());
      if (facts->monitors("OutgoingBytes")) sh.outgoing_bytes->inc(bytes);
      if (facts->monitors("IteratorAgeMilliseconds")) sh.iterator_age_ms->set(static_cast<double>(age));
    }
    ss.get_records_latency->observe(elapsed_ms(start));
  }
  return out;
}

ApiResult subscribe_to_shard(KinesisService& k, RequestContext& ctx) {
  Input in;
  const Document& d = ctx.input;
  auto consumer_arn = in.str(d, "", "ConsumerARN", kConsumerArnRule, true);
  (void)in.str(d, "", "StreamId", kStreamIdRule);
  (void)in.str(d, "", "ShardId", kShardIdRule, true);
  if (const Document* p = in.structure(d, "", "StartingPosition", true)) {
    (void)in.str(*p, "startingPosition", "Type", enum_rule(kShardIteratorTypes), true);
    (void)in.str(*p, "startingPosition", "SequenceNumber", kSequenceNumberRule);
    (void)in.timestamp_ms(*p, "startingPosition", "Timestamp");
  }
  if (auto e = in.error()) return *e;
  auto parsed = stream::parse_consumer_arn(*consumer_arn);
  if (!parsed.ok()) {
    return ApiError{AwsError::kInvalidArgument, "ConsumerARN " + *consumer_arn + " is invalid."};
  }
  if (auto e = k.check_arn_scope(ctx, *consumer_arn, parsed->stream.region,
                                 parsed->stream.account_id, parsed->stream.stream_name)) {
    return *e;
  }
  auto found = k.engine().find_consumer_by_arn(*consumer_arn);
  if (!found.ok()) return engine_error(found.error());
  return ApiError{AwsError::kInvalidArgument,
                  "SubscribeToShard is not supported by this server yet; read the shard with "
                  "GetShardIterator and GetRecords."};
}

}  // namespace freshet::api::kinesis

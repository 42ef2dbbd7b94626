// Data-plane operations: PutRecord, PutRecords, GetShardIterator, GetRecords (SubscribeToShard
// is in subscribe.cc).
#include <chrono>
#include <cstdio>
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

const std::string kNoEncryption = "NONE";

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

namespace {

// Counts the records a put stored, per shard of the result, in the stream's series (and with
// enhanced monitoring the shard's): one update per shard, not per record.
void count_put(KinesisService& k, const StreamRef& s, const StreamFacts* facts,
               const stream::PutBatchResult& r, const std::vector<uint64_t>& record_bytes) {
  std::vector<uint64_t> recs(r.shards.size()), bytes(r.shards.size());
  for (size_t i = 0; i < r.records.size(); ++i) {
    const stream::PutBatchResult::Record& rec = r.records[i];
    if (rec.status != stream::PutBatchResult::Status::kOk) continue;
    ++recs[rec.shard];
    bytes[rec.shard] += record_bytes[i];
  }
  // One series lookup (a map under a mutex) per call, not per shard.
  StreamSeries& ss = k.stream_series(s.name);
  const bool by_recs = facts != nullptr && facts->monitors("IncomingRecords");
  const bool by_bytes = facts != nullptr && facts->monitors("IncomingBytes");
  for (size_t sh = 0; sh < r.shards.size(); ++sh) {
    if (recs[sh] == 0) continue;
    k.subscriptions().notify(s.region, s.name, r.shards[sh].shard_id);  // durable now
    ss.incoming_records->inc(recs[sh]);
    ss.incoming_bytes->inc(bytes[sh]);
    if (!by_recs && !by_bytes) continue;
    ShardSeries& shs = k.shard_series(s.name, r.shards[sh].shard_id);
    if (by_recs) shs.incoming_records->inc(recs[sh]);
    if (by_bytes) shs.incoming_bytes->inc(bytes[sh]);
  }
}

// Appends "SequenceNumber":"...","ShardId":"..." for a stored record.
void append_json_position(const stream::PutBatchResult& r,
                          const stream::PutBatchResult::Record& rec, std::string& out) {
  out += "\"SequenceNumber\":\"";
  const size_t at = out.size();
  out.resize(at + stream::kSequenceNumberDigits);
  r.shards[rec.shard].seqs.format(rec.offset, out.data() + at);
  out += "\",\"ShardId\":";
  append_json_string(r.shards[rec.shard].shard_id, out);
}

}  // namespace

void put_record(const std::shared_ptr<KinesisService>& service, RequestContext& ctx,
                Responder respond) {
  Input in;
  const Document& d = ctx.input;
  PlainPutRecord p;
  p.name = in.str(d, "", "StreamName", kStreamNameRule);
  auto data = in.blob_view(d, "", "Data", kMaxDataBytes, true);
  auto pk = in.str_view(d, "", "PartitionKey", kPartitionKeyRule, true);
  auto ehk = in.str_view(d, "", "ExplicitHashKey", kHashKeyRule);
  p.sequence_for_ordering = in.str_view(d, "", "SequenceNumberForOrdering", kSequenceNumberRule);
  p.arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str_view(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return respond(*e);
  p.entry = stream::PutEntry{*data, *pk, ehk ? *ehk : std::string_view()};
  submit_put_record(service, ctx, p, std::move(respond));
}

void submit_put_record(const std::shared_ptr<KinesisService>& service, RequestContext& ctx,
                       const PlainPutRecord& p, Responder respond) {
  KinesisService& k = *service;
  const auto start = std::chrono::steady_clock::now();
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, p.name, p.arn, &s)) return respond(*e);
  const std::string_view ehk = p.entry.explicit_hash_key;
  if (!ehk.empty() && !stream::parse_hash_key(ehk).ok()) return respond(invalid_hash_key(ehk));
  if (const auto& seq = p.sequence_for_ordering; seq && !stream::decode_sequence_number(*seq).ok()) {
    return respond(ApiError{AwsError::kInvalidArgument,
                            "ExclusiveMinimumSequenceNumber " + std::string(*seq) +
                                " used in PutRecord on stream " + s.name + " under account " +
                                k.account() + " is invalid."});
  }
  auto facts = k.facts(s.region, s.name);
  std::vector<uint64_t> bytes{p.entry.data.size() + p.entry.partition_key.size()};
  const bool json = ctx.protocol == Protocol::kJson;
  // The engine copies the record before returning; the callback needs no view into ctx.
  k.engine().put_records_async(
      s.region, s.name, std::span<const stream::PutEntry>(&p.entry, 1),
      [service, s, facts = std::move(facts), bytes = std::move(bytes), start, json,
       respond = std::move(respond)](Result<stream::PutBatchResult> r) {
        KinesisService& k = *service;
        if (!r.ok()) return respond(engine_error(r.error()));
        const stream::PutBatchResult::Record& rec = r->records.front();
        if (rec.status != stream::PutBatchResult::Status::kOk) {
          if (rec.status == stream::PutBatchResult::Status::kThrottled) {
            const std::string msg = r->error_message(rec);
            count_write_throttle(k, s, facts.get(), msg);
            return respond(ApiError{AwsError::kProvisionedThroughputExceeded, msg});
          }
          return respond(ApiError{AwsError::kInternalFailure, r->error_message(rec)});
        }
        count_put(k, s, facts.get(), *r, bytes);
        StreamSeries& ss = k.stream_series(s.name);
        ss.put_record_success->inc();
        const std::string& encryption = facts ? facts->encryption_type : kNoEncryption;
        ss.put_record_latency->observe(elapsed_ms(start));
        if (!json) {
          Document out = Document::make_map();
          out.set("ShardId", r->shards[rec.shard].shard_id);
          out.set("SequenceNumber", r->shards[rec.shard].seqs.format(rec.offset));
          out.set("EncryptionType", encryption);
          return respond(std::move(out));
        }
        std::string body;
        body.reserve(160);
        body += '{';
        append_json_position(*r, rec, body);
        body += ",\"EncryptionType\":";
        append_json_string(encryption, body);
        body += '}';
        respond(EncodedBody{std::move(body)});
      });
}

void put_records(const std::shared_ptr<KinesisService>& service, RequestContext& ctx,
                 Responder respond) {
  Input in;
  const Document& d = ctx.input;
  PlainPutRecords p;
  if (const List* records = in.struct_list(d, "", "Records", 1, 500, true)) {
    p.entries.reserve(records->size());
    for (size_t i = 0; i < records->size(); ++i) {
      const Document& rec = (*records)[i];
      char path[40];  // "records.N.member" without an allocation per record
      const int n = std::snprintf(path, sizeof(path), "records.%zu.member", i + 1);
      const std::string_view prefix(path, static_cast<size_t>(n));
      auto data = in.blob_view(rec, prefix, "Data", kMaxDataBytes, true);
      auto ehk = in.str_view(rec, prefix, "ExplicitHashKey", kHashKeyRule);
      auto pk = in.str_view(rec, prefix, "PartitionKey", kPartitionKeyRule, true);
      if (data && pk) p.entries.push_back({*data, *pk, ehk ? *ehk : std::string_view()});
    }
  }
  p.name = in.str(d, "", "StreamName", kStreamNameRule);
  p.arn = in.str(d, "", "StreamARN", kStreamArnRule);
  (void)in.str_view(d, "", "StreamId", kStreamIdRule);
  if (auto e = in.error()) return respond(*e);
  submit_put_records(service, ctx, p, std::move(respond));
}

void submit_put_records(const std::shared_ptr<KinesisService>& service, RequestContext& ctx,
                        const PlainPutRecords& p, Responder respond) {
  KinesisService& k = *service;
  const auto start = std::chrono::steady_clock::now();
  StreamRef s;
  if (auto e = k.resolve_stream(ctx, p.name, p.arn, &s)) return respond(*e);
  size_t total = 0;
  std::vector<uint64_t> bytes;
  bytes.reserve(p.entries.size());
  for (const stream::PutEntry& e : p.entries) {
    if (!e.explicit_hash_key.empty() && !stream::parse_hash_key(e.explicit_hash_key).ok()) {
      return respond(invalid_hash_key(e.explicit_hash_key));
    }
    total += e.data.size() + e.partition_key.size();
    bytes.push_back(e.data.size() + e.partition_key.size());
  }
  const size_t limit = k.options().put_records_max_request_bytes;
  if (total > limit) {
    return respond(ApiError{AwsError::kInvalidArgument,
                            "Records size exceeds " + std::to_string(limit >> 20) + " MB limit"});
  }
  auto facts = k.facts(s.region, s.name);
  const bool json = ctx.protocol == Protocol::kJson;
  k.engine().put_records_async(
      s.region, s.name, p.entries,
      [service, s, facts = std::move(facts), bytes = std::move(bytes), start, json,
       respond = std::move(respond)](Result<stream::PutBatchResult> r) mutable {
        // This runs on the group-commit thread: the rest (metrics, encoding) runs on the
        // connection's thread instead, so the next round starts sooner (issue 9).
        respond(DeferredBody{[service, s, facts = std::move(facts), bytes = std::move(bytes), start,
                              json, r = std::move(r)]() -> ApiResult {
          KinesisService& k = *service;
          if (!r.ok()) return engine_error(r.error());
          const StreamFacts* f = facts.get();
          count_put(k, s, f, *r, bytes);
          StreamSeries& ss = k.stream_series(s.name);
          int64_t failed = 0;
          for (const auto& rec : r->records) {
            if (rec.status == stream::PutBatchResult::Status::kOk) continue;
            ++failed;
            if (rec.status == stream::PutBatchResult::Status::kThrottled) {
              count_write_throttle(k, s, f, r->error_message(rec));
            }
          }
          ss.put_records_records->inc(r->records.size());
          ss.put_records_successful->inc(r->records.size() - static_cast<size_t>(failed));
          ss.put_records_failed->inc(static_cast<uint64_t>(failed));
          const std::string& encryption = f ? f->encryption_type : kNoEncryption;
          ss.put_records_latency->observe(elapsed_ms(start));
          if (!json) {
            Document results = Document::make_list();
            for (const auto& rec : r->records) {
              Document res = Document::make_map();
              if (rec.status == stream::PutBatchResult::Status::kOk) {
                res.set("SequenceNumber", r->shards[rec.shard].seqs.format(rec.offset));
                res.set("ShardId", r->shards[rec.shard].shard_id);
              } else {
                res.set("ErrorCode", std::string(r->error_code(rec)));
                res.set("ErrorMessage", r->error_message(rec));
              }
              results.push_back(std::move(res));
            }
            Document out = Document::make_map();
            out.set("FailedRecordCount", failed);
            out.set("Records", std::move(results));
            out.set("EncryptionType", encryption);
            return out;
          }
          // The same members in the same order as the Document above, written directly.
          std::string body;
          body.reserve(64 + r->records.size() * 112);
          body += "{\"FailedRecordCount\":";
          body += std::to_string(failed);
          body += ",\"Records\":[";
          for (size_t i = 0; i < r->records.size(); ++i) {
            const stream::PutBatchResult::Record& rec = r->records[i];
            if (i > 0) body += ',';
            body += '{';
            if (rec.status == stream::PutBatchResult::Status::kOk) {
              append_json_position(*r, rec, body);
            } else {
              body += "\"ErrorCode\":";
              append_json_string(r->error_code(rec), body);
              body += ",\"ErrorMessage\":";
              append_json_string(r->error_message(rec), body);
            }
            body += '}';
          }
          body += "],\"EncryptionType\":";
          append_json_string(encryption, body);
          body += '}';
          return EncodedBody{std::move(body)};
        }});
      });
}

std::optional<ApiError> open_iterator(KinesisService& k, const StreamRef& s,
                                      const IteratorRequest& r, OpenedIterator* out) {
  auto fail = [](ApiError e) { return std::optional<ApiError>(std::move(e)); };
  auto index = stream::resolve_shard_id(r.shard_id);
  if (!index.ok()) {
    return fail(ApiError{AwsError::kResourceNotFound, "Could not find shard " + r.shard_id +
                                                          " in stream " + s.name +
                                                          " under account " + k.account() + "."});
  }
  const std::string canonical = stream::format_shard_id(*index);
  auto info = k.engine().describe_stream(s.region, s.name);
  if (!info.ok() && info.error().code() != ErrorCode::kNotFound) {
    return fail(engine_error(info.error()));
  }
  bool exists = false;
  if (info.ok()) {
    for (const auto& sh : info->shards) exists = exists || sh.index == *index;
  }
  if (!exists) {  // AWS words a missing stream the same way here
    return fail(ApiError{AwsError::kResourceNotFound, "Shard " + canonical + " in stream " +
                                                          s.name + " under account " + k.account() +
                                                          " does not exist"});
  }

  stream::IteratorType it = stream::IteratorType::kLatest;
  const bool by_seq = r.type == "AT_SEQUENCE_NUMBER" || r.type == "AFTER_SEQUENCE_NUMBER";
  if (r.type == "TRIM_HORIZON") it = stream::IteratorType::kTrimHorizon;
  if (r.type == "AT_SEQUENCE_NUMBER") it = stream::IteratorType::kAtSequenceNumber;
  if (r.type == "AFTER_SEQUENCE_NUMBER") it = stream::IteratorType::kAfterSequenceNumber;
  if (r.type == "AT_TIMESTAMP") it = stream::IteratorType::kAtTimestamp;
  const std::string either =
      "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
      "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
      "Request specified " +
      r.type;
  if (by_seq && !r.seq) {
    return fail(ApiError{AwsError::kInvalidArgument, either + " and no StartingSequenceNumber."});
  }
  if ((r.type == "TRIM_HORIZON" || r.type == "LATEST") && r.seq) {
    return fail(
        ApiError{AwsError::kInvalidArgument, either + " and also a StartingSequenceNumber."});
  }
  int64_t timestamp = 0;
  if (it == stream::IteratorType::kAtTimestamp) {
    if (!r.ts) {
      return fail(
          ApiError{AwsError::kInvalidArgument,
                   "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                   "Current request has no timestamp parameter."});
    }
    const int64_t now = k.now_ms();
    if (*r.ts > now) {
      return fail(ApiError{AwsError::kInvalidArgument,
                           "The timestampInMillis parameter cannot be greater than the "
                           "currentTimestampInMillis. timestampInMillis: " +
                               std::to_string(*r.ts) +
                               ", currentTimestampInMillis: " + std::to_string(now)});
    }
    timestamp = *r.ts;
  }
  if (by_seq) {
    auto parts = stream::decode_sequence_number(*r.seq);
    if (!parts.ok()) {
      return fail(ApiError{AwsError::kInvalidArgument,
                           "StartingSequenceNumber " + *r.seq + " used in " + std::string(r.op) +
                               " on shard " + canonical + " in stream " + s.name +
                               " under account " + k.account() + " is invalid."});
    }
    if (!parts->from_stream(info->epoch)) {
      return fail(ApiError{AwsError::kInvalidArgument,
                           "StartingSequenceNumber " + *r.seq + " used in " + std::string(r.op) +
                               " on shard " + canonical + " in stream " + s.name +
                               " under account " + k.account() +
                               " is invalid because it did not come from this stream."});
    }
    if (parts->shard_index != *index) {
      return fail(ApiError{AwsError::kInvalidArgument,
                           "Invalid StartingSequenceNumber. It encodes " +
                               stream::format_shard_id(parts->shard_index) +
                               ", while it was used in a call to a shard with " + canonical});
    }
  }
  auto token =
      k.engine().get_shard_iterator(s.region, s.name, canonical, it, r.seq.value_or(""), timestamp);
  if (!token.ok()) return fail(engine_error(token.error()));
  out->token = std::move(*token);
  out->index = *index;
  out->shard_id = canonical;
  out->info = std::move(*info);
  return std::nullopt;
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

  OpenedIterator opened;
  if (auto e = open_iterator(k, s, IteratorRequest{*shard_id, *type, seq, ts, "GetShardIterator"},
                             &opened)) {
    return *e;
  }
  Document out = Document::make_map();
  out.set("ShardIterator", opened.token);
  return out;
}

namespace {

Document child_shards_doc(const std::vector<stream::ChildShard>& children) {
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

// GetRecords' answer as a Document (CBOR requests).
Document get_records_document(const stream::GetRecordsResult& r, bool kms) {
  Document records = Document::make_list();
  for (const auto& rec : r.records) {
    Document doc = Document::make_map();
    doc.set("SequenceNumber", rec.sequence_number());
    doc.set("ApproximateArrivalTimestamp", Document::timestamp_ms(rec.arrival_ms));
    doc.set("Data", Document::blob(std::string(rec.data)));
    doc.set("PartitionKey", rec.partition_key);
    if (kms) doc.set("EncryptionType", "KMS");
    records.push_back(std::move(doc));
  }
  Document out = Document::make_map();
  out.set("Records", std::move(records));
  if (r.next_iterator) out.set("NextShardIterator", *r.next_iterator);
  out.set("MillisBehindLatest", r.millis_behind_latest);
  if (!r.next_iterator || !r.child_shards.empty()) {
    out.set("ChildShards", child_shards_doc(r.child_shards));
  }
  return out;
}

// The same answer written as JSON directly: members in the same order, no Document per record
// (a drain reads up to 10,000 records per call).
EncodedBody get_records_json(const stream::GetRecordsResult& r, bool kms) {
  size_t size = 128;
  for (const auto& rec : r.records) {
    size += 160 + base64_encoded_size(rec.data.size()) + rec.partition_key.size() * 6;
  }
  std::string out;
  out.reserve(size);
  out += "{\"Records\":[";
  bool first = true;
  for (const auto& rec : r.records) {
    if (!first) out += ',';
    first = false;
    out += "{\"SequenceNumber\":\"";
    out += rec.sequence_number();
    out += "\",\"ApproximateArrivalTimestamp\":";
    append_json_timestamp(rec.arrival_ms, out);
    out += ",\"Data\":\"";
    base64_encode_append(rec.data, out);
    out += "\",\"PartitionKey\":";
    append_json_string(rec.partition_key, out);
    if (kms) out += ",\"EncryptionType\":\"KMS\"";
    out += '}';
  }
  out += ']';
  if (r.next_iterator) {
    out += ",\"NextShardIterator\":";
    append_json_string(*r.next_iterator, out);
  }
  out += ",\"MillisBehindLatest\":";
  out += std::to_string(r.millis_behind_latest);
  if (!r.next_iterator || !r.child_shards.empty()) {
    out += ",\"ChildShards\":";
    out += encode_json(child_shards_doc(r.child_shards));
  }
  out += '}';
  return EncodedBody{std::move(out)};
}

}  // namespace

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
  std::shared_ptr<const StreamFacts> facts;
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
  uint64_t bytes = 0;
  for (const auto& rec : r->records) bytes += rec.data.size() + rec.partition_key.size();
  ApiResult answer = ctx.protocol == Protocol::kJson ? ApiResult(get_records_json(*r, kms))
                                                     : ApiResult(get_records_document(*r, kms));
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
      if (facts->monitors("IteratorAgeMilliseconds"))
        sh.iterator_age_ms->set(static_cast<double>(age));
    }
    ss.get_records_latency->observe(elapsed_ms(start));
  }
  return answer;
}

}  // namespace freshet::api::kinesis

// The raw paths of PutRecord and PutRecords (see RawHandler in service.h): JSON bodies read
// straight from simdjson's DOM into PutEntry views, the Data blobs base64-decoded into one
// buffer, without building a Document per record.
//
// A raw path takes only plain requests, and a plain request is one the decoded path would
// accept member by member: every member known, present at most once, a string, and valid for
// its model shape (Data valid base64 within its limit). Anything else (a null, a number, an
// unknown or duplicated member, a bad pattern, too many records) is declined before anything
// happens, and the decoded path produces its exact answer. After validation both paths share
// submit_put_record(s), so the answers cannot differ.
#include <simdjson.h>

#include "freshet/common/base64.h"
#include "handlers.h"
#include "validate.h"

namespace freshet::api::kinesis {

namespace {

// A string member of an object; false unless it is a string.
bool string_of(simdjson::dom::element e, std::string_view* out) {
  return e.get_string().get(*out) == simdjson::SUCCESS;
}

// Parses body into parser's DOM; false unless the root is an object.
bool parse_object(simdjson::dom::parser& parser, std::string_view body,
                  simdjson::dom::object* root) {
  if (body.empty() || body.size() > (12u << 20)) return false;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size(), true).get(doc) != simdjson::SUCCESS) return false;
  return doc.get_object().get(*root) == simdjson::SUCCESS;
}

// Base64 Data of one record, appended to arena; its position is recorded as (offset, size)
// because the arena may move while more records are decoded.
bool decode_data(std::string_view text, std::string& arena, size_t* offset, size_t* size) {
  *offset = arena.size();
  if (!base64_decode_append(text, arena).ok()) return false;
  *size = arena.size() - *offset;
  return *size <= kMaxDataBytes;
}

// Bit flags of the members seen, to decline duplicates.
enum : unsigned {
  kSeenName = 1,
  kSeenArn = 2,
  kSeenId = 4,
  kSeenRecords = 8,
  kSeenData = 16,
  kSeenKey = 32,
  kSeenHash = 64,
  kSeenSeq = 128
};

bool first_time(unsigned* seen, unsigned bit) {
  if (*seen & bit) return false;
  *seen |= bit;
  return true;
}

// StreamName, StreamARN and StreamId, the members both operations share. Returns false if
// key is another member, or the value is not plain.
bool stream_member(std::string_view key, simdjson::dom::element value, unsigned* seen,
                   std::optional<std::string>* name, std::optional<std::string>* arn,
                   bool* known) {
  std::string_view v;
  *known = true;
  if (key == "StreamName") {
    if (!first_time(seen, kSeenName) || !string_of(value, &v) || !satisfies(v, kStreamNameRule)) {
      return false;
    }
    *name = std::string(v);
  } else if (key == "StreamARN") {
    if (!first_time(seen, kSeenArn) || !string_of(value, &v) || !satisfies(v, kStreamArnRule)) {
      return false;
    }
    *arn = std::string(v);
  } else if (key == "StreamId") {
    if (!first_time(seen, kSeenId) || !string_of(value, &v) || !satisfies(v, kStreamIdRule)) {
      return false;
    }
  } else {
    *known = false;
  }
  return true;
}

// One record's members (Data, PartitionKey, ExplicitHashKey) from key/value; false if not plain.
struct RawRecord {
  size_t data_offset = 0, data_size = 0;
  std::string_view partition_key, explicit_hash_key;
};

bool record_member(std::string_view key, simdjson::dom::element value, unsigned* seen,
                   std::string& arena, RawRecord* r) {
  std::string_view v;
  if (!string_of(value, &v)) return false;
  if (key == "Data") {
    return first_time(seen, kSeenData) && decode_data(v, arena, &r->data_offset, &r->data_size);
  }
  if (key == "PartitionKey") {
    r->partition_key = v;
    return first_time(seen, kSeenKey) && satisfies(v, kPartitionKeyRule);
  }
  if (key == "ExplicitHashKey") {
    // The pattern rejects "", so a present key is never empty (the engine reads "" as absent).
    r->explicit_hash_key = v;
    return first_time(seen, kSeenHash) && satisfies(v, kHashKeyRule);
  }
  return false;
}

}  // namespace

bool put_records_raw(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                     std::string_view body, Responder& respond) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (!parse_object(parser, body, &root)) return false;
  PlainPutRecords p;
  std::string arena;  // every record's decoded Data
  std::vector<RawRecord> records;
  unsigned seen = 0;
  for (simdjson::dom::key_value_pair kv : root) {
    bool known = false;
    if (!stream_member(kv.key, kv.value, &seen, &p.name, &p.arn, &known)) return false;
    if (known) continue;
    if (kv.key != "Records" || !first_time(&seen, kSeenRecords)) return false;
    simdjson::dom::array list;
    if (kv.value.get_array().get(list) != simdjson::SUCCESS) return false;
    const size_t n = list.size();
    if (n < 1 || n > 500) return false;
    records.reserve(n);
    size_t base64_bytes = 0;
    for (simdjson::dom::element e : list) {
      simdjson::dom::object rec;
      if (e.get_object().get(rec) != simdjson::SUCCESS) return false;
      simdjson::dom::element data;
      std::string_view text;
      if (rec.at_key("Data").get(data) == simdjson::SUCCESS && string_of(data, &text)) {
        base64_bytes += text.size();
      }
    }
    arena.reserve(base64_bytes / 4 * 3);
    for (simdjson::dom::element e : list) {
      simdjson::dom::object rec;
      if (e.get_object().get(rec) != simdjson::SUCCESS) return false;
      RawRecord r;
      unsigned rec_seen = 0;
      for (simdjson::dom::key_value_pair m : rec) {
        if (!record_member(m.key, m.value, &rec_seen, arena, &r)) return false;
      }
      if (!(rec_seen & kSeenData) || !(rec_seen & kSeenKey)) return false;
      records.push_back(r);
    }
  }
  if (!(seen & kSeenRecords)) return false;
  p.entries.reserve(records.size());
  for (const RawRecord& r : records) {
    p.entries.push_back(stream::PutEntry{std::string_view(arena).substr(r.data_offset, r.data_size),
                                         r.partition_key, r.explicit_hash_key});
  }
  submit_put_records(k, ctx, p, std::move(respond));
  return true;
}

bool put_record_raw(const std::shared_ptr<KinesisService>& k, RequestContext& ctx,
                    std::string_view body, Responder& respond) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (!parse_object(parser, body, &root)) return false;
  PlainPutRecord p;
  std::string arena;
  RawRecord r;
  unsigned seen = 0;
  for (simdjson::dom::key_value_pair kv : root) {
    bool known = false;
    if (!stream_member(kv.key, kv.value, &seen, &p.name, &p.arn, &known)) return false;
    if (known) continue;
    if (kv.key == "SequenceNumberForOrdering") {
      std::string_view v;
      if (!first_time(&seen, kSeenSeq) || !string_of(kv.value, &v) ||
          !satisfies(v, kSequenceNumberRule)) {
        return false;
      }
      p.sequence_for_ordering = v;
      continue;
    }
    if (!record_member(kv.key, kv.value, &seen, arena, &r)) return false;
  }
  if (!(seen & kSeenData) || !(seen & kSeenKey)) return false;
  p.entry = stream::PutEntry{std::string_view(arena).substr(r.data_offset, r.data_size),
                             r.partition_key, r.explicit_hash_key};
  submit_put_record(k, ctx, p, std::move(respond));
  return true;
}

}  // namespace freshet::api::kinesis

// RemoteBackend (backend.h): a worker's streams, tables and delivery streams on another Freshet
// server, through the Kinesis (JSON 1.1), DynamoDB (JSON 1.0) and Firehose (JSON 1.1) wire
// protocols over libcurl, SigV4-signed by libcurl (CURLOPT_AWS_SIGV4). Each calling thread
// keeps one connection (thread_local easy handle, kept alive between calls); nothing else is
// shared between threads.
#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "backend.h"
#include "freshet/common/base64.h"
#include "freshet/common/clock.h"
#include "freshet/objstore/signed_request.h"
#include "freshet/table/number.h"
#include "json_util.h"

namespace freshet::process {
namespace {

// ---- DynamoDB JSON (AttributeValue documents) ----

void append_typed(std::string& out, const table::Value& v);

void append_typed_item(std::string& out, const table::Item& item) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : item) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_typed(out, v);
  }
  out += '}';
}

void append_members(std::string& out, const std::vector<std::string>& ms, bool blobs) {
  out += '[';
  for (size_t i = 0; i < ms.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, blobs ? base64_encode(ms[i]) : ms[i]);
  }
  out += ']';
}

void append_typed(std::string& out, const table::Value& v) {
  using table::Type;
  switch (v.type()) {
    case Type::kS: out += "{\"S\":"; append_json_string(out, v.str()); break;
    case Type::kN: out += "{\"N\":"; append_json_string(out, v.str()); break;
    case Type::kB: out += "{\"B\":"; append_json_string(out, base64_encode(v.str())); break;
    case Type::kBool: out += v.as_bool() ? "{\"BOOL\":true" : "{\"BOOL\":false"; break;
    case Type::kNull: out += "{\"NULL\":true"; break;
    case Type::kM: out += "{\"M\":"; append_typed_item(out, v.as_map()); break;
    case Type::kL: {
      out += "{\"L\":[";
      const auto& l = v.as_list();
      for (size_t i = 0; i < l.size(); ++i) {
        if (i > 0) out += ',';
        append_typed(out, l[i]);
      }
      out += ']';
      break;
    }
    case Type::kSS: out += "{\"SS\":"; append_members(out, v.members(), false); break;
    case Type::kNS: out += "{\"NS\":"; append_members(out, v.members(), false); break;
    case Type::kBS: out += "{\"BS\":"; append_members(out, v.members(), true); break;
  }
  out += '}';
}

Error bad_reply(const std::string& why) {
  return Error(ErrorCode::kFailed, "remote endpoint: unexpected reply: " + why);
}

Result<table::Value> typed_value(simdjson::dom::element e, int depth);

Result<table::Item> typed_item(simdjson::dom::element e, int depth) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return bad_reply("an item is not an object");
  table::Item item;
  for (auto field : o) {
    FRESHET_ASSIGN_OR_RETURN(table::Value v, typed_value(field.value, depth + 1));
    item.insert_or_assign(std::string(field.key), std::move(v));
  }
  return item;
}

Result<table::Value> typed_value(simdjson::dom::element e, int depth) {
  if (depth > table::kMaxDepth + 2) return bad_reply("nested too deeply");
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS || o.size() != 1) {
    return bad_reply("an attribute value is not a one-member object");
  }
  auto field = *o.begin();
  const std::string_view t = field.key;
  std::string_view s;
  auto number = [](std::string_view text) -> Result<std::string> {
    auto d = table::Decimal::parse(text);
    if (!d.ok()) return bad_reply("a number: " + d.error().message());
    return d->canonical();
  };
  auto members = [&](bool blobs, bool numbers) -> Result<std::vector<std::string>> {
    simdjson::dom::array a;
    if (field.value.get_array().get(a) != simdjson::SUCCESS) return bad_reply("a set");
    std::vector<std::string> out;
    for (auto m : a) {
      std::string_view x;
      if (m.get_string().get(x) != simdjson::SUCCESS) return bad_reply("a set member");
      if (blobs) {
        FRESHET_ASSIGN_OR_RETURN(std::string b, base64_decode(x));
        out.push_back(std::move(b));
      } else if (numbers) {
        FRESHET_ASSIGN_OR_RETURN(std::string n, number(x));
        out.push_back(std::move(n));
      } else {
        out.emplace_back(x);
      }
    }
    return out;
  };
  if (t == "S" && field.value.get_string().get(s) == simdjson::SUCCESS) {
    return table::Value::s(std::string(s));
  }
  if (t == "N" && field.value.get_string().get(s) == simdjson::SUCCESS) {
    FRESHET_ASSIGN_OR_RETURN(std::string n, number(s));
    return table::Value::n(std::move(n));
  }
  if (t == "B" && field.value.get_string().get(s) == simdjson::SUCCESS) {
    FRESHET_ASSIGN_OR_RETURN(std::string b, base64_decode(s));
    return table::Value::b(std::move(b));
  }
  bool b = false;
  if (t == "BOOL" && field.value.get_bool().get(b) == simdjson::SUCCESS) {
    return table::Value::boolean(b);
  }
  if (t == "NULL") return table::Value::null();
  if (t == "M") {
    FRESHET_ASSIGN_OR_RETURN(table::Item m, typed_item(field.value, depth + 1));
    return table::Value::map(std::move(m));
  }
  if (t == "L") {
    simdjson::dom::array a;
    if (field.value.get_array().get(a) != simdjson::SUCCESS) return bad_reply("a list");
    std::vector<table::Value> l;
    for (auto x : a) {
      FRESHET_ASSIGN_OR_RETURN(table::Value v, typed_value(x, depth + 1));
      l.push_back(std::move(v));
    }
    return table::Value::list(std::move(l));
  }
  if (t == "SS" || t == "NS" || t == "BS") {
    FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> ms, members(t == "BS", t == "NS"));
    return table::Value::set(t == "SS" ? table::Type::kSS : t == "NS" ? table::Type::kNS
                                                                     : table::Type::kBS,
                             std::move(ms));
  }
  return bad_reply("an attribute value of type " + std::string(t));
}

const char* type_letter(table::Type t) {
  return t == table::Type::kN ? "N" : t == table::Type::kB ? "B" : "S";
}

// ---- HTTP ----

// One easy handle per thread (its connection kept alive between calls).
struct Handle {
  CURL* h = curl_easy_init();
  ~Handle() {
    if (h != nullptr) curl_easy_cleanup(h);
  }
};

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(RemoteOptions o) : o_(std::move(o)) {
    while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
  }

  // ---- streams ----

  Result<stream::StreamInfo> describe_stream(const std::string& region,
                                             const std::string& name) override {
    (void)region;  // the endpoint's region
    stream::StreamInfo info;
    info.region = o_.region;
    info.name = name;
    std::string after;
    while (true) {
      std::string body = "{\"StreamName\":";
      append_json_string(body, name);
      if (!after.empty()) {
        body += ",\"ExclusiveStartShardId\":";
        append_json_string(body, after);
      }
      body += "}";
      FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc,
                               kinesis("DescribeStream", body, parser()));
      simdjson::dom::element d;
      if (doc["StreamDescription"].get(d) != simdjson::SUCCESS) {
        return bad_reply("DescribeStream without StreamDescription");
      }
      std::string_view s;
      if (d["StreamARN"].get_string().get(s) == simdjson::SUCCESS) info.arn = std::string(s);
      if (d["StreamStatus"].get_string().get(s) == simdjson::SUCCESS) {
        info.status = s == "ACTIVE"     ? stream::StreamStatus::kActive
                      : s == "CREATING" ? stream::StreamStatus::kCreating
                      : s == "DELETING" ? stream::StreamStatus::kDeleting
                                        : stream::StreamStatus::kUpdating;
      }
      simdjson::dom::array shards;
      if (d["Shards"].get_array().get(shards) != simdjson::SUCCESS) {
        return bad_reply("DescribeStream without Shards");
      }
      for (auto e : shards) {
        stream::Shard sh;
        if (e["ShardId"].get_string().get(s) != simdjson::SUCCESS) return bad_reply("a shard id");
        sh.shard_id = std::string(s);
        const size_t dash = sh.shard_id.rfind('-');
        if (dash != std::string::npos) {
          sh.index = std::strtoull(sh.shard_id.c_str() + dash + 1, nullptr, 10);
        }
        if (e["ParentShardId"].get_string().get(s) == simdjson::SUCCESS) {
          sh.parent_shard_id = std::string(s);
        }
        if (e["AdjacentParentShardId"].get_string().get(s) == simdjson::SUCCESS) {
          sh.adjacent_parent_shard_id = std::string(s);
        }
        if (e["SequenceNumberRange"]["StartingSequenceNumber"].get_string().get(s) ==
            simdjson::SUCCESS) {
          sh.starting_sequence_number = std::string(s);
        }
        if (e["SequenceNumberRange"]["EndingSequenceNumber"].get_string().get(s) ==
            simdjson::SUCCESS) {
          sh.ending_sequence_number = std::string(s);
          sh.closed = true;
        }
        // The Kinesis API shows no shard creation time: see created_after.
        sh.created_ms = 0;
        after = sh.shard_id;
        info.shards.push_back(std::move(sh));
      }
      bool more = false;
      if (d["HasMoreShards"].get_bool().get(more) != simdjson::SUCCESS || !more ||
          shards.size() == 0) {
        return info;
      }
    }
  }

  Result<bool> created_after(const std::string& region, const std::string& name,
                             const stream::Shard& shard, int64_t ts_ms) override {
    // A shard without a parent is as old as its stream.
    if (shard.parent_shard_id.empty() && shard.adjacent_parent_shard_id.empty()) return false;
    FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> from,
                             list_shards(region, name, "FROM_TIMESTAMP", ts_ms));
    FRESHET_ASSIGN_OR_RETURN(std::vector<std::string> at,
                             list_shards(region, name, "AT_TIMESTAMP", ts_ms));
    const auto has = [&](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), shard.shard_id) != v.end();
    };
    return has(from) && !has(at);
  }

  Result<std::string> get_shard_iterator(const std::string& region, const std::string& name,
                                         const std::string& shard_id, stream::IteratorType type,
                                         const std::string& sequence_number,
                                         int64_t timestamp_ms) override {
    (void)region;
    static constexpr const char* kTypes[] = {"TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER",
                                             "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"};
    std::string body = "{\"StreamName\":";
    append_json_string(body, name);
    body += ",\"ShardId\":";
    append_json_string(body, shard_id);
    body += ",\"ShardIteratorType\":\"";
    body += kTypes[static_cast<int>(type)];
    body += "\"";
    if (type == stream::IteratorType::kAtSequenceNumber ||
        type == stream::IteratorType::kAfterSequenceNumber) {
      body += ",\"StartingSequenceNumber\":";
      append_json_string(body, sequence_number);
    }
    if (type == stream::IteratorType::kAtTimestamp) {
      char ts[48];
      std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(timestamp_ms) / 1000.0);
      body += ",\"Timestamp\":";
      body += ts;
    }
    body += "}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc,
                             kinesis("GetShardIterator", body, parser()));
    std::string_view it;
    if (doc["ShardIterator"].get_string().get(it) != simdjson::SUCCESS) {
      return bad_reply("GetShardIterator without ShardIterator");
    }
    return std::string(it);
  }

  Result<stream::GetRecordsResult> get_records(std::string_view iterator,
                                               uint32_t limit) override {
    std::string body = "{\"ShardIterator\":";
    append_json_string(body, iterator);
    body += ",\"Limit\":" + std::to_string(limit) + "}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, kinesis("GetRecords", body, parser()));
    stream::GetRecordsResult out;
    simdjson::dom::array recs;
    if (doc["Records"].get_array().get(recs) != simdjson::SUCCESS) {
      return bad_reply("GetRecords without Records");
    }
    // Every record's data and key in one buffer the views point into (sized first, so that
    // it never moves).
    size_t bytes = 0;
    for (auto r : recs) {
      std::string_view d, k;
      if (r["Data"].get_string().get(d) != simdjson::SUCCESS ||
          r["PartitionKey"].get_string().get(k) != simdjson::SUCCESS) {
        return bad_reply("a record without Data or PartitionKey");
      }
      bytes += d.size() / 4 * 3 + 3 + k.size();
    }
    auto buf = std::make_shared<std::string>();
    buf->reserve(bytes);
    out.records.reserve(recs.size());
    std::vector<std::pair<size_t, size_t>> spans;  // (data offset, size), then key
    spans.reserve(recs.size() * 2);
    for (auto r : recs) {
      std::string_view d, k, seq;
      if (r["Data"].get_string().get(d) != simdjson::SUCCESS ||
          r["PartitionKey"].get_string().get(k) != simdjson::SUCCESS) {
        return bad_reply("a record without Data or PartitionKey");
      }
      if (r["SequenceNumber"].get_string().get(seq) != simdjson::SUCCESS ||
          seq.size() != stream::kSequenceNumberDigits) {
        return bad_reply("a sequence number that is not " +
                         std::to_string(stream::kSequenceNumberDigits) + " digits");
      }
      stream::GetRecordsRecord x;
      std::copy(seq.begin(), seq.end(), x.sequence_digits.begin());
      double arrival = 0;
      if (r["ApproximateArrivalTimestamp"].get_double().get(arrival) == simdjson::SUCCESS) {
        x.arrival_ms = std::llround(arrival * 1000.0);
      }
      const size_t at = buf->size();
      FRESHET_RETURN_IF_ERROR(base64_decode_append(d, *buf));
      spans.emplace_back(at, buf->size() - at);
      spans.emplace_back(buf->size(), k.size());
      buf->append(k);
      out.records.push_back(x);
    }
    for (size_t i = 0; i < out.records.size(); ++i) {
      out.records[i].data = std::string_view(buf->data() + spans[2 * i].first, spans[2 * i].second);
      out.records[i].partition_key =
          std::string_view(buf->data() + spans[2 * i + 1].first, spans[2 * i + 1].second);
    }
    out.storage.push_back(std::move(buf));
    std::string_view next;
    if (doc["NextShardIterator"].get_string().get(next) == simdjson::SUCCESS) {
      out.next_iterator = std::string(next);
    }
    int64_t behind = 0;
    if (doc["MillisBehindLatest"].get_int64().get(behind) == simdjson::SUCCESS) {
      out.millis_behind_latest = behind;
    }
    return out;
  }

  Result<std::vector<stream::PutOutcome>> put_records(
      const std::string& region, const std::string& name,
      std::span<const stream::PutEntry> entries) override {
    (void)region;
    std::string body = "{\"StreamName\":";
    append_json_string(body, name);
    body += ",\"Records\":[";
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) body += ',';
      body += "{\"Data\":\"";
      base64_encode_append(entries[i].data, body);
      body += "\",\"PartitionKey\":";
      append_json_string(body, entries[i].partition_key);
      if (!entries[i].explicit_hash_key.empty()) {
        body += ",\"ExplicitHashKey\":";
        append_json_string(body, entries[i].explicit_hash_key);
      }
      body += '}';
    }
    body += "]}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, kinesis("PutRecords", body, parser()));
    simdjson::dom::array recs;
    if (doc["Records"].get_array().get(recs) != simdjson::SUCCESS ||
        recs.size() != entries.size()) {
      return bad_reply("PutRecords without one result per record");
    }
    std::vector<stream::PutOutcome> out;
    for (auto r : recs) {
      stream::PutOutcome p;
      std::string_view s;
      if (r["ErrorCode"].get_string().get(s) == simdjson::SUCCESS) {
        p.error_code = std::string(s);
        if (r["ErrorMessage"].get_string().get(s) == simdjson::SUCCESS) {
          p.error_message = std::string(s);
        }
      } else {
        if (r["ShardId"].get_string().get(s) == simdjson::SUCCESS) p.shard_id = std::string(s);
        if (r["SequenceNumber"].get_string().get(s) == simdjson::SUCCESS) {
          p.sequence_number = std::string(s);
        }
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // ---- delivery streams ----

  Result<std::vector<std::string>> put_record_batch(
      const std::string& name, const std::vector<std::string_view>& records) override {
    std::string body = "{\"DeliveryStreamName\":";
    append_json_string(body, name);
    body += ",\"Records\":[";
    for (size_t i = 0; i < records.size(); ++i) {
      if (i > 0) body += ',';
      body += "{\"Data\":\"";
      base64_encode_append(records[i], body);
      body += "\"}";
    }
    body += "]}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc,
                             call("firehose", "application/x-amz-json-1.1",
                                  "Firehose_20150804.PutRecordBatch", body, parser()));
    simdjson::dom::array answers;
    if (doc["RequestResponses"].get_array().get(answers) != simdjson::SUCCESS ||
        answers.size() != records.size()) {
      return bad_reply("PutRecordBatch without one response per record");
    }
    std::vector<std::string> out;
    out.reserve(records.size());
    for (auto a : answers) {
      std::string_view code;
      if (a["ErrorCode"].get_string().get(code) == simdjson::SUCCESS) {
        out.emplace_back(code.empty() ? "ServiceUnavailableException" : code);
      } else if (a["RecordId"].get_string().get(code) == simdjson::SUCCESS) {
        out.emplace_back();
      } else {
        return bad_reply("a PutRecordBatch response without RecordId or ErrorCode");
      }
    }
    return out;
  }

  // ---- tables ----

  Result<table::TableDesc> describe_table(std::string_view name) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, name);
    body += "}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, dynamodb("DescribeTable", body, parser()));
    simdjson::dom::element t;
    if (doc["Table"].get(t) != simdjson::SUCCESS) return bad_reply("DescribeTable without Table");
    table::TableDesc d;
    d.name = std::string(name);
    std::map<std::string, table::Type> types;
    simdjson::dom::array defs, keys;
    if (t["AttributeDefinitions"].get_array().get(defs) == simdjson::SUCCESS) {
      for (auto a : defs) {
        std::string_view n, ty;
        if (a["AttributeName"].get_string().get(n) != simdjson::SUCCESS ||
            a["AttributeType"].get_string().get(ty) != simdjson::SUCCESS) {
          continue;
        }
        const table::Type type = ty == "N" ? table::Type::kN : ty == "B" ? table::Type::kB
                                                                        : table::Type::kS;
        types[std::string(n)] = type;
        d.attribute_definitions.push_back({std::string(n), type});
      }
    }
    if (t["KeySchema"].get_array().get(keys) != simdjson::SUCCESS) {
      return bad_reply("DescribeTable without KeySchema");
    }
    for (auto k : keys) {
      std::string_view n, kt;
      if (k["AttributeName"].get_string().get(n) != simdjson::SUCCESS ||
          k["KeyType"].get_string().get(kt) != simdjson::SUCCESS) {
        return bad_reply("a KeySchema element");
      }
      table::KeyAttr a{std::string(n), types.contains(std::string(n)) ? types[std::string(n)]
                                                                      : table::Type::kS};
      if (kt == "HASH") {
        d.key.hash = std::move(a);
      } else {
        d.key.range = std::move(a);
      }
    }
    std::string_view status;
    d.active_at_ms = t["TableStatus"].get_string().get(status) == simdjson::SUCCESS &&
                             status != "ACTIVE"
                         ? INT64_MAX
                         : 0;
    return d;
  }

  Result<table::TableDesc> create_table(table::TableDesc desc) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, desc.name);
    body += ",\"BillingMode\":\"PAY_PER_REQUEST\",\"AttributeDefinitions\":[";
    for (size_t i = 0; i < desc.attribute_definitions.size(); ++i) {
      if (i > 0) body += ',';
      body += "{\"AttributeName\":";
      append_json_string(body, desc.attribute_definitions[i].name);
      body += ",\"AttributeType\":\"";
      body += type_letter(desc.attribute_definitions[i].type);
      body += "\"}";
    }
    body += "],\"KeySchema\":[{\"AttributeName\":";
    append_json_string(body, desc.key.hash.name);
    body += ",\"KeyType\":\"HASH\"}";
    if (desc.key.range) {
      body += ",{\"AttributeName\":";
      append_json_string(body, desc.key.range->name);
      body += ",\"KeyType\":\"RANGE\"}";
    }
    body += "]}";
    auto r = dynamodb("CreateTable", body, parser());
    if (!r.ok()) {
      // DynamoDB answers ResourceInUseException for a table that exists.
      if (r.code() == ErrorCode::kResourceInUse) {
        return Error(ErrorCode::kAlreadyExists, r.error().message());
      }
      return r.error();
    }
    return desc;
  }

  bool is_active(const table::TableDesc& d) override {
    return d.active_at_ms <= SystemClock().now_ms();
  }

  Result<std::optional<table::Item>> get_item(std::string_view table,
                                              const table::Item& key) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, table);
    body += ",\"ConsistentRead\":true,\"Key\":";
    append_typed_item(body, key);
    body += "}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, dynamodb("GetItem", body, parser()));
    simdjson::dom::element item;
    if (doc["Item"].get(item) != simdjson::SUCCESS) return std::optional<table::Item>();
    FRESHET_ASSIGN_OR_RETURN(table::Item i, typed_item(item, 0));
    return std::optional<table::Item>(std::move(i));
  }

  Result<table::Page> scan(const table::ScanSpec& spec) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, spec.table);
    if (spec.limit > 0) body += ",\"Limit\":" + std::to_string(spec.limit);
    if (spec.exclusive_start_key) {
      body += ",\"ExclusiveStartKey\":";
      append_typed_item(body, *spec.exclusive_start_key);
    }
    body += "}";
    FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, dynamodb("Scan", body, parser()));
    table::Page page;
    simdjson::dom::array items;
    if (doc["Items"].get_array().get(items) != simdjson::SUCCESS) {
      return bad_reply("Scan without Items");
    }
    for (auto e : items) {
      FRESHET_ASSIGN_OR_RETURN(table::Item i, typed_item(e, 0));
      page.items.push_back(std::move(i));
    }
    simdjson::dom::element last;
    if (doc["LastEvaluatedKey"].get(last) == simdjson::SUCCESS) {
      FRESHET_ASSIGN_OR_RETURN(table::Item k, typed_item(last, 0));
      page.last_evaluated_key = std::move(k);
    }
    return page;
  }

  Result<table::WriteOutcome> update_item(std::string_view table, const table::Item& key,
                                          const WriteExpr& e) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, table);
    body += ",\"Key\":";
    append_typed_item(body, key);
    body += ",\"UpdateExpression\":";
    append_json_string(body, e.update);
    append_expression(body, e);
    body += ",\"ReturnValues\":\"ALL_NEW\"}";
    table::WriteOutcome w;
    auto r = dynamodb("UpdateItem", body, parser());
    if (!r.ok()) {
      if (r.error().message().starts_with(kConditionFailed)) {
        w.condition_failed = true;
        return w;
      }
      return r.error();
    }
    w.wrote = true;
    simdjson::dom::element attrs;
    if ((*r)["Attributes"].get(attrs) == simdjson::SUCCESS) {
      FRESHET_ASSIGN_OR_RETURN(table::Item i, typed_item(attrs, 0));
      w.new_item = std::move(i);
    }
    return w;
  }

  void put_item_async(std::string_view table, table::Item item, const WriteExpr& e,
                      table::WriteDone done) override {
    std::string body = "{\"TableName\":";
    append_json_string(body, table);
    body += ",\"Item\":";
    append_typed_item(body, item);
    append_expression(body, e);
    body += "}";
    auto r = dynamodb("PutItem", body, parser());
    table::WriteOutcome w;
    if (!r.ok()) {
      if (!r.error().message().starts_with(kConditionFailed)) {
        done(r.error());
        return;
      }
      w.condition_failed = true;
    } else {
      w.wrote = true;
    }
    done(std::move(w));
  }

  // BatchWriteItem takes 25 puts a request; what comes back unprocessed is sent again (a
  // few times, with backoff) before the batch fails (the caller retries it: puts by key).
  void batch_write_async(const std::vector<table::WriteOp>& ops,
                         std::function<void(Status)> done) override {
    constexpr size_t kPerRequest = 25;
    for (size_t i = 0; i < ops.size(); i += kPerRequest) {
      const size_t n = std::min(kPerRequest, ops.size() - i);
      std::string body = "{\"RequestItems\":{";
      std::map<std::string_view, std::vector<const table::Item*>> by_table;
      for (size_t k = 0; k < n; ++k) {
        if (ops[i + k].kind != table::WriteOp::Kind::kPut) {
          done(Error(ErrorCode::kInvalidArgument, "a remote batch write takes puts only"));
          return;
        }
        by_table[ops[i + k].table].push_back(&ops[i + k].item);
      }
      bool first = true;
      for (const auto& [t, items] : by_table) {
        if (!first) body += ',';
        first = false;
        append_json_string(body, t);
        body += ":[";
        for (size_t k = 0; k < items.size(); ++k) {
          if (k > 0) body += ',';
          body += "{\"PutRequest\":{\"Item\":";
          append_typed_item(body, *items[k]);
          body += "}}";
        }
        body += ']';
      }
      body += "}}";
      int64_t backoff = 20;
      for (int attempt = 0;; ++attempt) {
        auto r = dynamodb("BatchWriteItem", body, parser());
        if (!r.ok()) {
          done(r.error());
          return;
        }
        simdjson::dom::object un;
        if ((*r)["UnprocessedItems"].get_object().get(un) != simdjson::SUCCESS || un.size() == 0) {
          break;
        }
        if (attempt >= 8) {
          done(Error(ErrorCode::kUnavailable, "BatchWriteItem left items unprocessed"));
          return;
        }
        body = "{\"RequestItems\":" + simdjson::to_string(un) + "}";
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff = std::min<int64_t>(backoff * 2, 1000);
      }
    }
    done(Status());
  }

 private:
  static constexpr std::string_view kConditionFailed = "ConditionalCheckFailedException";

  static simdjson::dom::parser& parser() {
    thread_local simdjson::dom::parser p;
    return p;
  }

  // ListShards with a timestamp ShardFilter: the shard ids, every page.
  Result<std::vector<std::string>> list_shards(const std::string& region, const std::string& name,
                                               const char* filter, int64_t ts_ms) {
    (void)region;  // the endpoint's region
    std::vector<std::string> ids;
    std::string token;
    while (true) {
      std::string body = "{";
      if (token.empty()) {
        char ts[48];
        std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(ts_ms) / 1000.0);
        body += "\"StreamName\":";
        append_json_string(body, name);
        body += ",\"ShardFilter\":{\"Type\":\"";
        body += filter;
        body += "\",\"Timestamp\":";
        body += ts;
        body += "}";
      } else {
        body += "\"NextToken\":";
        append_json_string(body, token);
      }
      body += "}";
      FRESHET_ASSIGN_OR_RETURN(simdjson::dom::element doc, kinesis("ListShards", body, parser()));
      simdjson::dom::array shards;
      if (doc["Shards"].get_array().get(shards) != simdjson::SUCCESS) {
        return bad_reply("ListShards without Shards");
      }
      for (auto e : shards) {
        std::string_view s;
        if (e["ShardId"].get_string().get(s) != simdjson::SUCCESS) return bad_reply("a shard id");
        ids.emplace_back(s);
      }
      std::string_view next;
      if (doc["NextToken"].get_string().get(next) != simdjson::SUCCESS || next.empty() ||
          shards.size() == 0) {
        return ids;
      }
      token = std::string(next);
    }
  }

  static void append_expression(std::string& body, const WriteExpr& e) {
    if (!e.condition.empty()) {
      body += ",\"ConditionExpression\":";
      append_json_string(body, e.condition);
    }
    if (!e.names.empty()) {
      body += ",\"ExpressionAttributeNames\":{";
      bool first = true;
      for (const auto& [k, v] : e.names) {
        if (!first) body += ',';
        first = false;
        append_json_string(body, k);
        body += ':';
        append_json_string(body, v);
      }
      body += '}';
    }
    if (!e.values.empty()) {
      body += ",\"ExpressionAttributeValues\":";
      table::Item vals(e.values.begin(), e.values.end());
      append_typed_item(body, vals);
    }
  }

  Result<simdjson::dom::element> kinesis(const char* op, const std::string& body,
                                         simdjson::dom::parser& p) {
    return call("kinesis", "application/x-amz-json-1.1", std::string("Kinesis_20131202.") + op,
                body, p);
  }
  Result<simdjson::dom::element> dynamodb(const char* op, const std::string& body,
                                          simdjson::dom::parser& p) {
    return call("dynamodb", "application/x-amz-json-1.0",
                std::string("DynamoDB_20120810.") + op, body, p);
  }

  // One request; the reply parsed (it lives in p until p's next parse). An error reply
  // becomes an Error whose message starts with the AWS error type: ResourceNotFound ->
  // kNotFound, ExpiredIterator -> kExpired, throttling and 5xx -> kUnavailable, ...
  Result<simdjson::dom::element> call(const char* service, const char* content_type,
                                      const std::string& target, const std::string& body,
                                      simdjson::dom::parser& p) {
    thread_local Handle handle;
    thread_local std::string reply;
    CURL* h = handle.h;
    if (h == nullptr) return Error(ErrorCode::kUnavailable, "curl_easy_init failed");
    curl_easy_reset(h);
    reply.clear();
    const std::string ct = std::string("Content-Type: ") + content_type;
    const std::string tg = "X-Amz-Target: " + target;
    curl_slist* list = nullptr;
    list = curl_slist_append(list, ct.c_str());
    list = curl_slist_append(list, tg.c_str());
    char err[CURL_ERROR_SIZE] = {0};
    objstore::set_signed_request(
        h, {o_.endpoint + "/", o_.region, service, o_.access_key, o_.secret_key, o_.timeout_ms},
        &list, err, &reply);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
      return Error(ErrorCode::kUnavailable, o_.endpoint + ": " +
                                                (err[0] != 0 ? err : curl_easy_strerror(rc)));
    }
    simdjson::dom::element doc;
    const bool parsed = p.parse(reply).get(doc) == simdjson::SUCCESS;
    if (status >= 200 && status < 300) {
      if (!parsed) return bad_reply(target + ": not JSON");
      return doc;
    }
    std::string_view type, message;
    if (parsed) {
      if (doc["__type"].get_string().get(type) != simdjson::SUCCESS) type = {};
      if (doc["message"].get_string().get(message) != simdjson::SUCCESS &&
          doc["Message"].get_string().get(message) != simdjson::SUCCESS) {
        message = {};
      }
    }
    if (const size_t hash = type.rfind('#'); hash != std::string_view::npos) {
      type = type.substr(hash + 1);
    }
    const std::string text = std::string(type.empty() ? "HTTP " + std::to_string(status)
                                                      : std::string(type)) +
                             ": " + std::string(message) + " (" + target + ")";
    ErrorCode code = ErrorCode::kFailed;
    if (type == "ResourceNotFoundException") code = ErrorCode::kNotFound;
    else if (type == "ResourceInUseException") code = ErrorCode::kResourceInUse;
    else if (type == "ExpiredIteratorException") code = ErrorCode::kExpired;
    else if (type == "InvalidArgumentException" || type == "ValidationException")
      code = ErrorCode::kInvalidArgument;
    else if (status >= 500 || status == 429 || type.find("Throughput") != std::string_view::npos ||
             type.find("Throttl") != std::string_view::npos || type == "LimitExceededException")
      code = ErrorCode::kUnavailable;
    return Error(code, text);
  }

  RemoteOptions o_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_remote_backend(const RemoteOptions& o) {
  if (!o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://")) {
    return Error(ErrorCode::kInvalidArgument,
                 "the endpoint must be an http:// or https:// URL: " + o.endpoint);
  }
  return std::unique_ptr<Backend>(std::make_unique<RemoteBackend>(o));
}

}  // namespace freshet::process

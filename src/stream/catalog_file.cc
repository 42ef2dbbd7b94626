#include "catalog_file.h"

#include <simdjson.h>

#include <cstdio>

namespace freshet::stream {
namespace {

void put_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void key(std::string& out, std::string_view k) {
  put_string(out, k);
  out.push_back(':');
}

void field(std::string& out, std::string_view k, std::string_view v) {
  key(out, k);
  put_string(out, v);
  out.push_back(',');
}

void field(std::string& out, std::string_view k, int64_t v) {
  key(out, k);
  out += std::to_string(v);
  out.push_back(',');
}

void field_u(std::string& out, std::string_view k, uint64_t v) {
  key(out, k);
  out += std::to_string(v);
  out.push_back(',');
}

void close_object(std::string& out) {
  if (out.back() == ',') out.pop_back();
  out.push_back('}');
}

void close_array(std::string& out) {
  if (out.back() == ',') out.pop_back();
  out.push_back(']');
}

Error bad(const std::string& what) { return Error(ErrorCode::kCorruption, "catalog: " + what); }

using simdjson::dom::element;
using simdjson::dom::object;

Result<std::string> get_str(const object& o, const char* k) {
  std::string_view v;
  if (o[k].get(v) != simdjson::SUCCESS) return bad(std::string("missing string ") + k);
  return std::string(v);
}
Result<int64_t> get_i64(const object& o, const char* k) {
  int64_t v;
  if (o[k].get(v) != simdjson::SUCCESS) return bad(std::string("missing integer ") + k);
  return v;
}
Result<uint64_t> get_u64(const object& o, const char* k) {
  uint64_t v;
  if (o[k].get(v) != simdjson::SUCCESS) return bad(std::string("missing integer ") + k);
  return v;
}

}  // namespace

std::string encode_catalog(const CatalogData& d) {
  std::string out = "{";
  field(out, "format", "freshet-catalog");
  field(out, "version", int64_t{1});
  field_u(out, "next_epoch", d.next_epoch);
  field(out, "minimum_throughput_billing_commitment",
        d.account.minimum_throughput_billing_commitment_status);
  key(out, "policies");
  out += "{";
  for (const auto& [arn, policy] : d.policies) field(out, arn, policy);
  close_object(out);
  out += ",";
  key(out, "streams");
  out += "[";
  for (const auto& e : d.streams) {
    const StreamInfo& s = e.info;
    out += "{";
    field(out, "region", s.region);
    field(out, "name", s.name);
    field_u(out, "epoch", s.epoch);
    field(out, "status", to_string(s.status));
    field(out, "status_until_ms", e.status_until_ms);
    field(out, "mode", to_string(s.mode));
    field(out, "created_ms", s.created_ms);
    field(out, "retention_hours", int64_t{s.retention_hours});
    field(out, "max_record_size_kib", int64_t{s.max_record_size_kib});
    field(out, "encryption_type", s.encryption_type);
    field(out, "key_id", s.key_id);
    field_u(out, "next_shard_index", e.next_shard_index);
    key(out, "shard_level_metrics");
    out += "[";
    for (const auto& m : s.shard_level_metrics) {
      put_string(out, m);
      out += ",";
    }
    close_array(out);
    out += ",";
    key(out, "tags");
    out += "{";
    for (const auto& [k, v] : s.tags) field(out, k, v);
    close_object(out);
    out += ",";
    key(out, "consumers");
    out += "[";
    for (const auto& c : s.consumers) {
      out += "{";
      field(out, "name", c.name);
      field(out, "arn", c.arn);
      field(out, "status", to_string(c.status));
      field(out, "created_ms", c.created_ms);
      close_object(out);
      out += ",";
    }
    close_array(out);
    out += ",";
    key(out, "shards");
    out += "[";
    for (const auto& sh : s.shards) {
      out += "{";
      field_u(out, "index", sh.index);
      field(out, "parent", sh.parent_shard_id);
      field(out, "adjacent_parent", sh.adjacent_parent_shard_id);
      field(out, "start", format_hash_key(sh.range.start));
      field(out, "end", format_hash_key(sh.range.end));
      field(out, "created_ms", sh.created_ms);
      field(out, "closed", int64_t{sh.closed ? 1 : 0});
      field(out, "closed_ms", sh.closed_ms);
      field_u(out, "end_offset", sh.end_offset);
      close_object(out);
      out += ",";
    }
    close_array(out);
    close_object(out);
    out += ",";
  }
  close_array(out);
  close_object(out);
  out += "\n";
  return out;
}

Result<CatalogData> decode_catalog(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return bad("not valid JSON");
  object top;
  if (root.get(top) != simdjson::SUCCESS) return bad("not an object");
  FRESHET_ASSIGN_OR_RETURN(std::string format, get_str(top, "format"));
  FRESHET_ASSIGN_OR_RETURN(int64_t version, get_i64(top, "version"));
  if (format != "freshet-catalog" || version != 1) return bad("unknown format or version");
  CatalogData d;
  FRESHET_ASSIGN_OR_RETURN(d.next_epoch, get_u64(top, "next_epoch"));
  FRESHET_ASSIGN_OR_RETURN(d.account.minimum_throughput_billing_commitment_status,
                           get_str(top, "minimum_throughput_billing_commitment"));
  object policies;
  if (top["policies"].get(policies) != simdjson::SUCCESS) return bad("missing policies");
  for (auto [k, v] : policies) {
    std::string_view p;
    if (v.get(p) != simdjson::SUCCESS) return bad("policy is not a string");
    d.policies[std::string(k)] = std::string(p);
  }
  simdjson::dom::array streams;
  if (top["streams"].get(streams) != simdjson::SUCCESS) return bad("missing streams");
  for (element se : streams) {
    object so;
    if (se.get(so) != simdjson::SUCCESS) return bad("stream is not an object");
    CatalogData::StreamEntry e;
    StreamInfo& s = e.info;
    FRESHET_ASSIGN_OR_RETURN(s.region, get_str(so, "region"));
    FRESHET_ASSIGN_OR_RETURN(s.name, get_str(so, "name"));
    FRESHET_ASSIGN_OR_RETURN(s.epoch, get_u64(so, "epoch"));
    FRESHET_ASSIGN_OR_RETURN(std::string status, get_str(so, "status"));
    if (status == "CREATING") s.status = StreamStatus::kCreating;
    else if (status == "DELETING") s.status = StreamStatus::kDeleting;
    else if (status == "ACTIVE") s.status = StreamStatus::kActive;
    else if (status == "UPDATING") s.status = StreamStatus::kUpdating;
    else return bad("unknown stream status " + status);
    FRESHET_ASSIGN_OR_RETURN(e.status_until_ms, get_i64(so, "status_until_ms"));
    FRESHET_ASSIGN_OR_RETURN(std::string mode, get_str(so, "mode"));
    s.mode = mode == "ON_DEMAND" ? StreamMode::kOnDemand : StreamMode::kProvisioned;
    FRESHET_ASSIGN_OR_RETURN(s.created_ms, get_i64(so, "created_ms"));
    FRESHET_ASSIGN_OR_RETURN(int64_t hours, get_i64(so, "retention_hours"));
    s.retention_hours = static_cast<int32_t>(hours);
    FRESHET_ASSIGN_OR_RETURN(int64_t kib, get_i64(so, "max_record_size_kib"));
    s.max_record_size_kib = static_cast<int32_t>(kib);
    FRESHET_ASSIGN_OR_RETURN(s.encryption_type, get_str(so, "encryption_type"));
    FRESHET_ASSIGN_OR_RETURN(s.key_id, get_str(so, "key_id"));
    FRESHET_ASSIGN_OR_RETURN(e.next_shard_index, get_u64(so, "next_shard_index"));
    simdjson::dom::array metrics;
    if (so["shard_level_metrics"].get(metrics) != simdjson::SUCCESS) return bad("metrics");
    for (element m : metrics) {
      std::string_view v;
      if (m.get(v) != simdjson::SUCCESS) return bad("metric");
      s.shard_level_metrics.emplace_back(v);
    }
    object tags;
    if (so["tags"].get(tags) != simdjson::SUCCESS) return bad("tags");
    for (auto [k, v] : tags) {
      std::string_view tv;
      if (v.get(tv) != simdjson::SUCCESS) return bad("tag value");
      s.tags[std::string(k)] = std::string(tv);
    }
    simdjson::dom::array consumers;
    if (so["consumers"].get(consumers) != simdjson::SUCCESS) return bad("consumers");
    for (element ce : consumers) {
      object co;
      if (ce.get(co) != simdjson::SUCCESS) return bad("consumer");
      Consumer c;
      FRESHET_ASSIGN_OR_RETURN(c.name, get_str(co, "name"));
      FRESHET_ASSIGN_OR_RETURN(c.arn, get_str(co, "arn"));
      FRESHET_ASSIGN_OR_RETURN(std::string cs, get_str(co, "status"));
      c.status = cs == "CREATING"   ? ConsumerStatus::kCreating
                 : cs == "DELETING" ? ConsumerStatus::kDeleting
                                    : ConsumerStatus::kActive;
      FRESHET_ASSIGN_OR_RETURN(c.created_ms, get_i64(co, "created_ms"));
      s.consumers.push_back(std::move(c));
    }
    simdjson::dom::array shards;
    if (so["shards"].get(shards) != simdjson::SUCCESS) return bad("shards");
    for (element she : shards) {
      object sho;
      if (she.get(sho) != simdjson::SUCCESS) return bad("shard");
      Shard sh;
      FRESHET_ASSIGN_OR_RETURN(sh.index, get_u64(sho, "index"));
      FRESHET_ASSIGN_OR_RETURN(sh.parent_shard_id, get_str(sho, "parent"));
      FRESHET_ASSIGN_OR_RETURN(sh.adjacent_parent_shard_id, get_str(sho, "adjacent_parent"));
      FRESHET_ASSIGN_OR_RETURN(std::string start, get_str(sho, "start"));
      FRESHET_ASSIGN_OR_RETURN(std::string end, get_str(sho, "end"));
      FRESHET_ASSIGN_OR_RETURN(sh.range.start, parse_hash_key(start));
      FRESHET_ASSIGN_OR_RETURN(sh.range.end, parse_hash_key(end));
      FRESHET_ASSIGN_OR_RETURN(sh.created_ms, get_i64(sho, "created_ms"));
      FRESHET_ASSIGN_OR_RETURN(int64_t closed, get_i64(sho, "closed"));
      sh.closed = closed != 0;
      FRESHET_ASSIGN_OR_RETURN(sh.closed_ms, get_i64(sho, "closed_ms"));
      FRESHET_ASSIGN_OR_RETURN(sh.end_offset, get_u64(sho, "end_offset"));
      s.shards.push_back(std::move(sh));
    }
    d.streams.push_back(std::move(e));
  }
  return d;
}

}  // namespace freshet::stream

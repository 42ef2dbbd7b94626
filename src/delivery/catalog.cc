#include "catalog.h"

#include <simdjson.h>

#include <cstdio>

namespace freshet::delivery {
namespace {

void json_string(std::string& out, std::string_view s) {
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

class Writer {
 public:
  void field(std::string_view k, std::string_view v) {
    sep();
    json_string(out_, k);
    out_.push_back(':');
    json_string(out_, v);
  }
  void field(std::string_view k, int64_t v) {
    sep();
    json_string(out_, k);
    out_ += ":" + std::to_string(v);
  }
  void field(std::string_view k, bool v) {
    sep();
    json_string(out_, k);
    out_ += v ? ":true" : ":false";
  }
  void raw(std::string_view k, std::string_view json) {
    sep();
    json_string(out_, k);
    out_.push_back(':');
    out_ += json;
  }
  std::string done() { return "{" + out_ + "}"; }

 private:
  void sep() {
    if (!out_.empty()) out_.push_back(',');
  }
  std::string out_;
};

Error corrupt(std::string what) {
  return Error(ErrorCode::kCorruption, "delivery stream file: " + std::move(what));
}

}  // namespace

std::string encode_stream(const DeliveryStreamInfo& i) {
  Writer d;
  const S3Destination& s = i.destination;
  d.field("extended", s.extended);
  d.field("role_arn", s.role_arn);
  d.field("bucket_arn", s.bucket_arn);
  d.field("prefix", s.prefix);
  d.field("error_output_prefix", s.error_output_prefix);
  d.field("size_mb", int64_t{s.size_mb});
  d.field("interval_seconds", int64_t{s.interval_seconds});
  d.field("compression", compression_name(s.compression));
  d.field("file_extension", s.file_extension);
  d.field("append_delimiter", s.append_delimiter);
  d.field("processing_enabled", s.processing_enabled);
  d.field("processing_json", s.processing_json);
  d.field("dynamic_partitioning", s.dynamic_partitioning);
  d.field("metadata_query", s.metadata_query);
  d.field("retry_seconds", int64_t{s.retry_seconds});
  d.field("cloudwatch_json", s.cloudwatch_json);
  d.field("encryption_json", s.encryption_json);
  d.field("s3_backup_mode", s.s3_backup_mode);
  std::string tags = "[";
  for (size_t k = 0; k < i.tags.size(); ++k) {
    if (k) tags.push_back(',');
    tags.push_back('[');
    json_string(tags, i.tags[k].first);
    tags.push_back(',');
    json_string(tags, i.tags[k].second);
    tags.push_back(']');
  }
  tags.push_back(']');
  Writer w;
  w.field("version_format", int64_t{1});
  w.field("name", i.name);
  w.field("arn", i.arn);
  w.field("type", i.type);
  w.field("create_ms", i.create_ms);
  w.field("update_ms", i.update_ms);
  w.field("version", static_cast<int64_t>(i.version));
  w.field("source_stream_arn", i.source_stream_arn);
  w.field("source_role_arn", i.source_role_arn);
  w.field("encryption_status", i.encryption.status);
  w.field("encryption_key_type", i.encryption.key_type);
  w.field("encryption_key_arn", i.encryption.key_arn);
  w.raw("destination", d.done());
  w.raw("tags", tags);
  return w.done() + "\n";
}

Result<DeliveryStreamInfo> decode_stream(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return corrupt("not JSON");
  DeliveryStreamInfo i;
  bool ok = true;
  auto str = [&](simdjson::dom::element e, const char* k, std::string& out) {
    std::string_view v;
    if (e[k].get_string().get(v) != simdjson::SUCCESS) ok = false;
    else out = std::string(v);
  };
  auto num = [&](simdjson::dom::element e, const char* k, auto& out) {
    int64_t v = 0;
    if (e[k].get_int64().get(v) != simdjson::SUCCESS) ok = false;
    else out = static_cast<std::remove_reference_t<decltype(out)>>(v);
  };
  auto flag = [&](simdjson::dom::element e, const char* k, bool& out) {
    if (e[k].get_bool().get(out) != simdjson::SUCCESS) ok = false;
  };
  str(doc, "name", i.name);
  str(doc, "arn", i.arn);
  str(doc, "type", i.type);
  num(doc, "create_ms", i.create_ms);
  num(doc, "update_ms", i.update_ms);
  num(doc, "version", i.version);
  str(doc, "source_stream_arn", i.source_stream_arn);
  str(doc, "source_role_arn", i.source_role_arn);
  str(doc, "encryption_status", i.encryption.status);
  str(doc, "encryption_key_type", i.encryption.key_type);
  str(doc, "encryption_key_arn", i.encryption.key_arn);
  simdjson::dom::element d;
  if (doc["destination"].get(d) != simdjson::SUCCESS) return corrupt("no destination");
  S3Destination& s = i.destination;
  flag(d, "extended", s.extended);
  str(d, "role_arn", s.role_arn);
  str(d, "bucket_arn", s.bucket_arn);
  str(d, "prefix", s.prefix);
  str(d, "error_output_prefix", s.error_output_prefix);
  num(d, "size_mb", s.size_mb);
  num(d, "interval_seconds", s.interval_seconds);
  std::string comp;
  str(d, "compression", comp);
  str(d, "file_extension", s.file_extension);
  flag(d, "append_delimiter", s.append_delimiter);
  flag(d, "processing_enabled", s.processing_enabled);
  str(d, "processing_json", s.processing_json);
  flag(d, "dynamic_partitioning", s.dynamic_partitioning);
  str(d, "metadata_query", s.metadata_query);
  num(d, "retry_seconds", s.retry_seconds);
  str(d, "cloudwatch_json", s.cloudwatch_json);
  str(d, "encryption_json", s.encryption_json);
  str(d, "s3_backup_mode", s.s3_backup_mode);
  if (!ok) return corrupt("missing or mistyped field");
  std::optional<Compression> c = parse_compression(comp);
  if (!c) return corrupt("unknown compression " + comp);
  s.compression = *c;
  simdjson::dom::array tags;
  if (doc["tags"].get_array().get(tags) != simdjson::SUCCESS) return corrupt("no tags");
  for (simdjson::dom::element t : tags) {
    std::string_view k, v;
    if (t.at(0).get_string().get(k) != simdjson::SUCCESS ||
        t.at(1).get_string().get(v) != simdjson::SUCCESS) {
      return corrupt("bad tag");
    }
    i.tags.emplace_back(std::string(k), std::string(v));
  }
  return i;
}

std::string encode_state(const DeliveryState& s) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "freshet-delivery-state 1\ndelivered %llu\npending %d %llu %lld %llu %llu\n",
                static_cast<unsigned long long>(s.delivered), s.pending ? 1 : 0,
                static_cast<unsigned long long>(s.pending_end),
                static_cast<long long>(s.pending_time_ms),
                static_cast<unsigned long long>(s.pending_seed),
                static_cast<unsigned long long>(s.pending_version));
  return buf;
}

Result<DeliveryState> decode_state(std::string_view text) {
  DeliveryState s;
  unsigned long long delivered = 0, end = 0, seed = 0, version = 0;
  long long time_ms = 0;
  int pending = 0;
  std::string t(text);
  if (std::sscanf(t.c_str(), "freshet-delivery-state 1\ndelivered %llu\npending %d %llu %lld %llu %llu",
                  &delivered, &pending, &end, &time_ms, &seed, &version) != 6) {
    return Error(ErrorCode::kCorruption, "bad delivery state file");
  }
  s.delivered = delivered;
  s.pending = pending != 0;
  s.pending_end = end;
  s.pending_time_ms = time_ms;
  s.pending_seed = seed;
  s.pending_version = version;
  return s;
}

}  // namespace freshet::delivery

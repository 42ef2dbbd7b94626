#include "convert.h"

#include <charconv>

#include "freshet/common/base64.h"

namespace freshet::api::kinesis {

Document hash_key_range_doc(const stream::HashKeyRange& r) {
  Document d = Document::make_map();
  d.set("StartingHashKey", stream::format_hash_key(r.start));
  d.set("EndingHashKey", stream::format_hash_key(r.end));
  return d;
}

Document shard_doc(const stream::Shard& s) {
  Document d = Document::make_map();
  d.set("ShardId", s.shard_id);
  if (!s.parent_shard_id.empty()) d.set("ParentShardId", s.parent_shard_id);
  if (!s.adjacent_parent_shard_id.empty()) d.set("AdjacentParentShardId", s.adjacent_parent_shard_id);
  d.set("HashKeyRange", hash_key_range_doc(s.range));
  Document seq = Document::make_map();
  seq.set("StartingSequenceNumber", s.starting_sequence_number);
  if (!s.ending_sequence_number.empty()) seq.set("EndingSequenceNumber", s.ending_sequence_number);
  d.set("SequenceNumberRange", std::move(seq));
  return d;
}

Document stream_mode_doc(stream::StreamMode m) {
  Document d = Document::make_map();
  d.set("StreamMode", stream::to_string(m));
  return d;
}

Document string_list_doc(const std::vector<std::string>& items) {
  Document l = Document::make_list();
  for (const auto& s : items) l.push_back(s);
  return l;
}

Document enhanced_monitoring_doc(const std::vector<std::string>& metrics) {
  Document em = Document::make_map();
  em.set("ShardLevelMetrics", string_list_doc(metrics));
  Document l = Document::make_list();
  l.push_back(std::move(em));
  return l;
}

Document consumer_doc(const stream::Consumer& c, const std::string* stream_arn) {
  Document d = Document::make_map();
  d.set("ConsumerName", c.name);
  d.set("ConsumerARN", c.arn);
  d.set("ConsumerStatus", stream::to_string(c.status));
  d.set("ConsumerCreationTimestamp", Document::timestamp_ms(c.created_ms));
  if (stream_arn != nullptr) d.set("StreamARN", *stream_arn);
  return d;
}

namespace {
constexpr std::string_view kTokenMagic = "fnt1";
constexpr size_t kTokenFields = 10;

template <typename T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::string encode_page_token(const PageToken& t) {
  std::string raw(kTokenMagic);
  raw += "\n" + t.op + "\n" + std::to_string(t.issued_ms) + "\n" + t.region + "\n" + t.stream +
         "\n" + std::to_string(t.stream_epoch) + "\n" + t.after + "\n" +
         std::to_string(t.filter_type) + "\n" + t.filter_shard_id + "\n" +
         std::to_string(t.filter_timestamp_ms);
  return freshet::base64_encode(raw);
}

std::optional<PageToken> decode_page_token(std::string_view text) {
  if (text.size() > 4096) return std::nullopt;
  auto bytes = freshet::base64_decode_bytes(text);
  if (!bytes.ok()) return std::nullopt;
  std::string_view raw(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  std::vector<std::string_view> f;
  size_t start = 0;
  while (true) {
    const size_t nl = raw.find('\n', start);
    f.push_back(raw.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (f.size() != kTokenFields || f[0] != kTokenMagic) return std::nullopt;
  PageToken t;
  t.op = f[1];
  t.region = f[3];
  t.stream = f[4];
  t.after = f[6];
  t.filter_shard_id = f[8];
  if (!parse_number(f[2], &t.issued_ms) || !parse_number(f[5], &t.stream_epoch) ||
      !parse_number(f[7], &t.filter_type) || !parse_number(f[9], &t.filter_timestamp_ms)) {
    return std::nullopt;
  }
  return t;
}

}  // namespace freshet::api::kinesis

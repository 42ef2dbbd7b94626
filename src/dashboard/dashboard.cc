#include "freshet/dashboard/dashboard.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>

#include "freshet/api/codec.h"
#include "freshet/delivery/delivery.h"
#include "freshet/objstore/object_store.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/stream/hash_key.h"
#include "freshet/table/store.h"
#include "freshet/table/value.h"

namespace freshet::dashboard {
namespace {

using api::Document;
using api::List;
using api::Map;

constexpr size_t kMaxShardsShown = 2000;
constexpr size_t kMaxStreams = 200;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Query parameters, percent-decoded.
std::string param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = kv.find('=');
    if (kv.substr(0, eq) != name) continue;
    std::string_view v = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '+') {
        out += ' ';
      } else if (v[i] == '%' && i + 2 < v.size()) {
        int x = 0;
        auto r = std::from_chars(v.data() + i + 1, v.data() + i + 3, x, 16);
        if (r.ec == std::errc() && r.ptr == v.data() + i + 3) {
          out += static_cast<char>(x);
          i += 2;
        } else {
          out += v[i];
        }
      } else {
        out += v[i];
      }
    }
    return out;
  }
  return {};
}

int64_t int_param(std::string_view query, std::string_view name, int64_t fallback) {
  const std::string v = param(query, name);
  int64_t x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  return r.ec == std::errc() && r.ptr == v.data() + v.size() ? x : fallback;
}

std::string item_text(const table::Item& item) {
  std::string s = table::to_debug_string(item);
  if (s.size() > 400) s = s.substr(0, 397) + "...";
  return s;
}

api::RestResponse json_response(std::string body) {
  api::RestResponse r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = std::move(body);
  return r;
}

}  // namespace

std::optional<api::RestResponse> Dashboard::handle(api::RestRequest& r) const {
  if (r.method != "GET") return std::nullopt;
  const std::string_view target = r.target;
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  if (path == "/") {
    // S3's ListBuckets (signed) and presigned requests keep GET /.
    if (r.has_header("Authorization") || query.find("X-Amz-Signature") != std::string_view::npos) {
      return std::nullopt;
    }
    const Asset* a = find_asset("/dashboard/index.html");
    if (a == nullptr) return std::nullopt;
    api::RestResponse resp;
    resp.headers.emplace_back("Content-Type", std::string(a->content_type));
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.body = std::string(a->body);
    return resp;
  }
  if (!path.starts_with("/dashboard/") || r.has_header("Authorization")) return std::nullopt;
  if (path == "/dashboard/api/state") return json_response(state_json());
  if (path == "/dashboard/api/metric") return json_response(metric_json(query));
  if (path == "/dashboard/api/metrics") return json_response(metrics_json());
  const Asset* a = find_asset(path);
  api::RestResponse resp;
  if (a == nullptr) {
    resp.status = 404;
    resp.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    resp.body = "not found\n";
    return resp;
  }
  resp.headers.emplace_back("Content-Type", std::string(a->content_type));
  resp.headers.emplace_back("Cache-Control", "no-cache");
  resp.body = std::string(a->body);
  return resp;
}

std::string Dashboard::state_json() const {
  Document out = Document::make_map();
  out.set("time", now_ms());
  out.set("region", s_.region);
  // Streams and shards.
  Document streams = Document::make_list();
  if (s_.engine != nullptr) {
    std::vector<std::string> names = s_.engine->list_streams(s_.region);
    if (names.size() > kMaxStreams) names.resize(kMaxStreams);
    std::map<std::string, std::pair<uint64_t, uint64_t>> offsets;  // stream/shard -> tip, trim
    for (const auto& st : s_.engine->shard_stats()) {
      if (st.region == s_.region)
        offsets[st.stream + "/" + st.shard_id] = {st.tip, st.trim_horizon};
    }
    size_t shown = 0;
    for (const std::string& name : names) {
      auto info = s_.engine->describe_stream(s_.region, name);
      if (!info.ok()) continue;
      Document s = Document::make_map();
      s.set("name", info->name);
      s.set("status", stream::to_string(info->status));
      s.set("mode", info->mode == stream::StreamMode::kOnDemand ? "ON_DEMAND" : "PROVISIONED");
      s.set("retention_hours", static_cast<int64_t>(info->retention_hours));
      s.set("created", info->created_ms);
      s.set("open_shards", static_cast<int64_t>(info->open_shard_count()));
      s.set("total_shards", static_cast<int64_t>(info->shards.size()));
      s.set("consumers", static_cast<int64_t>(info->consumers.size()));
      Document shards = Document::make_list();
      for (const stream::Shard& sh : info->shards) {
        if (shown++ >= kMaxShardsShown) break;
        Document d = Document::make_map();
        d.set("id", sh.shard_id);
        d.set("open", !sh.closed);
        if (!sh.parent_shard_id.empty()) d.set("parent", sh.parent_shard_id);
        if (!sh.adjacent_parent_shard_id.empty()) d.set("adjacent", sh.adjacent_parent_shard_id);
        d.set("start", stream::format_hash_key(sh.range.start));
        d.set("end", stream::format_hash_key(sh.range.end));
        auto it = offsets.find(info->name + "/" + sh.shard_id);
        if (it != offsets.end()) {
          d.set("records", static_cast<int64_t>(it->second.first - it->second.second));
        }
        shards.push_back(std::move(d));
      }
      s.set("shards", std::move(shards));
      streams.push_back(std::move(s));
    }
  }
  out.set("streams", std::move(streams));
  // Delivery streams and their latest objects.
  Document delivery = Document::make_list();
  if (s_.delivery != nullptr) {
    bool more = false;
    for (const std::string& name : s_.delivery->list("", "", 100, &more)) {
      auto info = s_.delivery->describe(name);
      if (!info.ok()) continue;
      Document d = Document::make_map();
      d.set("name", info->name);
      d.set("status", info->status);
      d.set("type", info->type);
      if (!info->source_stream_arn.empty()) {
        const size_t slash = info->source_stream_arn.rfind('/');
        d.set("source", info->source_stream_arn.substr(slash == std::string::npos ? 0 : slash + 1));
      }
      const std::string bucket = info->destination.bucket();
      d.set("bucket", bucket);
      d.set("prefix", info->destination.prefix);
      d.set("buffer_mb", static_cast<int64_t>(info->destination.size_mb));
      d.set("buffer_seconds", static_cast<int64_t>(info->destination.interval_seconds));
      d.set("compression", std::string(delivery::compression_name(info->destination.compression)));
      Document objects = Document::make_list();
      if (s_.objects != nullptr && !bucket.empty()) {
        // Firehose names objects <prefix>YYYY/MM/DD/HH/...: the newest are under this hour's
        // (or the last hour's) prefix; listing is in key order, so look there first.
        std::vector<objstore::ObjectInfo> objs;
        bool truncated = false;
        const int64_t now_s = now_ms() / 1000;
        for (int64_t t : {now_s, now_s - 3600}) {
          const time_t tt = static_cast<time_t>(t);
          struct tm tm;
          gmtime_r(&tt, &tm);
          char hour[32];
          std::strftime(hour, sizeof(hour), "%Y/%m/%d/%H/", &tm);
          objstore::ListOptions lo;
          lo.prefix = info->destination.prefix + hour;
          lo.max_keys = 1000;
          if (auto listed = s_.objects->list_objects(bucket, lo); listed.ok()) {
            objs.insert(objs.end(), listed->objects.begin(), listed->objects.end());
            truncated = truncated || listed->truncated;
          }
          if (!objs.empty()) break;
        }
        if (objs.empty()) {
          objstore::ListOptions lo;
          lo.prefix = info->destination.prefix;
          lo.max_keys = 1000;
          if (auto listed = s_.objects->list_objects(bucket, lo); listed.ok()) {
            objs = listed->objects;
            truncated = listed->truncated;
          }
        }
        std::sort(objs.begin(), objs.end(), [](const auto& a, const auto& b) {
          return a.last_modified_ms > b.last_modified_ms;
        });
        for (size_t i = 0; i < objs.size() && i < 8; ++i) {
          objects.push_back(Document(Map{{"key", objs[i].key},
                                         {"size", static_cast<int64_t>(objs[i].size)},
                                         {"modified", objs[i].last_modified_ms}}));
        }
        d.set("object_count", static_cast<int64_t>(objs.size()));
        d.set("object_count_more", truncated);
      }
      d.set("objects", std::move(objects));
      delivery.push_back(std::move(d));
    }
  }
  out.set("delivery", std::move(delivery));
  // Tables.
  Document tables = Document::make_list();
  if (s_.tables != nullptr) {
    for (const std::string& name : s_.tables->list_tables()) {
      auto desc = s_.tables->describe_table(name);
      if (!desc.ok()) continue;
      const table::TableStats st = s_.tables->stats(name);
      Document t = Document::make_map();
      t.set("name", name);
      t.set("status", s_.tables->is_active(*desc) ? "ACTIVE" : "CREATING");
      t.set("items", st.item_count);
      t.set("bytes", st.size_bytes);
      std::string key = desc->key.hash.name;
      if (desc->key.range) key += ", " + desc->key.range->name;
      t.set("key", key);
      t.set("billing", desc->pay_per_request ? "PAY_PER_REQUEST" : "PROVISIONED");
      table::ScanSpec spec;
      spec.table = name;
      spec.limit = 5;
      Document items = Document::make_list();
      if (auto page = s_.tables->scan(spec); page.ok()) {
        for (const table::Item& it : page->items) items.push_back(item_text(it));
      }
      t.set("sample", std::move(items));
      tables.push_back(std::move(t));
    }
  }
  out.set("tables", std::move(tables));
  // Alarms (through the CloudWatch API, as a client would see them).
  Document alarms = Document::make_list();
  if (s_.cloudwatch != nullptr) {
    auto o = s_.cloudwatch->call("DescribeAlarms", Document(Map{{"MaxRecords", 100}}));
    if (auto* d = std::get_if<Document>(&o)) {
      if (const Document* l = d->find("MetricAlarms")) alarms = *l;
    }
  }
  out.set("alarms", std::move(alarms));
  functions_json(out);
  if (s_.store != nullptr) {
    const metrics::StoreStats st = s_.store->stats();
    out.set("store", Document(Map{{"series", static_cast<int64_t>(st.series)},
                                  {"head_points", static_cast<int64_t>(st.head_points)},
                                  {"batches", static_cast<int64_t>(st.batches_written)},
                                  {"bytes", static_cast<int64_t>(st.bytes_written)}}));
  }
  return api::encode_json(out);
}

// Functions and event source mappings (ProcessService), with the counters their runners keep
// (metrics::Registry: the same series the sampler stores as AWS/Lambda metrics).
void Dashboard::functions_json(Document& out) const {
  Document functions = Document::make_list();
  Document mappings = Document::make_list();
  if (s_.process == nullptr) {
    out.set("functions", std::move(functions));
    out.set("mappings", std::move(mappings));
    return;
  }
  auto lambda_value = [&](std::string_view name, const char* dim, const std::string& v) {
    if (s_.registry == nullptr) return 0.0;
    return s_.registry->value(metrics::cloudwatch_metric_name("lambda", name), {{dim, v}})
        .value_or(0.0);
  };
  auto lambda_count = [&](std::string_view name, const char* dim, const std::string& v) {
    return static_cast<int64_t>(lambda_value(name, dim, v));
  };
  const std::vector<process::Mapping> all = s_.process->list_mappings("", "");
  for (const process::FunctionConfig& f : s_.process->list_functions()) {
    Document d = Document::make_map();
    d.set("name", f.name);
    d.set("arn", s_.process->function_arn(f.name));
    d.set("kind", process::kind_name(f.kind));
    d.set("runtime", process::runtime_of(f));
    d.set("state", "Active");  // declared functions are ready at once (GetFunction's State)
    d.set("timeout_s", static_cast<int64_t>(f.timeout_s));
    d.set("memory_mb", static_cast<int64_t>(f.memory_mb));
    d.set("invocations", lambda_count("Invocations", "FunctionName", f.name));
    d.set("errors", lambda_count("Errors", "FunctionName", f.name));
    d.set("iterator_age_ms", lambda_value("IteratorAge", "FunctionName", f.name));
    int64_t n = 0;
    for (const process::Mapping& m : all) n += m.function_name == f.name ? 1 : 0;
    d.set("mappings", n);
    functions.push_back(std::move(d));
  }
  for (const process::Mapping& m : all) {
    Document d = Document::make_map();
    d.set("uuid", m.uuid);
    d.set("function", m.function_name);
    const size_t slash = m.event_source_arn.rfind('/');
    d.set("source", m.event_source_arn.substr(slash == std::string::npos ? 0 : slash + 1));
    d.set("source_arn", m.event_source_arn);
    d.set("state", m.state);
    d.set("last_result", m.last_processing_result);
    d.set("batch_size", static_cast<int64_t>(m.batch_size));
    d.set("starting_position", process::to_string(m.starting_position));
    if (!m.on_failure_destination.empty()) {
      const size_t s = m.on_failure_destination.rfind('/');
      d.set("on_failure",
            m.on_failure_destination.substr(s == std::string::npos ? 0 : s + 1));
    }
    uint64_t records = 0, invocations = 0, failed = 0;
    int64_t running = 0, finished = 0, shards = 0;
    for (const process::ShardProgress& p : s_.process->progress(m.uuid)) {
      records += p.records;
      invocations += p.invocations;
      failed += p.failed_records;
      running += p.running ? 1 : 0;
      finished += p.finished ? 1 : 0;
      ++shards;
    }
    d.set("records", static_cast<int64_t>(records));
    d.set("invocations", static_cast<int64_t>(invocations));
    d.set("failed_records", static_cast<int64_t>(failed));
    d.set("errors", lambda_count("FailedInvokeEventCount", "EventSourceMappingUUID", m.uuid));
    d.set("dlq", lambda_count("OnFailureDestinationDeliveredEventCount", "EventSourceMappingUUID",
                              m.uuid));
    d.set("dropped", lambda_count("DroppedEventCount", "EventSourceMappingUUID", m.uuid));
    d.set("iterator_age_ms", lambda_value("IteratorAge", "EventSourceMappingUUID", m.uuid));
    d.set("shards", shards);
    d.set("shards_running", running);
    d.set("shards_finished", finished);
    mappings.push_back(std::move(d));
  }
  out.set("functions", std::move(functions));
  out.set("mappings", std::move(mappings));
}

std::string Dashboard::metric_json(std::string_view query) const {
  Document out = Document::make_map();
  if (s_.store == nullptr) {
    out.set("error", "the metric store is off (--metric-store=false)");
    return api::encode_json(out);
  }
  metrics::SeriesKey key;
  key.ns = param(query, "ns");
  key.name = param(query, "name");
  const std::string dims = param(query, "dims");
  for (size_t pos = 0; pos < dims.size();) {
    size_t comma = dims.find(',', pos);
    if (comma == std::string::npos) comma = dims.size();
    const std::string kv = dims.substr(pos, comma - pos);
    const size_t colon = kv.find(':');
    if (colon != std::string::npos) key.dims.push_back({kv.substr(0, colon), kv.substr(colon + 1)});
    pos = comma + 1;
  }
  std::sort(key.dims.begin(), key.dims.end());
  const std::string stat = param(query, "stat").empty() ? "Sum" : param(query, "stat");
  const int64_t period = std::clamp<int64_t>(int_param(query, "period", 60), 1, 86400);
  const int64_t now = now_ms() / 1000;
  int64_t end = int_param(query, "end", now + 1);
  int64_t start = int_param(query, "start", end - int_param(query, "range", 3600));
  start = start / period * period;
  if (end <= start || (end - start) / period > 20'000) {
    out.set("error", "bad range or period");
    return api::encode_json(out);
  }
  std::vector<double> pcts;
  if (stat.size() > 1 && stat[0] == 'p') {
    double p = 0;
    std::from_chars(stat.data() + 1, stat.data() + stat.size(), p);
    pcts.push_back(p);
  }
  // agg=1: every series whose dimensions include the given ones, merged per period.
  std::vector<uint32_t> ids;
  if (param(query, "agg") == "1") {
    for (const auto& s : s_.store->list(key.ns, key.name, key.dims)) ids.push_back(s.id);
  } else if (auto id = s_.store->find(key)) {
    ids.push_back(*id);
  }
  std::map<int64_t, metrics::Datapoint> merged;
  std::string unit;
  for (uint32_t id : ids) {
    if (auto info = s_.store->info(id)) unit = info->unit;
    auto dps = s_.store->query(id, start, end, period, pcts);
    if (!dps.ok()) continue;
    for (const auto& d : *dps) {
      auto [it, fresh] = merged.try_emplace(d.t, d);
      if (!fresh) {
        it->second.stat.merge(d.stat);
        // Percentiles of merged series: the largest (an upper bound).
        for (size_t i = 0; i < d.percentiles.size() && i < it->second.percentiles.size(); ++i) {
          it->second.percentiles[i].second =
              std::max(it->second.percentiles[i].second, d.percentiles[i].second);
        }
      }
    }
  }
  Document points = Document::make_list();
  for (const auto& [t, d] : merged) {
    double v = 0;
    if (stat == "Sum") {
      v = d.stat.sum;
    } else if (stat == "SampleCount") {
      v = d.stat.count;
    } else if (stat == "Average") {
      v = d.stat.count > 0 ? d.stat.sum / d.stat.count : 0;
    } else if (stat == "Minimum") {
      v = d.stat.min;
    } else if (stat == "Maximum") {
      v = d.stat.max;
    } else {
      v = d.percentiles.empty() ? 0 : d.percentiles[0].second;
    }
    points.push_back(Document(List{Document(t), Document(v)}));
  }
  out.set("series", static_cast<int64_t>(ids.size()));
  out.set("unit", unit.empty() ? "None" : unit);
  out.set("start", start).set("end", end).set("period", period).set("stat", stat);
  out.set("points", std::move(points));
  return api::encode_json(out);
}

std::string Dashboard::metrics_json() const {
  Document list = Document::make_list();
  if (s_.store != nullptr) {
    auto all = s_.store->list("", "", {});
    if (all.size() > 5000) all.resize(5000);
    for (const auto& s : all) {
      std::string dims;
      for (const auto& d : s.key.dims) {
        if (!dims.empty()) dims += ',';
        dims += d.name + ":" + d.value;
      }
      list.push_back(Document(Map{{"ns", s.key.ns},
                                  {"name", s.key.name},
                                  {"dims", dims},
                                  {"unit", s.unit},
                                  {"last", s.last_write_s}}));
    }
  }
  return api::encode_json(Document(Map{{"metrics", std::move(list)}}));
}

}  // namespace freshet::dashboard

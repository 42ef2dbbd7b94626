#include "freshet/pipeline/plan.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "freshet/api/cloudwatch.h"
#include "freshet/delivery/delivery.h"
#include "freshet/objstore/object_store.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"

namespace freshet::pipeline {

namespace {

std::string key_text(const table::KeySchema& k) {
  std::string s = k.hash.name + " " + std::string(table::type_name(k.hash.type));
  if (k.range) s += ", " + k.range->name + " " + std::string(table::type_name(k.range->type));
  return s;
}

bool same_key(const table::KeySchema& a, const table::KeySchema& b) {
  auto eq = [](const table::KeyAttr& x, const table::KeyAttr& y) {
    return x.name == y.name && x.type == y.type;
  };
  if (!eq(a.hash, b.hash) || a.range.has_value() != b.range.has_value()) return false;
  return !a.range || eq(*a.range, *b.range);
}

bool same_projection(const table::Projection& a, const table::Projection& b) {
  if (a.type != b.type) return false;
  std::vector<std::string> x = a.non_key_attributes, y = b.non_key_attributes;
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s.empty() ? "none" : s;
}

// A stream created with a state delay is CREATING for a while; later changes need ACTIVE.
Status wait_active(stream::Engine& e, const std::string& region, const std::string& name) {
  for (int i = 0; i < 600; ++i) {
    auto d = e.describe_stream(region, name);
    if (!d.ok()) return d.status();
    if (d->status == stream::StreamStatus::kActive) return Status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Error(ErrorCode::kUnavailable, "stream " + name + " did not become ACTIVE in 30 s");
}

Status set_retention(stream::Engine& e, const std::string& region, const std::string& name,
                     int32_t from, int32_t to) {
  if (to > from) return e.increase_retention(region, name, to);
  if (to < from) return e.decrease_retention(region, name, to);
  return Status();
}

Status set_monitoring(stream::Engine& e, const std::string& region, const std::string& name,
                      const std::vector<std::string>& have, const std::vector<std::string>& want) {
  std::vector<std::string> add, remove;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(add));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(),
                      std::back_inserter(remove));
  if (!add.empty()) FRESHET_RETURN_IF_ERROR(e.set_enhanced_monitoring(region, name, add, true));
  if (!remove.empty()) {
    FRESHET_RETURN_IF_ERROR(e.set_enhanced_monitoring(region, name, remove, false));
  }
  return Status();
}

void plan_stream(const StreamSpec& s, const Targets& t, Plan& plan) {
  const std::string region = t.region;
  auto have = t.engine->describe_stream(region, s.name);
  if (!have.ok()) {
    Change c;
    c.resource = "stream";
    c.name = s.name;
    c.details.push_back(s.on_demand ? "on demand" : std::to_string(s.shards) + " shards");
    c.details.push_back(std::to_string(s.retention_hours) + " h retention");
    if (!s.enhanced_monitoring.empty()) {
      c.details.push_back("enhanced monitoring " + join(s.enhanced_monitoring));
    }
    c.apply = [s, region](const Targets& t) -> Status {
      FRESHET_RETURN_IF_ERROR(t.engine->create_stream(
          region, s.name, s.on_demand ? std::nullopt : std::optional<uint32_t>(s.shards),
          s.on_demand ? stream::StreamMode::kOnDemand : stream::StreamMode::kProvisioned, s.tags,
          std::nullopt));
      FRESHET_RETURN_IF_ERROR(wait_active(*t.engine, region, s.name));
      FRESHET_RETURN_IF_ERROR(set_retention(*t.engine, region, s.name, 24, s.retention_hours));
      FRESHET_RETURN_IF_ERROR(wait_active(*t.engine, region, s.name));
      return set_monitoring(*t.engine, region, s.name, {}, s.enhanced_monitoring);
    };
    plan.changes.push_back(std::move(c));
    return;
  }
  const stream::StreamInfo& h = *have;
  Change c;
  c.kind = Change::Kind::kUpdate;
  c.resource = "stream";
  c.name = s.name;
  const bool on_demand = h.mode == stream::StreamMode::kOnDemand;
  const bool mode_change = on_demand != s.on_demand;
  if (mode_change) {
    c.details.push_back(std::string("mode ") + (on_demand ? "on_demand" : "provisioned") + " -> " +
                        (s.on_demand ? "on_demand" : "provisioned"));
  }
  const uint32_t shards = h.open_shard_count();
  const bool reshard = !s.on_demand && shards != s.shards;
  if (reshard) c.details.push_back("shards " + std::to_string(shards) + " -> " + std::to_string(s.shards));
  const int32_t retention = h.retention_hours;
  if (retention != s.retention_hours) {
    c.details.push_back("retention " + std::to_string(retention) + " h -> " +
                        std::to_string(s.retention_hours) + " h");
  }
  const std::vector<std::string> monitoring = h.shard_level_metrics;
  if (monitoring != s.enhanced_monitoring) {
    c.details.push_back("enhanced monitoring " + join(monitoring) + " -> " +
                        join(s.enhanced_monitoring));
  }
  std::map<std::string, std::string> tags;
  for (const auto& [k, v] : s.tags) {
    auto it = h.tags.find(k);
    if (it == h.tags.end() || it->second != v) tags[k] = v;
  }
  if (!tags.empty()) c.details.push_back("tags " + std::to_string(tags.size()) + " set");
  if (c.details.empty()) {
    ++plan.unchanged;
    return;
  }
  c.apply = [s, region, mode_change, reshard, retention, monitoring, tags](const Targets& t) -> Status {
    stream::Engine& e = *t.engine;
    if (mode_change) {
      FRESHET_RETURN_IF_ERROR(e.update_stream_mode(
          region, s.name, s.on_demand ? stream::StreamMode::kOnDemand : stream::StreamMode::kProvisioned));
      FRESHET_RETURN_IF_ERROR(wait_active(e, region, s.name));
    }
    if (reshard) {
      auto r = e.update_shard_count(region, s.name, s.shards);
      if (!r.ok()) return r.status();
      FRESHET_RETURN_IF_ERROR(wait_active(e, region, s.name));
    }
    FRESHET_RETURN_IF_ERROR(set_retention(e, region, s.name, retention, s.retention_hours));
    FRESHET_RETURN_IF_ERROR(wait_active(e, region, s.name));
    FRESHET_RETURN_IF_ERROR(set_monitoring(e, region, s.name, monitoring, s.enhanced_monitoring));
    if (!tags.empty()) FRESHET_RETURN_IF_ERROR(e.add_tags(region, s.name, tags));
    return Status();
  };
  plan.changes.push_back(std::move(c));
}

table::IndexDesc index_desc(const IndexSpec& ix, const TableSpec& t) {
  table::IndexDesc d;
  d.name = ix.name;
  d.global = true;
  d.key = ix.key;
  d.projection = ix.projection;
  d.throughput = t.pay_per_request ? table::Throughput{} : t.throughput;
  return d;
}

void add_definition(std::vector<table::KeyAttr>& defs, const table::KeyAttr& a) {
  for (const table::KeyAttr& d : defs) {
    if (d.name == a.name) return;
  }
  defs.push_back(a);
}

Status plan_table(const TableSpec& s, const Targets& t, Plan& plan) {
  auto have = t.tables->describe_table(s.name);
  if (!have.ok()) {
    if (have.code() != ErrorCode::kNotFound) return have.status();
    Change c;
    c.resource = "table";
    c.name = s.name;
    c.details.push_back("key " + key_text(s.key));
    for (const IndexSpec& ix : s.indexes) c.details.push_back("index " + ix.name + " (" + key_text(ix.key) + ")");
    if (!s.ttl_attribute.empty()) c.details.push_back("ttl " + s.ttl_attribute);
    c.apply = [s](const Targets& t) -> Status {
      table::TableDesc d;
      d.name = s.name;
      d.key = s.key;
      add_definition(d.attribute_definitions, s.key.hash);
      if (s.key.range) add_definition(d.attribute_definitions, *s.key.range);
      for (const IndexSpec& ix : s.indexes) {
        add_definition(d.attribute_definitions, ix.key.hash);
        if (ix.key.range) add_definition(d.attribute_definitions, *ix.key.range);
        d.indexes.push_back(index_desc(ix, s));
      }
      d.pay_per_request = s.pay_per_request;
      d.throughput = s.pay_per_request ? table::Throughput{} : s.throughput;
      d.ttl_attribute = s.ttl_attribute;
      d.tags = s.tags;
      auto r = t.tables->create_table(std::move(d));
      return r.ok() ? Status() : r.status();
    };
    plan.changes.push_back(std::move(c));
    return Status();
  }
  const table::TableDesc& h = *have;
  if (!same_key(h.key, s.key)) {
    return Error(ErrorCode::kInvalidArgument,
                 "table " + s.name + ": its key is " + key_text(h.key) + ", the file says " +
                     key_text(s.key) + "; a table's key cannot change: give the table a new name "
                     "(or delete it with aws dynamodb delete-table)");
  }
  Change c;
  c.kind = Change::Kind::kUpdate;
  c.resource = "table";
  c.name = s.name;
  std::vector<std::string> drop;
  std::vector<IndexSpec> add;
  for (const table::IndexDesc& x : h.indexes) {
    if (!x.global) continue;
    const auto it = std::find_if(s.indexes.begin(), s.indexes.end(),
                                 [&](const IndexSpec& i) { return i.name == x.name; });
    if (it == s.indexes.end()) {
      drop.push_back(x.name);
      c.details.push_back("remove index " + x.name);
    } else if (!same_key(x.key, it->key) || !same_projection(x.projection, it->projection)) {
      return Error(ErrorCode::kInvalidArgument,
                   "table " + s.name + " index " + x.name + ": its key or projection differs from "
                   "the file's; an index cannot change: give it a new name");
    }
  }
  for (const IndexSpec& ix : s.indexes) {
    if (h.find_index(ix.name) == nullptr) {
      add.push_back(ix);
      c.details.push_back("add index " + ix.name + " (" + key_text(ix.key) + ")");
    }
  }
  const bool ttl = h.ttl_attribute != s.ttl_attribute;
  if (ttl) {
    c.details.push_back("ttl " + (h.ttl_attribute.empty() ? std::string("off") : h.ttl_attribute) +
                        " -> " + (s.ttl_attribute.empty() ? std::string("off") : s.ttl_attribute));
  }
  const bool billing = h.pay_per_request != s.pay_per_request ||
                       (!s.pay_per_request && (h.throughput.read != s.throughput.read ||
                                               h.throughput.write != s.throughput.write));
  if (billing) c.details.push_back(s.pay_per_request ? "billing -> pay_per_request" : "billing -> provisioned");
  std::map<std::string, std::string> tags;
  for (const auto& [k, v] : s.tags) {
    auto it = h.tags.find(k);
    if (it == h.tags.end() || it->second != v) tags[k] = v;
  }
  if (!tags.empty()) c.details.push_back("tags " + std::to_string(tags.size()) + " set");
  if (c.details.empty()) {
    ++plan.unchanged;
    return Status();
  }
  c.apply = [s, drop, add, ttl, billing, tags](const Targets& t) -> Status {
    for (const std::string& name : drop) {
      auto r = t.tables->delete_global_index(s.name, name);
      if (!r.ok()) return r.status();
    }
    for (const IndexSpec& ix : add) {
      auto r = t.tables->add_global_index(s.name, index_desc(ix, s));
      if (!r.ok()) return r.status();
    }
    if (ttl || billing || !tags.empty()) {
      auto r = t.tables->alter_table(s.name, [&](table::TableDesc& d) -> Status {
        d.ttl_attribute = s.ttl_attribute;
        d.pay_per_request = s.pay_per_request;
        d.throughput = s.pay_per_request ? table::Throughput{} : s.throughput;
        for (const auto& [k, v] : tags) d.tags[k] = v;
        return Status();
      });
      if (!r.ok()) return r.status();
    }
    return Status();
  };
  plan.changes.push_back(std::move(c));
  return Status();
}

void plan_bucket(const BucketSpec& b, const Targets& t, Plan& plan) {
  if (t.buckets->head_bucket(b.name).ok()) {
    ++plan.unchanged;
    return;
  }
  Change c;
  c.resource = "bucket";
  c.name = b.name;
  c.apply = [name = b.name](const Targets& t) { return t.buckets->create_bucket(name); };
  plan.changes.push_back(std::move(c));
}

delivery::S3Destination destination(const DeliverySpec& d, const Targets& t) {
  delivery::S3Destination s;
  s.extended = true;
  s.role_arn = "arn:aws:iam::" + t.account_id + ":role/freshet-pipeline";
  s.bucket_arn = "arn:aws:s3:::" + d.bucket;
  s.prefix = d.prefix;
  s.error_output_prefix = d.error_prefix;
  s.size_mb = d.size_mb;
  s.interval_seconds = d.interval_seconds;
  s.compression = d.compression;
  if (d.append_newline) {
    s.processing_enabled = true;
    s.append_delimiter = true;
    s.processing_json = R"({"Enabled":true,"Processors":[{"Type":"AppendDelimiterToRecord"}]})";
  }
  return s;
}

std::vector<std::string> destination_diff(const delivery::S3Destination& a,
                                          const delivery::S3Destination& b) {
  std::vector<std::string> out;
  if (a.bucket_arn != b.bucket_arn) out.push_back("bucket " + a.bucket() + " -> " + b.bucket());
  if (a.prefix != b.prefix) out.push_back("prefix '" + a.prefix + "' -> '" + b.prefix + "'");
  if (a.error_output_prefix != b.error_output_prefix) {
    out.push_back("error prefix '" + a.error_output_prefix + "' -> '" + b.error_output_prefix + "'");
  }
  if (a.size_mb != b.size_mb || a.interval_seconds != b.interval_seconds) {
    out.push_back("buffering " + std::to_string(a.size_mb) + " MB/" +
                  std::to_string(a.interval_seconds) + " s -> " + std::to_string(b.size_mb) +
                  " MB/" + std::to_string(b.interval_seconds) + " s");
  }
  if (a.compression != b.compression) {
    out.push_back("compression " + std::string(delivery::compression_name(a.compression)) +
                  " -> " + std::string(delivery::compression_name(b.compression)));
  }
  if (a.append_delimiter != b.append_delimiter) {
    out.push_back(std::string("newline after each record ") + (b.append_delimiter ? "on" : "off"));
  }
  return out;
}

Status plan_delivery(const DeliverySpec& d, const Targets& t, Plan& plan) {
  const std::string source_arn =
      d.source_stream.empty()
          ? ""
          : "arn:aws:kinesis:" + t.region + ":" + t.account_id + ":stream/" + d.source_stream;
  auto have = t.delivery->describe(d.name);
  const delivery::S3Destination want = destination(d, t);
  if (!have.ok()) {
    if (have.code() != ErrorCode::kNotFound) return have.status();
    Change c;
    c.resource = "delivery stream";
    c.name = d.name;
    c.details.push_back(d.source_stream.empty() ? "direct put" : "from stream " + d.source_stream);
    c.details.push_back("to bucket " + d.bucket + (d.prefix.empty() ? "" : "/" + d.prefix));
    c.details.push_back(std::string(delivery::compression_name(d.compression)) + ", " +
                        std::to_string(d.size_mb) + " MB or " +
                        std::to_string(d.interval_seconds) + " s");
    c.apply = [d, want, source_arn](const Targets& t) -> Status {
      delivery::DeliveryStreamInfo info;
      info.name = d.name;
      if (!source_arn.empty()) {
        info.type = "KinesisStreamAsSource";
        info.source_stream_arn = source_arn;
        info.source_role_arn = want.role_arn;
      }
      info.destination = want;
      return t.delivery->create(std::move(info));
    };
    plan.changes.push_back(std::move(c));
    return Status();
  }
  if (have->source_stream_arn != source_arn) {
    return Error(ErrorCode::kInvalidArgument,
                 "delivery stream " + d.name + ": its source is " +
                     (have->source_stream_arn.empty() ? std::string("direct put")
                                                      : have->source_stream_arn) +
                     ", the file says " + (source_arn.empty() ? std::string("direct put") : source_arn) +
                     "; a delivery stream's source cannot change: give it a new name");
  }
  std::vector<std::string> diff = destination_diff(have->destination, want);
  if (diff.empty()) {
    ++plan.unchanged;
    return Status();
  }
  Change c;
  c.kind = Change::Kind::kUpdate;
  c.resource = "delivery stream";
  c.name = d.name;
  c.details = diff;
  const std::string version = std::to_string(have->version);
  c.apply = [name = d.name, version, want](const Targets& t) {
    return t.delivery->update_destination(name, version, want);
  };
  plan.changes.push_back(std::move(c));
  return Status();
}

std::string stream_arn(const Targets& t, const std::string& name) {
  return name.empty() ? "" : "arn:aws:kinesis:" + t.region + ":" + t.account_id + ":stream/" + name;
}

Status plan_mapping(const MappingSpec& m, const Targets& t, Plan& plan) {
  const std::string source = stream_arn(t, m.source);
  const std::string on_failure = stream_arn(t, m.on_failure);
  std::vector<process::Mapping> have = t.process->list_mappings(m.function, source);
  if (have.empty()) {
    Change c;
    c.resource = "mapping";
    c.name = m.name;
    c.details.push_back(m.function + " on stream " + m.source);
    c.details.push_back("batch " + std::to_string(m.batch_size));
    if (m.tumbling_window_s > 0) c.details.push_back(std::to_string(m.tumbling_window_s) + " s windows");
    if (!m.on_failure.empty()) c.details.push_back("failures to " + m.on_failure);
    c.apply = [m, source, on_failure](const Targets& t) -> Status {
      process::Mapping x;
      x.function_name = m.function;
      x.event_source_arn = source;
      x.batch_size = m.batch_size;
      x.maximum_batching_window_s = m.batching_window_s;
      x.starting_position = m.starting_position == "LATEST" ? process::StartingPosition::kLatest
                                                             : process::StartingPosition::kTrimHorizon;
      x.parallelization_factor = m.parallelization;
      x.maximum_retry_attempts = m.retries;
      x.maximum_record_age_s = m.max_record_age_s;
      x.bisect_batch_on_function_error = m.bisect;
      x.report_batch_item_failures = m.report_batch_item_failures;
      x.on_failure_destination = on_failure;
      x.tumbling_window_s = m.tumbling_window_s;
      x.filter_patterns = m.filters;
      x.enabled = m.enabled;
      auto r = t.process->create_mapping(std::move(x));
      return r.ok() ? Status() : r.status();
    };
    plan.changes.push_back(std::move(c));
    return Status();
  }
  const process::Mapping& h = have.front();
  const bool latest = h.starting_position == process::StartingPosition::kLatest;
  if (latest != (m.starting_position == "LATEST")) {
    return Error(ErrorCode::kInvalidArgument,
                 "mapping " + m.name + ": its starting position is " +
                     process::to_string(h.starting_position) + ", the file says " +
                     m.starting_position + "; it cannot change: delete the mapping (aws lambda "
                     "delete-event-source-mapping --uuid " + h.uuid + ") and run up again");
  }
  process::MappingUpdate u;
  Change c;
  c.kind = Change::Kind::kUpdate;
  c.resource = "mapping";
  c.name = m.name;
  auto num = [&](const char* what, int32_t from, int32_t to, std::optional<int32_t>& field) {
    if (from == to) return;
    field = to;
    c.details.push_back(std::string(what) + " " + std::to_string(from) + " -> " + std::to_string(to));
  };
  auto flag = [&](const char* what, bool from, bool to, std::optional<bool>& field) {
    if (from == to) return;
    field = to;
    c.details.push_back(std::string(what) + (to ? " on" : " off"));
  };
  num("batch size", h.batch_size, m.batch_size, u.batch_size);
  num("batching window", h.maximum_batching_window_s, m.batching_window_s, u.maximum_batching_window_s);
  num("parallelization", h.parallelization_factor, m.parallelization, u.parallelization_factor);
  num("retries", h.maximum_retry_attempts, m.retries, u.maximum_retry_attempts);
  num("max record age", h.maximum_record_age_s, m.max_record_age_s, u.maximum_record_age_s);
  num("tumbling window", h.tumbling_window_s, m.tumbling_window_s, u.tumbling_window_s);
  flag("bisect", h.bisect_batch_on_function_error, m.bisect, u.bisect_batch_on_function_error);
  flag("report batch item failures", h.report_batch_item_failures, m.report_batch_item_failures,
       u.report_batch_item_failures);
  flag("enabled", h.enabled, m.enabled, u.enabled);
  if (h.on_failure_destination != on_failure) {
    u.on_failure_destination = on_failure;
    c.details.push_back("failures to " + (m.on_failure.empty() ? std::string("none") : m.on_failure));
  }
  if (h.filter_patterns != m.filters) {
    u.filter_patterns = m.filters;
    c.details.push_back("filters " + std::to_string(h.filter_patterns.size()) + " -> " +
                        std::to_string(m.filters.size()));
  }
  if (c.details.empty()) {
    ++plan.unchanged;
    return Status();
  }
  c.apply = [uuid = h.uuid, u](const Targets& t) -> Status {
    // A mapping still Creating or Updating refuses changes for a moment (as Lambda's does).
    for (int i = 0;; ++i) {
      auto r = t.process->update_mapping(uuid, u);
      if (r.ok()) return Status();
      if (r.code() != ErrorCode::kResourceInUse || i >= 200) return r.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  plan.changes.push_back(std::move(c));
  return Status();
}

// PutMetricAlarm's input for an alarm of the file.
api::Document alarm_input(const AlarmSpec& a) {
  api::Document in = api::Document::make_map();
  in.set("AlarmName", a.name);
  if (!a.description.empty()) in.set("AlarmDescription", a.description);
  in.set("Namespace", a.ns);
  in.set("MetricName", a.metric);
  api::Document dims = api::Document::make_list();
  for (const auto& [k, v] : a.dimensions) {
    api::Document d = api::Document::make_map();
    d.set("Name", k);
    d.set("Value", v);
    dims.push_back(std::move(d));
  }
  in.set("Dimensions", std::move(dims));
  in.set("Statistic", a.statistic);
  in.set("Period", int64_t{a.period_s});
  in.set("EvaluationPeriods", int64_t{a.evaluation_periods});
  if (a.datapoints_to_alarm > 0) in.set("DatapointsToAlarm", int64_t{a.datapoints_to_alarm});
  in.set("Threshold", a.threshold);
  in.set("ComparisonOperator", a.comparison);
  in.set("TreatMissingData", a.treat_missing_data);
  in.set("ActionsEnabled", a.actions_enabled);
  return in;
}

std::string doc_string(const api::Document& d, std::string_view key) {
  const api::Document* v = d.find(key);
  return v != nullptr && v->is_string() ? v->as_string() : std::string();
}
double doc_number(const api::Document& d, std::string_view key) {
  const api::Document* v = d.find(key);
  if (v == nullptr) return 0;
  if (v->is_int()) return static_cast<double>(v->as_int());
  if (v->is_double()) return v->as_double();
  return 0;
}
std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// What differs between the alarm CloudWatch has (a DescribeAlarms MetricAlarm) and the file's.
std::vector<std::string> alarm_diff(const api::Document& have, const AlarmSpec& a) {
  std::vector<std::string> out;
  auto text = [&](const char* what, std::string_view key, const std::string& want) {
    const std::string got = doc_string(have, key);
    if (got != want) out.push_back(std::string(what) + " " + got + " -> " + want);
  };
  auto num = [&](const char* what, std::string_view key, double want) {
    const double got = doc_number(have, key);
    if (got != want) out.push_back(std::string(what) + " " + number_text(got) + " -> " + number_text(want));
  };
  text("namespace", "Namespace", a.ns);
  text("metric", "MetricName", a.metric);
  std::map<std::string, std::string> dims;
  if (const api::Document* d = have.find("Dimensions"); d != nullptr && d->is_list()) {
    for (const api::Document& e : d->as_list()) dims[doc_string(e, "Name")] = doc_string(e, "Value");
  }
  if (dims != a.dimensions) out.push_back("dimensions");
  text("statistic", "Statistic", a.statistic);
  num("period", "Period", a.period_s);
  num("evaluation periods", "EvaluationPeriods", a.evaluation_periods);
  num("datapoints to alarm", "DatapointsToAlarm",
      a.datapoints_to_alarm > 0 ? a.datapoints_to_alarm : a.evaluation_periods);
  num("threshold", "Threshold", a.threshold);
  text("comparison", "ComparisonOperator", a.comparison);
  text("missing data", "TreatMissingData", a.treat_missing_data);
  text("description", "AlarmDescription", a.description);
  const api::Document* enabled = have.find("ActionsEnabled");
  if (enabled != nullptr && enabled->is_bool() && enabled->as_bool() != a.actions_enabled) {
    out.push_back(std::string("actions ") + (a.actions_enabled ? "enabled" : "disabled"));
  }
  return out;
}

Status call_ok(api::CloudWatchApi& cw, std::string_view op, const api::Document& in,
               api::Document* out) {
  api::CloudWatchApi::Outcome r = cw.call(op, in);
  if (const auto* e = std::get_if<api::CloudWatchError>(&r)) {
    return Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + e->code + ": " + e->message);
  }
  if (out != nullptr) *out = std::move(std::get<api::Document>(r));
  return Status();
}

Status plan_alarm(const AlarmSpec& a, const Targets& t, Plan& plan) {
  api::Document q = api::Document::make_map();
  api::Document names = api::Document::make_list();
  names.push_back(a.name);
  q.set("AlarmNames", std::move(names));
  api::Document found;
  FRESHET_RETURN_IF_ERROR(call_ok(*t.cloudwatch, "DescribeAlarms", q, &found));
  const api::Document* have = nullptr;
  if (const api::Document* l = found.find("MetricAlarms"); l != nullptr && l->is_list()) {
    for (const api::Document& e : l->as_list()) {
      if (doc_string(e, "AlarmName") == a.name) have = &e;
    }
  }
  Change c;
  c.resource = "alarm";
  c.name = a.name;
  if (have == nullptr) {
    std::string dims;
    for (const auto& [k, v] : a.dimensions) dims += (dims.empty() ? "" : ",") + k + "=" + v;
    c.details.push_back(a.ns + " " + a.metric + (dims.empty() ? "" : " {" + dims + "}"));
    c.details.push_back(a.statistic + " over " + std::to_string(a.period_s) + " s " +
                        a.comparison + " " + number_text(a.threshold));
  } else {
    c.kind = Change::Kind::kUpdate;
    c.details = alarm_diff(*have, a);
    if (c.details.empty()) {
      ++plan.unchanged;
      return Status();
    }
  }
  c.apply = [in = alarm_input(a)](const Targets& t) {
    return call_ok(*t.cloudwatch, "PutMetricAlarm", in, nullptr);
  };
  plan.changes.push_back(std::move(c));
  return Status();
}

}  // namespace

std::string Plan::render() const {
  std::string out;
  int adds = 0, updates = 0;
  for (const Change& c : changes) {
    const bool add = c.kind == Change::Kind::kCreate;
    (add ? adds : updates)++;
    out += add ? "  + " : "  ~ ";
    out += c.resource + " " + c.name;
    if (!c.details.empty()) {
      out += add ? " (" : ": ";
      for (size_t i = 0; i < c.details.size(); ++i) out += (i == 0 ? "" : ", ") + c.details[i];
      if (add) out += ")";
    }
    out += "\n";
  }
  if (changes.empty()) {
    out += "No changes: " + std::to_string(unchanged) + " resources already as the file says.\n";
  } else {
    out += "Plan: " + std::to_string(adds) + " to add, " + std::to_string(updates) +
           " to change (" + std::to_string(unchanged) + " unchanged).\n";
  }
  return out;
}

Result<Plan> plan(const PipelineSpec& spec, const Targets& targets) {
  Plan p;
  for (const StreamSpec& s : spec.streams) plan_stream(s, targets, p);
  for (const TableSpec& t : spec.tables) FRESHET_RETURN_IF_ERROR(plan_table(t, targets, p));
  for (const BucketSpec& b : spec.buckets) plan_bucket(b, targets, p);
  for (const DeliverySpec& d : spec.deliveries) FRESHET_RETURN_IF_ERROR(plan_delivery(d, targets, p));
  if (!spec.mappings.empty() && targets.process == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "mappings need the processing service");
  }
  for (const MappingSpec& m : spec.mappings) FRESHET_RETURN_IF_ERROR(plan_mapping(m, targets, p));
  if (!spec.alarms.empty() && targets.cloudwatch == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 "alarms need the node's CloudWatch (its metric store is off)");
  }
  for (const AlarmSpec& a : spec.alarms) FRESHET_RETURN_IF_ERROR(plan_alarm(a, targets, p));
  return p;
}

Status apply(const Plan& plan, const Targets& targets) {
  for (const Change& c : plan.changes) {
    if (Status s = c.apply(targets); !s.ok()) {
      return Error(s.code(), c.resource + " " + c.name + ": " + s.error().message());
    }
  }
  return Status();
}

}  // namespace freshet::pipeline

// Lambda's Kinesis event and response JSON, the default Invoke of built-ins, and the factory.
#include "freshet/process/function.h"

#include <simdjson.h>

#include <deque>
#include <map>

#include "builtins.h"
#include "freshet/common/base64.h"
#include "json_util.h"

namespace freshet::process {

const char* kind_name(FunctionConfig::Kind k) {
  switch (k) {
    case FunctionConfig::Kind::kExtract: return "extract";
    case FunctionConfig::Kind::kFilter: return "filter";
    case FunctionConfig::Kind::kWindowCount: return "window_count";
    case FunctionConfig::Kind::kExec: return "exec";
    case FunctionConfig::Kind::kCompiled: return "compiled";
  }
  return "?";
}

std::string runtime_of(const FunctionConfig& c) {
  if (c.kind == FunctionConfig::Kind::kExec) {
    if (c.exec.runtime == "python") return "python3.11";
    if (c.exec.runtime == "node") return "nodejs20.x";
    if (c.exec.command.empty()) return "provided.al2023";
    const std::string& prog = c.exec.command[0];
    const std::string base = prog.substr(prog.rfind('/') + 1);
    if (base.starts_with("python")) return "python3.11";
    if (base == "node" || base == "nodejs") return "nodejs20.x";
  }
  return "provided.al2023";
}

std::string encode_kinesis_event(const Batch& batch, std::string_view function_arn) {
  std::string out;
  size_t bytes = 256;
  for (const Record& r : batch.records) bytes += r.data.size() * 4 / 3 + 512;
  out.reserve(bytes);
  out += "{\"Records\":[";
  bool first = true;
  for (const Record& r : batch.records) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"kinesis\":{\"kinesisSchemaVersion\":\"1.0\",\"partitionKey\":";
    append_json_string(out, r.partition_key);
    out += ",\"sequenceNumber\":\"";
    out += r.sequence_number;
    out += "\",\"data\":\"";
    base64_encode_append(r.data, out);
    out += "\",\"approximateArrivalTimestamp\":";
    char ts[32];
    std::snprintf(ts, sizeof ts, "%lld.%03lld", static_cast<long long>(r.arrival_ms / 1000),
                  static_cast<long long>(r.arrival_ms % 1000));
    out += ts;
    out += "},\"eventSource\":\"aws:kinesis\",\"eventVersion\":\"1.0\",\"eventID\":\"";
    out += batch.shard_id;
    out.push_back(':');
    out += r.sequence_number;
    out += "\",\"eventName\":\"aws:kinesis:record\",\"invokeIdentityArn\":";
    append_json_string(out, function_arn);
    out += ",\"awsRegion\":";
    append_json_string(out, batch.region);
    out += ",\"eventSourceARN\":";
    append_json_string(out, batch.event_source_arn);
    out.push_back('}');
  }
  out.push_back(']');
  if (batch.window) {
    out += ",\"window\":{\"start\":\"" + iso8601_ms(batch.window->start_ms) + "\",\"end\":\"" +
           iso8601_ms(batch.window->end_ms) + "\"},\"state\":";
    out += batch.window->state.empty() ? "{}" : batch.window->state;
    out += ",\"shardId\":";
    append_json_string(out, batch.shard_id);
    out += ",\"eventSourceARN\":";
    append_json_string(out, batch.event_source_arn);
    out += ",\"isFinalInvokeForWindow\":";
    out += batch.window->is_final ? "true" : "false";
    out += ",\"isWindowTerminatedEarly\":false";
  }
  out.push_back('}');
  return out;
}

namespace {

Result<int64_t> parse_iso_ms(std::string_view s) {
  int y, mo, d, h, mi, sec, ms = 0;
  const std::string text(s);
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) {
    return Error(ErrorCode::kInvalidArgument, "bad timestamp " + text);
  }
  const size_t dot = text.find('.');
  if (dot != std::string::npos) std::sscanf(text.c_str() + dot + 1, "%3d", &ms);
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace

Result<Batch> decode_kinesis_event(std::string_view json) {
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "not a Kinesis event: " + why);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) {
    return bad(simdjson::error_message(err));
  }
  simdjson::dom::array records;
  if (root["Records"].get_array().get(records) != simdjson::SUCCESS) {
    return bad("no Records list");
  }
  auto store = std::make_shared<std::deque<std::string>>();
  Batch batch;
  for (auto rec : records) {
    simdjson::dom::object k;
    if (rec["kinesis"].get_object().get(k) != simdjson::SUCCESS) return bad("a record without kinesis");
    std::string_view pk, seq, data, event_id, arn, region;
    if (k["data"].get_string().get(data) != simdjson::SUCCESS) return bad("a record without data");
    if (k["partitionKey"].get_string().get(pk)) {
    }
    if (k["sequenceNumber"].get_string().get(seq)) {
    }
    double ts = 0;
    if (k["approximateArrivalTimestamp"].get_double().get(ts)) {
    }
    if (rec["eventID"].get_string().get(event_id)) {
    }
    if (rec["eventSourceARN"].get_string().get(arn) == simdjson::SUCCESS && batch.event_source_arn.empty()) {
      batch.event_source_arn = std::string(arn);
    }
    if (rec["awsRegion"].get_string().get(region) == simdjson::SUCCESS && batch.region.empty()) {
      batch.region = std::string(region);
    }
    if (batch.shard_id.empty() && !event_id.empty()) {
      batch.shard_id = std::string(event_id.substr(0, event_id.find(':')));
    }
    auto decoded = base64_decode(data);
    if (!decoded.ok()) return bad("data is not base64: " + decoded.error().message());
    store->push_back(std::move(decoded).value());
    const std::string& d = store->back();
    store->emplace_back(pk);
    const std::string& p = store->back();
    store->emplace_back(seq);
    const std::string& s = store->back();
    batch.records.push_back({s, p, d, static_cast<int64_t>(ts * 1000.0)});
  }
  simdjson::dom::object window;
  if (root["window"].get_object().get(window) == simdjson::SUCCESS) {
    Window w;
    std::string_view start, end;
    if (window["start"].get_string().get(start) == simdjson::SUCCESS) {
      auto v = parse_iso_ms(start);
      if (v.ok()) w.start_ms = *v;
    }
    if (window["end"].get_string().get(end) == simdjson::SUCCESS) {
      auto v = parse_iso_ms(end);
      if (v.ok()) w.end_ms = *v;
    }
    simdjson::dom::element state;
    if (root["state"].get(state) == simdjson::SUCCESS) w.state = simdjson::minify(state);
    bool fin = false;
    if (root["isFinalInvokeForWindow"].get_bool().get(fin) == simdjson::SUCCESS) w.is_final = fin;
    batch.window = std::move(w);
  }
  batch.storage.push_back(store);
  return batch;
}

Status decode_kinesis_response(std::string_view json, const Batch& batch, InvokeResult& out) {
  if (json.empty()) return {};
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) return {};
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return {};  // Lambda ignores others
  simdjson::dom::array failures;
  if (obj["batchItemFailures"].get_array().get(failures) == simdjson::SUCCESS) {
    std::map<std::string_view, uint32_t> index;
    for (uint32_t i = 0; i < batch.records.size(); ++i) {
      index.emplace(batch.records[i].sequence_number, i);
    }
    for (auto f : failures) {
      std::string_view id;
      if (f["itemIdentifier"].get_string().get(id) != simdjson::SUCCESS || id.empty()) {
        // Lambda: a null, empty or unknown identifier fails the whole batch.
        out.function_error = "Unhandled";
        out.error_message = "batchItemFailures holds an item without an itemIdentifier";
        return {};
      }
      auto it = index.find(id);
      if (it == index.end()) {
        out.function_error = "Unhandled";
        out.error_message = "batchItemFailures names a sequence number not in the batch: " +
                            std::string(id);
        return {};
      }
      // Freshet's extensions: "reason" (kept with the record at the failure destination) and
      // "permanent": true (the record itself is bad: no retry, straight to the destination).
      std::string_view reason = "reported in batchItemFailures";
      bool permanent = false;
      if (f["reason"].get_string().get(reason)) {
      }
      if (f["permanent"].get_bool().get(permanent)) {
      }
      out.failures.push_back({it->second, std::string(reason), permanent});
    }
    std::sort(out.failures.begin(), out.failures.end(),
              [](const RecordFailure& a, const RecordFailure& b) { return a.record < b.record; });
  }
  simdjson::dom::element state;
  if (obj["state"].get(state) == simdjson::SUCCESS &&
      state.type() == simdjson::dom::element_type::OBJECT) {
    out.window_state = simdjson::minify(state);
  }
  // Freshet's extension: items for the function's sink.
  simdjson::dom::array items;
  if (obj["items"].get_array().get(items) == simdjson::SUCCESS) {
    for (auto it : items) {
      if (it.type() != simdjson::dom::element_type::OBJECT) {
        return Error(ErrorCode::kInvalidArgument, "items holds a value that is not an object");
      }
      auto v = json_to_value(it);
      if (!v.ok()) return Error(ErrorCode::kInvalidArgument, "items: " + v.error().message());
      Output o;
      o.item = std::move(v->as_map());
      out.outputs.push_back(std::move(o));
    }
  }
  return {};
}

InvokeResult Function::invoke_payload(std::string_view payload) {
  auto batch = decode_kinesis_event(payload);
  if (!batch.ok()) {
    InvokeResult r;
    r.function_error = "Unhandled";
    r.error_message = batch.error().message();
    r.payload = "{\"errorMessage\":";
    append_json_string(r.payload, batch.error().message());
    r.payload += ",\"errorType\":\"InvalidEvent\"}";
    return r;
  }
  InvokeResult r = invoke(*batch);
  if (!r.function_error.empty()) {
    if (r.payload.empty()) {
      r.payload = "{\"errorMessage\":";
      append_json_string(r.payload, r.error_message);
      r.payload += ",\"errorType\":";
      append_json_string(r.payload, r.function_error);
      r.payload += "}";
    }
    return r;
  }
  std::string p = "{\"batchItemFailures\":[";
  for (size_t i = 0; i < r.failures.size(); ++i) {
    if (i > 0) p.push_back(',');
    p += "{\"itemIdentifier\":";
    append_json_string(p, batch->records[r.failures[i].record].sequence_number);
    p += ",\"reason\":";
    append_json_string(p, r.failures[i].reason);
    p += "}";
  }
  p += "],\"outputs\":[";
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    if (i > 0) p.push_back(',');
    if (!r.outputs[i].item.empty()) {
      append_item_json(p, r.outputs[i].item);
    } else {
      p += "{\"data\":";
      append_json_string(p, r.outputs[i].data);
      p += "}";
    }
  }
  p += "]";
  if (r.window_state) p += ",\"state\":" + *r.window_state;
  p += "}";
  r.payload = std::move(p);
  for (const RecordFailure& f : r.failures) {
    r.log += "record " + std::string(batch->records[f.record].sequence_number) + " failed: " +
             f.reason + "\n";
  }
  return r;
}

Result<std::unique_ptr<Function>> make_function(const FunctionConfig& config) {
  switch (config.kind) {
    case FunctionConfig::Kind::kExtract: return make_extract(config);
    case FunctionConfig::Kind::kFilter: return make_filter(config);
    case FunctionConfig::Kind::kWindowCount: return make_window_count(config);
    case FunctionConfig::Kind::kExec: return make_exec(config);
    case FunctionConfig::Kind::kCompiled: break;
  }
  return Error(ErrorCode::kInvalidArgument,
               "function " + config.name + ": compiled functions are made by their factory");
}

}  // namespace freshet::process

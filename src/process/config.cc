// The YAML declaration of functions (config.h), read with yaml-cpp.
#include "freshet/process/config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "json_util.h"

namespace freshet::process {
namespace {

Error bad(const std::string& fn, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument,
               fn.empty() ? why : "function " + fn + ": " + why);
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// A YAML scalar as JSON: plain scalars that read as numbers, booleans or null stay so.
void scalar_json(const YAML::Node& n, std::string& out) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "?") {
    if (s == "true" || s == "false" || s == "null") {
      out += s;
      return;
    }
    if (s == "~") {
      out += "null";
      return;
    }
    char* end = nullptr;
    if (!s.empty()) {
      std::strtod(s.c_str(), &end);
      if (end != nullptr && *end == '\0' && s.find_first_not_of("+-0123456789.eE") == std::string::npos) {
        out += s;
        return;
      }
    }
  }
  append_json_string(out, s);
}

void yaml_json(const YAML::Node& n, std::string& out) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: scalar_json(n, out); break;
    case YAML::NodeType::Sequence: {
      out.push_back('[');
      bool first = true;
      for (const auto& x : n) {
        if (!first) out.push_back(',');
        first = false;
        yaml_json(x, out);
      }
      out.push_back(']');
      break;
    }
    case YAML::NodeType::Map: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : n) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, kv.first.as<std::string>());
        out.push_back(':');
        yaml_json(kv.second, out);
      }
      out.push_back('}');
      break;
    }
    default: out += "null"; break;
  }
}

Result<std::string> str(const YAML::Node& n, const std::string& fn, const std::string& key) {
  if (!n.IsScalar()) return bad(fn, key + " must be a string");
  return n.Scalar();
}

Result<int32_t> int_in(const YAML::Node& n, const std::string& fn, const std::string& key,
                       int32_t lo, int32_t hi) {
  int64_t v = 0;
  try {
    v = n.as<int64_t>();
  } catch (const YAML::Exception&) {
    return bad(fn, key + " must be an integer");
  }
  if (v < lo || v > hi) {
    return bad(fn, key + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return static_cast<int32_t>(v);
}

Result<table::Type> key_type(const YAML::Node& n, const std::string& fn, const std::string& key) {
  if (!n) return table::Type::kS;
  auto s = str(n, fn, key);
  if (!s.ok()) return s.error();
  if (*s == "S") return table::Type::kS;
  if (*s == "N") return table::Type::kN;
  if (*s == "B") return table::Type::kB;
  return bad(fn, key + " must be S, N or B");
}

Status parse_sink(const YAML::Node& n, const std::string& fn, SinkConfig& sink) {
  if (!n) return {};
  if (!n.IsMap()) return bad(fn, "sink must be a map: {table: NAME} | {stream: NAME} | {delivery: NAME}");
  int kinds = 0;
  for (const char* k : {"table", "stream", "delivery"}) {
    if (n[k]) {
      ++kinds;
      auto name = str(n[k], fn, std::string("sink.") + k);
      if (!name.ok()) return name.error();
      sink.name = *name;
      sink.kind = std::string(k) == "table"    ? SinkConfig::Kind::kTable
                  : std::string(k) == "stream" ? SinkConfig::Kind::kStream
                                               : SinkConfig::Kind::kDelivery;
    }
  }
  if (kinds != 1) return bad(fn, "sink needs exactly one of table, stream, delivery");
  if (n["region"]) {
    auto r = str(n["region"], fn, "sink.region");
    if (!r.ok()) return r.error();
    sink.region = *r;
  }
  if (const YAML::Node key = n["key"]) {
    if (sink.kind != SinkConfig::Kind::kTable) return bad(fn, "sink.key is for tables");
    if (!key.IsMap() || !key["hash"]) return bad(fn, "sink.key needs hash (and optionally range)");
    table::KeySchema ks;
    auto h = str(key["hash"], fn, "sink.key.hash");
    if (!h.ok()) return h.error();
    ks.hash.name = *h;
    auto ht = key_type(key["hash_type"], fn, "sink.key.hash_type");
    if (!ht.ok()) return ht.error();
    ks.hash.type = *ht;
    if (key["range"]) {
      auto r = str(key["range"], fn, "sink.key.range");
      if (!r.ok()) return r.error();
      auto rt = key_type(key["range_type"], fn, "sink.key.range_type");
      if (!rt.ok()) return rt.error();
      ks.range = table::KeyAttr{*r, *rt};
    }
    sink.create_key = ks;
  }
  return {};
}

Result<ExtractField::Type> field_type(const YAML::Node& n, const std::string& fn) {
  if (!n) return ExtractField::Type::kS;
  auto s = str(n, fn, "fields[].type");
  if (!s.ok()) return s.error();
  if (*s == "S") return ExtractField::Type::kS;
  if (*s == "N") return ExtractField::Type::kN;
  if (*s == "BOOL") return ExtractField::Type::kBool;
  if (*s == "SS") return ExtractField::Type::kSS;
  if (*s == "NS") return ExtractField::Type::kNS;
  if (*s == "JSON") return ExtractField::Type::kJson;
  return bad(fn, "fields[].type must be S, N, BOOL, SS, NS or JSON, not " + *s);
}

Result<FunctionConfig> parse_one(const YAML::Node& n, const std::string& base_dir) {
  if (!n.IsMap()) return bad("", "each function must be a map");
  if (!n["name"]) return bad("", "a function needs a name");
  auto name = str(n["name"], "", "name");
  if (!name.ok()) return name.error();
  const std::string fn = *name;
  if (!valid_name(fn)) return bad(fn, "name must be 1 to 64 of A-Z a-z 0-9 - _");
  FunctionConfig c;
  c.name = fn;
  const YAML::Node kind = n["kind"] ? n["kind"] : n["type"];
  if (!kind) return bad(fn, "kind is missing (extract, filter, window_count, exec)");
  auto k = str(kind, fn, "kind");
  if (!k.ok()) return k.error();
  if (*k == "extract") {
    c.kind = FunctionConfig::Kind::kExtract;
  } else if (*k == "filter") {
    c.kind = FunctionConfig::Kind::kFilter;
  } else if (*k == "window_count") {
    c.kind = FunctionConfig::Kind::kWindowCount;
  } else if (*k == "exec") {
    c.kind = FunctionConfig::Kind::kExec;
  } else if (*k == "compiled") {
    c.kind = FunctionConfig::Kind::kCompiled;
    if (!n["compiled"]) return bad(fn, "kind compiled needs compiled: FACTORY");
    auto f = str(n["compiled"], fn, "compiled");
    if (!f.ok()) return f.error();
    c.compiled = *f;
  } else {
    return bad(fn, "unknown kind " + *k + " (extract, filter, window_count, exec, compiled)");
  }
  static const std::set<std::string> known = {
      "name", "kind", "type", "description", "memory", "timeout", "sink", "fields", "patterns",
      "counts", "max_keys", "runtime", "handler", "dir", "command", "environment", "compiled"};
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (!known.contains(key)) return bad(fn, "unknown key " + key);
  }
  if (n["description"]) {
    auto d = str(n["description"], fn, "description");
    if (!d.ok()) return d.error();
    c.description = *d;
  }
  if (n["memory"]) {
    auto m = int_in(n["memory"], fn, "memory", 128, 10240);
    if (!m.ok()) return m.error();
    c.memory_mb = *m;
  }
  if (n["timeout"]) {
    auto t = int_in(n["timeout"], fn, "timeout", 1, 900);
    if (!t.ok()) return t.error();
    c.timeout_s = *t;
  }
  FRESHET_RETURN_IF_ERROR(parse_sink(n["sink"], fn, c.sink));
  if (const YAML::Node fields = n["fields"]) {
    if (!fields.IsSequence()) return bad(fn, "fields must be a list");
    for (const auto& f : fields) {
      if (!f.IsMap() || !f["name"] || !f["path"]) return bad(fn, "each field needs name and path");
      ExtractField ef;
      auto nm = str(f["name"], fn, "fields[].name");
      if (!nm.ok()) return nm.error();
      ef.name = *nm;
      auto p = str(f["path"], fn, "fields[].path");
      if (!p.ok()) return p.error();
      ef.path = *p;
      auto t = field_type(f["type"], fn);
      if (!t.ok()) return t.error();
      ef.type = *t;
      if (f["required"]) {
        try {
          ef.required = f["required"].as<bool>();
        } catch (const YAML::Exception&) {
          return bad(fn, "fields[].required must be true or false");
        }
      }
      if (f["default"]) {
        auto d = str(f["default"], fn, "fields[].default");
        if (!d.ok()) return d.error();
        ef.default_value = *d;
      }
      c.extract.push_back(std::move(ef));
    }
  }
  if (const YAML::Node patterns = n["patterns"]) {
    if (!patterns.IsSequence()) return bad(fn, "patterns must be a list");
    for (const auto& p : patterns) {
      std::string json;
      if (p.IsScalar()) {
        json = p.Scalar();
      } else {
        yaml_json(p, json);
      }
      c.filter_patterns.push_back(std::move(json));
    }
  }
  if (const YAML::Node counts = n["counts"]) {
    if (!counts.IsSequence()) return bad(fn, "counts must be a list");
    for (const auto& x : counts) {
      if (!x.IsMap() || !x["name"] || !x["path"]) return bad(fn, "each count needs name and path");
      auto nm = str(x["name"], fn, "counts[].name");
      if (!nm.ok()) return nm.error();
      auto p = str(x["path"], fn, "counts[].path");
      if (!p.ok()) return p.error();
      c.counts.push_back({*nm, *p});
    }
  }
  if (n["max_keys"]) {
    auto m = int_in(n["max_keys"], fn, "max_keys", 1, 1'000'000);
    if (!m.ok()) return m.error();
    c.max_window_keys = static_cast<size_t>(*m);
  }
  if (n["runtime"]) {
    auto r = str(n["runtime"], fn, "runtime");
    if (!r.ok()) return r.error();
    c.exec.runtime = *r;
  }
  if (n["handler"]) {
    auto h = str(n["handler"], fn, "handler");
    if (!h.ok()) return h.error();
    c.exec.handler = *h;
  }
  if (n["command"]) {
    const YAML::Node cmd = n["command"];
    if (cmd.IsScalar()) {
      c.exec.command.push_back(cmd.Scalar());
    } else if (cmd.IsSequence()) {
      for (const auto& a : cmd) {
        auto s = str(a, fn, "command[]");
        if (!s.ok()) return s.error();
        c.exec.command.push_back(*s);
      }
    } else {
      return bad(fn, "command must be a string or a list");
    }
  }
  std::string dir = base_dir;
  if (n["dir"]) {
    auto d = str(n["dir"], fn, "dir");
    if (!d.ok()) return d.error();
    dir = (!d->empty() && (*d)[0] == '/') || base_dir.empty() ? *d : base_dir + "/" + *d;
  }
  if (c.kind == FunctionConfig::Kind::kExec) {
    c.exec.working_dir = dir;
    // A relative program path is relative to the working directory.
    if (!c.exec.command.empty() && c.exec.command[0].starts_with("./") && !dir.empty()) {
      c.exec.command[0] = dir + "/" + c.exec.command[0].substr(2);
    }
  }
  if (const YAML::Node env = n["environment"]) {
    if (!env.IsMap()) return bad(fn, "environment must be a map");
    for (const auto& kv : env) {
      c.exec.environment.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
    }
  }
  if (c.kind != FunctionConfig::Kind::kCompiled) {
    auto made = make_function(c);  // checks paths, patterns, handler, limits
    if (!made.ok()) return made.error();
  }
  return c;
}

}  // namespace

Result<std::vector<FunctionConfig>> parse_functions(const YAML::Node& functions,
                                                    const std::string& base_dir) {
  std::vector<FunctionConfig> out;
  if (!functions || functions.IsNull()) return out;
  if (!functions.IsSequence()) return bad("", "functions must be a list");
  std::set<std::string> names;
  try {
    for (const auto& n : functions) {
      auto c = parse_one(n, base_dir);
      if (!c.ok()) return c.error();
      if (!names.insert(c->name).second) return bad(c->name, "declared twice");
      out.push_back(std::move(c).value());
    }
  } catch (const YAML::Exception& e) {
    return bad("", std::string("bad YAML: ") + e.what());
  }
  return out;
}

Result<std::vector<FunctionConfig>> load_functions_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kInvalidArgument, path + ": " + e.what());
  }
  if (!root.IsMap() || !root["functions"]) {
    return Error(ErrorCode::kInvalidArgument, path + ": the top level needs functions:");
  }
  std::string base = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (base.empty() && path.find('/') == std::string::npos) base = ".";
  auto r = parse_functions(root["functions"], base);
  if (!r.ok()) return Error(ErrorCode::kInvalidArgument, path + ": " + r.error().message());
  return r;
}

Result<std::vector<Mapping>> parse_mappings(const YAML::Node& mappings) {
  std::vector<Mapping> out;
  auto bad_m = [](const std::string& uuid, const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 uuid.empty() ? "mappings: " + why : "mapping " + uuid + ": " + why);
  };
  try {
    if (!mappings.IsSequence()) return bad_m("", "mappings: must be a list");
    std::set<std::string> uuids;
    for (const auto& n : mappings) {
      if (!n.IsMap()) return bad_m("", "each mapping must be a map");
      Mapping m;
      m.uuid = n["uuid"] ? n["uuid"].as<std::string>() : "";
      if (m.uuid.empty()) return bad_m("", "a mapping needs uuid: (the id every worker shares)");
      if (!uuids.insert(m.uuid).second) return bad_m(m.uuid, "declared twice");
      for (const auto& kv : n) {
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (key == "uuid") continue;
        if (key == "function") m.function_name = v.as<std::string>();
        else if (key == "source") m.event_source_arn = v.as<std::string>();
        else if (key == "batch_size") m.batch_size = v.as<int32_t>();
        else if (key == "batching_window") m.maximum_batching_window_s = v.as<int32_t>();
        else if (key == "parallelization_factor") m.parallelization_factor = v.as<int32_t>();
        else if (key == "maximum_retry_attempts") m.maximum_retry_attempts = v.as<int32_t>();
        else if (key == "maximum_record_age") m.maximum_record_age_s = v.as<int32_t>();
        else if (key == "bisect") m.bisect_batch_on_function_error = v.as<bool>();
        else if (key == "report_batch_item_failures") m.report_batch_item_failures = v.as<bool>();
        else if (key == "on_failure") m.on_failure_destination = v.as<std::string>();
        else if (key == "tumbling_window") m.tumbling_window_s = v.as<int32_t>();
        else if (key == "enabled") m.enabled = v.as<bool>();
        else if (key == "starting_position") {
          const std::string p = v.as<std::string>();
          if (p == "TRIM_HORIZON") m.starting_position = StartingPosition::kTrimHorizon;
          else if (p == "LATEST") m.starting_position = StartingPosition::kLatest;
          else return bad_m(m.uuid, "starting_position must be TRIM_HORIZON or LATEST");
        } else if (key == "filters") {
          for (const auto& f : v) {
            std::string json;
            yaml_json(f, json);
            m.filter_patterns.push_back(f.IsScalar() ? f.as<std::string>() : json);
          }
        } else {
          return bad_m(m.uuid, "unknown key " + key);
        }
      }
      if (m.function_name.empty()) return bad_m(m.uuid, "function: is required");
      if (m.event_source_arn.empty()) return bad_m(m.uuid, "source: (a stream ARN) is required");
      if (Status st = validate_mapping(m); !st.ok()) return bad_m(m.uuid, st.error().message());
      out.push_back(std::move(m));
    }
  } catch (const YAML::Exception& e) {
    return bad_m("", std::string("bad YAML: ") + e.what());
  }
  return out;
}

}  // namespace freshet::process

// ProcessService: the function and mapping catalogs, checkpoints and metrics series.
#include <simdjson.h>
#include "freshet/common/logging.h"

#include <chrono>
#include <random>

#include "freshet/common/clock.h"
#include "freshet/process/filter.h"
#include "freshet/process/service.h"
#include "freshet/stream/names.h"
#include "json_util.h"
#include "runner.h"
#include "service_impl.h"

namespace freshet::process {
namespace {

std::string new_uuid() {
  std::random_device rd;
  std::mt19937_64 g((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                    static_cast<uint64_t>(wall_clock_ms()));
  const uint64_t a = g(), b = g();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

Error invalid(const std::string& m) { return Error(ErrorCode::kInvalidArgument, m); }

std::string encode_mappings(const std::map<std::string, Mapping, std::less<>>& ms) {
  std::string out = "{\"version\":1,\"mappings\":[";
  bool first = true;
  for (const auto& [uuid, m] : ms) {
    if (!first) out += ",";
    first = false;
    out += "\n{\"uuid\":";
    append_json_string(out, m.uuid);
    out += ",\"function\":";
    append_json_string(out, m.function_name);
    out += ",\"source\":";
    append_json_string(out, m.event_source_arn);
    out += ",\"batch_size\":" + std::to_string(m.batch_size);
    out += ",\"batching_window_s\":" + std::to_string(m.maximum_batching_window_s);
    out += ",\"starting_position\":\"" + std::string(to_string(m.starting_position)) + "\"";
    out += ",\"starting_position_timestamp_ms\":" + std::to_string(m.starting_position_timestamp_ms);
    out += ",\"parallelization_factor\":" + std::to_string(m.parallelization_factor);
    out += ",\"maximum_retry_attempts\":" + std::to_string(m.maximum_retry_attempts);
    out += ",\"maximum_record_age_s\":" + std::to_string(m.maximum_record_age_s);
    out += std::string(",\"bisect\":") + (m.bisect_batch_on_function_error ? "true" : "false");
    out += std::string(",\"report_batch_item_failures\":") +
           (m.report_batch_item_failures ? "true" : "false");
    out += ",\"on_failure\":";
    append_json_string(out, m.on_failure_destination);
    out += ",\"tumbling_window_s\":" + std::to_string(m.tumbling_window_s);
    out += ",\"filters\":[";
    for (size_t i = 0; i < m.filter_patterns.size(); ++i) {
      if (i > 0) out += ",";
      append_json_string(out, m.filter_patterns[i]);
    }
    out += "]";
    out += std::string(",\"enabled\":") + (m.enabled ? "true" : "false");
    out += std::string(",\"deleting\":") + (m.state == "Deleting" ? "true" : "false");
    out += ",\"created_ms\":" + std::to_string(m.created_ms);
    out += ",\"last_modified_ms\":" + std::to_string(m.last_modified_ms);
    out += "}";
  }
  out += "]}\n";
  return out;
}

Result<std::map<std::string, Mapping, std::less<>>> decode_mappings(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto bad = [](const std::string& why) {
    return Error(ErrorCode::kCorruption, "process/mappings.json: " + why);
  };
  if (parser.parse(text).get(root) != simdjson::SUCCESS) return bad("not JSON");
  int64_t version = 0;
  if (root["version"].get_int64().get(version) != simdjson::SUCCESS || version != 1) {
    return bad("unknown version");
  }
  simdjson::dom::array arr;
  if (root["mappings"].get_array().get(arr) != simdjson::SUCCESS) return bad("no mappings");
  std::map<std::string, Mapping, std::less<>> out;
  for (auto e : arr) {
    Mapping m;
    std::string_view s;
    int64_t i = 0;
    bool b = false;
    auto get_str = [&](const char* k, std::string& dst) {
      if (e[k].get_string().get(s) != simdjson::SUCCESS) return false;
      dst = std::string(s);
      return true;
    };
    auto get_int = [&](const char* k, auto& dst) {
      if (e[k].get_int64().get(i) != simdjson::SUCCESS) return false;
      dst = static_cast<std::remove_reference_t<decltype(dst)>>(i);
      return true;
    };
    auto get_bool = [&](const char* k, bool& dst) {
      if (e[k].get_bool().get(b) != simdjson::SUCCESS) return false;
      dst = b;
      return true;
    };
    std::string pos;
    bool deleting = false;
    if (!get_str("uuid", m.uuid) || !get_str("function", m.function_name) ||
        !get_str("source", m.event_source_arn) || !get_int("batch_size", m.batch_size) ||
        !get_int("batching_window_s", m.maximum_batching_window_s) ||
        !get_str("starting_position", pos) ||
        !get_int("starting_position_timestamp_ms", m.starting_position_timestamp_ms) ||
        !get_int("parallelization_factor", m.parallelization_factor) ||
        !get_int("maximum_retry_attempts", m.maximum_retry_attempts) ||
        !get_int("maximum_record_age_s", m.maximum_record_age_s) ||
        !get_bool("bisect", m.bisect_batch_on_function_error) ||
        !get_bool("report_batch_item_failures", m.report_batch_item_failures) ||
        !get_str("on_failure", m.on_failure_destination) ||
        !get_int("tumbling_window_s", m.tumbling_window_s) || !get_bool("enabled", m.enabled) ||
        !get_bool("deleting", deleting) || !get_int("created_ms", m.created_ms) ||
        !get_int("last_modified_ms", m.last_modified_ms)) {
      return bad("a mapping lacks a field");
    }
    m.starting_position = pos == "TRIM_HORIZON"   ? StartingPosition::kTrimHorizon
                          : pos == "AT_TIMESTAMP" ? StartingPosition::kAtTimestamp
                                                  : StartingPosition::kLatest;
    simdjson::dom::array filters;
    if (e["filters"].get_array().get(filters) == simdjson::SUCCESS) {
      for (auto f : filters) {
        if (f.get_string().get(s) == simdjson::SUCCESS) m.filter_patterns.emplace_back(s);
      }
    }
    m.state = deleting ? "Deleting" : m.enabled ? "Enabled" : "Disabled";
    m.state_transition_reason = "USER_INITIATED";
    out.emplace(m.uuid, std::move(m));
  }
  return out;
}

Status write_file_atomically(FileSystem& fs, const std::string& dir, const std::string& name,
                             std::string_view bytes, bool sync) {
  const std::string tmp = dir + "/" + name + ".tmp";
  {
    auto f = fs.open(tmp, OpenMode::kCreate);
    if (!f.ok()) return f.error();
    FRESHET_RETURN_IF_ERROR((*f)->truncate(0));
    FRESHET_RETURN_IF_ERROR((*f)->write_at(bytes.data(), bytes.size(), 0));
    if (sync) FRESHET_RETURN_IF_ERROR((*f)->sync());
  }
  FRESHET_RETURN_IF_ERROR(fs.rename(tmp, dir + "/" + name));
  if (sync) FRESHET_RETURN_IF_ERROR(fs.sync_dir(dir));
  return {};
}

std::string cw(std::string_view name) { return metrics::cloudwatch_metric_name("lambda", name); }

}  // namespace

const char* to_string(StartingPosition p) {
  switch (p) {
    case StartingPosition::kTrimHorizon: return "TRIM_HORIZON";
    case StartingPosition::kLatest: return "LATEST";
    case StartingPosition::kAtTimestamp: return "AT_TIMESTAMP";
  }
  return "LATEST";
}

Status validate_mapping(const Mapping& m) {
  if (m.batch_size < 1 || m.batch_size > 10000) {
    return invalid("1 validation error detected: Value '" + std::to_string(m.batch_size) +
                   "' at 'batchSize' failed to satisfy constraint: Member must have value less "
                   "than or equal to 10000");
  }
  if (m.maximum_batching_window_s < 0 || m.maximum_batching_window_s > 300) {
    return invalid("MaximumBatchingWindowInSeconds must be between 0 and 300");
  }
  if (m.parallelization_factor < 1 || m.parallelization_factor > 10) {
    return invalid("ParallelizationFactor must be between 1 and 10");
  }
  if (m.maximum_retry_attempts < -1 || m.maximum_retry_attempts > 10000) {
    return invalid("MaximumRetryAttempts must be between -1 and 10000");
  }
  if (m.maximum_record_age_s != -1 &&
      (m.maximum_record_age_s < 60 || m.maximum_record_age_s > 604800)) {
    return invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800");
  }
  if (m.tumbling_window_s < 0 || m.tumbling_window_s > 900) {
    return invalid("TumblingWindowInSeconds must be between 0 and 900");
  }
  if (!m.on_failure_destination.empty()) {
    auto a = stream::parse_stream_arn(m.on_failure_destination);
    if (!a.ok()) {
      return invalid("The provided destination config DestinationConfig.OnFailure.Destination "
                     "is invalid: a Freshet stream ARN is expected (" +
                     a.error().message() + ")");
    }
  }
  auto f = FilterSet::compile(m.filter_patterns);
  if (!f.ok()) return invalid(f.error().message());
  return {};
}

ProcessService::Impl::Impl(ProcessOptions o)
    : opt(std::move(o)), drop_log_(std::chrono::seconds(5)) {
  fs = opt.fs ? opt.fs : posix_file_system();
  dir = opt.data_dir + "/process";
  if (opt.metrics == nullptr) {
    own_metrics_ = std::make_unique<metrics::Registry>();
    metrics_ = own_metrics_.get();
  } else {
    metrics_ = opt.metrics;
  }
}

Result<std::unique_ptr<ProcessService>> ProcessService::open(ProcessOptions options) {
  std::unique_ptr<Backend> backend;
  if (!options.endpoint.empty()) {
    RemoteOptions r;
    r.endpoint = options.endpoint;
    r.region = options.region;
    r.access_key = options.access_key;
    r.secret_key = options.secret_key;
    FRESHET_ASSIGN_OR_RETURN(backend, make_remote_backend(r));
  } else if (options.engine == nullptr || options.tables == nullptr) {
    return Error(ErrorCode::kInvalidArgument,
                 "ProcessService needs an engine and a table store, or an endpoint");
  } else {
    backend = make_local_backend(*options.engine, *options.tables, options.delivery);
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->backend = std::move(backend);
  FRESHET_RETURN_IF_ERROR(create_dirs_durably(*impl->fs, impl->dir));
  FRESHET_RETURN_IF_ERROR(impl->load());
  return std::unique_ptr<ProcessService>(new ProcessService(std::move(impl)));
}

ProcessService::ProcessService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessService::~ProcessService() { stop(); }

Status ProcessService::Impl::load() {
  const std::string path = dir + "/mappings.json";
  if (!fs->exists(path)) return {};
  auto f = fs->open(path, OpenMode::kReadOnly);
  if (!f.ok()) return f.error();
  auto size = (*f)->size();
  if (!size.ok()) return size.error();
  if (*size > (64u << 20)) return Error(ErrorCode::kCorruption, path + ": larger than 64 MiB");
  std::string text(*size, '\0');
  auto n = (*f)->read_at(text.data(), text.size(), 0);
  if (!n.ok()) return n.error();
  text.resize(*n);
  auto ms = decode_mappings(text);
  if (!ms.ok()) return ms.error();
  std::lock_guard lock(mu_);
  mappings_ = std::move(ms).value();
  return {};
}

Status ProcessService::Impl::persist_locked() {
  return write_file_atomically(*fs, dir, "mappings.json", encode_mappings(mappings_), opt.sync);
}

void ProcessService::start() {
  std::lock_guard lock(impl_->mu_);
  if (impl_->started_) return;
  impl_->started_ = true;
  for (const auto& [uuid, m] : impl_->mappings_) impl_->start_supervisor_locked(uuid);
}

void ProcessService::Impl::start_supervisor_locked(const std::string& uuid) {
  if (!started_ || stopping_ || supervisors_.contains(uuid)) return;
  auto s = std::make_unique<Supervisor>(*this, uuid);
  s->start();
  supervisors_.emplace(uuid, std::move(s));
}

void ProcessService::stop() {
  std::map<std::string, std::unique_ptr<Supervisor>> sups;
  {
    std::lock_guard lock(impl_->mu_);
    impl_->stopping_ = true;
    sups.swap(impl_->supervisors_);
  }
  for (auto& [uuid, s] : sups) s->stop();
}

// ---- functions ----

Result<std::unique_ptr<Function>> ProcessService::Impl::instantiate(const FunctionConfig& c) const {
  if (c.kind == FunctionConfig::Kind::kCompiled) {
    FunctionFactory f;
    {
      std::lock_guard lock(mu_);
      auto it = compiled_.find(c.compiled);
      if (it == compiled_.end()) {
        return invalid("function " + c.name + ": no compiled function " + c.compiled);
      }
      f = it->second;
    }
    auto fn = f(c);
    if (!fn) return invalid("function " + c.name + ": its factory made nothing");
    return fn;
  }
  return make_function(c);
}

Status ProcessService::set_functions(std::vector<FunctionConfig> functions) {
  std::map<std::string, FunctionConfig, std::less<>> next;
  for (auto& c : functions) {
    auto fn = impl_->instantiate(c);
    if (!fn.ok()) return fn.error();
    const std::string name = c.name;
    if (!next.emplace(name, std::move(c)).second) {
      return invalid("function " + name + " declared twice");
    }
  }
  std::lock_guard lock(impl_->mu_);
  impl_->functions_ = std::move(next);
  impl_->slots_.clear();
  ++impl_->functions_version_;
  return {};
}

void ProcessService::register_compiled(const std::string& name, FunctionFactory factory) {
  std::lock_guard lock(impl_->mu_);
  impl_->compiled_[name] = std::move(factory);
}

std::vector<FunctionConfig> ProcessService::list_functions() const {
  std::lock_guard lock(impl_->mu_);
  std::vector<FunctionConfig> out;
  for (const auto& [n, c] : impl_->functions_) out.push_back(c);
  return out;
}

Result<FunctionConfig> ProcessService::Impl::function_config(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(name);
  if (it == functions_.end()) {
    return Error(ErrorCode::kNotFound, "Function not found: " + function_arn(name));
  }
  return it->second;
}

Result<FunctionConfig> ProcessService::get_function(std::string_view name) const {
  return impl_->function_config(name);
}

std::string ProcessService::Impl::function_arn(std::string_view name) const {
  return "arn:aws:lambda:" + opt.region + ":" + opt.account_id + ":function:" + std::string(name);
}

std::string ProcessService::function_arn(std::string_view name) const {
  return impl_->function_arn(name);
}

Result<InvokeOutcome> ProcessService::invoke(std::string_view name, std::string_view payload) {
  std::shared_ptr<InvokeSlot> slot;
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->functions_.find(name);
    if (it == impl_->functions_.end()) {
      return Error(ErrorCode::kNotFound, "Function not found: " + impl_->function_arn(name));
    }
    auto& s = impl_->slots_[std::string(name)];
    if (!s) {
      s = std::make_shared<InvokeSlot>();
      s->config = it->second;
    }
    slot = s;
  }
  FunctionSeries& series = impl_->function_series(std::string(name));
  std::lock_guard lock(slot->mu);
  if (!slot->fn) {
    auto fn = impl_->instantiate(slot->config);
    if (!fn.ok()) return fn.error();
    slot->fn = std::move(fn).value();
  }
  InvokeOutcome out;
  out.request_id = new_uuid();
  series.concurrent->inc();
  const auto t0 = std::chrono::steady_clock::now();
  out.result = slot->fn->invoke_payload(payload);
  out.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  series.concurrent->dec();
  series.invocations->inc();
  series.duration->observe(out.duration_ms);
  if (!out.result.function_error.empty()) series.errors->inc();
  return out;
}

// ---- mappings ----

Result<Mapping> ProcessService::create_mapping(Mapping m) {
  FRESHET_RETURN_IF_ERROR(validate_mapping(m));
  auto arn = stream::parse_stream_arn(m.event_source_arn);
  if (!arn.ok()) {
    return invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs. "
                   "Unsupported source arn : " + m.event_source_arn);
  }
  auto info = impl_->backend->describe_stream(arn->region, arn->stream_name);
  if (!info.ok()) {
    return invalid("Stream not found: " + m.event_source_arn);
  }
  FRESHET_RETURN_IF_ERROR(impl_->ensure_checkpoint_table());
  std::lock_guard lock(impl_->mu_);
  // Lambda takes a function name, a partial or a full ARN.
  std::string fn = m.function_name;
  const std::string prefix = "arn:aws:lambda:" + impl_->opt.region + ":" + impl_->opt.account_id + ":function:";
  if (fn.starts_with(prefix)) fn = fn.substr(prefix.size());
  if (!impl_->functions_.contains(fn)) {
    return Error(ErrorCode::kNotFound, "Function does not exist: " + impl_->function_arn(fn));
  }
  for (const auto& [uuid, other] : impl_->mappings_) {
    if (other.function_name == fn && other.event_source_arn == m.event_source_arn) {
      return Error(ErrorCode::kAlreadyExists,
                   "The event source arn (\" " + m.event_source_arn + " \") and function (\" " +
                       fn + " \") provided mapping already exists. Please update or delete the "
                       "existing mapping with UUID " + uuid);
    }
  }
  m.function_name = fn;
  if (m.uuid.empty()) {
    m.uuid = new_uuid();
  } else if (m.uuid.size() > 64 || impl_->mappings_.contains(m.uuid)) {
    return invalid("The UUID " + m.uuid + " is too long or already in use.");
  }
  m.created_ms = m.last_modified_ms = wall_clock_ms();
  m.state = "Creating";
  m.state_transition_reason = "USER_INITIATED";
  impl_->mappings_.emplace(m.uuid, m);
  if (Status s = impl_->persist_locked(); !s.ok()) {
    impl_->mappings_.erase(m.uuid);
    return s.error();
  }
  impl_->start_supervisor_locked(m.uuid);
  return m;
}

void MappingUpdate::apply_to(Mapping& m) const {
  if (batch_size) m.batch_size = *batch_size;
  if (maximum_batching_window_s) m.maximum_batching_window_s = *maximum_batching_window_s;
  if (parallelization_factor) m.parallelization_factor = *parallelization_factor;
  if (maximum_retry_attempts) m.maximum_retry_attempts = *maximum_retry_attempts;
  if (maximum_record_age_s) m.maximum_record_age_s = *maximum_record_age_s;
  if (bisect_batch_on_function_error) m.bisect_batch_on_function_error = *bisect_batch_on_function_error;
  if (report_batch_item_failures) m.report_batch_item_failures = *report_batch_item_failures;
  if (on_failure_destination) m.on_failure_destination = *on_failure_destination;
  if (tumbling_window_s) m.tumbling_window_s = *tumbling_window_s;
  if (filter_patterns) m.filter_patterns = *filter_patterns;
}

Result<Mapping> ProcessService::update_mapping(std::string_view uuid, const MappingUpdate& u) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->mappings_.find(uuid);
  if (it == impl_->mappings_.end()) {
    return Error(ErrorCode::kNotFound, "The resource you requested does not exist.");
  }
  if (it->second.state == "Deleting" || it->second.state == "Creating" ||
      it->second.state == "Updating") {
    return Error(ErrorCode::kResourceInUse,
                 "Cannot update the event source mapping because it is in use.");
  }
  Mapping m = it->second;
  if (u.function_name) {
    std::string fn = *u.function_name;
    const std::string prefix = "arn:aws:lambda:" + impl_->opt.region + ":" + impl_->opt.account_id + ":function:";
    if (fn.starts_with(prefix)) fn = fn.substr(prefix.size());
    if (!impl_->functions_.contains(fn)) {
      return Error(ErrorCode::kNotFound, "Function does not exist: " + impl_->function_arn(fn));
    }
    m.function_name = fn;
  }
  u.apply_to(m);
  FRESHET_RETURN_IF_ERROR(validate_mapping(m));
  if (u.enabled && *u.enabled != m.enabled) {
    m.enabled = *u.enabled;
    m.state = m.enabled ? "Enabling" : "Disabling";
  } else {
    m.state = "Updating";
  }
  m.last_modified_ms = wall_clock_ms();
  const Mapping before = it->second;
  it->second = m;
  if (Status s = impl_->persist_locked(); !s.ok()) {
    it->second = before;
    return s.error();
  }
  return m;
}

Result<Mapping> ProcessService::delete_mapping(std::string_view uuid) {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->mappings_.find(uuid);
  if (it == impl_->mappings_.end()) {
    return Error(ErrorCode::kNotFound, "The resource you requested does not exist.");
  }
  if (it->second.state == "Deleting") {
    return Error(ErrorCode::kResourceInUse,
                 "Cannot delete the event source mapping because it is in use.");
  }
  const Mapping before = it->second;
  it->second.state = "Deleting";
  it->second.last_modified_ms = wall_clock_ms();
  if (Status s = impl_->persist_locked(); !s.ok()) {
    it->second = before;
    return s.error();
  }
  Mapping out = it->second;
  if (!impl_->started_) {
    impl_->mappings_.erase(it);
    (void)impl_->persist_locked();
  }
  return out;
}

Result<Mapping> ProcessService::Impl::mapping(std::string_view uuid) const {
  std::lock_guard lock(mu_);
  auto it = mappings_.find(uuid);
  if (it == mappings_.end()) {
    return Error(ErrorCode::kNotFound, "The resource you requested does not exist.");
  }
  return it->second;
}

Result<Mapping> ProcessService::get_mapping(std::string_view uuid) const {
  return impl_->mapping(uuid);
}

std::vector<Mapping> ProcessService::list_mappings(std::string_view function_name,
                                                   std::string_view event_source_arn) const {
  std::string fn(function_name);
  const std::string prefix = "arn:aws:lambda:" + impl_->opt.region + ":" + impl_->opt.account_id + ":function:";
  if (fn.starts_with(prefix)) fn = fn.substr(prefix.size());
  std::lock_guard lock(impl_->mu_);
  std::vector<Mapping> out;
  for (const auto& [uuid, m] : impl_->mappings_) {
    if (!fn.empty() && m.function_name != fn) continue;
    if (!event_source_arn.empty() && m.event_source_arn != event_source_arn) continue;
    out.push_back(m);
  }
  std::sort(out.begin(), out.end(), [](const Mapping& a, const Mapping& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.uuid < b.uuid;
  });
  return out;
}

std::vector<ShardProgress> ProcessService::progress(std::string_view uuid) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->supervisors_.find(std::string(uuid));
  if (it == impl_->supervisors_.end()) return {};
  return it->second->progress();
}

void ProcessService::Impl::set_state(const std::string& uuid, const std::string& expected,
                                     const std::string& state) {
  std::lock_guard lock(mu_);
  auto it = mappings_.find(uuid);
  if (it != mappings_.end() && it->second.state == expected) it->second.state = state;
}

void ProcessService::Impl::set_last_result(const std::string& uuid, const std::string& result) {
  std::lock_guard lock(mu_);
  auto it = mappings_.find(uuid);
  if (it != mappings_.end()) it->second.last_processing_result = result;
}

void ProcessService::Impl::forget_mapping(const std::string& uuid) {
  std::lock_guard lock(mu_);
  mappings_.erase(uuid);
  if (Status s = persist_locked(); !s.ok()) {
    logging::error("process: cannot persist the deletion of mapping {}: {}", uuid, s.to_string());
  }
}

// ---- checkpoints ----

Status ProcessService::Impl::ensure_checkpoint_table() {
  if (checkpoint_table_ready_.load()) return {};
  auto d = backend->describe_table(kCheckpointTable);
  if (!d.ok()) {
    table::TableDesc desc;
    desc.name = kCheckpointTable;
    desc.key.hash = {"shard", table::Type::kS};
    desc.attribute_definitions = {{"shard", table::Type::kS}};
    desc.pay_per_request = true;
    auto c = backend->create_table(desc);
    if (!c.ok() && c.code() != ErrorCode::kAlreadyExists) return c.error();
  }
  checkpoint_table_ready_.store(true);
  return {};
}

Result<Checkpoint> ProcessService::Impl::read_checkpoint(const std::string& uuid,
                                                         const std::string& shard) const {
  table::Item key;
  key.emplace("shard", table::Value::s(uuid + "/" + shard));
  auto got = backend->get_item(kCheckpointTable, key);
  if (!got.ok()) return got.error();
  Checkpoint c;
  if (!got->has_value()) return c;
  const table::Item& item = **got;
  if (auto it = item.find("sequence"); it != item.end() && it->second.is(table::Type::kS)) {
    c.sequence = it->second.str();
  }
  if (auto it = item.find("finished"); it != item.end() && it->second.is(table::Type::kBool)) {
    c.finished = it->second.as_bool();
  }
  if (auto it = item.find("window_start"); it != item.end() && it->second.is(table::Type::kN)) {
    c.window_start_ms = std::strtoll(it->second.str().c_str(), nullptr, 10);
  }
  if (auto it = item.find("window_state"); it != item.end() && it->second.is(table::Type::kS)) {
    c.window_state = it->second.str();
  }
  if (auto it = item.find("window_closed"); it != item.end() && it->second.is(table::Type::kBool)) {
    c.window_closed = it->second.as_bool();
  }
  if (auto it = item.find("start_ms"); it != item.end() && it->second.is(table::Type::kN)) {
    c.start_ms = std::strtoll(it->second.str().c_str(), nullptr, 10);
  }
  return c;
}

table::WriteOp ProcessService::Impl::checkpoint_op(const std::string& uuid,
                                                   const std::string& shard,
                                                   const Checkpoint& c) const {
  table::WriteOp op;
  op.kind = table::WriteOp::Kind::kPut;
  op.table = kCheckpointTable;
  op.item.emplace("shard", table::Value::s(uuid + "/" + shard));
  if (!c.sequence.empty()) op.item.emplace("sequence", table::Value::s(c.sequence));
  op.item.emplace("finished", table::Value::boolean(c.finished));
  op.item.emplace("window_start", table::Value::n(std::to_string(c.window_start_ms)));
  op.item.emplace("window_state", table::Value::s(c.window_state));
  op.item.emplace("window_closed", table::Value::boolean(c.window_closed));
  if (c.start_ms >= 0) op.item.emplace("start_ms", table::Value::n(std::to_string(c.start_ms)));
  op.item.emplace("updated_ms", table::Value::n(std::to_string(wall_clock_ms())));
  return op;
}

// ---- leases ----

namespace {

// A conditional update of a shard's checkpoint item: false if the condition failed.
Result<bool> update_lease_item(Backend& backend, const std::string& key, std::string condition,
                               std::string update, std::map<std::string, table::Value> values,
                               int64_t* counter) {
  WriteExpr e;
  e.condition = std::move(condition);
  e.update = std::move(update);
  e.names = {{"#o", "lease_owner"}, {"#c", "lease_counter"}, {"#e", "lease_expires_ms"}};
  e.values = std::move(values);
  table::Item k;
  k.emplace("shard", table::Value::s(key));
  FRESHET_ASSIGN_OR_RETURN(table::WriteOutcome w, backend.update_item(kCheckpointTable, k, e));
  if (w.condition_failed) return false;
  if (counter != nullptr && w.new_item) {
    auto it = w.new_item->find("lease_counter");
    if (it != w.new_item->end()) *counter = std::strtoll(it->second.str().c_str(), nullptr, 10);
  }
  return true;
}

table::Value num(int64_t n) { return table::Value::n(std::to_string(n)); }

}  // namespace

Result<std::vector<Lease>> ProcessService::Impl::read_leases(const std::string& uuid) const {
  std::vector<Lease> out;
  const std::string prefix = uuid + "/";
  table::ScanSpec spec;
  spec.table = kCheckpointTable;
  while (true) {
    FRESHET_ASSIGN_OR_RETURN(table::Page page, backend->scan(spec));
    for (const table::Item& item : page.items) {
      const std::string& key = item.at("shard").str();
      if (!key.starts_with(prefix)) continue;
      Lease l;
      l.shard = key.substr(prefix.size());
      if (auto it = item.find("lease_owner"); it != item.end()) l.owner = it->second.str();
      if (auto it = item.find("lease_counter"); it != item.end()) {
        l.counter = std::strtoll(it->second.str().c_str(), nullptr, 10);
      }
      if (auto it = item.find("lease_expires_ms"); it != item.end()) {
        l.expires_ms = std::strtoll(it->second.str().c_str(), nullptr, 10);
      }
      if (auto it = item.find("finished"); it != item.end() && it->second.is(table::Type::kBool)) {
        l.finished = it->second.as_bool();
      }
      out.push_back(std::move(l));
    }
    if (!page.last_evaluated_key) return out;
    spec.exclusive_start_key = page.last_evaluated_key;
  }
}

Result<bool> ProcessService::Impl::acquire_lease(const std::string& uuid, const std::string& shard,
                                                 const Lease* seen, int64_t& counter) {
  const int64_t now = wall_clock_ms();
  std::map<std::string, table::Value> v = {{":me", table::Value::s(opt.worker_id)},
                                           {":exp", num(now + opt.lease_ms)},
                                           {":zero", num(0)},
                                           {":one", num(1)}};
  std::string cond;
  if (seen == nullptr) {
    v[":now"] = num(now);
    cond = "attribute_not_exists(#o) OR #o = :me OR #e < :now";
  } else {
    v[":owner"] = table::Value::s(seen->owner);
    v[":c"] = num(seen->counter);
    cond = "#o = :owner AND #c = :c";
  }
  return update_lease_item(*backend, uuid + "/" + shard, cond,
                           "SET #o = :me, #e = :exp, #c = if_not_exists(#c, :zero) + :one", v,
                           &counter);
}

Result<bool> ProcessService::Impl::renew_lease(const std::string& uuid, const std::string& shard,
                                               int64_t counter) {
  std::map<std::string, table::Value> v = {{":me", table::Value::s(opt.worker_id)},
                                           {":c", num(counter)},
                                           {":exp", num(wall_clock_ms() + opt.lease_ms)}};
  return update_lease_item(*backend, uuid + "/" + shard, "#o = :me AND #c = :c",
                           "SET #e = :exp", v, nullptr);
}

Result<bool> ProcessService::Impl::release_lease(const std::string& uuid,
                                                 const std::string& shard, int64_t counter) {
  std::map<std::string, table::Value> v = {
      {":me", table::Value::s(opt.worker_id)}, {":c", num(counter)}, {":exp", num(0)}};
  return update_lease_item(*backend, uuid + "/" + shard, "#o = :me AND #c = :c",
                           "SET #e = :exp", v, nullptr);
}

Result<bool> ProcessService::Impl::write_leased_checkpoint(const std::string& uuid,
                                                           const std::string& shard,
                                                           const Checkpoint& c, int64_t counter) {
  std::map<std::string, table::Value> v = {{":me", table::Value::s(opt.worker_id)},
                                           {":c", num(counter)},
                                           {":f", table::Value::boolean(c.finished)},
                                           {":w", num(c.window_start_ms)},
                                           {":ws", table::Value::s(c.window_state)},
                                           {":wc", table::Value::boolean(c.window_closed)},
                                           {":u", num(wall_clock_ms())}};
  std::string update = "SET #f = :f, #w = :w, #ws = :ws, #wc = :wc, #u = :u";
  if (!c.sequence.empty()) {
    v[":s"] = table::Value::s(c.sequence);
    update += ", #s = :s";
  }
  if (c.start_ms >= 0) {
    v[":st"] = num(c.start_ms);
    update += ", #st = :st";
  }
  WriteExpr e;
  e.condition = "#o = :me AND #c = :c";
  e.update = std::move(update);
  e.names = {{"#o", "lease_owner"},  {"#c", "lease_counter"}, {"#f", "finished"},
             {"#w", "window_start"}, {"#ws", "window_state"}, {"#wc", "window_closed"},
             {"#u", "updated_ms"}};
  if (!c.sequence.empty()) e.names.emplace("#s", "sequence");
  if (c.start_ms >= 0) e.names.emplace("#st", "start_ms");
  e.values = std::move(v);
  table::Item k;
  k.emplace("shard", table::Value::s(uuid + "/" + shard));
  FRESHET_ASSIGN_OR_RETURN(table::WriteOutcome w, backend->update_item(kCheckpointTable, k, e));
  return !w.condition_failed;
}

// ---- metrics ----

void MaxAge::set(const std::string& who, double ms) {
  std::lock_guard lock(mu_);
  ages_[who] = ms;
  publish_locked();
}

void MaxAge::forget(const std::string& who) {
  std::lock_guard lock(mu_);
  ages_.erase(who);
  publish_locked();
}

void MaxAge::publish_locked() {
  double m = 0;
  for (const auto& [who, ms] : ages_) m = std::max(m, ms);
  gauge_->set(m);
}

MaxAge* ProcessService::Impl::max_age(metrics::Gauge* gauge) {
  max_ages_.push_back(std::make_unique<MaxAge>(gauge));
  return max_ages_.back().get();
}

FunctionSeries& ProcessService::Impl::function_series(const std::string& name) {
  std::lock_guard lock(series_mu_);
  auto& s = function_series_[name];
  if (!s) {
    metrics::Registry& r = *metrics_;
    const metrics::Labels l = {{"FunctionName", name}};
    s = std::make_unique<FunctionSeries>(FunctionSeries{
        r.counter(cw("Invocations"), l, "Function invocations (mappings and Invoke)"),
        r.counter(cw("Errors"), l, "Invocations that ended in a function error"),
        r.histogram(cw("Duration"), l, "Invocation duration in milliseconds"),
        max_age(r.gauge(cw("IteratorAge"), l,
                        "Age of the last record of the last batch (ms), the largest of the "
                        "function's shards; 0 when caught up")),
        r.gauge(cw("ConcurrentExecutions"), l, "Invocations running now"),
        r.counter(cw("DestinationDeliveryFailures"), l,
                  "Failure records that could not be written to the OnFailure stream (retried)"),
    });
  }
  return *s;
}

MappingSeries& ProcessService::Impl::mapping_series(const std::string& uuid) {
  std::lock_guard lock(series_mu_);
  auto& s = mapping_series_[uuid];
  if (!s) {
    metrics::Registry& r = *metrics_;
    const metrics::Labels l = {{"EventSourceMappingUUID", uuid}};
    s = std::make_unique<MappingSeries>(MappingSeries{
        r.counter(cw("PolledEventCount"), l, "Records read by the mapping"),
        r.counter(cw("FilteredOutEventCount"), l, "Records dropped by FilterCriteria"),
        r.counter(cw("InvokedEventCount"), l, "Records passed to the function"),
        r.counter(cw("FailedInvokeEventCount"), l, "Records of failed invocations"),
        r.counter(cw("OnFailureDestinationDeliveredEventCount"), l,
                  "Records written to the OnFailure stream"),
        r.counter(cw("DroppedEventCount"), l,
                  "Failed records dropped because the mapping has no OnFailure destination"),
        max_age(r.gauge(cw("IteratorAge"), l,
                        "Age of the last record of the last batch (ms), the largest of the "
                        "mapping's shards; 0 when caught up")),
    });
  }
  return *s;
}

ShardSeries& ProcessService::Impl::shard_series(const std::string& uuid, const std::string& shard) {
  std::lock_guard lock(series_mu_);
  auto& s = shard_series_[uuid + "/" + shard];
  if (!s) {
    metrics::Registry& r = *metrics_;
    const metrics::Labels l = {{"EventSourceMappingUUID", uuid}, {"ShardId", shard}};
    s = std::make_unique<ShardSeries>(ShardSeries{
        r.counter(cw("PolledEventCount"), l, "Records read by the mapping"),
        r.counter(cw("FailedRecordCount"), l, "Records that failed (any reason)"),
        r.counter(cw("OnFailureDestinationDeliveredEventCount"), l,
                  "Records written to the OnFailure stream"),
        r.gauge(cw("IteratorAge"), l,
                "Age of the last record of the last batch (ms); 0 when caught up"),
    });
  }
  return *s;
}

}  // namespace freshet::process

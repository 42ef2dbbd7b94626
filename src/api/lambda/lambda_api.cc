// The Lambda API (lambda.h): routes, request parsing, responses and errors.
#include "freshet/api/lambda.h"

#include "freshet/common/logging.h"

#include <chrono>
#include <cmath>
#include <map>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "freshet/api/codec.h"
#include "freshet/api/document.h"
#include "freshet/common/base64.h"

namespace freshet::api {
namespace {

constexpr size_t kSyncPayloadLimit = 6 * 1024 * 1024;  // Invoke RequestResponse
constexpr size_t kAsyncPayloadLimit = 1024 * 1024;     // Invoke Event
constexpr size_t kLogTailBytes = 4096;
constexpr const char* kPrefix = "/2015-03-31/";

// A Lambda error: HTTP status, type, message.
struct LambdaError {
  int status;
  std::string type;
  std::string message;
};

LambdaError not_found(std::string m) { return {404, "ResourceNotFoundException", std::move(m)}; }
LambdaError invalid(std::string m) { return {400, "InvalidParameterValueException", std::move(m)}; }

LambdaError from_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kNotFound: return not_found(e.message());
    case ErrorCode::kInvalidArgument: return invalid(e.message());
    case ErrorCode::kAlreadyExists: return {409, "ResourceConflictException", e.message()};
    case ErrorCode::kResourceInUse: return {400, "ResourceInUseException", e.message()};
    case ErrorCode::kThrottled:
    case ErrorCode::kLimitExceeded: return {429, "TooManyRequestsException", e.message()};
    default: return {500, "ServiceException", e.message()};
  }
}

RestResponse error_response(const LambdaError& e) {
  RestResponse r;
  r.status = e.status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("X-Amzn-ErrorType", e.type);
  std::string body = "{\"Type\":\"User\",\"message\":";
  append_json_string(e.message, body);
  body += ",\"Message\":";
  append_json_string(e.message, body);
  body += "}";
  if (e.status >= 500) body.replace(body.find("User"), 4, "Service");
  r.body = std::move(body);
  return r;
}

RestResponse json_response(int status, const Document& d) {
  RestResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = encode_json(d);
  return r;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    const size_t eq = kv.find('=');
    out[url_decode(kv.substr(0, eq), true)] = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string iso_lambda(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_function_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

class LambdaApi::Impl {
 public:
  Impl(process::ProcessService& s, metrics::Registry& m, LambdaApiOptions o)
      : svc_(s), metrics_(m), opt_(std::move(o)) {
    worker_ = std::thread([this] { run_events(); });
  }
  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  std::optional<RestResponse> handle(RestRequest& req) {
    std::string_view target = req.target;
    if (!target.starts_with(kPrefix)) return std::nullopt;
    pending_error_.reset();
    const size_t qpos = target.find('?');
    std::string_view path = target.substr(0, qpos);
    const auto query = qpos == std::string_view::npos ? std::map<std::string, std::string>{}
                                                      : parse_query(target.substr(qpos + 1));
    path.remove_prefix(std::string_view(kPrefix).size());
    while (path.ends_with('/')) path.remove_suffix(1);
    std::vector<std::string> parts;
    while (!path.empty()) {
      const size_t slash = path.find('/');
      parts.push_back(url_decode(path.substr(0, slash), false));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash + 1);
    }
    const std::string_view m = req.method;
    std::string op = "Unknown";
    Result<RestResponse> r = Error(ErrorCode::kNotFound, "");
    if (!parts.empty() && parts[0] == "functions") {
      if (parts.size() == 1 && m == "GET") {
        op = "ListFunctions";
        r = list_functions(query);
      } else if (parts.size() == 2 && m == "GET") {
        op = "GetFunction";
        r = get_function(parts[1], query, true);
      } else if (parts.size() == 3 && parts[2] == "configuration" && m == "GET") {
        op = "GetFunctionConfiguration";
        r = get_function(parts[1], query, false);
      } else if (parts.size() == 3 && parts[2] == "invocations" && m == "POST") {
        op = "Invoke";
        r = invoke(parts[1], query, req);
      }
    } else if (!parts.empty() && parts[0] == "event-source-mappings") {
      if (parts.size() == 1 && m == "POST") {
        op = "CreateEventSourceMapping";
        r = create_mapping(req.body);
      } else if (parts.size() == 1 && m == "GET") {
        op = "ListEventSourceMappings";
        r = list_mappings(query);
      } else if (parts.size() == 2 && m == "GET") {
        op = "GetEventSourceMapping";
        r = get_mapping(parts[1]);
      } else if (parts.size() == 2 && m == "PUT") {
        op = "UpdateEventSourceMapping";
        r = update_mapping(parts[1], req.body);
      } else if (parts.size() == 2 && m == "DELETE") {
        op = "DeleteEventSourceMapping";
        r = delete_mapping(parts[1]);
      }
    }
    metrics_.counter("freshet_lambda_api_requests_total", {{"Operation", op}},
                     "Lambda API requests by operation")->inc();
    if (op == "Unknown") {
      return count_error(op, error_response(
          {404, "ResourceNotFoundException",
           "Freshet does not implement " + std::string(m) + " " + std::string(req.target) +
               ": functions are declared with freshet serve --functions (docs/process.md)"}));
    }
    if (!r.ok()) {
      if (r.error().message().empty()) return count_error(op, error_response(not_found("not found")));
      return count_error(op, error_response(pending_error_ ? *pending_error_ : from_error(r.error())));
    }
    return std::move(r).value();
  }

 private:
  RestResponse count_error(const std::string& op, RestResponse r) {
    std::string type = "Unknown";
    for (const auto& [k, v] : r.headers) {
      if (k == "X-Amzn-ErrorType") type = v;
    }
    metrics_.counter("freshet_lambda_api_errors_total", {{"Operation", op}, {"ErrorType", type}},
                     "Lambda API errors by operation and type")->inc();
    pending_error_.reset();
    return r;
  }

  // The Lambda error of the request this thread is handling, when its type is not the one
  // from_error() derives from the Error's code (set by fail(), read and reset by handle()).
  // Per thread because the handler pool runs one request per thread at a time.
  thread_local static std::optional<LambdaError> pending_error_;
  Error fail(LambdaError e) {
    pending_error_ = e;
    return Error(ErrorCode::kInvalidArgument, e.message);
  }

  std::string function_arn(const std::string& name) const {
    return "arn:aws:lambda:" + opt_.region + ":" + opt_.account_id + ":function:" + name;
  }

  // A function name, partial ARN or ARN, with an optional qualifier ($LATEST only).
  Result<std::string> resolve_name(const std::string& given, const std::string& qualifier) {
    std::string name = given;
    std::string qual = qualifier;
    if (name.starts_with("arn:")) {
      const size_t f = name.find(":function:");
      if (f == std::string::npos) return fail(invalid("Invalid function ARN: " + given));
      name = name.substr(f + 10);
    } else if (const size_t f = name.find(":function:"); f != std::string::npos) {
      name = name.substr(f + 10);
    }
    if (const size_t colon = name.find(':'); colon != std::string::npos) {
      qual = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (!valid_function_name(name)) {
      return fail(invalid("1 validation error detected: Value '" + given +
                          "' at 'functionName' failed to satisfy constraint: Member must satisfy "
                          "regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
                          "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
                          "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"));
    }
    if (!qual.empty() && qual != "$LATEST") {
      return fail(not_found("Function not found: " + function_arn(name) + ":" + qual));
    }
    return name;
  }

  Document configuration(const process::FunctionConfig& c) const {
    Document d = Document::make_map();
    d.set("FunctionName", c.name);
    d.set("FunctionArn", function_arn(c.name));
    d.set("Runtime", process::runtime_of(c));
    d.set("Role", "arn:aws:iam::" + opt_.account_id + ":role/freshet-function");
    std::string handler = c.kind == process::FunctionConfig::Kind::kExec
                              ? (!c.exec.handler.empty() ? c.exec.handler
                                                         : (c.exec.command.empty() ? "" : c.exec.command[0]))
                              : std::string("freshet.") + process::kind_name(c.kind);
    d.set("Handler", handler);
    d.set("CodeSize", int64_t{0});
    d.set("Description", c.description.empty()
                             ? std::string("Freshet ") + process::kind_name(c.kind) + " function"
                             : c.description);
    d.set("Timeout", int64_t{c.timeout_s});
    d.set("MemorySize", int64_t{c.memory_mb});
    d.set("LastModified", iso_lambda(started_ms_));
    d.set("CodeSha256", "");
    d.set("Version", "$LATEST");
    if (!c.exec.environment.empty()) {
      Document vars = Document::make_map();
      for (const auto& [k, v] : c.exec.environment) vars.set(k, v);
      Document env = Document::make_map();
      env.set("Variables", std::move(vars));
      d.set("Environment", std::move(env));
    }
    Document tracing = Document::make_map();
    tracing.set("Mode", "PassThrough");
    d.set("TracingConfig", std::move(tracing));
    d.set("RevisionId", "00000000-0000-0000-0000-000000000000");
    d.set("State", "Active");
    d.set("LastUpdateStatus", "Successful");
    d.set("PackageType", "Zip");
    Document arch = Document::make_list();
    arch.push_back("x86_64");
    d.set("Architectures", std::move(arch));
    Document eph = Document::make_map();
    eph.set("Size", int64_t{512});
    d.set("EphemeralStorage", std::move(eph));
    return d;
  }

  Result<int64_t> max_items(const std::map<std::string, std::string>& q, int64_t dflt) {
    auto it = q.find("MaxItems");
    if (it == q.end()) return dflt;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 1 || v > 10000) {
      return fail(invalid("1 validation error detected: Value '" + it->second +
                          "' at 'maxItems' failed to satisfy constraint: Member must have value "
                          "between 1 and 10000"));
    }
    return static_cast<int64_t>(v);
  }

  Result<RestResponse> list_functions(const std::map<std::string, std::string>& q) {
    FRESHET_ASSIGN_OR_RETURN(int64_t max, max_items(q, 50));
    const std::string marker = q.contains("Marker") ? q.at("Marker") : "";
    Document list = Document::make_list();
    std::string next;
    int64_t n = 0;
    for (const auto& c : svc_.list_functions()) {
      if (!marker.empty() && c.name <= marker) continue;
      if (n == max) {
        next = list.as_list().back().find("FunctionName")->as_string();
        break;
      }
      list.push_back(configuration(c));
      ++n;
    }
    Document out = Document::make_map();
    out.set("Functions", std::move(list));
    if (!next.empty()) out.set("NextMarker", next);
    return json_response(200, out);
  }

  Result<RestResponse> get_function(const std::string& given,
                                    const std::map<std::string, std::string>& q, bool full) {
    FRESHET_ASSIGN_OR_RETURN(std::string name, resolve_name(given, q.contains("Qualifier") ? q.at("Qualifier") : ""));
    FRESHET_ASSIGN_OR_RETURN(process::FunctionConfig c, svc_.get_function(name));
    if (!full) return json_response(200, configuration(c));
    Document out = Document::make_map();
    out.set("Configuration", configuration(c));
    Document code = Document::make_map();
    code.set("RepositoryType", "Freshet");
    code.set("Location", c.kind == process::FunctionConfig::Kind::kExec
                             ? "file://" + c.exec.working_dir
                             : std::string("builtin:") + process::kind_name(c.kind));
    out.set("Code", std::move(code));
    out.set("Tags", Document::make_map());
    return json_response(200, out);
  }

  static std::string report(const std::string& id, const process::InvokeOutcome& o,
                            const process::FunctionConfig& c) {
    char line[320];
    const double billed = std::ceil(o.duration_ms);
    std::snprintf(line, sizeof line,
                  "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory "
                  "Size: %d MB\tMax Memory Used: %llu MB\t\n",
                  id.c_str(), o.duration_ms, billed < 1 ? 1 : billed, c.memory_mb,
                  static_cast<unsigned long long>((o.result.max_memory_kb + 1023) / 1024));
    return line;
  }

  Result<RestResponse> invoke(const std::string& given, const std::map<std::string, std::string>& q,
                              RestRequest& req) {
    FRESHET_ASSIGN_OR_RETURN(std::string name, resolve_name(given, q.contains("Qualifier") ? q.at("Qualifier") : ""));
    std::string type(req.header("X-Amz-Invocation-Type"));
    if (type.empty()) type = "RequestResponse";
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
      return fail(invalid("1 validation error detected: Value '" + type +
                          "' at 'invocationType' failed to satisfy constraint: Member must "
                          "satisfy enum value set: [Event, RequestResponse, DryRun]"));
    }
    const std::string log_type(req.header("X-Amz-Log-Type"));
    if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
      return fail(invalid("1 validation error detected: Value '" + log_type +
                          "' at 'logType' failed to satisfy constraint: Member must satisfy enum "
                          "value set: [None, Tail]"));
    }
    FRESHET_ASSIGN_OR_RETURN(process::FunctionConfig c, svc_.get_function(name));
    const size_t limit = type == "Event" ? kAsyncPayloadLimit : kSyncPayloadLimit;
    if (req.body.size() > limit) {
      return fail({413, "RequestTooLargeException",
                   "Request must be smaller than " + std::to_string(limit) +
                       " bytes for the InvokeFunction operation"});
    }
    std::string payload = req.body.empty() ? std::string("{}") : std::move(req.body);
    if (auto parsed = decode_json(payload); !parsed.ok()) {
      return fail({400, "InvalidRequestContentException",
                   "Could not parse request body into json: " + parsed.error().message()});
    }
    if (type == "DryRun") {
      RestResponse r;
      r.status = 204;
      return r;
    }
    if (type == "Event") {
      {
        std::lock_guard lock(mu_);
        if (queue_.size() >= opt_.event_queue_limit) {
          metrics_.counter(metrics::cloudwatch_metric_name("lambda", "Throttles"),
                           {{"FunctionName", name}}, "Invocations refused: too many waiting")->inc();
          return fail({429, "TooManyRequestsException", "Rate Exceeded."});
        }
        queue_.emplace_back(name, std::move(payload));
      }
      cv_.notify_one();
      RestResponse r;
      r.status = 202;
      r.headers.emplace_back("Content-Type", "application/json");
      return r;
    }
    FRESHET_ASSIGN_OR_RETURN(process::InvokeOutcome o, svc_.invoke(name, payload));
    RestResponse r;
    r.status = 200;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("X-Amz-Executed-Version", "$LATEST");
    if (!o.result.function_error.empty()) {
      r.headers.emplace_back("X-Amz-Function-Error", o.result.function_error);
    }
    if (log_type == "Tail") {
      std::string log = "START RequestId: " + o.request_id + " Version: $LATEST\n" + o.result.log;
      if (!log.empty() && log.back() != '\n') log.push_back('\n');
      log += "END RequestId: " + o.request_id + "\n" + report(o.request_id, o, c);
      if (log.size() > kLogTailBytes) log.erase(0, log.size() - kLogTailBytes);
      r.headers.emplace_back("X-Amz-Log-Result", base64_encode(log));
    }
    r.body = o.result.payload.empty() ? "null" : std::move(o.result.payload);
    return r;
  }

  void run_events() {
    while (true) {
      std::pair<std::string, std::string> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        if (stop_) {
          logging::info("lambda: {} Event invocations dropped at shutdown", queue_.size());
          queue_.clear();
          return;
        }
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      auto o = svc_.invoke(job.first, job.second);
      if (!o.ok()) {
        logging::warn("lambda: Event invocation of {} failed: {}", job.first, o.error().message());
      } else if (!o->result.function_error.empty()) {
        logging::info("lambda: Event invocation of {} ended in {}: {}", job.first,
                     o->result.function_error, o->result.error_message);
      }
    }
  }

  // ---- event source mappings ----

  Document mapping_doc(const process::Mapping& m) const {
    Document d = Document::make_map();
    d.set("UUID", m.uuid);
    d.set("StartingPosition", process::to_string(m.starting_position));
    if (m.starting_position == process::StartingPosition::kAtTimestamp) {
      d.set("StartingPositionTimestamp", Document::timestamp_ms(m.starting_position_timestamp_ms));
    }
    d.set("BatchSize", int64_t{m.batch_size});
    d.set("MaximumBatchingWindowInSeconds", int64_t{m.maximum_batching_window_s});
    d.set("ParallelizationFactor", int64_t{m.parallelization_factor});
    d.set("EventSourceArn", m.event_source_arn);
    if (!m.filter_patterns.empty()) {
      Document filters = Document::make_list();
      for (const auto& p : m.filter_patterns) {
        Document f = Document::make_map();
        f.set("Pattern", p);
        filters.push_back(std::move(f));
      }
      Document fc = Document::make_map();
      fc.set("Filters", std::move(filters));
      d.set("FilterCriteria", std::move(fc));
    }
    d.set("FunctionArn", function_arn(m.function_name));
    d.set("LastModified", Document::timestamp_ms(m.last_modified_ms));
    d.set("LastProcessingResult", m.last_processing_result);
    d.set("State", m.state);
    d.set("StateTransitionReason", m.state_transition_reason);
    Document on_failure = Document::make_map();
    if (!m.on_failure_destination.empty()) on_failure.set("Destination", m.on_failure_destination);
    Document dest = Document::make_map();
    dest.set("OnFailure", std::move(on_failure));
    d.set("DestinationConfig", std::move(dest));
    d.set("MaximumRecordAgeInSeconds", int64_t{m.maximum_record_age_s});
    d.set("BisectBatchOnFunctionError", m.bisect_batch_on_function_error);
    d.set("MaximumRetryAttempts", int64_t{m.maximum_retry_attempts});
    d.set("TumblingWindowInSeconds", int64_t{m.tumbling_window_s});
    Document types = Document::make_list();
    if (m.report_batch_item_failures) types.push_back("ReportBatchItemFailures");
    d.set("FunctionResponseTypes", std::move(types));
    d.set("EventSourceMappingArn", "arn:aws:lambda:" + opt_.region + ":" + opt_.account_id +
                                       ":event-source-mapping:" + m.uuid);
    return d;
  }

  Result<Document> parse_body(const std::string& body) {
    if (body.empty()) return Document::make_map();
    auto d = decode_json(body);
    if (!d.ok() || !d->is_map()) {
      return fail({400, "InvalidRequestContentException", "Could not parse request body into json"});
    }
    return d;
  }

  // Typed members of a request body; a wrong type is InvalidParameterValueException.
  Result<std::optional<int32_t>> int_member(const Document& d, const char* key) {
    const Document* v = d.find(key);
    if (v == nullptr || v->is_null()) return std::optional<int32_t>();
    if (!v->is_int() || v->as_int() < INT32_MIN || v->as_int() > INT32_MAX) {
      return fail(invalid(std::string(key) + " must be an integer"));
    }
    return std::optional<int32_t>(static_cast<int32_t>(v->as_int()));
  }
  Result<std::optional<bool>> bool_member(const Document& d, const char* key) {
    const Document* v = d.find(key);
    if (v == nullptr || v->is_null()) return std::optional<bool>();
    if (!v->is_bool()) return fail(invalid(std::string(key) + " must be a boolean"));
    return std::optional<bool>(v->as_bool());
  }
  Result<std::optional<std::string>> str_member(const Document& d, const char* key) {
    const Document* v = d.find(key);
    if (v == nullptr || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return fail(invalid(std::string(key) + " must be a string"));
    return std::optional<std::string>(v->as_string());
  }
  Result<std::optional<std::vector<std::string>>> filters_member(const Document& d) {
    const Document* v = d.find("FilterCriteria");
    if (v == nullptr || v->is_null()) return std::optional<std::vector<std::string>>();
    std::vector<std::string> out;
    const Document* filters = v->is_map() ? v->find("Filters") : nullptr;
    if (filters == nullptr) return std::optional<std::vector<std::string>>(out);
    if (!filters->is_list()) return fail(invalid("FilterCriteria.Filters must be a list"));
    if (filters->as_list().size() > 5) {
      return fail(invalid("1 validation error detected: Value at 'filterCriteria.filters' failed "
                          "to satisfy constraint: Member must have length less than or equal to 5"));
    }
    for (const Document& f : filters->as_list()) {
      const Document* p = f.is_map() ? f.find("Pattern") : nullptr;
      if (p == nullptr || !p->is_string() || p->as_string().size() > 4096) {
        return fail(invalid("Each filter needs a Pattern of at most 4096 characters"));
      }
      out.push_back(p->as_string());
    }
    return std::optional<std::vector<std::string>>(out);
  }
  Result<std::optional<std::string>> destination_member(const Document& d) {
    const Document* v = d.find("DestinationConfig");
    if (v == nullptr || v->is_null()) return std::optional<std::string>();
    const Document* of = v->is_map() ? v->find("OnFailure") : nullptr;
    if (of == nullptr) return std::optional<std::string>(std::string());
    const Document* dest = of->is_map() ? of->find("Destination") : nullptr;
    if (dest == nullptr || dest->is_null()) return std::optional<std::string>(std::string());
    if (!dest->is_string()) return fail(invalid("DestinationConfig.OnFailure.Destination must be a string"));
    return std::optional<std::string>(dest->as_string());
  }
  Result<std::optional<bool>> response_types_member(const Document& d) {
    const Document* v = d.find("FunctionResponseTypes");
    if (v == nullptr || v->is_null()) return std::optional<bool>();
    if (!v->is_list()) return fail(invalid("FunctionResponseTypes must be a list"));
    bool report = false;
    for (const Document& t : v->as_list()) {
      if (!t.is_string() || t.as_string() != "ReportBatchItemFailures") {
        return fail(invalid("1 validation error detected: Value at 'functionResponseTypes' failed "
                            "to satisfy constraint: Member must satisfy constraint: [Member must "
                            "satisfy enum value set: [ReportBatchItemFailures]]"));
      }
      report = true;
    }
    return std::optional<bool>(report);
  }

  // The members both Create and Update take.
  Result<process::MappingUpdate> common_members(const Document& d) {
    process::MappingUpdate u;
    FRESHET_ASSIGN_OR_RETURN(u.function_name, str_member(d, "FunctionName"));
    FRESHET_ASSIGN_OR_RETURN(u.enabled, bool_member(d, "Enabled"));
    FRESHET_ASSIGN_OR_RETURN(u.batch_size, int_member(d, "BatchSize"));
    FRESHET_ASSIGN_OR_RETURN(u.maximum_batching_window_s, int_member(d, "MaximumBatchingWindowInSeconds"));
    FRESHET_ASSIGN_OR_RETURN(u.parallelization_factor, int_member(d, "ParallelizationFactor"));
    FRESHET_ASSIGN_OR_RETURN(u.maximum_retry_attempts, int_member(d, "MaximumRetryAttempts"));
    FRESHET_ASSIGN_OR_RETURN(u.maximum_record_age_s, int_member(d, "MaximumRecordAgeInSeconds"));
    FRESHET_ASSIGN_OR_RETURN(u.bisect_batch_on_function_error, bool_member(d, "BisectBatchOnFunctionError"));
    FRESHET_ASSIGN_OR_RETURN(u.report_batch_item_failures, response_types_member(d));
    FRESHET_ASSIGN_OR_RETURN(u.on_failure_destination, destination_member(d));
    FRESHET_ASSIGN_OR_RETURN(u.tumbling_window_s, int_member(d, "TumblingWindowInSeconds"));
    FRESHET_ASSIGN_OR_RETURN(u.filter_patterns, filters_member(d));
    return u;
  }

  Result<RestResponse> create_mapping(const std::string& body) {
    FRESHET_ASSIGN_OR_RETURN(Document d, parse_body(body));
    FRESHET_ASSIGN_OR_RETURN(process::MappingUpdate u, common_members(d));
    FRESHET_ASSIGN_OR_RETURN(std::optional<std::string> arn, str_member(d, "EventSourceArn"));
    FRESHET_ASSIGN_OR_RETURN(std::optional<std::string> pos, str_member(d, "StartingPosition"));
    if (!u.function_name) {
      return fail(invalid("1 validation error detected: Value null at 'functionName' failed to "
                          "satisfy constraint: Member must not be null"));
    }
    if (!arn) {
      return fail(invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs."));
    }
    process::Mapping m;
    FRESHET_ASSIGN_OR_RETURN(std::string fn, resolve_name(*u.function_name, ""));
    m.function_name = fn;
    m.event_source_arn = *arn;
    if (!pos) {
      return fail(invalid("StartingPosition is required for Kinesis event sources."));
    }
    if (*pos == "TRIM_HORIZON") {
      m.starting_position = process::StartingPosition::kTrimHorizon;
    } else if (*pos == "LATEST") {
      m.starting_position = process::StartingPosition::kLatest;
    } else if (*pos == "AT_TIMESTAMP") {
      m.starting_position = process::StartingPosition::kAtTimestamp;
      const Document* ts = d.find("StartingPositionTimestamp");
      if (ts == nullptr || !ts->is_number()) {
        return fail(invalid("StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP."));
      }
      m.starting_position_timestamp_ms = static_cast<int64_t>(
          (ts->is_int() ? static_cast<double>(ts->as_int()) : ts->as_double()) * 1000.0);
    } else {
      return fail(invalid("1 validation error detected: Value '" + *pos +
                          "' at 'startingPosition' failed to satisfy constraint: Member must "
                          "satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"));
    }
    if (u.enabled) m.enabled = *u.enabled;
    u.apply_to(m);
    FRESHET_ASSIGN_OR_RETURN(process::Mapping created, svc_.create_mapping(m));
    return json_response(202, mapping_doc(created));
  }

  Result<RestResponse> list_mappings(const std::map<std::string, std::string>& q) {
    FRESHET_ASSIGN_OR_RETURN(int64_t max, max_items(q, 100));
    std::string fn;
    if (q.contains("FunctionName") && !q.at("FunctionName").empty()) {
      FRESHET_ASSIGN_OR_RETURN(std::string name, resolve_name(q.at("FunctionName"), ""));
      FRESHET_ASSIGN_OR_RETURN(process::FunctionConfig c, svc_.get_function(name));
      fn = c.name;
    }
    const std::string arn = q.contains("EventSourceArn") ? q.at("EventSourceArn") : "";
    const std::string marker = q.contains("Marker") ? q.at("Marker") : "";
    auto all = svc_.list_mappings(fn, arn);
    size_t start = 0;
    if (!marker.empty()) {
      start = all.size();
      for (size_t i = 0; i < all.size(); ++i) {
        if (all[i].uuid == marker) start = i + 1;
      }
    }
    Document list = Document::make_list();
    std::string next;
    for (size_t i = start; i < all.size(); ++i) {
      if (static_cast<int64_t>(list.as_list().size()) == max) {
        next = all[i - 1].uuid;
        break;
      }
      list.push_back(mapping_doc(all[i]));
    }
    Document out = Document::make_map();
    out.set("EventSourceMappings", std::move(list));
    if (!next.empty()) out.set("NextMarker", next);
    return json_response(200, out);
  }

  Result<RestResponse> get_mapping(const std::string& uuid) {
    FRESHET_ASSIGN_OR_RETURN(process::Mapping m, svc_.get_mapping(uuid));
    return json_response(200, mapping_doc(m));
  }

  Result<RestResponse> update_mapping(const std::string& uuid, const std::string& body) {
    FRESHET_ASSIGN_OR_RETURN(Document d, parse_body(body));
    FRESHET_ASSIGN_OR_RETURN(process::MappingUpdate u, common_members(d));
    if (u.function_name) {
      FRESHET_ASSIGN_OR_RETURN(std::string fn, resolve_name(*u.function_name, ""));
      u.function_name = fn;
    }
    FRESHET_ASSIGN_OR_RETURN(process::Mapping m, svc_.update_mapping(uuid, u));
    return json_response(202, mapping_doc(m));
  }

  Result<RestResponse> delete_mapping(const std::string& uuid) {
    FRESHET_ASSIGN_OR_RETURN(process::Mapping m, svc_.delete_mapping(uuid));
    return json_response(202, mapping_doc(m));
  }

  process::ProcessService& svc_;
  metrics::Registry& metrics_;
  const LambdaApiOptions opt_;
  const int64_t started_ms_ = now_ms();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                                      // GUARDED_BY(mu_)
  std::thread worker_;
};

thread_local std::optional<LambdaError> LambdaApi::Impl::pending_error_;

LambdaApi::LambdaApi(process::ProcessService& service, metrics::Registry& metrics,
                     LambdaApiOptions options)
    : impl_(std::make_unique<Impl>(service, metrics, std::move(options))) {}
LambdaApi::~LambdaApi() = default;

std::optional<RestResponse> LambdaApi::handle(RestRequest& req) { return impl_->handle(req); }

}  // namespace freshet::api

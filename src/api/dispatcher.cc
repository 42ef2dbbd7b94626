#include "dispatcher.h"

#include <atomic>
#include <ctime>
#include <exception>
#include <future>
#include <memory>

#include "freshet/api/codec.h"
#include "freshet/api/sigv4.h"
#include "freshet/common/base64.h"

namespace freshet::api {
namespace {

constexpr std::string_view kJson11 = "application/x-amz-json-1.1";
constexpr std::string_view kCbor11 = "application/x-amz-cbor-1.1";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string trim_copy(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  return s;
}

// Returns the protocol for a Content-Type, or false if unsupported. json_ct receives the
// media type to echo in JSON responses.
bool protocol_for(std::string_view content_type, Protocol& p, std::string_view& json_ct) {
  std::string ct = trim_copy(lower(content_type.substr(0, content_type.find(';'))));
  if (ct == "application/x-amz-json-1.1") {
    p = Protocol::kJson, json_ct = "application/x-amz-json-1.1";
  } else if (ct == "application/x-amz-json-1.0") {
    p = Protocol::kJson, json_ct = "application/x-amz-json-1.0";
  } else if (ct == "application/json") {
    p = Protocol::kJson, json_ct = "application/json";
  } else if (ct == "application/x-amz-cbor-1.1") {
    p = Protocol::kCbor, json_ct = kJson11;
  } else {
    return false;
  }
  return true;
}

// Value of a query parameter (nullopt when absent; "" for "?name" or "?name=").
std::optional<std::string_view> find_query_param(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    }
  }
  return std::nullopt;
}

std::string_view query_param(std::string_view target, std::string_view name) {
  return find_query_param(target, name).value_or(std::string_view());
}

bool is_json_ct(std::string_view ct) {
  return ct == "application/x-amz-json-1.1" || ct == "application/x-amz-json-1.0";
}

// An AWS answer that is not in the request's protocol (XML documents, Coral envelopes).
AwsResponse plain_response(int status, std::string_view content_type, std::string body,
                           std::string_view error_type) {
  AwsResponse r;
  r.status = status;
  r.content_type = std::string(content_type);
  r.body = std::move(body);
  r.error_type = error_type;
  return r;
}

// Percent-decodes the few escapes a credential contains ('/' as %2F).
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::string make_uuid_v4(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 15; i >= 0; --i) {
    s.push_back(kHex[(a >> (i * 4)) & 15]);
    if (i == 8 || i == 4) s.push_back('-');
  }
  s.push_back('-');
  for (int i = 15; i >= 0; --i) {
    s.push_back(kHex[(b >> (i * 4)) & 15]);
    if (i == 12) s.push_back('-');
  }
  return s;
}

AwsResponse unknown_method_response() {
  // As AWS: an XML document, status 403, no Content-Type.
  return plain_response(403, "",
                        "<AccessDeniedException>\n"
                        "  <Message>Unable to determine service/operation name to be "
                        "authorized</Message>\n"
                        "</AccessDeniedException>\n",
                        "AccessDeniedException");
}

std::vector<std::pair<std::string_view, std::string_view>> cors_headers(const CorsRequest& c,
                                                                        bool preflight) {
  std::vector<std::pair<std::string_view, std::string_view>> h;
  if (c.origin.empty()) return h;
  h.emplace_back("Access-Control-Allow-Origin", "*");
  if (!preflight) {
    h.emplace_back("Access-Control-Expose-Headers", kCorsExposeHeaders);
    return h;
  }
  if (!c.request_headers.empty()) h.emplace_back("Access-Control-Allow-Headers", c.request_headers);
  if (!c.request_method.empty()) h.emplace_back("Access-Control-Allow-Methods", c.request_method);
  h.emplace_back("Access-Control-Max-Age", "172800");
  return h;
}

std::string make_id2(std::mt19937_64& rng) {
  std::string bytes(72, '\0');  // AWS's x-amz-id-2: 72 random bytes, 96 base64 characters
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t v = rng();
    for (size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<char>(v >> (8 * k));
  }
  return base64_encode(bytes);
}

std::string http_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

Dispatcher::Dispatcher(const ServiceRegistry& services, metrics::Registry& metrics,
                       DecodeLimits limits)
    : services_(services), metrics_(metrics), limits_(limits) {
  for (const auto& [prefix, svc] : services_.services()) {
    for (const auto& [name, op] : svc.operations) {
      metrics::Labels labels{{"service", svc.name}, {"operation", name}};
      op_metrics_[&op] = OpMetrics{
          metrics_.counter("freshet_api_requests_total", labels, "API requests by operation"),
          metrics_.counter("freshet_api_raw_path_requests_total", labels,
                           "API requests an operation's raw (no Document) path took"),
          metrics_.histogram("freshet_api_request_duration_ms", labels,
                             "API request handling time in milliseconds")};
    }
  }
  unknown_requests_ = metrics_.counter("freshet_api_requests_total",
                                       {{"service", "unknown"}, {"operation", "unknown"}},
                                       "API requests by operation");
}

void Dispatcher::count_error(std::string_view service, std::string_view op, std::string_view type,
                             bool client) const {
  // Error paths take the registry mutex to find the series; success paths never do.
  metrics_
      .counter("freshet_api_errors_total",
               {{"service", std::string(service)},
                {"operation", std::string(op)},
                {"error_type", std::string(type)},
                {"fault", client ? "client" : "server"}},
               "API error responses by operation and AWS error type")
      ->inc();
}

AwsResponse Dispatcher::error_response(const ApiError& e, Protocol p, std::string_view json_ct,
                                       std::string_view service, std::string_view op,
                                       bool count) const {
  RenderedError r = render_error(e, p);
  const AwsErrorInfo& info = e.info();
  if (count) count_error(service, op, info.type, info.sender_fault);
  AwsResponse resp;
  resp.status = r.http_status;
  resp.content_type = std::string(p == Protocol::kCbor ? kCbor11 : json_ct);
  resp.body = std::move(r.body);
  resp.error_type = info.type;
  resp.query_error = query_compatible_error(e.type);
  return resp;
}

struct Dispatcher::Prepared {
  std::chrono::steady_clock::time_point start;
  Protocol protocol = Protocol::kJson;
  std::string_view json_ct = kJson11;
  const Service* svc = nullptr;
  const Operation* op = nullptr;
  const OpMetrics* om = nullptr;
  RequestContext ctx;
  std::function<void(std::function<void()>)> run_on_connection;  // AwsRequest's
};

bool Dispatcher::runs_inline(const AwsRequest& req) const {
  ServiceRegistry::Lookup found = services_.find(req.amz_target);
  return found.operation != nullptr && found.operation->async_handler != nullptr;
}

std::optional<AwsResponse> Dispatcher::lookup(const AwsRequest& req, Prepared& pr) const {
  pr.start = std::chrono::steady_clock::now();
  const bool known_ct = protocol_for(req.content_type, pr.protocol, pr.json_ct);
  const std::string ct = lower(req.content_type.substr(0, req.content_type.find(';')));
  ServiceRegistry::Lookup found = services_.find(req.amz_target);
  auto unknown = [&](AwsResponse r) {
    unknown_requests_->inc();
    count_error("unknown", "unknown", r.error_type, true);
    return r;
  };
  // The checks before the operation is known, in the order AWS answers them (recorded by
  // kinesalite): an empty body, an unknown content type, application/json, the body's
  // syntax, and only then an unknown target.
  if (req.body.empty()) {
    const ApiError e = found.operation != nullptr ? serialization_error("") : unknown_operation();
    const bool json = is_json_ct(trim_copy(ct));
    return unknown(error_response(e, json ? Protocol::kJson : Protocol::kCbor,
                                  json ? pr.json_ct : kJson11, {}, {}, /*count=*/false));
  }
  if (!known_ct) {
    const size_t dot = req.amz_target.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == req.amz_target.size()) {
      return unknown(unknown_method_response());
    }
    return unknown(
        plain_response(404, "", "<UnknownOperationException/>\n", "UnknownOperationException"));
  }
  if (pr.json_ct == "application/json") {
    // AWS answers the plain JSON content type with a Coral envelope, status 200.
    DecodeLimits limits = limits_;
    const bool syntax = decode_json(req.body, limits).ok();
    return unknown(plain_response(
        200, "application/json",
        syntax ? R"({"Output":{"__type":"com.amazon.coral.service#UnknownOperationException",)"
                 R"("message":null},"Version":"1.0"})"
               : R"({"Output":{"__type":"com.amazon.coral.service#SerializationException",)"
                 R"("Message":null},"Version":"1.0"})",
        syntax ? "UnknownOperationException" : "SerializationException"));
  }
  if (found.operation == nullptr) {
    DecodeLimits limits = limits_;
    const bool syntax = pr.protocol == Protocol::kCbor ? decode_cbor(req.body, limits).ok()
                                                       : decode_json(req.body, limits).ok();
    return unknown(error_response(syntax ? unknown_operation() : serialization_error(""),
                                  pr.protocol, pr.json_ct, {}, {}, /*count=*/false));
  }
  pr.svc = found.service;
  pr.op = found.operation;
  pr.om = &op_metrics_.at(pr.op);
  pr.om->requests->inc();
  RequestContext& ctx = pr.ctx;
  ctx.target_prefix = pr.svc->target_prefix;
  ctx.service = pr.svc->name;
  ctx.operation = pr.op->name;
  ctx.request_id = req.request_id;
  ctx.protocol = pr.protocol;
  ctx.remote_address = req.remote_address;
  return std::nullopt;
}

std::optional<ApiError> Dispatcher::authenticate(const AwsRequest& req, RequestContext& ctx) const {
  auto fail = [](ApiError e) { return std::optional<ApiError>(std::move(e)); };
  // As AWS: the structure of the authentication is checked before any signature would be.
  const bool query_auth = find_query_param(req.target, "X-Amz-Algorithm").has_value();
  if (!req.authorization.empty()) {
    if (query_auth) {
      return fail(ApiError{AwsError::kInvalidSignature,
                           "Found both 'X-Amz-Algorithm' as a query-string param and "
                           "'Authorization' as HTTP header."});
    }
    std::string problems = sigv4_header_problems(req.authorization, req.has_date);
    if (!problems.empty()) return fail(ApiError{AwsError::kIncompleteSignature, problems});
    Result<SigV4Auth> auth = parse_sigv4_authorization(req.authorization);
    if (!auth.ok()) return fail(ApiError{AwsError::kIncompleteSignature, auth.error().message()});
    ctx.region = std::move(auth->region);
    ctx.access_key_id = std::move(auth->access_key_id);
  } else if (query_auth) {
    std::string msg;
    for (std::string_view p : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                               "X-Amz-SignedHeaders", "X-Amz-Date"}) {
      if (query_param(req.target, p).empty()) {
        msg += "AWS query-string parameters must include '" + std::string(p) + "'. ";
      }
    }
    if (!msg.empty()) {
      return fail(ApiError{AwsError::kIncompleteSignature,
                           msg + "Re-examine the query-string parameters."});
    }
    SigV4Auth auth;
    Status st =
        parse_sigv4_credential(percent_decode(query_param(req.target, "X-Amz-Credential")), auth);
    if (!st.ok()) return fail(ApiError{AwsError::kIncompleteSignature, st.error().message()});
    ctx.region = std::move(auth.region);
    ctx.access_key_id = std::move(auth.access_key_id);
  } else if (!req.has_security_token) {
    return fail(missing_authentication_token());
  }
  return std::nullopt;
}

std::optional<AwsResponse> Dispatcher::decode(const AwsRequest& req, Prepared& pr) const {
  auto fail = [&](const ApiError& e) {
    return error_response(e, pr.protocol, pr.json_ct, pr.svc->name, pr.op->name);
  };
  // 1. Syntax.
  DecodeLimits limits = limits_;
  Result<Document> decoded = pr.protocol == Protocol::kCbor ? decode_cbor(req.body, limits)
                                                            : decode_json(req.body, limits);
  // As AWS: a body that does not parse, or a top-level value that is no structure, gets a
  // SerializationException without a message; a top-level list names itself.
  if (!decoded.ok()) return fail(serialization_error(""));
  Document input = std::move(decoded).value();
  if (!input.is_map()) {
    return fail(
        serialization_error(input.is_list() ? "Start of list found where not expected" : ""));
  }
  // 2. Authentication (parsed, not verified yet): after the syntax, as AWS answers.
  if (std::optional<ApiError> e = authenticate(req, pr.ctx)) return fail(*e);
  // 3. Shape: blobs and timestamps.
  Status shaped = apply_shape(input, pr.op->input_shape, pr.protocol == Protocol::kJson);
  if (!shaped.ok()) return fail(serialization_error(shaped.error().message()));
  pr.ctx.input = std::move(input);
  return std::nullopt;
}

AwsResponse Dispatcher::finish(const Prepared& p, ApiResult result) const {
  if (result.deferred()) {
    try {
      result = std::move(result).made();
    } catch (...) {
      result = ApiError{AwsError::kInternalFailure, "Internal error"};
    }
  }
  AwsResponse resp;
  if (!result.ok()) {
    resp = error_response(result.error(), p.protocol, p.json_ct, p.svc->name, p.op->name);
  } else if (result.streaming()) {
    StreamingBody b = std::move(result).streaming_body();
    resp.status = 200;
    resp.content_type = std::move(b.content_type);
    resp.stream = std::move(b.stream);
  } else if (result.encoded()) {
    resp.status = 200;
    resp.content_type = std::string(p.protocol == Protocol::kCbor ? kCbor11 : p.json_ct);
    resp.body = std::move(result).encoded_body();
  } else {
    const Document& out = result.value();
    Document empty = Document::make_map();
    const Document& body = out.is_null() ? empty : out;
    resp.status = 200;
    resp.content_type = std::string(p.protocol == Protocol::kCbor ? kCbor11 : p.json_ct);
    resp.body = p.protocol == Protocol::kCbor ? encode_cbor(body) : encode_json(body);
  }
  p.om->latency_ms->observe(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p.start)
          .count());
  return resp;
}

void Dispatcher::dispatch_async(AwsRequest& req, Done done) const {
  auto pr = std::make_shared<Prepared>();
  if (std::optional<AwsResponse> early = lookup(req, *pr)) return done(std::move(*early));
  const Operation& op = *pr->op;
  // Handlers should not throw; if one does (e.g. an unchecked Document accessor), the
  // request fails with InternalFailure instead of taking down the thread.
  const ApiError internal{AwsError::kInternalFailure, "Internal error"};
  if (!op.async_handler) {
    if (std::optional<AwsResponse> early = decode(req, *pr)) return done(std::move(*early));
    ApiResult result = [&]() -> ApiResult {
      try {
        return op.handler(pr->ctx);
      } catch (...) {
        return internal;
      }
    }();
    return done(finish(*pr, std::move(result)));
  }
  // The responder keeps the prepared request (and its context) alive until it runs; the
  // flag makes it answer once. A handler may move `respond` away and then throw, so the catch
  // below answers through its own copy, which is a no-op if the handler's copy answered.
  auto responded = std::make_shared<std::atomic<bool>>(false);
  pr->run_on_connection = req.run_on_connection;
  auto answer = [this, pr, done, responded](ApiResult result) {
    if (responded->exchange(true)) return;
    if (!pr->run_on_connection) return done(finish(*pr, std::move(result)));
    pr->run_on_connection([this, pr, done, result = std::move(result)]() mutable {
      done(finish(*pr, std::move(result)));
    });
  };
  Responder respond = answer;
  try {
    // The raw path first: it takes only requests whose every answer it would give exactly as
    // the decoded path does, so trying it cannot change an answer. Its requests must have
    // passed authentication; any failure there is left to the full path, in AWS's order.
    if (op.raw_handler && pr->protocol == Protocol::kJson && !authenticate(req, pr->ctx) &&
        op.raw_handler(pr->ctx, req.body, respond)) {
      pr->om->raw_requests->inc();
      return;
    }
    if (std::optional<AwsResponse> early = decode(req, *pr)) return done(std::move(*early));
    op.async_handler(pr->ctx, std::move(respond));
  } catch (...) {
    answer(internal);
  }
}

AwsResponse Dispatcher::dispatch(AwsRequest& req) const {
  std::promise<AwsResponse> promise;
  std::future<AwsResponse> future = promise.get_future();
  dispatch_async(req, [&promise](AwsResponse r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace freshet::api

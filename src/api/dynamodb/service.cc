#include "service.h"

#include <cmath>

namespace freshet::api::dynamodb {

namespace {
size_t series_chain(std::string_view table, std::string_view operation, size_t chains) {
  const size_t h = std::hash<std::string_view>()(table) * 31 + std::hash<std::string_view>()(operation);
  return h % chains;
}
}  // namespace

DynamoService::~DynamoService() {
  for (auto& head : series_heads_) {
    SeriesNode* n = head.load(std::memory_order_acquire);
    while (n != nullptr) {
      SeriesNode* next = n->next;
      delete n;
      n = next;
    }
  }
}

Series& DynamoService::series(std::string_view table, std::string_view operation) {
  auto find = [&](SeriesNode* n) -> SeriesNode* {
    for (; n != nullptr; n = n->next) {
      if (n->table == table && n->operation == operation) return n;
    }
    return nullptr;
  };
  std::atomic<SeriesNode*>& head = series_heads_[series_chain(table, operation, kSeriesChains)];
  if (SeriesNode* n = find(head.load(std::memory_order_acquire))) {
    return n->series;
  }
  std::lock_guard<std::mutex> l(mu_);
  SeriesNode* first = head.load(std::memory_order_acquire);
  if (SeriesNode* n = find(first)) return n->series;
  auto cw = [](std::string_view n) { return metrics::cloudwatch_metric_name("dynamodb", n); };
  const metrics::Labels labels = {{"table", std::string(table)},
                                  {"operation", std::string(operation)}};
  auto* node = new SeriesNode{
      std::string(table), std::string(operation),
      Series{
          metrics_.gauge(cw("ConsumedReadCapacityUnits"), labels,
                         "Read capacity units consumed (running sum)"),
          metrics_.gauge(cw("ConsumedWriteCapacityUnits"), labels,
                         "Write capacity units consumed (running sum)"),
          metrics_.histogram(cw("SuccessfulRequestLatency"), labels,
                             "Latency of successful requests in milliseconds"),
          metrics_.counter(cw("UserErrors"), labels, "Requests answered with a 400 error"),
          metrics_.counter(cw("ConditionalCheckFailedRequests"), labels,
                           "Writes whose condition failed"),
          metrics_.counter(cw("ReturnedItemCount"), labels, "Items returned by Query and Scan"),
          metrics_.counter(cw("ThrottledRequests"), labels, "Requests throttled"),
      },
      first};
  head.store(node, std::memory_order_release);
  return node->series;
}

std::optional<ApiResult> DynamoService::recall(const std::string& token, const std::string& fingerprint) {
  std::lock_guard<std::mutex> l(mu_);
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::milliseconds(opt_.idempotency_window_ms);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = now - it->second.at > window ? tokens_.erase(it) : std::next(it);
  }
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.fingerprint != fingerprint) {
    return ApiResult(ApiError{AwsError::kIdempotentParameterMismatch,
                              "The request uses the same client token as a previous, but "
                              "non-identical request. Do not reuse a client token with different "
                              "requests, unless the requests are identical."});
  }
  return ApiResult(it->second.response);
}

void DynamoService::remember(const std::string& token, const std::string& fingerprint,
                       const Document& response) {
  std::lock_guard<std::mutex> l(mu_);
  if (tokens_.size() >= 100'000) tokens_.erase(tokens_.begin());  // bounded
  tokens_[token] = Token{fingerprint, response, std::chrono::steady_clock::now()};
}

void DynamoService::refill(Bucket& b, double rate, std::chrono::steady_clock::time_point now) const {
  const double cap = rate * static_cast<double>(std::max<int64_t>(opt_.burst_seconds, 1));
  if (!b.primed) {
    b.primed = true;
    b.tokens = cap;
  } else {
    b.tokens += rate * std::chrono::duration<double>(now - b.at).count();
  }
  b.tokens = std::min(b.tokens, cap);
  b.at = now;
}

std::optional<ApiError> DynamoService::admit(const std::string& table, std::string_view operation,
                                             bool read) {
  if (!opt_.enforce_throughput) return std::nullopt;
  auto d = store_.describe_table(table);
  if (!d.ok() || d->pay_per_request) return std::nullopt;  // the operation reports a missing table
  const double rate = static_cast<double>(read ? d->throughput.read : d->throughput.write);
  if (rate <= 0) return std::nullopt;
  {
    std::lock_guard<std::mutex> l(bucket_mu_);
    auto& [r, w] = buckets_[table];
    Bucket& b = read ? r : w;
    refill(b, rate, std::chrono::steady_clock::now());
    if (b.tokens > 0) return std::nullopt;
  }
  series(table, operation).throttled->inc();
  return ApiError{AwsError::kProvisionedThroughputExceeded,
                  "The level of configured provisioned throughput for the table was exceeded. "
                  "Consider increasing your provisioning level with the UpdateTable API."};
}

void DynamoService::charge(const std::string& table, bool read, double units) {
  if (!opt_.enforce_throughput) return;
  auto d = store_.describe_table(table);
  if (!d.ok() || d->pay_per_request) return;
  const double rate = static_cast<double>(read ? d->throughput.read : d->throughput.write);
  if (rate <= 0) return;
  std::lock_guard<std::mutex> l(bucket_mu_);
  auto& [r, w] = buckets_[table];
  Bucket& b = read ? r : w;
  refill(b, rate, std::chrono::steady_clock::now());
  b.tokens -= units;
}

std::optional<ApiError> check_table_name(const Document& in, std::string_view member,
                                         std::string& out) {
  const Document* v = in.find(member);
  const std::string path = ValidationErrors::lower_first(member);
  if (v == nullptr || v->is_null()) {
    ValidationErrors e;
    e.add_null(path);
    return e.to_error();
  }
  if (!v->is_string()) return serialization_error("class java.lang.Integer can not be converted to an String");
  const std::string& n = v->as_string();
  ValidationErrors e;
  bool pattern_ok = !n.empty();
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      pattern_ok = false;
    }
  }
  if (!pattern_ok) e.add(path, n, ValidationErrors::pattern("[a-zA-Z0-9_.-]+"));
  if (n.size() < 3) e.add(path, n, ValidationErrors::length_at_least(3));
  if (n.size() > 255) e.add(path, n, ValidationErrors::length_at_most(255));
  if (!e.empty()) return e.to_error();
  out = n;
  return std::nullopt;
}

std::optional<ApiError> read_expression_attributes(const Document& in, Expressions& out) {
  if (const Document* n = in.find("ExpressionAttributeNames"); n != nullptr && !n->is_null()) {
    if (!n->is_map()) return serialization_error("Expected map or null");
    out.has_names = true;
    if (n->as_map().empty()) return validation("ExpressionAttributeNames must not be empty");
    for (const Member& m : n->as_map()) {
      if (m.key.size() < 2 || m.key[0] != '#') {
        return validation("ExpressionAttributeNames contains invalid key: Syntax error; key: \"" +
                          m.key + "\"");
      }
      if (!m.value.is_string()) return serialization_error("Expected a string");
      if (m.value.as_string().empty()) {
        return validation("ExpressionAttributeNames contains invalid value: Empty attribute name; "
                          "key: \"" + m.key + "\"");
      }
      out.names[m.key] = m.value.as_string();
    }
  }
  if (const Document* v = in.find("ExpressionAttributeValues"); v != nullptr && !v->is_null()) {
    if (!v->is_map()) return serialization_error("Expected map or null");
    out.has_values = true;
    if (v->as_map().empty()) return validation("ExpressionAttributeValues must not be empty");
    for (const Member& m : v->as_map()) {
      if (m.key.size() < 2 || m.key[0] != ':') {
        return validation("ExpressionAttributeValues contains invalid key: Syntax error; key: \"" +
                          m.key + "\"");
      }
      auto c = to_value(m.value);
      if (!c.ok()) {
        ApiError e = *c.error;
        if (e.type == AwsError::kValidation) {
          e.message = "ExpressionAttributeValues contains invalid value: " + e.message +
                      " for key " + m.key;
        }
        return e;
      }
      out.values[m.key] = std::move(*c.value);
    }
  }
  out.ctx = std::make_unique<table::ExpressionContext>(out.has_names ? &out.names : nullptr,
                                                       out.has_values ? &out.values : nullptr);
  return std::nullopt;
}

std::optional<ApiError> check_expression_attributes(const Expressions& e, bool any_expression) {
  if (!any_expression) {
    if (e.has_names) {
      return validation("ExpressionAttributeNames can only be specified when using expressions");
    }
    if (e.has_values) {
      return validation("ExpressionAttributeValues can only be specified when using expressions");
    }
    return std::nullopt;
  }
  Status s = e.ctx->check_all_used();
  if (!s.ok()) return validation(s.error().message());
  return std::nullopt;
}

std::optional<ApiError> parse_condition_member(const Document& in, const char* member,
                                               Expressions& e,
                                               std::optional<table::Condition>& out) {
  const Document* v = in.find(member);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) return serialization_error("Expected a string");
  auto c = table::parse_condition(v->as_string(), member, *e.ctx);
  if (!c.ok()) return validation(c.error().message());
  out = std::move(*c);
  return std::nullopt;
}

std::optional<ApiError> parse_projection_member(const Document& in, Expressions& e,
                                                std::optional<std::vector<table::Path>>& out) {
  const Document* v = in.find("ProjectionExpression");
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) return serialization_error("Expected a string");
  auto p = table::parse_projection(v->as_string(), *e.ctx);
  if (!p.ok()) return validation(p.error().message());
  out = std::move(*p);
  return std::nullopt;
}

std::optional<ApiError> check_mixed(const Document& in,
                                    std::initializer_list<const char*> non_expression,
                                    std::initializer_list<const char*> expression) {
  std::string ne, ex;
  for (const char* n : non_expression) {
    const Document* v = in.find(n);
    if (v != nullptr && !v->is_null()) ne += (ne.empty() ? "" : ", ") + std::string(n);
  }
  for (const char* n : expression) {
    const Document* v = in.find(n);
    if (v != nullptr && !v->is_null()) ex += (ex.empty() ? "" : ", ") + std::string(n);
  }
  if (!ne.empty() && !ex.empty()) {
    return validation(
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {" + ne + "} Expression parameters: {" + ex + "}");
  }
  return std::nullopt;
}

ApiError to_dynamo_error(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument: return validation(e.message());
    case ErrorCode::kNotFound: return ApiError{AwsError::kResourceNotFound, e.message()};
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kResourceInUse: return ApiError{AwsError::kResourceInUse, e.message()};
    case ErrorCode::kLimitExceeded:
      if (e.message() == table::kItemCollectionTooLarge) {
        return ApiError{AwsError::kItemCollectionSizeLimitExceeded, e.message()};
      }
      return ApiError{AwsError::kLimitExceeded, e.message()};
    case ErrorCode::kUnavailable: return ApiError{AwsError::kTransactionConflict, e.message()};
    default: return ApiError{AwsError::kInternalServerError, "Internal server error"};
  }
}

double write_units(size_t bytes) { return std::max(1.0, std::ceil(bytes / 1024.0)); }
double read_units(size_t bytes, bool consistent) {
  double u = std::max(1.0, std::ceil(bytes / 4096.0));
  return consistent ? u : u / 2;
}

namespace {
// The attributes of item an index entry holds (its projection), or nullopt when the item is
// not in the index (an index key attribute missing or of another type).
std::optional<table::Item> index_entry(const table::TableDesc& d, const table::IndexDesc& x,
                                       const table::Item& item) {
  auto has = [&](const table::KeyAttr& k) {
    auto f = item.find(k.name);
    return f != item.end() && f->second.type() == k.type;
  };
  if (!has(x.key.hash) || (x.key.range && !has(*x.key.range))) return std::nullopt;
  if (x.projection.type == table::ProjectionType::kAll) return item;
  table::Item out;
  auto copy = [&](const std::string& n) {
    auto f = item.find(n);
    if (f != item.end()) out[n] = f->second;
  };
  copy(d.key.hash.name);
  if (d.key.range) copy(d.key.range->name);
  copy(x.key.hash.name);
  if (x.key.range) copy(x.key.range->name);
  if (x.projection.type == table::ProjectionType::kInclude) {
    for (const auto& n : x.projection.non_key_attributes) copy(n);
  }
  return out;
}

Document units_doc(double units, bool read) {
  Document t = Document::make_map();
  t.set("CapacityUnits", units);
  t.set(read ? "ReadCapacityUnits" : "WriteCapacityUnits", units);
  return t;
}
}  // namespace

IndexUnits index_write_units(const table::TableDesc& d, const std::optional<table::Item>& old,
                             const std::optional<table::Item>& next) {
  IndexUnits out;
  for (const table::IndexDesc& x : d.indexes) {
    auto before = old ? index_entry(d, x, *old) : std::nullopt;
    auto after = next ? index_entry(d, x, *next) : std::nullopt;
    if (!before && !after) continue;
    double u = 0;
    auto key_of = [&](const table::Item& e) {
      std::string k = table::to_debug_string(table::Item{{x.key.hash.name, e.at(x.key.hash.name)}});
      if (x.key.range) k += table::to_debug_string(table::Item{{x.key.range->name, e.at(x.key.range->name)}});
      return k;
    };
    if (before && after && key_of(*before) != key_of(*after)) {
      u = write_units(table::item_size(*before)) + write_units(table::item_size(*after));
    } else {
      u = write_units(table::item_size(after ? *after : *before));
    }
    (x.global ? out.global : out.local)[x.name] += u;
  }
  return out;
}

std::optional<Document> consumed_capacity(const Document& in, const std::string& table,
                                          double units, bool read, const IndexUnits* indexes,
                                          const table::IndexDesc* read_index) {
  const Document* r = in.find("ReturnConsumedCapacity");
  if (r == nullptr || !r->is_string() || r->as_string() == "NONE") return std::nullopt;
  double total = units;
  if (indexes != nullptr) {
    for (const auto& [n, u] : indexes->global) total += u;
    for (const auto& [n, u] : indexes->local) total += u;
  }
  Document c = Document::make_map();
  c.set("TableName", table);
  c.set("CapacityUnits", total);
  c.set(read ? "ReadCapacityUnits" : "WriteCapacityUnits", total);
  if (r->as_string() == "INDEXES") {
    c.set("Table", units_doc(read_index != nullptr ? 0.0 : units, read));
    Document g = Document::make_map(), l = Document::make_map();
    if (read_index != nullptr) {
      (read_index->global ? g : l).set(read_index->name, units_doc(units, read));
    }
    if (indexes != nullptr) {
      for (const auto& [n, u] : indexes->global) g.set(n, units_doc(u, read));
      for (const auto& [n, u] : indexes->local) l.set(n, units_doc(u, read));
    }
    if (!g.as_map().empty()) c.set("GlobalSecondaryIndexes", std::move(g));
    if (!l.as_map().empty()) c.set("LocalSecondaryIndexes", std::move(l));
  }
  return c;
}

}  // namespace freshet::api::dynamodb

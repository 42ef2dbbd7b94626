// Internal: the state the DynamoDB handlers share, and helpers they all use.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "freshet/api/dynamodb.h"
#include "freshet/table/expression.h"

namespace freshet::api::dynamodb {

// Per (table, operation) CloudWatch series (namespace AWS/DynamoDB).
struct Series {
  metrics::Gauge* consumed_read;   // ConsumedReadCapacityUnits (a running sum)
  metrics::Gauge* consumed_write;  // ConsumedWriteCapacityUnits (a running sum)
  metrics::Histogram* latency;     // SuccessfulRequestLatency, milliseconds
  metrics::Counter* user_errors;   // UserErrors
  metrics::Counter* conditional_failed;  // ConditionalCheckFailedRequests
  metrics::Counter* returned_items;      // ReturnedItemCount
  metrics::Counter* throttled;           // ThrottledRequests (when throughput is enforced)
};

// Thread-safe: mu_ guards tokens_ and the creation of series (series_heads_ is read without
// it), bucket_mu_ guards buckets_; the store is thread-safe itself.
class DynamoService {
 public:
  DynamoService(table::TableStore& store, metrics::Registry& metrics, DynamoDbApiOptions options)
      : store_(store), metrics_(metrics), opt_(std::move(options)) {}
  ~DynamoService();
  DynamoService(const DynamoService&) = delete;
  DynamoService& operator=(const DynamoService&) = delete;

  table::TableStore& store() { return store_; }
  const DynamoDbApiOptions& options() const { return opt_; }
  // The series of (table, operation), created on first use and never removed. Every request
  // looks its series up: a hit takes no lock and allocates nothing (see SeriesNode).
  Series& series(std::string_view table, std::string_view operation);

  std::string region(const RequestContext& ctx) const {
    return ctx.region.empty() ? opt_.default_region : ctx.region;
  }
  std::string table_arn(const RequestContext& ctx, const std::string& table) const {
    return "arn:aws:dynamodb:" + region(ctx) + ":" + opt_.account_id + ":table/" + table;
  }

  // Idempotency of TransactWriteItems: returns the earlier response for the same token and
  // request, an IdempotentParameterMismatch error for the same token and another request, or
  // nullopt (then remember() the answer).
  std::optional<ApiResult> recall(const std::string& token, const std::string& fingerprint);
  void remember(const std::string& token, const std::string& fingerprint, const Document& response);

  // Provisioned throughput (options().enforce_throughput): admit() answers
  // ProvisionedThroughputExceededException, and counts ThrottledRequests for operation, when
  // the table's read (or write) capacity is used up; charge() takes consumed units from it.
  // A request is admitted while any capacity is left, and may overdraw it (DynamoDB knows an
  // item's size only after reading it); the debt is repaid by the refill.
  std::optional<ApiError> admit(const std::string& table, std::string_view operation, bool read);
  void charge(const std::string& table, bool read, double units);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
    bool primed = false;  // a new bucket starts full
  };
  // Refills b at rate units/s up to rate * burst_seconds. REQUIRES: bucket_mu_.
  void refill(Bucket& b, double rate, std::chrono::steady_clock::time_point now) const;
  std::mutex bucket_mu_;
  std::map<std::string, std::pair<Bucket, Bucket>, std::less<>> buckets_;  // read, write
  table::TableStore& store_;
  metrics::Registry& metrics_;
  DynamoDbApiOptions opt_;
  std::mutex mu_;
  // The series, in a fixed hash table of singly linked chains. A node is written completely
  // and then published at the head of its chain with a release store, under mu_ (one writer
  // at a time); readers walk a chain from an acquire load of its head without a lock. Nodes
  // are never unlinked or changed after publication, and are freed by the destructor.
  struct SeriesNode {
    std::string table;
    std::string operation;
    Series series;
    SeriesNode* next;
  };
  static constexpr size_t kSeriesChains = 256;
  std::array<std::atomic<SeriesNode*>, kSeriesChains> series_heads_{};
  struct Token {
    std::string fingerprint;
    Document response;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Token> tokens_;  // GUARDED_BY(mu_)
};

// ---- request helpers ----

// TableName (or another name member): required, 3..255 chars of [a-zA-Z0-9_.-].
std::optional<ApiError> check_table_name(const Document& in, std::string_view member,
                                         std::string& out);

// ExpressionAttributeNames/Values of a request (or of one TransactItem), converted.
struct Expressions {
  std::map<std::string, std::string> names;
  std::map<std::string, table::Value> values;
  bool has_names = false, has_values = false;
  std::unique_ptr<table::ExpressionContext> ctx;
};
std::optional<ApiError> read_expression_attributes(const Document& in, Expressions& out);
// After parsing all expressions: the "unused" errors, and the "can only be specified when
// using expressions" ones.
std::optional<ApiError> check_expression_attributes(const Expressions& e, bool any_expression);

std::optional<ApiError> parse_condition_member(const Document& in, const char* member,
                                               Expressions& e,
                                               std::optional<table::Condition>& out);
std::optional<ApiError> parse_projection_member(const Document& in, Expressions& e,
                                                std::optional<std::vector<table::Path>>& out);

// Legacy (non-expression) parameters (legacy.cc).
std::optional<ApiError> legacy_conditions(const Document& conditions, const Document* op,
                                          bool allow_exists, std::optional<table::Condition>& out);
std::optional<ApiError> legacy_updates(const Document& updates, table::UpdateExpr& out);
std::optional<ApiError> legacy_attributes_to_get(const Document& list,
                                                 std::optional<std::vector<table::Path>>& out);
// "Can not use both expression and non-expression parameters in the same request: ..."
std::optional<ApiError> check_mixed(const Document& in,
                                    std::initializer_list<const char*> non_expression,
                                    std::initializer_list<const char*> expression);

ApiError to_dynamo_error(const Error& e);

// Capacity units of the table's indexes, by index name.
struct IndexUnits {
  std::map<std::string, double> global, local;
};
// What one write (old item -> next item, either absent) costs each index: the projected
// item's write units where an entry is added, changed or removed, twice (a delete and a put)
// where the index key changes. Indexes the item is in neither before nor after cost nothing.
IndexUnits index_write_units(const table::TableDesc& d, const std::optional<table::Item>& old,
                             const std::optional<table::Item>& next);

// ConsumedCapacity for ReturnConsumedCapacity TOTAL/INDEXES (nullopt for NONE). units are the
// table's; index units (writes) add to the total, and INDEXES lists them by index. A read of
// an index passes its name as read_index: its units are the index's, not the table's.
std::optional<Document> consumed_capacity(const Document& in, const std::string& table,
                                          double units, bool read,
                                          const IndexUnits* indexes = nullptr,
                                          const table::IndexDesc* read_index = nullptr);
double write_units(size_t bytes);
double read_units(size_t bytes, bool consistent);

// Handlers.
ApiResult create_table(DynamoService& s, RequestContext& ctx);
ApiResult describe_table(DynamoService& s, RequestContext& ctx);
ApiResult list_tables(DynamoService& s, RequestContext& ctx);
ApiResult delete_table(DynamoService& s, RequestContext& ctx);
ApiResult update_table(DynamoService& s, RequestContext& ctx);
ApiResult update_time_to_live(DynamoService& s, RequestContext& ctx);
ApiResult describe_time_to_live(DynamoService& s, RequestContext& ctx);
ApiResult tag_resource(DynamoService& s, RequestContext& ctx);
ApiResult untag_resource(DynamoService& s, RequestContext& ctx);
ApiResult list_tags_of_resource(DynamoService& s, RequestContext& ctx);
ApiResult describe_limits(DynamoService& s, RequestContext& ctx);
ApiResult describe_endpoints(DynamoService& s, RequestContext& ctx);
void put_item(DynamoService& s, RequestContext& ctx, Responder respond);
ApiResult get_item(DynamoService& s, RequestContext& ctx);
void delete_item(DynamoService& s, RequestContext& ctx, Responder respond);
void update_item(DynamoService& s, RequestContext& ctx, Responder respond);
void batch_write_item(DynamoService& s, RequestContext& ctx, Responder respond);
ApiResult batch_get_item(DynamoService& s, RequestContext& ctx);
ApiResult transact_write_items(DynamoService& s, RequestContext& ctx);
ApiResult transact_get_items(DynamoService& s, RequestContext& ctx);
ApiResult query(DynamoService& s, RequestContext& ctx);
ApiResult scan(DynamoService& s, RequestContext& ctx);

}  // namespace freshet::api::dynamodb

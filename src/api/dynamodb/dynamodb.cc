// The operation table: one row per DynamoDB operation this server answers.
#include <chrono>

#include "service.h"

namespace freshet::api {

using dynamodb::DynamoService;

namespace {

using Fn = ApiResult (*)(DynamoService&, RequestContext&);
using AsyncFn = void (*)(DynamoService&, RequestContext&, Responder);

// How an operation runs:
//  kPool:   synchronous on the server's handler pool (control plane, transactions: they may
//           wait for a synced catalog write or a backfill);
//  kInline: on the io thread, answered at once (reads: RocksDB gets and iterators);
//  kAsync:  on the io thread up to the unsynced write, answered by the WAL sync thread.
enum class Mode { kPool, kInline, kAsync };

struct Row {
  const char* name;
  Mode mode;
  Fn fn;
  AsyncFn afn;
};

constexpr Row kOperations[] = {
    {"BatchGetItem", Mode::kInline, dynamodb::batch_get_item, nullptr},
    {"BatchWriteItem", Mode::kAsync, nullptr, dynamodb::batch_write_item},
    {"CreateTable", Mode::kPool, dynamodb::create_table, nullptr},
    {"DeleteItem", Mode::kAsync, nullptr, dynamodb::delete_item},
    {"DeleteTable", Mode::kPool, dynamodb::delete_table, nullptr},
    {"DescribeEndpoints", Mode::kInline, dynamodb::describe_endpoints, nullptr},
    {"DescribeLimits", Mode::kInline, dynamodb::describe_limits, nullptr},
    {"DescribeTable", Mode::kInline, dynamodb::describe_table, nullptr},
    {"DescribeTimeToLive", Mode::kInline, dynamodb::describe_time_to_live, nullptr},
    {"GetItem", Mode::kInline, dynamodb::get_item, nullptr},
    {"ListTables", Mode::kInline, dynamodb::list_tables, nullptr},
    {"ListTagsOfResource", Mode::kInline, dynamodb::list_tags_of_resource, nullptr},
    {"PutItem", Mode::kAsync, nullptr, dynamodb::put_item},
    {"Query", Mode::kInline, dynamodb::query, nullptr},
    {"Scan", Mode::kInline, dynamodb::scan, nullptr},
    {"TagResource", Mode::kPool, dynamodb::tag_resource, nullptr},
    {"TransactGetItems", Mode::kInline, dynamodb::transact_get_items, nullptr},
    {"TransactWriteItems", Mode::kPool, dynamodb::transact_write_items, nullptr},
    {"UntagResource", Mode::kPool, dynamodb::untag_resource, nullptr},
    {"UpdateItem", Mode::kAsync, nullptr, dynamodb::update_item},
    {"UpdateTable", Mode::kPool, dynamodb::update_table, nullptr},
    {"UpdateTimeToLive", Mode::kPool, dynamodb::update_time_to_live, nullptr},
};

}  // namespace

Status register_dynamodb(ServiceRegistry& registry, table::TableStore& store,
                         metrics::Registry& metrics, const DynamoDbApiOptions& options) {
  FRESHET_RETURN_IF_ERROR(registry.add_service(kDynamoDbTargetPrefix, "dynamodb"));
  // Shared by every handler; lives as long as the registry's handlers.
  auto service = std::make_shared<DynamoService>(store, metrics, options);
  for (const Row& row : kOperations) {
    const std::string op = row.name;
    // Times successes (SuccessfulRequestLatency) and counts user errors, per table.
    auto observe = [service, op](const RequestContext& ctx,
                                 std::chrono::steady_clock::time_point start, const ApiResult& r) {
      const Document* t = ctx.input.find("TableName");
      const std::string_view table =
          t != nullptr && t->is_string() ? std::string_view(t->as_string()) : std::string_view();
      if (r.ok()) {
        service->series(table, op).latency->observe(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
      } else if (r.error().info().sender_fault) {
        service->series(table, op).user_errors->inc();
      }
    };
    if (row.mode == Mode::kPool) {
      Fn fn = row.fn;
      Handler h = [service, fn, observe](RequestContext& ctx) -> ApiResult {
        const auto start = std::chrono::steady_clock::now();
        ApiResult r = fn(*service, ctx);
        observe(ctx, start, r);
        return r;
      };
      FRESHET_RETURN_IF_ERROR(
          registry.add_operation(kDynamoDbTargetPrefix, row.name, ShapeHint{}, h));
      continue;
    }
    AsyncHandler h;
    if (row.mode == Mode::kInline) {
      Fn fn = row.fn;
      h = [service, fn, observe](RequestContext& ctx, Responder respond) {
        const auto start = std::chrono::steady_clock::now();
        ApiResult r = fn(*service, ctx);
        observe(ctx, start, r);
        respond(std::move(r));
      };
    } else {
      AsyncFn afn = row.afn;
      h = [service, afn, observe](RequestContext& ctx, Responder respond) {
        const auto start = std::chrono::steady_clock::now();
        RequestContext* c = &ctx;  // lives until respond has run
        afn(*service, ctx, [c, start, observe, respond = std::move(respond)](ApiResult r) {
          observe(*c, start, r);
          respond(std::move(r));
        });
      };
    }
    FRESHET_RETURN_IF_ERROR(
        registry.add_async_operation(kDynamoDbTargetPrefix, row.name, ShapeHint{}, h));
  }
  return Status();
}

}  // namespace freshet::api

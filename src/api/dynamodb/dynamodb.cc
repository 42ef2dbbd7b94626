// The operation table: one row per DynamoDB operation this server answers.
#include <chrono>

#include "service.h"

namespace freshet::api {

using dynamodb::DynamoService;

namespace {

using Fn = ApiResult (*)(DynamoService&, RequestContext&);

struct Row {
  const char* name;
  Fn fn;
};

constexpr Row kOperations[] = {
    {"BatchGetItem", dynamodb::batch_get_item},
    {"BatchWriteItem", dynamodb::batch_write_item},
    {"CreateTable", dynamodb::create_table},
    {"DeleteItem", dynamodb::delete_item},
    {"DeleteTable", dynamodb::delete_table},
    {"DescribeEndpoints", dynamodb::describe_endpoints},
    {"DescribeLimits", dynamodb::describe_limits},
    {"DescribeTable", dynamodb::describe_table},
    {"DescribeTimeToLive", dynamodb::describe_time_to_live},
    {"GetItem", dynamodb::get_item},
    {"ListTables", dynamodb::list_tables},
    {"ListTagsOfResource", dynamodb::list_tags_of_resource},
    {"PutItem", dynamodb::put_item},
    {"Query", dynamodb::query},
    {"Scan", dynamodb::scan},
    {"TagResource", dynamodb::tag_resource},
    {"TransactGetItems", dynamodb::transact_get_items},
    {"TransactWriteItems", dynamodb::transact_write_items},
    {"UntagResource", dynamodb::untag_resource},
    {"UpdateItem", dynamodb::update_item},
    {"UpdateTable", dynamodb::update_table},
    {"UpdateTimeToLive", dynamodb::update_time_to_live},
};

}  // namespace

Status register_dynamodb(ServiceRegistry& registry, table::TableStore& store,
                         metrics::Registry& metrics, const DynamoDbApiOptions& options) {
  FRESHET_RETURN_IF_ERROR(registry.add_service(kDynamoDbTargetPrefix, "dynamodb"));
  // Shared by every handler; lives as long as the registry's handlers.
  auto service = std::make_shared<DynamoService>(store, metrics, options);
  for (const Row& row : kOperations) {
    Fn fn = row.fn;
    const std::string op = row.name;
    Handler h = [service, fn, op](RequestContext& ctx) -> ApiResult {
      const auto start = std::chrono::steady_clock::now();
      ApiResult r = fn(*service, ctx);
      const Document* t = ctx.input.find("TableName");
      const std::string table = t != nullptr && t->is_string() ? t->as_string() : "";
      if (r.ok()) {
        service->series(table, op).latency->observe(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count());
      } else if (r.error().info().sender_fault) {
        service->series(table, op).user_errors->inc();
      }
      return r;
    };
    FRESHET_RETURN_IF_ERROR(registry.add_operation(kDynamoDbTargetPrefix, row.name, ShapeHint{}, h));
  }
  return Status();
}

}  // namespace freshet::api

// The DynamoDB API (target prefix "DynamoDB_20120810", JSON 1.0): handlers that translate
// between request/response Documents and table::TableStore.
//
// register_dynamodb() adds the service and one synchronous handler per operation it serves
// (tables, items, Query/Scan, batches, transactions, TTL, tags, DescribeLimits,
// DescribeEndpoints). Handlers validate input with DynamoDB's messages, parse expressions (and
// the legacy Expected/AttributeUpdates/KeyConditions/QueryFilter/ScanFilter/AttributesToGet
// parameters) and call the store. They block while the store's write waits for its fsync, so
// the server should run them on its handler pool. The store and the metrics registry must
// outlive the server.
#pragma once

#include <cstdint>
#include <string>

#include "freshet/api/service.h"
#include "freshet/common/result.h"
#include "freshet/metrics/registry.h"
#include "freshet/table/store.h"

namespace freshet::api {

struct DynamoDbApiOptions {
  std::string default_region = "us-east-1";
  std::string account_id = "000000000000";
  // DescribeEndpoints' Address (the server's own host:port).
  std::string endpoint_address = "localhost";
  // TransactWriteItems ClientRequestToken idempotency window (DynamoDB: 10 minutes).
  int64_t idempotency_window_ms = 600'000;
  // Provisioned throughput: when true, a PROVISIONED table whose read or write capacity is used up answers ProvisionedThroughputExceededException (and counts
  // ThrottledRequests). Capacity refills at the table's ReadCapacityUnits/WriteCapacityUnits
  // per second and keeps up to burst_seconds of unused capacity (DynamoDB keeps 300 s).
  bool enforce_throughput = false;
  int64_t burst_seconds = 300;
};

inline constexpr const char* kDynamoDbTargetPrefix = "DynamoDB_20120810";

Status register_dynamodb(ServiceRegistry& registry, table::TableStore& store,
                         metrics::Registry& metrics, const DynamoDbApiOptions& options);

}  // namespace freshet::api

// The Firehose API (target prefix "Firehose_20150804", JSON 1.1): handlers that translate
// between request/response Documents and delivery::DeliveryService.
//
// Validation follows firehose-2015-08-04: model constraints (lengths, patterns, ranges, list
// sizes) answer ValidationException; rules of the service (destinations, prefixes, dynamic
// partitioning, batch size) InvalidArgumentException; a version mismatch in UpdateDestination
// ConcurrentModificationException. Handlers are thread-safe; the service and the registries
// must outlive the server.
#pragma once

#include <string>

#include "freshet/api/service.h"
#include "freshet/common/result.h"
#include "freshet/delivery/delivery.h"
#include "freshet/metrics/registry.h"

namespace freshet::api {

inline constexpr const char* kFirehoseTargetPrefix = "Firehose_20150804";

struct FirehoseApiOptions {
  size_t put_record_batch_max_bytes = 4u << 20;  // PutRecordBatch: 4 MiB per request
};

Status register_firehose(ServiceRegistry& registry, delivery::DeliveryService& service,
                         metrics::Registry& metrics, const FirehoseApiOptions& options);

}  // namespace freshet::api

// The Kinesis Data Streams API (target prefix "Kinesis_20131202"): handlers that translate
// between request/response Documents and stream::Engine.
//
// register_kinesis() adds the service and one handler per operation of the AWS model
// (kinesis-2013-12-02). Each handler validates its input the way AWS does (ValidationException
// for model constraints, SerializationException for wrong JSON types), resolves the stream from
// StreamName and/or StreamARN, calls the engine, and builds the response with the model's
// member names. Handlers are thread-safe; the engine, the metrics registry and the service
// registry must outlive the server that calls them.
//
// SubscribeToShard answers with an AWS event stream (see src/api/kinesis/subscriptions.h).
// UpdateStreamWarmThroughput is registered and validates its input, but answers
// InvalidArgumentException ("... is not supported by this server yet") for now.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "freshet/api/service.h"
#include "freshet/common/result.h"
#include "freshet/metrics/registry.h"
#include "freshet/stream/engine.h"

namespace freshet::api {

struct KinesisApiOptions {
  // Region used when a request carries no SigV4 credential scope.
  std::string default_region = "us-east-1";
  // Reported by DescribeLimits (the engine enforces its own EngineOptions::shard_limit).
  uint32_t shard_limit = 500;
  uint32_t on_demand_stream_count_limit = 50;
  // PutRecords: total of data and partition keys per request. The current model documents
  // 10 MiB (it was 5 MiB before records of up to 10 MiB were introduced).
  size_t put_records_max_request_bytes = 10u << 20;
  // Pagination tokens (ListStreams, ListShards, ListStreamConsumers) expire after this long.
  int64_t next_token_lifetime_ms = 300'000;
  // PutRecord(s) with plain JSON bodies skip the Document (put_raw.cc). Off only to compare.
  bool raw_put_path = true;
  // SubscribeToShard: 2 MiB/s per consumer and shard when set (as the engine's limits).
  bool enforce_limits = false;
  // SubscribeToShard: AWS ends a subscription after 5 minutes; tests may shorten it.
  int64_t subscription_lifetime_ms = 300'000;
  // SubscribeToShard: an empty event after this long without one.
  int64_t subscription_heartbeat_ms = 5'000;
};

inline constexpr const char* kKinesisTargetPrefix = "Kinesis_20131202";

// Registers the service "kinesis" and all its operations. Fails if the prefix is registered
// already. `engine` and `metrics` are captured by reference.
Status register_kinesis(ServiceRegistry& registry, stream::Engine& engine,
                        metrics::Registry& metrics, const KinesisApiOptions& options);

}  // namespace freshet::api

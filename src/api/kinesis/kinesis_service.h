// State shared by the Kinesis handlers: the engine, options, metrics series and a short-lived
// cache of per-stream facts the data plane needs on every call (encryption type, enhanced
// monitoring), plus the helpers that resolve streams from StreamName / StreamARN.
//
// Threads: every method may be called from any io thread. mu_ guards the two caches; the
// metrics series themselves are lock-free once found. Lock order: mu_ is never held while
// calling the engine.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "freshet/api/aws_error.h"
#include "freshet/api/kinesis.h"
#include "freshet/api/service.h"
#include "freshet/metrics/registry.h"
#include "freshet/stream/engine.h"
#include "subscriptions.h"

namespace freshet::api::kinesis {

// Maps engine errors to AWS errors as engine.h specifies; messages pass through.
ApiError engine_error(const Error& e);

// Per-stream CloudWatch-style series (label stream="...").
struct StreamSeries {
  metrics::Counter* incoming_records;
  metrics::Counter* incoming_bytes;
  metrics::Counter* put_record_success;
  metrics::Counter* put_records_records;
  metrics::Counter* put_records_successful;
  metrics::Counter* put_records_failed;
  metrics::Counter* get_records_records;
  metrics::Counter* get_records_bytes;
  metrics::Counter* get_records_success;
  metrics::Gauge* iterator_age_ms;
  metrics::Histogram* put_record_latency;
  metrics::Histogram* put_records_latency;
  metrics::Histogram* get_records_latency;
  metrics::Counter* read_exceeded;
  metrics::Counter* write_exceeded;
};

// Shard-level series (labels stream, shard), used only for the metrics that enhanced
// monitoring enables on the stream.
struct ShardSeries {
  metrics::Counter* incoming_records;
  metrics::Counter* incoming_bytes;
  metrics::Counter* outgoing_records;
  metrics::Counter* outgoing_bytes;
  metrics::Gauge* iterator_age_ms;
  metrics::Counter* read_exceeded;
  metrics::Counter* write_exceeded;
};

struct StreamRef {
  std::string region;
  std::string name;
};

struct StreamFacts {
  std::string encryption_type = "NONE";
  std::vector<std::string> shard_level_metrics;  // sorted
  bool monitors(std::string_view metric) const;
};

class KinesisService {
 public:
  KinesisService(stream::Engine& engine, metrics::Registry& metrics, KinesisApiOptions options);

  stream::Engine& engine() const { return engine_; }
  const KinesisApiOptions& options() const { return options_; }
  const std::string& account() const { return engine_.account_id(); }
  int64_t now_ms() const;

  // The request's region (SigV4 scope, else the default). Fails for a malformed region.
  std::optional<ApiError> region_of(const RequestContext& ctx, std::string* region) const;

  // Resolves StreamName and/or StreamARN (already shape-validated) to a stream of this
  // account and the request's region.
  std::optional<ApiError> resolve_stream(const RequestContext& ctx,
                                         const std::optional<std::string>& name,
                                         const std::optional<std::string>& arn,
                                         StreamRef* out) const;
  // A stream ARN alone (operations whose model requires StreamARN). `op` names the
  // operation in AccessDenied messages.
  std::optional<ApiError> resolve_stream_arn(const RequestContext& ctx, const std::string& arn,
                                             StreamRef* out) const;
  // Checks that an ARN's region and account are the request's.
  std::optional<ApiError> check_arn_scope(const RequestContext& ctx, std::string_view arn,
                                          std::string_view arn_region,
                                          std::string_view arn_account,
                                          std::string_view resource_name) const;

  // Encryption type and enhanced monitoring of a stream, cached for up to a second (refreshed
  // at once by forget_facts() after this layer changes them). nullopt if the stream is gone.
  std::shared_ptr<const StreamFacts> facts(const std::string& region, const std::string& name);
  void forget_facts(const std::string& region, const std::string& name);

  // SubscribeToShard's live subscriptions (thread-safe).
  Subscriptions& subscriptions() { return *subscriptions_; }

  StreamSeries& stream_series(const std::string& stream);
  ShardSeries& shard_series(const std::string& stream, const std::string& shard_id);

 private:
  stream::Engine& engine_;
  metrics::Registry& metrics_;
  const KinesisApiOptions options_;

  struct CachedFacts {
    std::shared_ptr<const StreamFacts> facts;
    int64_t fetched_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, CachedFacts, std::less<>> facts_;                 // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<StreamSeries>, std::less<>> streams_;  // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<ShardSeries>, std::less<>> shards_;   // GUARDED_BY(mu_)
  // Last member: its destructor ends the subscriptions and joins their workers first.
  std::unique_ptr<Subscriptions> subscriptions_;
};

}  // namespace freshet::api::kinesis

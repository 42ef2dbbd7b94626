// A Freshet node: every store and every API of the binary, assembled over one data directory
// and served on one port. `freshet serve`, `freshet up` and integration tests start the same
// thing through this class.
//
// Ownership and threads:
//  - A Node owns the stores (shard logs, tables, delivery streams, buckets), the metrics
//    registry, the handler thread pool and the HTTP server. Accessors return references that
//    stay valid until the Node is destroyed.
//  - open() and start() run on the caller's thread; the server's io threads and the handler
//    pool run requests; each store owns its background threads (see their headers).
//  - stop() (also run by the destructor) stops in dependency order: the server first (no new
//    requests), then the handler pool (requests in flight finish), then delivery, then the
//    stores. Every acknowledged write is already durable, so stop() loses nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "freshet/common/result.h"

namespace freshet::stream {
class Engine;
}
namespace freshet::table {
class TableStore;
}
namespace freshet::delivery {
class DeliveryService;
}
namespace freshet::objstore {
class ObjectStore;
}
namespace freshet::api {
class CloudWatchApi;
}
namespace freshet::metrics {
class Registry;
}
namespace freshet::process {
class ProcessService;
}

namespace freshet::node {

// Every `freshet serve` flag (see src/cli/serve_command.cc for their help texts).
struct NodeOptions {
  std::string listen = "127.0.0.1:4567";  // HOST:PORT; port 0 picks a free one
  std::string data_dir = "data";
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int64_t state_delay_ms = 0;
  uint32_t shard_limit = 500;
  bool enforce_limits = false;
  std::string durability = "fsync";  // "fsync" or "os"
  uint64_t segment_mib = 64;          // shard log segment size (a roll seals one this big)
  int io_threads = 2;
  int handler_threads = 16;
  int64_t read_timeout_ms = 60'000;
  int64_t iterator_lifetime_ms = 300'000;
  int64_t table_ttl_interval_ms = 60'000;
  bool table_enforce_throughput = false;  // ProvisionedThroughputExceeded for PROVISIONED tables
  int64_t table_burst_seconds = 300;      // unused capacity a table keeps for bursts
  int64_t table_item_collection_limit_bytes = int64_t{10} << 30;  // tables with an LSI
  int64_t subscription_lifetime_ms = 300'000;
  // Firehose destination: an external S3-compatible endpoint instead of the local buckets.
  std::string firehose_s3_endpoint;
  std::string firehose_s3_region = "us-east-1";
  std::string firehose_s3_access_key;
  std::string firehose_s3_secret_key;
  // Observability (issue 14): the CloudWatch metric store under <data-dir>/metrics, sampled
  // from the registry each second. Off: no store, no CloudWatch API (for A/B benchmarks).
  bool metric_store = true;
  // Functions (Lambda): a YAML file with `functions:` (process/config.h); "" = none.
  std::string functions_file;
};

class Node {
 public:
  // Opens the data directory (streams, tables, delivery streams, buckets) and registers every
  // API. Does not listen yet. Fails with the reason (bad --listen, a data directory that cannot
  // be opened or recovered).
  static Result<std::unique_ptr<Node>> open(NodeOptions options);
  ~Node();  // stop()
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts background work (delivery) and listens. Once only.
  Status start();
  // The bound port (valid after a successful start()).
  uint16_t port() const;
  // "http://HOST:PORT" (valid after a successful start()).
  std::string endpoint() const;
  // Idempotent.
  void stop();

  stream::Engine& engine();
  table::TableStore& tables();
  delivery::DeliveryService& delivery();
  objstore::ObjectStore& objects();  // the local buckets (<data-dir>/s3)
  metrics::Registry& registry();
  process::ProcessService& process();  // functions and event source mappings
  api::CloudWatchApi* cloudwatch();    // alarms and metrics; null when the metric store is off
  const NodeOptions& options() const;

  class Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::node

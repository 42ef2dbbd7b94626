#include "serve_command.h"

#include <signal.h>

#include "freshet/common/logging.h"

#include <cstdio>

#include "freshet/node/node.h"

namespace freshet::cli {
namespace {

int serve(const node::NodeOptions& options) {
  // Block the stop signals in every thread (threads the node starts inherit the mask); the
  // main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto opened = node::Node::open(options);
  if (!opened.ok()) {
    logging::error("{}", opened.error().message());
    return opened.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  node::Node& n = **opened;
  if (Status s = n.start(); !s.ok()) {
    logging::error("{}", s.error().message());
    return 1;
  }
  // Tests and scripts read this line to learn the port (with --listen ...:0).
  std::printf("freshet: listening on %s (data in %s, durability %s)\n", n.endpoint().c_str(),
              options.data_dir.c_str(), options.durability.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  logging::info("signal {}: stopping", sig);
  n.stop();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<node::NodeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the AWS APIs (Kinesis Data Streams, Firehose, S3)");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir, "Where streams and records live")
      ->capture_default_str();
  cmd->add_option("--region", a->region, "Region of requests without a SigV4 credential scope")
      ->capture_default_str();
  cmd->add_option("--account-id", a->account_id, "The 12-digit account ID in ARNs")
      ->capture_default_str();
  cmd->add_option("--state-delay-ms", a->state_delay_ms, "How long CREATING/UPDATING/DELETING last")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  cmd->add_option("--shard-limit", a->shard_limit, "Open shards allowed per account and region")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1'000'000u));
  cmd->add_flag("--enforce-limits", a->enforce_limits,
                "Per-shard throughput limits (1 MiB/s, 1000 records/s in; 2 MiB/s, 5 reads/s out)");
  cmd->add_option("--durability", a->durability,
                  "fsync: acknowledge after fdatasync (group commit); os: after write()")
      ->capture_default_str()
      ->check(CLI::IsMember({"fsync", "os"}));
  cmd->add_option("--segment-mib", a->segment_mib,
                  "Shard log segment size in MiB (the log rolls to a new file at this size)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1024}));
  cmd->add_option("--io-threads", a->io_threads, "HTTP threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--handler-threads", a->handler_threads,
                  "Threads that run API handlers (they may wait for fsync)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--read-timeout-ms", a->read_timeout_ms,
                  "Close connections that send nothing for this long")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}));
  cmd->add_option("--iterator-lifetime-ms", a->iterator_lifetime_ms,
                  "How long shard iterators stay valid (Kinesis: 300000; shorter for tests)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{300'000}));
  cmd->add_option("--table-ttl-interval-ms", a->table_ttl_interval_ms,
                  "How often expired DynamoDB TTL items are deleted")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{86'400'000}));
  cmd->add_flag("--table-enforce-throughput", a->table_enforce_throughput,
                "Answer ProvisionedThroughputExceededException when a PROVISIONED table's "
                "capacity (with its burst) is used up");
  cmd->add_option("--table-burst-seconds", a->table_burst_seconds,
                  "Seconds of unused provisioned capacity a table keeps for bursts (DynamoDB: 300)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  cmd->add_option("--table-item-collection-limit-bytes", a->table_item_collection_limit_bytes,
                  "Largest item collection of a table with a local secondary index (DynamoDB: "
                  "10 GiB; smaller for tests)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 50));
  cmd->add_option("--subscription-lifetime-ms", a->subscription_lifetime_ms,
                  "How long a SubscribeToShard subscription lasts (Kinesis: 300000; shorter for "
                  "tests)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{300'000}));
  cmd->add_option("--firehose-s3-endpoint", a->firehose_s3_endpoint,
                  "Deliver Firehose objects to this S3-compatible endpoint (http://host:port) "
                  "instead of the local buckets");
  cmd->add_option("--firehose-s3-region", a->firehose_s3_region, "Its SigV4 region")
      ->capture_default_str();
  cmd->add_option("--firehose-s3-access-key", a->firehose_s3_access_key, "Its access key");
  cmd->add_option("--firehose-s3-secret-key", a->firehose_s3_secret_key, "Its secret key");
  cmd->add_option("--metric-store", a->metric_store,
                  "Keep CloudWatch metrics in <data-dir>/metrics and serve the CloudWatch API")
      ->capture_default_str();
  cmd->add_option("--functions", a->functions_file,
                  "A YAML file declaring functions (Lambda) under functions: (docs/process.md)");
  cmd->callback([a, exit_code] { *exit_code = serve(*a); });
}

}  // namespace freshet::cli

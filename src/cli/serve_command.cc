#include "serve_command.h"

#include <signal.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdio>
#include <thread>

#include "freshet/api/firehose.h"
#include "freshet/api/dynamodb.h"
#include "freshet/api/http_server.h"
#include "freshet/api/kinesis.h"
#include "freshet/api/s3.h"
#include "freshet/delivery/delivery.h"
#include "freshet/metrics/registry.h"
#include "freshet/objstore/local_store.h"
#include "freshet/objstore/s3_store.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"

namespace freshet::cli {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:4567";
  std::string data_dir = "data";
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int64_t state_delay_ms = 0;
  uint32_t shard_limit = 500;
  bool enforce_limits = false;
  std::string durability = "fsync";
  int io_threads = 2;
  int handler_threads = 16;
  int64_t read_timeout_ms = 60'000;
  int64_t iterator_lifetime_ms = 300'000;
  int64_t table_ttl_interval_ms = 60'000;
  int64_t subscription_lifetime_ms = 300'000;
  // Firehose destination: an external S3-compatible endpoint instead of the local buckets.
  std::string firehose_s3_endpoint;
  std::string firehose_s3_region = "us-east-1";
  std::string firehose_s3_access_key;
  std::string firehose_s3_secret_key;
};

// Copies the shard logs' counters into the registry (called on each scrape of /metrics).
void export_log_metrics(const stream::Engine& engine, metrics::Registry& registry) {
  auto set_counter = [&](const char* name, const metrics::Labels& labels, uint64_t value,
                         const char* help) {
    metrics::Counter* c = registry.counter(name, labels, help);
    if (value > c->value()) c->inc(value - c->value());
  };
  for (const auto& s : engine.shard_stats()) {
    const metrics::Labels labels = {
        {"region", s.region}, {"stream", s.stream}, {"shard", s.shard_id}};
    registry
        .gauge("freshet_shard_tip_offset", labels, "One past the shard's last committed record")
        ->set(static_cast<double>(s.tip));
    registry.gauge("freshet_shard_trim_horizon_offset", labels, "The shard's oldest stored offset")
        ->set(static_cast<double>(s.trim_horizon));
    set_counter("freshet_log_appended_bytes_total", labels, s.log.appended_bytes,
                "Bytes written to segment files");
    set_counter("freshet_log_syncs_total", labels, s.log.syncs, "fdatasync waits");
    set_counter("freshet_log_corrupt_batches_total", labels, s.log.corrupt_batches,
                "Batches that failed a CRC or structure check on read or open");
    set_counter("freshet_log_write_errors_total", labels, s.log.write_errors, "Failed writes");
    set_counter("freshet_log_sync_errors_total", labels, s.log.sync_errors, "Failed fdatasyncs");
    set_counter("freshet_log_recovery_truncated_bytes_total", labels,
                s.log.recovery_truncated_bytes, "Torn tail bytes cut off at open");
    set_counter("freshet_log_recovery_damaged_tails_total", labels, s.log.recovery_damaged_tails,
                "Tail segments damaged before intact batches: the rest kept aside, then cut");
    set_counter("freshet_log_segments_deleted_total", labels, s.log.segments_deleted,
                "Segments deleted by retention");
  }
  if (auto w = engine.wal_stats()) {
    registry.gauge("freshet_wal_bytes", {}, "Bytes in the write-ahead log now")
        ->set(static_cast<double>(w->bytes));
    set_counter("freshet_wal_checkpoints_total", {}, w->checkpoints,
                "Write-ahead log checkpoints (logs synced, WAL emptied)");
    set_counter("freshet_wal_recovered_batches_total", {}, w->recovered_batches,
                "Batches the write-ahead log put back into logs at startup");
    set_counter("freshet_wal_recovery_failures_total", {}, w->recovery_failures,
                "Write-ahead log entries that could not be replayed at startup (logged)");
    set_counter("freshet_wal_recovery_gaps_total", {}, w->recovery_gaps,
                "WAL entries skipped at startup after a gap (never acknowledged; warned)");
    set_counter("freshet_wal_checkpoint_failures_total", {}, w->checkpoint_failures,
                "WAL checkpoints that could not complete (the WAL stalls until one does)");
    set_counter("freshet_wal_write_failures_total", {}, w->write_failures,
                "Group-commit rounds whose WAL write failed (their logs were synced instead)");
    registry.gauge("freshet_wal_stalled", {}, "1 while the WAL is failed or stalled")
        ->set(w->stalled ? 1.0 : 0.0);
  }
  const stream::Engine::EngineStats es = engine.engine_stats();
  set_counter("freshet_put_failures_total", {}, es.put_failures,
              "Appends that failed (a full disk, a failed log): InternalFailure to the client");
  set_counter("freshet_catalog_persist_failures_total", {}, es.catalog_failures,
              "Control-plane changes that could not be persisted (not applied)");
  set_counter("freshet_log_reopened_total", {}, es.reopened_logs,
              "Failed shard logs reopened without a restart");
  uint64_t failed = 0;
  for (const auto& s : engine.shard_stats()) failed += s.failed ? 1 : 0;
  registry.gauge("freshet_log_failed_logs", {}, "Shard logs failed and waiting to be reopened")
      ->set(static_cast<double>(failed));
}

int serve(const ServeArgs& a) {
  const size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "freshet serve: --listen wants HOST:PORT, got %s\n", a.listen.c_str());
    return 2;
  }
  api::HttpServerOptions http;
  http.host = a.listen.substr(0, colon);
  try {
    const int port = std::stoi(a.listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    http.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    std::fprintf(stderr, "freshet serve: bad port in --listen %s\n", a.listen.c_str());
    return 2;
  }
  http.io_threads = a.io_threads;
  // Handlers block while their writes wait for a group-commit fsync. Running them on a pool
  // lets many requests wait at once (and share one fsync) while the io threads keep reading.
  // The pool outlives the server: it is declared first and joined after server.stop().
  boost::asio::thread_pool handlers(static_cast<size_t>(a.handler_threads));
  http.offload = [&handlers](std::function<void()> task) {
    boost::asio::post(handlers, std::move(task));
  };
  http.read_timeout = std::chrono::milliseconds(a.read_timeout_ms);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  stream::EngineOptions eo;
  eo.data_dir = a.data_dir;
  eo.account_id = a.account_id;
  eo.state_delay_ms = a.state_delay_ms;
  eo.shard_limit = a.shard_limit;
  eo.enforce_limits = a.enforce_limits;
  eo.iterator_lifetime_ms = a.iterator_lifetime_ms;
  eo.durability = a.durability == "os" ? log::Durability::kOs : log::Durability::kFsync;
  metrics::Registry registry;
  metrics::Histogram* fsync_ms = registry.histogram(
      "freshet_log_fsync_duration_ms", {}, "Latency of each group-commit fdatasync (ms)");
  metrics::Histogram* round_size = registry.histogram(
      "freshet_log_group_commit_round_appends", {}, "Appends made durable by one group-commit round");
  eo.on_fsync = [fsync_ms](double ms) { fsync_ms->observe(ms); };
  eo.on_round = [round_size](size_t n) { round_size->observe(static_cast<double>(n)); };
  auto engine = stream::Engine::open(eo);
  if (!engine.ok()) {
    spdlog::error("cannot open data directory {}: {}", a.data_dir, engine.error().to_string());
    return 1;
  }

  api::ServiceRegistry services;
  api::KinesisApiOptions ko;
  ko.default_region = a.region;
  ko.shard_limit = a.shard_limit;
  ko.enforce_limits = a.enforce_limits;
  ko.subscription_lifetime_ms = a.subscription_lifetime_ms;
  if (Status s = api::register_kinesis(services, **engine, registry, ko); !s.ok()) {
    spdlog::error("cannot register the Kinesis API: {}", s.to_string());
    return 1;
  }
  // S3 over the local buckets (<data-dir>/s3), for requests without X-Amz-Target.
  objstore::LocalStoreOptions so;
  so.root = a.data_dir + "/s3";
  so.sync = a.durability != "os";
  auto objects = objstore::LocalObjectStore::open(so);
  if (!objects.ok()) {
    spdlog::error("cannot open the object store {}: {}", so.root, objects.error().to_string());
    return 1;
  }
  api::S3ApiOptions s3o;
  s3o.region = a.region;
  s3o.owner_id = a.account_id;
  api::S3Api s3(**objects, registry, s3o);
  // Firehose: delivery streams buffered under <data-dir>/firehose, delivered to the buckets.
  delivery::DeliveryOptions dopt;
  dopt.root = a.data_dir + "/firehose";
  dopt.store = objects->get();
  std::unique_ptr<objstore::ObjectStore> remote;
  if (!a.firehose_s3_endpoint.empty()) {
    objstore::S3StoreOptions ro;
    ro.endpoint = a.firehose_s3_endpoint;
    ro.region = a.firehose_s3_region;
    ro.access_key = a.firehose_s3_access_key;
    ro.secret_key = a.firehose_s3_secret_key;
    auto opened = objstore::open_s3_store(ro);
    if (!opened.ok()) {
      spdlog::error("cannot use the S3 endpoint {}: {}", ro.endpoint, opened.error().to_string());
      return 1;
    }
    remote = std::move(opened).value();
    dopt.store = remote.get();
  }
  dopt.engine = engine->get();
  dopt.metrics = &registry;
  dopt.region = a.region;
  dopt.account_id = a.account_id;
  dopt.fsync = a.durability != "os";
  auto firehose = delivery::DeliveryService::open(dopt);
  if (!firehose.ok()) {
    spdlog::error("cannot open the delivery streams {}: {}", dopt.root,
                  firehose.error().to_string());
    return 1;
  }
  if (Status s = api::register_firehose(services, **firehose, registry, {}); !s.ok()) {
    spdlog::error("cannot register the Firehose API: {}", s.to_string());
    return 1;
  }
  (*firehose)->start();
  // DynamoDB tables live in <data-dir>/tables (RocksDB), next to the shard logs.
  table::StoreOptions to;
  to.dir = a.data_dir + "/tables";
  to.sync = a.durability != "os";
  to.create_delay_ms = a.state_delay_ms;
  to.ttl_interval_ms = a.table_ttl_interval_ms;
  auto tables = table::TableStore::open(to);
  if (!tables.ok()) {
    spdlog::error("cannot open table store {}: {}", to.dir, tables.error().to_string());
    return 1;
  }
  api::DynamoDbApiOptions ddb_opt;
  ddb_opt.default_region = a.region;
  ddb_opt.account_id = a.account_id;
  ddb_opt.endpoint_address = a.listen;
  if (Status s = api::register_dynamodb(services, **tables, registry, ddb_opt); !s.ok()) {
    spdlog::error("cannot register the DynamoDB API: {}", s.to_string());
    return 1;
  }
  api::HttpServer server(http, services, registry);
  server.set_rest_handler([&s3](api::RestRequest& r) { return s3.handle(r); });
  stream::Engine& eng = **engine;
  server.add_get_route("/metrics", [&eng, &registry](std::string_view) {
    export_log_metrics(eng, registry);
    api::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry.render_prometheus();
    return r;
  });
  // 503 with the reason while a log, the WAL or the catalog is failed (writes to some or all
  // streams fail with a retryable error until it recovers).
  server.add_get_route("/health", [&eng](std::string_view) {
    api::HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    if (Status h = eng.health(); !h.ok()) {
      r.status = 503;
      r.body = "unavailable: " + h.error().message() + "\n";
    } else {
      r.body = "ok\n";
    }
    return r;
  });
  if (Status s = server.start(); !s.ok()) {
    spdlog::error("cannot listen on {}: {}", a.listen, s.to_string());
    return 1;
  }
  // Tests and scripts read this line to learn the port (with --listen ...:0).
  std::printf("freshet: listening on http://%s:%u (data in %s, durability %s)\n", http.host.c_str(),
              static_cast<unsigned>(server.port()), a.data_dir.c_str(), a.durability.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  server.stop();
  handlers.join();
  (*firehose)->stop();  // buffered records stay in their logs for the next start
  engine->reset();  // closes every log; all acknowledged writes are already durable
  tables->reset();  // stops TTL expiry and closes RocksDB
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ServeArgs>();
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
  cmd->callback([a, exit_code] { *exit_code = serve(*a); });
}

}  // namespace freshet::cli

#include "freshet/node/node.h"

#include "freshet/common/logging.h"
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <optional>
#include <vector>

#include "freshet/common/thread_name.h"
#include "freshet/api/cloudwatch.h"
#include "freshet/dashboard/dashboard.h"
#include "freshet/api/dynamodb.h"
#include "freshet/api/firehose.h"
#include "freshet/api/http_server.h"
#include "freshet/api/kinesis.h"
#include "freshet/api/lambda.h"
#include "freshet/api/s3.h"
#include "freshet/api/service.h"
#include "freshet/delivery/delivery.h"
#include "freshet/metrics/registry.h"
#include "freshet/metrics/sampler.h"
#include "freshet/metrics/store.h"
#include "freshet/objstore/local_store.h"
#include "freshet/objstore/s3_store.h"
#include "freshet/process/config.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"

namespace freshet::node {
namespace {

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
    set_counter("freshet_log_recovery_skipped_offsets_total", labels,
                s.log.recovery_skipped_offsets,
                "os durability: offsets skipped after a power loss (never reused)");
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

Result<std::pair<std::string, uint16_t>> parse_listen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "--listen wants HOST:PORT, got " + listen);
  }
  try {
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(listen.substr(0, colon), static_cast<uint16_t>(port));
  } catch (const std::exception&) {
    return Error(ErrorCode::kInvalidArgument, "bad port in --listen " + listen);
  }
}

}  // namespace

// Members are declared in start-up order and destroyed in reverse; stop() makes the order of
// shutdown explicit anyway (see the header).
class Node::Impl {
 public:
  NodeOptions options;
  metrics::Registry registry;
  // Handlers block while their writes wait for a group-commit fsync. Running them on a pool
  // lets many requests wait at once (and share one fsync) while the io threads keep reading.
  // Joined in stop() after the server has stopped.
  std::optional<boost::asio::thread_pool> handlers;
  std::unique_ptr<stream::Engine> engine;
  std::unique_ptr<objstore::LocalObjectStore> objects;
  std::unique_ptr<objstore::ObjectStore> remote;  // --firehose-s3-endpoint, if given
  std::unique_ptr<delivery::DeliveryService> delivery;
  std::unique_ptr<table::TableStore> tables;
  std::unique_ptr<process::ProcessService> process;  // functions and mappings (issue 13)
  std::unique_ptr<api::LambdaApi> lambda;            // its Lambda API (/2015-03-31/)
  api::ServiceRegistry services;
  std::unique_ptr<api::S3Api> s3;
  // Requests without X-Amz-Target, tried in order; the first that does not decline answers.
  // S3 is last: it takes everything else.
  std::vector<api::RestHandler> rest_handlers;
  // Observability (issue 14): the metric store, its sampler thread (which also evaluates the
  // alarms), and the CloudWatch API. Stopped after the server, before the stores.
  std::unique_ptr<metrics::MetricStore> metric_store;
  std::unique_ptr<api::CloudWatchApi> cloudwatch;
  std::unique_ptr<metrics::RegistrySampler> sampler;
  std::unique_ptr<dashboard::Dashboard> dashboard;  // GET / without Authorization, /dashboard/
  std::unique_ptr<api::HttpServer> server;
  bool started = false;
  bool stopped = false;

  Status open();
  Status open_streams();
  Status open_objects_and_delivery();
  Status open_tables();
  Status open_observability();
  void open_dashboard();
  Status open_process();
  void add_routes();
};

Status Node::Impl::open_streams() {
  stream::EngineOptions eo;
  eo.data_dir = options.data_dir;
  eo.account_id = options.account_id;
  eo.state_delay_ms = options.state_delay_ms;
  eo.shard_limit = options.shard_limit;
  eo.enforce_limits = options.enforce_limits;
  eo.iterator_lifetime_ms = options.iterator_lifetime_ms;
  eo.durability = options.durability == "os" ? log::Durability::kOs : log::Durability::kFsync;
  eo.segment_bytes = options.segment_mib << 20;
  metrics::Histogram* fsync_ms = registry.histogram(
      "freshet_log_fsync_duration_ms", {}, "Latency of each group-commit fdatasync (ms)");
  metrics::Histogram* round_size = registry.histogram(
      "freshet_log_group_commit_round_appends", {},
      "Appends made durable by one group-commit round");
  eo.on_fsync = [fsync_ms](double ms) { fsync_ms->observe(ms); };
  eo.on_round = [round_size](size_t n) { round_size->observe(static_cast<double>(n)); };
  auto opened = stream::Engine::open(eo);
  if (!opened.ok()) {
    return Error(opened.error().code(),
                 "cannot open data directory " + options.data_dir + ": " +
                     opened.error().message());
  }
  engine = std::move(opened).value();

  api::KinesisApiOptions ko;
  ko.default_region = options.region;
  ko.shard_limit = options.shard_limit;
  ko.enforce_limits = options.enforce_limits;
  ko.subscription_lifetime_ms = options.subscription_lifetime_ms;
  if (Status s = api::register_kinesis(services, *engine, registry, ko); !s.ok()) {
    return Error(s.error().code(), "cannot register the Kinesis API: " + s.error().message());
  }
  return Status();
}

Status Node::Impl::open_objects_and_delivery() {
  // S3 over the local buckets (<data-dir>/s3), for requests without X-Amz-Target.
  objstore::LocalStoreOptions so;
  so.root = options.data_dir + "/s3";
  so.sync = options.durability != "os";
  auto opened = objstore::LocalObjectStore::open(so);
  if (!opened.ok()) {
    return Error(opened.error().code(),
                 "cannot open the object store " + so.root + ": " + opened.error().message());
  }
  objects = std::move(opened).value();
  api::S3ApiOptions s3o;
  s3o.region = options.region;
  s3o.owner_id = options.account_id;
  s3 = std::make_unique<api::S3Api>(*objects, registry, s3o);

  // Firehose: delivery streams buffered under <data-dir>/firehose, delivered to the buckets
  // (or to --firehose-s3-endpoint).
  delivery::DeliveryOptions dopt;
  dopt.root = options.data_dir + "/firehose";
  dopt.store = objects.get();
  if (!options.firehose_s3_endpoint.empty()) {
    objstore::S3StoreOptions ro;
    ro.endpoint = options.firehose_s3_endpoint;
    ro.region = options.firehose_s3_region;
    ro.access_key = options.firehose_s3_access_key;
    ro.secret_key = options.firehose_s3_secret_key;
    auto r = objstore::open_s3_store(ro);
    if (!r.ok()) {
      return Error(r.error().code(),
                   "cannot use the S3 endpoint " + ro.endpoint + ": " + r.error().message());
    }
    remote = std::move(r).value();
    dopt.store = remote.get();
  }
  dopt.engine = engine.get();
  dopt.metrics = &registry;
  dopt.region = options.region;
  dopt.account_id = options.account_id;
  dopt.fsync = options.durability != "os";
  dopt.enforce_limits = options.enforce_limits;
  dopt.create_delay_ms = options.state_delay_ms;
  auto d = delivery::DeliveryService::open(dopt);
  if (!d.ok()) {
    return Error(d.error().code(),
                 "cannot open the delivery streams " + dopt.root + ": " + d.error().message());
  }
  delivery = std::move(d).value();
  if (Status s = api::register_firehose(services, *delivery, registry, {}); !s.ok()) {
    return Error(s.error().code(), "cannot register the Firehose API: " + s.error().message());
  }
  return Status();
}

Status Node::Impl::open_tables() {
  // DynamoDB tables live in <data-dir>/tables (RocksDB), next to the shard logs.
  table::StoreOptions to;
  to.dir = options.data_dir + "/tables";
  to.sync = options.durability != "os";
  to.create_delay_ms = options.state_delay_ms;
  to.ttl_interval_ms = options.table_ttl_interval_ms;
  to.item_collection_limit_bytes = options.table_item_collection_limit_bytes;
  to.on_recount_done = [](const Status& s, double seconds) {
    if (s.ok()) {
      logging::info("tables: item counts recounted after an unclean shutdown in {:.1f} s", seconds);
    } else {
      logging::warn("tables: item counts not recounted ({}); DescribeTable's counts stay "
                   "approximate until the next start",
                   s.error().message());
    }
  };
  auto opened = table::TableStore::open(to);
  if (!opened.ok()) {
    return Error(opened.error().code(),
                 "cannot open table store " + to.dir + ": " + opened.error().message());
  }
  tables = std::move(opened).value();
  if (!tables->stats_exact()) {
    logging::info("tables: the last stop was not clean; item counts are being recounted in the "
                 "background (DescribeTable's are approximate until then)");
  }
  api::DynamoDbApiOptions ddb;
  ddb.default_region = options.region;
  ddb.account_id = options.account_id;
  ddb.endpoint_address = options.listen;
  ddb.enforce_throughput = options.table_enforce_throughput;
  ddb.burst_seconds = options.table_burst_seconds;
  if (Status s = api::register_dynamodb(services, *tables, registry, ddb); !s.ok()) {
    return Error(s.error().code(), "cannot register the DynamoDB API: " + s.error().message());
  }
  return Status();
}

Status Node::Impl::open_observability() {
  if (!options.metric_store) return Status();
  metrics::MetricStoreOptions mo;
  mo.dir = options.data_dir + "/metrics";
  mo.fsync = options.durability != "os";
  auto store = metrics::MetricStore::open(mo);
  if (!store.ok()) {
    return Error(store.error().code(),
                 "cannot open the metric store " + mo.dir + ": " + store.error().message());
  }
  metric_store = std::move(store).value();
  api::CloudWatchApiOptions co;
  co.region = options.region;
  co.account_id = options.account_id;
  co.alarms_file = mo.dir + "/alarms.json";
  co.dashboards_file = mo.dir + "/dashboards.json";
  auto api = api::CloudWatchApi::open(*metric_store, registry, co);
  if (!api.ok()) {
    return Error(api.error().code(), "cannot open the CloudWatch alarms: " + api.error().message());
  }
  cloudwatch = std::move(api).value();
  if (Status s = cloudwatch->register_json(services); !s.ok()) {
    return Error(s.error().code(), "cannot register the CloudWatch API: " + s.error().message());
  }
  api::CloudWatchApi* cw = cloudwatch.get();
  rest_handlers.push_back([cw](api::RestRequest& r) { return cw->handle(r); });
  sampler = std::make_unique<metrics::RegistrySampler>(registry, *metric_store);
  sampler->set_after_tick([cw] { cw->evaluate_alarms(); });
  return Status();
}

void Node::Impl::open_dashboard() {
  dashboard::DashboardSources ds;
  ds.engine = engine.get();
  ds.delivery = delivery.get();
  ds.tables = tables.get();
  ds.objects = objects.get();
  ds.store = metric_store.get();
  ds.cloudwatch = cloudwatch.get();
  ds.process = process.get();
  ds.registry = &registry;
  ds.region = options.region;
  dashboard = std::make_unique<dashboard::Dashboard>(ds);
  dashboard::Dashboard* d = dashboard.get();
  rest_handlers.push_back([d](api::RestRequest& r) { return d->handle(r); });
}

// Functions and event source mappings (<data-dir>/process), reading the streams and writing
// the tables in-process.
Status Node::Impl::open_process() {
  process::ProcessOptions po;
  po.data_dir = options.data_dir;
  po.region = options.region;
  po.account_id = options.account_id;
  po.engine = engine.get();
  po.tables = tables.get();
  po.delivery = delivery.get();
  po.metrics = &registry;
  po.sync = options.durability != "os";
  auto opened = process::ProcessService::open(po);
  if (!opened.ok()) {
    return Error(opened.error().code(), "cannot open the mappings: " + opened.error().message());
  }
  process = std::move(opened).value();
  if (!options.functions_file.empty()) {
    auto fns = process::load_functions_file(options.functions_file);
    if (!fns.ok()) return fns.error();
    if (Status s = process->set_functions(std::move(fns).value()); !s.ok()) return s;
  }
  api::LambdaApiOptions lo;
  lo.region = options.region;
  lo.account_id = options.account_id;
  lambda = std::make_unique<api::LambdaApi>(*process, registry, lo);
  return Status();
}

void Node::Impl::add_routes() {
  stream::Engine& eng = *engine;
  metrics::Registry& reg = registry;
  server->add_get_route("/metrics", [&eng, &reg](std::string_view) {
    export_log_metrics(eng, reg);
    api::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = reg.render_prometheus();
    return r;
  });
  // 503 with the reason while a log, the WAL or the catalog is failed (writes to some or all
  // streams fail with a retryable error until it recovers).
  server->add_get_route("/health", [&eng](std::string_view) {
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
  // Lambda: paths under /2015-03-31/.
  api::LambdaApi* lambda_api = lambda.get();
  rest_handlers.push_back([lambda_api](api::RestRequest& r) { return lambda_api->handle(r); });
  // S3 last: it takes every request the handlers before it declined.
  api::S3Api* s3_api = s3.get();
  rest_handlers.push_back([s3_api](api::RestRequest& r) { return s3_api->handle(r); });
  server->set_rest_handler([this](api::RestRequest& r) -> std::optional<api::RestResponse> {
    for (const api::RestHandler& h : rest_handlers) {
      if (auto resp = h(r)) return resp;
    }
    return std::nullopt;
  });
}

Status Node::Impl::open() {
  auto listen = parse_listen(options.listen);
  if (!listen.ok()) return listen.error();
  api::HttpServerOptions http;
  http.host = listen->first;
  http.port = listen->second;
  http.io_threads = options.io_threads;
  handlers.emplace(static_cast<size_t>(options.handler_threads));
  boost::asio::thread_pool* pool = &*handlers;
  // A handler thread names itself with its first task (never by blocking tasks: the pool's
  // destructor stops it, which would strand a thread waiting for the others).
  http.offload = [pool](std::function<void()> task) {
    boost::asio::post(*pool, [task = std::move(task)] {
      thread_local bool named = false;
      if (!named) {
        name_this_thread("handler");
        named = true;
      }
      task();
    });
  };
  http.read_timeout = std::chrono::milliseconds(options.read_timeout_ms);

  if (Status s = open_streams(); !s.ok()) return s;
  if (Status s = open_objects_and_delivery(); !s.ok()) return s;
  if (Status s = open_tables(); !s.ok()) return s;
  if (Status s = open_observability(); !s.ok()) return s;
  if (Status s = open_process(); !s.ok()) return s;
  open_dashboard();
  server = std::make_unique<api::HttpServer>(http, services, registry);
  add_routes();
  return Status();
}

Result<std::unique_ptr<Node>> Node::open(NodeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (Status s = impl->open(); !s.ok()) {
    impl->stopped = true;
    if (impl->handlers) impl->handlers->join();
    return s.error();
  }
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

Status Node::start() {
  if (impl_->started) return Error(ErrorCode::kResourceInUse, "node already started");
  impl_->started = true;
  impl_->delivery->start();
  if (impl_->sampler) impl_->sampler->start();
  impl_->process->start();
  if (Status s = impl_->server->start(); !s.ok()) {
    return Error(s.error().code(),
                 "cannot listen on " + impl_->options.listen + ": " + s.error().message());
  }
  return Status();
}

uint16_t Node::port() const { return impl_->server->port(); }

std::string Node::endpoint() const {
  auto listen = parse_listen(impl_->options.listen);
  std::string host = listen.ok() ? listen->first : "127.0.0.1";
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  return "http://" + host + ":" + std::to_string(port());
}

void Node::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server->stop();
  impl_->handlers->join();
  if (impl_->sampler) impl_->sampler->stop();  // writes the open minute of metrics
  impl_->lambda.reset();    // drains Event invocations (bounded) before the functions stop
  impl_->process->stop();   // runners stop before the streams and tables they use close
  impl_->delivery->stop();  // buffered records stay in their logs for the next start
  impl_->engine.reset();    // closes every log; all acknowledged writes are already durable
  impl_->tables.reset();    // stops TTL expiry and closes RocksDB
}

stream::Engine& Node::engine() { return *impl_->engine; }
table::TableStore& Node::tables() { return *impl_->tables; }
delivery::DeliveryService& Node::delivery() { return *impl_->delivery; }
api::CloudWatchApi* Node::cloudwatch() { return impl_->cloudwatch.get(); }
objstore::ObjectStore& Node::objects() { return *impl_->objects; }
metrics::Registry& Node::registry() { return impl_->registry; }
process::ProcessService& Node::process() { return *impl_->process; }
const NodeOptions& Node::options() const { return impl_->options; }

}  // namespace freshet::node

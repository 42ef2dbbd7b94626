#include "up_command.h"
#include "env.h"

#include <signal.h>

#include "freshet/common/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench_client.h"
#include "freshet/node/node.h"
#include "freshet/pipeline/plan.h"
#include "freshet/pipeline/spec.h"
#include "freshet/process/service.h"
#include "freshet/produce/producer.h"
#include "produce_sink.h"

namespace freshet::cli {
namespace {

struct UpArgs {
  std::string file;
  bool dry_run = false;
  bool no_producers = false;
  node::NodeOptions node;  // defaults; the file's node: section and the flags given override
  std::string listen, data_dir, region, durability;
  int64_t state_delay_ms = -1;
};

// One producer of the file, run on its own thread until it ends or the node stops.
class RunningProducer {
 public:
  RunningProducer(const pipeline::ProducerSpec& spec, node::Node& n) : spec_(spec), node_(n) {}
  ~RunningProducer() { stop(); }

  Status start() {
    if (!spec_.file.empty()) {
      produce::LineSourceOptions lo;
      lo.path = spec_.file;
      lo.timestamps = spec_.replay;
      auto opened = produce::open_line_source(lo, &skipped_);
      if (!opened.ok()) return opened.status();
      source_ = std::move(opened).value();
    } else {
      produce::GeneratorSourceOptions go;
      (void)produce::parse_tweet_shape(spec_.shape, &go.tweets.shape);  // checked by the parser
      go.tweets.seed = spec_.seed;
      go.tweets.malformed_share = spec_.malformed;
      go.tweets.users = spec_.users;
      go.tweets.hashtags = spec_.hashtags;
      source_ = produce::make_generator_source(go);
    }
    produce::ProducerOptions po;
    po.rate = spec_.rate;
    po.count = spec_.count;
    po.duration_s = spec_.duration_s;
    po.replay_speed = spec_.replay ? spec_.speed : 0;
    po.senders = spec_.senders;
    po.on_progress = [this](const produce::ProducerStats& s, double elapsed, bool final) {
      // A line every 10 s (and at the end), so the terminal stays readable.
      if (!final && static_cast<int64_t>(elapsed + 0.5) % 10 != 0) return;
      uint64_t malformed = 0;
      for (int k = 1; k < produce::kRecordKinds; ++k) malformed += s.by_kind[k];
      std::fprintf(stderr,
                   "producer %s: %s%.0f s, %llu records sent to %s (%llu malformed), %llu failed%s%s\n",
                   spec_.name.c_str(), final ? "done after " : "", elapsed,
                   static_cast<unsigned long long>(s.records), spec_.stream.c_str(),
                   static_cast<unsigned long long>(malformed),
                   static_cast<unsigned long long>(s.failed),
                   s.last_error.empty() ? "" : "; last error: ", s.last_error.c_str());
    };
    if (spec_.via_http) {
      std::string err;
      auto endpoint = bench::Endpoint::parse(node_.endpoint(), &err);
      if (!endpoint) return Error(ErrorCode::kInvalidArgument, err);
      client_.endpoint = *endpoint;
      client_.region = node_.options().region;
      client_.credentials = {env_or("AWS_ACCESS_KEY_ID", "test"),
                             env_or("AWS_SECRET_ACCESS_KEY", "test")};
      po.make_sink = [this]() -> Result<std::unique_ptr<produce::Sink>> {
        return make_http_kinesis_sink(client_, spec_.stream);
      };
    } else {
      po.make_sink = [this]() -> Result<std::unique_ptr<produce::Sink>> {
        return produce::make_engine_sink(node_.engine(), node_.options().region, spec_.stream);
      };
    }
    producer_ = std::make_unique<produce::Producer>(std::move(po));
    thread_ = std::thread([this] {
      if (Status s = producer_->run(*source_); !s.ok()) {
        logging::error("producer {}: {}", spec_.name, s.error().message());
      }
    });
    return Status();
  }

  void stop() {
    if (producer_) producer_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  pipeline::ProducerSpec spec_;
  node::Node& node_;
  bench::ClientOptions client_;
  std::atomic<uint64_t> skipped_{0};
  std::unique_ptr<produce::Source> source_;
  std::unique_ptr<produce::Producer> producer_;
  std::thread thread_;
};

void print_next_steps(const pipeline::PipelineSpec& spec, const node::Node& n) {
  const std::string e = n.endpoint();
  std::printf("\nDashboard: %s/\n", e.c_str());
  std::printf("\nTry (AWS CLI v2, any credentials):\n");
  for (const pipeline::StreamSpec& s : spec.streams) {
    std::printf("  aws --endpoint-url %s kinesis describe-stream-summary --stream-name %s\n",
                e.c_str(), s.name.c_str());
    break;
  }
  for (const pipeline::TableSpec& t : spec.tables) {
    std::printf("  aws --endpoint-url %s dynamodb scan --table-name %s --max-items 5\n", e.c_str(),
                t.name.c_str());
    break;
  }
  for (const pipeline::BucketSpec& b : spec.buckets) {
    std::printf("  aws --endpoint-url %s s3 ls --recursive s3://%s\n", e.c_str(), b.name.c_str());
    break;
  }
  for (const pipeline::DeliverySpec& d : spec.deliveries) {
    std::printf("  aws --endpoint-url %s firehose describe-delivery-stream --delivery-stream-name %s\n",
                e.c_str(), d.name.c_str());
    break;
  }
  if (!spec.mappings.empty()) {
    std::printf("  aws --endpoint-url %s lambda list-event-source-mappings\n", e.c_str());
  }
  for (const pipeline::MappingSpec& m : spec.mappings) {
    if (m.on_failure.empty()) continue;
    std::printf("  aws --endpoint-url %s kinesis get-shard-iterator --stream-name %s --shard-id "
                "shardId-000000000000 --shard-iterator-type TRIM_HORIZON   # then get-records: "
                "the dead letters\n",
                e.c_str(), m.on_failure.c_str());
    break;
  }
  std::printf("  curl -s %s/metrics | grep -i incoming\n", e.c_str());
}

int up(UpArgs& a) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto loaded = pipeline::load_pipeline(a.file);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().message().c_str());
    return 2;
  }
  const pipeline::PipelineSpec& spec = *loaded;
  node::NodeOptions o = a.node;
  const pipeline::NodeSpec& ns = spec.node;
  if (ns.listen) o.listen = *ns.listen;
  if (ns.data_dir) o.data_dir = *ns.data_dir;
  if (ns.region) o.region = *ns.region;
  if (ns.durability) o.durability = *ns.durability;
  if (ns.s3_endpoint) {
    o.firehose_s3_endpoint = *ns.s3_endpoint;
    o.firehose_s3_region = ns.s3_region.value_or("us-east-1");
    o.firehose_s3_access_key = env_or("AWS_ACCESS_KEY_ID", "test");
    o.firehose_s3_secret_key = env_or("AWS_SECRET_ACCESS_KEY", "test");
  }
  if (!a.listen.empty()) o.listen = a.listen;
  if (!a.data_dir.empty()) o.data_dir = a.data_dir;
  if (!a.region.empty()) o.region = a.region;
  if (!a.durability.empty()) o.durability = a.durability;
  if (a.state_delay_ms >= 0) o.state_delay_ms = a.state_delay_ms;

  auto opened = node::Node::open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "freshet up: %s\n", opened.error().message().c_str());
    return opened.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  node::Node& n = **opened;
  pipeline::Targets targets;
  targets.engine = &n.engine();
  targets.tables = &n.tables();
  targets.delivery = &n.delivery();
  targets.buckets = &n.objects();
  targets.process = &n.process();
  targets.cloudwatch = n.cloudwatch();
  targets.region = o.region;
  targets.account_id = o.account_id;
  auto planned = pipeline::plan(spec, targets);
  if (!planned.ok()) {
    std::fprintf(stderr, "freshet up: %s\n", planned.error().message().c_str());
    return 1;
  }
  std::printf("freshet up: %s (pipeline %s, data in %s)\n%s", a.file.c_str(), spec.name.c_str(),
              o.data_dir.c_str(), planned->render().c_str());
  std::fflush(stdout);
  if (!spec.functions.empty()) {
    std::printf("  functions: %zu declared (", spec.functions.size());
    for (size_t i = 0; i < spec.functions.size(); ++i) {
      std::printf("%s%s %s", i == 0 ? "" : ", ", spec.functions[i].name.c_str(),
                  process::kind_name(spec.functions[i].kind));
    }
    std::printf(")\n");
  }
  std::fflush(stdout);
  if (a.dry_run) return 0;

  // Functions are configuration, not state: declared on every start, before the node starts
  // the runners of the mappings it already has.
  if (!spec.functions.empty()) {
    if (Status s = n.process().set_functions(spec.functions); !s.ok()) {
      std::fprintf(stderr, "freshet up: %s\n", s.error().message().c_str());
      return 1;
    }
  }
  if (Status s = n.start(); !s.ok()) {
    std::fprintf(stderr, "freshet up: %s\n", s.error().message().c_str());
    return 1;
  }
  if (Status s = pipeline::apply(*planned, targets); !s.ok()) {
    std::fprintf(stderr, "freshet up: %s\n", s.error().message().c_str());
    n.stop();
    return 1;
  }
  std::vector<std::unique_ptr<RunningProducer>> producers;
  if (!a.no_producers) {
    for (const pipeline::ProducerSpec& p : spec.producers) {
      auto r = std::make_unique<RunningProducer>(p, n);
      if (Status s = r->start(); !s.ok()) {
        std::fprintf(stderr, "freshet up: producer %s: %s\n", p.name.c_str(),
                     s.error().message().c_str());
        for (auto& q : producers) q->stop();
        n.stop();
        return 1;
      }
      std::printf("producer %s: %s to stream %s at %s records/s\n", p.name.c_str(),
                  p.file.empty() ? ("generated " + p.shape + " tweets").c_str() : p.file.c_str(),
                  p.stream.c_str(), p.rate > 0 ? produce::human_count(p.rate).c_str() : "full speed");
      producers.push_back(std::move(r));
    }
  }
  // Tests and scripts read this line to learn the port (with --listen ...:0); it comes after
  // the plan is applied, so everything the file declares exists once it is printed.
  std::printf("freshet: listening on %s (pipeline %s, data in %s)\n", n.endpoint().c_str(),
              spec.name.c_str(), o.data_dir.c_str());
  print_next_steps(spec, n);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  logging::info("signal {}: stopping", sig);
  for (auto& p : producers) p->stop();
  n.stop();
  return 0;
}

}  // namespace

void add_up_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<UpArgs>();
  CLI::App* cmd = app.add_subcommand(
      "up", "Start a node with everything a pipeline file declares (docs/pipeline.md)");
  cmd->add_option("file", a->file, "The pipeline file (YAML)")->required();
  cmd->add_flag("--dry-run", a->dry_run, "Print what would change, change nothing");
  cmd->add_flag("--no-producers", a->no_producers, "Apply the file but start none of its producers");
  cmd->add_option("--listen", a->listen, "HOST:PORT (overrides node.listen; default 127.0.0.1:4567)");
  cmd->add_option("--data-dir", a->data_dir, "Data directory (overrides node.data_dir; default data)");
  cmd->add_option("--region", a->region, "Region (overrides node.region; default us-east-1)");
  cmd->add_option("--durability", a->durability, "fsync or os (overrides node.durability)")
      ->check(CLI::IsMember({"fsync", "os"}));
  cmd->add_option("--state-delay-ms", a->state_delay_ms, "How long CREATING/UPDATING last")
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  cmd->callback([a, exit_code] { *exit_code = up(*a); });
}

}  // namespace freshet::cli

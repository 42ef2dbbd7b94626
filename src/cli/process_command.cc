// `freshet process` (process_command.h).
#include "process_command.h"

#include <signal.h>
#include "freshet/common/logging.h"
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "freshet/process/config.h"
#include "freshet/process/service.h"

namespace freshet::cli {
namespace {

struct ProcessArgs {
  std::string endpoint;
  std::string config;
  std::string worker_id;
  std::string data_dir;
  std::string region = "us-east-1";
  int64_t lease_ms = 10'000;
  int64_t discovery_ms = 1'000;
};

int run_process(const ProcessArgs& a) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto functions = process::load_functions_file(a.config);
  if (!functions.ok()) {
    logging::error("{}", functions.error().message());
    return 2;
  }
  std::vector<process::Mapping> mappings;
  try {
    YAML::Node root = YAML::LoadFile(a.config);
    if (!root["mappings"]) {
      logging::error("{}: a worker's file needs mappings:", a.config);
      return 2;
    }
    auto ms = process::parse_mappings(root["mappings"]);
    if (!ms.ok()) {
      logging::error("{}: {}", a.config, ms.error().message());
      return 2;
    }
    mappings = std::move(ms).value();
  } catch (const YAML::Exception& e) {
    logging::error("{}: {}", a.config, e.what());
    return 2;
  }

  // The worker keeps nothing of its own that matters: checkpoints and leases are on the
  // server. Its mapping catalog lives in a scratch directory unless --data-dir is given.
  std::string dir = a.data_dir;
  bool scratch = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "freshet-worker-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      logging::error("cannot make a scratch directory: {}", std::strerror(errno));
      return 1;
    }
    dir = tmpl;
    scratch = true;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  process::ProcessOptions o;
  o.data_dir = dir;
  o.region = a.region;
  o.endpoint = a.endpoint;
  if (const char* k = std::getenv("AWS_ACCESS_KEY_ID")) o.access_key = k;
  if (const char* k = std::getenv("AWS_SECRET_ACCESS_KEY")) o.secret_key = k;
  o.worker_id = a.worker_id.empty() ? std::string(host) + ":" + std::to_string(getpid())
                                    : a.worker_id;
  o.lease_ms = a.lease_ms;
  o.discovery_interval_ms = a.discovery_ms;
  o.sync = !scratch;
  int rc = 0;
  {
    auto svc = process::ProcessService::open(o);
    if (!svc.ok()) {
      logging::error("{}", svc.error().to_string());
      return 1;
    }
    if (Status s = (*svc)->set_functions(std::move(functions).value()); !s.ok()) {
      logging::error("{}", s.to_string());
      return 2;
    }
    for (process::Mapping& m : mappings) {
      if ((*svc)->get_mapping(m.uuid).ok()) continue;  // kept in --data-dir from a last run
      auto c = (*svc)->create_mapping(m);
      if (!c.ok()) {
        logging::error("mapping {}: {}", m.uuid, c.error().to_string());
        return 1;
      }
    }
    (*svc)->start();
    logging::info("process: worker {} of {}: {} mapping(s)", o.worker_id, a.endpoint,
                 mappings.size());
    std::printf("freshet: worker %s running\n", o.worker_id.c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logging::info("signal {}: stopping", sig);
    (*svc)->stop();
  }
  if (scratch) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}

}  // namespace

void add_process_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<ProcessArgs>();
  CLI::App* cmd = app.add_subcommand(
      "process", "Run functions on a Freshet server's streams as one of several workers");
  cmd->add_option("--endpoint", a->endpoint, "The server, e.g. http://127.0.0.1:4566")
      ->required();
  cmd->add_option("--config", a->config,
                  "A YAML file with functions: and mappings: (docs/process.md, \"Workers\")")
      ->required();
  cmd->add_option("--worker-id", a->worker_id, "This worker's lease owner name (default host:pid)");
  cmd->add_option("--data-dir", a->data_dir, "Keep the mapping catalog here (default: scratch)");
  cmd->add_option("--region", a->region, "The server's region");
  cmd->add_option("--lease-ms", a->lease_ms,
                  "A lease not renewed for this long is taken over by another worker");
  cmd->add_option("--discovery-ms", a->discovery_ms,
                  "How often shards and leases are looked at (renewal, balancing)");
  cmd->callback([a, exit_code] { *exit_code = run_process(*a); });
}

}  // namespace freshet::cli

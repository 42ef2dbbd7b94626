// The live dashboard: a web page at GET / (requests without an Authorization header; S3's
// ListBuckets keeps GET / with one), its assets under /dashboard/ (compiled into the binary),
// and the JSON it polls each second:
//   GET /dashboard/api/state     streams and shards, delivery streams and their latest
//                                objects, tables (item counts, a few items), alarms, functions and
//                                event source mappings (state, records, errors, DLQ'd, age)
//   GET /dashboard/api/metric    one chart: ns, name, dims (Name:Value,...), stat, period,
//                                range (seconds back from now) or start/end; agg=1 sums every
//                                series whose dimensions include the given ones
//   GET /dashboard/api/metrics   the metric catalog (for the metric explorer)
// Module state is read through the modules' in-process interfaces; nothing is cached.
//
// Threads: handle() runs on the server's handler threads, concurrently; the Dashboard holds
// no mutable state.
#pragma once

#include <optional>
#include <string>

#include "freshet/api/cloudwatch.h"
#include "freshet/api/http_server.h"
#include "freshet/metrics/registry.h"
#include "freshet/metrics/store.h"

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
namespace freshet::process {
class ProcessService;
}

namespace freshet::dashboard {

struct DashboardSources {
  stream::Engine* engine = nullptr;
  delivery::DeliveryService* delivery = nullptr;
  table::TableStore* tables = nullptr;
  objstore::ObjectStore* objects = nullptr;  // the local buckets (latest delivered objects)
  metrics::MetricStore* store = nullptr;     // null: charts show "metric store off"
  api::CloudWatchApi* cloudwatch = nullptr;  // alarms
  std::string region = "us-east-1";
  process::ProcessService* process = nullptr;  // functions and event source mappings
  const metrics::Registry* registry = nullptr;  // their counters (invocations, errors, age)
};

class Dashboard {
 public:
  explicit Dashboard(DashboardSources sources) : s_(std::move(sources)) {}
  // Takes GET / without Authorization and GET /dashboard/...; declines everything else.
  std::optional<api::RestResponse> handle(api::RestRequest& request) const;

  // The JSON bodies, for tests.
  std::string state_json() const;
  std::string metric_json(std::string_view query) const;
  std::string metrics_json() const;

 private:
  void functions_json(api::Document& out) const;  // sets "functions" and "mappings"

  DashboardSources s_;
};

// The compiled-in assets (assets.cc, generated from src/dashboard/assets/).
struct Asset {
  std::string_view path;  // "/dashboard/app.js"
  std::string_view content_type;
  std::string_view body;
};
const Asset* find_asset(std::string_view path);

}  // namespace freshet::dashboard

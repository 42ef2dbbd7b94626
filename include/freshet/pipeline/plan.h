// Plan and apply: what a pipeline file asks for, compared with what a node has, as a list of
// changes (like `terraform plan`), and those changes made through the node's in-process
// interfaces (stream::Engine, table::TableStore, delivery::DeliveryService, the buckets).
//
// Idempotent: planning the same file against a node it was applied to gives no changes.
// Resources the node has but the file does not mention are left alone (the plan lists nothing
// for them): a pipeline file adds and changes, it never deletes data. A change the services
// cannot make in place (a table's key schema, a delivery stream's source) is an error in the
// plan, saying what to do instead.
//
// Threads: plan() only reads; apply() runs the changes in order on the caller's thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/pipeline/spec.h"

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
namespace freshet::api {
class CloudWatchApi;
}

namespace freshet::pipeline {

// What plan() and apply() work on (not owned).
struct Targets {
  stream::Engine* engine = nullptr;
  table::TableStore* tables = nullptr;
  delivery::DeliveryService* delivery = nullptr;
  objstore::ObjectStore* buckets = nullptr;  // where `buckets:` are created (the local store)
  process::ProcessService* process = nullptr;  // mappings (functions: set_functions, not planned)
  api::CloudWatchApi* cloudwatch = nullptr;    // alarms (PutMetricAlarm, DescribeAlarms)
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
};

struct Change {
  enum class Kind { kCreate, kUpdate };
  Kind kind = Kind::kCreate;
  std::string resource;  // "stream", "table", "bucket", "delivery stream", "mapping", "alarm"
  std::string name;
  std::vector<std::string> details;  // "shards 2 -> 4", "4 shards, 24 h retention", ...
  std::function<Status(const Targets&)> apply;
};

struct Plan {
  std::vector<Change> changes;
  int unchanged = 0;  // resources already as the file says

  bool empty() const { return changes.empty(); }
  // Terraform-style text: "+ stream tweets (4 shards, ...)", "~ table t: ...", and a summary
  // line "Plan: 2 to add, 1 to change (5 unchanged)." or "No changes: ...".
  std::string render() const;
};

Result<Plan> plan(const PipelineSpec& spec, const Targets& targets);
// Runs each change in order; stops at the first failure, saying which change failed.
Status apply(const Plan& plan, const Targets& targets);

}  // namespace freshet::pipeline

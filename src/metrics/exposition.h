// Internal to src/metrics: what render_prometheus() needs to know of a family's CloudWatch
// origin (sampler.cc holds the CloudWatch names), to name it by Prometheus's conventions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace freshet::metrics {

struct CloudWatchName {
  std::string ns;    // "AWS/Kinesis"
  std::string name;  // "PutRecords.Latency"
  std::string unit;  // "Milliseconds", "Seconds", "Bytes", "Count"
};
// The CloudWatch metric a registry family records (freshet_<ns>_<Name>), or nullopt.
std::optional<CloudWatchName> cloudwatch_name_of(std::string_view family);

}  // namespace freshet::metrics

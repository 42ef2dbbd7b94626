// The CloudWatch API (cloudwatch-2010-08-01) over the metric store, in its three protocols:
//   AWS Query        POST / with a form body Action=...&Version=2010-08-01; XML answers
//                    (the AWS CLI v2 up to its 2.2x releases)
//   Smithy RPC v2    POST /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies,
//   CBOR             header smithy-protocol: rpc-v2-cbor (boto3 1.40 and later)
//   JSON 1.0         X-Amz-Target: GraniteServiceVersion20100801.<Op> (through the
//                    ServiceRegistry like every JSON service)
// Every protocol decodes to the same Document and runs the same operation; errors carry
// CloudWatch's Query codes (InvalidParameterValue, MissingParameter, ...), sent in the
// x-amzn-query-error header for JSON and CBOR as CloudWatch does (awsQueryCompatible).
//
// Operations: PutMetricData, GetMetricStatistics, GetMetricData (MetricStat and metric math:
// arithmetic, SUM, AVG, MIN, MAX, RATE, FILL), ListMetrics, and alarms (PutMetricAlarm,
// DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, SetAlarmState, DescribeAlarmHistory,
// EnableAlarmActions, DisableAlarmActions) evaluated by evaluate_alarms(), and dashboards
// (PutDashboard, GetDashboard, ListDashboards, DeleteDashboards).
//
// Threads: handle() and the registered handlers run on the server's handler threads and may
// run concurrently; the store has its own lock, the alarms theirs (alarms_mu_ inside).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "freshet/api/document.h"
#include "freshet/api/http_server.h"
#include "freshet/api/service.h"
#include "freshet/common/clock.h"
#include "freshet/common/result.h"
#include "freshet/metrics/registry.h"
#include "freshet/metrics/store.h"

namespace freshet::api {

struct CloudWatchApiOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  std::string alarms_file;  // where alarms are kept (JSON, replaced atomically); "" = memory
  std::string dashboards_file;  // where dashboards are kept (the same way); "" = memory
  std::shared_ptr<const Clock> clock;  // default: the system clock
};

// A CloudWatch error: the Query code ("InvalidParameterValue"), the shape name
// ("InvalidParameterValueException"), the HTTP status.
struct CloudWatchError {
  std::string code;
  std::string shape;
  int status = 400;
  std::string message;
  bool sender = true;
  // Members added to the error body in JSON and CBOR (a map, or null): PutDashboard's
  // dashboardValidationMessages.
  Document extra = {};
};

class CloudWatchApi {
 public:
  static Result<std::unique_ptr<CloudWatchApi>> open(metrics::MetricStore& store,
                                                     metrics::Registry& registry,
                                                     CloudWatchApiOptions options);
  ~CloudWatchApi();
  CloudWatchApi(const CloudWatchApi&) = delete;
  CloudWatchApi& operator=(const CloudWatchApi&) = delete;

  // Adds GraniteServiceVersion20100801 (JSON 1.0) to the registry.
  Status register_json(ServiceRegistry& services);
  // Takes Query POSTs (a form body with Action=) and RPC v2 CBOR paths; declines the rest.
  std::optional<RestResponse> handle(RestRequest& request);

  // Runs one operation on a decoded input (a map). The result is a map (the output shape).
  using Outcome = std::variant<Document, CloudWatchError>;
  Outcome call(std::string_view operation, const Document& input);

  // Evaluates every alarm against the store (called once a second by the owner's thread;
  // each alarm is evaluated when a period of its has ended).
  void evaluate_alarms();

  class Impl;

 private:
  explicit CloudWatchApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Exposed for tests: the Query protocol's form decoding ("A.member.1.B=x" -> {A: [{B: x}]})
// and the XML rendering of an output Document.
Result<Document> decode_query_form(std::string_view body, std::string& action);
std::string render_query_xml(std::string_view operation, const Document& output,
                             std::string_view request_id);

}  // namespace freshet::api

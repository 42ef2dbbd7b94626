// The Lambda API subset (REST-JSON under /2015-03-31/, lambda-2015-03-31.json) over
// process::ProcessService: ListFunctions, GetFunction, GetFunctionConfiguration, Invoke
// (RequestResponse, Event, DryRun; LogType Tail), and Create/Get/List/Update/Delete
// EventSourceMapping, with Lambda's errors (X-Amzn-ErrorType header, {"Type","message"} body).
//
// Reached through the node's ordered RestHandlers: handle() takes paths under /2015-03-31/
// and declines everything else (nullopt).
//
// Threads: handle() runs on the server's handler pool and may block (an Invoke waits for
// the function). Event invocations go to a bounded queue run by one thread owned by LambdaApi
// (started by the constructor, stopped and joined by the destructor after the queue drains
// or 10 s pass); a full queue answers TooManyRequestsException.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "freshet/api/http_server.h"
#include "freshet/metrics/registry.h"
#include "freshet/process/service.h"

namespace freshet::api {

struct LambdaApiOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  size_t event_queue_limit = 1000;  // Event invocations waiting
};

class LambdaApi {
 public:
  LambdaApi(process::ProcessService& service, metrics::Registry& metrics,
            LambdaApiOptions options);
  ~LambdaApi();
  LambdaApi(const LambdaApi&) = delete;
  LambdaApi& operator=(const LambdaApi&) = delete;

  std::optional<RestResponse> handle(RestRequest& req);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::api

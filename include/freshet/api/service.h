// Services and operations reachable through `X-Amz-Target: <TargetPrefix>.<Operation>`.
//
// A ServiceRegistry is filled before HttpServer::start() and must not be changed afterwards:
// the server reads it from all io threads without locks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "freshet/api/aws_error.h"
#include "freshet/api/codec.h"
#include "freshet/api/document.h"
#include "freshet/common/result.h"

namespace freshet::api {

// Everything a handler gets. Owned by the connection for the duration of one call.
struct RequestContext {
  std::string_view target_prefix;  // "Kinesis_20131202"
  std::string_view service;        // metrics label, "kinesis"
  std::string_view operation;      // "PutRecords"
  Document input;                  // a map; blobs/timestamps already converted per the shape
  std::string region;              // from the SigV4 credential scope ("" if not given)
  std::string access_key_id;       // from the SigV4 credential scope ("" if not given)
  std::string request_id;          // UUID v4, also sent as x-amzn-RequestId
  Protocol protocol = Protocol::kJson;
  std::string remote_address;  // peer "ip:port"
};

// Runs on an io thread (see HttpServer) unless an offload executor is configured. May block
// briefly (e.g. waiting for a group-commit fsync). Must be thread-safe: the same handler is
// called concurrently from several io threads.
using Handler = std::function<ApiResult(RequestContext&)>;

// A handler that answers later without holding a thread meanwhile (e.g. until a group-commit
// fsync covers its write). It must call respond exactly once, from any thread; respond is
// quick (the server posts the response to the connection's strand). The context lives until
// respond has been called. The synchronous part runs on an io thread, so it must not block.
using Responder = std::function<void(ApiResult)>;
using AsyncHandler = std::function<void(RequestContext&, Responder)>;

// An optional fast path of an asynchronous operation for JSON requests: it gets the raw body
// (ctx.input stays null) and either takes the request (returns true, and answers through
// respond, which it may move from) or declines (returns false, having done nothing, and the
// request goes the decoded way). It must take only requests it answers exactly as the
// decoded path would: e.g. a PutRecords whose every member is present and valid.
using RawHandler = std::function<bool(RequestContext&, std::string_view body, Responder&)>;

// Exactly one of handler and async_handler is set; raw_handler only with async_handler.
struct Operation {
  std::string name;
  ShapeHint input_shape;
  Handler handler;
  AsyncHandler async_handler;
  RawHandler raw_handler;
};

struct Service {
  std::string target_prefix;
  std::string name;  // metrics label
  std::map<std::string, Operation, std::less<>> operations;
};

class ServiceRegistry {
 public:
  // Fails with kAlreadyExists on a duplicate prefix.
  Status add_service(std::string target_prefix, std::string name);
  // Fails with kNotFound for an unknown prefix, kAlreadyExists for a duplicate operation,
  // kInvalidArgument for an empty handler.
  Status add_operation(std::string_view target_prefix, std::string name, ShapeHint input_shape,
                       Handler handler);
  Status add_async_operation(std::string_view target_prefix, std::string name,
                             ShapeHint input_shape, AsyncHandler handler,
                             RawHandler raw_handler = nullptr);

  struct Lookup {
    const Service* service = nullptr;
    const Operation* operation = nullptr;
  };
  // target = X-Amz-Target header value. Both null if the prefix is unknown; operation null if
  // the operation is unknown.
  Lookup find(std::string_view target) const;

  const std::map<std::string, Service, std::less<>>& services() const { return services_; }

 private:
  std::map<std::string, Service, std::less<>> services_;
};

}  // namespace freshet::api

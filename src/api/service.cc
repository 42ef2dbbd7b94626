#include "freshet/api/service.h"

namespace freshet::api {

Status ServiceRegistry::add_service(std::string target_prefix, std::string name) {
  if (services_.count(target_prefix)) {
    return Error(ErrorCode::kAlreadyExists, "service " + target_prefix + " already registered");
  }
  Service s{target_prefix, std::move(name), {}};
  services_.emplace(std::move(target_prefix), std::move(s));
  return Status();
}

namespace {

Status add(std::map<std::string, Service, std::less<>>& services, std::string_view target_prefix,
           Operation op) {
  auto it = services.find(target_prefix);
  if (it == services.end()) {
    return Error(ErrorCode::kNotFound, "unknown service " + std::string(target_prefix));
  }
  if (!op.handler && !op.async_handler) {
    return Error(ErrorCode::kInvalidArgument, "empty handler for " + op.name);
  }
  if (it->second.operations.count(op.name)) {
    return Error(ErrorCode::kAlreadyExists, "operation " + op.name + " already registered");
  }
  std::string name = op.name;
  it->second.operations.emplace(std::move(name), std::move(op));
  return Status();
}

}  // namespace

Status ServiceRegistry::add_operation(std::string_view target_prefix, std::string name,
                                      ShapeHint input_shape, Handler handler) {
  return add(services_, target_prefix,
             Operation{std::move(name), std::move(input_shape), std::move(handler), nullptr,
                       nullptr});
}

Status ServiceRegistry::add_async_operation(std::string_view target_prefix, std::string name,
                                            ShapeHint input_shape, AsyncHandler handler,
                                            RawHandler raw_handler) {
  if (!handler && raw_handler) {
    return Error(ErrorCode::kInvalidArgument, "a raw handler needs an async handler: " + name);
  }
  return add(services_, target_prefix,
             Operation{std::move(name), std::move(input_shape), nullptr, std::move(handler),
                       std::move(raw_handler)});
}

ServiceRegistry::Lookup ServiceRegistry::find(std::string_view target) const {
  Lookup result;
  size_t dot = target.rfind('.');
  if (dot == std::string_view::npos) return result;
  auto sit = services_.find(target.substr(0, dot));
  if (sit == services_.end()) return result;
  result.service = &sit->second;
  auto oit = sit->second.operations.find(target.substr(dot + 1));
  if (oit != sit->second.operations.end()) result.operation = &oit->second;
  return result;
}

}  // namespace freshet::api

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

Status ServiceRegistry::add_operation(std::string_view target_prefix, std::string name,
                                      ShapeHint input_shape, Handler handler) {
  auto it = services_.find(target_prefix);
  if (it == services_.end()) {
    return Error(ErrorCode::kNotFound, "unknown service " + std::string(target_prefix));
  }
  if (!handler) return Error(ErrorCode::kInvalidArgument, "empty handler for " + name);
  if (it->second.operations.count(name)) {
    return Error(ErrorCode::kAlreadyExists, "operation " + name + " already registered");
  }
  Operation op{name, std::move(input_shape), std::move(handler)};
  it->second.operations.emplace(std::move(name), std::move(op));
  return Status();
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

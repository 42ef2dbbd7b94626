// CloudWatch dashboards: PutDashboard, GetDashboard, ListDashboards, DeleteDashboards.
//
// A dashboard is a name (1 to 255 of A-Z a-z 0-9 - _) and a DashboardBody: a JSON object with
// a `widgets` array (0 to 500 widgets, each with a known `type`, a `properties` object and
// x, y, width, height in CloudWatch's grid ranges). A body that breaks these rules is refused
// with InvalidParameterInput (DashboardInvalidInputError) carrying one
// DashboardValidationMessage (DataPath, Message) per problem; nothing is stored.
//
// Durability: every dashboard is kept in memory and in one JSON file (<data-dir>/metrics/
// dashboards.json, format in docs/format.md), replaced atomically (temp file, fsync, rename,
// fsync of the directory) before PutDashboard or DeleteDashboards answers. A failed write
// answers InternalServiceError and leaves memory as it was.
//
// Threads: every method may be called from any thread; mu_ guards the map and the file.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/api/cloudwatch.h"
#include "freshet/common/clock.h"

namespace freshet::api::cloudwatch {

class DashboardBook {
 public:
  // file "" keeps dashboards in memory only (tests).
  static Result<std::unique_ptr<DashboardBook>> open(std::string file, std::string account,
                                                     std::shared_ptr<const Clock> clock);
  static const std::vector<std::string_view>& operations();
  bool handles(std::string_view op) const;
  CloudWatchApi::Outcome call(std::string_view op, const Document& in);

  static constexpr size_t kMaxBodyBytes = 1 << 20;  // per dashboard
  static constexpr size_t kMaxDashboards = 5000;
  static constexpr size_t kMaxWidgets = 500;

 private:
  struct Dashboard {
    std::string body;
    int64_t last_modified_ms = 0;
  };
  DashboardBook(std::string file, std::string account, std::shared_ptr<const Clock> clock)
      : file_(std::move(file)), account_(std::move(account)), clock_(std::move(clock)) {}
  Status load();
  // Writes `all` to the file (atomically). REQUIRES: mu_ held.
  Status save_locked(const std::map<std::string, Dashboard>& all) const;
  std::string arn(std::string_view name) const;

  CloudWatchApi::Outcome put(const Document& in);
  CloudWatchApi::Outcome get(const Document& in);
  CloudWatchApi::Outcome list(const Document& in);
  CloudWatchApi::Outcome remove(const Document& in);

  const std::string file_;
  const std::string account_;
  std::shared_ptr<const Clock> clock_;
  std::mutex mu_;
  std::map<std::string, Dashboard> dashboards_;  // GUARDED_BY(mu_), by name
};

// The problems of a DashboardBody, as (DataPath, Message) pairs; empty when it is valid.
std::vector<std::pair<std::string, std::string>> validate_dashboard_body(std::string_view body);

}  // namespace freshet::api::cloudwatch

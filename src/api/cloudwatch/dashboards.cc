#include "dashboards.h"

#include <algorithm>
#include <charconv>

#include "cloudwatch_internal.h"
#include "freshet/api/codec.h"
#include "freshet/common/file.h"

namespace freshet::api::cloudwatch {
namespace {

constexpr size_t kListPage = 1000;  // ListDashboards: up to 1000 results a page
constexpr size_t kMaxDelete = 100;  // DeleteDashboards: up to 100 names

bool valid_name(std::string_view n, bool allow_dot) {
  if (n.empty() || n.size() > 255) return false;
  return std::all_of(n.begin(), n.end(), [allow_dot](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || (allow_dot && c == '.');
  });
}

CloudWatchError dashboard_invalid(
    std::string message, const std::vector<std::pair<std::string, std::string>>& problems) {
  CloudWatchError e{"InvalidParameterInput", "DashboardInvalidInputError", 400, std::move(message)};
  if (!problems.empty()) {
    Document list = Document::make_list();
    for (const auto& [path, msg] : problems) {
      list.push_back(Document(Map{{"DataPath", path}, {"Message", msg}}));
    }
    e.extra = Document(Map{{"dashboardValidationMessages", std::move(list)}});
  }
  return e;
}

CloudWatchError dashboard_not_found(std::string message) {
  return {"ResourceNotFound", "DashboardNotFoundError", 404, std::move(message)};
}

// An integer member of a widget within [lo, hi], if present.
void check_int(const Document& w, std::string_view key, int64_t lo, int64_t hi,
               const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  const Document* v = w.find(key);
  if (v == nullptr) return;
  const bool integral =
      v->is_int() ||
      (v->is_double() && v->as_double() == static_cast<double>(to_i64(v->as_double())));
  const int64_t n = v->is_int() ? v->as_int() : v->is_double() ? to_i64(v->as_double()) : 0;
  if (!integral) {
    out.emplace_back(path + "/" + std::string(key), "Should be integer");
  } else if (n < lo || n > hi) {
    out.emplace_back(path + "/" + std::string(key),
                     "Should be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> validate_dashboard_body(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  DecodeLimits limits;
  limits.max_input_bytes = DashboardBook::kMaxBodyBytes;
  limits.max_depth = 32;
  Result<Document> doc = decode_json(body, limits);
  if (!doc.ok() || !doc->is_map()) {
    out.emplace_back("", "The field DashboardBody must be a valid JSON object");
    return out;
  }
  const Document* widgets = doc->find("widgets");
  if (widgets == nullptr) {
    out.emplace_back("", "Should have required property 'widgets'");
    return out;
  }
  if (!widgets->is_list()) {
    out.emplace_back("/widgets", "Should be array");
    return out;
  }
  if (widgets->as_list().size() > DashboardBook::kMaxWidgets) {
    out.emplace_back("/widgets", "Should NOT have more than " +
                                     std::to_string(DashboardBook::kMaxWidgets) + " items");
    return out;
  }
  static const std::vector<std::string_view> kTypes = {"metric", "text",     "log",
                                                       "alarm",  "explorer", "custom"};
  for (size_t i = 0; i < widgets->as_list().size(); ++i) {
    const Document& w = widgets->as_list()[i];
    const std::string path = "/widgets/" + std::to_string(i);
    if (!w.is_map()) {
      out.emplace_back(path, "Should be object");
      continue;
    }
    const Document* type = w.find("type");
    if (type == nullptr) {
      out.emplace_back(path, "Should have required property 'type'");
    } else if (!type->is_string() ||
               std::find(kTypes.begin(), kTypes.end(), type->as_string()) == kTypes.end()) {
      out.emplace_back(path + "/type",
                       "Should be equal to one of the allowed values: metric, text, log, alarm, "
                       "explorer, custom");
    }
    const Document* props = w.find("properties");
    if (props == nullptr) {
      out.emplace_back(path, "Should have required property 'properties'");
    } else if (!props->is_map()) {
      out.emplace_back(path + "/properties", "Should be object");
    } else if (type != nullptr && type->is_string() && type->as_string() == "text" &&
               props->find("markdown") == nullptr) {
      out.emplace_back(path + "/properties", "Should have required property 'markdown'");
    } else if (type != nullptr && type->is_string() && type->as_string() == "metric") {
      const Document* m = props->find("metrics");
      if (m != nullptr && !m->is_list())
        out.emplace_back(path + "/properties/metrics", "Should be array");
    }
    check_int(w, "x", 0, 23, path, out);
    check_int(w, "y", 0, 1'000'000, path, out);
    check_int(w, "width", 1, 24, path, out);
    check_int(w, "height", 1, 1000, path, out);
    if (out.size() >= 100) break;  // bounded answer
  }
  return out;
}

Result<std::unique_ptr<DashboardBook>> DashboardBook::open(std::string file, std::string account,
                                                           std::shared_ptr<const Clock> clock) {
  if (!clock) clock = std::make_shared<SystemClock>();
  std::unique_ptr<DashboardBook> b(
      new DashboardBook(std::move(file), std::move(account), std::move(clock)));
  FRESHET_RETURN_IF_ERROR(b->load());
  return b;
}

const std::vector<std::string_view>& DashboardBook::operations() {
  static const std::vector<std::string_view> kOps = {"PutDashboard", "GetDashboard",
                                                     "ListDashboards", "DeleteDashboards"};
  return kOps;
}

bool DashboardBook::handles(std::string_view op) const {
  const auto& ops = operations();
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

CloudWatchApi::Outcome DashboardBook::call(std::string_view op, const Document& in) {
  if (op == "PutDashboard") return put(in);
  if (op == "GetDashboard") return get(in);
  if (op == "ListDashboards") return list(in);
  return remove(in);
}

std::string DashboardBook::arn(std::string_view name) const {
  // Dashboards are global: no region in the ARN.
  return "arn:aws:cloudwatch::" + account_ + ":dashboard/" + std::string(name);
}

// File: {"version":1,"dashboards":[{"name":..,"body":..,"last_modified_ms":..}, ...]}
Status DashboardBook::load() {
  if (file_.empty()) return {};
  auto fs = posix_file_system();
  if (!fs->exists(file_)) return {};
  FRESHET_ASSIGN_OR_RETURN(auto f, fs->open(file_, OpenMode::kReadOnly));
  FRESHET_ASSIGN_OR_RETURN(uint64_t size, f->size());
  const uint64_t max = uint64_t{kMaxDashboards} * (kMaxBodyBytes + 1024);
  if (size > max) return Error(ErrorCode::kCorruption, file_ + " is implausibly large");
  std::string text(size, '\0');
  FRESHET_ASSIGN_OR_RETURN(size_t got, f->read_at(text.data(), size, 0));
  text.resize(got);
  DecodeLimits limits;
  limits.max_input_bytes = max;
  limits.max_nodes = 4 * kMaxDashboards + 16;
  Result<Document> doc = decode_json(text, limits);
  if (!doc.ok()) return Error(ErrorCode::kCorruption, file_ + ": " + doc.error().message());
  const Document* v = doc->find("version");
  const Document* list = doc->find("dashboards");
  if (v == nullptr || !v->is_int() || v->as_int() != 1 || list == nullptr || !list->is_list()) {
    return Error(ErrorCode::kCorruption, file_ + ": not a version 1 dashboards file");
  }
  for (const Document& d : list->as_list()) {
    const Document* name = d.find("name");
    const Document* body = d.find("body");
    const Document* t = d.find("last_modified_ms");
    if (name == nullptr || !name->is_string() || body == nullptr || !body->is_string() ||
        t == nullptr || !t->is_int()) {
      return Error(ErrorCode::kCorruption, file_ + ": a dashboard without name, body or time");
    }
    dashboards_[name->as_string()] = Dashboard{body->as_string(), t->as_int()};
  }
  return {};
}

Status DashboardBook::save_locked(const std::map<std::string, Dashboard>& all) const {
  if (file_.empty()) return {};
  Document list = Document::make_list();
  for (const auto& [name, d] : all) {
    list.push_back(
        Document(Map{{"name", name}, {"body", d.body}, {"last_modified_ms", d.last_modified_ms}}));
  }
  const std::string text =
      encode_json(Document(Map{{"version", 1}, {"dashboards", std::move(list)}}));
  auto fs = posix_file_system();
  const std::string tmp = file_ + ".tmp";
  FRESHET_ASSIGN_OR_RETURN(auto f, fs->open(tmp, OpenMode::kCreate));
  FRESHET_RETURN_IF_ERROR(f->truncate(0));
  FRESHET_RETURN_IF_ERROR(f->write_at(text.data(), text.size(), 0));
  FRESHET_RETURN_IF_ERROR(f->sync());
  f.reset();
  FRESHET_RETURN_IF_ERROR(fs->rename(tmp, file_));
  const size_t slash = file_.rfind('/');
  return fs->sync_dir(slash == std::string::npos ? "." : file_.substr(0, slash));
}

CloudWatchApi::Outcome DashboardBook::put(const Document& in) {
  auto name = get_str(in, "DashboardName");
  if (!name.ok()) return invalid_value(name.error().message());
  if (!*name) return missing("DashboardName");
  auto body = get_str(in, "DashboardBody");
  if (!body.ok()) return invalid_value(body.error().message());
  if (!*body) return missing("DashboardBody");
  if (!valid_name(**name, false)) {
    return dashboard_invalid(
        "The value for field DashboardName contains invalid characters. It can only contain "
        "alphanumerics, dash (-) and underscore (_).",
        {{"", "DashboardName must be 1 to 255 of A-Z, a-z, 0-9, - and _"}});
  }
  if ((*body)->size() > kMaxBodyBytes) {
    return dashboard_invalid(
        "The dashboard body is invalid, there are 1 validation errors",
        {{"", "The dashboard body is larger than " + std::to_string(kMaxBodyBytes) + " bytes"}});
  }
  const auto problems = validate_dashboard_body(**body);
  if (!problems.empty()) {
    // CloudWatch's message lists the problems as JSON after a count.
    Document list = Document::make_list();
    for (const auto& [path, msg] : problems) {
      list.push_back(Document(Map{{"dataPath", path}, {"message", msg}}));
    }
    return dashboard_invalid("The dashboard body is invalid, there are " +
                                 std::to_string(problems.size()) +
                                 " validation errors: " + encode_json(list),
                             problems);
  }
  std::lock_guard lock(mu_);
  auto next = dashboards_;
  if (!next.contains(**name) && next.size() >= kMaxDashboards) {
    return limit_exceeded("This account holds " + std::to_string(kMaxDashboards) +
                          " dashboards already.");
  }
  next[**name] = Dashboard{**body, clock_->now_ms()};
  if (Status s = save_locked(next); !s.ok()) return internal("Cannot store the dashboard.");
  dashboards_ = std::move(next);
  Document out = Document::make_map();
  out.set("DashboardValidationMessages", Document::make_list());
  return out;
}

CloudWatchApi::Outcome DashboardBook::get(const Document& in) {
  auto name = get_str(in, "DashboardName");
  if (!name.ok()) return invalid_value(name.error().message());
  if (!*name) return missing("DashboardName");
  std::lock_guard lock(mu_);
  auto it = dashboards_.find(**name);
  if (it == dashboards_.end())
    return dashboard_not_found("Dashboard " + **name + " does not exist");
  Document out = Document::make_map();
  out.set("DashboardArn", arn(it->first))
      .set("DashboardBody", it->second.body)
      .set("DashboardName", it->first);
  return out;
}

CloudWatchApi::Outcome DashboardBook::list(const Document& in) {
  auto prefix = get_str(in, "DashboardNamePrefix");
  if (!prefix.ok()) return invalid_value(prefix.error().message());
  if (*prefix && !(*prefix)->empty() && !valid_name(**prefix, true)) {
    return invalid_value(
        "The value for field DashboardNamePrefix contains invalid characters. It can only "
        "contain alphanumerics, dot (.), dash (-) and underscore (_).");
  }
  auto token = get_str(in, "NextToken");
  if (!token.ok()) return invalid_value(token.error().message());
  std::lock_guard lock(mu_);
  // The token is the last name of the previous page: pages stay right when dashboards are
  // added or deleted between calls.
  auto it = *token ? dashboards_.upper_bound(**token) : dashboards_.begin();
  const std::string p = prefix->value_or("");
  if (!p.empty() && (!*token || **token < p)) it = dashboards_.lower_bound(p);
  Document entries = Document::make_list();
  std::string last;
  size_t n = 0;
  for (; it != dashboards_.end() && it->first.starts_with(p); ++it) {
    if (n == kListPage) break;
    entries.push_back(
        Document(Map{{"DashboardName", it->first},
                     {"DashboardArn", arn(it->first)},
                     {"LastModified", Document::timestamp_ms(it->second.last_modified_ms)},
                     {"Size", static_cast<int64_t>(it->second.body.size())}}));
    last = it->first;
    ++n;
  }
  Document out = Document::make_map();
  out.set("DashboardEntries", std::move(entries));
  if (it != dashboards_.end() && it->first.starts_with(p)) out.set("NextToken", last);
  return out;
}

CloudWatchApi::Outcome DashboardBook::remove(const Document& in) {
  auto items = get_items(in, "DashboardNames");
  if (!items.ok()) return invalid_value(items.error().message());
  if (*items == nullptr || (*items)->empty()) return missing("DashboardNames");
  if ((*items)->size() > kMaxDelete) {
    return invalid_value("The collection DashboardNames must not have more than 100 members.");
  }
  std::vector<std::string> names;
  for (const Document& d : **items) {
    if (!d.is_string()) return invalid_value("The members of DashboardNames must be strings.");
    names.push_back(d.as_string());
  }
  std::lock_guard lock(mu_);
  auto next = dashboards_;
  std::string missing_names;
  for (const std::string& n : names) {
    if (next.erase(n) == 0 && dashboards_.find(n) == dashboards_.end()) {
      missing_names += missing_names.empty() ? n : ", " + n;
    }
  }
  // As CloudWatch does: the dashboards that exist are deleted even when others do not.
  if (next.size() != dashboards_.size()) {
    if (Status s = save_locked(next); !s.ok()) return internal("Cannot delete the dashboards.");
    dashboards_ = std::move(next);
  }
  if (!missing_names.empty()) {
    return dashboard_not_found("Dashboards not found: " + missing_names);
  }
  return Document::make_map();
}

}  // namespace freshet::api::cloudwatch

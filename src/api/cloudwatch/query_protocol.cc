// The AWS Query protocol: form-encoded requests, XML responses.
#include <charconv>
#include <cmath>
#include <ctime>

#include "cloudwatch_internal.h"
#include "freshet/api/cloudwatch.h"

namespace freshet::api {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) {
        return Error(ErrorCode::kInvalidArgument, "bad percent escape");
      }
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void xml_escape(std::string_view s, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
}

void render_value(std::string_view name, const Document& v, std::string& out);

void render_members(const Document& map, std::string& out) {
  for (const Member& m : map.as_map()) render_value(m.key, m.value, out);
}

// Members whose value is an AWS map (entry/key/value), not a structure.
bool is_aws_map(std::string_view name) { return name == "ExtendedStatistics"; }

void render_value(std::string_view name, const Document& v, std::string& out) {
  if (v.is_null()) return;
  out += '<';
  out += name;
  out += '>';
  switch (v.type()) {
    case Document::Type::kBool:
      out += v.as_bool() ? "true" : "false";
      break;
    case Document::Type::kInt:
      out += std::to_string(v.as_int());
      break;
    case Document::Type::kDouble:
      out += cloudwatch::format_double(v.as_double());
      break;
    case Document::Type::kString:
      xml_escape(v.as_string(), out);
      break;
    case Document::Type::kBlob:
      xml_escape(v.as_blob(), out);
      break;
    case Document::Type::kTimestamp:
      out += cloudwatch::iso8601(v.as_timestamp_ms());
      break;
    case Document::Type::kList:
      for (const Document& e : v.as_list()) render_value("member", e, out);
      break;
    case Document::Type::kMap:
      if (is_aws_map(name)) {
        for (const Member& m : v.as_map()) {
          out += "<entry><key>";
          xml_escape(m.key, out);
          out += "</key>";
          render_value("value", m.value, out);
          out += "</entry>";
        }
      } else {
        render_members(v, out);
      }
      break;
    case Document::Type::kNull:
      break;
  }
  out += "</";
  out += name;
  out += '>';
}

}  // namespace

namespace cloudwatch {

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string iso8601(int64_t ms) {
  const time_t t = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  const int64_t frac = ((ms % 1000) + 1000) % 1000;
  if (frac != 0) {
    char f[8];
    std::snprintf(f, sizeof(f), ".%03d", static_cast<int>(frac));
    out += f;
  }
  out += 'Z';
  return out;
}

Result<int64_t> parse_iso8601(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]; also plain epoch seconds.
  if (!s.empty() && s.find('-') == std::string_view::npos) {
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
      return cloudwatch::to_i64(v * 1000);
    }
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + pos + len;
  };
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d)) {
    return Error(ErrorCode::kInvalidArgument, "bad timestamp");
  }
  size_t pos = 10;
  int64_t frac_ms = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    if (!num(pos + 1, 2, h) || s.size() < pos + 9 || s[pos + 3] != ':' || !num(pos + 4, 2, mi) ||
        s[pos + 6] != ':' || !num(pos + 7, 2, se)) {
      return Error(ErrorCode::kInvalidArgument, "bad timestamp");
    }
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac_ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
    }
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0, om = 0;
      if (!num(pos + 1, 2, oh)) return Error(ErrorCode::kInvalidArgument, "bad timestamp");
      size_t p = pos + 3;
      if (p < s.size() && s[p] == ':') ++p;
      if (p < s.size() && !num(p, 2, om))
        return Error(ErrorCode::kInvalidArgument, "bad timestamp");
      if (p < s.size()) p += 2;
      offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
      pos = p;
    }
  }
  if (pos != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return Error(ErrorCode::kInvalidArgument, "bad timestamp");
  }
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  const int64_t t = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return t * 1000 + frac_ms;
}

}  // namespace cloudwatch

Result<Document> decode_query_form(std::string_view body, std::string& action) {
  Document root = Document::make_map();
  size_t params = 0;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    if (++params > 20'000) return Error(ErrorCode::kInvalidArgument, "too many parameters");
    const size_t eq = pair.find('=');
    FRESHET_ASSIGN_OR_RETURN(std::string key, url_decode(pair.substr(0, eq)));
    FRESHET_ASSIGN_OR_RETURN(std::string value,
                             url_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1)));
    if (key == "Action") {
      action = value;
      continue;
    }
    if (key == "Version") continue;
    // Walk "A.member.1.B" creating maps and lists.
    Document* cur = &root;
    std::string_view rest = key;
    int depth = 0;
    while (true) {
      if (++depth > 16) return Error(ErrorCode::kInvalidArgument, "parameter nested too deeply");
      const size_t dot = rest.find('.');
      const std::string_view seg = rest.substr(0, dot);
      if (seg.empty()) return Error(ErrorCode::kInvalidArgument, "empty parameter segment");
      std::string_view after = dot == std::string_view::npos ? "" : rest.substr(dot + 1);
      if (!cur->is_map()) *cur = Document::make_map();
      Document* child = cur->find(seg);
      if (child == nullptr) {
        cur->set(std::string(seg), Document());
        child = cur->find(seg);
      }
      // "member.N" (lists) and "entry.N" (maps, read as lists of {key, value}).
      if (!after.empty() && (after.starts_with("member.") || after.starts_with("entry."))) {
        const size_t d2 = after.find('.');
        std::string_view idx_rest = after.substr(d2 + 1);
        const size_t d3 = idx_rest.find('.');
        const std::string_view idx = idx_rest.substr(0, d3);
        size_t n = 0;
        auto r = std::from_chars(idx.data(), idx.data() + idx.size(), n);
        if (r.ec != std::errc() || r.ptr != idx.data() + idx.size() || n == 0 || n > 10'000) {
          return Error(ErrorCode::kInvalidArgument, "bad list index in " + key);
        }
        if (!child->is_list()) *child = Document::make_list();
        List& l = child->as_list();
        if (l.size() < n) l.resize(n);
        cur = &l[n - 1];
        if (d3 == std::string_view::npos) {
          *cur = Document(std::move(value));
          break;
        }
        rest = idx_rest.substr(d3 + 1);
        continue;
      }
      if (after.empty()) {
        *child = Document(std::move(value));
        break;
      }
      cur = child;
      rest = after;
    }
  }
  return root;
}

std::string render_query_xml(std::string_view operation, const Document& output,
                             std::string_view request_id) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
  out += operation;
  out += "Response xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">";
  // An output shape with a resultWrapper but no members (DeleteDashboards) still has its
  // Result element: botocore looks for it. Operations without an output shape have none.
  if (output.is_map() && (!output.as_map().empty() || operation == "DeleteDashboards")) {
    out += '<';
    out += operation;
    out += "Result>";
    render_members(output, out);
    out += "</";
    out += operation;
    out += "Result>";
  }
  out += "<ResponseMetadata><RequestId>";
  xml_escape(request_id, out);
  out += "</RequestId></ResponseMetadata></";
  out += operation;
  out += "Response>";
  return out;
}

namespace cloudwatch {
std::string render_query_error(const CloudWatchError& e, std::string_view request_id) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse "
      "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>";
  out += e.sender ? "Sender" : "Receiver";
  out += "</Type><Code>";
  xml_escape(e.code, out);
  out += "</Code><Message>";
  xml_escape(e.message, out);
  out += "</Message></Error><RequestId>";
  xml_escape(request_id, out);
  out += "</RequestId></ErrorResponse>";
  return out;
}
}  // namespace cloudwatch

}  // namespace freshet::api

// Prefix expressions (!{namespace:value}), Java DateTimeFormatter patterns, and the JQ subset of
// dynamic partitioning's MetadataExtractionQuery.
#include <simdjson.h>

#include <ctime>

#include "freshet/delivery/delivery.h"

namespace freshet::delivery {
namespace {

Error invalid(std::string m) { return Error(ErrorCode::kInvalidArgument, std::move(m)); }

struct Expr {
  std::string ns, value;
};

// Splits a prefix into literal text and expressions; false on an unterminated one.
bool scan(std::string_view p, std::vector<std::variant<std::string, Expr>>& parts) {
  size_t i = 0;
  std::string lit;
  while (i < p.size()) {
    if (p[i] == '!' && i + 1 < p.size() && p[i + 1] == '{') {
      size_t end = p.find('}', i);
      if (end == std::string_view::npos) return false;
      std::string_view body = p.substr(i + 2, end - i - 2);
      size_t colon = body.find(':');
      if (!lit.empty()) parts.emplace_back(std::move(lit)), lit.clear();
      Expr e;
      e.ns = std::string(body.substr(0, colon));
      if (colon != std::string_view::npos) e.value = std::string(body.substr(colon + 1));
      parts.emplace_back(std::move(e));
      i = end + 1;
    } else {
      lit.push_back(p[i++]);
    }
  }
  if (!lit.empty()) parts.emplace_back(std::move(lit));
  return true;
}

const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                         "July",    "August",   "September", "October", "November", "December"};
const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                       "Saturday"};

std::string pad(long v, size_t width) {
  std::string s = std::to_string(v);
  while (s.size() < width) s.insert(s.begin(), '0');
  return s;
}

}  // namespace

Result<std::string> format_java_time(std::string_view pat, int64_t time_ms) {
  std::time_t t = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out;
  size_t i = 0;
  while (i < pat.size()) {
    char c = pat[i];
    if (c == '\'') {
      size_t end = pat.find('\'', i + 1);
      if (end == std::string_view::npos) return invalid("Unterminated quote in date pattern");
      if (end == i + 1) out.push_back('\'');
      else out.append(pat.substr(i + 1, end - i - 1));
      i = end + 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < pat.size() && pat[i + n] == c) ++n;
    i += n;
    switch (c) {
      case 'y':
      case 'u':
      case 'Y':
        if (n == 2) out += pad((tm.tm_year + 1900) % 100, 2);
        else out += pad(tm.tm_year + 1900, n);
        break;
      case 'M':
        if (n >= 4) out += kMonths[tm.tm_mon];
        else if (n == 3) out += std::string(kMonths[tm.tm_mon]).substr(0, 3);
        else out += pad(tm.tm_mon + 1, n);
        break;
      case 'd': out += pad(tm.tm_mday, n); break;
      case 'D': out += pad(tm.tm_yday + 1, n); break;
      case 'H': out += pad(tm.tm_hour, n); break;
      case 'h': out += pad(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12, n); break;
      case 'm': out += pad(tm.tm_min, n); break;
      case 's': out += pad(tm.tm_sec, n); break;
      case 'S': {
        std::string ms = pad(static_cast<long>(((time_ms % 1000) + 1000) % 1000), 3);
        while (ms.size() < n) ms.push_back('0');
        out += ms.substr(0, n);
        break;
      }
      case 'E':
        out += n >= 4 ? std::string(kDays[tm.tm_wday]) : std::string(kDays[tm.tm_wday]).substr(0, 3);
        break;
      case 'a': out += tm.tm_hour < 12 ? "AM" : "PM"; break;
      default:
        return invalid(std::string("Unsupported date pattern letter '") + c + "'");
    }
  }
  return out;
}

bool prefix_has_expressions(std::string_view prefix) {
  return prefix.find("!{") != std::string_view::npos;
}

Status validate_prefix(std::string_view prefix, bool error_prefix, bool dynamic_partitioning) {
  std::vector<std::variant<std::string, Expr>> parts;
  const char* which = error_prefix ? "ErrorOutputPrefix" : "Prefix";
  if (!scan(prefix, parts)) {
    return invalid(std::string(which) + " contains an unterminated expression: " +
                   std::string(prefix));
  }
  for (const auto& p : parts) {
    const Expr* e = std::get_if<Expr>(&p);
    if (e == nullptr) continue;
    if (e->ns == "timestamp") {
      Result<std::string> r = format_java_time(e->value, 0);
      if (!r.ok() || e->value.empty()) {
        return invalid("The timestamp expression in " + std::string(which) + " is invalid: " +
                       (r.ok() ? "empty pattern" : r.error().message()));
      }
    } else if (e->ns == "firehose") {
      if (e->value == "random-string") continue;
      if (e->value == "error-output-type") {
        if (!error_prefix) {
          return invalid(
              "The expression !{firehose:error-output-type} is only allowed in "
              "ErrorOutputPrefix.");
        }
        continue;
      }
      return invalid("Unknown firehose expression !{firehose:" + e->value + "} in " + which);
    } else if (e->ns == "partitionKeyFromQuery" || e->ns == "partitionKeyFromLambda") {
      if (error_prefix) {
        return invalid("ErrorOutputPrefix cannot contain partitionKeyFromQuery or "
                       "partitionKeyFromLambda expressions.");
      }
      if (!dynamic_partitioning) {
        return invalid("Dynamic partitioning must be enabled to use " + e->ns +
                       " expressions in Prefix.");
      }
      if (e->value.empty()) return invalid("Empty partition key name in Prefix.");
    } else {
      return invalid("Unknown expression namespace '" + e->ns + "' in " + which);
    }
  }
  return {};
}

std::string evaluate_prefix(std::string_view prefix, const PrefixContext& ctx) {
  if (!prefix_has_expressions(prefix)) {
    // Firehose's default: UTC hour folders after the (possibly empty) prefix.
    return std::string(prefix) + format_java_time("yyyy/MM/dd/HH/", ctx.time_ms).value();
  }
  std::vector<std::variant<std::string, Expr>> parts;
  scan(prefix, parts);
  std::string out;
  for (const auto& p : parts) {
    if (const std::string* lit = std::get_if<std::string>(&p)) {
      out += *lit;
      continue;
    }
    const Expr& e = std::get<Expr>(p);
    if (e.ns == "timestamp") {
      Result<std::string> r = format_java_time(e.value, ctx.time_ms);
      if (r.ok()) out += *r;
    } else if (e.ns == "firehose") {
      out += e.value == "random-string" ? ctx.random_string : ctx.error_output_type;
    } else {
      auto it = ctx.partition_keys.find(e.value);
      if (it != ctx.partition_keys.end()) out += it->second;
    }
  }
  return out;
}

// ---------------------------------------------------------------- metadata extraction (JQ subset)

namespace {

struct Term {
  bool literal = false;
  std::string text;                // the literal
  std::vector<std::string> path;  // .a.b -> {a, b}
};
struct KeyQuery {
  std::string name;
  std::vector<Term> terms;  // joined by '+'
};

class QueryParser {
 public:
  explicit QueryParser(std::string_view s) : s_(s) {}
  Result<std::vector<KeyQuery>> parse() {
    ws();
    if (!eat('{')) return invalid("MetadataExtractionQuery must be a JQ object: {key: .path}");
    std::vector<KeyQuery> out;
    for (;;) {
      ws();
      KeyQuery k;
      if (peek() == '"') {
        FRESHET_ASSIGN_OR_RETURN(k.name, string_lit());
      } else {
        size_t st = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
        k.name = std::string(s_.substr(st, i_ - st));
      }
      if (k.name.empty()) return invalid("MetadataExtractionQuery: expected a key name");
      ws();
      if (!eat(':')) return invalid("MetadataExtractionQuery: expected ':' after " + k.name);
      for (;;) {
        ws();
        bool paren = eat('(');
        ws();
        Term t;
        if (peek() == '"') {
          t.literal = true;
          FRESHET_ASSIGN_OR_RETURN(t.text, string_lit());
        } else if (peek() == '.') {
          while (eat('.')) {
            if (peek() == '"') {
              FRESHET_ASSIGN_OR_RETURN(std::string f, string_lit());
              t.path.push_back(f);
            } else if (eat('[')) {
              ws();
              FRESHET_ASSIGN_OR_RETURN(std::string f, string_lit());
              ws();
              if (!eat(']')) return invalid("MetadataExtractionQuery: expected ']'");
              t.path.push_back(f);
            } else {
              size_t st = i_;
              while (i_ < s_.size() &&
                     (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
                ++i_;
              }
              if (st == i_) return invalid("MetadataExtractionQuery: expected a field after '.'");
              t.path.emplace_back(s_.substr(st, i_ - st));
            }
          }
        } else {
          return invalid("MetadataExtractionQuery: expected .field or \"string\"");
        }
        k.terms.push_back(std::move(t));
        ws();
        if (paren) {
          // (a + b) groups: terms continue inside until ')'.
          while (eat('+')) {
            ws();
            Term t2;
            if (peek() == '"') {
              t2.literal = true;
              FRESHET_ASSIGN_OR_RETURN(t2.text, string_lit());
            } else {
              return invalid("MetadataExtractionQuery: only \"string\" or .path inside ()");
            }
            k.terms.push_back(std::move(t2));
            ws();
          }
          if (!eat(')')) return invalid("MetadataExtractionQuery: expected ')'");
          ws();
        }
        if (!eat('+')) break;
      }
      out.push_back(std::move(k));
      ws();
      if (eat(',')) continue;
      if (eat('}')) break;
      return invalid("MetadataExtractionQuery: expected ',' or '}'");
    }
    ws();
    if (i_ != s_.size()) return invalid("MetadataExtractionQuery: text after the object");
    if (out.empty()) return invalid("MetadataExtractionQuery: no keys");
    return out;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  Result<std::string> string_lit() {
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out.push_back(s_[i_++]);
    }
    if (!eat('"')) return invalid("MetadataExtractionQuery: unterminated string");
    return out;
  }
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Status validate_metadata_query(std::string_view query) {
  if (query.size() > 4096) return invalid("MetadataExtractionQuery is too long");
  Result<std::vector<KeyQuery>> q = QueryParser(query).parse();
  if (!q.ok()) return q.error();
  return {};
}

Result<std::map<std::string, std::string>> extract_partition_keys(std::string_view query,
                                                                  std::string_view record) {
  FRESHET_ASSIGN_OR_RETURN(std::vector<KeyQuery> keys, QueryParser(query).parse());
  simdjson::dom::parser parser;
  simdjson::padded_string padded(record);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
    return Error(ErrorCode::kInvalidArgument, "Non JSON record provided");
  }
  std::map<std::string, std::string> out;
  for (const KeyQuery& k : keys) {
    std::string value;
    for (const Term& t : k.terms) {
      if (t.literal) {
        value += t.text;
        continue;
      }
      simdjson::dom::element cur = doc;
      for (const std::string& f : t.path) {
        simdjson::dom::object obj;
        if (cur.get_object().get(obj) != simdjson::SUCCESS ||
            obj.at_key(f).get(cur) != simdjson::SUCCESS) {
          return Error(ErrorCode::kNotFound,
                       "The partition key " + k.name + " is missing in the record");
        }
      }
      switch (cur.type()) {
        case simdjson::dom::element_type::STRING:
          value += std::string(std::string_view(cur.get_string().value()));
          break;
        case simdjson::dom::element_type::INT64:
          value += std::to_string(cur.get_int64().value());
          break;
        case simdjson::dom::element_type::UINT64:
          value += std::to_string(cur.get_uint64().value());
          break;
        case simdjson::dom::element_type::BOOL:
          value += cur.get_bool().value() ? "true" : "false";
          break;
        case simdjson::dom::element_type::DOUBLE:
          value += simdjson::to_string(cur);
          break;
        default:
          return Error(ErrorCode::kNotFound,
                       "The partition key " + k.name + " is null or not a scalar");
      }
    }
    out[k.name] = std::move(value);
  }
  return out;
}

}  // namespace freshet::delivery

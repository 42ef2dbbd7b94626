#include "validate.h"

#include <algorithm>

namespace freshet::api::kinesis {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
         c == '.' || c == '-';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0B' || c == '\f' || c == '\r';
}

// 0|([1-9]\d{0,max_more})
bool match_decimal(std::string_view s, size_t max_more) {
  if (s == "0") return true;
  if (s.empty() || s.size() > max_more + 1 || s[0] < '1' || s[0] > '9') return false;
  return std::all_of(s.begin(), s.end(), is_digit);
}

// Position after the shortest prefix matching "arn:aws.*:kinesis:.*:\d{12}:", or npos.
// `.` matches anything but line terminators; callers reject '\n' and '\r' up front, so `.*`
// matches anything and the earliest match leaves the most room for the rest.
size_t arn_account_prefix_end(std::string_view s) {
  if (s.substr(0, 7) != "arn:aws") return std::string_view::npos;
  const size_t k = s.find(":kinesis:", 7);
  if (k == std::string_view::npos) return std::string_view::npos;
  for (size_t q = k + 9; q + 14 <= s.size(); ++q) {
    if (s[q] != ':' || s[q + 13] != ':') continue;
    bool digits = true;
    for (size_t i = q + 1; i <= q + 12; ++i) digits = digits && is_digit(s[i]);
    if (digits) return q + 14;
  }
  return std::string_view::npos;
}

bool has_line_terminator(std::string_view s) {
  return s.find('\n') != std::string_view::npos || s.find('\r') != std::string_view::npos;
}

// "\S+" to the end starting at `from`.
bool non_space_tail(std::string_view s, size_t from) {
  if (from >= s.size()) return false;
  return std::none_of(s.begin() + static_cast<ptrdiff_t>(from), s.end(), is_space);
}

}  // namespace

bool match_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_name_char);
}

bool match_stream_arn(std::string_view s) {
  if (has_line_terminator(s)) return false;
  // The account's ':' can be found at several places; try each.
  if (s.substr(0, 7) != "arn:aws") return false;
  for (size_t k = s.find(":kinesis:", 7); k != std::string_view::npos;
       k = s.find(":kinesis:", k + 1)) {
    for (size_t q = k + 9; q + 14 <= s.size(); ++q) {
      if (s[q] != ':' || s[q + 13] != ':') continue;
      bool digits = true;
      for (size_t i = q + 1; i <= q + 12; ++i) digits = digits && is_digit(s[i]);
      if (!digits) continue;
      if (s.substr(q + 14, 7) == "stream/" && non_space_tail(s, q + 21)) return true;
    }
    break;  // the earliest ":kinesis:" admits every split a later one would
  }
  return false;
}

bool match_resource_arn(std::string_view s) {
  if (has_line_terminator(s)) return false;
  const size_t start = arn_account_prefix_end(s);
  if (start == std::string_view::npos) return false;
  for (size_t t = s.find("stream/", start); t != std::string_view::npos;
       t = s.find("stream/", t + 1)) {
    if (non_space_tail(s, t + 7)) return true;
  }
  return false;
}

bool match_consumer_arn(std::string_view s) {
  if (has_line_terminator(s)) return false;
  // Tail: "stream/" NAME "/consumer/" NAME ":" DIGITS, decomposed from the end.
  size_t end = s.size();
  size_t i = end;
  while (i > 0 && is_digit(s[i - 1])) --i;
  if (i == end || i == 0 || s[i - 1] != ':') return false;
  size_t name_end = i - 1;
  size_t j = name_end;
  while (j > 0 && is_name_char(s[j - 1])) --j;
  if (j == name_end) return false;
  constexpr std::string_view kConsumer = "/consumer/";
  if (j < kConsumer.size() || s.substr(j - kConsumer.size(), kConsumer.size()) != kConsumer) {
    return false;
  }
  size_t stream_end = j - kConsumer.size();
  size_t k = stream_end;
  while (k > 0 && is_name_char(s[k - 1])) --k;
  if (k == stream_end) return false;
  constexpr std::string_view kStream = "stream/";
  if (k < kStream.size() || s.substr(k - kStream.size(), kStream.size()) != kStream) return false;
  const size_t t = k - kStream.size();
  const size_t prefix_end = arn_account_prefix_end(s.substr(0, t));
  return prefix_end != std::string_view::npos;
}

bool match_hash_key(std::string_view s) { return match_decimal(s, 38); }
bool match_sequence_number(std::string_view s) { return match_decimal(s, 128); }

bool match_stream_id(std::string_view s) {
  if (s.size() != 24 || s[20] != '-') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 20) continue;
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || is_digit(c))) return false;
  }
  return true;
}

size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += (c >= 0xF0) ? 2 : 1;          // 4-byte sequences are surrogate pairs in UTF-16
  }
  return n;
}

// ---- Input ----

std::string Input::path(std::string_view prefix, std::string_view member) {
  std::string p;
  if (!prefix.empty()) {
    p = std::string(prefix);
    p += '.';
  }
  p += ValidationErrors::lower_first(member);
  return p;
}

std::string MemberPath::str() const { return Input::path(prefix, member); }

void Input::type_error(const Error& e) {
  if (!serialization_) serialization_ = serialization_error(e.message());
}

std::optional<ApiError> Input::error() const {
  if (serialization_) return serialization_;
  if (errors_.empty()) return std::nullopt;
  // AWS lists a request's violations member by member with streamName last (kinesalite's
  // recordings: CreateStream shardCount then streamName, GetShardIterator shardId,
  // shardIteratorType, startingSequenceNumber, streamName, MergeShards, DescribeStream).
  ValidationErrors ordered = errors_;
  ordered.move_last("streamName");
  return ordered.to_error();
}

bool satisfies(std::string_view value, const StringRule& rule) {
  if (!rule.enum_values.empty()) {
    return std::find(rule.enum_values.begin(), rule.enum_values.end(), value) !=
           rule.enum_values.end();
  }
  if (rule.pattern != nullptr && !rule.pattern(value)) return false;
  const size_t len = utf16_length(value);
  return len >= rule.min_len && len <= rule.max_len;
}

void Input::check_string(const MemberPath& p, std::string_view value, const StringRule& rule) {
  if (!rule.enum_values.empty()) {
    if (std::find(rule.enum_values.begin(), rule.enum_values.end(), value) ==
        rule.enum_values.end()) {
      errors_.add(p.str(), value, ValidationErrors::enum_values(rule.enum_values));
    }
    return;
  }
  if (rule.pattern != nullptr && !rule.pattern(value)) {
    errors_.add(p.str(), value, ValidationErrors::pattern(rule.pattern_text));
  }
  const size_t len = utf16_length(value);
  if (len < rule.min_len) errors_.add(p.str(), value, ValidationErrors::length_at_least(rule.min_len));
  if (len > rule.max_len) errors_.add(p.str(), value, ValidationErrors::length_at_most(rule.max_len));
}

std::optional<std::string> Input::str(const Document& obj, std::string_view prefix,
                                      std::string_view member, const StringRule& rule,
                                      bool required) {
  auto v = str_view(obj, prefix, member, rule, required);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::string_view> Input::str_view(const Document& obj, std::string_view prefix,
                                                std::string_view member, const StringRule& rule,
                                                bool required) {
  auto v = get_optional_string(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (!v->has_value()) {
    if (required) errors_.add_null(p.str());
    return std::nullopt;
  }
  check_string(p, **v, rule);
  return **v;
}

std::optional<int64_t> Input::integer(const Document& obj, std::string_view prefix,
                                      std::string_view member, const IntRule& rule,
                                      bool required) {
  auto v = get_optional_int(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (!v->has_value()) {
    if (required) errors_.add_null(p.str());
    return std::nullopt;
  }
  const int64_t x = **v;
  if (rule.min && x < *rule.min) {
    errors_.add(p.str(), std::to_string(x), ValidationErrors::value_at_least(*rule.min));
  }
  if (rule.max && x > *rule.max) {
    errors_.add(p.str(), std::to_string(x), ValidationErrors::value_at_most(*rule.max));
  }
  return x;
}

std::optional<bool> Input::boolean(const Document& obj, std::string_view prefix,
                                   std::string_view member, bool required) {
  auto v = get_optional_bool(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  if (!v->has_value() && required) errors_.add_null(path(prefix, member));
  return *v;
}

std::optional<std::string> Input::blob(const Document& obj, std::string_view prefix,
                                       std::string_view member, size_t max_len, bool required) {
  auto v = blob_view(obj, prefix, member, max_len, required);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::string_view> Input::blob_view(const Document& obj, std::string_view prefix,
                                                 std::string_view member, size_t max_len,
                                                 bool required) {
  auto v = get_optional_blob(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (!v->has_value()) {
    if (required) errors_.add_null(p.str());
    return std::nullopt;
  }
  if ((*v)->size() > max_len) {
    errors_.add(p.str(), ValidationErrors::blob_value((*v)->size()),
                ValidationErrors::length_at_most(static_cast<int64_t>(max_len)));
  }
  return **v;
}

std::optional<int64_t> Input::timestamp_ms(const Document& obj, std::string_view prefix,
                                           std::string_view member, bool required) {
  auto v = get_optional_timestamp_ms(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  if (!v->has_value() && required) errors_.add_null(path(prefix, member));
  return *v;
}

const Document* Input::structure(const Document& obj, std::string_view prefix,
                                 std::string_view member, bool required) {
  auto v = get_optional_map(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return nullptr;
  }
  if (*v == nullptr && required) errors_.add_null(path(prefix, member));
  return *v;
}

namespace {
std::string list_text(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += ", ";
    s += items[i];
  }
  return s + "]";
}
}  // namespace

std::optional<std::vector<std::string>> Input::string_list(const Document& obj,
                                                           std::string_view prefix,
                                                           std::string_view member, size_t min_len,
                                                           size_t max_len,
                                                           const StringRule& element,
                                                           bool required) {
  auto v = get_optional_list(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (*v == nullptr) {
    if (required) errors_.add_null(p.str());
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool element_ok = true;
  for (const Document& d : **v) {
    if (!d.is_string()) {
      // Same wording as the scalar accessors use for a non-string.
      Document wrap = Document::make_map();
      wrap.set("v", d);
      auto s = get_string(wrap, "v");
      if (!s.ok()) {
        type_error(s.error());
      } else {
        type_error(Error(ErrorCode::kInvalidArgument, "Expected string"));
      }
      return std::nullopt;
    }
    const std::string& s = d.as_string();
    if (!element.enum_values.empty()) {
      element_ok = element_ok && std::find(element.enum_values.begin(), element.enum_values.end(),
                                           s) != element.enum_values.end();
    } else {
      const size_t len = utf16_length(s);
      element_ok = element_ok && len >= element.min_len && len <= element.max_len &&
                   (element.pattern == nullptr || element.pattern(s));
    }
    out.push_back(s);
  }
  const std::string text = list_text(out);
  if (!element_ok) {
    std::string c = "Member must satisfy constraint: [";
    if (!element.enum_values.empty()) {
      c += ValidationErrors::enum_values(element.enum_values);
    } else {
      std::vector<std::string> parts;
      if (element.max_len != std::numeric_limits<size_t>::max()) {
        parts.push_back(ValidationErrors::length_at_most(static_cast<int64_t>(element.max_len)));
      }
      if (element.min_len > 0) {
        parts.push_back(ValidationErrors::length_at_least(static_cast<int64_t>(element.min_len)));
      }
      if (element.pattern != nullptr) parts.push_back(ValidationErrors::pattern(element.pattern_text));
      for (size_t i = 0; i < parts.size(); ++i) c += (i ? ", " : "") + parts[i];
    }
    c += "]";
    errors_.add(p.str(), text, c);
  }
  if (out.size() < min_len) {
    errors_.add(p.str(), text, ValidationErrors::length_at_least(static_cast<int64_t>(min_len)));
  }
  if (out.size() > max_len) {
    errors_.add(p.str(), text, ValidationErrors::length_at_most(static_cast<int64_t>(max_len)));
  }
  return out;
}

const List* Input::struct_list(const Document& obj, std::string_view prefix,
                               std::string_view member, size_t min_len, size_t max_len,
                               bool required) {
  auto v = get_optional_list(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return nullptr;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (*v == nullptr) {
    if (required) errors_.add_null(p.str());
    return nullptr;
  }
  const List& l = **v;
  for (const Document& d : l) {
    if (!d.is_map()) {
      type_error(Error(ErrorCode::kInvalidArgument,
                       d.is_list() ? "Start of list found where not expected" : "Expected null"));
      return nullptr;
    }
  }
  if (l.size() < min_len || l.size() > max_len) {
    // AWS prints the list's toString(); the element count is what matters to a reader.
    std::string text = "[" + std::to_string(l.size()) + " elements]";
    if (l.size() < min_len) {
      errors_.add(p.str(), l.empty() ? "[]" : text,
                  ValidationErrors::length_at_least(static_cast<int64_t>(min_len)));
    } else {
      errors_.add(p.str(), text, ValidationErrors::length_at_most(static_cast<int64_t>(max_len)));
    }
  }
  return &l;
}

std::optional<std::vector<std::pair<std::string, std::string>>> Input::tag_map(
    const Document& obj, std::string_view prefix, std::string_view member, bool required) {
  auto v = get_optional_map(obj, member);
  if (!v.ok()) {
    type_error(v.error());
    return std::nullopt;
  }
  const MemberPath p{prefix, member};  // the path string is built only for an error
  if (*v == nullptr) {
    if (required) errors_.add_null(p.str());
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool keys_ok = true;
  bool values_ok = true;
  for (const Member& m : (*v)->as_map()) {
    auto s = get_string(**v, m.key);
    if (!s.ok()) {
      if (is_missing_member(s.error())) {
        // A null value: AWS drops null map values during deserialization.
        continue;
      }
      type_error(s.error());
      return std::nullopt;
    }
    // Duplicate keys: the last one wins (get_string finds it); keep one entry per key.
    if (std::any_of(out.begin(), out.end(), [&](const auto& kv) { return kv.first == m.key; })) {
      continue;
    }
    const size_t klen = utf16_length(m.key);
    keys_ok = keys_ok && klen >= 1 && klen <= 128;
    values_ok = values_ok && utf16_length(*s) <= 256;
    out.emplace_back(m.key, std::string(*s));
  }
  std::string text = "{";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) text += ", ";
    text += out[i].first + "=" + out[i].second;
  }
  text += "}";
  if (!keys_ok) {
    errors_.add(p.str(), text,
                "Map keys must satisfy constraint: [Member must have length less than or equal "
                "to 128, Member must have length greater than or equal to 1]");
  }
  if (!values_ok) {
    errors_.add(p.str(), text,
                "Map value must satisfy constraint: [Member must have length less than or equal "
                "to 256, Member must have length greater than or equal to 0]");
  }
  if (out.empty()) errors_.add(p.str(), text, ValidationErrors::length_at_least(1));
  if (out.size() > 200) errors_.add(p.str(), text, ValidationErrors::length_at_most(200));
  return out;
}

}  // namespace freshet::api::kinesis

// The string patterns of firehose-2015-08-04 that the API checks, matched by hand: std::regex
// costs seconds of compile per unit and is slow. tests/api/firehose checks each matcher against
// std::regex on the pattern's own text.
#pragma once

#include <optional>
#include <string_view>

namespace freshet::api::firehose_patterns {

// `text` is the pattern as the model writes it, which a ValidationException quotes.
struct Pattern {
  const char* text;
  bool (*match)(std::string_view);
};

inline bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
inline bool digit(char c) { return c >= '0' && c <= '9'; }
template <typename Pred>
bool all_of(std::string_view s, Pred in) {
  for (char c : s) {
    if (!in(c)) return false;
  }
  return true;
}
inline bool digits(std::string_view s, size_t n) {
  return s.size() >= n && all_of(s.substr(0, n), digit);
}

// After "arn:" and anything (".*"), the last occurrence of `marker`: the parts after it in
// these patterns hold no ':' of their own, so an earlier occurrence cannot match where the
// last one does not. The rest after the marker, or nullopt.
inline std::optional<std::string_view> after_arn_marker(std::string_view s,
                                                        std::string_view marker) {
  if (s.substr(0, 4) != "arn:") return std::nullopt;
  const size_t at = s.rfind(marker);
  if (at == std::string_view::npos || at < 4) return std::nullopt;
  return s.substr(at + marker.size());
}

// [a-zA-Z0-9_.-]+
inline constexpr Pattern kNamePattern{
    "[a-zA-Z0-9_.-]+", [](std::string_view s) {
      return !s.empty() && all_of(s, [](char c) { return word_char(c) || c == '.' || c == '-'; });
    }};
inline constexpr Pattern kBucketArnPattern{
    "arn:.*:s3:::[\\w\\.\\-]{1,255}", [](std::string_view s) {
      const auto rest = after_arn_marker(s, ":s3:::");
      return rest && !rest->empty() && rest->size() <= 255 &&
             all_of(*rest, [](char c) { return word_char(c) || c == '.' || c == '-'; });
    }};
inline constexpr Pattern kRoleArnPattern{
    "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+", [](std::string_view s) {
      auto rest = after_arn_marker(s, ":iam::");
      if (!rest || !digits(*rest, 12) || rest->substr(12, 6) != ":role/") return false;
      const std::string_view name = rest->substr(18);
      return !name.empty() && all_of(name, [](char c) {
        return word_char(c) || std::string_view("+=,.@-/").find(c) != std::string_view::npos;
      });
    }};
inline constexpr Pattern kKinesisArnPattern{
    "arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+", [](std::string_view s) {
      auto rest = after_arn_marker(s, ":kinesis:");
      if (!rest) return false;
      const size_t colon = rest->find(':');
      if (colon == 0 || colon == std::string_view::npos) return false;
      const std::string_view region = rest->substr(0, colon);
      if (!all_of(region, [](char c) { return (word_char(c) && c != '_') || c == '-'; }))
        return false;
      const std::string_view tail = rest->substr(colon + 1);
      if (!digits(tail, 12) || tail.substr(12, 8) != ":stream/") return false;
      const std::string_view name = tail.substr(20);
      return !name.empty() &&
             all_of(name, [](char c) { return word_char(c) || c == '.' || c == '-'; });
    }};
inline constexpr Pattern kVersionIdPattern{
    "[0-9]+", [](std::string_view s) { return !s.empty() && all_of(s, digit); }};
inline constexpr Pattern kDestinationIdPattern{
    "[a-zA-Z0-9-]+", [](std::string_view s) {
      return !s.empty() && all_of(s, [](char c) { return (word_char(c) && c != '_') || c == '-'; });
    }};
inline constexpr Pattern kFileExtensionPattern{
    "^$|\\.[0-9a-z!\\-_.*'()]+", [](std::string_view s) {
      return s.empty() || (s.size() > 1 && s[0] == '.' && all_of(s.substr(1), [](char c) {
                             return (c >= 'a' && c <= 'z') || digit(c) ||
                                    std::string_view("!-_.*'()").find(c) != std::string_view::npos;
                           }));
    }};

}  // namespace freshet::api::firehose_patterns

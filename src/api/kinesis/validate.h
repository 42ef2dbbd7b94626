// Input validation for the Kinesis handlers, worded like AWS.
//
// An Input reads members of the request Document and checks them against the model's
// constraints. Type mismatches are SerializationException (the first one wins, as Jackson
// stops there); constraint violations (null required members, lengths, ranges, patterns,
// enums) are collected in member order into one ValidationException, like AWS:
//   "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: ...;
//    Value null at 'shardId' failed to satisfy constraint: Member must not be null"
// Patterns are matched by hand-written functions (no std::regex on the request path).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/api/aws_error.h"
#include "freshet/api/document.h"

namespace freshet::api::kinesis {

using PatternFn = bool (*)(std::string_view);

struct StringRule {
  size_t min_len = 0;
  size_t max_len = std::numeric_limits<size_t>::max();
  PatternFn pattern = nullptr;
  std::string_view pattern_text;
  std::span<const std::string_view> enum_values;  // non-empty: the value must be one of these
};

struct IntRule {
  std::optional<int64_t> min;
  std::optional<int64_t> max;
};

// ---- Model patterns ----
bool match_name(std::string_view s);         // [a-zA-Z0-9_.-]+
bool match_stream_arn(std::string_view s);   // arn:aws.*:kinesis:.*:\d{12}:stream/\S+
bool match_resource_arn(std::string_view s); // arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+
bool match_consumer_arn(std::string_view s); // ^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/...
bool match_hash_key(std::string_view s);     // 0|([1-9]\d{0,38})
bool match_sequence_number(std::string_view s);  // 0|([1-9]\d{0,128})
bool match_stream_id(std::string_view s);    // [a-z0-9]{20}-[a-z0-9]{3}

// Length as AWS (Java) counts it: UTF-16 code units.
size_t utf16_length(std::string_view s);

// ---- Model enums ----
inline constexpr std::string_view kStreamModes[] = {"PROVISIONED", "ON_DEMAND"};
inline constexpr std::string_view kShardIteratorTypes[] = {
    "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"};
inline constexpr std::string_view kShardFilterTypes[] = {
    "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
    "AT_LATEST",      "AT_TIMESTAMP",    "FROM_TIMESTAMP"};
inline constexpr std::string_view kMetricsNames[] = {
    "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
    "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds", "ALL"};
inline constexpr std::string_view kEncryptionTypes[] = {"NONE", "KMS"};
inline constexpr std::string_view kScalingTypes[] = {"UNIFORM_SCALING"};
inline constexpr std::string_view kCommitmentInputStatuses[] = {"ENABLED", "DISABLED"};

// ---- Model string shapes ----
inline constexpr StringRule kStreamNameRule{1, 128, match_name, "[a-zA-Z0-9_.-]+", {}};
inline constexpr StringRule kConsumerNameRule{1, 128, match_name, "[a-zA-Z0-9_.-]+", {}};
inline constexpr StringRule kShardIdRule{1, 128, match_name, "[a-zA-Z0-9_.-]+", {}};
inline constexpr StringRule kStreamArnRule{1, 2048, match_stream_arn,
                                           "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", {}};
inline constexpr StringRule kResourceArnRule{1, 2048, match_resource_arn,
                                             "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+", {}};
inline constexpr StringRule kConsumerArnRule{
    1, 2048, match_consumer_arn,
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
    {}};
inline constexpr StringRule kStreamIdRule{1, 24, match_stream_id, "[a-z0-9]{20}-[a-z0-9]{3}", {}};
inline constexpr StringRule kHashKeyRule{0, std::numeric_limits<size_t>::max(), match_hash_key,
                                         "0|([1-9]\\d{0,38})", {}};
inline constexpr StringRule kSequenceNumberRule{0, std::numeric_limits<size_t>::max(),
                                                match_sequence_number, "0|([1-9]\\d{0,128})", {}};
inline constexpr StringRule kPartitionKeyRule{1, 256, nullptr, {}, {}};
inline constexpr StringRule kNextTokenRule{1, 1048576, nullptr, {}, {}};
inline constexpr StringRule kShardIteratorRule{1, 512, nullptr, {}, {}};
inline constexpr StringRule kTagKeyRule{1, 128, nullptr, {}, {}};
inline constexpr StringRule kKeyIdRule{1, 2048, nullptr, {}, {}};
inline constexpr StringRule kAnyString{};
inline constexpr StringRule enum_rule(std::span<const std::string_view> values) {
  return StringRule{0, std::numeric_limits<size_t>::max(), nullptr, {}, values};
}

inline constexpr size_t kMaxDataBytes = 10485760;  // Data blob max (model)

// True when value meets the rule (enum, pattern, length), i.e. Input would add no error.
bool satisfies(std::string_view value, const StringRule& rule);

// A member's path, turned into text only when an error names it (PutRecords validates three
// members of up to 500 records per request; building every path cost an allocation each).
struct MemberPath {
  std::string_view prefix;
  std::string_view member;
  std::string str() const;
};

class Input {
 public:
  // `path` of a member: lowerFirst names joined with '.', e.g. "shardFilter.type".
  static std::string path(std::string_view prefix, std::string_view member);

  std::optional<std::string> str(const Document& obj, std::string_view prefix,
                                 std::string_view member, const StringRule& rule,
                                 bool required = false);
  // The same without a copy: the view points into `obj` (hot paths such as PutRecords).
  std::optional<std::string_view> str_view(const Document& obj, std::string_view prefix,
                                           std::string_view member, const StringRule& rule,
                                           bool required = false);
  std::optional<int64_t> integer(const Document& obj, std::string_view prefix,
                                 std::string_view member, const IntRule& rule,
                                 bool required = false);
  std::optional<bool> boolean(const Document& obj, std::string_view prefix,
                              std::string_view member, bool required = false);
  // Blob of at most max_len bytes (value text as the Java SDK prints ByteBuffers).
  std::optional<std::string> blob(const Document& obj, std::string_view prefix,
                                  std::string_view member, size_t max_len, bool required = false);
  std::optional<std::string_view> blob_view(const Document& obj, std::string_view prefix,
                                            std::string_view member, size_t max_len,
                                            bool required = false);
  std::optional<int64_t> timestamp_ms(const Document& obj, std::string_view prefix,
                                      std::string_view member, bool required = false);
  // A structure member: the map, or null if absent (or required and absent: null error).
  const Document* structure(const Document& obj, std::string_view prefix, std::string_view member,
                            bool required = false);
  // A list of strings, each checked against `element` (paths "x.N.member" are not used for
  // string lists by AWS: the list is reported as a whole, as kinesalite does).
  std::optional<std::vector<std::string>> string_list(const Document& obj, std::string_view prefix,
                                                      std::string_view member, size_t min_len,
                                                      size_t max_len, const StringRule& element,
                                                      bool required = false);
  // A list of structures: checks its length; returns the elements (null if absent/invalid).
  const List* struct_list(const Document& obj, std::string_view prefix, std::string_view member,
                          size_t min_len, size_t max_len, bool required = false);
  // TagMap: string -> string, 1..200 entries, keys 1..128, values 0..256.
  std::optional<std::vector<std::pair<std::string, std::string>>> tag_map(
      const Document& obj, std::string_view prefix, std::string_view member,
      bool required = false);

  // Adds a constraint violation directly.
  void violation(std::string_view path, std::string_view value, std::string_view constraint) {
    errors_.add(path, value, constraint);
  }
  bool failed() const { return serialization_.has_value() || !errors_.empty(); }
  // The error to answer with, if any: SerializationException first, then ValidationException.
  std::optional<ApiError> error() const;

 private:
  void type_error(const Error& e);
  void check_string(const MemberPath& path, std::string_view value, const StringRule& rule);

  ValidationErrors errors_;
  std::optional<ApiError> serialization_;
};

}  // namespace freshet::api::kinesis

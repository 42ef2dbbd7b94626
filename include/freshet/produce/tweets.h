// A deterministic generator of realistic tweet events, in the two shapes the Twitter/X APIs
// deliver them: v1.1 (the statuses/filter stream: a Tweet object with an embedded `user`,
// `entities`, `retweeted_status`/`quoted_status`, `timestamp_ms`) and v2 (a filtered-stream
// frame: `data` + `includes.users`/`includes.tweets` + `matching_rules`).
//
// What makes the events realistic enough to test a pipeline on:
//  - Snowflake ids (time << 22 | worker << 12 | sequence), unique per generator, as numbers
//    and as strings (`id`/`id_str`); created_at in each shape's format.
//  - Text in a dozen languages (`lang`) with hashtags, mentions and t.co URLs whose entity
//    indices are Unicode code points into the text (as Twitter counts them), emoji, and
//    non-Latin scripts; retweets ("RT @user: ...") and quotes that embed the original.
//  - Users and hashtags drawn from Zipf distributions, so some accounts and tags dominate
//    (trends exist); followers fall with a user's rank; the top ranks are verified.
//  - A set share of malformed events, each of a known kind (truncated JSON, wrong types,
//    missing fields, binary junk, oversized), so a test knows what a pipeline must reject.
//
// Deterministic: the same options (seed included) give the same sequence of events, byte for
// byte, when the caller passes the same times to next(). Not thread-safe: one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace freshet::produce {

enum class TweetShape : uint8_t { kV1, kV2, kMixed };
const char* to_string(TweetShape s);  // "v1", "v2", "mixed"
bool parse_tweet_shape(std::string_view text, TweetShape* out);

enum class RecordKind : uint8_t {
  kValid = 0,
  kTruncated,      // a tweet cut short: not valid JSON
  kWrongTypes,     // valid JSON; the ids and the user have the wrong JSON types
  kMissingFields,  // valid JSON without the author and the tweet id
  kBinaryJunk,     // random bytes (no newline), not JSON
  kOversized,      // a valid tweet whose text is larger than a table item may be (400 KB)
};
inline constexpr int kRecordKinds = 6;
const char* to_string(RecordKind k);  // "valid", "truncated", "wrong_types", ...

struct TweetOptions {
  uint64_t seed = 1;
  TweetShape shape = TweetShape::kV1;
  double malformed_share = 0.0;  // 0..1: the share of events that are malformed
  uint32_t users = 50'000;       // distinct authors (Zipf over them)
  uint32_t hashtags = 2'000;     // distinct hashtags (Zipf over them)
  double zipf_exponent = 1.1;
  double retweet_share = 0.2;
  double quote_share = 0.05;
  size_t oversized_bytes = 410 * 1000;  // text size of an oversized event
};

struct GeneratedEvent {
  std::string data;           // the event's bytes (JSON unless malformed)
  std::string partition_key;  // the author's id as a string (tweets of a user stay in order)
  RecordKind kind = RecordKind::kValid;
  uint64_t tweet_id = 0;          // the event's tweet id (0 for binary junk)
  std::string author_id;          // the author's id as a string ("" for binary junk)
  std::string lang;               // for valid events
  std::vector<std::string> hashtags;  // hashtag texts in the visible text, for valid events
  std::vector<std::string> mentions;  // screen names mentioned, for valid events
};

class TweetGenerator {
 public:
  explicit TweetGenerator(const TweetOptions& options);
  ~TweetGenerator();
  TweetGenerator(const TweetGenerator&) = delete;
  TweetGenerator& operator=(const TweetGenerator&) = delete;

  // Writes the next event into *out (reusing its buffers). now_ms is the event's creation
  // time (Unix ms); ids stay unique and increasing even when it stands still or goes back.
  void next(int64_t now_ms, GeneratedEvent* out);

  const TweetOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::produce

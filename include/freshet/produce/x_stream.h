// A Source of live tweets from the X (Twitter) API v2 filtered stream, as X documents it:
//
//  - rules first: POST {base}/2/tweets/search/stream/rules {"add":[{"value":..,"tag":..}]}
//    (rules already present are kept; X answers DuplicateRule for them, which is fine);
//  - then GET {base}/2/tweets/search/stream?{fields}, Authorization: Bearer <token>, a
//    long-lived chunked response of one JSON frame per line ("\r\n"), with a bare "\r\n"
//    keep-alive every ~20 s;
//  - a stall (no byte, keep-alives included, for stall_timeout_ms: X says 20 s keep-alives, so
//    reconnect after some missed) and a disconnect reconnect with X's backoff: network errors
//    and clean disconnects back off linearly (+250 ms up to 16 s), HTTP errors exponentially
//    (from 5 s up to 320 s), HTTP 429 exponentially from 1 minute. A connection that delivered
//    a frame resets the backoff.
//
// Threads: a connection thread (started by the constructor, joined by cancel()/the
// destructor) runs libcurl and hands frames through a bounded queue to next(), which blocks
// until a frame arrives or cancel() is called (then it returns false: the end).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/produce/producer.h"

namespace freshet::produce {

struct XStreamOptions {
  std::string base_url = "https://api.twitter.com";  // tests point it at a local fake
  std::string bearer_token;                          // X_BEARER_TOKEN
  std::vector<std::pair<std::string, std::string>> rules;  // (value, tag) to add first
  std::string fields =
      "tweet.fields=created_at,lang,entities,public_metrics,author_id,referenced_tweets,"
      "conversation_id&expansions=author_id,referenced_tweets.id&user.fields=verified,"
      "public_metrics,created_at,location";
  int64_t stall_timeout_ms = 90'000;
  // Backoff, as X documents it (tests shorten them).
  int64_t network_step_ms = 250, network_max_ms = 16'000;
  int64_t http_first_ms = 5'000, http_max_ms = 320'000;
  int64_t rate_limit_first_ms = 60'000;
  size_t queue_frames = 10'000;
};

struct XStreamStats {
  uint64_t connections = 0;  // successful (HTTP 200) connections
  uint64_t reconnects = 0;   // attempts after the first
  uint64_t frames = 0;
  uint64_t keep_alives = 0;
  std::string last_error;
};

class XStreamSource final : public Source {
 public:
  // Adds the rules (if any) and starts the connection thread. Fails on a rules request X
  // refuses (bad token, bad rule) without starting.
  static Result<std::unique_ptr<XStreamSource>> open(XStreamOptions options);
  ~XStreamSource() override;

  // The next frame (keyed by data.author_id); false once cancel() was called.
  Result<bool> next(int64_t now_ms, Record* out) override;
  void cancel() override;
  XStreamStats stats() const;

  struct Impl;

 private:
  explicit XStreamSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet::produce

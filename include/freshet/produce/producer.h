// The producer behind `freshet produce` and the `producers:` of a pipeline file: records from
// a Source (the tweet generator, a file of JSON lines, stdin, a recorded file replayed at its
// own pace) sent in batches to a Sink (a Kinesis endpoint over HTTP, a stream::Engine in the
// same process, a file), at a set rate, with retries of the records a sink refuses for now.
//
// Threads: run() is called on one thread, which reads the source, paces and batches. It hands
// batches through a bounded queue (2 per sender) to `senders` threads, each with its own Sink
// (sinks need not be thread-safe), and a progress thread calls on_progress once a second.
// Counters are atomics; run() joins every thread it started before it returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "freshet/common/result.h"
#include "freshet/produce/tweets.h"

namespace freshet::stream {
class Engine;
}

namespace freshet::produce {

// Kinesis' limits: a record's data plus partition key, and a PutRecords request.
inline constexpr size_t kMaxRecordBytes = 1 << 20;
inline constexpr size_t kMaxRequestBytes = 5 << 20;
inline constexpr int kMaxRequestRecords = 500;

struct Record {
  std::string data;
  std::string partition_key;
  int64_t event_ms = -1;  // the record's own time (replay pacing); -1: unknown
  RecordKind kind = RecordKind::kValid;  // what the generator made; kValid for input lines
};

class Source {
 public:
  virtual ~Source() = default;
  // The next record into *out; false at the end of the input. now_ms is the wall clock.
  virtual Result<bool> next(int64_t now_ms, Record* out) = 0;
  // Makes a next() that is waiting (a live stream) return false. Thread-safe. Producer::stop()
  // calls it on the source being read.
  virtual void cancel() {}
};

// Tweets from TweetGenerator, forever. With start_ms >= 0 the events' times are synthetic
// (start_ms + i * step_us / 1000) so the output depends only on the options; otherwise each
// event is stamped with the wall clock.
struct GeneratorSourceOptions {
  TweetOptions tweets;
  int64_t start_ms = -1;
  int64_t step_us = 1000;
};
std::unique_ptr<Source> make_generator_source(const GeneratorSourceOptions& options);

// One record per non-empty line of a file ("-": stdin). Lines longer than kMaxRecordBytes are
// skipped and counted. The partition key is the JSON value at key_field (a dotted path such
// as "user.id_str"); empty key_field tries user.id_str, data.author_id, id_str, id; a line
// without one (or not JSON) is keyed by a hash of its bytes. With timestamps, event_ms comes
// from timestamp_ms, created_at (v1.1 or ISO 8601) or data.created_at.
struct LineSourceOptions {
  std::string path;
  std::string key_field;
  bool timestamps = false;
};
class LineSource;
Result<std::unique_ptr<Source>> open_line_source(const LineSourceOptions& options,
                                                 std::atomic<uint64_t>* skipped_lines);

// Parses "Wed Oct 10 20:19:24 +0000 2018" or "2018-10-10T20:19:24.000Z" (Unix ms), or -1.
int64_t parse_tweet_time(std::string_view text);

class Sink {
 public:
  virtual ~Sink() = default;
  // Sends the records (at most kMaxRequestRecords, kMaxRequestBytes). On success, sets
  // (*retry)[i] = 1 for each record refused for now (throttled, internal failure) and 0 for
  // each accepted one. An error means nothing is known to be accepted: kNotFound and
  // kInvalidArgument are final (the producer stops), others are retried.
  virtual Status put(const std::vector<const Record*>& records, std::vector<uint8_t>* retry) = 0;
};

// Writes to a stream of a stream::Engine in this process (put_records; waits for the fsync).
std::unique_ptr<Sink> make_engine_sink(stream::Engine& engine, std::string region,
                                       std::string stream);
// Appends each record's data and a newline to `out` (not owned; one sender only).
std::unique_ptr<Sink> make_file_sink(std::FILE* out);

struct ProducerStats {
  uint64_t records = 0;   // accepted by the sink
  uint64_t bytes = 0;     // their data bytes
  uint64_t requests = 0;  // sink calls
  uint64_t retried = 0;   // records sent again after a refusal or a failed call
  uint64_t failed = 0;    // records given up on after max_attempts
  uint64_t skipped = 0;   // input records too large for Kinesis, never sent
  uint64_t by_kind[kRecordKinds] = {};  // accepted records by kind
  std::string last_error;
};

struct ProducerOptions {
  double rate = 0;          // records per second; 0: as fast as the sinks take them
  int64_t count = -1;       // stop after this many records read from the source; -1: no limit
  double duration_s = 0;    // stop after this long; 0: no limit
  double replay_speed = 0;  // > 0: pace by the records' event_ms (1: original pace, 2: twice)
  int batch = kMaxRequestRecords;
  int64_t linger_ms = 50;   // send a partial batch once its first record waited this long
  int senders = 1;
  int max_attempts = 8;     // per record, with backoff from 50 ms doubling to 2 s
  // Called once a second from the progress thread, and once at the end (final = true).
  std::function<void(const ProducerStats& stats, double elapsed_s, bool final)> on_progress;
  // Makes each sender's sink (called on run()'s thread before any record is read).
  std::function<Result<std::unique_ptr<Sink>>()> make_sink;
};

class Producer {
 public:
  explicit Producer(ProducerOptions options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Reads `source` until it ends, count or duration is reached, stop() is called, or a sink
  // fails finally; returns that final error, if any. Blocks. Call once.
  Status run(Source& source);
  // Asks run() to finish: it stops reading, sends what it has batched, and returns.
  void stop();
  ProducerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "1.2k", "50.0k", "3.4M" style counts for progress lines.
std::string human_count(double n);

}  // namespace freshet::produce

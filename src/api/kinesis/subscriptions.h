// SubscribeToShard's delivery: the live subscriptions (one per consumer and shard) and the
// worker threads that read their shards and write SubscribeToShardEvents to their response
// streams.
//
// A subscription reads its shard through stream::Engine::get_records with the iterator of its
// StartingPosition, then with each answer's next iterator. It becomes ready to read when
//  - a put made records of its shard durable (notify(), called from the put paths),
//  - its connection took the bytes it had buffered (a slow reader caught up),
//  - its poll time came (poll_ms after the last empty read: records written by other paths,
//    a shard closed by resharding), or its heartbeat or end of life came.
// A ready subscription is read by one worker at a time: up to 10,000 records / 1 MiB per
// event, as long as its stream buffers less than max_buffered bytes (a slow reader holds the
// reading back instead of growing memory). With enforce_limits it delivers at most 2 MiB/s
// of record data (a token bucket holding one second).
//
// Threads and ownership: `threads` workers, started by the first subscribe and joined by the
// destructor. mu_ guards the registry, the ready queue and every Subscription's scheduling
// fields; a subscription's reading fields are touched only by the worker that holds it
// (`running`), never two at once. Lock order: mu_ is never held while calling the engine or a
// ResponseStream.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "freshet/api/aws_error.h"
#include "freshet/api/event_stream.h"
#include "freshet/metrics/registry.h"
#include "freshet/stream/engine.h"

namespace freshet::api::kinesis {

struct SubscriptionOptions {
  int64_t lifetime_ms = 300'000;  // AWS ends every subscription after 5 minutes
  int64_t heartbeat_ms = 5'000;   // an empty event after this long without one
  int64_t poll_ms = 200;          // re-read an idle shard this often
  bool enforce_limits = false;    // 2 MiB/s per consumer and shard
  size_t max_buffered = 4u << 20;  // response bytes a reader may leave untaken
  int threads = 2;
};

// What a new subscription starts from (validated by the handler).
struct SubscriptionStart {
  std::string consumer_arn;
  std::string region, stream, shard_id;
  std::string iterator;       // from Engine::get_shard_iterator
  uint64_t start_offset = 0;  // the iterator's position (for ContinuationSequenceNumber)
  uint64_t stream_epoch = 0, shard_index = 0;
  std::string shard_starting_sequence;  // the shard's StartingSequenceNumber
  bool kms = false;
  Protocol protocol = Protocol::kJson;
};

class Subscriptions {
 public:
  Subscriptions(stream::Engine& engine, metrics::Registry& metrics, SubscriptionOptions options);
  ~Subscriptions();  // ends every subscription (their streams end) and joins the workers
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  // Registers a subscription and returns its response stream, with the initial-response
  // event already written. ResourceInUseException if the consumer has a live subscription to
  // this shard.
  Result<std::shared_ptr<ResponseStream>> subscribe(SubscriptionStart start, ApiError* in_use);

  // Records of this shard became durable. Cheap when nobody subscribes. Any thread.
  void notify(const std::string& region, const std::string& stream, const std::string& shard_id);

  size_t active() const;

  struct Subscription;

 private:
  void worker();
  void make_ready_locked(const std::shared_ptr<Subscription>& s);  // REQUIRES: mu_ held
  // Reads and writes one event (or ends the subscription); returns when to run next
  // (0: at once, INT64_MAX: only when notified).
  int64_t step(Subscription& s);
  void finish(const std::shared_ptr<Subscription>& s);

  stream::Engine& engine_;
  const SubscriptionOptions options_;
  metrics::Counter* events_;
  metrics::Counter* records_;
  metrics::Counter* bytes_;
  metrics::Gauge* live_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<size_t> count_{0};  // live subscriptions; notify() returns early at zero
  // consumer ARN + '\n' + shard id -> subscription (one per consumer and shard).
  std::map<std::string, std::shared_ptr<Subscription>> by_consumer_;  // GUARDED_BY(mu_)
  // region/stream/shard -> subscriptions reading it.
  std::multimap<std::string, std::shared_ptr<Subscription>> by_shard_;  // GUARDED_BY(mu_)
  std::deque<std::shared_ptr<Subscription>> ready_;                     // GUARDED_BY(mu_)
  bool stopping_ = false;                                               // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;                                    // GUARDED_BY(mu_)
};

}  // namespace freshet::api::kinesis

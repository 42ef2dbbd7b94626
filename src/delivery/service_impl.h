// DeliveryService's private state, shared by service.cc (catalog, DirectPut buffers, the
// delivery thread) and source.cc (KinesisStreamAsSource read straight from the source stream).
//
// Threads and locks:
//  - API handler threads: put()/create()/describe()/... take Impl::mu_.
//  - The delivery thread (Impl::run, one per service): every tick_ms, one pass over every
//    stream: DirectPut buffers (deliver_buffer), deletions (finish_delete), and the joins of
//    finished source threads. pass_mu_ makes a pass exclusive with deliver_now().
//  - One source thread per KinesisStreamAsSource stream (Impl::source_loop): reads the source
//    stream's shards, seals batches, compresses and writes them. Everything under
//    "source state" in Stream is touched only while holding that stream's source_mu (the
//    source thread, or deliver_now() when the thread is not running).
//  Order: pass_mu_ before source_mu before mu_ before a log's internal locks. mu_ is never
//  held across object writes, fsyncs of checkpoints, or engine reads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "catalog.h"
#include "freshet/delivery/delivery.h"
#include "freshet/log/log_store.h"
#include "freshet/stream/engine.h"

namespace freshet::delivery {

constexpr uint64_t kMiB = 1024 * 1024;

// One record of a batch, wherever it is kept (the buffer log or the source stream).
struct BatchRecord {
  std::string_view data;
  int64_t timestamp_ms = 0;  // arrival in Firehose (error lines' arrivalTimestamp)
};

// A batch's identity: its objects' names and random strings derive from it, so a batch
// written again after a crash lands as the same objects under the same keys.
struct BatchId {
  int64_t time_ms = 0;  // arrival of the batch's oldest record (prefix and object name)
  uint64_t seed = 0;
  uint64_t version = 0;  // destination VersionId in the object names
};

struct PreparedObject {
  std::string key;
  std::string data;  // compressed
};

// A batch's objects, compressed and named, ready to be written.
struct PreparedBatch {
  std::string bucket;
  std::vector<PreparedObject> objects;
  uint64_t records = 0;  // records in objects under the prefix (not the error prefix)
  uint64_t bytes = 0;
};

// Groups a batch's records into objects (by partition with dynamic partitioning, plus one
// error object for records that cannot be partitioned), compressed and named from `id`.
// failure: "" normally; else every record goes into error lines ("delivery-failed").
Result<PreparedBatch> prepare_batch(const std::string& stream_name, const S3Destination& d,
                                    std::span<const BatchRecord> records, const BatchId& id,
                                    const std::string& failure);

// Sequence numbers are decimal strings: longer is larger, else compare as text.
inline bool seq_less(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// One delivery stream.
struct Stream {
  DeliveryStreamInfo info;  // GUARDED_BY(Impl::mu_)
  bool deleting = false;    // GUARDED_BY(Impl::mu_)
  bool force_delete = false;  // GUARDED_BY(Impl::mu_)
  std::string log_name;     // immutable
  std::string name;         // immutable: info.name
  std::string state_name;   // immutable: "<name>.<create_ms>", the checkpoints' file names
  std::shared_ptr<log::Log> log;  // immutable after open

  // Delivery thread only: the buffer log's delivery (DirectPut; for a Kinesis-sourced stream
  // only records a version before 2 copied into the buffer, delivered before the direct path
  // starts).
  DeliveryState state;
  // What the buffer holds past state.delivered, counted incrementally so a pass reads only
  // the records that arrived since the last one: records [delivered, scan_end) hold
  // scan_bytes bytes, the oldest arrived at scan_oldest (-1: none).
  uint64_t scan_end = 0;
  uint64_t scan_bytes = 0;
  int64_t scan_oldest = -1;
  int64_t first_failure_ms = 0;
  int64_t next_attempt_ms = 0;
  int64_t backoff_ms = 0;

  // Metrics (AWS/Firehose, label DeliveryStreamName).
  metrics::Counter* incoming_records = nullptr;
  metrics::Counter* incoming_bytes = nullptr;
  metrics::Counter* incoming_puts = nullptr;
  metrics::Counter* delivered_records = nullptr;
  metrics::Counter* delivered_bytes = nullptr;
  metrics::Counter* delivered_objects = nullptr;
  metrics::Counter* delivery_success = nullptr;
  metrics::Counter* delivery_failures = nullptr;
  metrics::Gauge* freshness = nullptr;
  metrics::Counter* throttled_records = nullptr;
  metrics::Counter* read_records = nullptr;
  metrics::Counter* read_bytes = nullptr;
  metrics::Gauge* millis_behind = nullptr;

  // Put quotas (enforce_limits), GUARDED_BY(Impl::mu_): token buckets holding up to one
  // second of each quota, refilled continuously.
  double tokens_records = 0, tokens_requests = 0, tokens_bytes = 0;
  int64_t tokens_at_us = 0;  // steady clock; 0: full

  // ---- KinesisStreamAsSource (source.cc) ----
  // Set by the delivery thread once the buffer log holds nothing undelivered (always, for a
  // stream created by this version); the source path starts only then.
  std::atomic<bool> buffer_drained{false};
  std::mutex source_mu;
  std::thread source_thread;  // owned by Impl: started by start()/create(), joined by
                              // stop() or by the delivery pass before finish_delete
  bool source_quit = false;    // GUARDED_BY(Impl::mu_): the source thread should exit
  std::atomic<bool> source_drained{false};  // deleting: everything read is delivered

  // Source state (source_mu).
  struct SourceShard {
    // Durable (the .source checkpoint): records up to `delivered` are in objects; finished:
    // the shard is closed and all of it is delivered.
    std::string delivered;
    bool finished = false;
    // The reader: records up to `read` are read (in the sealed batch or in `unsealed`);
    // read_end: a closed shard read to its end.
    std::string read;
    bool read_end = false;
    std::string iterator;  // "" -> get one after `read`
    struct Chunk {
      std::shared_ptr<stream::GetRecordsResult> result;
      size_t next = 0;      // first record not yet sealed
      int64_t read_ms = 0;  // when it was read (the records' arrival in Firehose)
    };
    std::deque<Chunk> unsealed;
    uint64_t unsealed_bytes = 0;
  };
  std::map<std::string, SourceShard> source;  // by shard id
  // A sealed batch: written next (also the batch left pending by a crash, read again).
  struct Sealed {
    BatchId id;
    std::map<std::string, std::pair<std::string, bool>> ends;  // shard -> (last seq, finished)
    std::vector<BatchRecord> records;  // in shard order, each shard's in sequence order
    std::vector<std::shared_ptr<stream::GetRecordsResult>> keep;  // owns the records' bytes
    std::optional<PreparedBatch> prepared;
    bool saved = false;  // its ends are in the checkpoint as pending
  };
  std::optional<Sealed> sealed;
  bool source_pending = false;  // the checkpoint names a pending batch (source_pending_*)
  BatchId source_pending_id;
  std::map<std::string, std::pair<std::string, bool>> source_pending_ends;
  bool source_dirty = false;  // `delivered` moved since the checkpoint was saved
  int64_t source_first_failure_ms = 0;
  int64_t source_next_attempt_ms = 0;
  int64_t source_backoff_ms = 0;
  uint64_t avg_record_bytes = 1024;  // for sizing reads
};

class DeliveryService::Impl {
 public:
  explicit Impl(DeliveryOptions o) : opt_(std::move(o)) {
    fs_ = opt_.fs ? opt_.fs : posix_file_system();
  }

  Status open();
  Status open_stream(DeliveryStreamInfo info, bool fresh);
  void run();
  // from_thread: the delivery thread's pass (leaves Kinesis-sourced streams to their own
  // threads); deliver_now() also runs their source step.
  void pass(bool from_thread);
  void deliver_stream(const std::shared_ptr<Stream>& s, int64_t now, bool from_thread);
  // The buffer log's batching and writes; true when it holds nothing undelivered. *again:
  // it wrote a batch and more may be waiting (run it again at once).
  bool deliver_buffer(Stream& s, const DeliveryStreamInfo& cfg, int64_t now, bool deleting,
                      bool* again);
  // Writes the objects of [state.delivered, state.pending_end); false if it failed.
  // failure: "" to write the batch's objects; else the reason the destination failed, and
  // the records go as error lines under the error prefix ("delivery-failed").
  Status write_batch(Stream& s, const DeliveryStreamInfo& cfg, const std::string& failure);
  // Writes prepared objects and counts them (DeliveryToS3.*).
  Status put_batch(Stream& s, const PreparedBatch& b);
  Status save_state(Stream& s);
  void finish_delete(const std::shared_ptr<Stream>& s);
  void add_metrics(Stream& s);
  // Whether a stream created at info.create_ms is still CREATING (DeliveryOptions).
  bool creating(const DeliveryStreamInfo& info) const;

  // ---- KinesisStreamAsSource (source.cc) ----
  Status load_source(Stream& s);
  Status save_source(Stream& s);
  void start_source_thread(const std::shared_ptr<Stream>& s);  // REQUIRES: mu_ held
  void stop_source_thread(Stream& s);                           // REQUIRES: mu_ not held
  void source_loop(std::shared_ptr<Stream> s);
  // One step: writes a pending or sealed batch, reads the shards until a buffer is full or
  // nothing is new, seals and writes full batches, and a due one. True if it wrote a full
  // buffer (more may be waiting: step again at once). REQUIRES: s.source_mu held.
  bool source_step(Stream& s);
  bool source_step_inner(Stream& s);
  bool read_source(Stream& s, const DeliveryStreamInfo& cfg, uint64_t limit);
  void seal(Stream& s, const DeliveryStreamInfo& cfg, uint64_t limit);
  Status reread_pending(Stream& s, const DeliveryStreamInfo& cfg);
  bool write_sealed(Stream& s, const DeliveryStreamInfo& cfg);

  DeliveryOptions opt_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<log::LogStore> logs_;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>, std::less<>> streams_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;      // GUARDED_BY(mu_)
  bool started_ = false;   // GUARDED_BY(mu_): start() ran, stop() did not
  bool wake_ = false;      // GUARDED_BY(mu_)
  std::thread thread_;
  std::mutex pass_mu_;  // one delivery pass at a time (thread and deliver_now)
};

int64_t now_ms();

}  // namespace freshet::delivery

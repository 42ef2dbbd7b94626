// ShardRunner: reads one shard for one mapping and runs its function (runner.cc).
//
// One thread. Reads records in-process (stream::Engine::get_records, outside the shard's
// shared read limits), gathers batches (BatchSize, MaximumBatchingWindowInSeconds), drops
// what FilterCriteria rejects, invokes the function, and commits each outcome in this order:
// failure records to the OnFailure stream, outputs to the sink, then the checkpoint. Each
// step is durable before the next begins, so a crash replays at most the uncommitted batch
// (at-least-once; puts by key make the table exactly-once).
#pragma once

#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "freshet/process/filter.h"
#include "service_impl.h"

namespace freshet::process {

class ShardRunner {
 public:
  ShardRunner(ProcessService::Impl& impl, Mapping m, FunctionConfig fc, stream::Shard shard,
              std::string region, std::string stream, bool new_shard,
              int64_t lease_counter = -1);
  ~ShardRunner();  // stop()
  void start();
  void stop();
  bool done() const { return done_.load(); }          // the thread ended
  bool finished() const { return finished_.load(); }  // the shard is read to its end
  ShardProgress progress() const;

  // A group of records that failed, for the failure destination.
  struct Failed {
    std::vector<Record> records;
    std::string reason;
    std::string condition;  // RetryAttemptsExhausted, RecordAgeExceeded, RecordRejected
    std::string function_error;
    int attempts = 1;
  };
  struct CommitSet {
    std::span<const Record> recs;  // the records Output::record indexes
    std::vector<Output> outputs;
    std::vector<Failed> failed;
    bool checkpoint = false;
    Checkpoint cp;
    bool write_now = false;  // the checkpoint is written even if it could wait (see commit)
  };

 private:
  void run();
  bool stopping() const { return stop_.load(); }
  bool wait_ms(int64_t ms);  // false if stopping
  Result<std::string> iterator_from(const std::string& after_seq);
  // Runs recs to the end: invoke, retries, bisection, the failure destination, commits.
  // end_seq is the checkpoint once all of them are done. False if stopping first.
  // checkpoints=false: the caller writes the checkpoint once every lane is done
  // (ParallelizationFactor); fn is the lane's function instance.
  bool handle(std::span<const Record> recs, const std::string& end_seq, int attempts,
              Function& fn, bool checkpoints);
  bool process_batch(std::span<const Record> recs, const std::string& end_seq);
  // ParallelizationFactor > 1: the batch split by partition key into that many lanes (order
  // kept per key), run concurrently, then one checkpoint.
  bool process_lanes(std::span<const Record> recs, const std::string& end_seq);
  bool close_window();
  // Brings window_state_ up to date from a function that keeps its window's state.
  void sync_window_state();
  // Writes cp_ if a checkpoint was put off (checkpoint_deferred_): now, or (now = false)
  // only once kCheckpointEveryMs has passed since the last write.
  bool flush_checkpoint(bool now);
  InvokeResult invoke(std::span<const Record> recs, bool final_window, Function& fn);
  void report_age(double ms);
  bool ensure_sink();  // looks up (or creates) the sink table once
  bool commit(CommitSet& cs);
  bool write_failures(std::vector<Failed>& failed);
  bool write_outputs(std::vector<Output>& outputs, CommitSet& cs);
  // window_count into a table: adds this shard's counts to the window's items (see runner.cc).
  bool merge_window_counts(std::vector<table::Item>& items);
  bool retry_until_ok(const char* what, const std::function<Status()>& step);

  ProcessService::Impl& impl_;
  const Mapping m_;
  const FunctionConfig fc_;
  const stream::Shard shard_;
  const std::string region_, stream_;
  const bool new_shard_;
  const int64_t lease_counter_;  // leases: the counter of the lease held (-1: no leases)
  std::string function_arn_;
  std::unique_ptr<Function> fn_;
  std::vector<std::unique_ptr<Function>> lane_fns_;  // ParallelizationFactor > 1
  FilterSet filters_;
  simdjson::dom::parser parser_;  // FilterCriteria matching
  FunctionSeries* fseries_;
  MappingSeries* mseries_;
  ShardSeries* sseries_;
  std::optional<table::TableDesc> sink_desc_;

  Checkpoint cp_;  // what is committed (run thread only)
  int64_t window_start_ = -1;
  std::string window_state_ = "{}";
  bool window_closed_ = false;  // window_start_'s final invocation is done (see Checkpoint)
  bool window_dirty_ = false;  // records were invoked in the open window
  // Functions that keep_window_state(): fn_ holds window_start_'s state (it was invoked in
  // the window since it was last given the state text), and window_state_ is older than that
  // state while window_state_stale_ (sync_window_state() brings it up to date). Every
  // invocation is followed by its commit (or the thread ends), so fn_'s state is that of the
  // records up to the checkpoint being committed.
  bool state_in_fn_ = false;
  bool window_state_stale_ = false;
  // A checkpoint that only moves the shard's position (no outputs or failure records to
  // write first) is written at most every kCheckpointEveryMs: cp_ is then ahead of the
  // stored one until the next write (a crash replays from the stored one: at-least-once, and
  // a window's state is stored with its position, so replayed counts are not counted twice).
  bool checkpoint_deferred_ = false;
  int64_t last_checkpoint_write_ms_ = 0;
  // The last IteratorAge reported and when (report_age: run thread and lane threads).
  std::atomic<double> last_age_ms_{0};
  std::atomic<int64_t> last_age_report_ms_{0};

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<bool> finished_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  mutable std::mutex progress_mu_;
  std::string checkpoint_seq_;  // GUARDED_BY(progress_mu_)
  std::atomic<uint64_t> records_{0}, invocations_{0}, failed_{0};
};

}  // namespace freshet::process

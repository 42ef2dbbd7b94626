// Internals of ProcessService (service.h): the catalog (service.cc), the per-mapping
// supervisor and per-shard runners (runner.cc) and the sinks (sink.cc).
//
// Ownership and threads:
//  - Impl::mu_ guards functions_, compiled_, mappings_, supervisors_, started_, stopping_.
//  - Each Supervisor has one thread (started by Impl, joined by Supervisor::stop()); it owns
//    the ShardRunners of its mapping (runners_ is touched only by that thread, and by stop()
//    after the thread is joined).
//  - Each ShardRunner has one thread; it owns its Function instance and its sink writer.
//    Its progress counters are atomics read by progress().
//  - InvokeSlot::mu serializes Lambda Invoke calls on one function instance.
// Lock order: Impl::mu_ -> Supervisor::mu_ -> InvokeSlot::mu. No lock is held while a
// function runs in a shard runner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/log_limiter.h"
#include "freshet/metrics/registry.h"
#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"
#include "backend.h"

namespace freshet::process {

// The IteratorAge of a function or a mapping: the largest of its shards' current ages (each
// shard runner reports its own), so that the one gauge the sampler reads each second shows
// the shard furthest behind, not whichever shard invoked last. Thread-safe (mu_).
class MaxAge {
 public:
  explicit MaxAge(metrics::Gauge* gauge) : gauge_(gauge) {}
  void set(const std::string& who, double ms);
  void forget(const std::string& who);

 private:
  void publish_locked();
  metrics::Gauge* gauge_;
  std::mutex mu_;
  std::map<std::string, double> ages_;  // GUARDED_BY(mu_)
};

struct FunctionSeries {
  metrics::Counter* invocations;
  metrics::Counter* errors;
  metrics::Histogram* duration;
  MaxAge* iterator_age;
  metrics::Gauge* concurrent;
  metrics::Counter* dead_letter_errors;
};

struct MappingSeries {
  metrics::Counter* polled;
  metrics::Counter* filtered_out;
  metrics::Counter* invoked;
  metrics::Counter* failed_invoke;
  metrics::Counter* on_failure_delivered;
  metrics::Counter* dropped;
  MaxAge* iterator_age;
};

struct ShardSeries {
  metrics::Counter* records_in;
  metrics::Counter* records_failed;
  metrics::Counter* records_to_destination;
  metrics::Gauge* iterator_age;
};

struct InvokeSlot {
  std::mutex mu;
  FunctionConfig config;
  std::unique_ptr<Function> fn;  // GUARDED_BY(mu), made on first use
};

// The checkpoint of one shard (an item of kCheckpointTable).
struct Checkpoint {
  std::string sequence;  // last sequence number done ("" = none)
  bool finished = false;
  // The shard's last tumbling window (-1: none) and its state. A closed window keeps both:
  // a record that becomes readable after the window closed (it arrived, by its timestamp,
  // inside the window, but its append was still syncing) reopens it with the state so far,
  // so the window's next final invocation counts it too instead of starting over.
  int64_t window_start_ms = -1;
  std::string window_state = "{}";
  bool window_closed = false;
  // A LATEST mapping's start on this shard (epoch ms, -1: none yet), written before the
  // first read: a runner that starts the shard later without a sequence (a restart, another
  // worker taking the lease over) reads from it (AT_TIMESTAMP) instead of from its own
  // LATEST, which would skip what arrived in between.
  int64_t start_ms = -1;
};

// A shard's lease: fields of its checkpoint item (the KCL's lease: owner, counter,
// checkpoint), with an expiry time instead of the KCL's observed-counter timeout.
struct Lease {
  std::string shard;  // shard id
  std::string owner;  // worker id, "" = none
  int64_t counter = 0;  // +1 on every change of owner
  int64_t expires_ms = 0;
  bool finished = false;
};

class Supervisor;
class ShardRunner;

class ProcessService::Impl {
 public:
  explicit Impl(ProcessOptions o);

  ProcessOptions opt;
  // The streams and tables: opt.engine and opt.tables, or a remote server (opt.endpoint).
  std::unique_ptr<Backend> backend;
  std::shared_ptr<FileSystem> fs;
  std::string dir;  // <data_dir>/process

  // Functions.
  Result<std::unique_ptr<Function>> instantiate(const FunctionConfig& c) const;  // REQUIRES: mu_ not held
  Result<FunctionConfig> function_config(std::string_view name) const;
  std::string function_arn(std::string_view name) const;
  FunctionSeries& function_series(const std::string& name);
  MappingSeries& mapping_series(const std::string& uuid);
  ShardSeries& shard_series(const std::string& uuid, const std::string& shard);
  MaxAge* max_age(metrics::Gauge* gauge);  // REQUIRES: series_mu_ held
  metrics::Registry& registry() { return *metrics_; }

  // Mappings.
  Result<Mapping> mapping(std::string_view uuid) const;
  void set_state(const std::string& uuid, const std::string& expected, const std::string& state);
  void set_last_result(const std::string& uuid, const std::string& result);
  void forget_mapping(const std::string& uuid);  // after Deleting: drop it and persist
  Status persist_locked();                       // REQUIRES: mu_ held
  Status load();
  void start_supervisor_locked(const std::string& uuid);  // REQUIRES: mu_ held

  // Checkpoints.
  Status ensure_checkpoint_table();
  Result<Checkpoint> read_checkpoint(const std::string& uuid, const std::string& shard) const;
  table::WriteOp checkpoint_op(const std::string& uuid, const std::string& shard,
                               const Checkpoint& c) const;

  // Leases (opt.worker_id set). Conditional updates of the checkpoint items; each returns
  // false if its condition failed (someone else holds the lease) and sets the new counter.
  bool leases() const { return !opt.worker_id.empty(); }
  Result<std::vector<Lease>> read_leases(const std::string& uuid) const;
  // Takes a lease that is free or expired (seen == nullptr) or steals `seen` (its owner and
  // counter unchanged since it was read).
  Result<bool> acquire_lease(const std::string& uuid, const std::string& shard,
                             const Lease* seen, int64_t& counter);
  Result<bool> renew_lease(const std::string& uuid, const std::string& shard, int64_t counter);
  // Gives a lease back (expires it now) at a clean stop, so that another worker takes the
  // shard at its next round instead of after lease_ms.
  Result<bool> release_lease(const std::string& uuid, const std::string& shard, int64_t counter);
  // The checkpoint, written only while this worker holds the lease with this counter.
  Result<bool> write_leased_checkpoint(const std::string& uuid, const std::string& shard,
                                       const Checkpoint& c, int64_t counter);

  mutable std::mutex mu_;
  std::map<std::string, FunctionConfig, std::less<>> functions_;      // GUARDED_BY(mu_)
  std::map<std::string, FunctionFactory, std::less<>> compiled_;      // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<InvokeSlot>, std::less<>> slots_;  // GUARDED_BY(mu_)
  std::map<std::string, Mapping, std::less<>> mappings_;              // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<Supervisor>> supervisors_;    // GUARDED_BY(mu_)
  uint64_t functions_version_ = 0;                                    // GUARDED_BY(mu_)
  bool started_ = false;                                              // GUARDED_BY(mu_)
  bool stopping_ = false;                                             // GUARDED_BY(mu_)
  std::atomic<bool> checkpoint_table_ready_{false};

  std::unique_ptr<metrics::Registry> own_metrics_;  // when ProcessOptions::metrics is null
  metrics::Registry* metrics_;
  std::mutex series_mu_;  // guards the three series maps
  std::map<std::string, std::unique_ptr<FunctionSeries>> function_series_;
  std::map<std::string, std::unique_ptr<MappingSeries>> mapping_series_;
  std::map<std::string, std::unique_ptr<ShardSeries>> shard_series_;
  std::vector<std::unique_ptr<MaxAge>> max_ages_;  // of the series above
  LogLimiter drop_log_;
};

// One mapping's shard discovery and runners (runner.cc).
class Supervisor {
 public:
  Supervisor(ProcessService::Impl& impl, std::string uuid);
  ~Supervisor();  // stop()
  void start();
  void stop();  // stops the runners, joins the thread
  std::vector<ShardProgress> progress() const;

 private:
  void run();
  void stop_runners();
  bool wait(int64_t ms);  // false once stopping

  ProcessService::Impl& impl_;
  const std::string uuid_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                                // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<ShardRunner>> runners_;      // GUARDED_BY(mu_) for reads
  std::map<std::string, bool> finished_;                             // GUARDED_BY(mu_)
  // Leases held (shard -> counter): touched by the supervisor thread only (and by stop(),
  // which gives them back, after joining it).
  std::map<std::string, int64_t> held_;
  void balance_leases(const std::vector<std::string>& active);
};

}  // namespace freshet::process

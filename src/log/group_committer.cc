#include "group_committer.h"

#include "freshet/common/logging.h"

#include <algorithm>
#include <cstring>

#include "freshet/common/thread_name.h"
#include "freshet/common/crc32c.h"
#include "wal_format.h"

namespace freshet::log {

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  {
    std::lock_guard pool(pool_mu_);
    pool_stop_ = false;
  }
  for (int i = 0; i < sync_helpers_; ++i) helpers_.emplace_back([this] { helper(); });
  thread_ = std::thread([this] {
    name_this_thread("log-commit");
    run();
  });
}

void GroupCommitter::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
  // Every queued round ran; leave no entry to replay behind on a clean stop.
  if (wal_) (void)checkpoint();  // failures are logged; replay covers what it left
  {
    std::lock_guard pool(pool_mu_);
    pool_stop_ = true;
  }
  pool_cv_.notify_all();
  for (auto& h : helpers_) h.join();
  helpers_.clear();
  std::lock_guard lock(mu_);
  running_ = false;
}

Status GroupCommitter::Target::sync() {
  const uint64_t covered = written.load(std::memory_order_acquire);
  Status s = file->sync();
  if (!s.ok()) return s;
  uint64_t cur = synced.load(std::memory_order_relaxed);
  while (cur < covered &&
         !synced.compare_exchange_weak(cur, covered, std::memory_order_release,
                                       std::memory_order_relaxed)) {
  }
  return s;
}

Status GroupCommitter::timed_sync(Target& t) {
  if (!observer_.fsync_latency) return t.sync();
  const auto start = std::chrono::steady_clock::now();
  Status s = t.sync();
  observer_.fsync_latency(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return s;
}

Status GroupCommitter::timed_sync(File& f) {
  if (!observer_.fsync_latency) return f.sync();
  const auto start = std::chrono::steady_clock::now();
  Status s = f.sync();
  observer_.fsync_latency(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return s;
}

void GroupCommitter::sync_one(const std::shared_ptr<Target>& t) {
  Status s = timed_sync(*t);
  if (!s.ok()) {
    logging::error("group commit: {} (the log stops accepting writes until reopened)",
                  s.to_string());
    std::lock_guard g(mu_);
    t->failed = true;
    t->error = s.error().message();
  }
}

void GroupCommitter::take_files() {
  std::unique_lock pool(pool_mu_);
  while (pool_round_ != nullptr && pool_next_ < pool_round_->size()) {
    const std::shared_ptr<Target>& t = (*pool_round_)[pool_next_++];
    pool.unlock();
    sync_one(t);  // the round (and t) outlives this: the committer waits for pool_done_
    pool.lock();
    if (++pool_done_ == pool_round_->size()) pool_done_cv_.notify_one();
  }
}

void GroupCommitter::helper() {
  uint64_t seen = 0;
  std::unique_lock pool(pool_mu_);
  while (true) {
    pool_cv_.wait(pool, [&] { return pool_stop_ || pool_seq_ != seen; });
    if (pool_stop_) return;
    seen = pool_seq_;
    pool.unlock();
    take_files();
    pool.lock();
  }
}

uint64_t GroupCommitter::sync_round(const std::vector<std::shared_ptr<Target>>& round) {
  if (round.size() <= 1 || helpers_.empty()) {
    for (const auto& t : round) sync_one(t);
    return round.size();
  }
  {
    std::lock_guard pool(pool_mu_);
    pool_round_ = &round;
    pool_next_ = 0;
    pool_done_ = 0;
    ++pool_seq_;
  }
  pool_cv_.notify_all();
  take_files();
  std::unique_lock pool(pool_mu_);
  pool_done_cv_.wait(pool, [&] { return pool_done_ == round.size(); });
  pool_round_ = nullptr;
  return round.size();
}

uint64_t GroupCommitter::enqueue(const std::shared_ptr<Target>& target) {
  std::lock_guard lock(mu_);
  if (target->queued_round != next_round_) {
    target->queued_round = next_round_;
    queued_.push_back(target);
  }
  ++round_appends_;
  work_cv_.notify_one();
  return next_round_;
}

Status GroupCommitter::wait(uint64_t ticket, const std::shared_ptr<Target>& target) {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) {
    // No thread to do it: sync inline so that the caller's contract still holds.
    lock.unlock();
    return sync_now(target);
  } else {
    done_cv_.wait(lock, [&] { return completed_round_ >= ticket || target->failed; });
  }
  if (target->failed) return Error(ErrorCode::kFailed, "fsync failed: " + target->error);
  return {};
}

Status GroupCommitter::outcome(const Target& t) {
  if (t.failed) return Error(ErrorCode::kFailed, "fsync failed: " + t.error);
  return {};
}

void GroupCommitter::wait_async(uint64_t ticket, const std::shared_ptr<Target>& target,
                                Callback done) {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) {
    lock.unlock();
    done(sync_now(target));
    return;
  }
  if (completed_round_ >= ticket || target->failed) {
    Status s = outcome(*target);
    lock.unlock();
    done(std::move(s));
    return;
  }
  waiters_.push_back(Waiter{ticket, target, std::move(done)});
}

Status GroupCommitter::sync_now(const std::shared_ptr<Target>& target) {
  Status s = timed_sync(*target);
  std::lock_guard lock(mu_);
  ++syncs_;
  if (!s.ok()) {
    target->failed = true;
    target->error = s.error().message();
  }
  if (target->failed) return Error(ErrorCode::kFailed, "fsync failed: " + target->error);
  return {};
}

void GroupCommitter::run() {
  std::vector<std::shared_ptr<Target>> round;
  std::vector<Waiter> ready;
  std::vector<Status> ready_status;
  std::unique_lock lock(mu_);
  std::string wal_bytes;
  std::vector<std::shared_ptr<Target>> wal_targets;
  while (true) {
    work_cv_.wait(lock, [&] {
      return !queued_.empty() || !wal_pending_.empty() || stopping_ ||
             checkpoint_requested_ > checkpoint_number_;
    });
    if (queued_.empty() && wal_pending_.empty()) {
      if (stopping_) break;
      lock.unlock();
      (void)checkpoint();  // requested by checkpoint_now(), which reads the outcome
      lock.lock();
      continue;
    }
    round.swap(queued_);
    wal_bytes.swap(wal_pending_);
    wal_targets.swap(wal_targets_);
    const uint64_t number = next_round_++;
    const size_t appends = round_appends_;
    round_appends_ = 0;
    lock.unlock();
    if (!wal_bytes.empty() && !write_wal(wal_bytes)) {
      // The entries are not durable in the WAL: make them durable in their files instead.
      for (const auto& t : wal_targets) {
        if (std::find(round.begin(), round.end(), t) == round.end()) round.push_back(t);
      }
    }
    if (observer_.round_appends) observer_.round_appends(appends);
    wal_bytes.clear();
    wal_targets.clear();
    const uint64_t synced = sync_round(round);
    round.clear();
    lock.lock();
    syncs_ += synced;
    completed_round_ = number;
    done_cv_.notify_all();
    // Asynchronous waiters whose round is over, in the order they registered; their
    // callbacks run without mu_ so they may enqueue the next writes.
    size_t kept = 0;
    for (Waiter& w : waiters_) {
      if (w.ticket <= number || w.target->failed) {
        ready_status.push_back(outcome(*w.target));
        ready.push_back(std::move(w));
      } else {
        if (&waiters_[kept] != &w) waiters_[kept] = std::move(w);
        ++kept;
      }
    }
    waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(kept), waiters_.end());
    const bool due =
        wal_ && (wal_size_ >= next_checkpoint_at_ || checkpoint_requested_ > checkpoint_number_ ||
                 (wal_stalled_ && std::chrono::steady_clock::now() >= next_retry_));
    if (wal_ && !due && wal_size_ >= next_writeback_at_) {
      // Start writing back the files the next checkpoint must sync, so that it finds little
      // left to write and holds up the rounds for less time.
      std::vector<std::shared_ptr<Target>> dirty = wal_dirty_;
      next_writeback_at_ = wal_size_ + wal_checkpoint_bytes_ / kWritebackSteps;
      lock.unlock();
      for (const auto& t : dirty) (void)t->file->start_writeback();
      lock.lock();
    }
    if (ready.empty() && !due) continue;
    lock.unlock();
    for (size_t i = 0; i < ready.size(); ++i) ready[i].done(std::move(ready_status[i]));
    ready.clear();
    ready_status.clear();
    if (due) (void)checkpoint();  // a failure is recorded and reported by health()
    lock.lock();
  }
  // Stopping: every queued round ran, so no waiter can remain; guard anyway.
  std::vector<Waiter> left;
  left.swap(waiters_);
  lock.unlock();
  for (Waiter& w : left) w.done(sync_now(w.target));
}

void GroupCommitter::mark_dirty_locked(const std::shared_ptr<Target>& t) {
  if (t->dirty_checkpoint == checkpoint_number_ + 1) return;  // listed already
  t->dirty_checkpoint = checkpoint_number_ + 1;
  wal_dirty_.push_back(t);
}

void GroupCommitter::enable_wal(std::shared_ptr<File> wal, uint64_t generation,
                                uint64_t checkpoint_bytes, size_t max_entry_bytes) {
  std::lock_guard lock(mu_);
  wal_ = std::move(wal);
  wal_generation_ = generation;
  wal_checkpoint_bytes_ = checkpoint_bytes;
  wal_max_entry_bytes_ = max_entry_bytes;
  wal_size_ = 0;
  next_checkpoint_at_ = checkpoint_bytes;
  next_writeback_at_ = checkpoint_bytes / kWritebackSteps;
}

uint64_t GroupCommitter::append_wal(std::string_view log, std::string_view batch,
                                    const std::shared_ptr<Target>& target) {
  if (batch.size() > wal_max_entry_bytes_ || log.size() > wal::kMaxNameBytes) return 0;
  std::lock_guard lock(mu_);
  if (!wal_ || !running_ || stopping_ || wal_failed_ || wal_stalled_) return 0;
  wal::append_entry(log, batch, &wal_pending_);
  ++round_appends_;
  if (target->wal_round != next_round_) {
    target->wal_round = next_round_;
    wal_targets_.push_back(target);
  }
  mark_dirty_locked(target);
  work_cv_.notify_one();
  return next_round_;
}

bool GroupCommitter::write_wal(std::string& bytes) {
  {
    std::lock_guard lock(mu_);
    if (wal_failed_) return false;
  }
  wal::seal_entries(bytes.data(), bytes.size(), wal_generation_);
  // A failed pwrite leaves wal_size_ where it was: the next round overwrites the same bytes.
  Status s = wal_->write_at(bytes.data(), bytes.size(), wal::kHeaderBytes + wal_size_);
  const bool wrote = s.ok();
  if (wrote) s = timed_sync(*wal_);
  if (s.ok()) {
    wal_size_ += bytes.size();
    wal_size_seen_.store(wal_size_, std::memory_order_relaxed);
    return true;
  }
  std::lock_guard lock(mu_);
  ++wal_write_failures_;
  if (!wrote) {
    if (auto held = wal_log_limiter_.allow()) {
      logging::error(
          "write-ahead log: {} (this round syncs its logs' files instead; {} more such "
          "failures since the last report)",
          s.to_string(), *held);
    }
    return false;
  }
  wal_failed_ = true;
  wal_error_ = "write-ahead log fdatasync failed: " + s.error().message();
  logging::error("{} (the WAL is not used again until restart; rounds sync the logs' files)",
                wal_error_);
  return false;
}

Status GroupCommitter::checkpoint() {
  std::vector<std::shared_ptr<Target>> dirty;
  uint64_t number = 0;
  {
    std::lock_guard lock(mu_);
    dirty.swap(wal_dirty_);
    number = ++checkpoint_number_;  // appends from now on mark their files for the next one
  }
  // Every entry in the WAL was written to its file before it was queued, so syncing the
  // files queued so far covers all of them (and some still pending, which is harmless).
  const uint64_t synced = sync_round(dirty);
  Status s;
  {
    std::lock_guard lock(mu_);
    syncs_ += synced;
    for (const auto& t : dirty) {
      if (t->failed) {
        s = Error(ErrorCode::kFailed, "checkpoint cannot sync " + t->file->path() + ": " +
                                          t->error);
        break;
      }
    }
  }
  // The WAL is recycled, not truncated (freeing 64 MiB of blocks took 26 ms here, with the
  // rounds held up): the next generation's header makes every entry in it stale.
  if (s.ok()) {
    const std::string header = wal::encode_header(wal_generation_ + 1);
    s = wal_->write_at(header.data(), header.size(), 0);
    if (s.ok()) s = timed_sync(*wal_);
    if (s.ok()) ++wal_generation_;
  }
  std::lock_guard lock(mu_);
  if (!s.ok()) {
    // The WAL keeps entries whose files are not known durable: stall it (batches sync their
    // own files meanwhile) and try again later.
    if (!wal_stalled_ || wal_error_ != s.error().message()) {
      logging::error("write-ahead log checkpoint: {} (the WAL is stalled; retrying every second)",
                    s.to_string());
    }
    wal_stalled_ = true;
    wal_error_ = s.error().message();
    ++checkpoint_failures_;
    for (const auto& t : dirty) mark_dirty_locked(t);
    next_checkpoint_at_ = wal_size_ + wal_checkpoint_bytes_;
    next_retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  } else {
    if (wal_stalled_) logging::info("write-ahead log: checkpoint succeeded; the WAL is used again");
    wal_stalled_ = false;
    if (!wal_failed_) wal_error_.clear();
    wal_size_ = 0;
    wal_size_seen_.store(0, std::memory_order_relaxed);
    next_checkpoint_at_ = wal_checkpoint_bytes_;
    next_writeback_at_ = wal_checkpoint_bytes_ / kWritebackSteps;
  }
  checkpoints_done_ = number;
  last_checkpoint_ = s;
  done_cv_.notify_all();
  return s;
}

Status GroupCommitter::checkpoint_now() {
  std::unique_lock lock(mu_);
  if (!wal_) return {};
  // While stopping, the committer may still run rounds (with the helpers); stop() runs a
  // checkpoint after the last one.
  if (!running_) {
    lock.unlock();
    std::lock_guard inline_only(inline_checkpoint_mu_);  // no committer thread: callers only
    return checkpoint();
  }
  if (stopping_) return Error(ErrorCode::kClosed, "the log store is closing");
  // Entries queued before this call (the last appends of a log the caller has just closed, to
  // remove it) must reach the WAL in the current generation, so that the checkpoint makes them
  // stale. A round that ends with a due checkpoint runs it before the entries queued meanwhile
  // are written; those would be written after it, in the new generation, naming a removed log.
  // So first wait for the round that takes what is queued now.
  if (!wal_pending_.empty() || !queued_.empty()) {
    const uint64_t round = next_round_;
    work_cv_.notify_one();
    done_cv_.wait(lock, [&] { return completed_round_ >= round || !running_; });
    if (!running_) return Error(ErrorCode::kClosed, "the log store closed");
  }
  const uint64_t want = checkpoint_number_ + 1;
  checkpoint_requested_ = std::max(checkpoint_requested_, want);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return checkpoints_done_ >= want || !running_; });
  if (checkpoints_done_ < want) return Error(ErrorCode::kClosed, "the log store closed");
  return last_checkpoint_;
}

void GroupCommitter::forget_files_under(const std::string& dir_prefix) {
  std::lock_guard lock(mu_);
  auto under = [&](const std::shared_ptr<Target>& t) {
    return t->file->path().compare(0, dir_prefix.size(), dir_prefix) == 0;
  };
  wal_dirty_.erase(std::remove_if(wal_dirty_.begin(), wal_dirty_.end(), under), wal_dirty_.end());
}

Status GroupCommitter::health() const {
  std::lock_guard lock(mu_);
  if (wal_failed_) return Error(ErrorCode::kFailed, wal_error_);
  if (wal_stalled_) return Error(ErrorCode::kUnavailable, "write-ahead log stalled: " + wal_error_);
  return {};
}

uint64_t GroupCommitter::checkpoint_failures() const {
  std::lock_guard lock(mu_);
  return checkpoint_failures_;
}

uint64_t GroupCommitter::wal_write_failures() const {
  std::lock_guard lock(mu_);
  return wal_write_failures_;
}

uint64_t GroupCommitter::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_done_;
}

uint64_t GroupCommitter::rounds() const {
  std::lock_guard lock(mu_);
  return completed_round_;
}

uint64_t GroupCommitter::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace freshet::log

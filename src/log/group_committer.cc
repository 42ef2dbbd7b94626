#include "group_committer.h"

#include <spdlog/spdlog.h>

#include <cstring>

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
  thread_ = std::thread([this] { run(); });
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
  if (wal_) checkpoint();
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

void GroupCommitter::sync_one(const std::shared_ptr<Target>& t) {
  Status s = t->file->sync();
  if (!s.ok()) {
    spdlog::error("group commit: {} (the log stops accepting writes until reopened)",
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
  Status s = target->file->sync();
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
      checkpoint();  // requested by checkpoint_now()
      lock.lock();
      continue;
    }
    round.swap(queued_);
    wal_bytes.swap(wal_pending_);
    wal_targets.swap(wal_targets_);
    const uint64_t number = next_round_++;
    lock.unlock();
    if (!wal_bytes.empty()) write_wal(wal_bytes, wal_targets);
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
        wal_ && (wal_size_ >= next_checkpoint_at_ || checkpoint_requested_ > checkpoint_number_);
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
    if (due) checkpoint();
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
  if (!wal_ || !running_ || stopping_ || wal_failed_) return 0;
  wal::append_entry(log, batch, &wal_pending_);
  if (target->wal_round != next_round_) {
    target->wal_round = next_round_;
    wal_targets_.push_back(target);
  }
  mark_dirty_locked(target);
  work_cv_.notify_one();
  return next_round_;
}

void GroupCommitter::write_wal(std::string& bytes,
                               const std::vector<std::shared_ptr<Target>>& targets) {
  Status s;
  {
    std::lock_guard lock(mu_);
    if (wal_failed_) s = Error(ErrorCode::kFailed, "the write-ahead log failed earlier");
  }
  wal::seal_entries(bytes.data(), bytes.size(), wal_generation_);
  if (s.ok()) s = wal_->write_at(bytes.data(), bytes.size(), wal::kHeaderBytes + wal_size_);
  if (s.ok()) s = wal_->sync();
  if (s.ok()) {
    wal_size_ += bytes.size();
    wal_size_seen_.store(wal_size_, std::memory_order_relaxed);
    return;
  }
  spdlog::error(
      "write-ahead log: {} (logs with entries in it stop accepting writes until "
      "reopened; later appends sync their own files)",
      s.to_string());
  std::lock_guard lock(mu_);
  wal_failed_ = true;
  for (const auto& t : targets) {
    t->failed = true;
    t->error = s.error().message();
  }
}

void GroupCommitter::checkpoint() {
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
  bool all_ok = true;
  {
    std::lock_guard lock(mu_);
    syncs_ += synced;
    for (const auto& t : dirty) {
      if (t->failed) all_ok = false;
    }
    if (wal_failed_) all_ok = false;
  }
  Status s;
  // The WAL is recycled, not truncated (freeing 64 MiB of blocks took 26 ms here, with the
  // rounds held up): the next generation's header makes every entry in it stale.
  if (all_ok) {
    const std::string header = wal::encode_header(wal_generation_ + 1);
    s = wal_->write_at(header.data(), header.size(), 0);
    if (s.ok()) s = wal_->sync();
    if (s.ok()) ++wal_generation_;
  }
  std::lock_guard lock(mu_);
  if (!all_ok || !s.ok()) {
    // The WAL keeps entries whose files are not known durable; try again later.
    if (!s.ok()) spdlog::error("write-ahead log checkpoint: {}", s.to_string());
    for (const auto& t : dirty) mark_dirty_locked(t);
    next_checkpoint_at_ = wal_size_ + wal_checkpoint_bytes_;
  } else {
    wal_size_ = 0;
    wal_size_seen_.store(0, std::memory_order_relaxed);
    next_checkpoint_at_ = wal_checkpoint_bytes_;
    next_writeback_at_ = wal_checkpoint_bytes_ / kWritebackSteps;
  }
  checkpoints_done_ = number;
  done_cv_.notify_all();
}

void GroupCommitter::checkpoint_now() {
  std::unique_lock lock(mu_);
  if (!wal_) return;
  // While stopping, the committer may still run rounds (with the helpers); stop() runs a
  // checkpoint after the last one, and until then replay skips the entries of a removed log
  // because its directory is gone.
  if (stopping_) return;
  if (!running_) {
    lock.unlock();
    std::lock_guard inline_only(inline_checkpoint_mu_);  // no committer thread: callers only
    checkpoint();
    return;
  }
  const uint64_t want = checkpoint_number_ + 1;
  checkpoint_requested_ = std::max(checkpoint_requested_, want);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return checkpoints_done_ >= want || !running_; });
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

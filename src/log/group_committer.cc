#include "group_committer.h"

#include <spdlog/spdlog.h>

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
  if (round.size() == 1 || helpers_.empty()) {
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
  while (true) {
    work_cv_.wait(lock, [&] { return !queued_.empty() || stopping_; });
    if (queued_.empty() && stopping_) break;
    round.swap(queued_);
    const uint64_t number = next_round_++;
    lock.unlock();
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
    if (ready.empty()) continue;
    lock.unlock();
    for (size_t i = 0; i < ready.size(); ++i) ready[i].done(std::move(ready_status[i]));
    ready.clear();
    ready_status.clear();
    lock.lock();
  }
  // Stopping: every queued round ran, so no waiter can remain; guard anyway.
  std::vector<Waiter> left;
  left.swap(waiters_);
  lock.unlock();
  for (Waiter& w : left) w.done(sync_now(w.target));
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

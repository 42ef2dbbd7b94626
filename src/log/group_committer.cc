#include "group_committer.h"

#include <spdlog/spdlog.h>

namespace freshet::log {

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
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
  std::lock_guard lock(mu_);
  running_ = false;
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
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return !queued_.empty() || stopping_; });
    if (queued_.empty() && stopping_) break;
    round.swap(queued_);
    const uint64_t number = next_round_++;
    lock.unlock();
    uint64_t synced = 0;
    for (const auto& t : round) {
      Status s = t->file->sync();
      ++synced;
      if (!s.ok()) {
        spdlog::error("group commit: {} (the log stops accepting writes until reopened)",
                      s.to_string());
        std::lock_guard g(mu_);
        t->failed = true;
        t->error = s.error().message();
      }
    }
    round.clear();
    lock.lock();
    syncs_ += synced;
    completed_round_ = number;
    done_cv_.notify_all();
  }
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

// The write path: PutRecord(s) routed from the published catalog (no engine lock), appended
// to the shards' logs, completed when the group commit makes them durable.
#include "freshet/common/logging.h"

#include <future>

#include "engine_impl.h"
#include "freshet/stream/hash_key.h"

namespace freshet::stream {

std::string_view PutBatchResult::error_code(const Record& r) const {
  switch (r.status) {
    case Status::kOk:
      return {};
    case Status::kThrottled:
      return "ProvisionedThroughputExceededException";
    case Status::kInternal:
      return "InternalFailure";
  }
  return "InternalFailure";
}

std::string PutBatchResult::error_message(const Record& r) const {
  switch (r.status) {
    case Status::kOk:
      return {};
    case Status::kThrottled:
      return "Rate exceeded for shard " + shards[r.shard].shard_id + " in stream " + stream +
             " under account " + account_id + ".";
    case Status::kInternal:
      break;
  }
  return "Internal service failure.";
}

Result<std::vector<PutOutcome>> Engine::put_records(const std::string& region,
                                                    const std::string& name,
                                                    std::span<const PutEntry> entries) {
  std::promise<Result<PutBatchResult>> promise;
  std::future<Result<PutBatchResult>> future = promise.get_future();
  put_records_async(region, name, entries,
                    [&promise](Result<PutBatchResult> r) { promise.set_value(std::move(r)); });
  Result<PutBatchResult> r = future.get();
  if (!r.ok()) return r.error();
  std::vector<PutOutcome> outcomes(r->records.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PutBatchResult::Record& rec = r->records[i];
    PutOutcome& o = outcomes[i];
    if (rec.status == PutBatchResult::Status::kOk) {
      o.shard_id = r->shards[rec.shard].shard_id;
      o.sequence_number = r->shards[rec.shard].seqs.format(rec.offset);
    } else {
      o.error_code = std::string(r->error_code(rec));
      o.error_message = r->error_message(rec);
    }
  }
  return outcomes;
}

void Engine::Impl::note_write_error(const Error& e) {
  put_failures_.fetch_add(1, std::memory_order_relaxed);
  last_write_error_ms_.store(now(), std::memory_order_relaxed);
  std::lock_guard h(health_mu_);
  write_error_ = e.message();
}

namespace {

// One put_records_async call between writing its batches and their syncs: the last shard to
// become durable hands the result to the caller. Shared by the shards' completions (on the
// group-commit thread, or inline); `remaining` orders them.
struct PutInFlight {
  PutBatchResult result;
  Engine::PutCallback done;
  std::atomic<size_t> remaining{0};
  std::shared_ptr<const StreamView> stream;  // keeps the shards and their logs alive until done
  Engine::Impl* engine = nullptr;
};

// A put retried after a reshard sealed the shard it routed to: at most this many times (each
// retry routes with a newer catalog; a reshard publishes before it seals).
constexpr int kMaxRoutes = 4;

}  // namespace

void Engine::put_records_async(const std::string& region, const std::string& name,
                               std::span<const PutEntry> entries, PutCallback done) {
  Impl& m = *impl_;
  std::shared_ptr<const Catalog> catalog = m.current();
  auto found = Impl::find(*catalog, m.options_.account_id, region, name);
  if (!found.ok()) return done(found.error());
  std::shared_ptr<const StreamView> s = std::move(found).value();
  if (s->info.status == StreamStatus::kCreating || s->info.status == StreamStatus::kDeleting) {
    return done(not_found(name, m.options_.account_id));
  }
  const size_t max_size = static_cast<size_t>(s->info.max_record_size_kib) * 1024;
  auto fl = std::make_shared<PutInFlight>();
  fl->engine = &m;
  PutBatchResult& res = fl->result;
  res.records.resize(entries.size());
  res.stream = name;
  res.account_id = m.options_.account_id;
  // Hash every record once; routing may run again (after a seal) on the same keys.
  std::vector<HashKey> keys(entries.size());
  PartitionKeyHasher hasher;
  for (size_t i = 0; i < entries.size(); ++i) {
    const PutEntry& e = entries[i];
    // The data blob and the partition key together count against the record size.
    if (e.data.size() + e.partition_key.size() > max_size) {
      return done(
          Error(ErrorCode::kInvalidArgument,
                "Record of " + std::to_string(e.data.size() + e.partition_key.size()) +
                    " bytes (data and partition key) exceeds the maximum record size of " +
                    std::to_string(max_size) + " bytes for stream " + name + " under account " +
                    m.options_.account_id + ". Use UpdateMaxRecordSize to raise it."));
    }
    Result<HashKey> key = !e.explicit_hash_key.empty() ? parse_hash_key(e.explicit_hash_key)
                                                       : hasher.hash(e.partition_key);
    if (!key.ok()) return done(key.error());
    keys[i] = *key;
  }
  const int64_t now_ms = m.now();
  // Write every shard's batch first, then wait for all of their syncs: they share group-commit
  // rounds, so a request touching N shards waits for one round, not N.
  struct Pending {
    std::shared_ptr<ShardRt> shard;
    std::shared_ptr<log::Log> log;
    std::vector<size_t> accepted;
    log::PendingAppend append;
  };
  std::vector<Pending> pending;
  std::vector<log::Record> batch;
  std::vector<size_t> todo(entries.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (int route = 0; !todo.empty(); ++route) {
    if (route == kMaxRoutes) {
      for (size_t i : todo) res.records[i].status = PutBatchResult::Status::kInternal;
      break;
    }
    if (route > 0) {
      // A reshard sealed a shard this request routed to: route again with the catalog it
      // published before sealing.
      auto again = Impl::find(*m.current(), m.options_.account_id, region, name);
      if (!again.ok() || (*again)->info.epoch != s->info.epoch) {
        for (size_t i : todo) res.records[i].status = PutBatchResult::Status::kInternal;
        break;
      }
      s = std::move(again).value();
    }
    std::vector<std::vector<size_t>> by_shard(s->open_sorted.size());
    bool unroutable = false;
    for (size_t i : todo) {
      auto at = route_hash_key(s->open_ranges, keys[i]);
      if (!at) {
        res.records[i].status = PutBatchResult::Status::kInternal;
        unroutable = true;
        continue;
      }
      by_shard[*at].push_back(i);
    }
    if (unroutable) logging::error("put to {}: a hash key no open shard covers", name);
    std::vector<size_t> retry;
    for (size_t si = 0; si < by_shard.size(); ++si) {
      const auto& idx = by_shard[si];
      if (idx.empty()) continue;
      const std::shared_ptr<ShardRt>& sh = s->open_sorted[si];
      uint32_t slot = UINT32_MAX;
      for (size_t k = 0; route > 0 && k < res.shards.size(); ++k) {
        if (res.shards[k].shard_id == sh->shard_id) slot = static_cast<uint32_t>(k);
      }
      if (slot == UINT32_MAX) {
        slot = static_cast<uint32_t>(res.shards.size());
        res.shards.push_back(PutBatchResult::Shard{sh->shard_id, sh->seqs});
      }
      std::vector<size_t> accepted;
      if (m.options_.enforce_limits) {
        std::lock_guard rl(sh->rate_mu);
        for (size_t i : idx) {
          res.records[i].shard = slot;
          const uint64_t bytes = entries[i].data.size() + entries[i].partition_key.size();
          if (sh->write_window.try_add(now_ms, bytes, 1, 1 << 20, 1000)) {
            accepted.push_back(i);
          } else {
            res.records[i].status = PutBatchResult::Status::kThrottled;
          }
        }
      } else {
        for (size_t i : idx) res.records[i].shard = slot;
        accepted = idx;
      }
      if (accepted.empty()) continue;
      batch.clear();
      for (size_t i : accepted) {
        batch.push_back(log::Record{entries[i].partition_key, entries[i].explicit_hash_key,
                                    entries[i].data, now_ms});
      }
      std::shared_ptr<log::Log> log = sh->log();
      Result<log::PendingAppend> begun = log->begin_append(batch);
      if (!begun.ok() && begun.code() == ErrorCode::kResourceInUse) {  // sealed by a reshard
        retry.insert(retry.end(), accepted.begin(), accepted.end());
        continue;
      }
      if (!begun.ok()) {
        m.note_write_error(begun.error());
        if (auto held = m.put_error_log_.allow()) {
          logging::error("put to {}/{}: {} ({} more failed puts since the last report)", name,
                        sh->shard_id, begun.error().to_string(), *held);
        }
        for (size_t i : accepted) res.records[i].status = PutBatchResult::Status::kInternal;
        continue;
      }
      pending.push_back(Pending{sh, std::move(log), std::move(accepted), std::move(*begun)});
    }
    todo.swap(retry);
  }
  // Wait for durability without any engine lock: the shards and their logs stay alive
  // through `pending` and fl->stream.
  fl->done = std::move(done);
  fl->stream = std::move(s);
  if (pending.empty()) {
    PutInFlight& f = *fl;
    return f.done(std::move(f.result));
  }
  fl->remaining.store(pending.size(), std::memory_order_relaxed);
  for (Pending& p : pending) {
    auto finish = [fl, shard = p.shard, accepted = std::move(p.accepted)](Result<uint64_t> first) {
      PutBatchResult& r = fl->result;
      if (!first.ok()) {
        fl->engine->note_write_error(first.error());
        if (auto held = fl->engine->put_error_log_.allow()) {
          logging::error("put to {}/{}: {} ({} more failed puts since the last report)", r.stream,
                        shard->shard_id, first.error().to_string(), *held);
        }
        for (size_t i : accepted) r.records[i].status = PutBatchResult::Status::kInternal;
      } else {
        for (size_t k = 0; k < accepted.size(); ++k) r.records[accepted[k]].offset = *first + k;
        fl->engine->last_write_ok_ms_.store(fl->engine->now(), std::memory_order_relaxed);
      }
      // acq_rel: the last completion sees every other shard's writes to r.records.
      if (fl->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        fl->done(std::move(r));
      }
    };
    p.log->complete_append_async(std::move(p.append), std::move(finish));
  }
}

}  // namespace freshet::stream

// The catalog as a value: lookups, persistence (catalog.json), status transitions and the
// commit of a change (persist, then publish). See engine_impl.h for the locking.
#include "freshet/common/logging.h"

#include <algorithm>
#include <set>

#include "catalog_file.h"
#include "engine_impl.h"
#include "freshet/stream/names.h"

namespace freshet::stream {

std::string log_name(const StreamInfo& s, const std::string& shard_id) {
  return "kinesis/" + s.region + "/" + s.name + "." + std::to_string(s.epoch) + "/" + shard_id;
}

Error not_found(const std::string& name, const std::string& account) {
  return Error(ErrorCode::kNotFound,
               "Stream " + name + " under account " + account + " not found.");
}

void StreamView::build_routing() {
  open_sorted.clear();
  open_ranges.clear();
  for (size_t i = 0; i < info.shards.size(); ++i) {
    if (!info.shards[i].closed) open_sorted.push_back(shards[i]);
  }
  std::sort(open_sorted.begin(), open_sorted.end(), [&](const auto& a, const auto& b) {
    return info.shards[a->index].range.start < info.shards[b->index].range.start;
  });
  for (const auto& sh : open_sorted) open_ranges.push_back(info.shards[sh->index].range);
}

const Shard* StreamView::meta(uint64_t index) const {
  return index < info.shards.size() ? &info.shards[index] : nullptr;
}

std::shared_ptr<ShardRt> StreamView::runtime(uint64_t index) const {
  return index < shards.size() ? shards[index] : nullptr;
}

Engine::Impl::Impl(const EngineOptions& o) : options_(o) {
  clock_ = o.clock != nullptr ? o.clock : &system_clock_;
  fs_ = o.fs ? o.fs : posix_file_system();
}

Result<std::shared_ptr<const StreamView>> Engine::Impl::find(const Catalog& c,
                                                             const std::string& account,
                                                             const std::string& region,
                                                             const std::string& name) {
  auto it = c.streams.find({region, name});
  if (it == c.streams.end()) return not_found(name, account);
  return it->second;
}

Result<std::shared_ptr<const StreamView>> Engine::Impl::find_active(const Catalog& c,
                                                                    const std::string& region,
                                                                    const std::string& name) const {
  FRESHET_ASSIGN_OR_RETURN(auto s, find(c, options_.account_id, region, name));
  if (s->info.status != StreamStatus::kActive) {
    return Error(ErrorCode::kResourceInUse,
                 "Stream " + name + " under account " + options_.account_id +
                     " not ACTIVE, instead in state " + to_string(s->info.status));
  }
  return s;
}

StreamInfo Engine::Impl::describe(const StreamView& s) const {
  StreamInfo info = s.info;
  for (Shard& m : info.shards) {
    const ShardRt& rt = *s.shards[m.index];
    m.starting_sequence_number = rt.seqs.format(0);
    if (m.closed) {
      uint64_t end = rt.end_offset.load(std::memory_order_acquire);
      if (end == kShardOpen) end = rt.log()->next_offset();  // being sealed right now
      m.end_offset = end;
      m.ending_sequence_number = rt.seqs.format(end == 0 ? 0 : end - 1);
    }
  }
  return info;
}

log::LogOptions Engine::Impl::log_options(const StreamInfo& s) const {
  log::LogOptions o;
  o.durability = options_.durability;
  o.segment_bytes = options_.segment_bytes;
  o.retention_ms = int64_t{s.retention_hours} * kHourMs;
  o.segment_ms = std::min<int64_t>(o.retention_ms, kHourMs);
  return o;
}

Status Engine::Impl::check_shard_limit(const Catalog& c, const std::string& region,
                                       uint32_t additional) const {
  uint32_t current = 0;
  for (const auto& [k, s] : c.streams) {
    if (k.first == region) current += s->info.open_shard_count();
  }
  if (current + additional > options_.shard_limit) {
    return Error(ErrorCode::kLimitExceeded,
                 "This request would exceed the shard limit for the account " +
                     options_.account_id + " in " + region +
                     ". Current shard count for the account: " + std::to_string(current) +
                     ". Limit: " + std::to_string(options_.shard_limit) +
                     ". Number of additional shards that would have resulted from this "
                     "request: " +
                     std::to_string(additional) +
                     ". Refer to the AWS Service Limits page "
                     "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
                     "for current limits and how to request higher limits.");
  }
  return {};
}

Result<std::shared_ptr<ShardRt>> Engine::Impl::add_shard(StreamView& s, HashKeyRange range,
                                                         std::string parent, std::string adjacent,
                                                         int64_t now_ms) {
  Shard m;
  m.index = s.next_shard_index;
  m.shard_id = format_shard_id(m.index);
  m.parent_shard_id = std::move(parent);
  m.adjacent_parent_shard_id = std::move(adjacent);
  m.range = range;
  m.created_ms = now_ms;
  const std::string name = log_name(s.info, m.shard_id);
  // The log (its directory fsynced) exists before any catalog names it.
  FRESHET_ASSIGN_OR_RETURN(auto log, logs_->open_log(name, log_options(s.info)));
  auto rt = std::make_shared<ShardRt>(s.info.epoch, m.index, m.shard_id, name, std::move(log));
  ++s.next_shard_index;
  s.info.shards.push_back(std::move(m));
  s.shards.push_back(rt);
  return rt;
}

void Engine::Impl::close_shard(StreamView& s, uint64_t index, int64_t now_ms,
                               AfterCommit* after) const {
  Shard& m = s.info.shards[index];
  m.closed = true;
  m.closed_ms = now_ms;
  after->seal.push_back(s.shards[index]);
}

bool Engine::Impl::apply_transitions(Catalog& c, int64_t now_ms, AfterCommit* after) const {
  bool changed = false;
  for (auto it = c.streams.begin(); it != c.streams.end();) {
    const StreamView& cur = *it->second;
    const bool due = cur.info.status != StreamStatus::kActive && cur.status_until_ms <= now_ms;
    bool consumer_due = false;
    for (const auto& con : cur.info.consumers) {
      consumer_due |= con.status != ConsumerStatus::kActive &&
                      con.created_ms + options_.state_delay_ms <= now_ms;
    }
    if (!due && !consumer_due) {
      ++it;
      continue;
    }
    changed = true;
    if (due && cur.info.status == StreamStatus::kDeleting) {
      c.policies.erase(cur.info.arn);
      for (const auto& con : cur.info.consumers) c.policies.erase(con.arn);
      after->remove.push_back(it->second);
      it = c.streams.erase(it);
      continue;
    }
    auto next = std::make_shared<StreamView>(cur);
    if (due) next->info.status = StreamStatus::kActive;
    auto& cons = next->info.consumers;
    for (auto con = cons.begin(); con != cons.end();) {
      if (con->status != ConsumerStatus::kActive &&
          con->created_ms + options_.state_delay_ms <= now_ms) {
        if (con->status == ConsumerStatus::kDeleting) {
          c.policies.erase(con->arn);
          con = cons.erase(con);
          continue;
        }
        con->status = ConsumerStatus::kActive;
      }
      ++con;
    }
    it->second = std::move(next);
    ++it;
  }
  return changed;
}

Status Engine::Impl::persist(const Catalog& c) {
  CatalogData d;
  d.next_epoch = c.next_epoch;
  d.account = c.account;
  d.policies = c.policies;
  for (const auto& [k, s] : c.streams) {
    CatalogData::StreamEntry e;
    e.info = s->info;
    for (Shard& m : e.info.shards) {
      const uint64_t end = s->shards[m.index]->end_offset.load(std::memory_order_acquire);
      if (m.closed && end != kShardOpen) m.end_offset = end;  // informational: see load
    }
    e.status_until_ms = s->status_until_ms;
    e.next_shard_index = s->next_shard_index;
    d.streams.push_back(std::move(e));
  }
  return write_file_atomically(*fs_, options_.data_dir, "catalog.json", encode_catalog(d));
}

Status Engine::Impl::commit(std::shared_ptr<Catalog> next, AfterCommit after) {
  if (Status st = persist(*next); !st.ok()) {
    catalog_failures_.fetch_add(1, std::memory_order_relaxed);
    logging::error("catalog: could not persist a change, which is not applied: {}",
                  st.to_string());
    {
      std::lock_guard h(health_mu_);
      catalog_error_ = st.error().message();
    }
    return Error(st.code(), "could not persist the catalog: " + st.error().message());
  }
  {
    std::lock_guard h(health_mu_);
    catalog_error_.clear();
  }
  {
    std::lock_guard lock(snap_mu_);
    catalog_ = std::move(next);
  }
  // Appends routed with the previous catalog may still reach a closed shard until its log
  // is sealed; from then on they fail and route again with the catalog just published.
  for (const auto& rt : after.seal) {
    auto end = rt->log()->seal_appends();
    if (end.ok()) rt->end_offset.store(*end, std::memory_order_release);
  }
  for (const auto& s : after.remove) remove_stream_files(*s);
  return {};
}

Status Engine::Impl::settle(std::shared_ptr<Catalog> next, AfterCommit after) {
  if (options_.state_delay_ms == 0) apply_transitions(*next, now(), &after);
  return commit(std::move(next), std::move(after));
}

void Engine::Impl::remove_stream_files(const StreamView& s) {
  bool all = true;
  for (const auto& rt : s.shards) {
    (void)rt->log()->close();
    Status r = logs_->remove_log(rt->log_name);
    if (!r.ok()) {
      all = false;
      logging::warn("delete stream {}: {} (removed at the next start)", s.info.name, r.to_string());
    }
  }
  if (!all) return;
  const std::string region_dir = options_.data_dir + "/logs/kinesis/" + s.info.region;
  const std::string dir = region_dir + "/" + s.info.name + "." + std::to_string(s.info.epoch);
  if (Status r = fs_->remove_dir(dir); r.ok()) (void)fs_->sync_dir(region_dir);
}

void Engine::Impl::remove_orphan_logs(const Catalog& c) {
  const std::string kinesis = options_.data_dir + "/logs/kinesis";
  auto regions = fs_->list_dir(kinesis);
  if (!regions.ok()) return;
  std::set<std::string> known;
  for (const auto& [k, s] : c.streams) {
    known.insert(k.first + "/" + s->info.name + "." + std::to_string(s->info.epoch));
  }
  for (const std::string& region : *regions) {
    auto streams = fs_->list_dir(kinesis + "/" + region);
    if (!streams.ok()) continue;
    for (const std::string& dir : *streams) {
      if (known.count(region + "/" + dir) != 0) continue;
      auto shards = fs_->list_dir(kinesis + "/" + region + "/" + dir);
      if (!shards.ok()) continue;
      bool all = true;
      for (const std::string& shard : *shards) {
        Status r = logs_->remove_log("kinesis/" + region + "/" + dir + "/" + shard);
        if (!r.ok()) {
          all = false;
          logging::warn("removing the logs of deleted stream {}: {}", dir, r.to_string());
        }
      }
      if (all && fs_->remove_dir(kinesis + "/" + region + "/" + dir).ok()) {
        (void)fs_->sync_dir(kinesis + "/" + region);
        logging::info("removed the logs of {} in {}, deleted before the last stop", dir, region);
      }
    }
  }
}

void Engine::Impl::reopen_failed_logs(const Catalog& c) {
  for (const auto& [k, s] : c.streams) {
    for (const auto& rt : s->shards) {
      auto old = rt->log();
      if (old->health().ok()) continue;
      (void)old->close();
      auto fresh = logs_->reopen_log(rt->log_name, log_options(s->info));
      if (!fresh.ok()) {
        if (auto held = put_error_log_.allow()) {
          logging::error("cannot reopen failed log {} yet: {} ({} more errors held back)",
                        rt->log_name, fresh.error().to_string(), *held);
        }
        continue;
      }
      if (s->info.shards[rt->index].closed) {
        auto end = (*fresh)->seal_appends();
        if (end.ok()) {
          rt->end_offset.store(std::min(rt->end_offset.load(), *end), std::memory_order_release);
        }
      }
      rt->set_log(std::move(fresh).value());
      reopened_logs_.fetch_add(1, std::memory_order_relaxed);
      logging::info("log {} reopened after a failure; its shard takes writes again", rt->log_name);
    }
  }
}

Status Engine::Impl::apply_retention(const std::string& region, const std::string& name) {
  auto c = current();
  FRESHET_ASSIGN_OR_RETURN(auto s, find(*c, options_.account_id, region, name));
  for (const auto& sh : s->shards) {
    sh->log()->set_retention(int64_t{s->info.retention_hours} * kHourMs, 0);
  }
  return {};
}

Status Engine::Impl::load_catalog() {
  auto text = read_whole_file(*fs_, options_.data_dir + "/catalog.json");
  if (!text.ok() && text.code() != ErrorCode::kNotFound) return text.error();
  auto c = std::make_shared<Catalog>();
  c->next_epoch = static_cast<uint64_t>(now());  // unique across a lost catalog too
  if (text.ok()) {
    FRESHET_ASSIGN_OR_RETURN(CatalogData d, decode_catalog(*text));
    c->next_epoch = std::max(c->next_epoch, d.next_epoch);
    c->account = d.account;
    c->policies = d.policies;
    for (auto& e : d.streams) {
      auto s = std::make_shared<StreamView>();
      s->info = std::move(e.info);
      s->info.arn = format_stream_arn(s->info.region, options_.account_id, s->info.name);
      s->status_until_ms = e.status_until_ms;
      s->next_shard_index = e.next_shard_index;
      std::sort(s->info.shards.begin(), s->info.shards.end(),
                [](const Shard& a, const Shard& b) { return a.index < b.index; });
      for (size_t i = 0; i < s->info.shards.size(); ++i) {
        Shard& m = s->info.shards[i];
        if (m.index != i) {
          return Error(ErrorCode::kCorruption, "catalog: stream " + s->info.name +
                                                   " has no shard " + std::to_string(i));
        }
        m.shard_id = format_shard_id(m.index);
        const std::string name = log_name(s->info, m.shard_id);
        if (!logs_->log_exists(name)) {
          return Error(ErrorCode::kCorruption,
                       "log " + name + " of stream " + s->info.name +
                           " is missing (the catalog names it; logs are created before)");
        }
        FRESHET_ASSIGN_OR_RETURN(auto log, logs_->open_log(name, log_options(s->info)));
        auto rt = std::make_shared<ShardRt>(s->info.epoch, m.index, m.shard_id, name, log);
        if (m.closed) {
          // Readers must reach the end of a closed shard: its end is what was recovered
          // (appends routed before the close may have reached it; none after the seal).
          FRESHET_ASSIGN_OR_RETURN(uint64_t end, log->seal_appends());
          m.end_offset = end;
          rt->end_offset.store(end);
        }
        s->shards.push_back(std::move(rt));
      }
      s->build_routing();
      c->streams[{s->info.region, s->info.name}] = std::move(s);
    }
  }
  AfterCommit after;
  apply_transitions(*c, now(), &after);
  {
    std::lock_guard lock(snap_mu_);
    catalog_ = c;  // what the file says, while the transitions are persisted
  }
  FRESHET_RETURN_IF_ERROR(commit(c, std::move(after)));
  remove_orphan_logs(*c);
  return {};
}

}  // namespace freshet::stream

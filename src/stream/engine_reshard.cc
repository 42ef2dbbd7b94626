// SplitShard, MergeShards and UpdateShardCount: each closes shards and opens their children
// in a copy of the catalog, persists it, publishes it, and only then seals the closed shards'
// logs (AfterCommit::seal), so that a put routed with the previous catalog either lands
// before the seal (and is read before the ChildShards answer) or fails and routes again.
#include <algorithm>

#include "engine_impl.h"
#include "freshet/stream/names.h"
#include "freshet/stream/resharding.h"

namespace freshet::stream {
namespace {

std::string not_eligible(const Engine::Impl& m, const std::string& shard_id,
                         const std::string& name) {
  return "Shard " + shard_id + " in stream " + name + " under account " + m.options_.account_id +
         " has already been merged or split, and thus is not eligible for merging or splitting.";
}

Result<uint64_t> find_shard(const Engine::Impl& m, const StreamView& s,
                            const std::string& shard_id) {
  auto index = resolve_shard_id(shard_id);
  if (index.ok() && s.meta(*index) != nullptr) return *index;
  return Error(ErrorCode::kNotFound, "Could not find shard " + shard_id + " in stream " +
                                         s.info.name + " under account " + m.options_.account_id +
                                         ".");
}

// The common frame: a copy of the catalog and of the ACTIVE stream, `edit` closes and adds
// shards, then the stream is UPDATING and the change is committed. Child logs that were
// created for a change that is not committed are removed again.
template <class Edit>
Status reshard(Engine::Impl& m, const std::string& region, const std::string& name, Edit edit) {
  std::lock_guard w(m.control_mu_);
  auto next = std::make_shared<Catalog>(*m.current());
  FRESHET_ASSIGN_OR_RETURN(auto cur, m.find_active(*next, region, name));
  auto s = std::make_shared<StreamView>(*cur);
  AfterCommit after;
  const size_t before = s->shards.size();
  Status st = edit(*next, *s, after);
  if (st.ok()) {
    s->info.status = StreamStatus::kUpdating;
    s->status_until_ms = m.now() + m.options_.state_delay_ms;
    s->build_routing();
    next->streams[{region, name}] = s;
    st = m.settle(std::move(next), std::move(after));
  }
  if (!st.ok()) {
    for (size_t i = before; i < s->shards.size(); ++i) {
      (void)s->shards[i]->log()->close();
      (void)m.logs_->remove_log(s->shards[i]->log_name);
    }
  }
  return st;
}

}  // namespace

Result<uint32_t> Engine::update_shard_count(const std::string& region, const std::string& name,
                                            uint32_t target) {
  Impl& m = *impl_;
  uint32_t current = 0;
  FRESHET_RETURN_IF_ERROR(reshard(m, region, name, [&](Catalog& c, StreamView& s,
                                                      AfterCommit& after) -> Status {
    current = s.info.open_shard_count();
    Status valid = validate_uniform_scaling(current, target);
    if (!valid.ok()) return Error(ErrorCode::kLimitExceeded, valid.error().message());
    if (target > current) FRESHET_RETURN_IF_ERROR(m.check_shard_limit(c, region, target - current));
    FRESHET_ASSIGN_OR_RETURN(auto ranges, uniform_scaling_ranges(target));
    const int64_t now_ms = m.now();
    // As AWS: splits and merges of individual shards, with short-lived shards closed at once.
    // First every open shard is split at each target boundary inside it; then the pieces of
    // each target range are merged left to right. So every new shard has exactly the parents
    // a SplitShard (one) or MergeShards (two adjacent) would give it, and a consumer that
    // finishes parents before children keeps per-key order.
    struct Piece {
      uint64_t index;
      HashKeyRange range;
    };
    std::vector<Piece> open;
    for (const auto& sh : s.info.shards) {
      if (!sh.closed) open.push_back(Piece{sh.index, sh.range});
    }
    std::sort(open.begin(), open.end(),
              [](const Piece& a, const Piece& b) { return a.range.start < b.range.start; });
    auto add = [&](HashKeyRange r, const std::string& parent,
                   const std::string& adjacent) -> Result<Piece> {
      FRESHET_RETURN_IF_ERROR(m.add_shard(s, r, parent, adjacent, now_ms).status());
      return Piece{s.info.shards.back().index, r};
    };
    std::vector<Piece> pieces;
    for (Piece p : open) {
      for (const HashKeyRange& r : ranges) {
        if (!(p.range.start < r.start) || p.range.end < r.start) continue;
        auto halves = split_hash_key_range(p.range, r.start);
        if (!halves.ok()) continue;  // a boundary too close to the edge: leave it unsplit
        const std::string id = s.info.shards[p.index].shard_id;
        m.close_shard(s, p.index, now_ms, &after);
        FRESHET_ASSIGN_OR_RETURN(Piece lower, add(halves->lower, id, ""));
        FRESHET_ASSIGN_OR_RETURN(Piece upper, add(halves->upper, id, ""));
        pieces.push_back(lower);
        p = upper;
      }
      pieces.push_back(p);
    }
    size_t next = 0;
    for (const HashKeyRange& r : ranges) {
      if (next >= pieces.size()) break;
      Piece acc = pieces[next++];
      while (next < pieces.size() && pieces[next].range.end <= r.end) {
        const Piece right = pieces[next++];
        auto merged = merge_hash_key_ranges(acc.range, right.range);
        if (!merged.ok()) return Error(ErrorCode::kInvalidArgument, merged.error().message());
        const std::string left_id = s.info.shards[acc.index].shard_id;
        const std::string right_id = s.info.shards[right.index].shard_id;
        m.close_shard(s, acc.index, now_ms, &after);
        m.close_shard(s, right.index, now_ms, &after);
        FRESHET_ASSIGN_OR_RETURN(acc, add(*merged, left_id, right_id));
      }
    }
    return Status();
  }));
  return current;
}

Status Engine::split_shard(const std::string& region, const std::string& name,
                           const std::string& shard_id, HashKey new_starting_hash_key) {
  Impl& m = *impl_;
  return reshard(m, region, name, [&](Catalog& c, StreamView& s, AfterCommit& after) -> Status {
    FRESHET_ASSIGN_OR_RETURN(uint64_t parent, find_shard(m, s, shard_id));
    const Shard meta = s.info.shards[parent];
    if (meta.closed) return Error(ErrorCode::kResourceInUse, not_eligible(m, meta.shard_id, name));
    auto ranges = split_hash_key_range(meta.range, new_starting_hash_key);
    if (!ranges.ok()) {
      return Error(ErrorCode::kInvalidArgument,
                   "NewStartingHashKey " + format_hash_key(new_starting_hash_key) +
                       " used in SplitShard() on shard " + meta.shard_id + " in stream " + name +
                       " under account " + m.options_.account_id + " is not both greater " +
                       "than one plus the shard's StartingHashKey " +
                       format_hash_key(meta.range.start) +
                       " and less than the shard's EndingHashKey " +
                       format_hash_key(meta.range.end) + ".");
    }
    FRESHET_RETURN_IF_ERROR(m.check_shard_limit(c, region, 1));
    const int64_t now_ms = m.now();
    m.close_shard(s, parent, now_ms, &after);
    FRESHET_RETURN_IF_ERROR(m.add_shard(s, ranges->lower, meta.shard_id, "", now_ms).status());
    FRESHET_RETURN_IF_ERROR(m.add_shard(s, ranges->upper, meta.shard_id, "", now_ms).status());
    return Status();
  });
}

Status Engine::merge_shards(const std::string& region, const std::string& name,
                            const std::string& shard_id, const std::string& adjacent_shard_id) {
  Impl& m = *impl_;
  return reshard(m, region, name, [&](Catalog&, StreamView& s, AfterCommit& after) -> Status {
    FRESHET_ASSIGN_OR_RETURN(uint64_t a, find_shard(m, s, shard_id));
    FRESHET_ASSIGN_OR_RETURN(uint64_t b, find_shard(m, s, adjacent_shard_id));
    const Shard ma = s.info.shards[a];
    const Shard mb = s.info.shards[b];
    for (const Shard* sh : {&ma, &mb}) {
      if (sh->closed) return Error(ErrorCode::kResourceInUse, not_eligible(m, sh->shard_id, name));
    }
    auto merged = merge_hash_key_ranges(ma.range, mb.range);
    if (a == b || !merged.ok()) {
      return Error(ErrorCode::kInvalidArgument,
                   "Shards " + ma.shard_id + " and " + mb.shard_id + " in stream " + name +
                       " under account " + m.options_.account_id +
                       " are not an adjacent pair of shards eligible for merging");
    }
    const int64_t now_ms = m.now();
    m.close_shard(s, a, now_ms, &after);
    m.close_shard(s, b, now_ms, &after);
    FRESHET_RETURN_IF_ERROR(m.add_shard(s, *merged, ma.shard_id, mb.shard_id, now_ms).status());
    return Status();
  });
}

}  // namespace freshet::stream

// The read path: GetShardIterator and GetRecords, from the published catalog (no engine lock).
#include "engine_impl.h"
#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

constexpr size_t kMaxGetRecordsBytes = 10 << 20;

Result<std::shared_ptr<ShardRt>> find_shard_rt(const Engine::Impl& m, const StreamView& s,
                                               const std::string& shard_id) {
  auto index = resolve_shard_id(shard_id);
  if (index.ok()) {
    if (auto rt = s.runtime(*index)) return rt;
  }
  return Error(ErrorCode::kNotFound, "Could not find shard " + shard_id + " in stream " +
                                         s.info.name + " under account " + m.options_.account_id +
                                         ".");
}

// One past the last record readers may get from a shard: the seal's end for a closed shard,
// the log's end otherwise (a shard closed but not yet sealed still counts as open).
uint64_t read_end(const ShardRt& sh) {
  return sh.end_offset.load(std::memory_order_acquire);
}

}  // namespace

Result<std::string> Engine::get_shard_iterator(const std::string& region, const std::string& name,
                                               const std::string& shard_id, IteratorType type,
                                               const std::string& sequence_number,
                                               int64_t timestamp_ms) {
  Impl& m = *impl_;
  auto c = m.current();
  FRESHET_ASSIGN_OR_RETURN(auto s, Impl::find(*c, m.options_.account_id, region, name));
  if (s->info.status == StreamStatus::kCreating || s->info.status == StreamStatus::kDeleting) {
    return not_found(name, m.options_.account_id);
  }
  FRESHET_ASSIGN_OR_RETURN(auto sh, find_shard_rt(m, *s, shard_id));
  std::shared_ptr<log::Log> lg = sh->log();
  uint64_t position = 0;
  switch (type) {
    case IteratorType::kTrimHorizon:
      position = lg->trim_horizon();
      break;
    case IteratorType::kLatest: {
      const uint64_t end = read_end(*sh);
      position = end != kShardOpen ? end : lg->committed_tip();
      break;
    }
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      auto offset = decode_sequence_number_for_shard(sequence_number, s->info.epoch, sh->index);
      if (!offset.ok()) {
        return Error(
            ErrorCode::kInvalidArgument,
            "Invalid SequenceNumber for ShardIteratorType " +
                std::string(type == IteratorType::kAtSequenceNumber ? "AT_SEQUENCE_NUMBER"
                                                                    : "AFTER_SEQUENCE_NUMBER") +
                " for shard " + sh->shard_id + " in stream " + name + " under account " +
                m.options_.account_id + ".");
      }
      position = *offset + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
      break;
    }
    case IteratorType::kAtTimestamp: {
      FRESHET_ASSIGN_OR_RETURN(position, lg->offset_for_timestamp(timestamp_ms));
      break;
    }
  }
  ShardIteratorState st;
  st.region = region;
  st.account_id = m.options_.account_id;
  st.stream_name = name;
  st.stream_epoch = s->info.epoch;
  st.shard_index = sh->index;
  st.position = position;
  st.issued_at_ms = m.now();
  return encode_shard_iterator(st, m.iterator_key_);
}

Result<GetRecordsResult> Engine::get_records(std::string_view iterator, uint32_t limit,
                                             bool shared_read_limits) {
  Impl& m = *impl_;
  const int64_t now_ms = m.now();
  auto st = open_shard_iterator(iterator, m.iterator_key_, now_ms, m.options_.iterator_lifetime_ms);
  if (!st.ok()) {
    if (st.code() == kExpiredShardIterator) return Error(ErrorCode::kExpired, st.error().message());
    return Error(ErrorCode::kInvalidArgument, "Invalid ShardIterator.");
  }
  auto c = m.current();
  auto found = Impl::find(*c, m.options_.account_id, st->region, st->stream_name);
  if (!found.ok() || (*found)->info.epoch != st->stream_epoch ||
      (*found)->info.status == StreamStatus::kDeleting) {
    return not_found(st->stream_name, m.options_.account_id);
  }
  const StreamView& s = **found;
  std::shared_ptr<ShardRt> sh = s.runtime(st->shard_index);
  if (!sh) return Error(ErrorCode::kInvalidArgument, "Invalid ShardIterator.");
  if (m.options_.enforce_limits && shared_read_limits) {
    std::lock_guard rl(sh->rate_mu);
    if (!sh->read_window.try_add(now_ms, 0, 1, UINT64_MAX, 5)) {
      return Error(ErrorCode::kThrottled, "Rate exceeded for shard " + sh->shard_id +
                                              " in stream " + st->stream_name + " under account " +
                                              m.options_.account_id + ".");
    }
  }
  std::shared_ptr<log::Log> lg = sh->log();
  const uint64_t end = read_end(*sh);
  uint64_t position = std::max(st->position, lg->trim_horizon());
  GetRecordsResult out;
  uint64_t next = position;
  if (position < end) {
    auto r = lg->read(position, limit, kMaxGetRecordsBytes);
    if (!r.ok() && r.code() == ErrorCode::kOutOfRange) {  // trimmed since: start at the horizon
      position = lg->trim_horizon();
      r = lg->read(position, limit, kMaxGetRecordsBytes);
    }
    if (!r.ok()) return r.error();
    uint64_t bytes = 0;
    const SequenceNumberFormatter& seqs = sh->seqs;
    out.records.reserve(r->records.size());
    for (const auto& rec : r->records) {
      if (rec.offset >= end) break;
      GetRecordsRecord& g = out.records.emplace_back();
      seqs.format(rec.offset, g.sequence_digits.data());
      g.arrival_ms = rec.timestamp_ms;
      g.data = rec.data;
      g.partition_key = rec.partition_key;
      bytes += rec.data.size() + rec.partition_key.size();
      next = rec.offset + 1;
    }
    if (out.records.empty()) next = std::min(r->next_offset, end);
    out.storage.push_back(r->storage);
    if (m.options_.enforce_limits && shared_read_limits) {
      std::lock_guard rl(sh->rate_mu);
      sh->read_window.bytes += bytes;  // reads over 2 MiB/s throttle the next call
      if (sh->read_window.bytes > (2u << 20)) sh->read_window.count = 5;
    }
  }
  const uint64_t tip = std::min(lg->committed_tip(), end);
  if (next >= tip || out.records.empty()) {
    out.millis_behind_latest = 0;
  } else {
    out.millis_behind_latest =
        std::max<int64_t>(0, lg->last_timestamp_ms() - out.records.back().arrival_ms);
  }
  if (end != kShardOpen && next >= end) {
    const std::string& id = sh->shard_id;
    for (const Shard& child : s.info.shards) {
      if (child.parent_shard_id == id || child.adjacent_parent_shard_id == id) {
        ChildShard cs;
        cs.shard_id = child.shard_id;
        cs.parent_shards.push_back(child.parent_shard_id);
        if (!child.adjacent_parent_shard_id.empty()) {
          cs.parent_shards.push_back(child.adjacent_parent_shard_id);
        }
        cs.range = child.range;
        out.child_shards.push_back(std::move(cs));
      }
    }
    return out;
  }
  ShardIteratorState ns = *st;
  ns.position = next;
  ns.issued_at_ms = now_ms;
  FRESHET_ASSIGN_OR_RETURN(std::string token, encode_shard_iterator(ns, m.iterator_key_));
  out.next_iterator = std::move(token);
  return out;
}

}  // namespace freshet::stream

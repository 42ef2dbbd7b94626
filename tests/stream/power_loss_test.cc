// Engine-level power-loss test: on a PowerLossFileSystem, one control thread creates streams,
// splits and merges shards and deletes streams while three threads put records; at a random
// moment the power goes (only what was synced is kept, or in two of three rounds also a
// random prefix or random pages of the rest). The engine is reopened and:
//   - the catalog is the one that the acknowledged control-plane calls produced, or that
//     plus the call in flight at the crash (a model of the calls says which);
//   - every acknowledged record of a stream that still exists is there once, byte-identical,
//     at its sequence number, and each closed shard reads to its end and names its children;
//   - sequence numbers are never reused across restarts (acknowledged ones keep their data).
//
//   stream_power_loss_test --rounds N [--seed S] [--lying-disk] [--verbose]
//
// --lying-disk makes fsync a no-op: the test must then FAIL. One progress line per 25 rounds.
#include "freshet/common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../testing/power_loss_fs.h"
#include "freshet/stream/engine.h"

using namespace freshet;
using namespace freshet::stream;
using testing::PowerLossFileSystem;

namespace {

constexpr int kPutThreads = 3;
constexpr int kRoundsPerDisk = 20;
const char* kRegion = "us-east-1";

// The catalog as the test sees it: stream -> shards (closed, parent, adjacent parent).
struct ShardSig {
  bool closed = false;
  std::string parent;
  std::string adjacent;
  bool operator==(const ShardSig&) const = default;
};
using CatalogSig = std::map<std::string, std::vector<ShardSig>>;

CatalogSig signature(Engine& e) {
  CatalogSig sig;
  for (const std::string& name : e.list_streams(kRegion)) {
    auto info = e.describe_stream(kRegion, name);
    if (!info.ok()) continue;
    auto& shards = sig[name];
    for (const Shard& s : info->shards) {
      shards.push_back(ShardSig{s.closed, s.parent_shard_id, s.adjacent_parent_shard_id});
    }
  }
  return sig;
}

std::string describe(const CatalogSig& sig) {
  std::string out;
  for (const auto& [name, shards] : sig) {
    out += name + "[";
    for (const auto& s : shards) out += s.closed ? "c" : "o";
    out += "] ";
  }
  return out;
}

// A control-plane call, as the model applies it.
struct Op {
  enum Kind { kCreate, kDelete, kSplit, kMerge } kind;
  std::string stream;
  uint32_t shards = 0;  // kCreate
  uint64_t a = 0;       // kSplit: the shard; kMerge: the lower shard
  uint64_t b = 0;       // kMerge: the upper (adjacent) shard
};

std::string shard_id(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shardId-%012llu", static_cast<unsigned long long>(i));
  return buf;
}

CatalogSig apply_op(CatalogSig sig, const Op& op) {
  switch (op.kind) {
    case Op::kCreate:
      sig[op.stream] = std::vector<ShardSig>(op.shards);
      break;
    case Op::kDelete:
      sig.erase(op.stream);
      break;
    case Op::kSplit: {
      auto& s = sig[op.stream];
      s[op.a].closed = true;
      s.push_back(ShardSig{false, shard_id(op.a), ""});
      s.push_back(ShardSig{false, shard_id(op.a), ""});
      break;
    }
    case Op::kMerge: {
      auto& s = sig[op.stream];
      s[op.a].closed = true;
      s[op.b].closed = true;
      s.push_back(ShardSig{false, shard_id(op.a), shard_id(op.b)});
      break;
    }
  }
  return sig;
}

struct Ack {
  std::string stream;
  std::string shard;
  std::string seq;
  std::string data;
};

// Picks the next control-plane call from the live catalog.
std::optional<Op> next_op(Engine& e, std::mt19937_64& rng, int round, int* created) {
  auto names = e.list_streams(kRegion);
  const uint64_t dice = rng() % 10;
  if (names.size() < 2 || dice == 0) {
    Op op{Op::kCreate, "s" + std::to_string(round) + "-" + std::to_string((*created)++)};
    op.shards = static_cast<uint32_t>(1 + rng() % 3);
    return op;
  }
  const std::string name = names[rng() % names.size()];
  if (dice == 1 && names.size() > 2) return Op{Op::kDelete, name, 0, 0, 0};
  auto info = e.describe_stream(kRegion, name);
  if (!info.ok()) return std::nullopt;
  std::vector<const Shard*> open;
  for (const Shard& s : info->shards) {
    if (!s.closed) open.push_back(&s);
  }
  std::sort(open.begin(), open.end(),
            [](const Shard* a, const Shard* b) { return a->range.start < b->range.start; });
  if ((dice < 6 && open.size() < 6) || open.size() < 2) {
    const Shard* s = open[rng() % open.size()];
    return Op{Op::kSplit, name, 0, s->index, 0};
  }
  const size_t i = rng() % (open.size() - 1);
  return Op{Op::kMerge, name, 0, open[i]->index, open[i + 1]->index};
}

Status run_op(Engine& e, const Op& op) {
  switch (op.kind) {
    case Op::kCreate:
      return e.create_stream(kRegion, op.stream, op.shards, StreamMode::kProvisioned, {}, {});
    case Op::kDelete:
      return e.delete_stream(kRegion, op.stream, true);
    case Op::kSplit: {
      auto info = e.describe_stream(kRegion, op.stream);
      if (!info.ok()) return info.error();
      const HashKeyRange r = info->shards[op.a].range;
      HashKey mid;
      mid.value = r.start.value + (r.end.value - r.start.value) / 2 + 1;
      return e.split_shard(kRegion, op.stream, shard_id(op.a), mid);
    }
    case Op::kMerge:
      return e.merge_shards(kRegion, op.stream, shard_id(op.a), shard_id(op.b));
  }
  return {};
}

int fail(const std::string& why) {
  std::fprintf(stderr, "FAIL: %s\n", why.c_str());
  return 1;
}

// Reads a whole shard; checks that a closed one ends with its children named.
std::string read_shard(Engine& e, const std::string& stream, const Shard& shard,
                       std::map<std::string, std::string>* by_seq) {
  auto it = e.get_shard_iterator(kRegion, stream, shard.shard_id, IteratorType::kTrimHorizon, "", 0);
  if (!it.ok()) return "iterator: " + it.error().to_string();
  std::string iter = *it;
  for (int calls = 0; calls < 100000; ++calls) {
    auto r = e.get_records(iter, 10000);
    if (!r.ok()) return "get_records " + stream + "/" + shard.shard_id + ": " + r.error().to_string();
    std::string last;
    for (const auto& rec : r->records) {
      std::string seq(rec.sequence_number());
      if (!last.empty() && seq <= last) return "sequence numbers out of order in " + shard.shard_id;
      last = seq;
      if (!by_seq->emplace(seq, std::string(rec.data)).second) return "sequence number repeated";
    }
    if (!r->next_iterator) {
      if (!shard.closed) return "an open shard ended";
      if (r->child_shards.empty()) return "closed shard " + shard.shard_id + " names no children";
      return {};
    }
    if (r->records.empty()) {
      if (shard.closed) continue;  // a closed shard must reach its end: keep reading
      return {};
    }
    iter = *r->next_iterator;
  }
  return "closed shard " + shard.shard_id + " never reached its end";
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 40;
  uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  bool lying = false;
  freshet::logging::set_level(freshet::logging::Level::critical);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--lying-disk") lying = true;
    else if (a == "--verbose") freshet::logging::set_level(freshet::logging::Level::info);
  }
  std::printf("stream power-loss test: %d rounds, seed %llu%s\n", rounds,
              static_cast<unsigned long long>(seed), lying ? ", fsync ignored" : "");
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  std::shared_ptr<PowerLossFileSystem> fs;
  std::vector<Ack> acks;
  CatalogSig model;
  uint64_t total_acks = 0;
  uint64_t total_ops = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int k = 1; k <= rounds; ++k) {
    if ((k - 1) % kRoundsPerDisk == 0) {
      fs = PowerLossFileSystem::make();
      fs->ignore_syncs(lying);
      acks.clear();
      model.clear();
    }
    EngineOptions o;
    o.data_dir = "/data";
    o.fs = fs;
    o.segment_bytes = 64 * 1024;
    std::optional<Op> in_flight;
    {
      auto opened = Engine::open(o);
      if (!opened.ok()) return fail("round " + std::to_string(k) + ": open: " + opened.error().to_string());
      Engine& e = **opened;
      std::atomic<bool> stop{false};
      std::atomic<uint64_t> acked{0};
      std::mutex mu;
      std::vector<Ack> round_acks;
      std::vector<std::thread> threads;
      for (int t = 0; t < kPutThreads; ++t) {
        threads.emplace_back([&, t] {
          std::mt19937_64 r(seed * 131 + static_cast<uint64_t>(k * 17 + t));
          uint64_t n = 0;
          while (!stop.load()) {
            auto names = e.list_streams(kRegion);
            if (names.empty()) {
              std::this_thread::yield();
              continue;
            }
            const std::string stream = names[r() % names.size()];
            const size_t count = 1 + r() % 20;
            std::vector<std::string> data, keys;
            for (size_t i = 0; i < count; ++i) {
              data.push_back("r" + std::to_string(k) + "t" + std::to_string(t) + "n" +
                             std::to_string(n++) + std::string(r() % 200, 'x'));
              keys.push_back("k" + std::to_string(r()));
            }
            std::vector<PutEntry> entries;
            for (size_t i = 0; i < count; ++i) entries.push_back(PutEntry{data[i], keys[i], ""});
            auto out = e.put_records(kRegion, stream, entries);
            if (!out.ok()) continue;  // not found (deleted, creating) or the power went
            std::lock_guard lock(mu);
            for (size_t i = 0; i < count; ++i) {
              const PutOutcome& p = (*out)[i];
              if (!p.error_code.empty()) continue;
              round_acks.push_back(Ack{stream, p.shard_id, p.sequence_number, data[i]});
              acked.fetch_add(1);
            }
          }
        });
      }
      // The control thread is this one: ops until the power goes.
      const uint64_t target = 50 + rng() % 2000;
      int created = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      std::atomic<bool> crashed{false};
      const uint64_t crash_seed = rng();  // drawn here: rng belongs to this thread
      std::thread killer([&] {
        while (acked.load() < target && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        fs->crash(static_cast<PowerLossFileSystem::Keep>(k % 3), crash_seed);
        crashed.store(true);
      });
      while (!crashed.load()) {
        std::optional<Op> op = next_op(e, rng, k, &created);
        if (!op) continue;
        in_flight = op;
        Status st = run_op(e, *op);
        if (!st.ok()) {
          // A call that fails because the power is going: wait for the killer to say so.
          for (int i = 0; i < 1000 && !crashed.load(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
        }
        if (crashed.load()) break;  // its outcome is unknown: the power went meanwhile
        if (!st.ok()) return fail("round " + std::to_string(k) + ": control op failed: " + st.to_string());
        model = apply_op(model, *op);
        ++total_ops;
        in_flight.reset();
        if (CatalogSig live = signature(e); live != model) {
          return fail("the model disagrees with the live catalog: " + describe(live) + " vs " +
                      describe(model));
        }
      }
      killer.join();
      stop.store(true);
      for (auto& th : threads) th.join();
      total_acks += round_acks.size();
      acks.insert(acks.end(), round_acks.begin(), round_acks.end());
    }
    fs->restart();
    auto reopened = Engine::open(o);
    if (!reopened.ok()) {
      return fail("round " + std::to_string(k) + ": reopen: " + reopened.error().to_string());
    }
    Engine& e = **reopened;
    const CatalogSig got = signature(e);
    if (got != model) {
      if (!in_flight || got != apply_op(model, *in_flight)) {
        return fail("round " + std::to_string(k) + ": the catalog after the power loss (" +
                    describe(got) + ") is not what the acknowledged calls made (" +
                    describe(model) + ")");
      }
      model = got;  // the call in flight at the crash was persisted
    }
    // Every record of every existing stream, by sequence number.
    std::map<std::string, std::map<std::string, std::string>> stored;  // stream -> seq -> data
    for (const auto& [name, shards] : got) {
      auto info = e.describe_stream(kRegion, name);
      if (!info.ok()) return fail("describe " + name);
      for (const Shard& s : info->shards) {
        if (std::string why = read_shard(e, name, s, &stored[name]); !why.empty()) {
          return fail("round " + std::to_string(k) + ": " + name + ": " + why);
        }
      }
    }
    std::set<std::string> seen;
    for (const Ack& a : acks) {
      auto st = stored.find(a.stream);
      if (st == stored.end()) continue;  // the stream was deleted
      auto it = st->second.find(a.seq);
      if (it == st->second.end()) {
        return fail("round " + std::to_string(k) + ": acknowledged record " + a.stream + "/" +
                    a.shard + "/" + a.seq + " is gone");
      }
      if (it->second != a.data) {
        return fail("round " + std::to_string(k) + ": sequence number " + a.seq +
                    " holds other data (a sequence number was reused)");
      }
    }
    for (const auto& [name, recs] : stored) {
      for (const auto& [seq, data] : recs) {
        if (!seen.insert(data).second) return fail("a record is stored twice: " + data.substr(0, 20));
      }
    }
    if (k % 25 == 0 || k == rounds) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("[%d/%d] power losses survived; %llu records and %llu control-plane calls "
                  "acknowledged (%.1fs)\n",
                  k, rounds, static_cast<unsigned long long>(total_acks),
                  static_cast<unsigned long long>(total_ops), secs);
      std::fflush(stdout);
    }
  }
  std::printf("PASS: %d power losses; every acknowledged record and control-plane call kept\n",
              rounds);
  return 0;
}

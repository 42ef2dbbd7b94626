// Power-loss test of the shard log: four threads append to three logs of one LogStore (small
// batches through the write-ahead log, big ones syncing their own files, segments rolling and
// WAL checkpoints running), on a PowerLossFileSystem. At a random moment the power goes: the
// file system keeps only what was synced (or, in two of three rounds, also a random prefix or
// random pages of the rest). The store is reopened and every batch ever acknowledged on this
// file system must be there, at its offsets, byte-identical, once; offsets are never reused.
//
//   log_power_loss_test --rounds N [--seed S] [--lying-disk] [--verbose]
//
// --lying-disk makes fsync a no-op: the test must then FAIL (it proves the checks can fail).
// Prints one progress line per 25 rounds; exits 0 when every round passes.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/logging.h"

#include "../testing/power_loss_fs.h"
#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"
#include "freshet/log/log_store.h"

using namespace freshet;
using namespace freshet::log;
using testing::PowerLossFileSystem;

namespace {

constexpr int kThreads = 4;
constexpr int kLogs = 3;
constexpr int kRoundsPerDisk = 25;  // then a fresh file system, so each round stays quick
constexpr uint32_t kMagic = 0xC0FFEE02;
constexpr size_t kHead = 24;  // magic, run, thread, seq(8), crc

std::string make_record(uint32_t run, uint32_t thread, uint64_t seq, size_t body) {
  std::mt19937_64 rng(run * 1000003ull + thread * 7919ull + seq);
  std::string s(kHead + body, '\0');
  for (size_t i = 0; i < body; ++i) s[kHead + i] = static_cast<char>(rng());
  le::store<uint32_t>(s.data(), kMagic);
  le::store<uint32_t>(s.data() + 4, run);
  le::store<uint32_t>(s.data() + 8, thread);
  le::store<uint64_t>(s.data() + 12, seq);
  le::store<uint32_t>(s.data() + 20, crc32c::value(s.data() + kHead, body));
  return s;
}

LogOptions options() {
  LogOptions o;
  o.durability = Durability::kFsync;
  o.segment_bytes = 64 * 1024;  // rolls under the knife
  o.retention_ms = 0;
  return o;
}

LogStoreOptions store_options() {
  LogStoreOptions o;
  o.wal_checkpoint_bytes = 96 * 1024;  // checkpoints under the knife
  return o;
}

struct Ack {
  int log;
  uint32_t run;
  uint32_t thread;
  uint64_t seq;
  size_t count;
  uint64_t offset;
};

std::string name_of(int l) { return "p/" + std::to_string(l); }

// Appends until an append fails (the power went). Returns the acknowledged batches.
void writer(Log& log, int l, uint32_t run, uint32_t t, std::mutex& mu, std::vector<Ack>& acks,
            std::atomic<uint64_t>& acked) {
  std::mt19937 rng(run * 31 + t);
  uint64_t seq = 0;
  while (true) {
    // Mostly small batches (the WAL path); one in eight is big enough to sync its own file.
    const bool big = rng() % 8 == 0;
    const size_t n = big ? 40 + rng() % 60 : 1 + rng() % 20;
    std::vector<std::string> data;
    for (size_t i = 0; i < n; ++i) {
      data.push_back(make_record(run, t, seq + i, big ? 200 + rng() % 200 : rng() % 200));
    }
    std::vector<Record> recs;
    for (const auto& d : data) recs.push_back(Record{"pk", "", d, 1});
    auto r = log.append(recs);
    if (!r.ok()) return;
    {
      std::lock_guard lock(mu);
      acks.push_back(Ack{l, run, t, seq, n, *r});
    }
    acked.fetch_add(1);
    seq += n;
  }
}

int fail(const std::string& why) {
  std::fprintf(stderr, "FAIL: %s\n", why.c_str());
  return 1;
}

// Checks every log against every acknowledged batch. Returns "" or what is wrong.
std::string verify(LogStore& store, const std::vector<Ack>& acks, uint64_t* records) {
  for (int l = 0; l < kLogs; ++l) {
    auto opened = store.open_log(name_of(l), options());
    if (!opened.ok()) return "reopen " + name_of(l) + ": " + opened.error().to_string();
    auto log = *opened;
    const uint64_t tip = log->committed_tip();
    // offset -> (run, thread, seq) of what is stored; each (run, thread) must be dense.
    std::map<uint64_t, std::tuple<uint32_t, uint32_t, uint64_t>> stored;
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> next_seq;
    uint64_t at = log->trim_horizon();
    if (at != 0) return name_of(l) + ": trim horizon moved to " + std::to_string(at);
    while (at < tip) {
      auto r = log->read(at, 10000, 8 << 20);
      if (!r.ok()) return "read " + name_of(l) + ": " + r.error().to_string();
      if (r->records.empty()) return "empty read below the tip";
      for (const auto& rec : r->records) {
        if (rec.offset != at) return "gap at offset " + std::to_string(at);
        const std::string_view d = rec.data;
        if (d.size() < kHead || le::load<uint32_t>(d.data()) != kMagic) return "bad record";
        const uint32_t run = le::load<uint32_t>(d.data() + 4);
        const uint32_t thr = le::load<uint32_t>(d.data() + 8);
        const uint64_t seq = le::load<uint64_t>(d.data() + 12);
        if (d != make_record(run, thr, seq, d.size() - kHead)) return "record bytes differ";
        uint64_t& want = next_seq[{run, thr}];
        if (seq != want) {
          return name_of(l) + " run " + std::to_string(run) + " thread " + std::to_string(thr) +
                 ": sequence " + std::to_string(seq) + " where " + std::to_string(want) +
                 " was next (a duplicate or a gap)";
        }
        want = seq + 1;
        stored[rec.offset] = {run, thr, seq};
        ++at;
        ++*records;
      }
    }
    for (const Ack& a : acks) {
      if (a.log != l) continue;
      for (size_t i = 0; i < a.count; ++i) {
        auto it = stored.find(a.offset + i);
        if (it == stored.end()) {
          return name_of(l) + ": acknowledged offset " + std::to_string(a.offset + i) +
                 " (run " + std::to_string(a.run) + ") is gone; the log ends at " +
                 std::to_string(tip);
        }
        if (it->second != std::make_tuple(a.run, a.thread, a.seq + i)) {
          return name_of(l) + ": acknowledged offset " + std::to_string(a.offset + i) +
                 " holds another record (an offset was reused)";
        }
      }
    }
    if (!log->close().ok()) return "close";
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 50;
  uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  bool lying = false;
  freshet::logging::set_level(freshet::logging::Level::critical);  // every crash makes each log report its errors
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--verbose") freshet::logging::set_level(freshet::logging::Level::info);
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--lying-disk") lying = true;
  }
  std::printf("log power-loss test: %d rounds, seed %llu%s\n", rounds,
              static_cast<unsigned long long>(seed), lying ? ", fsync ignored" : "");
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  const std::string root = "/data/logs";
  std::shared_ptr<PowerLossFileSystem> fs;
  std::vector<Ack> acks;  // every acknowledged batch on the current file system
  uint64_t total_acked = 0;
  uint64_t checked = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int k = 1; k <= rounds; ++k) {
    if ((k - 1) % kRoundsPerDisk == 0) {
      fs = PowerLossFileSystem::make();
      fs->ignore_syncs(lying);
      acks.clear();
    }
    const auto keep = static_cast<PowerLossFileSystem::Keep>(k % 3);
    const uint64_t target = 1 + rng() % 150;  // acknowledged batches before the power goes
    {
      auto store = LogStore::open(root, fs, store_options());
      if (!store.ok()) return fail("open store: " + store.error().to_string());
      std::vector<std::shared_ptr<Log>> logs;
      for (int l = 0; l < kLogs; ++l) {
        auto log = (*store)->open_log(name_of(l), options());
        if (!log.ok()) return fail("open log: " + log.error().to_string());
        logs.push_back(*log);
      }
      std::mutex mu;
      std::atomic<uint64_t> acked{0};
      std::vector<Ack> round_acks;
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          writer(*logs[t % kLogs], t % kLogs, static_cast<uint32_t>(k), static_cast<uint32_t>(t),
                 mu, round_acks, acked);
        });
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (acked.load() < target && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      fs->crash(keep, rng());
      for (auto& th : threads) th.join();
      logs.clear();
      (*store)->close();
      total_acked += round_acks.size();
      acks.insert(acks.end(), round_acks.begin(), round_acks.end());
    }
    fs->restart();
    auto store = LogStore::open(root, fs, store_options());
    if (!store.ok()) return fail("round " + std::to_string(k) + ": reopen: " + store.error().to_string());
    uint64_t records = 0;
    if (std::string why = verify(**store, acks, &records); !why.empty()) {
      return fail("round " + std::to_string(k) + " (keep mode " + std::to_string(k % 3) +
                  "): " + why);
    }
    (*store)->close();
    checked += records;
    if (k % 25 == 0 || k == rounds) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("[%d/%d] power losses survived; %llu batches acknowledged, %llu records "
                  "checked (%.1fs)\n",
                  k, rounds, static_cast<unsigned long long>(total_acked),
                  static_cast<unsigned long long>(checked), secs);
      std::fflush(stdout);
    }
  }
  std::printf("PASS: %d power losses, %llu acknowledged batches all present and intact\n", rounds,
              static_cast<unsigned long long>(total_acked));
  return 0;
}

// Crash test: a child process appends to two logs from four threads under load and reports
// every acknowledged batch on a pipe; the parent kills it with SIGKILL at a random moment,
// reopens the logs and checks that every acknowledged record is there, at its offset,
// byte-identical, and that no record is duplicated, reordered, or missing from the middle.
//
//   log_crash_test --kills N [--seed S] [--dir DIR] [--max-delay-ms M]
//
// Exits 0 when all rounds pass; prints one progress line per round.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "freshet/common/crc32c.h"
#include "freshet/common/endian.h"
#include "freshet/log/log_store.h"

using namespace freshet;
using namespace freshet::log;

namespace {

constexpr int kThreads = 4;
constexpr int kLogs = 2;
constexpr uint32_t kMagic = 0xC0FFEE01;
constexpr size_t kHead = 32;  // magic, run, thread, seq(8), size, crc, pad

LogOptions crash_options() {
  LogOptions o;
  o.durability = Durability::kFsync;
  o.segment_bytes = 256 * 1024;  // rolls happen often, under the knife too
  o.retention_ms = 0;
  return o;
}

std::string make_record(uint32_t run, uint32_t thread, uint64_t seq) {
  std::mt19937_64 rng(run * 1000003ull + thread * 7919ull + seq);
  const size_t body = rng() % 300;
  std::string s(kHead + body, '\0');
  for (size_t i = 0; i < body; ++i) s[kHead + i] = static_cast<char>(rng());
  le::store<uint32_t>(s.data(), kMagic);
  le::store<uint32_t>(s.data() + 4, run);
  le::store<uint32_t>(s.data() + 8, thread);
  le::store<uint64_t>(s.data() + 12, seq);
  le::store<uint32_t>(s.data() + 20, static_cast<uint32_t>(body));
  le::store<uint32_t>(s.data() + 24, crc32c::value(s.data() + kHead, body));
  return s;
}

[[noreturn]] void child(const std::string& dir, uint32_t run, int fd) {
  auto store = LogStore::open(dir, posix_file_system());
  if (!store.ok()) _exit(3);
  std::vector<std::shared_ptr<Log>> logs;
  for (int l = 0; l < kLogs; ++l) {
    auto log = (*store)->open_log("log" + std::to_string(l), crash_options());
    if (!log.ok()) _exit(4);
    logs.push_back(*log);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(run * 31 + t);
      uint64_t seq = 0;
      Log& log = *logs[t % kLogs];
      while (true) {
        const size_t n = 1 + rng() % 40;
        std::vector<std::string> data;
        for (size_t i = 0; i < n; ++i) data.push_back(make_record(run, t, seq + i));
        std::vector<Record> recs;
        for (const auto& d : data) recs.push_back(Record{"pk", "", d, 1});
        auto r = log.append(recs);
        if (!r.ok()) _exit(5);
        char line[128];
        int len = std::snprintf(line, sizeof(line), "%d %u %llu %zu %llu\n", t % kLogs,
                                static_cast<unsigned>(t), static_cast<unsigned long long>(seq), n,
                                static_cast<unsigned long long>(*r));
        if (::write(fd, line, static_cast<size_t>(len)) != len) _exit(6);  // < PIPE_BUF: atomic
        seq += n;
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

struct Ack {
  int log;
  uint32_t thread;
  uint64_t seq;
  size_t count;
  uint64_t offset;
};

int fail(const std::string& why) {
  std::fprintf(stderr, "FAIL: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int kills = 20;
  uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  int max_delay_ms = 400;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--kills") kills = std::atoi(argv[i + 1]);
    else if (a == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--max-delay-ms") max_delay_ms = std::atoi(argv[i + 1]);
  }
  const bool own_dir = dir.empty();
  if (own_dir) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "freshet-crash-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
  }
  std::printf("crash test: %d kills, seed %llu, dir %s\n", kills,
              static_cast<unsigned long long>(seed), dir.c_str());
  std::mt19937_64 rng(seed);
  // (log, run, thread) -> how many records of that stream exist so far (runs are disjoint).
  std::vector<std::vector<Ack>> acked_by_run;
  // Per log: how far the previous rounds verified and each (run, thread)'s next sequence.
  // Every round checks the records new since then; every 25th round (and the last) rescans
  // each log from offset 0, so the test stays linear in the number of kills.
  std::vector<uint64_t> verified_tip(kLogs, 0);
  std::vector<std::map<std::pair<uint32_t, uint32_t>, uint64_t>> seq_state(kLogs);
  uint64_t total_acked = 0;
  uint64_t verified_records = 0;
  const auto start = std::chrono::steady_clock::now();

  for (int k = 1; k <= kills; ++k) {
    const uint32_t run = static_cast<uint32_t>(k);
    int fds[2];
    if (::pipe(fds) != 0) return fail("pipe");
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid < 0) return fail("fork");
    if (pid == 0) {
      ::close(fds[0]);
      child(dir, run, fds[1]);
    }
    ::close(fds[1]);
    const int delay = static_cast<int>(rng() % static_cast<uint64_t>(max_delay_ms + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      return fail("child exited on its own with status " + std::to_string(status));
    }
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    std::vector<Ack> acks;
    size_t pos = 0;
    while (true) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;  // a line cut by the kill was never sent whole
      Ack a{};
      unsigned long long seq = 0, off = 0;
      size_t cnt = 0;
      if (std::sscanf(text.c_str() + pos, "%d %u %llu %zu %llu", &a.log, &a.thread, &seq, &cnt,
                      &off) != 5) {
        return fail("bad ack line");
      }
      a.seq = seq;
      a.count = cnt;
      a.offset = off;
      acks.push_back(a);
      total_acked += cnt;
      pos = nl + 1;
    }
    acked_by_run.push_back(std::move(acks));

    // Recover and verify.
    auto store = LogStore::open(dir, posix_file_system());
    if (!store.ok()) return fail("reopen store: " + store.error().to_string());
    uint64_t round_records = 0;
    for (int l = 0; l < kLogs; ++l) {
      auto opened = (*store)->open_log("log" + std::to_string(l), crash_options());
      if (!opened.ok()) return fail("reopen log: " + opened.error().to_string());
      auto log = *opened;
      const uint64_t tip = log->committed_tip();
      const bool full = k % 25 == 0 || k == kills;
      if (full) {
        verified_tip[l] = 0;
        seq_state[l].clear();
      }
      if (tip < verified_tip[l]) {
        return fail("log" + std::to_string(l) + " lost records: tip " + std::to_string(tip) +
                    " below the " + std::to_string(verified_tip[l]) + " seen before");
      }
      auto& next_seq = seq_state[l];  // (run, thread) -> next seq
      std::map<uint64_t, std::tuple<uint32_t, uint32_t, uint64_t>> by_offset_run;  // only recent
      const uint64_t scan_start = verified_tip[l];
      uint64_t at = scan_start;
      while (at < tip) {
        auto r = log->read(at, 10000, 8 << 20);
        if (!r.ok()) return fail("read: " + r.error().to_string());
        if (r->records.empty()) return fail("empty read below the tip");
        for (const auto& rec : r->records) {
          if (rec.offset != at) return fail("gap: expected offset " + std::to_string(at));
          const std::string_view d = rec.data;
          if (d.size() < kHead || le::load<uint32_t>(d.data()) != kMagic) return fail("bad record");
          const uint32_t rrun = le::load<uint32_t>(d.data() + 4);
          const uint32_t rthr = le::load<uint32_t>(d.data() + 8);
          const uint64_t rseq = le::load<uint64_t>(d.data() + 12);
          if (d != make_record(rrun, rthr, rseq)) return fail("record bytes differ");
          uint64_t& want = next_seq[{rrun, rthr}];
          if (rseq != want) {
            return fail("log" + std::to_string(l) + " run " + std::to_string(rrun) + " thread " +
                        std::to_string(rthr) + ": sequence " + std::to_string(rseq) +
                        " where " + std::to_string(want) + " was next (duplicate or gap)");
          }
          want = rseq + 1;
          if (rrun + 1 >= run) by_offset_run[rec.offset] = {rrun, rthr, rseq};
          ++at;
          ++round_records;
        }
      }
      // Every acknowledged record of every run is there (older runs: by sequence count; the
      // last two runs: at the exact offset too).
      for (size_t ri = 0; ri < acked_by_run.size(); ++ri) {
        const uint32_t arun = static_cast<uint32_t>(ri + 1);
        for (const Ack& a : acked_by_run[ri]) {
          if (a.log != l) continue;
          if (next_seq[{arun, a.thread}] < a.seq + a.count) {
            return fail("run " + std::to_string(arun) + ": acknowledged records lost in log" +
                        std::to_string(l));
          }
          if (arun + 1 >= run) {
            for (size_t i = 0; i < a.count; ++i) {
              if (a.offset + i < scan_start) continue;  // checked in the round that wrote it
              auto it = by_offset_run.find(a.offset + i);
              if (it == by_offset_run.end() ||
                  it->second != std::make_tuple(arun, a.thread, a.seq + i)) {
                return fail("acknowledged offset " + std::to_string(a.offset + i) +
                            " holds another record");
              }
            }
          }
        }
      }
      verified_tip[l] = tip;
      if (!log->close().ok()) return fail("close");
    }
    (*store)->close();
    verified_records = round_records;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[%d/%d] killed after %d ms: %zu batches acknowledged this round, %llu records "
                "checked (%.1fs)\n",
                k, kills, delay, acked_by_run.back().size(),
                static_cast<unsigned long long>(round_records), secs);
  }
  std::printf("PASS: %d kills, %llu records acknowledged, all %llu present and intact\n", kills,
              static_cast<unsigned long long>(total_acked),
              static_cast<unsigned long long>(verified_records));
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}

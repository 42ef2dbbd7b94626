// fsync_probe: what a group-commit round costs on this disk, to choose how rounds sync.
//
// Each round appends `--bytes` to each of N files and then makes them durable:
//   seq      one thread fdatasyncs the files one after another
//   parallel one thread per file, all fdatasyncs of a round at once
//   same     N threads each append to and fdatasync ONE shared file, unsynchronised
//            (do fdatasyncs of the same file overlap?)
// Prints wall time and this process's CPU time per round (per sync for `same`).
//
// Usage: fsync_probe [--dir DIR] [--files N] [--rounds R] [--bytes B] [--prezero] MODE
//   --prezero  write zeros over the first 4 MiB of each file and sync before timing, so
//              that rounds overwrite (no file-size change to sync) instead of appending.
// Files are created under DIR (default: a new directory under $TMPDIR) and removed after.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::perror(what);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::string mode;
  int files = 4;
  int rounds = 2000;
  size_t bytes = 150;
  bool prezero = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "fsync_probe: %s wants a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir")
      dir = next();
    else if (a == "--files")
      files = std::atoi(next().c_str());
    else if (a == "--rounds")
      rounds = std::atoi(next().c_str());
    else if (a == "--bytes")
      bytes = static_cast<size_t>(std::atoll(next().c_str()));
    else if (a == "--prezero")
      prezero = true;
    else
      mode = a;
  }
  if ((mode != "seq" && mode != "parallel" && mode != "same") || files < 1 || files > 64 ||
      rounds < 1 || bytes < 1 || bytes > (1 << 20)) {
    std::fprintf(stderr,
                 "usage: fsync_probe [--dir DIR] [--files N] [--rounds R] [--bytes B] "
                 "[--prezero] seq|parallel|same\n");
    return 2;
  }
  bool own_dir = dir.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/fsync-probe.XXXXXX";
    check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir = tmpl;
  }
  const int nfiles = mode == "same" ? 1 : files;
  std::vector<int> fds;
  for (int i = 0; i < nfiles; ++i) {
    std::string path = dir + "/f" + std::to_string(i);
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    check(fd >= 0, "open");
    fds.push_back(fd);
  }
  if (prezero) {
    std::vector<char> zeros(4 << 20, 0);
    for (int fd : fds) {
      check(::pwrite(fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()),
            "pwrite");
      check(::fdatasync(fd) == 0, "fdatasync");
    }
  }
  std::vector<char> buf(bytes, 'x');
  auto write_sync = [&](int fd, off_t off) {
    check(::pwrite(fd, buf.data(), bytes, off) == static_cast<ssize_t>(bytes), "pwrite");
    check(::fdatasync(fd) == 0, "fdatasync");
  };

  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  long syncs = 0;
  if (mode == "seq") {
    for (int r = 0; r < rounds; ++r) {
      for (int fd : fds) write_sync(fd, static_cast<off_t>(r) * static_cast<off_t>(bytes));
    }
    syncs = static_cast<long>(rounds) * nfiles;
  } else if (mode == "parallel") {
    // Round r starts when every thread finished round r-1 (a barrier per round).
    std::mutex mu;
    std::condition_variable cv;
    int round = 0;
    int done = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < nfiles; ++i) {
      threads.emplace_back([&, i] {
        for (int r = 0; r < rounds; ++r) {
          write_sync(fds[i], static_cast<off_t>(r) * static_cast<off_t>(bytes));
          std::unique_lock lock(mu);
          if (++done == nfiles) {
            done = 0;
            ++round;
            cv.notify_all();
          } else {
            cv.wait(lock, [&] { return round > r; });
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    syncs = static_cast<long>(rounds) * nfiles;
  } else {
    std::atomic<off_t> off{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < files; ++i) {
      threads.emplace_back([&] {
        for (int r = 0; r < rounds; ++r)
          write_sync(fds[0], off.fetch_add(static_cast<off_t>(bytes)));
      });
    }
    for (auto& t : threads) t.join();
    syncs = static_cast<long>(rounds) * files;
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  if (mode == "same") {
    std::printf(
        "same: %d threads, one file: %.0f fdatasyncs/s in all, %.0f us each, "
        "%.0f us CPU per fdatasync\n",
        files, static_cast<double>(syncs) / wall, wall / rounds * 1e6,
        cpu / static_cast<double>(syncs) * 1e6);
  } else {
    std::printf("%s: %d files%s, %d rounds: %.0f us per round, %.0f us CPU per round\n",
                mode.c_str(), nfiles, prezero ? " (prezeroed)" : "", rounds, wall / rounds * 1e6,
                cpu / rounds * 1e6);
  }
  for (int fd : fds) ::close(fd);
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}

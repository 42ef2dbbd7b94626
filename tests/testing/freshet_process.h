// Runs the real freshet binary as a child process (`serve`, `up`, ...) and learns its endpoint
// from the "listening on http://HOST:PORT" line it prints on stdout. The destructor stops it
// (SIGTERM, then SIGKILL after 5 s); kill9() simulates a crash.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace freshet::testing {

class FreshetProcess {
 public:
  // args: the arguments after the binary, e.g. {"serve", "--listen", "127.0.0.1:0", ...}.
  // Lines printed before the listening line are kept in output().
  FreshetProcess(const std::string& binary, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary.c_str()));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, out_) != nullptr) {
      const std::string s = line;
      output_ += s;
      const size_t at = s.find("listening on http://");
      if (at != std::string::npos) {
        const size_t start = at + 13;
        const size_t end = s.find_first_of(" \n", start);
        endpoint_ = s.substr(start, end - start);
        break;
      }
    }
    // Keep reading what it prints so it never blocks on a full pipe.
    drain_ = std::thread([this] {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, out_) != nullptr) {
        std::lock_guard lock(mu_);
        output_ += buf;
      }
    });
  }
  ~FreshetProcess() { stop(); }
  FreshetProcess(const FreshetProcess&) = delete;
  FreshetProcess& operator=(const FreshetProcess&) = delete;

  // "" if the process never said it was listening.
  const std::string& endpoint() const { return endpoint_; }
  std::string output() const {
    std::lock_guard lock(mu_);
    return output_;
  }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; returns the exit status (or -1).
  int stop() {
    int status = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();  // the child is gone: its end of the pipe is closed
    if (out_ != nullptr) {
      std::fclose(out_);
      out_ = nullptr;
    }
    return status;
  }
  void kill9() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;  // kept open so the child never gets SIGPIPE
  std::string endpoint_;
  mutable std::mutex mu_;
  std::string output_;  // REQUIRES: mu_ (after the constructor)
  std::thread drain_;   // reads out_ until the child exits
};

}  // namespace freshet::testing

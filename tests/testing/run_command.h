// Runs a shell command (tests of the real binary) and collects its exit code and stdout.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace freshet::testing {

struct CommandResult {
  int exit_code;       // -1 if the command did not exit normally
  std::string output;  // stdout (and stderr where the command redirects it there)
};

inline CommandResult run_command(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace freshet::testing

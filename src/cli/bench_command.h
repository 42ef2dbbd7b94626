// `freshet bench put|get|e2e`: a Kinesis load generator that speaks the AWS API (JSON 1.1 over
// keep-alive HTTP/1.1, SigV4-signed) to any endpoint: Freshet, AWS, or another emulator.
// See run_bench() in bench_command.cc for the flags; `freshet bench put --help` lists them.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace freshet::cli {

void add_bench_command(CLI::App& app, int* exit_code);

// Runs `freshet bench ARGS...` (ARGS without "bench"). Returns the exit code:
// 0 done without errors, 1 errors or an unreachable endpoint, 2 bad flags.
int run_bench(const std::vector<std::string>& args);

}  // namespace freshet::cli

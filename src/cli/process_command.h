// `freshet process --endpoint URL --config FILE`: a processing worker of another Freshet
// server. It runs the config file's functions on its mappings, reading the streams through
// the server's Kinesis API and keeping checkpoints, leases and table sinks through its
// DynamoDB API; several workers with the same mappings divide the shards by leases
// (src/process/README.md, "Workers"). Runs until SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

void add_process_command(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

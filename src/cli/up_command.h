// `freshet up PIPELINE.yaml`: opens a node, compares it with the pipeline file, prints the
// plan, applies it (or only prints it with --dry-run), starts the file's producers, and serves
// until SIGINT/SIGTERM. See docs/pipeline.md.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

void add_up_command(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

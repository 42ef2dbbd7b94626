// `freshet log dump PATH` and `freshet log verify PATH`.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

// Adds the `log` subcommand group to app; *exit_code receives the command's exit status.
void add_log_commands(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

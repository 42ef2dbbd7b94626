// `freshet table dump DIR` and `freshet table verify DIR`.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

// Adds the `table` subcommand group to app; *exit_code receives the command's exit status.
void add_table_commands(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

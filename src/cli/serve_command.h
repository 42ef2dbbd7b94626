// `freshet serve`: the API server over a data directory.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

void add_serve_command(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

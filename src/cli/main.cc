// The freshet binary: one entry point, one subcommand per job.
#include <CLI/CLI.hpp>

#include "freshet/common/logging.h"

#if FRESHET_BENCH_COMMAND
#include "bench_command.h"
#endif
#include "log_commands.h"
#include "process_command.h"
#include "produce_command.h"
#include "serve_command.h"
#include "table_commands.h"
#include "up_command.h"

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries results (and serve's "listening on" line).
  freshet::logging::use_stderr("freshet");
  CLI::App app{"Freshet: a self-hosted streaming data platform that speaks the AWS APIs"};
  app.require_subcommand(1);
  int exit_code = 0;
  freshet::cli::add_serve_command(app, &exit_code);
  freshet::cli::add_log_commands(app, &exit_code);
#if FRESHET_BENCH_COMMAND
  freshet::cli::add_bench_command(app, &exit_code);
#endif
  freshet::cli::add_table_commands(app, &exit_code);
  freshet::cli::add_produce_command(app, &exit_code);
  freshet::cli::add_up_command(app, &exit_code);
  freshet::cli::add_process_command(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

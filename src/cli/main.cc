// The freshet binary: one entry point, one subcommand per job.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bench_command.h"
#include "log_commands.h"
#include "process_command.h"
#include "produce_command.h"
#include "serve_command.h"
#include "table_commands.h"
#include "up_command.h"

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries results (and serve's "listening on" line).
  spdlog::set_default_logger(spdlog::stderr_color_mt("freshet"));
  CLI::App app{"Freshet: a self-hosted streaming data platform that speaks the AWS APIs"};
  app.require_subcommand(1);
  int exit_code = 0;
  freshet::cli::add_serve_command(app, &exit_code);
  freshet::cli::add_log_commands(app, &exit_code);
  freshet::cli::add_bench_command(app, &exit_code);
  freshet::cli::add_table_commands(app, &exit_code);
  freshet::cli::add_produce_command(app, &exit_code);
  freshet::cli::add_up_command(app, &exit_code);
  freshet::cli::add_process_command(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

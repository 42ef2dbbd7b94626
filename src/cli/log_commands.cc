#include "log_commands.h"

#include <iostream>

#include "freshet/common/file.h"
#include "freshet/log/inspect.h"

namespace freshet::cli {
namespace {

struct LogArgs {
  std::string path;
  bool headers_only = false;
  size_t data_bytes = 64;
};

}  // namespace

void add_log_commands(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<LogArgs>();
  CLI::App* log = app.add_subcommand("log", "Inspect shard log files offline (no server needed)");
  log->require_subcommand(1);

  CLI::App* dump = log->add_subcommand("dump", "Print the batches and records of a log");
  dump->add_option("PATH", args->path, "A log directory or one <offset>.log segment file")
      ->required();
  dump->add_flag("--headers-only", args->headers_only, "Print batch headers, not records");
  dump->add_option("--data-bytes", args->data_bytes, "Bytes of each record's data to print")
      ->check(CLI::Range(0, 1 << 20));
  dump->callback([args, exit_code] {
    auto fs = posix_file_system();
    log::DumpOptions o;
    o.records = !args->headers_only;
    o.data_preview = args->data_bytes;
    Status s = log::dump_log(*fs, args->path, o, std::cout);
    if (!s.ok()) {
      std::cerr << "freshet log dump: " << s.to_string() << "\n";
      *exit_code = 1;
    }
  });

  CLI::App* verify = log->add_subcommand(
      "verify", "Check every CRC, offset and index of a log; exit 1 on any damage");
  verify->add_option("PATH", args->path, "A log directory or one <offset>.log segment file")
      ->required();
  verify->callback([args, exit_code] {
    auto fs = posix_file_system();
    auto report = log::verify_log(*fs, args->path, &std::cerr);
    if (!report.ok()) {
      std::cerr << "freshet log verify: " << report.error().to_string() << "\n";
      *exit_code = 2;
      return;
    }
    std::cout << "segments=" << report->segments << " batches=" << report->batches
              << " records=" << report->records << " bytes=" << report->bytes
              << " offsets=[" << report->first_offset << "," << report->next_offset << ")\n";
    for (const auto& p : report->problems) std::cout << "DAMAGE: " << p << "\n";
    std::cout << (report->ok() ? "OK" : "DAMAGED") << "\n";
    *exit_code = report->ok() ? 0 : 1;
  });
}

}  // namespace freshet::cli

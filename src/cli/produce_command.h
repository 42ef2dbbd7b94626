// `freshet produce`: sends records to a Kinesis stream at any endpoint (Freshet or AWS) from
// the built-in tweet generator, a file of JSON lines, stdin, or a recorded file replayed at
// its own pace; or writes them to a file. See add_produce_command() for the flags.
#pragma once

#include <CLI/CLI.hpp>

namespace freshet::cli {

void add_produce_command(CLI::App& app, int* exit_code);

}  // namespace freshet::cli

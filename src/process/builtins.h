// Factories of the built-in functions (builtins.cc) and the exec function (exec.cc).
#pragma once

#include <memory>

#include "freshet/process/function.h"

namespace freshet::process {

Result<std::unique_ptr<Function>> make_extract(const FunctionConfig& c);
Result<std::unique_ptr<Function>> make_filter(const FunctionConfig& c);
Result<std::unique_ptr<Function>> make_window_count(const FunctionConfig& c);
Result<std::unique_ptr<Function>> make_exec(const FunctionConfig& c);

}  // namespace freshet::process

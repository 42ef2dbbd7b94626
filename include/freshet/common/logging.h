// Logging: a line per event on stderr, through spdlog, behind a narrow interface.
//
//   logging::warn("stream {}: cannot trim {}: {}", name, path, status.message());
//
// Why not spdlog's functions directly: each translation unit that calls them instantiates fmt's
// whole formatting engine (floats, dragonbox, the buffer writers), about 2.5 s of -O2 compile
// per unit in a project of twenty units (docs/performance.md, "Cold build of the main job").
// Here only the format string is checked where it is written; the line is formatted by
// fmt::vformat, compiled once in libfmt, and handed to spdlog finished. A disabled level costs a
// load and a compare, and no formatting.
//
// Thread-safe: spdlog's default logger serialises writes; set_level and use_stderr are meant for
// start-up (main and test set-up), before other threads log.
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace freshet::logging {

enum class Level { debug, info, warn, error, critical, off };

bool enabled(Level level);
void write(Level level, std::string_view line);

// Sends every later line to stderr with the logger name `name` (stdout carries results).
void use_stderr(const char* name);
void set_level(Level level);

template <typename... Args>
void log(Level level, fmt::format_string<Args...> format, Args&&... args) {
  if (!enabled(level)) {
    return;
  }
  write(level, fmt::vformat(format, fmt::make_format_args(args...)));
}

template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::debug, format, std::forward<Args>(args)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::info, format, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::warn, format, std::forward<Args>(args)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  log(Level::error, format, std::forward<Args>(args)...);
}

}  // namespace freshet::logging

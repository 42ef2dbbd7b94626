// Environment look-ups shared by the commands.
#pragma once

#include <cstdlib>

namespace freshet::cli {

// The variable's value, or `fallback` when it is unset or empty.
inline const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace freshet::cli

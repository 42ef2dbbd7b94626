// Names the calling thread, so that top -H, perf and gdb show which part of the server a
// thread belongs to. Linux keeps at most 15 characters; longer names are cut.
#pragma once

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace freshet {

inline void name_this_thread(std::string_view name) {
  char buf[16];
  const size_t n = std::min(name.size(), sizeof buf - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace freshet

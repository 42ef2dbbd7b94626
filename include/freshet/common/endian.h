// Explicitly sized little-endian encoding for everything written to disk or the wire.
#pragma once

#include <cstdint>
#include <cstring>

namespace freshet::le {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Freshet's encoders assume a little-endian host; add byte swaps to port");

template <typename T>
inline void store(void* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}

template <typename T>
inline T load(const void* src) {
  T v;
  std::memcpy(&v, src, sizeof(T));
  return v;
}

}  // namespace freshet::le

// CRC32C (Castagnoli), the checksum of every on-disk batch and index file.
// Uses the SSE4.2 crc32 instruction where the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace freshet::crc32c {

// Extends `crc` (the value returned for the bytes before) over [data, data+n).
uint32_t extend(uint32_t crc, const void* data, size_t n);

inline uint32_t value(const void* data, size_t n) { return extend(0, data, n); }
inline uint32_t value(std::string_view s) { return extend(0, s.data(), s.size()); }

// True when the hardware path is in use (for benchmarks and logs).
bool hardware_accelerated();

}  // namespace freshet::crc32c

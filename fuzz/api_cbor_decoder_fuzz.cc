// libFuzzer entry point for the CBOR decoder.
// Build (not wired into CMake): clang++ -std=c++20 -fsanitize=fuzzer,address -I include
//   fuzz/api_cbor_decoder_fuzz.cc src/api/{cbor_codec,document}.cc src/common/result.cc
//   -lsimdjson
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "freshet/api/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace freshet::api;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = decode_cbor(in);
  if (!r.ok()) return 0;
  // Round trip: encode and decode again; must succeed and be stable.
  std::string bytes = encode_cbor(r.value());
  auto again = decode_cbor(bytes);
  if (!again.ok()) __builtin_trap();
  if (encode_cbor(again.value()) != bytes) __builtin_trap();
  return 0;
}

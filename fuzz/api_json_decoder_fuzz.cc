// libFuzzer entry point for the JSON decoder and shape application.
// Build (not wired into CMake): clang++ -std=c++20 -fsanitize=fuzzer,address -I include
//   fuzz/api_json_decoder_fuzz.cc src/api/{json_codec,shape,base64,document}.cc
//   src/common/result.cc -lsimdjson
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "freshet/api/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace freshet::api;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = decode_json(in);
  if (!r.ok()) return 0;
  Document d = std::move(r).value();
  ShapeHint hint;
  hint.blob("Data").blob("Records[].Data").timestamp("Timestamp").blob("Tags.*");
  (void)apply_shape(d, hint, true);
  // Whatever decodes must re-encode to JSON that decodes again.
  std::string again = encode_json(d);
  if (!decode_json(again).ok()) __builtin_trap();
  return 0;
}

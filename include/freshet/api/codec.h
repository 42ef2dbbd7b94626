// Codecs between wire bytes and Document, for the AWS JSON 1.1 and CBOR 1.1 protocols.
//
// Decoders are bounded and total: they never crash or allocate more than a small multiple of
// the input on malformed input; every failure is an Error(kInvalidArgument, message) that the
// server renders as SerializationException.
//
// JSON cannot tell blobs and timestamps from strings and numbers, so decoding is two steps:
//   decode_json()  -> a raw Document (strings, numbers)
//   apply_shape()  -> converts the members a ShapeHint names: base64 strings -> Blob, and
//                     numbers (epoch seconds, fraction = milliseconds) -> Timestamp.
// CBOR carries blobs (byte strings) and timestamps (tag 1) natively; apply_shape() with
// base64_strings=false still converts untagged numbers at timestamp paths.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/api/document.h"
#include "freshet/common/result.h"

namespace freshet::api {

struct DecodeLimits {
  // Nesting of lists/maps (and CBOR tags). DynamoDB allows 32 levels of nested attribute
  // values, each two JSON levels ({"L":[...]}), below the request and the item: 72 and more.
  size_t max_depth = 100;
  size_t max_input_bytes = 12 << 20;   // whole body
  size_t max_string_bytes = 12 << 20;  // one string or blob (before base64 decoding)
  size_t max_nodes = 250'000;          // values in the tree: bounds memory (~72 bytes per node)
};

// Names the members of an operation's input that are blobs or timestamps.
//
// Path syntax: member names separated by '.'; "[]" after a name means "each element of this
// list"; "*" as a name means "every value of this map". Examples:
//   "Data"                 top-level member Data
//   "Records[].Data"       member Data of every element of list Records
//   "Tags.*"               every value of map Tags
//   "Matrix[][]"           every element of every element of list Matrix
class ShapeHint {
 public:
  enum class Kind : uint8_t { kNone, kBlob, kTimestamp };

  ShapeHint() = default;
  ShapeHint(std::initializer_list<std::pair<std::string_view, Kind>> paths);
  ShapeHint& add(std::string_view path, Kind kind);
  ShapeHint& blob(std::string_view path) { return add(path, Kind::kBlob); }
  ShapeHint& timestamp(std::string_view path) { return add(path, Kind::kTimestamp); }
  bool empty() const { return root_.children.empty(); }

  struct Node {
    std::string name;  // member name, "*" (any map key) or "[]" (list element)
    Kind kind = Kind::kNone;
    std::vector<Node> children;
    const Node* child(std::string_view n) const;
  };
  const Node& root() const { return root_; }

 private:
  Node root_;
};

// Converts hinted members in place. base64_strings: decode strings at blob paths (JSON).
// Errors use AWS's SerializationException wording, e.g.
//   "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4
//    bytes but found: 3"
Status apply_shape(Document& doc, const ShapeHint& hint, bool base64_strings);

// ---- JSON (simdjson DOM parser) ----
Result<Document> decode_json(std::string_view body, const DecodeLimits& limits = {});
// Compact JSON. Blobs -> base64 strings; timestamps -> epoch seconds with 3 decimals;
// non-finite doubles -> "NaN" / "Infinity" / "-Infinity" strings (Smithy convention); invalid
// UTF-8 in strings is replaced by U+FFFD so the output is always valid JSON.
std::string encode_json(const Document& doc);
// Appends s as a JSON string (quoted, escaped as encode_json does): for handlers that write
// their hot-path responses directly (EncodedBody).
void append_json_string(std::string_view s, std::string& out);
// Appends a timestamp as encode_json writes one (epoch seconds with three decimals).
void append_json_timestamp(int64_t ms, std::string& out);

// ---- CBOR (RFC 8949, hand-written) ----
// Accepts definite and indefinite lengths, half/single/double floats, tag 1 timestamps (int or
// float seconds), other tags are skipped (their content is kept). Map keys must be text.
// Trailing bytes after the top-level item are an error.
Result<Document> decode_cbor(std::string_view body, const DecodeLimits& limits = {});

// A CBOR timestamp's number (inside tag 1, or untagged at a timestamp path) as a Timestamp.
// AWS CBOR 1.1 sends integer epoch milliseconds; a float below 1e11 is read as epoch seconds
// (Smithy RPCv2 clients), a larger one as milliseconds. SerializationException otherwise.
Result<Document> cbor_timestamp(const Document& number);
// Definite lengths, shortest integer heads, doubles as float64, blobs as byte strings,
// timestamps as tag 1 + float64 seconds.
std::string encode_cbor(const Document& doc);

}  // namespace freshet::api

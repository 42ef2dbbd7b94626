// JSON codec: simdjson DOM parser for decoding, a hand-written writer for encoding.
#include <cstring>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "freshet/common/base64.h"
#include "freshet/api/codec.h"

namespace freshet::api {
namespace {

Error json_serialization_error(std::string msg) {
  return Error(ErrorCode::kInvalidArgument, std::move(msg));
}

struct JsonConverter {
  const DecodeLimits& limits;
  size_t nodes = 0;

  Result<Document> convert(simdjson::dom::element e, size_t depth) {
    if (++nodes > limits.max_nodes) return json_serialization_error("Request has too many values");
    switch (e.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        return Document();
      case simdjson::dom::element_type::BOOL:
        return Document(bool(e.get_bool().value_unsafe()));
      case simdjson::dom::element_type::INT64:
        return Document(int64_t{e.get_int64().value_unsafe()});
      case simdjson::dom::element_type::UINT64:
        // Above INT64_MAX: keep the magnitude as a double; typed access reports range errors.
        return Document(static_cast<double>(e.get_uint64().value_unsafe()));
      case simdjson::dom::element_type::DOUBLE:
        return Document(e.get_double().value_unsafe());
      case simdjson::dom::element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        if (s.size() > limits.max_string_bytes)
          return json_serialization_error("String value too long");
        return Document(s);
      }
      case simdjson::dom::element_type::ARRAY: {
        if (depth >= limits.max_depth) return json_serialization_error("Nesting too deep");
        List list;
        simdjson::dom::array arr;
        if (e.get_array().get(arr) != simdjson::SUCCESS)
          return json_serialization_error("Invalid JSON");
        for (simdjson::dom::element c : arr) {
          FRESHET_ASSIGN_OR_RETURN(Document v, convert(c, depth + 1));
          list.push_back(std::move(v));
        }
        return Document(std::move(list));
      }
      case simdjson::dom::element_type::OBJECT: {
        if (depth >= limits.max_depth) return json_serialization_error("Nesting too deep");
        Map map;
        simdjson::dom::object obj;
        if (e.get_object().get(obj) != simdjson::SUCCESS)
          return json_serialization_error("Invalid JSON");
        for (simdjson::dom::key_value_pair kv : obj) {
          FRESHET_ASSIGN_OR_RETURN(Document v, convert(kv.value, depth + 1));
          map.push_back(Member{std::string(kv.key), std::move(v)});
        }
        return Document(std::move(map));
      }
    }
    return json_serialization_error("Unexpected JSON value");
  }
};

// Validates one UTF-8 sequence at s[i]; returns its length or 0 if invalid.
size_t utf8_seq_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  size_t n = s.size();
  auto cont = [&](size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

void write_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of characters that need no escaping in one append.
    size_t run = i;
    // Eight bytes at a time while none needs a look (SWAR: a byte below 0x20, at or above
    // 0x80, '"' or '\\' sets its high bit in `flags`); the byte loop finds which one.
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    while (run + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + run, 8);
      const uint64_t quote = w ^ (kOnes * '"'), slash = w ^ (kOnes * '\\');
      const uint64_t flags = ((w - kOnes * 0x20) | ((quote - kOnes) & ~quote) |
                              ((slash - kOnes) & ~slash) | w) & kHigh;
      if (flags != 0) break;
      run += 8;
    }
    while (run < s.size()) {
      const auto r = static_cast<uint8_t>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t len = utf8_seq_len(s, i);
      if (len == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void write_json_double(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
  }
}

void write_timestamp(int64_t ms, std::string& out) {
  uint64_t mag = ms < 0 ? uint64_t(0) - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (ms < 0) out.push_back('-');
  out += std::to_string(mag / 1000);
  out.push_back('.');
  uint64_t frac = mag % 1000;
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
}

void write_json_value(const Document& d, std::string& out) {
  switch (d.type()) {
    case Document::Type::kNull:
      out += "null";
      break;
    case Document::Type::kBool:
      out += d.as_bool() ? "true" : "false";
      break;
    case Document::Type::kInt:
      out += std::to_string(d.as_int());
      break;
    case Document::Type::kDouble:
      write_json_double(d.as_double(), out);
      break;
    case Document::Type::kString:
      write_string(d.as_string(), out);
      break;
    case Document::Type::kBlob:
      out.push_back('"');
      base64_encode_append(d.as_blob(), out);
      out.push_back('"');
      break;
    case Document::Type::kTimestamp:
      write_timestamp(d.as_timestamp_ms(), out);
      break;
    case Document::Type::kList: {
      out.push_back('[');
      bool first = true;
      for (const Document& e : d.as_list()) {
        if (!first) out.push_back(',');
        first = false;
        write_json_value(e, out);
      }
      out.push_back(']');
      break;
    }
    case Document::Type::kMap: {
      out.push_back('{');
      bool first = true;
      for (const Member& m : d.as_map()) {
        if (!first) out.push_back(',');
        first = false;
        write_string(m.key, out);
        out.push_back(':');
        write_json_value(m.value, out);
      }
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

Result<Document> decode_json(std::string_view body, const DecodeLimits& limits) {
  if (body.size() > limits.max_input_bytes)
    return json_serialization_error("Request body too large");
  if (body.empty()) return json_serialization_error("Empty request body");
  simdjson::dom::parser parser;
  // simdjson counts the document root as a level; give it one level of slack and let the
  // converter enforce max_depth exactly.
  if (parser.allocate(body.size(), limits.max_depth + 2) != simdjson::SUCCESS) {
    return json_serialization_error("Request body too large");
  }
  simdjson::dom::element root;
  auto err = parser.parse(body.data(), body.size(), true).get(root);
  if (err != simdjson::SUCCESS) {
    if (err == simdjson::DEPTH_ERROR) return json_serialization_error("Nesting too deep");
    if (err == simdjson::UTF8_ERROR)
      return json_serialization_error("Invalid UTF-8 in request body");
    return json_serialization_error(std::string("Invalid JSON: ") + simdjson::error_message(err));
  }
  JsonConverter conv{limits};
  return conv.convert(root, 0);
}

void append_json_string(std::string_view s, std::string& out) { write_string(s, out); }
void append_json_timestamp(int64_t ms, std::string& out) { write_timestamp(ms, out); }

std::string encode_json(const Document& doc) {
  std::string out;
  write_json_value(doc, out);
  return out;
}

}  // namespace freshet::api

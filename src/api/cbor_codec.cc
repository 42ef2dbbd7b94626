// CBOR codec (RFC 8949), the subset AWS CBOR 1.1 / Smithy rpcv2-cbor use, with strict bounds.
//
// Every length read from the input is checked against the bytes that remain before anything
// is allocated: a definite string needs `len` bytes, a list needs >= 1 byte per element and a
// map >= 2 per entry. Depth and total node count are bounded by DecodeLimits.
#include <simdjson.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "freshet/api/codec.h"

namespace freshet::api {

Result<Document> cbor_timestamp(const Document& number) {
  double ms;
  if (number.is_int()) {
    ms = static_cast<double>(number.as_int());
  } else if (number.is_double()) {
    const double v = number.as_double();
    ms = std::fabs(v) < 1e11 ? v * 1000.0 : v;
  } else {
    return Error(ErrorCode::kInvalidArgument, "CBOR tag 1 timestamp must be a number");
  }
  if (!std::isfinite(ms) || std::fabs(ms) > 9e15) {
    return Error(ErrorCode::kInvalidArgument, "Timestamp value out of range");
  }
  return Document::timestamp_ms(std::llround(ms));
}

namespace {

Error serialization(std::string msg) { return Error(ErrorCode::kInvalidArgument, std::move(msg)); }

constexpr uint8_t kBreak = 0xFF;

struct Head {
  uint8_t major;
  uint8_t ai;
  uint64_t value;  // argument (length, integer, simple value or float bits)
  bool indefinite;
};

double half_to_double(uint16_t h) {
  int exp = (h >> 10) & 0x1F;
  int mant = h & 0x3FF;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp != 31) {
    v = std::ldexp(mant + 1024, exp - 25);
  } else {
    v = mant == 0 ? INFINITY : NAN;
  }
  return (h & 0x8000) ? -v : v;
}

class CborReader {
 public:
  CborReader(std::string_view in, const DecodeLimits& limits)
      : p_(reinterpret_cast<const uint8_t*>(in.data())), end_(p_ + in.size()), limits_(limits) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  Result<Head> read_head() {
    if (p_ >= end_) return serialization("Unexpected end of CBOR input");
    uint8_t ib = *p_++;
    Head h{static_cast<uint8_t>(ib >> 5), static_cast<uint8_t>(ib & 31), 0, false};
    if (h.ai < 24) {
      h.value = h.ai;
    } else if (h.ai <= 27) {
      size_t n = size_t{1} << (h.ai - 24);
      if (remaining() < n) return serialization("Unexpected end of CBOR input");
      uint64_t v = 0;
      for (size_t i = 0; i < n; ++i) v = (v << 8) | p_[i];
      p_ += n;
      h.value = v;
    } else if (h.ai == 31) {
      if (h.major == 0 || h.major == 1 || h.major == 6) {
        return serialization("Invalid indefinite length for CBOR major type");
      }
      h.indefinite = true;
    } else {
      return serialization("Reserved CBOR additional information value");
    }
    return h;
  }

  bool at_break() const { return p_ < end_ && *p_ == kBreak; }

  // Reads a definite or indefinite byte/text string body for head `h` into `out`.
  Status read_string_body(const Head& h, std::string& out) {
    if (!h.indefinite) {
      if (h.value > remaining()) return serialization("CBOR string length exceeds input");
      if (out.size() + h.value > limits_.max_string_bytes) {
        return serialization("CBOR string too long");
      }
      out.append(reinterpret_cast<const char*>(p_), static_cast<size_t>(h.value));
      p_ += h.value;
      return Status();
    }
    while (true) {
      if (p_ >= end_) return serialization("Unexpected end of CBOR input");
      if (*p_ == kBreak) {
        ++p_;
        return Status();
      }
      FRESHET_ASSIGN_OR_RETURN(Head chunk, read_head());
      if (chunk.major != h.major || chunk.indefinite) {
        return serialization("Invalid chunk in indefinite-length CBOR string");
      }
      FRESHET_RETURN_IF_ERROR(read_string_body(chunk, out));
    }
  }

  Result<Document> read_item(size_t depth) {
    if (++nodes_ > limits_.max_nodes) return serialization("Request has too many values");
    FRESHET_ASSIGN_OR_RETURN(Head h, read_head());
    switch (h.major) {
      case 0:
        if (h.value > static_cast<uint64_t>(INT64_MAX)) {
          return Document(static_cast<double>(h.value));
        }
        return Document(static_cast<int64_t>(h.value));
      case 1:
        if (h.value > static_cast<uint64_t>(INT64_MAX)) {
          return Document(-1.0 - static_cast<double>(h.value));
        }
        return Document(-1 - static_cast<int64_t>(h.value));
      case 2: {
        std::string bytes;
        FRESHET_RETURN_IF_ERROR(read_string_body(h, bytes));
        return Document::blob(std::move(bytes));
      }
      case 3: {
        std::string text;
        FRESHET_RETURN_IF_ERROR(read_string_body(h, text));
        if (!simdjson::validate_utf8(text.data(), text.size())) {
          return serialization("Invalid UTF-8 in CBOR text string");
        }
        return Document(std::move(text));
      }
      case 4: {
        if (depth >= limits_.max_depth) return serialization("Nesting too deep");
        List list;
        if (h.indefinite) {
          while (!at_break()) {
            FRESHET_ASSIGN_OR_RETURN(Document v, read_item(depth + 1));
            list.push_back(std::move(v));
          }
          ++p_;  // break
        } else {
          if (h.value > remaining()) return serialization("CBOR array length exceeds input");
          list.reserve(std::min<uint64_t>(h.value, 1024));
          for (uint64_t i = 0; i < h.value; ++i) {
            FRESHET_ASSIGN_OR_RETURN(Document v, read_item(depth + 1));
            list.push_back(std::move(v));
          }
        }
        return Document(std::move(list));
      }
      case 5: {
        if (depth >= limits_.max_depth) return serialization("Nesting too deep");
        Map map;
        if (h.indefinite) {
          while (!at_break()) FRESHET_RETURN_IF_ERROR(read_member(map, depth));
          ++p_;  // break
        } else {
          if (h.value > remaining() / 2) return serialization("CBOR map length exceeds input");
          map.reserve(std::min<uint64_t>(h.value, 256));
          for (uint64_t i = 0; i < h.value; ++i) FRESHET_RETURN_IF_ERROR(read_member(map, depth));
        }
        return Document(std::move(map));
      }
      case 6: {
        if (depth >= limits_.max_depth) return serialization("Nesting too deep");
        FRESHET_ASSIGN_OR_RETURN(Document inner, read_item(depth + 1));
        if (h.value != 1) return inner;  // other tags: keep the content
        return cbor_timestamp(inner);
      }
      case 7:
        switch (h.ai) {
          case 20:
            return Document(false);
          case 21:
            return Document(true);
          case 22:
          case 23:  // undefined
            return Document();
          case 25:
            return Document(half_to_double(static_cast<uint16_t>(h.value)));
          case 26:
            return Document(
                static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(h.value))));
          case 27:
            return Document(std::bit_cast<double>(h.value));
          case 31:
            return serialization("Unexpected CBOR break");
          default:
            return serialization("Unsupported CBOR simple value");
        }
    }
    return serialization("Invalid CBOR");
  }

 private:
  Status read_member(Map& map, size_t depth) {
    if (++nodes_ > limits_.max_nodes) return serialization("Request has too many values");
    FRESHET_ASSIGN_OR_RETURN(Head kh, read_head());
    if (kh.major != 3) return serialization("CBOR map keys must be text strings");
    std::string key;
    FRESHET_RETURN_IF_ERROR(read_string_body(kh, key));
    if (!simdjson::validate_utf8(key.data(), key.size())) {
      return serialization("Invalid UTF-8 in CBOR map key");
    }
    FRESHET_ASSIGN_OR_RETURN(Document v, read_item(depth + 1));
    map.push_back(Member{std::move(key), std::move(v)});
    return Status();
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const DecodeLimits& limits_;
  size_t nodes_ = 0;
};

void write_head(uint8_t major, uint64_t v, std::string& out) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (v < 24) {
    out.push_back(static_cast<char>(m | v));
    return;
  }
  int n;
  uint8_t ai;
  if (v <= 0xFF) {
    n = 1, ai = 24;
  } else if (v <= 0xFFFF) {
    n = 2, ai = 25;
  } else if (v <= 0xFFFFFFFFull) {
    n = 4, ai = 26;
  } else {
    n = 8, ai = 27;
  }
  out.push_back(static_cast<char>(m | ai));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void write_double(double d, std::string& out) {
  out.push_back(static_cast<char>(0xFB));
  uint64_t bits = std::bit_cast<uint64_t>(d);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

void write_value(const Document& d, std::string& out) {
  switch (d.type()) {
    case Document::Type::kNull:
      out.push_back(static_cast<char>(0xF6));
      break;
    case Document::Type::kBool:
      out.push_back(static_cast<char>(d.as_bool() ? 0xF5 : 0xF4));
      break;
    case Document::Type::kInt: {
      int64_t v = d.as_int();
      if (v >= 0) {
        write_head(0, static_cast<uint64_t>(v), out);
      } else {
        write_head(1, static_cast<uint64_t>(-1 - v), out);
      }
      break;
    }
    case Document::Type::kDouble:
      write_double(d.as_double(), out);
      break;
    case Document::Type::kString:
      write_head(3, d.as_string().size(), out);
      out += d.as_string();
      break;
    case Document::Type::kBlob:
      write_head(2, d.as_blob().size(), out);
      out += d.as_blob();
      break;
    case Document::Type::kTimestamp:
      // AWS CBOR 1.1 (the Kinesis protocol of the Java SDK and KCL): tag 1 around an
      // integer of epoch *milliseconds*.
      out.push_back(static_cast<char>(0xC1));  // tag 1
      if (d.as_timestamp_ms() >= 0) {
        write_head(0, static_cast<uint64_t>(d.as_timestamp_ms()), out);
      } else {
        write_head(1, static_cast<uint64_t>(-(d.as_timestamp_ms() + 1)), out);
      }
      break;
    case Document::Type::kList:
      write_head(4, d.as_list().size(), out);
      for (const Document& e : d.as_list()) write_value(e, out);
      break;
    case Document::Type::kMap:
      write_head(5, d.as_map().size(), out);
      for (const Member& m : d.as_map()) {
        write_head(3, m.key.size(), out);
        out += m.key;
        write_value(m.value, out);
      }
      break;
  }
}

}  // namespace

Result<Document> decode_cbor(std::string_view body, const DecodeLimits& limits) {
  if (body.size() > limits.max_input_bytes) return serialization("Request body too large");
  if (body.empty()) return serialization("Empty request body");
  CborReader r(body, limits);
  FRESHET_ASSIGN_OR_RETURN(Document d, r.read_item(0));
  if (r.remaining() != 0) return serialization("Trailing bytes after CBOR value");
  return d;
}

std::string encode_cbor(const Document& doc) {
  std::string out;
  write_value(doc, out);
  return out;
}

}  // namespace freshet::api

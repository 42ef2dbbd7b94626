#include "freshet/table/codec.h"

#include <algorithm>
#include <cstring>

#include "freshet/common/crc32c.h"
#include "freshet/table/number.h"

namespace freshet::table {
namespace {

void put_varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool get_bytes(std::string_view& in, std::string& out) {
  uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  out.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

void put_bytes(std::string_view s, std::string& out) {
  put_varint(s.size(), out);
  out.append(s);
}

void put_value(const Value& v, std::string& out) {
  out.push_back(static_cast<char>(v.type()));
  switch (v.type()) {
    case Type::kS:
    case Type::kN:
    case Type::kB: put_bytes(v.str(), out); break;
    case Type::kBool: out.push_back(v.as_bool() ? 1 : 0); break;
    case Type::kNull: break;
    case Type::kM:
      put_varint(v.as_map().size(), out);
      for (const auto& [k, e] : v.as_map()) {
        put_bytes(k, out);
        put_value(e, out);
      }
      break;
    case Type::kL:
      put_varint(v.as_list().size(), out);
      for (const auto& e : v.as_list()) put_value(e, out);
      break;
    case Type::kSS:
    case Type::kNS:
    case Type::kBS:
      put_varint(v.members().size(), out);
      for (const auto& m : v.members()) put_bytes(m, out);
      break;
  }
}

bool get_value(std::string_view& in, Value& out, int depth) {
  if (in.empty() || depth > kMaxDepth + 1) return false;
  const uint8_t t = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  switch (static_cast<Type>(t)) {
    case Type::kS:
    case Type::kN:
    case Type::kB: {
      std::string s;
      if (!get_bytes(in, s)) return false;
      out = t == static_cast<uint8_t>(Type::kS)   ? Value::s(std::move(s))
            : t == static_cast<uint8_t>(Type::kN) ? Value::n(std::move(s))
                                                  : Value::b(std::move(s));
      return true;
    }
    case Type::kBool:
      if (in.empty()) return false;
      out = Value::boolean(in[0] != 0);
      in.remove_prefix(1);
      return true;
    case Type::kNull: out = Value::null(); return true;
    case Type::kM: {
      uint64_t n;
      if (!get_varint(in, n) || n > in.size()) return false;
      Item m;
      for (uint64_t i = 0; i < n; ++i) {
        std::string k;
        Value e;
        if (!get_bytes(in, k) || !get_value(in, e, depth + 1)) return false;
        m.emplace(std::move(k), std::move(e));
      }
      out = Value::map(std::move(m));
      return true;
    }
    case Type::kL: {
      uint64_t n;
      if (!get_varint(in, n) || n > in.size()) return false;
      std::vector<Value> l;
      l.reserve(n);
      for (uint64_t i = 0; i < n; ++i) {
        Value e;
        if (!get_value(in, e, depth + 1)) return false;
        l.push_back(std::move(e));
      }
      out = Value::list(std::move(l));
      return true;
    }
    case Type::kSS:
    case Type::kNS:
    case Type::kBS: {
      uint64_t n;
      if (!get_varint(in, n) || n > in.size()) return false;
      std::vector<std::string> members(n);
      for (auto& m : members) {
        if (!get_bytes(in, m)) return false;
      }
      out = Value::set(static_cast<Type>(t), std::move(members));
      return true;
    }
  }
  return false;
}

bool get_view(std::string_view& in, std::string_view& out) {
  uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// get_value without building the value: reports it to v (if not null) and, when sized,
// adds its value_size (value.cc) to size.
bool walk_value(std::string_view& in, ItemVisitor* v, int depth, bool sized, size_t& size) {
  if (in.empty() || depth > kMaxDepth + 1) return false;
  const uint8_t t = static_cast<uint8_t>(in[0]);
  const Type type = static_cast<Type>(t);
  in.remove_prefix(1);
  switch (type) {
    case Type::kS:
    case Type::kN:
    case Type::kB: {
      std::string_view b;
      if (!get_view(in, b)) return false;
      if (sized) size += type == Type::kN ? Decimal::text_size(b) : b.size();
      if (v != nullptr) v->scalar(type, b);
      return true;
    }
    case Type::kBool:
      if (in.empty()) return false;
      size += 1;
      if (v != nullptr) v->boolean(in[0] != 0);
      in.remove_prefix(1);
      return true;
    case Type::kNull:
      size += 1;
      if (v != nullptr) v->null();
      return true;
    case Type::kM:
    case Type::kL: {
      uint64_t n;
      if (!get_varint(in, n) || n > in.size()) return false;
      if (v != nullptr) v->begin(type);
      size += 3;
      for (uint64_t i = 0; i < n; ++i) {
        size += 1;
        if (type == Type::kM) {
          std::string_view k;
          if (!get_view(in, k)) return false;
          size += k.size();
          if (v != nullptr) v->name(k);
        }
        if (!walk_value(in, v, depth + 1, sized, size)) return false;
      }
      if (v != nullptr) v->end(type);
      return true;
    }
    case Type::kSS:
    case Type::kNS:
    case Type::kBS: {
      uint64_t n;
      if (!get_varint(in, n) || n > in.size()) return false;
      if (v != nullptr) v->begin(type);
      for (uint64_t i = 0; i < n; ++i) {
        std::string_view m;
        if (!get_view(in, m)) return false;
        if (sized) size += type == Type::kNS ? Decimal::text_size(m) : m.size();
        if (v != nullptr) v->set_member(type, m);
      }
      if (v != nullptr) v->end(type);
      return true;
    }
  }
  return false;
}

// The checks decode_item and walk_item share: the CRC and the version. On success body is
// the bytes after the version and before the CRC.
Status check_item_bytes(std::string_view bytes, std::string_view& body) {
  auto corrupt = [](const char* what) { return Error(ErrorCode::kCorruption, what); };
  if (bytes.size() < 6) return corrupt("item value too short");
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) {
    stored |= uint32_t{static_cast<uint8_t>(bytes[bytes.size() - 4 + i])} << (8 * i);
  }
  body = bytes.substr(0, bytes.size() - 4);
  if (crc32c::value(body) != stored) return corrupt("item value CRC mismatch");
  if (static_cast<uint8_t>(body[0]) != kItemFormatVersion) return corrupt("unknown item version");
  body.remove_prefix(1);
  return Status();
}

}  // namespace

void append_u32_be(uint32_t v, std::string& out) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}
void append_u16_be(uint16_t v, std::string& out) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
uint32_t read_u32_be(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
uint16_t read_u16_be(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

void encode_key_component(const Value& v, std::string& out) {
  if (v.type() == Type::kN) {
    auto d = Decimal::parse(v.str());
    (d.ok() ? *d : Decimal()).encode_key(out);
    return;
  }
  // Runs between zero bytes are appended whole (keys rarely hold a zero byte).
  std::string_view s = v.str();
  while (true) {
    const void* z = s.empty() ? nullptr : std::memchr(s.data(), '\0', s.size());
    if (z == nullptr) break;
    const size_t n = static_cast<size_t>(static_cast<const char*>(z) - s.data());
    out.append(s.data(), n + 1);
    out.push_back(static_cast<char>(0xFF));
    s.remove_prefix(n + 1);
  }
  const char term[2] = {'\0', '\x01'};
  out.append(s);
  out.append(term, 2);
}

bool decode_key_component(std::string_view& in, Type t, Value& out) {
  if (t == Type::kN) {
    Decimal d;
    if (!Decimal::decode_key(in, d)) return false;
    out = Value::n(d.canonical());
    return true;
  }
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\0') {
      s.push_back(in[i]);
      continue;
    }
    if (i + 1 >= in.size()) return false;
    if (in[i + 1] == '\x01') {
      in.remove_prefix(i + 2);
      out = t == Type::kS ? Value::s(std::move(s)) : Value::b(std::move(s));
      return true;
    }
    if (static_cast<uint8_t>(in[i + 1]) != 0xFF) return false;
    s.push_back('\0');
    ++i;
  }
  return false;
}

uint16_t key_bucket(std::string_view encoded_pk) {
  return static_cast<uint16_t>(crc32c::value(encoded_pk) >> 16);
}

namespace {
void put_crc(std::string& out) {
  const uint32_t crc = crc32c::value(out);
  const char b[4] = {static_cast<char>(crc & 0xFF), static_cast<char>((crc >> 8) & 0xFF),
                     static_cast<char>((crc >> 16) & 0xFF), static_cast<char>(crc >> 24)};
  out.append(b, 4);
}
}  // namespace

std::string encode_item(const Item& item) {
  std::string out;
  out.reserve(64 + item_size(item) + 4 * item.size());
  out.push_back(static_cast<char>(kItemFormatVersion));
  put_varint(item.size(), out);
  for (const auto& [k, v] : item) {
    put_bytes(k, out);
    put_value(v, out);
  }
  put_crc(out);
  return out;
}

std::string encode_item_subset(const Item& item, std::vector<std::string_view> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<const Item::value_type*> attrs;
  attrs.reserve(names.size());
  size_t bytes = 0;
  for (std::string_view n : names) {
    auto f = item.find(n);
    if (f == item.end()) continue;
    attrs.push_back(&*f);
    bytes += n.size() + value_size(f->second);
  }
  std::string out;
  out.reserve(64 + bytes + 4 * attrs.size());
  out.push_back(static_cast<char>(kItemFormatVersion));
  put_varint(attrs.size(), out);
  for (const Item::value_type* a : attrs) {
    put_bytes(a->first, out);
    put_value(a->second, out);
  }
  put_crc(out);
  return out;
}

Result<Item> decode_item(std::string_view bytes) {
  auto corrupt = [](const char* what) { return Error(ErrorCode::kCorruption, what); };
  std::string_view body;
  FRESHET_RETURN_IF_ERROR(check_item_bytes(bytes, body));
  uint64_t n;
  if (!get_varint(body, n) || n > body.size()) return corrupt("bad attribute count");
  Item item;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k;
    Value v;
    if (!get_bytes(body, k) || !get_value(body, v, 1)) return corrupt("bad attribute");
    item.emplace(std::move(k), std::move(v));
  }
  if (!body.empty()) return corrupt("trailing bytes in item value");
  return item;
}

Status walk_item(std::string_view bytes, ItemVisitor* visitor, size_t* size) {
  auto corrupt = [](const char* what) { return Error(ErrorCode::kCorruption, what); };
  std::string_view body;
  FRESHET_RETURN_IF_ERROR(check_item_bytes(bytes, body));
  uint64_t n;
  if (!get_varint(body, n) || n > body.size()) return corrupt("bad attribute count");
  size_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view k;
    if (!get_view(body, k)) return corrupt("bad attribute");
    total += k.size();
    if (visitor != nullptr) visitor->name(k);
    if (!walk_value(body, visitor, 1, size != nullptr, total)) return corrupt("bad attribute");
  }
  if (!body.empty()) return corrupt("trailing bytes in item value");
  if (size != nullptr) *size = total;
  return Status();
}

}  // namespace freshet::table

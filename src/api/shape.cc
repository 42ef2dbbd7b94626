#include <cmath>

#include "freshet/common/base64.h"
#include "freshet/api/codec.h"

namespace freshet::api {

const ShapeHint::Node* ShapeHint::Node::child(std::string_view n) const {
  for (const Node& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

ShapeHint::ShapeHint(std::initializer_list<std::pair<std::string_view, Kind>> paths) {
  for (const auto& [p, k] : paths) add(p, k);
}

ShapeHint& ShapeHint::add(std::string_view path, Kind kind) {
  Node* node = &root_;
  auto descend = [&node](std::string_view name) {
    for (Node& c : node->children) {
      if (c.name == name) {
        node = &c;
        return;
      }
    }
    node->children.push_back(Node{std::string(name), Kind::kNone, {}});
    node = &node->children.back();
  };
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view seg = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    size_t lists = 0;
    while (seg.size() >= 2 && seg.substr(seg.size() - 2) == "[]") {
      seg.remove_suffix(2);
      ++lists;
    }
    if (!seg.empty()) descend(seg);
    for (size_t i = 0; i < lists; ++i) descend("[]");
  }
  node->kind = kind;
  return *this;
}

namespace {

std::string quote_value(std::string_view v) {
  constexpr size_t kMax = 256;  // bound the echo of untrusted input in error messages
  if (v.size() <= kMax) return "'" + std::string(v) + "'";
  return "'" + std::string(v.substr(0, kMax)) + "...'";
}

Status convert(Document& d, const ShapeHint::Node& node, bool base64_strings) {
  if (node.kind == ShapeHint::Kind::kBlob) {
    if (base64_strings && d.is_string()) {
      auto decoded = base64_decode(d.as_string());
      if (!decoded.ok()) {
        return Error(ErrorCode::kInvalidArgument,
                     quote_value(d.as_string()) +
                         " can not be converted to a Blob: " + decoded.error().message());
      }
      d = Document::blob(std::move(decoded).value());
    }
  } else if (node.kind == ShapeHint::Kind::kTimestamp) {
    if (!base64_strings && (d.is_int() || d.is_double())) {
      FRESHET_ASSIGN_OR_RETURN(d, cbor_timestamp(d));  // CBOR: milliseconds
    } else if (d.is_int() || d.is_double()) {
      double sec = d.is_int() ? static_cast<double>(d.as_int()) : d.as_double();
      // |ms| must fit int64 comfortably; 9e15 s is far beyond any real date.
      if (!std::isfinite(sec) || std::fabs(sec) > 9e12) {
        return Error(ErrorCode::kInvalidArgument, "Timestamp value out of range");
      }
      d = Document::timestamp_ms(std::llround(sec * 1000.0));
    }
  }
  if (node.children.empty()) return Status();
  if (d.is_map()) {
    const ShapeHint::Node* any = node.child("*");
    for (Member& m : d.as_map()) {
      const ShapeHint::Node* c = node.child(m.key);
      if (c == nullptr) c = any;
      if (c != nullptr) FRESHET_RETURN_IF_ERROR(convert(m.value, *c, base64_strings));
    }
  } else if (d.is_list()) {
    if (const ShapeHint::Node* c = node.child("[]")) {
      for (Document& e : d.as_list()) FRESHET_RETURN_IF_ERROR(convert(e, *c, base64_strings));
    }
  }
  return Status();
}

}  // namespace

Status apply_shape(Document& doc, const ShapeHint& hint, bool base64_strings) {
  if (hint.empty()) return Status();
  return convert(doc, hint.root(), base64_strings);
}

}  // namespace freshet::api

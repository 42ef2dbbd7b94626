#include "xml.h"

namespace freshet::api::s3 {
namespace {

constexpr size_t kMaxDoc = 2 << 20;
constexpr int kMaxDepth = 16;

Error malformed(std::string why) { return Error(ErrorCode::kInvalidArgument, std::move(why)); }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<XmlElement> document() {
    skip_misc();
    if (!starts("<")) return malformed("no root element");
    XmlElement root;
    FRESHET_RETURN_IF_ERROR(element(root, 0));
    skip_misc();
    if (pos_ != s_.size()) return malformed("content after the root element");
    return root;
  }

 private:
  bool starts(std::string_view t) const { return s_.substr(pos_, t.size()) == t; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' ||
                                s_[pos_] == '\n')) {
      ++pos_;
    }
  }
  // Whitespace, comments, processing instructions.
  void skip_misc() {
    for (;;) {
      skip_ws();
      if (starts("<?")) {
        size_t e = s_.find("?>", pos_);
        pos_ = e == std::string_view::npos ? s_.size() : e + 2;
      } else if (starts("<!--")) {
        size_t e = s_.find("-->", pos_);
        pos_ = e == std::string_view::npos ? s_.size() : e + 3;
      } else {
        return;
      }
    }
  }

  static bool name_char(char c) {
    return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '>' && c != '/' && c != '=';
  }

  Status element(XmlElement& el, int depth) {
    if (depth > kMaxDepth) return malformed("nesting too deep");
    ++pos_;  // '<'
    size_t start = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    std::string_view qname = s_.substr(start, pos_ - start);
    if (qname.empty()) return malformed("empty element name");
    size_t colon = qname.find(':');
    el.name = std::string(colon == std::string_view::npos ? qname : qname.substr(colon + 1));
    // Attributes: skipped, quotes respected.
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size()) return malformed("unterminated start tag");
      if (starts("/>")) {
        pos_ += 2;
        return {};
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      char c = s_[pos_++];
      if (c == '"' || c == '\'') {
        size_t e = s_.find(c, pos_);
        if (e == std::string_view::npos) return malformed("unterminated attribute");
        pos_ = e + 1;
      }
    }
    // Content.
    for (;;) {
      if (pos_ >= s_.size()) return malformed("unterminated element " + el.name);
      if (starts("</")) {
        pos_ += 2;
        size_t e = s_.find('>', pos_);
        if (e == std::string_view::npos) return malformed("unterminated end tag");
        std::string_view end = s_.substr(pos_, e - pos_);
        while (!end.empty() && (end.back() == ' ' || end.back() == '\n')) end.remove_suffix(1);
        if (end != qname) return malformed("mismatched end tag");
        pos_ = e + 1;
        return {};
      }
      if (starts("<!--")) {
        size_t e = s_.find("-->", pos_);
        if (e == std::string_view::npos) return malformed("unterminated comment");
        pos_ = e + 3;
      } else if (starts("<![CDATA[")) {
        size_t e = s_.find("]]>", pos_);
        if (e == std::string_view::npos) return malformed("unterminated CDATA");
        el.text.append(s_.substr(pos_ + 9, e - pos_ - 9));
        pos_ = e + 3;
      } else if (starts("<!")) {
        return malformed("DOCTYPE is not allowed");
      } else if (starts("<?")) {
        size_t e = s_.find("?>", pos_);
        if (e == std::string_view::npos) return malformed("unterminated processing instruction");
        pos_ = e + 2;
      } else if (s_[pos_] == '<') {
        el.children.emplace_back();
        FRESHET_RETURN_IF_ERROR(element(el.children.back(), depth + 1));
      } else if (s_[pos_] == '&') {
        FRESHET_RETURN_IF_ERROR(entity(el.text));
      } else {
        el.text.push_back(s_[pos_++]);
      }
    }
  }

  Status entity(std::string& out) {
    size_t e = s_.find(';', pos_);
    if (e == std::string_view::npos || e - pos_ > 12) return malformed("bad entity");
    std::string_view ent = s_.substr(pos_ + 1, e - pos_ - 1);
    pos_ = e + 1;
    if (ent == "amp") return out.push_back('&'), Status();
    if (ent == "lt") return out.push_back('<'), Status();
    if (ent == "gt") return out.push_back('>'), Status();
    if (ent == "quot") return out.push_back('"'), Status();
    if (ent == "apos") return out.push_back('\''), Status();
    if (ent.size() >= 2 && ent[0] == '#') {
      uint32_t cp = 0;
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) return malformed("bad character reference");
      for (char c : digits) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return malformed("bad character reference");
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        if (cp > 0x10FFFF) return malformed("bad character reference");
      }
      append_utf8(out, cp);
      return {};
    }
    return malformed("unknown entity");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const XmlElement& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

Result<XmlElement> parse_xml(std::string_view doc) {
  if (doc.size() > kMaxDoc) return malformed("document too large");
  return Parser(doc).document();
}

}  // namespace freshet::api::s3

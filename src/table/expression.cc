#include "freshet/table/expression.h"

#include <algorithm>
#include <cctype>

#include "freshet/table/number.h"

namespace freshet::table {

std::string path_to_string(const Path& p) {
  std::string s = "[";
  for (size_t i = 0; i < p.size(); ++i) {
    if (i) s += ", ";
    if (p[i].index >= 0) {
      s += "[" + std::to_string(p[i].index) + "]";
    } else {
      s += p[i].name;
    }
  }
  return s + "]";
}

const std::string* ExpressionContext::name(std::string_view placeholder) {
  if (names_ == nullptr) return nullptr;
  auto it = names_->find(std::string(placeholder));
  if (it == names_->end()) return nullptr;
  used_names_.insert(std::string(placeholder));
  return &it->second;
}

const Value* ExpressionContext::value(std::string_view placeholder) {
  if (values_ == nullptr) return nullptr;
  auto it = values_->find(std::string(placeholder));
  if (it == values_->end()) return nullptr;
  used_values_.insert(std::string(placeholder));
  return &it->second;
}

Status ExpressionContext::check_all_used() const {
  auto unused = [](const auto& all, const auto& used) {
    std::string keys;
    for (const auto& [k, v] : all) {
      if (used.count(k)) continue;
      if (!keys.empty()) keys += ", ";
      keys += k;
    }
    return keys;
  };
  if (names_ != nullptr) {
    std::string k = unused(*names_, used_names_);
    if (!k.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "Value provided in ExpressionAttributeNames unused in expressions: keys: {" +
                       k + "}");
    }
  }
  if (values_ != nullptr) {
    std::string k = unused(*values_, used_values_);
    if (!k.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "Value provided in ExpressionAttributeValues unused in expressions: keys: {" +
                       k + "}");
    }
  }
  return Status();
}

namespace {

// ---- Tokens ----

enum class Tok : uint8_t {
  kEof,
  kName,         // identifier or keyword
  kNamePh,       // #name
  kValuePh,      // :value
  kNumber,       // digits (list index)
  kPunct,        // ( ) , . [ ] = < > <= >= <> + -
};

struct Token {
  Tok kind;
  std::string text;
  size_t pos;  // offset in the expression
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view kind, ExpressionContext& ctx)
      : text_(text), kind_(kind), ctx_(ctx) {}

  Status tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      size_t start = i;
      if (c == '#' || c == ':') {
        ++i;
        while (i < text_.size() && ident_char(text_[i])) ++i;
        if (i == start + 1) return syntax_at(std::string(1, c), start);
        tokens_.push_back({c == '#' ? Tok::kNamePh : Tok::kValuePh,
                           std::string(text_.substr(start, i - start)), start});
        continue;
      }
      if (ident_start(c)) {
        while (i < text_.size() && ident_char(text_[i])) ++i;
        tokens_.push_back({Tok::kName, std::string(text_.substr(start, i - start)), start});
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c))) {
        while (i < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i]))) ++i;
        tokens_.push_back({Tok::kNumber, std::string(text_.substr(start, i - start)), start});
        continue;
      }
      if ((c == '<' || c == '>') && i + 1 < text_.size() &&
          (text_[i + 1] == '=' || (c == '<' && text_[i + 1] == '>'))) {
        tokens_.push_back({Tok::kPunct, std::string(text_.substr(i, 2)), start});
        i += 2;
        continue;
      }
      if (std::string_view("(),.[]=<>+-").find(c) != std::string_view::npos) {
        tokens_.push_back({Tok::kPunct, std::string(1, c), start});
        ++i;
        continue;
      }
      return Error(ErrorCode::kInvalidArgument, prefix() + "Invalid character encountered; "
                                                           "character: " +
                                                    std::string(1, c) + ", near: \"" +
                                                    near_text(start, start + 1) + "\"");
    }
    tokens_.push_back({Tok::kEof, "<EOF>", text_.size()});
    return Status();
  }

  std::string prefix() const { return "Invalid " + std::string(kind_) + ": "; }

  // ---- condition grammar ----
  Result<Condition> condition() {
    auto left = and_condition();
    if (!left.ok()) return left;
    Condition c = std::move(*left);
    while (is_keyword("OR")) {
      next();
      auto right = and_condition();
      if (!right.ok()) return right;
      Condition o;
      o.kind = Condition::Kind::kOr;
      o.children.push_back(std::move(c));
      o.children.push_back(std::move(*right));
      c = std::move(o);
    }
    return c;
  }

  Result<Condition> and_condition() {
    auto left = not_condition();
    if (!left.ok()) return left;
    Condition c = std::move(*left);
    while (is_keyword("AND")) {
      next();
      auto right = not_condition();
      if (!right.ok()) return right;
      Condition a;
      a.kind = Condition::Kind::kAnd;
      a.children.push_back(std::move(c));
      a.children.push_back(std::move(*right));
      c = std::move(a);
    }
    return c;
  }

  Result<Condition> not_condition() {
    if (is_keyword("NOT")) {
      next();
      auto inner = not_condition();
      if (!inner.ok()) return inner;
      Condition n;
      n.kind = Condition::Kind::kNot;
      n.children.push_back(std::move(*inner));
      return n;
    }
    return primary_condition();
  }

  Result<Condition> primary_condition() {
    if (is_punct("(")) {
      next();
      auto inner = condition();
      if (!inner.ok()) return inner;
      if (!is_punct(")")) return syntax();
      next();
      return inner;
    }
    // Boolean functions.
    if (peek().kind == Tok::kName && peek(1).kind == Tok::kPunct && peek(1).text == "(" &&
        !iequals(peek().text, "size")) {
      return function_condition();
    }
    auto left = operand(false);
    if (!left.ok()) return left.error();
    Condition c;
    c.operands.push_back(std::move(*left));
    if (is_keyword("BETWEEN")) {
      next();
      auto lo = operand(false);
      if (!lo.ok()) return lo.error();
      if (!is_keyword("AND")) return syntax();
      next();
      auto hi = operand(false);
      if (!hi.ok()) return hi.error();
      c.kind = Condition::Kind::kBetween;
      c.operands.push_back(std::move(*lo));
      c.operands.push_back(std::move(*hi));
      return c;
    }
    if (is_keyword("IN")) {
      next();
      if (!is_punct("(")) return syntax();
      next();
      c.kind = Condition::Kind::kIn;
      while (true) {
        auto v = operand(false);
        if (!v.ok()) return v.error();
        c.operands.push_back(std::move(*v));
        if (c.operands.size() > 101) {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() + "The IN operator is provided with too many operands; number of "
                                  "operands: " +
                           std::to_string(c.operands.size() - 1));
        }
        if (is_punct(",")) {
          next();
          continue;
        }
        if (is_punct(")")) {
          next();
          break;
        }
        return syntax();
      }
      return c;
    }
    static const std::pair<const char*, Condition::Op> kOps[] = {
        {"=", Condition::Op::kEq}, {"<>", Condition::Op::kNe}, {"<", Condition::Op::kLt},
        {"<=", Condition::Op::kLe}, {">", Condition::Op::kGt}, {">=", Condition::Op::kGe}};
    for (const auto& [text, op] : kOps) {
      if (is_punct(text)) {
        next();
        auto right = operand(false);
        if (!right.ok()) return right.error();
        c.kind = Condition::Kind::kCompare;
        c.op = op;
        c.operands.push_back(std::move(*right));
        return c;
      }
    }
    return syntax();
  }

  Result<Condition> function_condition() {
    std::string fname = next().text;
    next();  // (
    std::vector<Operand> args;
    if (!is_punct(")")) {
      while (true) {
        auto a = operand(false);
        if (!a.ok()) return a.error();
        args.push_back(std::move(*a));
        if (is_punct(",")) {
          next();
          continue;
        }
        break;
      }
    }
    if (!is_punct(")")) return syntax();
    next();
    Condition c;
    size_t want = 0;
    if (fname == "attribute_exists") {
      c.kind = Condition::Kind::kExists, want = 1;
    } else if (fname == "attribute_not_exists") {
      c.kind = Condition::Kind::kNotExists, want = 1;
    } else if (fname == "attribute_type") {
      c.kind = Condition::Kind::kType, want = 2;
    } else if (fname == "begins_with") {
      c.kind = Condition::Kind::kBeginsWith, want = 2;
    } else if (fname == "contains") {
      c.kind = Condition::Kind::kContains, want = 2;
    } else if (fname == "if_not_exists" || fname == "list_append") {
      return Error(ErrorCode::kInvalidArgument,
                   prefix() + "The function is not allowed to be used this way in an expression; "
                              "function: " +
                       fname);
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   prefix() + "Invalid function name; function: " + fname);
    }
    if (args.size() != want) {
      return Error(ErrorCode::kInvalidArgument,
                   prefix() + "Incorrect number of operands for operator or function; operator "
                              "or function: " +
                       fname + ", number of operands: " + std::to_string(args.size()));
    }
    if (args[0].kind != Operand::Kind::kPath) {
      return Error(ErrorCode::kInvalidArgument,
                   prefix() + "Operator or function requires a document path; operator or "
                              "function: " +
                       fname);
    }
    if (c.kind == Condition::Kind::kType) {
      if (args[1].kind != Operand::Kind::kValue) {
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "Incorrect operand type for operator or function; operator or "
                                "function: attribute_type, operand type: PATH");
      }
      Type t;
      if (!args[1].value.is(Type::kS) || !type_from_name(args[1].value.str(), t)) {
        std::string shown = args[1].value.is(Type::kS) ? args[1].value.str()
                                                         : std::string(type_name(args[1].value.type()));
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "Invalid attribute type name found; type: " + shown +
                         ", valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }");
      }
    }
    c.operands = std::move(args);
    return c;
  }

  // An operand. In update SET, allow if_not_exists/list_append and + / -.
  Result<Operand> operand(bool update) {
    if (update) {
      auto left = update_term();
      if (!left.ok()) return left;
      if (is_punct("+") || is_punct("-")) {
        bool plus = next().text == "+";
        auto right = update_term();
        if (!right.ok()) return right;
        Operand o;
        o.kind = plus ? Operand::Kind::kPlus : Operand::Kind::kMinus;
        o.args.push_back(std::move(*left));
        o.args.push_back(std::move(*right));
        return o;
      }
      return left;
    }
    if (peek().kind == Tok::kName && peek(1).kind == Tok::kPunct && peek(1).text == "(") {
      std::string fname = peek().text;
      if (fname != "size") {
        if (fname == "attribute_exists" || fname == "attribute_not_exists" ||
            fname == "attribute_type" || fname == "begins_with" || fname == "contains" ||
            fname == "if_not_exists" || fname == "list_append") {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() +
                           "The function is not allowed to be used this way in an expression; "
                           "function: " +
                           fname);
        }
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "Invalid function name; function: " + fname);
      }
      next();
      next();
      auto p = path();
      if (!p.ok()) return p.error();
      if (!is_punct(")")) return syntax().error();
      next();
      Operand o;
      o.kind = Operand::Kind::kSize;
      o.path = std::move(*p);
      return o;
    }
    return simple_operand();
  }

  Result<Operand> update_term() {
    if (peek().kind == Tok::kName && peek(1).kind == Tok::kPunct && peek(1).text == "(") {
      std::string fname = next().text;
      next();
      Operand o;
      if (fname == "if_not_exists") {
        auto p = path();
        if (!p.ok()) return p.error();
        if (!is_punct(",")) return syntax().error();
        next();
        auto d = update_term();
        if (!d.ok()) return d;
        o.kind = Operand::Kind::kIfNotExists;
        o.path = std::move(*p);
        o.args.push_back(std::move(*d));
      } else if (fname == "list_append") {
        auto a = update_term();
        if (!a.ok()) return a;
        if (!is_punct(",")) return syntax().error();
        next();
        auto b = update_term();
        if (!b.ok()) return b;
        o.kind = Operand::Kind::kListAppend;
        o.args.push_back(std::move(*a));
        o.args.push_back(std::move(*b));
      } else if (fname == "attribute_exists" || fname == "attribute_not_exists" ||
                 fname == "attribute_type" || fname == "begins_with" || fname == "contains" ||
                 fname == "size") {
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "The function is not allowed in an update expression; function: " +
                         fname);
      } else {
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "Invalid function name; function: " + fname);
      }
      if (!is_punct(")")) return syntax().error();
      next();
      return o;
    }
    return simple_operand();
  }

  Result<Operand> simple_operand() {
    Operand o;
    if (peek().kind == Tok::kValuePh) {
      const Token& t = next();
      const Value* v = ctx_.value(t.text);
      if (v == nullptr) {
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "An expression attribute value used in expression is not "
                                "defined; attribute value: " +
                         t.text);
      }
      o.kind = Operand::Kind::kValue;
      o.value = *v;
      return o;
    }
    auto p = path();
    if (!p.ok()) return p.error();
    o.kind = Operand::Kind::kPath;
    o.path = std::move(*p);
    return o;
  }

  Result<Path> path() {
    Path p;
    auto element = [&]() -> Status {
      const Token& t = peek();
      if (t.kind == Tok::kName) {
        if (is_reserved(t.text)) {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() + "Attribute name is a reserved keyword; reserved keyword: " +
                           t.text);
        }
        p.push_back({t.text, -1});
        next();
        return Status();
      }
      if (t.kind == Tok::kNamePh) {
        const std::string* n = ctx_.name(t.text);
        if (n == nullptr) {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() + "An expression attribute name used in the document path is "
                                  "not defined; attribute name: " +
                           t.text);
        }
        p.push_back({*n, -1});
        next();
        return Status();
      }
      return syntax().status();
    };
    FRESHET_RETURN_IF_ERROR(element());
    while (true) {
      if (is_punct(".")) {
        next();
        FRESHET_RETURN_IF_ERROR(element());
      } else if (is_punct("[")) {
        next();
        if (peek().kind != Tok::kNumber) return syntax().error();
        const std::string& digits = peek().text;
        if (digits.size() > 9) {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() + "List index is too large; index: " + digits);
        }
        p.push_back({"", static_cast<int32_t>(std::stol(digits))});
        next();
        if (!is_punct("]")) return syntax().error();
        next();
      } else {
        break;
      }
      if (p.size() > static_cast<size_t>(kMaxDepth)) {
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "The document path has too many nesting levels; nesting levels: " +
                         std::to_string(p.size()));
      }
    }
    return p;
  }

  // ---- update grammar ----
  Result<UpdateExpr> update() {
    UpdateExpr u;
    bool seen[4] = {false, false, false, false};
    while (peek().kind != Tok::kEof) {
      if (peek().kind != Tok::kName) return syntax().error();
      std::string section = peek().text;
      UpdateAction::Kind kind;
      int idx;
      if (iequals(section, "SET")) {
        kind = UpdateAction::Kind::kSet, idx = 0;
      } else if (iequals(section, "REMOVE")) {
        kind = UpdateAction::Kind::kRemove, idx = 1;
      } else if (iequals(section, "ADD")) {
        kind = UpdateAction::Kind::kAdd, idx = 2;
      } else if (iequals(section, "DELETE")) {
        kind = UpdateAction::Kind::kDelete, idx = 3;
      } else {
        return syntax().error();
      }
      if (seen[idx]) {
        std::string upper = section;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return Error(ErrorCode::kInvalidArgument,
                     prefix() + "The \"" + upper +
                         "\" section can only be used once in an update expression;");
      }
      seen[idx] = true;
      next();
      while (true) {
        UpdateAction a{kind, {}, {}};
        auto p = path();
        if (!p.ok()) return p.error();
        a.path = std::move(*p);
        if (kind == UpdateAction::Kind::kSet) {
          if (!is_punct("=")) return syntax().error();
          next();
          auto v = operand(true);
          if (!v.ok()) return v.error();
          a.value = std::move(*v);
        } else if (kind != UpdateAction::Kind::kRemove) {
          auto v = simple_operand();
          if (!v.ok()) return v.error();
          if (v->kind != Operand::Kind::kValue) return syntax().error();
          const Value& val = v->value;
          const char* op = kind == UpdateAction::Kind::kAdd ? "ADD" : "DELETE";
          bool ok = kind == UpdateAction::Kind::kAdd ? (val.is(Type::kN) || val.is_set())
                                                     : val.is_set();
          if (!ok) {
            return Error(ErrorCode::kInvalidArgument,
                         prefix() + "Incorrect operand type for operator or function; operator: " +
                             op + ", operand type: " + operand_type_name(val.type()));
          }
          a.value = std::move(*v);
        }
        u.actions.push_back(std::move(a));
        if (is_punct(",")) {
          next();
          continue;
        }
        break;
      }
    }
    // Overlapping paths.
    for (size_t i = 0; i < u.actions.size(); ++i) {
      for (size_t j = i + 1; j < u.actions.size(); ++j) {
        FRESHET_RETURN_IF_ERROR(check_overlap(u.actions[i].path, u.actions[j].path));
      }
    }
    return u;
  }

  Status check_overlap(const Path& a, const Path& b) {
    size_t n = std::min(a.size(), b.size());
    for (size_t k = 0; k < n; ++k) {
      if (!(a[k] == b[k])) {
        if ((a[k].index >= 0) != (b[k].index >= 0)) {
          return Error(ErrorCode::kInvalidArgument,
                       prefix() + "Two document paths conflict with each other; must remove or "
                                  "rewrite one of these paths; path one: " +
                           path_to_string(a) + ", path two: " + path_to_string(b));
        }
        return Status();
      }
    }
    return Error(ErrorCode::kInvalidArgument,
                 prefix() + "Two document paths overlap with each other; must remove or rewrite "
                            "one of these paths; path one: " +
                     path_to_string(a) + ", path two: " + path_to_string(b));
  }

  Result<std::vector<Path>> projection() {
    std::vector<Path> paths;
    while (true) {
      auto p = path();
      if (!p.ok()) return p.error();
      paths.push_back(std::move(*p));
      if (is_punct(",")) {
        next();
        continue;
      }
      break;
    }
    if (peek().kind != Tok::kEof) return syntax().error();
    for (size_t i = 0; i < paths.size(); ++i) {
      for (size_t j = i + 1; j < paths.size(); ++j) {
        FRESHET_RETURN_IF_ERROR(check_overlap(paths[i], paths[j]));
      }
    }
    return paths;
  }

  bool at_end() const { return peek().kind == Tok::kEof; }

  Result<Condition> syntax() {
    const Token& t = peek();
    return syntax_at(t.text, t.pos).error();
  }

 private:
  static std::string operand_type_name(Type t) {
    switch (t) {
      case Type::kS: return "STRING";
      case Type::kN: return "NUMBER";
      case Type::kB: return "BINARY";
      case Type::kBool: return "BOOLEAN";
      case Type::kNull: return "NULL";
      case Type::kM: return "MAP";
      case Type::kL: return "LIST";
      case Type::kSS: return "STRING SET";
      case Type::kNS: return "NUMBER SET";
      case Type::kBS: return "BINARY SET";
    }
    return "?";
  }

  static bool is_reserved(std::string_view w) {
    // A subset of DynamoDB's ~570 reserved words: those a hand-written expression most often
    // trips over. The full list is in DynamoDB's documentation.
    static constexpr std::string_view kWords[] = {
        "AND", "BETWEEN", "IN", "NOT", "OR", "SET", "ADD", "DELETE", "NAME", "STATUS",
        "DATA", "DATE", "KEY", "KEYS", "VALUE", "VALUES", "TIMESTAMP", "TIME", "TYPE", "USER",
        "COUNT", "SIZE", "ORDER", "TABLE", "INDEX", "YEAR", "MONTH", "DAY", "HOUR", "COMMENT",
        "LEVEL", "TTL", "UPDATE", "SELECT", "FROM", "WHERE", "GROUP", "BY", "LIMIT", "RANGE",
        "HASH", "SOURCE", "STATE", "ITEM", "ITEMS", "ATTRIBUTE", "CONNECTION", "REGION", "ZONE"};
    for (std::string_view k : kWords) {
      if (iequals(k, w)) return true;
    }
    return false;
  }

  Status syntax_at(const std::string& token, size_t pos) {
    // "near" shows the token with its neighbours, as DynamoDB's parser reports it.
    size_t start = pos, end = std::min(text_.size(), pos + std::max<size_t>(token.size(), 1));
    for (size_t k = 0; k < tokens_.size(); ++k) {
      if (tokens_[k].pos == pos && tokens_[k].kind != Tok::kEof) {
        if (k > 0) start = tokens_[k - 1].pos;
        if (k + 1 < tokens_.size() && tokens_[k + 1].kind != Tok::kEof) {
          end = tokens_[k + 1].pos + tokens_[k + 1].text.size();
        }
        break;
      }
      if (tokens_[k].kind == Tok::kEof && k > 0) {
        start = tokens_[k - 1].pos;
        end = text_.size();
      }
    }
    return Error(ErrorCode::kInvalidArgument, prefix() + "Syntax error; token: \"" + token +
                                                  "\", near: \"" + near_text(start, end) + "\"");
  }

  std::string near_text(size_t start, size_t end) const {
    return std::string(text_.substr(start, end > start ? end - start : 0));
  }

  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_keyword(const char* kw) const {
    return peek().kind == Tok::kName && iequals(peek().text, kw);
  }
  bool is_punct(const char* p) const { return peek().kind == Tok::kPunct && peek().text == p; }

  std::string_view text_;
  std::string_view kind_;
  ExpressionContext& ctx_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

Status empty_expression(std::string_view kind) {
  return Error(ErrorCode::kInvalidArgument,
               "Invalid " + std::string(kind) + ": The expression can not be empty;");
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

}  // namespace

Result<Condition> parse_condition(std::string_view text, std::string_view kind,
                                  ExpressionContext& ctx) {
  if (blank(text)) return empty_expression(kind).error();
  Parser p(text, kind, ctx);
  FRESHET_RETURN_IF_ERROR(p.tokenize());
  auto c = p.condition();
  if (!c.ok()) return c;
  if (!p.at_end()) return p.syntax();
  return c;
}

Result<UpdateExpr> parse_update(std::string_view text, ExpressionContext& ctx) {
  if (blank(text)) return empty_expression("UpdateExpression").error();
  Parser p(text, "UpdateExpression", ctx);
  FRESHET_RETURN_IF_ERROR(p.tokenize());
  return p.update();
}

Result<std::vector<Path>> parse_projection(std::string_view text, ExpressionContext& ctx) {
  if (blank(text)) return empty_expression("ProjectionExpression").error();
  Parser p(text, "ProjectionExpression", ctx);
  FRESHET_RETURN_IF_ERROR(p.tokenize());
  return p.projection();
}

// ---- evaluation ----

const Value* resolve(const Item& item, const Path& path) {
  if (path.empty() || path[0].index >= 0) return nullptr;
  auto it = item.find(path[0].name);
  if (it == item.end()) return nullptr;
  const Value* v = &it->second;
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i].index >= 0) {
      if (!v->is(Type::kL)) return nullptr;
      const auto& l = v->as_list();
      if (static_cast<size_t>(path[i].index) >= l.size()) return nullptr;
      v = &l[static_cast<size_t>(path[i].index)];
    } else {
      if (!v->is(Type::kM)) return nullptr;
      auto m = v->as_map().find(path[i].name);
      if (m == v->as_map().end()) return nullptr;
      v = &m->second;
    }
  }
  return v;
}

bool compare_scalars(const Value& a, const Value& b, int& result) {
  if (a.type() != b.type()) return false;
  if (a.is(Type::kN)) {
    auto x = Decimal::parse(a.str()), y = Decimal::parse(b.str());
    if (!x.ok() || !y.ok()) return false;
    result = x->compare(*y);
    return true;
  }
  if (a.is(Type::kS) || a.is(Type::kB)) {
    int c = a.str().compare(b.str());  // std::string compares as unsigned char
    result = c < 0 ? -1 : c > 0 ? 1 : 0;
    return true;
  }
  return false;
}

namespace {

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The value of a condition operand, or nullopt if it has none (missing path, size of a type
// without one).
std::optional<Value> operand_value(const Operand& o, const Item& item) {
  switch (o.kind) {
    case Operand::Kind::kValue: return o.value;
    case Operand::Kind::kPath: {
      const Value* v = resolve(item, o.path);
      if (v == nullptr) return std::nullopt;
      return *v;
    }
    case Operand::Kind::kSize: {
      const Value* v = resolve(item, o.path);
      if (v == nullptr) return std::nullopt;
      size_t n;
      switch (v->type()) {
        case Type::kS: n = utf8_length(v->str()); break;
        case Type::kB: n = v->str().size(); break;
        case Type::kSS:
        case Type::kNS:
        case Type::kBS: n = v->members().size(); break;
        case Type::kL: n = v->as_list().size(); break;
        case Type::kM: n = v->as_map().size(); break;
        default: return std::nullopt;
      }
      return Value::n(std::to_string(n));
    }
    default: return std::nullopt;
  }
}

bool set_contains(const Value& set, const Value& v) {
  Type want = set.is(Type::kSS) ? Type::kS : set.is(Type::kNS) ? Type::kN : Type::kB;
  if (!v.is(want)) return false;
  return std::find(set.members().begin(), set.members().end(), v.str()) != set.members().end();
}

}  // namespace

bool evaluate(const Condition& c, const Item& item) {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue: return true;
    case K::kAnd: return evaluate(c.children[0], item) && evaluate(c.children[1], item);
    case K::kOr: return evaluate(c.children[0], item) || evaluate(c.children[1], item);
    case K::kNot: return !evaluate(c.children[0], item);
    case K::kExists: return resolve(item, c.operands[0].path) != nullptr;
    case K::kNotExists: return resolve(item, c.operands[0].path) == nullptr;
    case K::kType: {
      const Value* v = resolve(item, c.operands[0].path);
      Type t;
      return v != nullptr && type_from_name(c.operands[1].value.str(), t) && v->type() == t;
    }
    case K::kBeginsWith: {
      auto a = operand_value(c.operands[0], item), b = operand_value(c.operands[1], item);
      if (!a || !b || a->type() != b->type() || !(a->is(Type::kS) || a->is(Type::kB))) {
        return false;
      }
      return a->str().compare(0, b->str().size(), b->str()) == 0;
    }
    case K::kContains: {
      auto a = operand_value(c.operands[0], item), b = operand_value(c.operands[1], item);
      if (!a || !b) return false;
      if (a->is(Type::kS) && b->is(Type::kS)) return a->str().find(b->str()) != std::string::npos;
      if (a->is(Type::kB) && b->is(Type::kB)) return a->str().find(b->str()) != std::string::npos;
      if (a->is_set()) return set_contains(*a, *b);
      if (a->is(Type::kL)) {
        for (const Value& e : a->as_list()) {
          if (e == *b) return true;
        }
      }
      return false;
    }
    case K::kCompare: {
      auto a = operand_value(c.operands[0], item), b = operand_value(c.operands[1], item);
      if (c.op == Condition::Op::kEq) return a && b && *a == *b;
      if (c.op == Condition::Op::kNe) return !(a && b && *a == *b);
      int r;
      if (!a || !b || !compare_scalars(*a, *b, r)) return false;
      switch (c.op) {
        case Condition::Op::kLt: return r < 0;
        case Condition::Op::kLe: return r <= 0;
        case Condition::Op::kGt: return r > 0;
        case Condition::Op::kGe: return r >= 0;
        default: return false;
      }
    }
    case K::kBetween: {
      auto a = operand_value(c.operands[0], item), lo = operand_value(c.operands[1], item),
           hi = operand_value(c.operands[2], item);
      int r1, r2;
      return a && lo && hi && compare_scalars(*a, *lo, r1) && compare_scalars(*a, *hi, r2) &&
             r1 >= 0 && r2 <= 0;
    }
    case K::kIn: {
      auto a = operand_value(c.operands[0], item);
      if (!a) return false;
      for (size_t i = 1; i < c.operands.size(); ++i) {
        auto b = operand_value(c.operands[i], item);
        if (b && *a == *b) return true;
      }
      return false;
    }
  }
  return false;
}

namespace {

Error update_error(const char* msg) { return Error(ErrorCode::kInvalidArgument, msg); }
constexpr const char* kMissingAttr =
    "The provided expression refers to an attribute that does not exist in the item";
constexpr const char* kBadType = "An operand in the update expression has an incorrect data type";
constexpr const char* kBadPath =
    "The document path provided in the update expression is invalid for update";

Result<Value> update_value(const Operand& o, const Item& item) {
  switch (o.kind) {
    case Operand::Kind::kValue: return o.value;
    case Operand::Kind::kPath: {
      const Value* v = resolve(item, o.path);
      if (v == nullptr) return update_error(kMissingAttr);
      return *v;
    }
    case Operand::Kind::kIfNotExists: {
      const Value* v = resolve(item, o.path);
      if (v != nullptr) return *v;
      return update_value(o.args[0], item);
    }
    case Operand::Kind::kListAppend: {
      auto a = update_value(o.args[0], item);
      if (!a.ok()) return a;
      auto b = update_value(o.args[1], item);
      if (!b.ok()) return b;
      if (!a->is(Type::kL) || !b->is(Type::kL)) return update_error(kBadType);
      std::vector<Value> l = a->as_list();
      for (const Value& e : b->as_list()) l.push_back(e);
      return Value::list(std::move(l));
    }
    case Operand::Kind::kPlus:
    case Operand::Kind::kMinus: {
      auto a = update_value(o.args[0], item);
      if (!a.ok()) return a;
      auto b = update_value(o.args[1], item);
      if (!b.ok()) return b;
      if (!a->is(Type::kN) || !b->is(Type::kN)) return update_error(kBadType);
      auto x = Decimal::parse(a->str()), y = Decimal::parse(b->str());
      if (!x.ok()) return x.error();
      if (!y.ok()) return y.error();
      auto sum = Decimal::add(*x, o.kind == Operand::Kind::kPlus ? *y : y->negated());
      if (!sum.ok()) return sum.error();
      return Value::n(sum->canonical());
    }
    default: return update_error(kBadType);
  }
}

// The slot a path names, creating the last element; null if a parent is missing or of the
// wrong type. For list indexes past the end, appends.
Value* slot_for_set(Item& item, const Path& path) {
  if (path.size() == 1) return &item[path[0].name];
  auto it = item.find(path[0].name);
  if (it == item.end()) return nullptr;
  Value* v = &it->second;
  for (size_t i = 1; i < path.size(); ++i) {
    const bool last = i + 1 == path.size();
    if (path[i].index >= 0) {
      if (!v->is(Type::kL)) return nullptr;
      auto& l = v->as_list();
      size_t idx = static_cast<size_t>(path[i].index);
      if (idx >= l.size()) {
        if (!last) return nullptr;
        l.emplace_back();
        return &l.back();
      }
      v = &l[idx];
    } else {
      if (!v->is(Type::kM)) return nullptr;
      auto& m = v->as_map();
      if (last) return &m[path[i].name];
      auto f = m.find(path[i].name);
      if (f == m.end()) return nullptr;
      v = &f->second;
    }
  }
  return v;
}

// Removes the value at path; false if a parent is of the wrong type (missing: no-op).
bool remove_path(Item& item, const Path& path) {
  if (path.size() == 1) {
    item.erase(path[0].name);
    return true;
  }
  Path parent(path.begin(), path.end() - 1);
  auto it = item.find(path[0].name);
  if (it == item.end()) return true;
  Value* v = &it->second;
  for (size_t i = 1; i + 1 < path.size(); ++i) {
    if (path[i].index >= 0) {
      if (!v->is(Type::kL)) return false;
      size_t idx = static_cast<size_t>(path[i].index);
      if (idx >= v->as_list().size()) return true;
      v = &v->as_list()[idx];
    } else {
      if (!v->is(Type::kM)) return false;
      auto f = v->as_map().find(path[i].name);
      if (f == v->as_map().end()) return true;
      v = &f->second;
    }
  }
  const PathElement& last = path.back();
  if (last.index >= 0) {
    if (!v->is(Type::kL)) return false;
    auto& l = v->as_list();
    if (static_cast<size_t>(last.index) < l.size()) l.erase(l.begin() + last.index);
  } else {
    if (!v->is(Type::kM)) return false;
    v->as_map().erase(last.name);
  }
  return true;
}

}  // namespace

Status apply_update(const UpdateExpr& u, Item& item) {
  const Item before = item;
  // Right-hand sides first, against the item as it was.
  std::vector<std::optional<Value>> values(u.actions.size());
  for (size_t i = 0; i < u.actions.size(); ++i) {
    const UpdateAction& a = u.actions[i];
    if (a.kind == UpdateAction::Kind::kSet) {
      auto v = update_value(a.value, before);
      if (!v.ok()) return v.error();
      values[i] = std::move(*v);
    }
  }
  // REMOVEs of list elements go from the highest index down so that each index names the
  // element it named in the original list.
  std::vector<size_t> order(u.actions.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const auto& a = u.actions[x];
    const auto& b = u.actions[y];
    bool ra = a.kind == UpdateAction::Kind::kRemove, rb = b.kind == UpdateAction::Kind::kRemove;
    if (ra != rb) return !ra;  // removes last
    if (!ra) return false;
    if (a.path.size() == b.path.size() && a.path.back().index >= 0 && b.path.back().index >= 0 &&
        std::equal(a.path.begin(), a.path.end() - 1, b.path.begin())) {
      return a.path.back().index > b.path.back().index;
    }
    return false;
  });
  for (size_t i : order) {
    const UpdateAction& a = u.actions[i];
    switch (a.kind) {
      case UpdateAction::Kind::kSet: {
        Value* slot = slot_for_set(item, a.path);
        if (slot == nullptr) return update_error(kBadPath);
        *slot = std::move(*values[i]);
        break;
      }
      case UpdateAction::Kind::kRemove:
        if (!remove_path(item, a.path)) return update_error(kBadPath);
        break;
      case UpdateAction::Kind::kAdd:
      case UpdateAction::Kind::kDelete: {
        const Value& arg = a.value.value;
        const Value* cur = resolve(item, a.path);
        if (a.kind == UpdateAction::Kind::kDelete) {
          if (cur == nullptr) break;
          if (cur->type() != arg.type()) return update_error(kBadType);
          std::vector<std::string> rest;
          for (const auto& m : cur->members()) {
            if (!std::binary_search(arg.members().begin(), arg.members().end(), m) &&
                std::find(arg.members().begin(), arg.members().end(), m) == arg.members().end()) {
              rest.push_back(m);
            }
          }
          if (rest.empty()) {
            if (!remove_path(item, a.path)) return update_error(kBadPath);
          } else {
            Value* slot = slot_for_set(item, a.path);
            if (slot == nullptr) return update_error(kBadPath);
            *slot = Value::set(arg.type(), std::move(rest));
          }
          break;
        }
        Value next;
        if (cur == nullptr) {
          next = arg;
        } else if (cur->is(Type::kN) && arg.is(Type::kN)) {
          auto x = Decimal::parse(cur->str()), y = Decimal::parse(arg.str());
          if (!x.ok()) return x.error();
          if (!y.ok()) return y.error();
          auto sum = Decimal::add(*x, *y);
          if (!sum.ok()) return sum.error();
          next = Value::n(sum->canonical());
        } else if (cur->is_set() && cur->type() == arg.type()) {
          std::vector<std::string> all = cur->members();
          all.insert(all.end(), arg.members().begin(), arg.members().end());
          next = Value::set(arg.type(), std::move(all));
        } else {
          return update_error(kBadType);
        }
        Value* slot = slot_for_set(item, a.path);
        if (slot == nullptr) return update_error(kBadPath);
        *slot = std::move(next);
        break;
      }
    }
  }
  return Status();
}

namespace {

// Copies the value at path[i..] of src into dst (same shape), merging with what is there.
void project_into(const Value& src, const Path& path, size_t i, Value& dst) {
  if (i == path.size()) {
    dst = src;
    return;
  }
  const PathElement& e = path[i];
  if (e.index >= 0) {
    if (!src.is(Type::kL) || static_cast<size_t>(e.index) >= src.as_list().size()) return;
    // Projected list elements keep their relative order; remember which index each came from
    // by projecting into a map first is overkill: DynamoDB returns the selected elements in
    // index order, which appending in path order approximates for the usual single path.
    if (!dst.is(Type::kL)) dst = Value::list({});
    Value child;
    project_into(src.as_list()[static_cast<size_t>(e.index)], path, i + 1, child);
    dst.as_list().push_back(std::move(child));
    return;
  }
  if (!src.is(Type::kM)) return;
  auto f = src.as_map().find(e.name);
  if (f == src.as_map().end()) return;
  if (!dst.is(Type::kM)) dst = Value::map({});
  Value& child = dst.as_map()[e.name];
  project_into(f->second, path, i + 1, child);
}

}  // namespace

Item project(const Item& item, const std::vector<Path>& paths) {
  Item out;
  for (const Path& p : paths) {
    if (p.empty() || p[0].index >= 0) continue;
    auto f = item.find(p[0].name);
    if (f == item.end()) continue;
    if (p.size() == 1) {
      out[p[0].name] = f->second;
      continue;
    }
    // Only create the top-level entry if something below it exists.
    if (resolve(item, p) == nullptr) continue;
    auto [it, inserted] = out.try_emplace(p[0].name);
    if (inserted) it->second = f->second.is(Type::kM) ? Value::map({}) : Value::list({});
    project_into(f->second, p, 1, it->second);
  }
  return out;
}

}  // namespace freshet::table

#include "freshet/table/expression.h"

#include <gtest/gtest.h>

namespace freshet::table {
namespace {

struct Env {
  std::map<std::string, std::string> names{{"#n", "name"}, {"#s", "status"}};
  std::map<std::string, Value> values{{":one", Value::n("1")},
                                      {":two", Value::n("2")},
                                      {":x", Value::s("x")},
                                      {":pre", Value::s("he")},
                                      {":l", Value::list({Value::n("9")})},
                                      {":ss", Value::set(Type::kSS, {"b"})},
                                      {":S", Value::s("S")}};
};

Item item() {
  return Item{{"name", Value::s("hello")},
              {"count", Value::n("5")},
              {"tags", Value::set(Type::kSS, {"a", "b"})},
              {"m", Value::map({{"inner", Value::list({Value::n("1"), Value::n("2")})}})},
              {"list", Value::list({Value::s("x")})}};
}

bool eval(const std::string& expr) {
  Env e;
  ExpressionContext ctx(&e.names, &e.values);
  auto c = parse_condition(expr, "ConditionExpression", ctx);
  EXPECT_TRUE(c.ok()) << expr << ": " << (c.ok() ? "" : c.error().message());
  return c.ok() && evaluate(*c, item());
}

std::string parse_error(const std::string& expr, const char* kind = "ConditionExpression") {
  Env e;
  ExpressionContext ctx(&e.names, &e.values);
  auto c = parse_condition(expr, kind, ctx);
  return c.ok() ? "" : c.error().message();
}

TEST(Condition, FunctionsAndOperators) {
  EXPECT_TRUE(eval("attribute_exists(#n)"));
  EXPECT_FALSE(eval("attribute_not_exists(#n)"));
  EXPECT_TRUE(eval("attribute_not_exists(missing)"));
  EXPECT_TRUE(eval("begins_with(#n, :pre)"));
  EXPECT_TRUE(eval("contains(tags, :ss) OR contains(list, :x)"));
  EXPECT_TRUE(eval("size(tags) = :two"));
  EXPECT_TRUE(eval("attribute_type(#n, :S)"));
  EXPECT_TRUE(eval("m.inner[1] = :two AND NOT (m.inner[0] = :two)"));
  EXPECT_TRUE(eval("#n IN (:x, :pre) OR #n <> :x"));
  EXPECT_TRUE(eval(":one BETWEEN :one AND :two"));
  EXPECT_FALSE(eval("missing < :two"));
  EXPECT_TRUE(eval("missing <> :two"));
  EXPECT_FALSE(eval("#n < :one"));  // different types never order
}

TEST(Condition, DynamoDbErrors) {
  EXPECT_EQ(parse_error("a = "),
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \"");
  EXPECT_EQ(parse_error("#zz = :one"),
            "Invalid ConditionExpression: An expression attribute name used in the document path "
            "is not defined; attribute name: #zz");
  EXPECT_EQ(parse_error("a = :nope"),
            "Invalid ConditionExpression: An expression attribute value used in expression is "
            "not defined; attribute value: :nope");
  EXPECT_EQ(parse_error("foo(a)"), "Invalid ConditionExpression: Invalid function name; function: foo");
  EXPECT_EQ(parse_error("begins_with(a)"),
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
            "operator or function: begins_with, number of operands: 1");
  EXPECT_EQ(parse_error("  "), "Invalid ConditionExpression: The expression can not be empty;");
  EXPECT_EQ(parse_error("name = :x"),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
            "name");
}

TEST(Context, ReportsUnused) {
  Env e;
  ExpressionContext ctx(&e.names, &e.values);
  ASSERT_TRUE(parse_condition("#n = :x", "ConditionExpression", ctx).ok());
  EXPECT_EQ(ctx.check_all_used().error().message(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#s}");
}

TEST(Update, Semantics) {
  Env e;
  std::map<std::string, std::string> names{{"#c", "count"}};
  std::map<std::string, Value> values{{":one", Value::n("1")}, {":l", Value::list({Value::n("9")})},
                                      {":ss", Value::set(Type::kSS, {"c"})},
                                      {":del", Value::set(Type::kSS, {"a", "b"})}};
  auto run = [&](const std::string& expr, Item it) -> Result<Item> {
    ExpressionContext ctx(&names, &values);
    auto u = parse_update(expr, ctx);
    if (!u.ok()) return u.error();
    Status s = apply_update(*u, it);
    if (!s.ok()) return s.error();
    return it;
  };
  auto r = run("SET #c = #c + :one, fresh = if_not_exists(fresh, :one), list = list_append(list, :l)",
               item());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->at("count"), Value::n("6"));
  EXPECT_EQ(r->at("fresh"), Value::n("1"));
  EXPECT_EQ(r->at("list").as_list().size(), 2u);
  r = run("SET m.inner[7] = :one REMOVE m.inner[0] ADD tags :ss", item());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->at("m").as_map().at("inner").as_list().size(), 2u);  // appended, then removed [0]
  EXPECT_EQ(r->at("tags").members().size(), 3u);
  r = run("DELETE tags :del", item());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count("tags"), 0u);
  r = run("SET #c = missing + :one", item());
  EXPECT_EQ(r.error().message(),
            "The provided expression refers to an attribute that does not exist in the item");
  r = run("SET nope.deeper = :one", item());
  EXPECT_EQ(r.error().message(),
            "The document path provided in the update expression is invalid for update");
  r = run("SET a = :one REMOVE a", item());
  EXPECT_EQ(r.error().message(),
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
            "rewrite one of these paths; path one: [a], path two: [a]");
  r = run("SET a = :one SET b = :one", item());
  EXPECT_EQ(r.error().message(),
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update "
            "expression;");
}

TEST(Projection, SelectsNestedParts) {
  Env e;
  ExpressionContext ctx(&e.names, &e.values);
  auto p = parse_projection("#n, m.inner[1], nothing", ctx);
  ASSERT_TRUE(p.ok()) << p.error().message();
  Item out = project(item(), *p);
  EXPECT_EQ(to_debug_string(out),
            "{\"m\":{\"M\":{\"inner\":{\"L\":[{\"N\":\"2\"}]}}},\"name\":{\"S\":\"hello\"}}");
}

}  // namespace
}  // namespace freshet::table

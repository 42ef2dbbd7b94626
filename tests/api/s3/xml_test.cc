#include "xml.h"

#include <gtest/gtest.h>

namespace freshet::api::s3 {
namespace {

TEST(Xml, ParsesDeleteRequest) {
  auto doc = parse_xml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a&amp;b &#x41;&#66;"
      "</Key></Object><Object><Key><![CDATA[<x>]]></Key></Object><Quiet>true</Quiet></Delete>");
  ASSERT_TRUE(doc.ok()) << doc.error().to_string();
  EXPECT_EQ(doc->name, "Delete");
  ASSERT_EQ(doc->children.size(), 3u);
  EXPECT_EQ(doc->children[0].child("Key")->text, "a&b AB");
  EXPECT_EQ(doc->children[1].child("Key")->text, "<x>");
  EXPECT_EQ(doc->child("Quiet")->text, "true");
}

TEST(Xml, RejectsMalformed) {
  for (std::string d : {"", "<a>", "<a></b>", "<a>&bogus;</a>", "<!DOCTYPE x><a/>",
                        "<a/><b/>", "<a>&#xFFFFFFF;</a>"}) {
    EXPECT_FALSE(parse_xml(d).ok()) << d;
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  EXPECT_FALSE(parse_xml(deep).ok());
}

TEST(Xml, Escape) { EXPECT_EQ(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;"); }

}  // namespace
}  // namespace freshet::api::s3

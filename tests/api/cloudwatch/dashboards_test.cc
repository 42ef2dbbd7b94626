#include "dashboards.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "../../testing/temp_dir.h"
#include "cloudwatch_internal.h"

namespace freshet::api::cloudwatch {
namespace {

struct Book {
  testing::TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(1'800'000'000'000);
  std::unique_ptr<DashboardBook> book;
  std::string file() const { return dir.path() + "/dashboards.json"; }
  Book() { reopen(); }
  void reopen() {
    book.reset();
    book = std::move(DashboardBook::open(file(), "123456789012", clock)).value();
  }
  CloudWatchApi::Outcome call(std::string_view op, Document in) { return book->call(op, in); }
  Document ok(std::string_view op, Document in) {
    auto o = call(op, std::move(in));
    if (auto* e = std::get_if<CloudWatchError>(&o)) {
      ADD_FAILURE() << op << ": " << e->code << ": " << e->message;
      return Document();
    }
    return std::get<Document>(o);
  }
  CloudWatchError error(std::string_view op, Document in) {
    auto o = call(op, std::move(in));
    if (auto* e = std::get_if<CloudWatchError>(&o)) return *e;
    ADD_FAILURE() << op << ": no error";
    return {};
  }
};

const char* kBody = R"({"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,)"
                    R"("properties":{"metrics":[["AWS/Kinesis","IncomingRecords"]]}}]})";

Document put(std::string name, std::string body) {
  return Document(Map{{"DashboardName", std::move(name)}, {"DashboardBody", std::move(body)}});
}

TEST(DashboardBookTest, PutGetListDeleteAndRestart) {
  Book b;
  EXPECT_TRUE(b.ok("PutDashboard", put("b-1", kBody)).find("DashboardValidationMessages"));
  b.clock->advance(5000);
  b.ok("PutDashboard", put("a-1", R"({"widgets":[]})"));
  b.ok("PutDashboard", put("b-2", R"({"widgets":[]})"));
  Document got = b.ok("GetDashboard", Document(Map{{"DashboardName", "b-1"}}));
  EXPECT_EQ(got.find("DashboardBody")->as_string(), kBody);
  EXPECT_EQ(got.find("DashboardArn")->as_string(),
            "arn:aws:cloudwatch::123456789012:dashboard/b-1");
  Document list = b.ok("ListDashboards", Document(Map{{"DashboardNamePrefix", "b-"}}));
  const List& e = list.find("DashboardEntries")->as_list();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].find("DashboardName")->as_string(), "b-1");
  EXPECT_EQ(e[0].find("Size")->as_int(), static_cast<int64_t>(std::strlen(kBody)));
  EXPECT_EQ(e[0].find("LastModified")->as_timestamp_ms(), 1'800'000'000'000);
  EXPECT_EQ(list.find("NextToken"), nullptr);

  b.reopen();  // every acknowledged put is in the file
  EXPECT_EQ(b.ok("ListDashboards", Document::make_map()).find("DashboardEntries")->as_list().size(),
            3u);
  CloudWatchError err =
      b.error("DeleteDashboards", Document(Map{{"DashboardNames", Document(List{"b-2", "zz"})}}));
  EXPECT_EQ(err.code, "ResourceNotFound");
  EXPECT_EQ(err.shape, "DashboardNotFoundError");
  EXPECT_EQ(err.status, 404);
  b.reopen();
  EXPECT_EQ(b.error("GetDashboard", Document(Map{{"DashboardName", "b-2"}})).status, 404);
  EXPECT_EQ(b.ok("ListDashboards", Document::make_map()).find("DashboardEntries")->as_list().size(),
            2u);
  EXPECT_FALSE(std::filesystem::exists(b.file() + ".tmp"));
}

TEST(DashboardBookTest, ValidatesNamesAndBodies) {
  Book b;
  CloudWatchError e = b.error(
      "PutDashboard",
      put("x",
          R"({"widgets":[{"type":"metric","x":24,"width":0,"properties":{}},{"type":"text","properties":{}}]})"));
  EXPECT_EQ(e.code, "InvalidParameterInput");
  EXPECT_EQ(e.shape, "DashboardInvalidInputError");
  const List& msgs = e.extra.find("dashboardValidationMessages")->as_list();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].find("DataPath")->as_string(), "/widgets/0/x");
  EXPECT_EQ(msgs[1].find("DataPath")->as_string(), "/widgets/0/width");
  EXPECT_EQ(msgs[2].find("DataPath")->as_string(), "/widgets/1/properties");
  EXPECT_NE(e.message.find("there are 3 validation errors"), std::string::npos);
  for (const char* body : {"", "nope", "[]", "{}", R"({"widgets":1})", R"({"widgets":[3]})",
                           R"({"widgets":[{"type":"metric"}]})"}) {
    EXPECT_EQ(b.error("PutDashboard", put("x", body)).code, "InvalidParameterInput") << body;
  }
  EXPECT_EQ(b.error("PutDashboard", put("a b", "{}")).code, "InvalidParameterInput");
  EXPECT_EQ(b.error("PutDashboard", put(std::string(256, 'a'), R"({"widgets":[]})")).code,
            "InvalidParameterInput");
  EXPECT_EQ(
      b.error("PutDashboard", put("x", std::string(DashboardBook::kMaxBodyBytes + 1, ' '))).code,
      "InvalidParameterInput");
  EXPECT_EQ(b.error("PutDashboard", Document(Map{{"DashboardName", "x"}})).code,
            "MissingParameter");
  EXPECT_EQ(b.error("DeleteDashboards", Document::make_map()).code, "MissingParameter");
  EXPECT_EQ(b.error("ListDashboards", Document(Map{{"DashboardNamePrefix", "a/"}})).code,
            "InvalidParameterValue");
  std::string widgets = R"({"widgets":[)";
  for (size_t i = 0; i <= DashboardBook::kMaxWidgets; ++i) {
    widgets += (i ? "," : "") + std::string(R"({"type":"text","properties":{"markdown":"x"}})");
  }
  EXPECT_EQ(b.error("PutDashboard", put("x", widgets + "]}")).code, "InvalidParameterInput");
  EXPECT_EQ(b.ok("ListDashboards", Document::make_map()).find("DashboardEntries")->as_list().size(),
            0u);
}

TEST(DashboardBookTest, PagesByNameAndRefusesADamagedFile) {
  Book b;
  for (int i = 0; i < 1005; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "d%04d", i);
    b.ok("PutDashboard", put(name, R"({"widgets":[]})"));
  }
  Document p1 = b.ok("ListDashboards", Document::make_map());
  ASSERT_EQ(p1.find("DashboardEntries")->as_list().size(), 1000u);
  ASSERT_NE(p1.find("NextToken"), nullptr);
  Document p2 = b.ok("ListDashboards", Document(Map{{"NextToken", *p1.find("NextToken")}}));
  const List& rest = p2.find("DashboardEntries")->as_list();
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest[0].find("DashboardName")->as_string(), "d1000");
  EXPECT_EQ(p2.find("NextToken"), nullptr);
  b.book.reset();
  std::ofstream(b.file(), std::ios::trunc) << R"({"version":1,"dashboards":[{"name":"x"}]})";
  EXPECT_FALSE(DashboardBook::open(b.file(), "1", b.clock).ok());
  std::ofstream(b.file(), std::ios::trunc) << R"({"version":1,"dash)";
  EXPECT_FALSE(DashboardBook::open(b.file(), "1", b.clock).ok());
}

}  // namespace
}  // namespace freshet::api::cloudwatch

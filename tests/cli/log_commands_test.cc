// Runs the real `freshet log dump|verify` binary on logs written by the library.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../testing/run_command.h"
#include "../testing/temp_dir.h"
#include "freshet/log/log_store.h"

namespace freshet::cli {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) {
  return testing::run_command(std::string(FRESHET_BINARY) + " " + args + " 2>&1");
}

class LogCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = std::move(log::LogStore::open(dir_.path(), posix_file_system()).value());
    log::LogOptions o;
    o.segment_bytes = 4096;
    o.retention_ms = 0;
    auto l = std::move(store->open_log("shard", o).value());
    for (int i = 0; i < 100; ++i) {
      std::string data = "record-" + std::to_string(i) + std::string(50, 'x');
      const std::string key = "key" + std::to_string(i % 7);
      log::Record r{key, "", data, 1000 + i};
      ASSERT_TRUE(l->append(std::span(&r, 1)).ok());
    }
    ASSERT_TRUE(l->close().ok());
    log_dir_ = dir_.path() + "/shard";
  }
  testing::TempDir dir_;
  std::string log_dir_;
};

TEST_F(LogCommandsTest, VerifyPassesOnAHealthyLog) {
  CommandResult r = run("log verify " + log_dir_);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("records=100"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("OK"), std::string::npos) << r.output;
}

TEST_F(LogCommandsTest, VerifyFailsOnAFlippedBit) {
  std::string first = log_dir_ + "/00000000000000000000.log";
  std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(100);
  char c;
  f.read(&c, 1);
  c ^= 0x04;
  f.seekp(100);
  f.write(&c, 1);
  f.close();
  CommandResult r = run("log verify " + log_dir_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DAMAGE"), std::string::npos) << r.output;
}

TEST_F(LogCommandsTest, DumpPrintsRecords) {
  CommandResult r = run("log dump " + log_dir_ + "/00000000000000000000.log");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("offset=0 ts=1000 key=\"key0\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("data=\"record-0xxx"), std::string::npos) << r.output;
  CommandResult h = run("log dump --headers-only " + log_dir_);
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_EQ(h.output.find("  offset="), std::string::npos) << h.output;
  EXPECT_NE(h.output.find("batch pos=0 base_offset=0 records=1"), std::string::npos);
}

TEST_F(LogCommandsTest, MissingPathIsAnErrorNotACrash) {
  CommandResult r = run("log verify " + dir_.path() + "/nope");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace freshet::cli

// The fixture every in-process processing test starts from: a stream engine (OS durability)
// and a table store (no fsync) in a temporary directory, and ProcessOptions pointing at them.
// Used by tests/process and tests/api/lambda (include "process/process_fixture.h").
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "freshet/process/service.h"
#include "freshet/stream/engine.h"
#include "freshet/table/store.h"
#include "testing/temp_dir.h"

namespace freshet::process::testing_support {

// Polls pred every 20 ms until it holds or ms pass; the last answer.
inline bool wait_for(const std::function<bool()>& pred, int ms = 15000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class ProcessFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    stream::EngineOptions eo;
    eo.data_dir = dir_.path() + "/streams";
    eo.durability = log::Durability::kOs;
    engine_ = std::move(stream::Engine::open(eo)).value();
    table::StoreOptions to;
    to.dir = dir_.path() + "/tables";
    to.sync = false;
    tables_ = std::move(table::TableStore::open(to)).value();
  }
  // Subclasses reset what uses the engine and the tables first (their members are destroyed
  // before these in any case).
  void TearDown() override {
    tables_.reset();
    engine_.reset();
  }

  // Options for a service keeping its catalog in data_dir, on this engine and store.
  ProcessOptions options(const std::string& data_dir) const {
    ProcessOptions po;
    po.data_dir = data_dir;
    po.engine = engine_.get();
    po.tables = tables_.get();
    return po;
  }

  freshet::testing::TempDir dir_;
  std::unique_ptr<stream::Engine> engine_;
  std::unique_ptr<table::TableStore> tables_;
};

}  // namespace freshet::process::testing_support

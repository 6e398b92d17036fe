// A ContainerService over the real parts, as slipwayd wires it: sandboxes
// under slipway-monitor (the test's first argument), a SQLite store, an
// image store and an event log in a temporary directory, cgroups under a
// parent of the test's own. Each test gets a fresh one; everything it made
// is removed afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "engine/base/event_log.h"
#include "engine/base/fs.h"
#include "engine/containers/container_service.h"
#include "engine/containers/container_store.h"
#include "engine/image/image_store.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/monitor_test_main.h"

namespace slipway::testing {

class ContainerServiceTest : public ::testing::Test {
 protected:
  static constexpr std::chrono::milliseconds kEndTimeout{30000};

  // `name` names the temporary directory and the cgroup parent.
  explicit ContainerServiceTest(std::string name) : name_(std::move(name)) {}

  void SetUp() override {
    root_ = MakeTempDir("slipway-" + name_);
    data_dir_ = root_ + "/data";
    state_dir_ = root_ + "/state";
    events_ = root_ + "/events.log";
    cgroup_parent_ = "slipway-" + name_ + "-" + std::to_string(::getpid());
    auto images = ImageStore::Open(data_dir_);
    ASSERT_TRUE(images.ok()) << images.status().ToString();
    images_ = std::move(images).value();
    auto log = EventLog::Open(events_, LogLevel::kDebug);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void TearDown() override {
    if (service_) {
      if (auto all = service_->List(/*all=*/true); all.ok()) {
        for (const Container& c : *all) (void)service_->Remove(c.id, /*force=*/true);
      }
    }
    service_.reset();
    store_.reset();
    images_.reset();
    log_.reset();
    (void)RemoveTree(root_);
    RemoveCgroupParent(cgroup_parent_);
  }

  // A service (and its store) on the same data and state directories, as a
  // restarted slipwayd opens them; `run`: reconciled and scheduling.
  // options_ as the test set them (the defaults otherwise: no pool).
  void OpenService(bool run) {
    service_.reset();
    store_.reset();
    auto store = ContainerStore::Open(data_dir_ + "/slipway.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ContainerServiceOptions options = options_;
    options.runtime = {state_dir_, cgroup_parent_};
    options.monitor_binary = g_monitor;
    auto service = ContainerService::Open(options, *store_, *images_, *log_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    if (!run) return;
    auto report = service_->Reconcile();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    report_ = *report;
    service_->Run();
  }

  // Waits for container `id` to end; the container as it is then.
  Container AwaitEnd(const std::string& id) {
    auto end = service_->EndSignalOf(id);
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    if (!end.ok()) return {};
    EXPECT_TRUE((*end)->AwaitFired(kEndTimeout)) << "container " << id << " did not end";
    auto c = service_->Inspect(id);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : Container{};
  }

  const std::string name_;
  ContainerServiceOptions options_;  // runtime and monitor_binary: set by OpenService
  std::string root_, data_dir_, state_dir_, events_, cgroup_parent_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ContainerStore> store_;
  std::unique_ptr<ContainerService> service_;
  ReconcileReport report_;
};

}  // namespace slipway::testing

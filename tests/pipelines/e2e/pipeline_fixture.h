// Pipelines end to end: a real slipwayd (tests/testing/daemon_fixture.h)
// holding the busybox image, real git repositories holding a .slipway.yml
// (tests/pipelines/git_fixture.h), and the runs API to trigger runs, wait
// for them, read their steps and logs, and prove they left nothing behind.
//
// The API is docs/api.md's ("Repositories", "Runs"); the paths below are
// its contract:
//   <data_dir>/runs/<id>/workspace   a run's workspace (pipelines/run_service.h)
//   labels slipway.run=<id>, slipway.step=<name> on every step's container
//
// Steps that must be seen running wait for a file the test writes into the
// run's workspace (HoldCommand / Release): a bounded loop that fails the step
// after two minutes, never a sleep the test races against.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/runtime/state.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {

// A bare repository with a work clone that commits a pipeline file.
class PipelineRepo {
 public:
  // Commits `pipeline` as .slipway.yml with `files`, on `branch` (made from
  // the current one if new), pushes it and returns the commit id.
  std::string Push(const std::string& pipeline, std::map<std::string, std::string> files = {},
                   const std::string& branch = "main");
  TestRepo& repo() { return repo_; }
  std::string file_url() const { return repo_.file_url(); }

 private:
  TestRepo repo_;
};

// A JSON object's member as text ("" if absent or null; a non-string as
// JSON) and as a number (`otherwise` if absent or not a number): answers are
// read without throwing on a field that is null.
std::string Str(const nlohmann::json& object, const std::string& key);
int64_t Int(const nlohmann::json& object, const std::string& key, int64_t otherwise = -1);

// `text` as a YAML double-quoted scalar (JSON's quoting, which YAML reads).
std::string Q(const std::string& text);

// A shell command that waits (at most two minutes, then fails) until the file
// `name` exists in the workspace.
std::string HoldCommand(const std::string& name = "release");

// Each test gets its own slipwayd with the busybox image (as image
// "busybox"), started with DaemonArgs().
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual std::vector<std::string> DaemonArgs() const { return {}; }

  DaemonUnderTest& daemon() { return *daemon_; }
  ApiClient Api() const { return daemon_->Api(); }

  // POST /api/v1/repos {"name", "url"} plus `extra`; the repository's JSON
  // (a failure and null if it is not 201).
  nlohmann::json AddRepo(const std::string& name, const std::string& url,
                         const nlohmann::json& extra = nlohmann::json::object());
  // PUT /api/v1/repos/NAME/secrets/KEY with the raw value; expects 204.
  void SetSecret(const std::string& repo, const std::string& key, const std::string& value);
  // POST /api/v1/repos/NAME/runs with `body`; the run's id (0 and a failure
  // if it is not 201 with a queued run).
  int64_t Trigger(const std::string& repo, const nlohmann::json& body = nlohmann::json::object());
  // GET /api/v1/runs/ID (null and a failure if it is not 200).
  nlohmann::json GetRun(int64_t id) const;
  // Polls GET /api/v1/runs/ID until the run has ended; the run as it is then
  // (a failure with slipwayd's log if still going after `deadline`).
  nlohmann::json AwaitRun(int64_t id, std::chrono::seconds deadline = std::chrono::seconds(60)) const;
  // Polls until step `step` of run `id` has `status`; the run as last seen.
  nlohmann::json AwaitStep(int64_t id, const std::string& step, const std::string& status,
                           std::chrono::seconds deadline = std::chrono::seconds(60)) const;
  // The step (or service) named `name` of a run's JSON; null and a failure if
  // it has none.
  static nlohmann::json StepOf(const nlohmann::json& run, const std::string& name);
  // GET /api/v1/runs/ID/steps/STEP/logs[?follow=1], decoded: stdout and
  // stderr together.
  std::string StepLog(int64_t id, const std::string& step, bool follow = false) const;
  // Containers (GET /api/v1/containers?all=true) labelled slipway.run=ID,
  // and slipway.step=STEP if `step` is given.
  std::vector<nlohmann::json> ContainersOf(int64_t id, const std::string& step = "") const;
  // The run's workspace, and Release(): creates `name` in it (HoldCommand).
  std::string Workspace(int64_t id) const;
  void Release(int64_t id, const std::string& name = "release") const;
  // The pid and start time of step `step`'s sandbox init, from its running
  // container (pid 0 and a failure if there is none).
  ProcessRef StepProcess(int64_t id, const std::string& step) const;
  // An ended run left nothing: no container of it, no sandbox (cgroups,
  // sandbox state, mounts), no workspace.
  void ExpectNothingLeft(int64_t id) const;

  std::unique_ptr<DaemonUnderTest> daemon_;
};

}  // namespace slipway::testing

// A Runtime with its own state directory and cgroup parent per test, so tests
// can assert that a sandbox left nothing behind without seeing anyone else's.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/sandbox.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {

struct Outcome {
  SandboxResult result;
  std::string out, err;
};

class CollectingSink : public OutputSink {
 public:
  void Write(Stream stream, std::string_view data) override {
    (stream == Stream::kStdout ? out : err).append(data);
  }
  std::string out, err;
};

// The output log of sandbox `id` in `runtime`'s state directory, both
// streams in order; a test failure if it cannot be read.
std::string SandboxLog(const Runtime& runtime, const std::string& id);

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  SandboxSpec Spec(std::vector<std::string> argv) const;
  // Starts, waits and removes; fails the test on a runtime error.
  Outcome Run(const SandboxSpec& spec);
  // "sh -c SCRIPT".
  Outcome Sh(const std::string& script);

  struct Snapshot {
    std::vector<std::string> mounts, cgroups, state;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot Take() const;

  std::unique_ptr<Runtime> runtime_;
  std::string state_dir_, cgroup_parent_;
};

}  // namespace slipway::testing

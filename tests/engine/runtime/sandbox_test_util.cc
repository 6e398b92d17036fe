#include "tests/engine/runtime/sandbox_test_util.h"

#include <unistd.h>

#include <thread>

#include "engine/base/fs.h"
#include "engine/runtime/log.h"

namespace slipway::testing {

std::string SandboxLog(const Runtime& runtime, const std::string& id) {
  std::string out;
  auto read = ReadLog(runtime.state_dir().LogFile(id), 0, [&](Stream, std::string_view data) { out.append(data); });
  EXPECT_TRUE(read.ok()) << read.status().ToString();
  return out;
}

void SandboxTest::SetUp() {
  state_dir_ = MakeTempDir("slipway-state");
  cgroup_parent_ = "slipway-test-" + std::to_string(::getpid());
  auto rt = Runtime::Open({state_dir_, cgroup_parent_});
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  runtime_ = std::move(*rt);
}

void SandboxTest::TearDown() {
  runtime_.reset();
  (void)RemoveTree(state_dir_);
  // The parent cgroup itself is Slipway's to keep; tests remove theirs.
  for (const auto& dir : CgroupTree(cgroup_parent_)) (void)::rmdir(dir.c_str());
  for (const char* h : {"memory", "cpu", "cpuacct", "pids", "devices", "unified"}) {
    (void)::rmdir(("/sys/fs/cgroup/" + std::string(h) + "/" + cgroup_parent_).c_str());
  }
}

SandboxSpec SandboxTest::Spec(std::vector<std::string> argv) const {
  SandboxSpec spec;
  spec.lower_dirs = {BusyboxRootfs()};
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(60);  // a hung test fails instead of hanging CI
  return spec;
}

Outcome SandboxTest::Run(const SandboxSpec& spec) {
  Outcome o;
  auto sb = runtime_->Start(spec);
  EXPECT_TRUE(sb.ok()) << sb.status().message();
  if (!sb.ok()) return o;
  CollectingSink sink;
  auto r = (*sb)->Wait(&sink);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (r.ok()) o.result = *r;
  EXPECT_TRUE((*sb)->Remove().ok());
  o.out = sink.out;
  o.err = sink.err;
  return o;
}

Outcome SandboxTest::Sh(const std::string& script) {
  return Run(Spec({"sh", "-c", script}));
}

SandboxTest::Snapshot SandboxTest::Take() const {
  return {MountPoints(), CgroupTree(cgroup_parent_), ListTree(state_dir_)};
}

}  // namespace slipway::testing

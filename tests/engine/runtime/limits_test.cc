// Quotas: memory (OOM reported as OOM), pids, CPU, the writable layer's size,
// and the wall-clock timeout.
#include "tests/engine/runtime/sandbox_test_util.h"

namespace slipway::testing {
namespace {

using LimitsTest = SandboxTest;

TEST_F(LimitsTest, MemoryHogIsOomKilledAndReportedAsOom) {
  SandboxSpec spec = Spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  spec.limits.memory_bytes = 32 << 20;
  Outcome o = Run(spec);
  EXPECT_TRUE(o.result.oom_killed);
  EXPECT_EQ(o.result.signal, 9);
  EXPECT_EQ(o.result.exit_code, 137);
  EXPECT_FALSE(o.result.timed_out);
}

TEST_F(LimitsTest, WithinTheLimitThereIsNoOom) {
  SandboxSpec spec = Spec({"dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=4"});
  spec.limits.memory_bytes = 64 << 20;
  Outcome o = Run(spec);
  EXPECT_EQ(o.result.exit_code, 0) << o.err;
  EXPECT_FALSE(o.result.oom_killed);
  EXPECT_GT(o.result.peak_memory_bytes, 8 << 20);
  EXPECT_LE(o.result.peak_memory_bytes, 64 << 20);
}

TEST_F(LimitsTest, ForkBombIsStoppedByThePidsLimit) {
  // Busybox sh gives up when fork fails, so the loop runs in a child shell
  // and the outer one reports what happened.
  SandboxSpec spec = Spec(
      {"sh", "-c",
       "sh -c 'i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done' 2>/tmp/err;"
       "grep -q \"can't fork\" /tmp/err && echo refused; ls /proc > /tmp/l; grep -cE '^[0-9]+$' /tmp/l"});
  spec.limits.pids_max = 16;
  Outcome o = Run(spec);
  EXPECT_NE(o.out.find("refused"), std::string::npos) << o.out << o.err;
  // The shell, at most 15 sleeps, and the counting pipeline never pass 16.
  int count = std::atoi(o.out.substr(o.out.find('\n') + 1).c_str());
  EXPECT_LE(count, 16);
  EXPECT_GE(count, 10);
}

TEST_F(LimitsTest, HalfACpuGetsAboutHalfACore) {
  // Two busy loops could use both cores; the quota holds them to 0.5.
  SandboxSpec spec = Spec({"sh", "-c", "while :; do :; done & while :; do :; done"});
  spec.limits.cpu_millis = 500;
  spec.timeout = std::chrono::milliseconds(3000);
  Outcome o = Run(spec);
  ASSERT_TRUE(o.result.timed_out);
  double share = static_cast<double>(o.result.cpu_ns) / 1e6 / static_cast<double>(o.result.wall_ms);
  // The quota is the upper bound; the lower one only shows the loops ran
  // (a host busy with other work may give them much less than their quota).
  EXPECT_GT(share, 0.05) << "cpu ns " << o.result.cpu_ns << " wall ms " << o.result.wall_ms;
  EXPECT_LT(share, 0.65) << "cpu ns " << o.result.cpu_ns << " wall ms " << o.result.wall_ms;
}

TEST_F(LimitsTest, DiskQuotaStopsALargeWrite) {
  SandboxSpec spec =
      Spec({"sh", "-c",
            "dd if=/dev/zero of=/big bs=1M count=64 2>&1; echo dd=$?; rm /big; echo small > /ok && cat /ok"});
  spec.storage_bytes = 16 << 20;
  Outcome o = Run(spec);
  EXPECT_NE(o.out.find("No space left on device"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("dd=1"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("small"), std::string::npos) << o.out;
}

TEST_F(LimitsTest, TimeoutKillsTheWholeSandbox) {
  SandboxSpec spec = Spec({"sh", "-c", "sleep 100 & sleep 100"});
  spec.timeout = std::chrono::milliseconds(300);
  Snapshot before = Take();
  Outcome o = Run(spec);
  EXPECT_TRUE(o.result.timed_out);
  EXPECT_EQ(o.result.signal, 9);
  EXPECT_LT(o.result.wall_ms, 20000);
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace slipway::testing

// pool_handover_bench: the time from "spec given" to the sandbox's first
// process (its command exec'd), with and without the sandbox pool.
//
//   bazel run -c opt //bench/runtime:pool_handover_bench -- --rootfs DIR \
//       [benchmark flags, e.g. --benchmark_repetitions=5]
//   (needs root; DIR from bench/make_rootfs.sh)
//
// Four ways, each one sandbox running `true` from the same rootfs:
//   BM_Runtime/cold        Runtime::Start in this process: no monitor (the
//                          floor of bench/runtime/sandbox_run)
//   BM_Runtime/prepared    Runtime::Start(spec, prepared): the sandbox was
//                          made by Runtime::Prepare() beforehand (untimed)
//   BM_Monitor/cold        MonitorClient::Start without a pool: spawn
//                          slipway-monitor, which creates and starts it
//   BM_Monitor/pooled      MonitorClient::Start with a pool of 1, refilled
//                          (untimed) before each iteration: the hand-over
// Only the start is timed; each sandbox's end and removal are not.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "engine/runtime/monitor.h"
#include "engine/runtime/sandbox.h"

namespace slipway {
namespace {

std::string g_rootfs, g_monitor, g_state_dir, g_cgroup_parent;

SandboxSpec TrueSpec() {
  SandboxSpec spec;
  spec.lower_dirs = {g_rootfs};
  spec.argv = {"true"};
  spec.timeout = std::chrono::seconds(60);
  return spec;
}

std::unique_ptr<Runtime> OpenRuntime(benchmark::State& state) {
  auto rt = Runtime::Open({g_state_dir, g_cgroup_parent});
  if (!rt.ok()) state.SkipWithError(rt.status().message().c_str());
  return rt.ok() ? std::move(*rt) : nullptr;
}

void BM_Runtime(benchmark::State& state) {
  const bool prepared = state.range(0) == 1;
  auto rt = OpenRuntime(state);
  if (!rt) return;
  for (auto _ : state) {
    std::unique_ptr<Sandbox> ahead;
    if (prepared) {
      state.PauseTiming();
      auto made = rt->Prepare();
      if (!made.ok()) {
        state.SkipWithError(made.status().message().c_str());
        break;
      }
      ahead = std::move(*made);
      state.ResumeTiming();
    }
    auto sb = prepared ? rt->Start(TrueSpec(), std::move(ahead)) : rt->Start(TrueSpec());
    state.PauseTiming();
    if (!sb.ok()) {
      state.SkipWithError(sb.status().message().c_str());
      break;
    }
    (void)(*sb)->Wait(nullptr);
    (void)(*sb)->Remove();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Runtime)->ArgName("prepared")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Monitor(benchmark::State& state) {
  const bool pooled = state.range(0) == 1;
  auto rt = OpenRuntime(state);
  if (!rt) return;
  MonitorClient client(*rt, g_monitor);
  if (pooled) (void)client.StartPool(1);
  for (auto _ : state) {
    if (pooled) {
      state.PauseTiming();
      if (!client.pool()->AwaitFull(std::chrono::seconds(30))) {
        state.SkipWithError(("the pool did not fill: " + client.pool()->last_error().message()).c_str());
        break;
      }
      state.ResumeTiming();
    }
    auto started = client.Start(TrueSpec());
    state.PauseTiming();
    if (!started.ok()) {
      state.SkipWithError(started.status().message().c_str());
      break;
    }
    (void)client.Wait(started->id, std::chrono::seconds(30));
    (void)rt->Remove(started->id, /*force=*/true);
    state.ResumeTiming();
  }
  client.StopPool(std::chrono::seconds(10));
}
BENCHMARK(BM_Monitor)->ArgName("pooled")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace slipway

int main(int argc, char** argv) {
  using namespace slipway;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--rootfs" && i + 1 < argc) {
      g_rootfs = argv[++i];
    } else if (arg == "--monitor" && i + 1 < argc) {
      g_monitor = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (g_rootfs.empty()) {
    std::fprintf(stderr, "usage: %s --rootfs DIR [--monitor PATH] [benchmark flags]\n", argv[0]);
    return 2;
  }
  // The monitor built with this benchmark, from its runfiles.
  if (g_monitor.empty()) g_monitor = std::filesystem::absolute("engine/runtime/slipway-monitor").string();
  g_rootfs = std::filesystem::absolute(g_rootfs).string();
  char state_template[] = "/run/slipway-handover-XXXXXX";
  if (::mkdtemp(state_template) == nullptr) {
    std::perror("mkdtemp /run/slipway-handover-XXXXXX");
    return 1;
  }
  g_state_dir = state_template;
  g_cgroup_parent = "slipway-bench-handover-" + std::to_string(::getpid());
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Everything the sandboxes had is gone; the parents are ours to remove.
  (void)RemoveTree(g_state_dir);
  for (const char* h : {"memory", "cpu", "cpuacct", "pids", "devices", "unified", ""}) {
    std::string dir = std::string("/sys/fs/cgroup/") + h + (*h ? "/" : "") + g_cgroup_parent;
    (void)::rmdir(dir.c_str());
  }
  return 0;
}

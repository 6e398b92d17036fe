// What the per-process seccomp cache saves per sandbox.
//
// Every sandbox gets the default seccomp profile (~350 syscalls, a binary
// search tree of BPF). Compiling it with libseccomp is the cost runc and crun
// pay per container; Slipway pays it once per process (DefaultSeccompProgram)
// and each later sandbox only looks the program up.
//
//   bazel run -c opt //bench/runtime:seccomp_bench
//
// Needs no privileges: nothing is installed, only compiled.

#include <benchmark/benchmark.h>

#include "engine/runtime/seccomp.h"

namespace slipway {
namespace {

// seccomp_init, ~370 rule adds, the optimiser, export through a memfd: the
// whole first-call cost of DefaultSeccompProgram(), every iteration.
void BM_CompileSeccompFilter(benchmark::State& state) {
  size_t instructions = 0;
  for (auto _ : state) {
    auto program = CompileDefaultSeccompProgram();
    if (!program.ok()) {
      state.SkipWithError(program.status().message().c_str());
      return;
    }
    instructions = (*program)->instructions.size();
    benchmark::DoNotOptimize(program);
  }
  state.counters["bpf_insns"] = static_cast<double>(instructions);
}
BENCHMARK(BM_CompileSeccompFilter)->Unit(benchmark::kMicrosecond);

// Every call after the first: a function-local static, so a guard check and
// a pointer.
void BM_CachedSeccompProgram(benchmark::State& state) {
  auto warm = DefaultSeccompProgram();  // compile outside the timed loop
  if (!warm.ok()) {
    state.SkipWithError(warm.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    auto program = DefaultSeccompProgram();
    benchmark::DoNotOptimize(program);
  }
  state.counters["bpf_insns"] = static_cast<double>((*warm)->instructions.size());
}
BENCHMARK(BM_CachedSeccompProgram)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace slipway

// What the build cache costs a fully cached rebuild: the per-step key of a
// COPY (hashing its sources), a lookup, and the trim slipwayd runs after
// every build (EvictBuildCache under its cap: it reads every entry's size).
//
//   bazel run -c opt //bench/build:build_cache_bench
//
// Works in a temp dir under $TMPDIR (default /tmp); needs no privileges.
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "engine/base/fs.h"
#include "engine/build/build_cache.h"

namespace slipway {
namespace {

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string t = std::string(base ? base : "/tmp") + "/build-cache-bench-XXXXXX";
  return ::mkdtemp(t.data());
}

// A context of `files` files of 1 KiB in 10 directories.
std::string MakeContext(int files) {
  std::string dir = TempDir();
  for (int i = 0; i < files; ++i) {
    std::string sub = dir + "/app/d" + std::to_string(i % 10);
    (void)MakeDirs(sub);
    (void)WriteFileAtomic(sub + "/f" + std::to_string(i), std::string(1024, 'a' + i % 26));
  }
  return dir;
}

// A cache of `entries` entries with a small layer each.
std::string MakeCache(int entries) {
  std::string root = TempDir();
  BuildCache cache(root + "/cache");
  auto lock = cache.Use();
  for (int i = 0; i < entries; ++i) {
    std::string layer = root + "/layer" + std::to_string(i);
    (void)MakeDirs(layer + "/etc");
    (void)WriteFileAtomic(layer + "/etc/f", std::string(4096, 'x'));
    (void)cache.Store(ChainKey(Digest::Of(""), {std::to_string(i)}), layer, LayerSource::kPlainDir);
  }
  return root;
}

// COPY app /app's key: every source file read and hashed (as a cached
// rebuild does for each COPY step).
void BM_HashCopySources(benchmark::State& state) {
  std::string dir = MakeContext(static_cast<int>(state.range(0)));
  LayerTree tree({dir});
  for (auto _ : state) {
    auto digest = HashSources(tree, {"app"}, nullptr);
    if (!digest.ok()) state.SkipWithError(digest.status().message().c_str());
    benchmark::DoNotOptimize(digest);
  }
  (void)RemoveTree(dir);
}
BENCHMARK(BM_HashCopySources)->Arg(200)->Arg(2000)->Unit(benchmark::kMicrosecond);

void BM_CacheLookupHit(benchmark::State& state) {
  std::string root = MakeCache(100);
  BuildCache cache(root + "/cache");
  Digest key = ChainKey(Digest::Of(""), {"42"});
  for (auto _ : state) {
    auto entry = cache.Lookup(key);
    if (!entry) state.SkipWithError("miss");
    benchmark::DoNotOptimize(entry);
  }
  (void)RemoveTree(root);
}
BENCHMARK(BM_CacheLookupHit)->Unit(benchmark::kMicrosecond);

// The trim after each build when the cache is under its cap: nothing goes,
// but every entry's size is read.
void BM_TrimUnderCap(benchmark::State& state) {
  std::string root = MakeCache(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto stats = EvictBuildCache(root + "/cache", int64_t{10} << 30);
    if (!stats.ok() || stats->entries_removed != 0) state.SkipWithError("unexpected eviction");
    benchmark::DoNotOptimize(stats);
  }
  (void)RemoveTree(root);
}
BENCHMARK(BM_TrimUnderCap)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace slipway

BENCHMARK_MAIN();

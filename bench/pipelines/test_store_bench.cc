// The test store (docs/performance.md, "Test results"): recording a run of
// 10,000 cases (one transaction), and the queries over a repository of
// 1,000 runs of 500 tests each: flaky (target under 50 ms), history,
// slowest. A real SQLite file under $TMPDIR, as slipwayd keeps it (WAL,
// synchronous=NORMAL, foreign keys: engine/base/database.h).
//
//   bazel run -c opt //bench/pipelines:test_store_bench
//
// The repository for the queries: 1,000 runs of branch main, one commit in
// ten run twice (a rerun); 500 tests; five flaky tests failing one run in
// five each, independently; one run in fifty a broken build where half the
// tests fail. Building it takes a few seconds before the first query.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "pipelines/sqlite_run_store.h"
#include "pipelines/sqlite_test_store.h"

namespace slipway::pipelines {
namespace {

struct Db {
  std::string dir;
  std::unique_ptr<SqliteRunStore> runs;
  std::unique_ptr<SqliteTestStore> tests;

  Db() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/slipway-test-store-bench-XXXXXX";
    dir = ::mkdtemp(templ.data()) ? templ : "";
    runs = std::move(SqliteRunStore::Open(dir + "/slipway.db")).value();
    tests = std::move(SqliteTestStore::Open(dir + "/slipway.db")).value();
    Repository repo;
    repo.name = "app";
    repo.url = "https://git.example.com/app.git";
    (void)runs->AddRepository(repo);
  }
  ~Db() {
    tests.reset();
    runs.reset();
    std::filesystem::remove_all(dir);
  }
  int64_t AddRun(const std::string& commit) {
    Run run;
    run.repo = "app";
    run.branch = "main";
    run.commit = commit;
    run.status = RunStatus::kSuccess;
    return runs->AddRun(run)->id;
  }
};

std::string Commit(int n) {
  std::string s = std::to_string(n);
  return std::string(40 - s.size(), '0') + s;
}

TestCase Case(int i, TestStatus status, int64_t duration_us) {
  TestCase c;
  c.suite = "com.example.module" + std::to_string(i / 100);
  c.class_name = c.suite + ".ServiceTest";
  c.name = "handlesCase" + std::to_string(i);
  c.status = status;
  c.duration_us = duration_us;
  c.report = "build/test-results/TEST-" + c.class_name + ".xml";
  c.step = "unit";
  if (status == TestStatus::kFailed) {
    c.message = "expected: <" + std::to_string(i) + "> but was: <0>";
    c.type = "org.opentest4j.AssertionFailedError";
    c.details = "org.opentest4j.AssertionFailedError\n\tat " + c.class_name + "." + c.name +
                "(ServiceTest.java:42)\n";
  }
  return c;
}

// 10,000 cases, one in 20 failing, into a repository that has seen them
// before (the identities exist, as from the second run on).
void BM_RecordRun(benchmark::State& state) {
  Db db;
  std::vector<TestCase> cases;
  for (int i = 0; i < state.range(0); ++i) {
    cases.push_back(Case(i, i % 20 == 7 ? TestStatus::kFailed : TestStatus::kPassed, 100 + i % 900));
  }
  (void)db.tests->RecordRun(db.AddRun(Commit(0)), cases, {});
  int n = 1;
  for (auto _ : state) {
    state.PauseTiming();
    int64_t run = db.AddRun(Commit(n++));
    state.ResumeTiming();
    Status st = db.tests->RecordRun(run, cases, {{"build/test-results/TEST-all.xml", "unit", 10'000}});
    if (!st.ok()) state.SkipWithError(st.message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RecordRun)->Arg(10'000)->Unit(benchmark::kMillisecond);

// The repository of 1,000 runs x 500 tests, made once.
Db& Repository1000() {
  static Db* db = [] {
    auto* d = new Db;
    std::mt19937 rng(14);
    std::uniform_real_distribution<double> p(0, 1);
    int commit = 0;
    for (int r = 0; r < 1000; ++r) {
      if (r % 10 != 1) ++commit;  // run 1, 11, 21...: a rerun of the commit before
      const bool broken = r % 50 == 25;
      std::vector<TestCase> cases;
      for (int t = 0; t < 500; ++t) {
        bool fail = broken ? t % 2 == 0 : (t % 100 == 42 && p(rng) < 0.2);
        cases.push_back(
            Case(t, fail ? TestStatus::kFailed : TestStatus::kPassed, 1000 + (t * 7919) % 50'000));
      }
      (void)d->tests->RecordRun(d->AddRun(Commit(commit)), cases, {});
    }
    return d;
  }();
  return *db;
}

void BM_Flaky(benchmark::State& state) {
  Db& db = Repository1000();
  FlakyQuery q;
  q.window.runs = static_cast<int>(state.range(0));
  q.window.branch = "main";
  q.min_flips = 3;
  size_t found = 0;
  for (auto _ : state) {
    auto flaky = db.tests->Flaky("app", q);
    if (!flaky.ok()) state.SkipWithError(flaky.status().message().c_str());
    found = flaky.ok() ? flaky->size() : 0;
  }
  state.counters["tests_listed"] = static_cast<double>(found);
}
BENCHMARK(BM_Flaky)->Arg(1000)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_History(benchmark::State& state) {
  Db& db = Repository1000();
  auto test = db.tests->FindTests("app", "com.example.module0.ServiceTest.handlesCase42");
  if (!test.ok()) return state.SkipWithError(test.status().message().c_str());
  for (auto _ : state) {
    auto h =
        db.tests->History("app", test->front().id, {.branch = "", .runs = static_cast<int>(state.range(0))});
    if (!h.ok()) state.SkipWithError(h.status().message().c_str());
  }
}
BENCHMARK(BM_History)->Arg(1000)->Arg(50)->Unit(benchmark::kMillisecond);

void BM_Slowest(benchmark::State& state) {
  Db& db = Repository1000();
  for (auto _ : state) {
    auto s = db.tests->Slowest("app", {.branch = "", .runs = static_cast<int>(state.range(0))}, 20);
    if (!s.ok()) state.SkipWithError(s.status().message().c_str());
  }
}
BENCHMARK(BM_Slowest)->Arg(20)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace slipway::pipelines

BENCHMARK_MAIN();

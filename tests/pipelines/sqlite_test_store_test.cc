// SqliteTestStore on a real SQLite file beside a real SqliteRunStore:
// recording (one transaction, replacing, exec runs' own identities), what
// goes with a run or a repository, a run's cases by status and page, a
// test's history, the flaky query's two parts and its "nothing else
// failed", the slowest tests, and bad queries.
#include "pipelines/sqlite_test_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/base/database.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

using RunRow = pipelines::Run;

TestCase Case(const std::string& name, TestStatus status, int64_t duration_us = 1000,
              const std::string& class_name = "pkg.Suite") {
  TestCase c;
  c.suite = "unit";
  c.class_name = class_name;
  c.name = name;
  c.status = status;
  c.duration_us = duration_us;
  if (status == TestStatus::kFailed) {
    c.message = name + " broke";
    c.type = "AssertionError";
    c.details = "at " + name + "()";
  }
  c.report = "out/junit.xml";
  c.step = "unit";
  return c;
}

class SqliteTestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-test-store");
    path_ = dir_ + "/slipway.db";
    auto runs = SqliteRunStore::Open(path_);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    runs_ = std::move(*runs);
    auto tests = SqliteTestStore::Open(path_);
    ASSERT_TRUE(tests.ok()) << tests.status().ToString();
    tests_ = std::move(*tests);
    Repository repo;
    repo.name = "app";
    repo.url = "https://git.example.com/app.git";
    ASSERT_TRUE(runs_->AddRepository(repo).ok());
  }
  void TearDown() override {
    tests_.reset();
    runs_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t AddRun(const std::string& commit = "", const std::string& branch = "main",
                 RunStatus status = RunStatus::kSuccess, const std::string& repo = "app") {
    RunRow run;
    run.repo = repo;
    run.branch = branch;
    if (commit.empty()) {
      std::string n = std::to_string(++next_);
      run.commit = std::string(40 - n.size(), '0') + n;  // one commit per run
    } else {
      run.commit = commit;
    }
    run.status = status;
    run.queued_unix_ms = 1000;
    auto stored = runs_->AddRun(run);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? stored->id : 0;
  }

  int64_t Record(const std::vector<TestCase>& cases, const std::string& commit = "",
                 const std::string& branch = "main") {
    int64_t id = AddRun(commit, branch);
    Status st = tests_->RecordRun(id, cases, {{"out/junit.xml", "unit", static_cast<int64_t>(cases.size())}});
    EXPECT_TRUE(st.ok()) << st.ToString();
    return id;
  }

  int64_t TestId(const std::string& name) {
    auto found = tests_->FindTests("app", name);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    return found.ok() && found->size() == 1 ? found->front().id : 0;
  }

  std::vector<FlakyTest> Flaky(int min_flips, const std::string& branch = "") {
    FlakyQuery q;
    q.window.branch = branch;
    q.min_flips = min_flips;
    auto flaky = tests_->Flaky("app", q);
    EXPECT_TRUE(flaky.ok()) << flaky.status().ToString();
    return flaky.ok() ? *flaky : std::vector<FlakyTest>{};
  }

  int64_t Count(const std::string& sql) {
    SQLite::Database db(path_);
    return db.execAndGet(sql).getInt64();
  }

  std::string dir_, path_;
  int next_ = 0;
  std::unique_ptr<SqliteRunStore> runs_;
  std::unique_ptr<SqliteTestStore> tests_;
};

TEST_F(SqliteTestStoreTest, RecordsAndListsByStatusAndPage) {
  std::vector<TestCase> cases;
  for (int i = 0; i < 10; ++i) cases.push_back(Case("t" + std::to_string(i), TestStatus::kPassed));
  cases[3] = Case("t3", TestStatus::kFailed);
  cases[7] = Case("t7", TestStatus::kError);
  cases[8] = Case("t8", TestStatus::kSkipped);
  cases[3].system_out = "out of t3";
  cases[3].file = "src/t3.py";
  cases[3].line = 42;
  int64_t run = Record(cases);

  auto all = tests_->ListCases({.run_id = run, .statuses = {}, .offset = 0, .limit = 4});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->total, 10);
  ASSERT_EQ(all->cases.size(), 4u);
  EXPECT_EQ(all->cases[0].test.name, "t0");
  EXPECT_EQ(all->cases[3].result.message, "t3 broke");
  EXPECT_EQ(all->cases[3].result.file, "src/t3.py");
  EXPECT_EQ(all->cases[3].result.line, 42);
  EXPECT_EQ(all->cases[3].result.step, "unit");
  ASSERT_EQ(all->reports.size(), 1u);
  EXPECT_EQ(all->reports[0].file, "out/junit.xml");
  EXPECT_EQ(all->reports[0].cases, 10);

  auto next = tests_->ListCases({.run_id = run, .statuses = {}, .offset = 8, .limit = 4});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->cases.size(), 2u);
  EXPECT_EQ(next->cases[0].index, 8);

  auto failing = tests_->ListCases(
      {.run_id = run, .statuses = {TestStatus::kFailed, TestStatus::kError}, .offset = 0, .limit = 100});
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->total, 2);
  ASSERT_EQ(failing->cases.size(), 2u);
  EXPECT_EQ(failing->cases[0].test.name, "t3");
  EXPECT_EQ(failing->cases[1].result.status, TestStatus::kError);

  auto one = tests_->GetCase(run, 3);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->result.system_out, "out of t3");
  EXPECT_EQ(one->result.details, "at t3()");
  EXPECT_EQ(tests_->GetCase(run, 10).status().code(), Code::kNotFound);
  EXPECT_EQ(tests_->ListCases({.run_id = 999}).status().code(), Code::kNotFound);
  // Only the cases with something to say have an output row.
  EXPECT_EQ(Count("SELECT count(*) FROM test_outputs"), 1);
}

TEST_F(SqliteTestStoreTest, IdentitiesAreTheRepositorysAndRecordingAgainReplaces) {
  int64_t a = Record({Case("x", TestStatus::kPassed), Case("y", TestStatus::kPassed)});
  int64_t b = Record({Case("x", TestStatus::kFailed), Case("x", TestStatus::kPassed)});
  EXPECT_EQ(Count("SELECT count(*) FROM tests"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases"), 4);
  // Again for run b: its cases are replaced, the identities stay.
  ASSERT_TRUE(tests_->RecordRun(b, {Case("z", TestStatus::kPassed)}, {}).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM tests"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases WHERE run_id = " + std::to_string(b)), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases WHERE run_id = " + std::to_string(a)), 2);
  EXPECT_EQ(tests_->RecordRun(12345, {}, {}).code(), Code::kNotFound);
  // The same name in another class is another test.
  Record({Case("x", TestStatus::kPassed, 1, "pkg.Other")});
  auto found = tests_->FindTests("app", "x");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 2u);
  auto qualified = tests_->FindTests("app", "pkg.Other.x");
  ASSERT_TRUE(qualified.ok());
  ASSERT_EQ(qualified->size(), 1u);
  EXPECT_EQ(qualified->front().class_name, "pkg.Other");
  EXPECT_EQ(tests_->FindTests("app", "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(tests_->FindTests("nope", "x").status().code(), Code::kNotFound);
}

TEST_F(SqliteTestStoreTest, ExecRunsHaveTheirOwnIdentitiesWhichGoWithThem) {
  RunRow exec;
  exec.status = RunStatus::kSuccess;
  exec.source_dir = "/src";
  for (int i = 0; i < 2; ++i) {
    auto stored = runs_->AddRun(exec);
    ASSERT_TRUE(stored.ok());
    ASSERT_TRUE(tests_->RecordRun(stored->id, {Case("x", TestStatus::kPassed)}, {}).ok());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM tests WHERE owner_run IS NOT NULL"), 2);
  // The runs go (as a prune removes them, on a connection of its own):
  // their identities and cases with them.
  auto db = OpenDatabase(path_);
  ASSERT_TRUE(db.ok());
  (*db)->exec("DELETE FROM runs WHERE repo IS NULL");
  EXPECT_EQ(Count("SELECT count(*) FROM tests"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases"), 0);
}

TEST_F(SqliteTestStoreTest, CasesGoWithTheirRunAndIdentitiesWithTheRepository) {
  for (int i = 0; i < 3; ++i) Record({Case("x", TestStatus::kFailed), Case("y", TestStatus::kPassed)});
  auto pruned = runs_->PruneRuns("app", 1);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM test_outputs"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM test_runs"), 1);
  ASSERT_TRUE(runs_->RemoveRepository("app").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM tests"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM test_runs"), 0);
}

TEST_F(SqliteTestStoreTest, HistoryNewestFirstWithinTheWindowAndBranch) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Record({Case("x", i % 2 ? TestStatus::kFailed : TestStatus::kPassed, 100 * (i + 1))}));
  }
  Record({Case("x", TestStatus::kFailed)}, "", "feature");
  int64_t x = TestId("x");
  auto h = tests_->History("app", x, {.branch = "main", .runs = 50});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 5u);
  EXPECT_EQ((*h)[0].run_id, ids[4]);
  EXPECT_EQ((*h)[0].status, TestStatus::kPassed);
  EXPECT_EQ((*h)[0].duration_us, 500);
  EXPECT_EQ((*h)[1].status, TestStatus::kFailed);
  EXPECT_EQ((*h)[1].message, "x broke");
  EXPECT_EQ((*h)[1].branch, "main");
  EXPECT_EQ((*h)[1].commit.size(), 40u);
  auto last3 = tests_->History("app", x, {.branch = "", .runs = 3});
  ASSERT_TRUE(last3.ok());
  ASSERT_EQ(last3->size(), 3u);
  EXPECT_EQ((*last3)[0].branch, "feature");
  EXPECT_EQ(tests_->History("app", x + 100, {}).status().code(), Code::kNotFound);
  EXPECT_EQ(tests_->History("app", x, {.branch = "", .runs = 0}).status().code(), Code::kInvalidArgument);
  // A run still running (or cancelled) is not in the window.
  int64_t running = AddRun("", "main", RunStatus::kRunning);
  ASSERT_TRUE(tests_->RecordRun(running, {Case("x", TestStatus::kFailed)}, {}).ok());
  auto again = tests_->History("app", x, {.branch = "main", .runs = 50});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 5u);
}

TEST_F(SqliteTestStoreTest, FlakyOnOneCommit) {
  const std::string commit(40, 'c');
  Record({Case("x", TestStatus::kFailed), Case("y", TestStatus::kFailed)}, commit);
  Record({Case("x", TestStatus::kPassed), Case("y", TestStatus::kFailed)}, commit);
  auto flaky = Flaky(1000);
  ASSERT_EQ(flaky.size(), 1u);
  EXPECT_EQ(flaky[0].test.name, "x");
  ASSERT_EQ(flaky[0].commits.size(), 1u);
  EXPECT_EQ(flaky[0].commits[0], commit);
  EXPECT_EQ(flaky[0].runs, 2);
  EXPECT_EQ(flaky[0].failures, 1);
  EXPECT_EQ(flaky[0].last_failure_message, "x broke");
  EXPECT_EQ(flaky[0].last_failure_type, "AssertionError");
}

TEST_F(SqliteTestStoreTest, FlipsCountOnlyWhileNothingElseFailed) {
  // x flips alone: pass, fail, pass, fail, pass (4 flips). y flips as often,
  // but only in runs where z fails too (a broken build, not a flaky test).
  for (int i = 0; i < 5; ++i) {
    bool odd = i % 2 == 1;
    Record({Case("x", odd ? TestStatus::kFailed : TestStatus::kPassed), Case("y", TestStatus::kPassed),
            Case("z", TestStatus::kPassed)});
    Record({Case("x", TestStatus::kPassed), Case("y", odd ? TestStatus::kFailed : TestStatus::kPassed),
            Case("z", odd ? TestStatus::kFailed : TestStatus::kPassed)});
  }
  // Runs in order: x's fails are in runs 3 and 7 (of 10), each alone.
  auto flaky = Flaky(3);
  ASSERT_EQ(flaky.size(), 1u);
  EXPECT_EQ(flaky[0].test.name, "x");
  EXPECT_EQ(flaky[0].flips, 4);
  EXPECT_EQ(flaky[0].runs, 10);
  EXPECT_EQ(flaky[0].failures, 2);
  EXPECT_TRUE(flaky[0].commits.empty());
  EXPECT_EQ(Flaky(5).size(), 0u);
  // Another branch's runs do not make flips of main's.
  EXPECT_EQ(Flaky(3, "feature").size(), 0u);
  // A skipped result is no flip: pass, skip, pass.
  Record({Case("x", TestStatus::kSkipped), Case("y", TestStatus::kPassed), Case("z", TestStatus::kPassed)});
  Record({Case("x", TestStatus::kPassed), Case("y", TestStatus::kPassed), Case("z", TestStatus::kPassed)});
  flaky = Flaky(3);
  ASSERT_EQ(flaky.size(), 1u);
  EXPECT_EQ(flaky[0].flips, 4);
}

TEST_F(SqliteTestStoreTest, FlipsAreCountedPerBranch) {
  // Alternating branches, each stable: x fails on feature, passes on main.
  for (int i = 0; i < 6; ++i) {
    bool feature = i % 2 == 1;
    Record({Case("x", feature ? TestStatus::kFailed : TestStatus::kPassed)}, "",
           feature ? "feature" : "main");
  }
  EXPECT_EQ(Flaky(1).size(), 0u);
}

TEST_F(SqliteTestStoreTest, SlowestByMedian) {
  // a: 10, 10, 1000 (median 10); b: 50, 50, 50.
  for (int64_t d : {10, 10, 1000})
    Record({Case("a", TestStatus::kPassed, d), Case("b", TestStatus::kPassed, 50)});
  auto slow = tests_->Slowest("app", {.branch = "", .runs = 20}, 10);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  ASSERT_EQ(slow->size(), 2u);
  EXPECT_EQ((*slow)[0].test.name, "b");
  EXPECT_EQ((*slow)[0].median_us, 50);
  EXPECT_EQ((*slow)[1].test.name, "a");
  EXPECT_EQ((*slow)[1].median_us, 10);
  EXPECT_EQ((*slow)[1].latest_us, 1000);
  EXPECT_EQ((*slow)[1].max_us, 1000);
  EXPECT_EQ((*slow)[1].runs, 3);
  auto top = tests_->Slowest("app", {.branch = "", .runs = 20}, 1);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->size(), 1u);
  EXPECT_EQ(tests_->Slowest("app", {}, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tests_->Slowest("nope", {}, 10).status().code(), Code::kNotFound);
}

TEST_F(SqliteTestStoreTest, BadQueriesAreRefused) {
  int64_t run = Record({Case("x", TestStatus::kPassed)});
  EXPECT_EQ(tests_->ListCases({.run_id = run, .statuses = {}, .offset = 0, .limit = 0}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tests_->ListCases({.run_id = run, .statuses = {}, .offset = -1, .limit = 10}).status().code(),
            Code::kInvalidArgument);
  FlakyQuery q;
  q.min_flips = 0;
  EXPECT_EQ(tests_->Flaky("app", q).status().code(), Code::kInvalidArgument);
  q.min_flips = 3;
  q.window.runs = 1001;
  EXPECT_EQ(tests_->Flaky("app", q).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tests_->Flaky("nope", FlakyQuery{}).status().code(), Code::kNotFound);
}

TEST_F(SqliteTestStoreTest, TenThousandCasesInOneRecord) {
  std::vector<TestCase> cases;
  for (int i = 0; i < 10'000; ++i) {
    cases.push_back(
        Case("case" + std::to_string(i), i % 100 == 0 ? TestStatus::kFailed : TestStatus::kPassed));
  }
  int64_t run = Record(cases);
  EXPECT_EQ(Count("SELECT count(*) FROM test_cases"), 10'000);
  EXPECT_EQ(Count("SELECT failing_tests FROM test_runs WHERE run_id = " + std::to_string(run)), 100);
  auto page =
      tests_->ListCases({.run_id = run, .statuses = {TestStatus::kFailed}, .offset = 0, .limit = 1000});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 100);
  // Again, as the repository's next run: the identities (read in one scan
  // for a run this large) are reused, none is added.
  cases.push_back(Case("one-more", TestStatus::kPassed));
  Record(cases);
  EXPECT_EQ(Count("SELECT count(*) FROM tests"), 10'001);
  EXPECT_EQ(Count("SELECT count(DISTINCT test_id) FROM test_cases"), 10'001);
}

TEST_F(SqliteTestStoreTest, OpenNeedsTheRunsTables) {
  std::string other = dir_ + "/other.db";
  auto store = SqliteTestStore::Open(other);
  EXPECT_EQ(store.status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace slipway::pipelines

// TestStore: where the test cases of runs are kept, and the questions asked
// of them (docs/tests.md): a run's cases, a test's history, flaky tests,
// slow tests. SqliteTestStore keeps them in slipwayd's SQLite database.
//
// A test's identity is (suite, class_name, name) within its repository; it
// gets a number (TestIdentity::id) the first time a run of the repository
// records it, kept as long as the repository. Runs of `pipeline exec`
// belong to no repository: their identities are the run's own (no history
// across exec runs: a working tree has no commit to compare).
//
// Contract of every implementation: thread-safe; each call is atomic (a
// reader never sees half of a run's cases); errors name the object
// ("run 12: ...", "repository app: ..."); kNotFound for a run, repository or
// test that does not exist; kInvalidArgument for a query out of its bounds;
// kResourceExhausted when the disk is full. A run's cases go with the run,
// a repository's identities with the repository.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/run_record.h"
#include "pipelines/test_report.h"

namespace slipway::pipelines {

struct TestIdentity {
  int64_t id = 0;
  std::string suite, class_name, name;
};

// One case of one run, as stored.
struct StoredCase {
  int64_t run_id = 0;
  int64_t index = 0;  // its place among the run's cases (report order), from 0
  TestIdentity test;
  TestCase result;  // suite, class_name and name repeat test's
};

// Which report a run read, and what came of it.
struct ReportFile {
  std::string file;  // workspace-relative
  std::string step;  // the step that wrote it; "" if it cannot be told
  int64_t cases = 0;
};

struct CaseQuery {
  int64_t run_id = 0;
  std::vector<TestStatus> statuses;  // empty: every status
  int64_t offset = 0;                // >= 0
  int limit = 100;                   // 1..1000
};
struct CasePage {
  std::vector<StoredCase> cases;  // in report order
  int64_t total = 0;              // cases matching the statuses, across pages
  std::vector<ReportFile> reports;
};

// The runs a repository query looks at: its newest `runs` runs that
// recorded test cases and ended success or failure (cancelled and
// interrupted runs stopped their tests part-way), of `branch` if given.
struct Window {
  std::string branch;  // "": every branch
  int runs = 50;       // 1..1000
};

struct HistoryEntry {
  int64_t run_id = 0;
  std::string commit, branch;
  RunStatus run_status = RunStatus::kSuccess;
  int64_t queued_unix_ms = 0;
  TestStatus status = TestStatus::kPassed;  // of its first case in the run
  int64_t duration_us = 0;
  std::string message;  // of a failure, error or skip
};

// docs/tests.md, "Flaky tests".
struct FlakyQuery {
  Window window{.branch = "", .runs = 100};
  int min_flips = 3;  // 1..1000
};
struct FlakyTest {
  TestIdentity test;
  int flips = 0;                     // counted flips (failing side alone), per branch, summed
  std::vector<std::string> commits;  // commits it both passed and failed on
  int runs = 0;                      // window runs it ran in (not skipped)
  int failures = 0;                  // of those, how many it failed or errored in
  int64_t last_failure_run = 0;
  std::string last_failure_message, last_failure_type;
};

struct SlowTest {
  TestIdentity test;
  int runs = 0;  // window runs it ran in (not skipped)
  int64_t median_us = 0, latest_us = 0, max_us = 0;
};

class TestStore {
 public:
  virtual ~TestStore() = default;

  // Records `cases` as run `run_id`'s (replacing any recorded before), with
  // the reports they came from, in one transaction. The identities are the
  // run's repository's (kNotFound for an unknown run).
  virtual Status RecordRun(int64_t run_id, const std::vector<TestCase>& cases,
                           const std::vector<ReportFile>& reports) = 0;

  virtual Result<CasePage> ListCases(const CaseQuery& query) const = 0;
  // The case at `index` of run `run_id`, with all of its output.
  virtual Result<StoredCase> GetCase(int64_t run_id, int64_t index) const = 0;

  // The repository's test `id`; or, by text, the tests whose name or
  // "class_name.name" is `text` (several may match; none: kNotFound).
  virtual Result<TestIdentity> GetTest(const std::string& repo, int64_t id) const = 0;
  virtual Result<std::vector<TestIdentity>> FindTests(const std::string& repo,
                                                      const std::string& text) const = 0;

  // Test `test_id`'s result in each window run it ran in (skipped too),
  // newest first.
  virtual Result<std::vector<HistoryEntry>> History(const std::string& repo, int64_t test_id,
                                                    const Window& window) const = 0;
  // Tests that passed and failed on one commit, or whose result flipped at
  // least min_flips times; most flips first.
  virtual Result<std::vector<FlakyTest>> Flaky(const std::string& repo, const FlakyQuery& query) const = 0;
  // The `limit` (1..1000) tests of the highest median duration over the
  // window runs they passed or failed in; slowest first.
  virtual Result<std::vector<SlowTest>> Slowest(const std::string& repo, const Window& window,
                                                int limit) const = 0;
};

}  // namespace slipway::pipelines

// SqliteTestStore: the TestStore in slipwayd's SQLite database (the same
// file as runs, <data_dir>/slipway.db), with its own component "tests" and
// numbered migrations, on a connection of its own.
//
// Tables (docs/tests.md, "Storage"):
//   tests         identities: (repo, suite, class_name, name) -> id; an exec
//                 run's own identities have no repo but owner_run. They go
//                 with their repository (or exec run): ON DELETE CASCADE.
//   test_runs     per run that recorded cases: how many, how many distinct
//                 tests failed or errored, the report files read.
//   test_cases    per run and case: the test, status, duration, step,
//                 report, file and line. Narrow, clustered by (run, index).
//   test_outputs  message, type, details, system-out, system-err of the
//                 cases that have any (most passing cases have none).
// Everything of a run goes with the run (ON DELETE CASCADE from runs), so
// the RunStore's prunes and repository removals take the tests along.
//
// The "pipelines" component must be migrated first (its tables are
// referenced): SqliteRunStore::Open before SqliteTestStore::Open.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pipelines/test_store.h"

namespace SQLite {
class Database;
}

namespace slipway::pipelines {

class SqliteTestStore : public TestStore {
 public:
  // Opens the database at `db_path` (OpenDatabase) and brings the tests
  // schema up to date. kFailedPrecondition if the runs table is missing.
  static Result<std::unique_ptr<SqliteTestStore>> Open(const std::string& db_path);
  ~SqliteTestStore() override;

  Status RecordRun(int64_t run_id, const std::vector<TestCase>& cases,
                   const std::vector<ReportFile>& reports) override;
  Result<CasePage> ListCases(const CaseQuery& query) const override;
  Result<StoredCase> GetCase(int64_t run_id, int64_t index) const override;
  Result<TestIdentity> GetTest(const std::string& repo, int64_t id) const override;
  Result<std::vector<TestIdentity>> FindTests(const std::string& repo,
                                              const std::string& text) const override;
  Result<std::vector<HistoryEntry>> History(const std::string& repo, int64_t test_id,
                                            const Window& window) const override;
  Result<std::vector<FlakyTest>> Flaky(const std::string& repo, const FlakyQuery& query) const override;
  Result<std::vector<SlowTest>> Slowest(const std::string& repo, const Window& window,
                                        int limit) const override;

 private:
  explicit SqliteTestStore(std::unique_ptr<SQLite::Database> db);

  mutable std::mutex mu_;  // guards db_: one statement sequence at a time
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace slipway::pipelines

#include "pipelines/sqlite_test_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <utility>

#include "engine/base/database.h"
#include "pipelines/store_rows.h"

namespace slipway::pipelines {

namespace {

// This module's name in the database's schema_versions table.
constexpr char kComponent[] = "tests";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    -- A test's identity: a repository's (repo set), or an exec run's own
    -- (owner_run set), never both.
    CREATE TABLE tests (
      id INTEGER PRIMARY KEY,
      repo TEXT REFERENCES repositories(name) ON DELETE CASCADE,
      owner_run INTEGER REFERENCES runs(id) ON DELETE CASCADE,
      suite TEXT NOT NULL,
      class_name TEXT NOT NULL,
      name TEXT NOT NULL,
      CHECK ((repo IS NULL) != (owner_run IS NULL))
    );
    CREATE UNIQUE INDEX tests_repo ON tests(repo, suite, class_name, name) WHERE repo IS NOT NULL;
    CREATE UNIQUE INDEX tests_owner ON tests(owner_run, suite, class_name, name) WHERE owner_run IS NOT NULL;
    -- The runs that recorded cases; failing_tests: distinct tests that
    -- failed or errored (the flaky query's "nothing else failed").
    CREATE TABLE test_runs (
      run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
      cases INTEGER NOT NULL,
      failing_tests INTEGER NOT NULL,
      reports TEXT NOT NULL  -- JSON: [{"file", "step", "cases"}]
    );
    -- status: 0 passed, 1 failed, 2 error, 3 skipped.
    CREATE TABLE test_cases (
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      idx INTEGER NOT NULL,
      test_id INTEGER NOT NULL REFERENCES tests(id) ON DELETE CASCADE,
      status INTEGER NOT NULL,
      duration_us INTEGER NOT NULL,
      step TEXT NOT NULL,
      report TEXT NOT NULL,
      file TEXT NOT NULL,
      line INTEGER NOT NULL,
      PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    -- History, flips and durations of one test; covering.
    CREATE INDEX test_cases_test ON test_cases(test_id, run_id, status, duration_us);
    -- The failing cases of a run: few, and what the flaky query starts from.
    CREATE INDEX test_cases_failing ON test_cases(run_id, test_id) WHERE status IN (1, 2);
    CREATE TABLE test_outputs (
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      idx INTEGER NOT NULL,
      message TEXT NOT NULL,
      type TEXT NOT NULL,
      details TEXT NOT NULL,
      system_out TEXT NOT NULL,
      system_err TEXT NOT NULL,
      PRIMARY KEY (run_id, idx)
    );
    )sql",
};

constexpr int kMaxCaseLimit = 1000;
// From this many cases on, RecordRun reads the repository's identities in
// one scan rather than one probe per case.
constexpr size_t kPreloadCases = 256;
constexpr int kMaxWindowRuns = 1000;
constexpr int kMaxFlips = 1000;

int StatusCode(TestStatus s) {
  switch (s) {
    case TestStatus::kPassed: return 0;
    case TestStatus::kFailed: return 1;
    case TestStatus::kError: return 2;
    case TestStatus::kSkipped: return 3;
  }
  return 3;
}

TestStatus StatusOf(int code) {
  switch (code) {
    case 0: return TestStatus::kPassed;
    case 1: return TestStatus::kFailed;
    case 2: return TestStatus::kError;
    default: return TestStatus::kSkipped;
  }
}

bool Failing(int code) {
  return code == 1 || code == 2;
}

Status CheckWindow(const Window& w) {
  if (w.runs < 1 || w.runs > kMaxWindowRuns) {
    return InvalidArgument("runs " + std::to_string(w.runs) + " is outside 1.." +
                           std::to_string(kMaxWindowRuns));
  }
  return Status::Ok();
}

// A window run: the newest `runs` of a repository (of a branch) that
// recorded cases and ended success or failure.
struct WindowRun {
  int64_t id = 0;
  std::string commit, branch;
  bool pull_request = false;
  int64_t failing_tests = 0;
  RunStatus status = RunStatus::kSuccess;
  int64_t queued_unix_ms = 0;
};

std::vector<WindowRun> WindowRuns(SQLite::Database& db, const std::string& repo, const Window& w) {
  std::string sql =
      "SELECT r.id, r.commit_id, r.branch, r.event, t.failing_tests, r.status, r.queued_unix_ms "
      "FROM runs r JOIN test_runs t ON t.run_id = r.id "
      "WHERE r.repo = :repo AND r.status IN ('success', 'failure')";
  if (!w.branch.empty()) sql += " AND r.branch = :branch";
  sql += " ORDER BY r.id DESC LIMIT :limit";
  SQLite::Statement q(db, sql);
  q.bind(":repo", repo);
  if (!w.branch.empty()) q.bind(":branch", w.branch);
  q.bind(":limit", w.runs);
  std::vector<WindowRun> out;
  while (q.executeStep()) {
    WindowRun r;
    r.id = q.getColumn(0).getInt64();
    r.commit = q.getColumn(1).getString();
    r.branch = q.getColumn(2).getString();
    r.pull_request = q.getColumn(3).getString() == EventName(Event::kPullRequest);
    r.failing_tests = q.getColumn(4).getInt64();
    r.status = ParseRunStatus(q.getColumn(5).getString()).value_or(RunStatus::kSuccess);
    r.queued_unix_ms = q.getColumn(6).getInt64();
    out.push_back(std::move(r));
  }
  return out;  // newest first
}

TestIdentity ReadIdentity(SQLite::Statement& q, int first) {
  TestIdentity t;
  t.id = q.getColumn(first).getInt64();
  t.suite = q.getColumn(first + 1).getString();
  t.class_name = q.getColumn(first + 2).getString();
  t.name = q.getColumn(first + 3).getString();
  return t;
}

Result<TestIdentity> IdentityById(SQLite::Database& db, const std::string& repo, int64_t id) {
  SQLite::Statement q(db, "SELECT id, suite, class_name, name FROM tests WHERE id = ? AND repo = ?");
  q.bind(1, id);
  q.bind(2, repo);
  if (!q.executeStep()) {
    if (!RepoExists(db, repo)) return NotFound(RepoName(repo) + ": not found");
    return NotFound(RepoName(repo) + ": no test " + std::to_string(id));
  }
  return ReadIdentity(q, 0);
}

// The columns of a case with its identity and output, in ReadCase's order.
constexpr char kCaseSelect[] =
    "SELECT c.run_id, c.idx, c.status, c.duration_us, c.step, c.report, c.file, c.line, "
    "t.id, t.suite, t.class_name, t.name, "
    "ifnull(o.message, ''), ifnull(o.type, ''), ifnull(o.details, ''), ifnull(o.system_out, ''), "
    "ifnull(o.system_err, '') "
    "FROM test_cases c JOIN tests t ON t.id = c.test_id "
    "LEFT JOIN test_outputs o ON o.run_id = c.run_id AND o.idx = c.idx ";

StoredCase ReadCase(SQLite::Statement& q) {
  StoredCase c;
  c.run_id = q.getColumn(0).getInt64();
  c.index = q.getColumn(1).getInt64();
  c.result.status = StatusOf(q.getColumn(2).getInt());
  c.result.duration_us = q.getColumn(3).getInt64();
  c.result.step = q.getColumn(4).getString();
  c.result.report = q.getColumn(5).getString();
  c.result.file = q.getColumn(6).getString();
  c.result.line = q.getColumn(7).getInt64();
  c.test = ReadIdentity(q, 8);
  c.result.suite = c.test.suite;
  c.result.class_name = c.test.class_name;
  c.result.name = c.test.name;
  c.result.message = q.getColumn(12).getString();
  c.result.type = q.getColumn(13).getString();
  c.result.details = q.getColumn(14).getString();
  c.result.system_out = q.getColumn(15).getString();
  c.result.system_err = q.getColumn(16).getString();
  return c;
}

std::vector<ReportFile> ParseReports(const std::string& text) {
  std::vector<ReportFile> out;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& item : j) {
    if (!item.is_object()) continue;
    ReportFile r;
    r.file = item.value("file", "");
    r.step = item.value("step", "");
    r.cases = item.value("cases", int64_t{0});
    out.push_back(std::move(r));
  }
  return out;
}

// One test's result in one run: failing if any of its cases failed or
// errored, else passed if any passed, else skipped (-1: not seen).
struct RunResult {
  int code = -1;
  static int Rank(int c) { return c == 1 ? 3 : c == 0 ? 2 : c == 3 ? 1 : 0; }
  void Add(int c) {
    const int n = Failing(c) ? 1 : c;
    if (Rank(n) > Rank(code)) code = n;
  }
};

// The message and type of the first failing case of `test_id` in `run_id`.
std::pair<std::string, std::string> FailureOf(SQLite::Database& db, int64_t run_id, int64_t test_id) {
  SQLite::Statement q(db,
                      "SELECT ifnull(o.message, ''), ifnull(o.type, '') FROM test_cases c "
                      "LEFT JOIN test_outputs o ON o.run_id = c.run_id AND o.idx = c.idx "
                      "WHERE c.run_id = ? AND c.test_id = ? AND c.status IN (1, 2) ORDER BY c.idx LIMIT 1");
  q.bind(1, run_id);
  q.bind(2, test_id);
  if (!q.executeStep()) return {};
  return {q.getColumn(0).getString(), q.getColumn(1).getString()};
}

}  // namespace

SqliteTestStore::SqliteTestStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
SqliteTestStore::~SqliteTestStore() = default;

Result<std::unique_ptr<SqliteTestStore>> SqliteTestStore::Open(const std::string& db_path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  try {
    // The tables referenced must be there: a foreign key to a missing table
    // would only fail at the first insert.
    SQLite::Statement q(
        *db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'repositories')");
    int found = 0;
    while (q.executeStep()) ++found;
    if (found != 2) {
      return FailedPrecondition("test store: " + db_path +
                                " has no runs and repositories tables (open the run store first)");
    }
  } catch (const std::exception& e) {
    return DatabaseError(*db, "test store: open", e);
  }
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  return std::unique_ptr<SqliteTestStore>(new SqliteTestStore(std::move(db)));
}

#define SLIPWAY_DB_CATCH(what)                              \
  catch (const std::exception& e) {                         \
    return DatabaseError(*db_, "test store: " + (what), e); \
  }

Status SqliteTestStore::RecordRun(int64_t run_id, const std::vector<TestCase>& cases,
                                  const std::vector<ReportFile>& reports) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement run(*db_, "SELECT repo FROM runs WHERE id = ?");
    run.bind(1, run_id);
    if (!run.executeStep()) return NotFound(RunName(run_id) + ": not found");
    const bool exec = run.getColumn(0).isNull();
    const std::string repo = exec ? "" : run.getColumn(0).getString();
    // Recorded again: what was recorded before goes (an exec run's own
    // identities too, and with them their cases).
    for (const char* sql :
         {"DELETE FROM test_cases WHERE run_id = ?", "DELETE FROM test_outputs WHERE run_id = ?",
          "DELETE FROM test_runs WHERE run_id = ?", "DELETE FROM tests WHERE owner_run = ?"}) {
      SQLite::Statement q(*db_, sql);
      q.bind(1, run_id);
      q.exec();
    }
    SQLite::Statement find(
        *db_,
        exec ? "SELECT id FROM tests WHERE owner_run = ?1 AND suite = ?2 AND class_name = ?3 AND name = ?4"
             : "SELECT id FROM tests WHERE repo = ?1 AND suite = ?2 AND class_name = ?3 AND name = ?4");
    SQLite::Statement add(
        *db_, exec ? "INSERT INTO tests (owner_run, suite, class_name, name) VALUES (?1, ?2, ?3, ?4)"
                   : "INSERT INTO tests (repo, suite, class_name, name) VALUES (?1, ?2, ?3, ?4)");
    SQLite::Statement put(
        *db_,
        "INSERT INTO test_cases (run_id, idx, test_id, status, duration_us, step, report, file, line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    SQLite::Statement put_output(*db_,
                                 "INSERT INTO test_outputs (run_id, idx, message, type, details, system_out, "
                                 "system_err) VALUES (?, ?, ?, ?, ?, ?, ?)");
    // Identities by (suite, class_name, name): for a large run, the
    // repository's all at once (one scan beats a probe per case); else
    // each looked up as it comes. An exec run's were just removed.
    std::unordered_map<std::string, int64_t> ids;
    auto make_key = [](std::string* key, const std::string& suite, const std::string& cls,
                       const std::string& name) {
      key->clear();
      key->append(suite).push_back('\0');
      key->append(cls).push_back('\0');
      key->append(name);
    };
    std::string key;
    const bool preloaded = !exec && cases.size() >= kPreloadCases;
    if (preloaded) {
      SQLite::Statement all(*db_, "SELECT id, suite, class_name, name FROM tests WHERE repo = ?");
      all.bind(1, repo);
      while (all.executeStep()) {
        make_key(&key, all.getColumn(1).getString(), all.getColumn(2).getString(),
                 all.getColumn(3).getString());
        ids.emplace(key, all.getColumn(0).getInt64());
      }
    }
    std::set<int64_t> failing;
    for (size_t i = 0; i < cases.size(); ++i) {
      const TestCase& c = cases[i];
      make_key(&key, c.suite, c.class_name, c.name);
      auto [it, fresh] = ids.try_emplace(key, 0);
      if (fresh) {
        auto bind_key = [&](SQLite::Statement& q) {
          if (exec) {
            q.bind(1, run_id);
          } else {
            q.bind(1, repo);
          }
          q.bind(2, c.suite);
          q.bind(3, c.class_name);
          q.bind(4, c.name);
        };
        if (!preloaded && !exec) bind_key(find);
        if (!preloaded && !exec && find.executeStep()) {
          it->second = find.getColumn(0).getInt64();
        } else {
          bind_key(add);
          add.exec();
          add.reset();
          it->second = db_->getLastInsertRowid();
        }
        find.reset();
      }
      const int code = StatusCode(c.status);
      if (Failing(code)) failing.insert(it->second);
      int k = 1;
      put.bind(k++, run_id);
      put.bind(k++, static_cast<int64_t>(i));
      put.bind(k++, it->second);
      put.bind(k++, code);
      put.bind(k++, c.duration_us);
      put.bind(k++, c.step);
      put.bind(k++, c.report);
      put.bind(k++, c.file);
      put.bind(k++, c.line);
      put.exec();
      put.reset();
      if (!c.message.empty() || !c.type.empty() || !c.details.empty() || !c.system_out.empty() ||
          !c.system_err.empty()) {
        k = 1;
        put_output.bind(k++, run_id);
        put_output.bind(k++, static_cast<int64_t>(i));
        put_output.bind(k++, c.message);
        put_output.bind(k++, c.type);
        put_output.bind(k++, c.details);
        put_output.bind(k++, c.system_out);
        put_output.bind(k++, c.system_err);
        put_output.exec();
        put_output.reset();
      }
    }
    nlohmann::json files = nlohmann::json::array();
    for (const ReportFile& r : reports)
      files.push_back({{"file", r.file}, {"step", r.step}, {"cases", r.cases}});
    SQLite::Statement summary(
        *db_, "INSERT INTO test_runs (run_id, cases, failing_tests, reports) VALUES (?, ?, ?, ?)");
    summary.bind(1, run_id);
    summary.bind(2, static_cast<int64_t>(cases.size()));
    summary.bind(3, static_cast<int64_t>(failing.size()));
    summary.bind(4, files.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    summary.exec();
    tx.commit();
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH(RunName(run_id) + ": record " + std::to_string(cases.size()) + " test cases")
}

Result<CasePage> SqliteTestStore::ListCases(const CaseQuery& query) const {
  if (query.limit < 1 || query.limit > kMaxCaseLimit) {
    return InvalidArgument("limit " + std::to_string(query.limit) + " is outside 1.." +
                           std::to_string(kMaxCaseLimit));
  }
  if (query.offset < 0) return InvalidArgument("offset must not be negative");
  // Only fixed text is concatenated: the statuses become their codes.
  std::string filter;
  if (!query.statuses.empty()) {
    std::set<int> codes;
    for (TestStatus s : query.statuses) codes.insert(StatusCode(s));
    for (int code : codes) filter += (filter.empty() ? " AND c.status IN (" : ", ") + std::to_string(code);
    filter += ")";
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);  // the count and the page, as of one moment
    if (!RunExists(*db_, query.run_id)) return NotFound(RunName(query.run_id) + ": not found");
    CasePage page;
    SQLite::Statement count(*db_, "SELECT count(*) FROM test_cases c WHERE c.run_id = ?" + filter);
    count.bind(1, query.run_id);
    if (count.executeStep()) page.total = count.getColumn(0).getInt64();
    SQLite::Statement q(
        *db_, std::string(kCaseSelect) + "WHERE c.run_id = ?" + filter + " ORDER BY c.idx LIMIT ? OFFSET ?");
    q.bind(1, query.run_id);
    q.bind(2, query.limit);
    q.bind(3, query.offset);
    while (q.executeStep()) page.cases.push_back(ReadCase(q));
    SQLite::Statement files(*db_, "SELECT reports FROM test_runs WHERE run_id = ?");
    files.bind(1, query.run_id);
    if (files.executeStep()) page.reports = ParseReports(files.getColumn(0).getString());
    return page;
  }
  SLIPWAY_DB_CATCH(RunName(query.run_id) + ": list test cases")
}

Result<StoredCase> SqliteTestStore::GetCase(int64_t run_id, int64_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string(kCaseSelect) + "WHERE c.run_id = ? AND c.idx = ?");
    q.bind(1, run_id);
    q.bind(2, index);
    if (q.executeStep()) return ReadCase(q);
    if (!RunExists(*db_, run_id)) return NotFound(RunName(run_id) + ": not found");
    return NotFound(RunName(run_id) + ": no test case " + std::to_string(index));
  }
  SLIPWAY_DB_CATCH(RunName(run_id) + ": get test case " + std::to_string(index))
}

Result<TestIdentity> SqliteTestStore::GetTest(const std::string& repo, int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    return IdentityById(*db_, repo, id);
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": get test " + std::to_string(id))
}

Result<std::vector<TestIdentity>> SqliteTestStore::FindTests(const std::string& repo,
                                                             const std::string& text) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    // By the repository's identities (the index's prefix); the name
    // comparison is cheap beside reading them.
    SQLite::Statement q(*db_,
                        "SELECT id, suite, class_name, name FROM tests WHERE repo = ?1 AND "
                        "(name = ?2 OR (class_name != '' AND class_name || '.' || name = ?2)) ORDER BY id");
    q.bind(1, repo);
    q.bind(2, text);
    std::vector<TestIdentity> out;
    while (q.executeStep()) out.push_back(ReadIdentity(q, 0));
    if (out.empty()) return NotFound(RepoName(repo) + ": no test named \"" + text + "\"");
    return out;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": find tests")
}

Result<std::vector<HistoryEntry>> SqliteTestStore::History(const std::string& repo, int64_t test_id,
                                                           const Window& window) const {
  SLIPWAY_RETURN_IF_ERROR(CheckWindow(window));
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    SLIPWAY_RETURN_IF_ERROR(IdentityById(*db_, repo, test_id).status());
    std::vector<WindowRun> runs = WindowRuns(*db_, repo, window);
    std::vector<HistoryEntry> out;
    if (runs.empty()) return out;
    // The test's cases from the oldest window run on (the index's range),
    // each run's first.
    std::map<int64_t, const WindowRun*> by_id;
    for (const WindowRun& r : runs) by_id.emplace(r.id, &r);
    SQLite::Statement q(*db_,
                        "SELECT c.run_id, c.status, c.duration_us, ifnull(o.message, '') FROM test_cases c "
                        "LEFT JOIN test_outputs o ON o.run_id = c.run_id AND o.idx = c.idx "
                        "WHERE c.test_id = ? AND c.run_id >= ? ORDER BY c.run_id DESC, c.idx");
    q.bind(1, test_id);
    q.bind(2, runs.back().id);
    while (q.executeStep()) {
      int64_t run_id = q.getColumn(0).getInt64();
      auto it = by_id.find(run_id);
      if (it == by_id.end() || (!out.empty() && out.back().run_id == run_id)) continue;
      HistoryEntry e;
      e.run_id = run_id;
      e.commit = it->second->commit;
      e.branch = it->second->branch;
      e.run_status = it->second->status;
      e.queued_unix_ms = it->second->queued_unix_ms;
      e.status = StatusOf(q.getColumn(1).getInt());
      e.duration_us = q.getColumn(2).getInt64();
      e.message = q.getColumn(3).getString();
      out.push_back(std::move(e));
    }
    return out;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": history of test " + std::to_string(test_id))
}

// The flaky query (docs/tests.md, "Flaky tests"), without reading every
// case of the window:
//  (a) same commit: the failing cases (a partial index) of the window runs
//      whose commit ran more than once, each checked for a passing case of
//      its test in another run of that commit;
//  (b) flips: a flip counts only when, in the run where the test failed,
//      no other test failed. So only a test that was some window run's
//      only failing test can reach min_flips, and it needs at least
//      ceil(min_flips / 2) such runs (each run of failures is entered and
//      left once). Those few candidates' results are read by the test's
//      index and walked in run order, per branch.
Result<std::vector<FlakyTest>> SqliteTestStore::Flaky(const std::string& repo,
                                                      const FlakyQuery& query) const {
  SLIPWAY_RETURN_IF_ERROR(CheckWindow(query.window));
  if (query.min_flips < 1 || query.min_flips > kMaxFlips) {
    return InvalidArgument("min_flips " + std::to_string(query.min_flips) + " is outside 1.." +
                           std::to_string(kMaxFlips));
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    std::vector<WindowRun> runs = WindowRuns(*db_, repo, query.window);
    std::vector<FlakyTest> out;
    if (runs.empty()) return out;
    std::unordered_map<int64_t, const WindowRun*> by_id;
    std::map<std::string, std::vector<const WindowRun*>> by_commit;
    for (const WindowRun& r : runs) {
      by_id.emplace(r.id, &r);
      if (!r.commit.empty()) by_commit[r.commit].push_back(&r);
    }
    SQLite::Statement failing(
        *db_, "SELECT DISTINCT test_id FROM test_cases WHERE run_id = ? AND status IN (1, 2)");
    auto failing_tests = [&](int64_t run_id) {
      std::vector<int64_t> ids;
      failing.bind(1, run_id);
      while (failing.executeStep()) ids.push_back(failing.getColumn(0).getInt64());
      failing.reset();
      return ids;
    };

    // (a) test -> commits it both failed and passed on.
    std::map<int64_t, std::set<std::string>> same_commit;
    SQLite::Statement passed(
        *db_, "SELECT 1 FROM test_cases WHERE test_id = ? AND run_id = ? AND status = 0 LIMIT 1");
    for (const auto& [commit, commit_runs] : by_commit) {
      if (commit_runs.size() < 2) continue;
      for (const WindowRun* r : commit_runs) {
        if (r->failing_tests == 0) continue;
        for (int64_t test : failing_tests(r->id)) {
          if (same_commit[test].count(commit)) continue;
          for (const WindowRun* other : commit_runs) {
            if (other == r) continue;
            passed.bind(1, test);
            passed.bind(2, other->id);
            bool ok = passed.executeStep();
            passed.reset();
            if (ok) {
              same_commit[test].insert(commit);
              break;
            }
          }
        }
      }
    }
    for (auto it = same_commit.begin(); it != same_commit.end();) {
      it = it->second.empty() ? same_commit.erase(it) : std::next(it);
    }

    // (b) candidates: tests that were a window run's only failing test
    // often enough (pull request runs test their own heads, not a branch).
    std::map<int64_t, int> alone;
    for (const WindowRun& r : runs) {
      if (r.failing_tests != 1 || r.pull_request || r.branch.empty()) continue;
      for (int64_t test : failing_tests(r.id)) ++alone[test];
    }
    std::set<int64_t> candidates;
    for (const auto& [test, n] : alone) {
      if (2 * n >= query.min_flips) candidates.insert(test);
    }
    for (const auto& [test, commits] : same_commit) candidates.insert(test);

    SQLite::Statement results(
        *db_, "SELECT run_id, status FROM test_cases WHERE test_id = ? AND run_id >= ? ORDER BY run_id");
    SQLite::Statement identity(*db_, "SELECT id, suite, class_name, name FROM tests WHERE id = ?");
    const int64_t oldest = runs.back().id;
    for (int64_t test : candidates) {
      // The test's result per window run, oldest first.
      std::vector<std::pair<const WindowRun*, RunResult>> seq;
      results.bind(1, test);
      results.bind(2, oldest);
      while (results.executeStep()) {
        auto it = by_id.find(results.getColumn(0).getInt64());
        if (it == by_id.end()) continue;
        if (seq.empty() || seq.back().first != it->second) seq.push_back({it->second, RunResult{}});
        seq.back().second.Add(results.getColumn(1).getInt());
      }
      results.reset();
      FlakyTest f;
      std::map<std::string, int> last_by_branch;  // branch -> the result before, 0 or 1
      std::map<std::string, const WindowRun*> last_run;
      const WindowRun* last_failure = nullptr;
      for (const auto& [run, result] : seq) {
        if (result.code == 3 || result.code == -1) continue;
        const int now = Failing(result.code) ? 1 : 0;
        ++f.runs;
        if (now) {
          ++f.failures;
          last_failure = run;
        }
        if (run->pull_request || run->branch.empty()) continue;
        auto before = last_by_branch.find(run->branch);
        if (before != last_by_branch.end() && before->second != now) {
          const WindowRun* failed_in = now ? run : last_run[run->branch];
          if (failed_in->failing_tests == 1) ++f.flips;
        }
        last_by_branch[run->branch] = now;
        last_run[run->branch] = run;
      }
      auto commits = same_commit.find(test);
      if (commits != same_commit.end()) f.commits.assign(commits->second.begin(), commits->second.end());
      if (f.flips < query.min_flips && f.commits.empty()) continue;
      identity.bind(1, test);
      if (identity.executeStep()) f.test = ReadIdentity(identity, 0);
      identity.reset();
      if (last_failure) {
        f.last_failure_run = last_failure->id;
        std::tie(f.last_failure_message, f.last_failure_type) = FailureOf(*db_, last_failure->id, test);
      }
      out.push_back(std::move(f));
    }
    std::sort(out.begin(), out.end(), [](const FlakyTest& a, const FlakyTest& b) {
      if (a.flips != b.flips) return a.flips > b.flips;
      if (a.commits.size() != b.commits.size()) return a.commits.size() > b.commits.size();
      return a.test.id < b.test.id;
    });
    return out;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": flaky tests")
}

Result<std::vector<SlowTest>> SqliteTestStore::Slowest(const std::string& repo, const Window& window,
                                                       int limit) const {
  SLIPWAY_RETURN_IF_ERROR(CheckWindow(window));
  if (limit < 1 || limit > kMaxCaseLimit) {
    return InvalidArgument("limit " + std::to_string(limit) + " is outside 1.." +
                           std::to_string(kMaxCaseLimit));
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    std::vector<WindowRun> runs = WindowRuns(*db_, repo, window);
    // test -> durations, newest run first (the window is newest first).
    std::unordered_map<int64_t, std::vector<int64_t>> durations;
    SQLite::Statement q(
        *db_,
        "SELECT test_id, duration_us FROM test_cases WHERE run_id = ? AND status IN (0, 1, 2) ORDER BY idx");
    for (const WindowRun& r : runs) {
      q.bind(1, r.id);
      std::set<int64_t> seen;  // a test's first case in the run
      while (q.executeStep()) {
        int64_t test = q.getColumn(0).getInt64();
        if (seen.insert(test).second) durations[test].push_back(q.getColumn(1).getInt64());
      }
      q.reset();
    }
    std::vector<SlowTest> all;
    all.reserve(durations.size());
    for (auto& [test, d] : durations) {
      SlowTest s;
      s.test.id = test;
      s.runs = static_cast<int>(d.size());
      s.latest_us = d.front();
      s.max_us = *std::max_element(d.begin(), d.end());
      std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
      s.median_us = d[d.size() / 2];
      all.push_back(s);
    }
    std::sort(all.begin(), all.end(), [](const SlowTest& a, const SlowTest& b) {
      if (a.median_us != b.median_us) return a.median_us > b.median_us;
      return a.test.id < b.test.id;
    });
    if (all.size() > static_cast<size_t>(limit)) all.resize(static_cast<size_t>(limit));
    SQLite::Statement identity(*db_, "SELECT id, suite, class_name, name FROM tests WHERE id = ?");
    for (SlowTest& s : all) {
      identity.bind(1, s.test.id);
      if (identity.executeStep()) s.test = ReadIdentity(identity, 0);
      identity.reset();
    }
    return all;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": slowest tests")
}

#undef SLIPWAY_DB_CATCH

}  // namespace slipway::pipelines

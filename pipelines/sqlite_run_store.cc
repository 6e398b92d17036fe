#include "pipelines/sqlite_run_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/database.h"
#include "pipelines/store_rows.h"

namespace slipway::pipelines {

namespace {

// This module's name in the database's schema_versions table.
constexpr char kComponent[] = "pipelines";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE repositories (
      name TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      branch_filter TEXT NOT NULL,
      credential_kind TEXT NOT NULL,
      credential_sealed BLOB NOT NULL,
      timeout_ms INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL,
      millicpus INTEGER NOT NULL,
      pids INTEGER NOT NULL,
      created_unix_ms INTEGER NOT NULL
    );
    CREATE TABLE repo_secrets (
      repo TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
      key TEXT NOT NULL,
      sealed BLOB NOT NULL,
      PRIMARY KEY (repo, key)
    ) WITHOUT ROWID;
    -- repo is NULL for `pipeline exec` runs, which belong to no repository.
    CREATE TABLE runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      repo TEXT REFERENCES repositories(name) ON DELETE CASCADE,
      branch TEXT NOT NULL,
      tag TEXT NOT NULL,
      commit_id TEXT NOT NULL,
      author TEXT NOT NULL,
      message TEXT NOT NULL,
      event TEXT NOT NULL,
      status TEXT NOT NULL,
      queued_unix_ms INTEGER NOT NULL,
      started_unix_ms INTEGER NOT NULL,
      finished_unix_ms INTEGER NOT NULL,
      error TEXT NOT NULL,
      source_dir TEXT NOT NULL,
      rerun_of INTEGER NOT NULL
    );
    -- ListRuns' filters, each ending in id for the newest-first paging.
    CREATE INDEX runs_repo ON runs(repo, id);
    CREATE INDEX runs_status ON runs(status, id);
    CREATE INDEX runs_event ON runs(event, id);
    CREATE INDEX runs_branch ON runs(branch, id);
    CREATE INDEX runs_commit ON runs(commit_id);
    CREATE INDEX runs_queued ON runs(queued_unix_ms);
    CREATE TABLE steps (
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      idx INTEGER NOT NULL,
      name TEXT NOT NULL,
      kind INTEGER NOT NULL,  -- StepKind: 0 step, 1 service, 2 setup
      status TEXT NOT NULL,
      reason TEXT NOT NULL,
      exit_code INTEGER NOT NULL,
      started_unix_ms INTEGER NOT NULL,
      finished_unix_ms INTEGER NOT NULL,
      duration_ms INTEGER NOT NULL,
      peak_memory_bytes INTEGER NOT NULL,
      cpu_ns INTEGER NOT NULL,
      container_id TEXT NOT NULL,
      error TEXT NOT NULL,
      timeout_ms INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL,
      millicpus INTEGER NOT NULL,
      pids INTEGER NOT NULL,
      PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX steps_order ON steps(run_id, idx);
    )sql",
    // 2: webhooks (issue 13): the repository's forge, its sealed webhook
    // secret and status token; a run's pull request and what superseded it;
    // the deliveries seen, so that a replay is not run twice. Defaults keep
    // the rows of version 1 as they were: no forge, nothing superseded.
    R"sql(
    ALTER TABLE repositories ADD COLUMN forge TEXT NOT NULL DEFAULT '';
    ALTER TABLE repositories ADD COLUMN full_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE repositories ADD COLUMN status_api TEXT NOT NULL DEFAULT '';
    ALTER TABLE repositories ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE repositories ADD COLUMN webhook_secret_sealed BLOB NOT NULL DEFAULT x'';
    ALTER TABLE repositories ADD COLUMN status_token_sealed BLOB NOT NULL DEFAULT x'';
    ALTER TABLE repositories ADD COLUMN cancel_superseded INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN pull_request INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN head_ref TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN no_secrets INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN superseded_by INTEGER NOT NULL DEFAULT 0;
    -- The runs of one pull request (superseding); most runs have none.
    CREATE INDEX runs_pull_request ON runs(repo, pull_request, id) WHERE pull_request != 0;
    CREATE TABLE deliveries (
      forge TEXT NOT NULL,
      delivery_id TEXT NOT NULL,
      seen_unix_ms INTEGER NOT NULL,
      PRIMARY KEY (forge, delivery_id)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_seen ON deliveries(seen_unix_ms);
    )sql",
    // 3: test results (issue 14) and promotion (issue 15): a run's test
    // counts and report warnings (a JSON array), the image it built, the
    // digest of its pipeline file, its promotion plan and state. Runs of
    // version 2 had none of these.
    R"sql(
    ALTER TABLE runs ADD COLUMN tests_total INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN tests_passed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN tests_failed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN tests_errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN tests_skipped INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE runs ADD COLUMN image_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN pipeline_digest TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN promote_plan TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN promotion_status TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN promotion_error TEXT NOT NULL DEFAULT '';
    )sql",
    // 4: the dashboard (issue 18): the steps a step waits for (a JSON array
    // of names), for its graph. Steps of version 3 had none recorded.
    R"sql(
    ALTER TABLE steps ADD COLUMN needs TEXT NOT NULL DEFAULT '[]';
    -- The newest run of each branch of a repository (branches, badges).
    CREATE INDEX runs_repo_branch ON runs(repo, branch, id);
    )sql",
};

constexpr int kMaxLimit = 500;
constexpr size_t kMinCommitPrefix = 4;

// At most this many expired deliveries are dropped per RecordDelivery, so
// that one call's cost is bounded; each call adds at most one, so the
// expired ones still drain.
constexpr int kDeliveryPruneBatch = 64;
constexpr size_t kMaxDeliveryIdBytes = 512;

constexpr char kRepoColumns[] =
    "name, url, branch_filter, credential_kind, credential_sealed, timeout_ms, memory_bytes, millicpus, "
    "pids, created_unix_ms, forge, full_name, status_api, project_id, webhook_secret_sealed, "
    "status_token_sealed, cancel_superseded";
constexpr char kRunColumns[] =
    "id, repo, branch, tag, commit_id, author, message, event, status, queued_unix_ms, started_unix_ms, "
    "finished_unix_ms, error, source_dir, rerun_of, pull_request, head_ref, no_secrets, superseded_by, "
    "tests_total, tests_passed, tests_failed, tests_errors, tests_skipped, warnings, image_id, "
    "pipeline_digest, promote_plan, promotion_status, promotion_error";
constexpr char kStepColumns[] =
    "run_id, idx, name, kind, status, reason, exit_code, started_unix_ms, finished_unix_ms, duration_ms, "
    "peak_memory_bytes, cpu_ns, container_id, error, timeout_ms, memory_bytes, millicpus, pids, needs";

constexpr int kRunColumnCount = 30;

// ", ?" `n` times.
std::string RepeatPlaceholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += ", ?";
  return out;
}

// Binary-safe: sealed values are bytes, not text.
void BindBlob(SQLite::Statement& q, int index, const std::string& bytes) {
  q.bind(index, bytes.data(), static_cast<int>(bytes.size()));
}

void BindLimits(SQLite::Statement& q, int* i, const StepLimits& limits) {
  q.bind((*i)++, limits.timeout_ms);
  q.bind((*i)++, limits.memory_bytes);
  q.bind((*i)++, limits.millicpus);
  q.bind((*i)++, limits.pids);
}

StepLimits ReadLimits(SQLite::Statement& q, int first) {
  StepLimits limits;
  limits.timeout_ms = q.getColumn(first).getInt64();
  limits.memory_bytes = q.getColumn(first + 1).getInt64();
  limits.millicpus = q.getColumn(first + 2).getInt64();
  limits.pids = q.getColumn(first + 3).getInt64();
  return limits;
}

// Every column in kRepoColumns order, from index 1.
void BindRepo(SQLite::Statement& q, const Repository& r) {
  int i = 1;
  q.bind(i++, r.name);
  q.bind(i++, r.url);
  q.bind(i++, r.branch_filter);
  q.bind(i++, r.credential_kind);
  BindBlob(q, i++, r.credential_sealed);
  BindLimits(q, &i, r.defaults);
  q.bind(i++, r.created_unix_ms);
  q.bind(i++, r.forge);
  q.bind(i++, r.full_name);
  q.bind(i++, r.status_api);
  q.bind(i++, r.project_id);
  BindBlob(q, i++, r.webhook_secret_sealed);
  BindBlob(q, i++, r.status_token_sealed);
  q.bind(i++, r.cancel_superseded ? 1 : 0);
}

Repository ReadRepo(SQLite::Statement& q) {
  Repository r;
  r.name = q.getColumn(0).getString();
  r.url = q.getColumn(1).getString();
  r.branch_filter = q.getColumn(2).getString();
  r.credential_kind = q.getColumn(3).getString();
  r.credential_sealed = q.getColumn(4).getString();  // the BLOB's bytes, NULs included
  r.defaults = ReadLimits(q, 5);
  r.created_unix_ms = q.getColumn(9).getInt64();
  r.forge = q.getColumn(10).getString();
  r.full_name = q.getColumn(11).getString();
  r.status_api = q.getColumn(12).getString();
  r.project_id = q.getColumn(13).getString();
  r.webhook_secret_sealed = q.getColumn(14).getString();
  r.status_token_sealed = q.getColumn(15).getString();
  r.cancel_superseded = q.getColumn(16).getInt() != 0;
  return r;
}

// Every column of kRunColumns but id, from index `first`.
void BindRun(SQLite::Statement& q, int first, const Run& run) {
  int i = first;
  if (run.repo.empty()) {
    q.bind(i++);  // NULL: an exec run, of no repository
  } else {
    q.bind(i++, run.repo);
  }
  q.bind(i++, run.branch);
  q.bind(i++, run.tag);
  q.bind(i++, run.commit);
  q.bind(i++, run.author);
  q.bind(i++, run.message);
  q.bind(i++, EventName(run.event));
  q.bind(i++, RunStatusName(run.status));
  q.bind(i++, run.queued_unix_ms);
  q.bind(i++, run.started_unix_ms);
  q.bind(i++, run.finished_unix_ms);
  q.bind(i++, run.error);
  q.bind(i++, run.source_dir);
  q.bind(i++, run.rerun_of);
  q.bind(i++, run.pull_request);
  q.bind(i++, run.head_ref);
  q.bind(i++, run.no_secrets ? 1 : 0);
  q.bind(i++, run.superseded_by);
  q.bind(i++, run.tests.total);
  q.bind(i++, run.tests.passed);
  q.bind(i++, run.tests.failed);
  q.bind(i++, run.tests.errors);
  q.bind(i++, run.tests.skipped);
  q.bind(i++, nlohmann::json(run.warnings).dump());
  q.bind(i++, run.image_id);
  q.bind(i++, run.pipeline_digest);
  q.bind(i++, run.promote_plan);
  q.bind(i++, run.promotion_status);
  q.bind(i++, run.promotion_error);
}

// kInternal if a stored name is unknown (a newer slipway wrote it, or the
// file was edited): better than guessing a state.
Result<Run> ReadRun(SQLite::Statement& q) {
  Run run;
  run.id = q.getColumn(0).getInt64();
  run.repo = q.getColumn(1).isNull() ? "" : q.getColumn(1).getString();
  run.branch = q.getColumn(2).getString();
  run.tag = q.getColumn(3).getString();
  run.commit = q.getColumn(4).getString();
  run.author = q.getColumn(5).getString();
  run.message = q.getColumn(6).getString();
  std::string event = q.getColumn(7).getString();
  auto parsed_event = ParseEvent(event);
  if (!parsed_event) return Internal(RunName(run.id) + ": stored event \"" + event + "\" is unknown");
  run.event = *parsed_event;
  std::string status = q.getColumn(8).getString();
  auto parsed_status = ParseRunStatus(status);
  if (!parsed_status) return Internal(RunName(run.id) + ": stored status \"" + status + "\" is unknown");
  run.status = *parsed_status;
  run.queued_unix_ms = q.getColumn(9).getInt64();
  run.started_unix_ms = q.getColumn(10).getInt64();
  run.finished_unix_ms = q.getColumn(11).getInt64();
  run.error = q.getColumn(12).getString();
  run.source_dir = q.getColumn(13).getString();
  run.rerun_of = q.getColumn(14).getInt64();
  run.pull_request = q.getColumn(15).getInt64();
  run.head_ref = q.getColumn(16).getString();
  run.no_secrets = q.getColumn(17).getInt() != 0;
  run.superseded_by = q.getColumn(18).getInt64();
  run.tests.total = q.getColumn(19).getInt64();
  run.tests.passed = q.getColumn(20).getInt64();
  run.tests.failed = q.getColumn(21).getInt64();
  run.tests.errors = q.getColumn(22).getInt64();
  run.tests.skipped = q.getColumn(23).getInt64();
  auto warnings = nlohmann::json::parse(q.getColumn(24).getString(), nullptr, /*allow_exceptions=*/false);
  if (!warnings.is_array()) return Internal(RunName(run.id) + ": stored warnings are not a JSON array");
  for (const auto& w : warnings) {
    if (w.is_string()) run.warnings.push_back(w.get<std::string>());
  }
  run.image_id = q.getColumn(25).getString();
  run.pipeline_digest = q.getColumn(26).getString();
  run.promote_plan = q.getColumn(27).getString();
  run.promotion_status = q.getColumn(28).getString();
  run.promotion_error = q.getColumn(29).getString();
  return run;
}

Result<std::vector<Run>> ReadRuns(SQLite::Statement& q) {
  std::vector<Run> out;
  while (q.executeStep()) {
    SLIPWAY_ASSIGN_OR_RETURN(Run run, ReadRun(q));
    out.push_back(std::move(run));
  }
  return out;
}

Result<StepRecord> ReadStep(SQLite::Statement& q) {
  StepRecord s;
  s.run_id = q.getColumn(0).getInt64();
  s.index = q.getColumn(1).getInt();
  s.name = q.getColumn(2).getString();
  switch (q.getColumn(3).getInt()) {
    case 1: s.kind = StepKind::kService; break;
    case 2: s.kind = StepKind::kSetup; break;
    default: s.kind = StepKind::kStep;
  }
  std::string status = q.getColumn(4).getString();
  auto parsed = ParseStepStatus(status);
  if (!parsed) {
    return Internal(RunName(s.run_id) + ": step " + s.name + ": stored status \"" + status + "\" is unknown");
  }
  s.status = *parsed;
  s.reason = q.getColumn(5).getString();
  s.exit_code = q.getColumn(6).getInt();
  s.started_unix_ms = q.getColumn(7).getInt64();
  s.finished_unix_ms = q.getColumn(8).getInt64();
  s.duration_ms = q.getColumn(9).getInt64();
  s.peak_memory_bytes = q.getColumn(10).getInt64();
  s.cpu_ns = q.getColumn(11).getInt64();
  s.container_id = q.getColumn(12).getString();
  s.error = q.getColumn(13).getString();
  s.limits = ReadLimits(q, 14);
  // Written by PutStep as a JSON array of strings; anything else reads as none.
  nlohmann::json needs = nlohmann::json::parse(q.getColumn(18).getString(), nullptr, false);
  if (needs.is_array()) {
    for (const auto& name : needs) {
      if (name.is_string()) s.needs.push_back(name.get<std::string>());
    }
  }
  return s;
}

// "'success', 'failure', ...": the final run statuses for SQL, from IsFinal()
// so that the two cannot disagree.
std::string FinalRunStatusList() {
  std::string out;
  for (int i = 0; i <= static_cast<int>(RunStatus::kInterrupted); ++i) {
    auto s = static_cast<RunStatus>(i);
    if (!IsFinal(s)) continue;
    out += std::string(out.empty() ? "'" : ", '") + RunStatusName(s) + "'";
  }
  return out;
}

// The filter checked before any SQL runs.
Status CheckFilter(const RunFilter& f) {
  if (f.limit < 1 || f.limit > kMaxLimit) {
    return InvalidArgument("limit " + std::to_string(f.limit) + " is outside 1.." +
                           std::to_string(kMaxLimit));
  }
  if (!f.commit.empty()) {
    if (!IsLowerHex(Lower(f.commit)) || f.commit.size() < kMinCommitPrefix || f.commit.size() > 40) {
      return InvalidArgument("commit \"" + f.commit + "\" is not a prefix of 4 to 40 hex digits");
    }
  }
  if (f.since_unix_ms < 0 || f.until_unix_ms < 0 || f.before_id < 0 || f.pull_request < 0) {
    return InvalidArgument("since, until, before and pull_request must not be negative");
  }
  return Status::Ok();
}

}  // namespace

SqliteRunStore::SqliteRunStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
SqliteRunStore::~SqliteRunStore() = default;

Result<std::unique_ptr<SqliteRunStore>> SqliteRunStore::Open(const std::string& db_path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  return std::unique_ptr<SqliteRunStore>(new SqliteRunStore(std::move(db)));
}

// Every method below: the lock, one transaction (or one statement), and
// every exception of SQLite turned into a Status naming the object
// (DatabaseError: kResourceExhausted for a full disk).
#define SLIPWAY_DB_CATCH(what)                             \
  catch (const std::exception& e) {                        \
    return DatabaseError(*db_, "run store: " + (what), e); \
  }

Status SqliteRunStore::AddRepository(const Repository& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO repositories (") + kRepoColumns +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    BindRepo(q, repo);
    q.exec();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return AlreadyExists(RepoName(repo.name) + ": already exists");
    }
    return DatabaseError(*db_, "run store: add " + RepoName(repo.name), e);
  }
  SLIPWAY_DB_CATCH("add " + RepoName(repo.name))
}

Status SqliteRunStore::UpdateRepository(const Repository& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(
        *db_,
        "UPDATE repositories SET url = ?2, branch_filter = ?3, credential_kind = ?4, "
        "credential_sealed = ?5, timeout_ms = ?6, memory_bytes = ?7, millicpus = ?8, pids = ?9, "
        "created_unix_ms = ?10, forge = ?11, full_name = ?12, status_api = ?13, project_id = ?14, "
        "webhook_secret_sealed = ?15, status_token_sealed = ?16, cancel_superseded = ?17 WHERE name = ?1");
    BindRepo(q, repo);
    if (q.exec() == 0) return NotFound(RepoName(repo.name) + ": not found");
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH("update " + RepoName(repo.name))
}

Result<Repository> SqliteRunStore::GetRepository(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kRepoColumns + " FROM repositories WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return NotFound(RepoName(name) + ": not found");
    return ReadRepo(q);
  }
  SLIPWAY_DB_CATCH("get " + RepoName(name))
}

Result<std::vector<Repository>> SqliteRunStore::ListRepositories() const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kRepoColumns + " FROM repositories ORDER BY name");
    std::vector<Repository> out;
    while (q.executeStep()) out.push_back(ReadRepo(q));
    return out;
  }
  SLIPWAY_DB_CATCH(std::string("list repositories"))
}

Status SqliteRunStore::RemoveRepository(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    // The cascades would do it alone; deleting steps, runs and secrets first,
    // in the same transaction, keeps the removal whole even on a connection
    // where someone turned foreign keys off.
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    if (!RepoExists(*db_, name)) return NotFound(RepoName(name) + ": not found");
    for (const char* sql : {"DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE repo = ?)",
                            "DELETE FROM runs WHERE repo = ?", "DELETE FROM repo_secrets WHERE repo = ?",
                            "DELETE FROM repositories WHERE name = ?"}) {
      SQLite::Statement q(*db_, sql);
      q.bind(1, name);
      q.exec();
    }
    tx.commit();
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH("remove " + RepoName(name))
}

Status SqliteRunStore::PutSecret(const std::string& repo, const std::string& key, const std::string& sealed) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    SQLite::Statement q(*db_,
                        "INSERT INTO repo_secrets (repo, key, sealed) VALUES (?, ?, ?) "
                        "ON CONFLICT(repo, key) DO UPDATE SET sealed = excluded.sealed");
    q.bind(1, repo);
    q.bind(2, key);
    BindBlob(q, 3, sealed);
    q.exec();
    tx.commit();
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": put secret " + key)
}

Result<std::string> SqliteRunStore::GetSecret(const std::string& repo, const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT sealed FROM repo_secrets WHERE repo = ? AND key = ?");
    q.bind(1, repo);
    q.bind(2, key);
    if (q.executeStep()) return q.getColumn(0).getString();
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    return NotFound(RepoName(repo) + ": secret " + key + ": not found");
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": get secret " + key)
}

Result<std::vector<std::string>> SqliteRunStore::ListSecretNames(const std::string& repo) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);  // the existence check and the list, as of one moment
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    SQLite::Statement q(*db_, "SELECT key FROM repo_secrets WHERE repo = ? ORDER BY key");
    q.bind(1, repo);
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": list secrets")
}

Status SqliteRunStore::RemoveSecret(const std::string& repo, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM repo_secrets WHERE repo = ? AND key = ?");
    q.bind(1, repo);
    q.bind(2, key);
    if (q.exec() == 0) {
      if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
      return NotFound(RepoName(repo) + ": secret " + key + ": not found");
    }
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": remove secret " + key)
}

Result<Run> SqliteRunStore::AddRun(const Run& run) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    if (!run.repo.empty() && !RepoExists(*db_, run.repo)) return NotFound(RepoName(run.repo) + ": not found");
    // NULL for the id, then one placeholder for each other column.
    SQLite::Statement q(*db_, std::string("INSERT INTO runs (") + kRunColumns + ") VALUES (NULL" +
                                  RepeatPlaceholders(kRunColumnCount - 1) + ")");
    BindRun(q, 1, run);
    q.exec();
    Run stored = run;
    stored.id = db_->getLastInsertRowid();
    tx.commit();
    return stored;
  }
  SLIPWAY_DB_CATCH("add a run of " + (run.repo.empty() ? std::string("no repository") : RepoName(run.repo)))
}

Status SqliteRunStore::UpdateRun(const Run& run) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(
        *db_,
        "UPDATE runs SET repo = ?, branch = ?, tag = ?, commit_id = ?, author = ?, message = ?, "
        "event = ?, status = ?, queued_unix_ms = ?, started_unix_ms = ?, finished_unix_ms = ?, "
        "error = ?, source_dir = ?, rerun_of = ?, pull_request = ?, head_ref = ?, no_secrets = ?, "
        "superseded_by = ?, tests_total = ?, tests_passed = ?, tests_failed = ?, tests_errors = ?, "
        "tests_skipped = ?, warnings = ?, image_id = ?, pipeline_digest = ?, promote_plan = ?, "
        "promotion_status = ?, promotion_error = ? WHERE id = ?");
    BindRun(q, 1, run);
    q.bind(kRunColumnCount, run.id);
    if (q.exec() == 0) return NotFound(RunName(run.id) + ": not found");
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return NotFound(RunName(run.id) + ": " + RepoName(run.repo) + ": not found");
    }
    return DatabaseError(*db_, "run store: update " + RunName(run.id), e);
  }
  SLIPWAY_DB_CATCH("update " + RunName(run.id))
}

Result<Run> SqliteRunStore::GetRun(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return NotFound(RunName(id) + ": not found");
    return ReadRun(q);
  }
  SLIPWAY_DB_CATCH("get " + RunName(id))
}

Result<std::vector<Run>> SqliteRunStore::ListRuns(const RunFilter& f) const {
  SLIPWAY_RETURN_IF_ERROR(CheckFilter(f));
  // Only fixed SQL text is concatenated; every value is bound.
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1";
  if (!f.repo.empty()) sql += " AND repo = :repo";
  if (!f.branch.empty()) sql += " AND branch = :branch";
  // A prefix as a range, which the index serves (LIKE would not: it ignores
  // case). Commit ids are lowercase hex, all below '~'.
  if (!f.commit.empty()) sql += " AND commit_id >= :commit_lo AND commit_id < :commit_hi";
  if (f.pull_request > 0) sql += " AND pull_request = :pull_request";
  if (f.status) sql += " AND status = :status";
  if (f.event) sql += " AND event = :event";
  if (f.since_unix_ms > 0) sql += " AND queued_unix_ms >= :since";
  if (f.until_unix_ms > 0) sql += " AND queued_unix_ms < :until";
  if (f.before_id > 0) sql += " AND id < :before";
  sql += " ORDER BY id DESC LIMIT :limit";
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, sql);
    if (!f.repo.empty()) q.bind(":repo", f.repo);
    if (!f.branch.empty()) q.bind(":branch", f.branch);
    if (!f.commit.empty()) {
      std::string prefix = Lower(f.commit);
      q.bind(":commit_lo", prefix);
      q.bind(":commit_hi", prefix + "~");
    }
    if (f.pull_request > 0) q.bind(":pull_request", f.pull_request);
    if (f.status) q.bind(":status", RunStatusName(*f.status));
    if (f.event) q.bind(":event", EventName(*f.event));
    if (f.since_unix_ms > 0) q.bind(":since", f.since_unix_ms);
    if (f.until_unix_ms > 0) q.bind(":until", f.until_unix_ms);
    if (f.before_id > 0) q.bind(":before", f.before_id);
    q.bind(":limit", f.limit);
    return ReadRuns(q);
  }
  SLIPWAY_DB_CATCH(std::string("list runs"))
}

Result<std::vector<Run>> SqliteRunStore::ListBranches(const std::string& repo) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    if (!RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    // One MAX(id) per branch through the (repo, branch, id) index.
    SQLite::Statement q(*db_, std::string("SELECT ") + kRunColumns +
                                  " FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE repo = ? AND "
                                  "branch != '' GROUP BY branch) ORDER BY id DESC");
    q.bind(1, repo);
    return ReadRuns(q);
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": list branches")
}

Result<std::vector<int64_t>> SqliteRunStore::RunIdsWithStatus(RunStatus status) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT id FROM runs WHERE status = ? ORDER BY id");
    q.bind(1, RunStatusName(status));
    std::vector<int64_t> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
    return out;
  }
  SLIPWAY_DB_CATCH(std::string("runs ") + RunStatusName(status))
}

Result<std::vector<int64_t>> SqliteRunStore::PruneRuns(const std::string& repo, int keep) {
  if (keep < 0)
    return InvalidArgument(RepoName(repo) + ": prune: keep " + std::to_string(keep) + " is negative");
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    // "": the runs of no repository (`pipeline exec`), whose repo is NULL.
    if (!repo.empty() && !RepoExists(*db_, repo)) return NotFound(RepoName(repo) + ": not found");
    SQLite::Statement q(*db_, "SELECT id FROM runs WHERE repo IS ? AND status IN (" + FinalRunStatusList() +
                                  ") ORDER BY id DESC LIMIT -1 OFFSET ?");
    if (repo.empty()) {
      q.bind(1);
    } else {
      q.bind(1, repo);
    }
    q.bind(2, keep);
    std::vector<int64_t> ids;
    while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
    std::reverse(ids.begin(), ids.end());
    SQLite::Statement del(*db_, "DELETE FROM runs WHERE id = ?");  // steps go by cascade
    SQLite::Statement del_steps(*db_, "DELETE FROM steps WHERE run_id = ?");
    for (int64_t id : ids) {
      del_steps.bind(1, id);
      del_steps.exec();
      del_steps.reset();
      del.bind(1, id);
      del.exec();
      del.reset();
    }
    tx.commit();
    return ids;
  }
  SLIPWAY_DB_CATCH(RepoName(repo) + ": prune runs")
}

Result<bool> SqliteRunStore::RecordDelivery(const std::string& forge, const std::string& delivery_id,
                                            int64_t now_unix_ms, int64_t keep_ms) {
  // The id is the forge's (hostile until checked): bounded, and never
  // repeated in a message.
  if (forge.empty() || delivery_id.empty() || delivery_id.size() > kMaxDeliveryIdBytes) {
    return InvalidArgument("delivery: forge and id must be given, the id at most 512 bytes");
  }
  if (keep_ms < 0 || now_unix_ms < 0) return InvalidArgument("delivery: negative time");
  const int64_t cutoff = now_unix_ms - keep_ms;
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement prune(*db_,
                            "DELETE FROM deliveries WHERE (forge, delivery_id) IN (SELECT forge, delivery_id "
                            "FROM deliveries WHERE seen_unix_ms < ? ORDER BY seen_unix_ms LIMIT ?)");
    prune.bind(1, cutoff);
    prune.bind(2, kDeliveryPruneBatch);
    prune.exec();
    // One statement decides: a new id is inserted; a known one is left alone
    // (a replay: 0 rows changed) unless its record has expired, which the
    // batch above may not have reached yet; it then counts as new.
    SQLite::Statement q(*db_,
                        "INSERT INTO deliveries (forge, delivery_id, seen_unix_ms) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT(forge, delivery_id) DO UPDATE SET seen_unix_ms = excluded.seen_unix_ms "
                        "WHERE deliveries.seen_unix_ms < ?4");
    q.bind(1, forge);
    q.bind(2, delivery_id);
    q.bind(3, now_unix_ms);
    q.bind(4, cutoff);
    bool first = q.exec() == 1;
    tx.commit();
    return first;
  }
  SLIPWAY_DB_CATCH("record a delivery of " + forge)
}

Status SqliteRunStore::ForgetDelivery(const std::string& forge, const std::string& delivery_id) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM deliveries WHERE forge = ? AND delivery_id = ?");
    q.bind(1, forge);
    q.bind(2, delivery_id);
    q.exec();
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH("forget a delivery of " + forge)
}

Status SqliteRunStore::PutStep(const StepRecord& s) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    if (!RunExists(*db_, s.run_id)) return NotFound(RunName(s.run_id) + ": not found");
    SQLite::Statement q(*db_, std::string("INSERT OR REPLACE INTO steps (") + kStepColumns +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    int i = 1;
    q.bind(i++, s.run_id);
    q.bind(i++, s.index);
    q.bind(i++, s.name);
    q.bind(i++, static_cast<int>(s.kind));
    q.bind(i++, StepStatusName(s.status));
    q.bind(i++, s.reason);
    q.bind(i++, s.exit_code);
    q.bind(i++, s.started_unix_ms);
    q.bind(i++, s.finished_unix_ms);
    q.bind(i++, s.duration_ms);
    q.bind(i++, s.peak_memory_bytes);
    q.bind(i++, s.cpu_ns);
    q.bind(i++, s.container_id);
    q.bind(i++, s.error);
    BindLimits(q, &i, s.limits);
    q.bind(i++, nlohmann::json(s.needs).dump());
    q.exec();
    tx.commit();
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH(RunName(s.run_id) + ": put step " + s.name)
}

Result<std::vector<StepRecord>> SqliteRunStore::ListSteps(int64_t run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Transaction tx(*db_);
    if (!RunExists(*db_, run_id)) return NotFound(RunName(run_id) + ": not found");
    SQLite::Statement q(
        *db_, std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = ? ORDER BY idx, name");
    q.bind(1, run_id);
    std::vector<StepRecord> out;
    while (q.executeStep()) {
      SLIPWAY_ASSIGN_OR_RETURN(StepRecord s, ReadStep(q));
      out.push_back(std::move(s));
    }
    return out;
  }
  SLIPWAY_DB_CATCH(RunName(run_id) + ": list steps")
}

#undef SLIPWAY_DB_CATCH

}  // namespace slipway::pipelines

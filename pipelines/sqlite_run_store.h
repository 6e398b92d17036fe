// SqliteRunStore: the RunStore in slipwayd's SQLite database (the same file
// as images and containers, <data_dir>/slipway.db, with its own component
// "pipelines" and numbered migrations).
//
// Tables: repositories; repo_secrets (sealed BLOBs, by repository and key);
// runs, whose ids come from AUTOINCREMENT so that an id is never handed out
// again after its run was pruned (a log file or a link naming run 12 never
// points to another run); steps, one row per (run, name). Secrets, runs and
// steps go with their repository (ON DELETE CASCADE, in one transaction);
// deliveries, the webhook deliveries seen (forge, id, when), pruned as new
// ones come.
//
// One connection guarded by a mutex: every call is one transaction, so a
// reader never sees half of an update.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pipelines/run_store.h"

namespace SQLite {
class Database;
}

namespace slipway::pipelines {

class SqliteRunStore : public RunStore {
 public:
  // Opens (creating) the database at `db_path` (OpenDatabase) and brings the
  // pipelines schema up to date.
  static Result<std::unique_ptr<SqliteRunStore>> Open(const std::string& db_path);
  ~SqliteRunStore() override;

  Status AddRepository(const Repository& repo) override;
  Status UpdateRepository(const Repository& repo) override;
  Result<Repository> GetRepository(const std::string& name) const override;
  Result<std::vector<Repository>> ListRepositories() const override;
  Status RemoveRepository(const std::string& name) override;

  Status PutSecret(const std::string& repo, const std::string& key, const std::string& sealed) override;
  Result<std::string> GetSecret(const std::string& repo, const std::string& key) const override;
  Result<std::vector<std::string>> ListSecretNames(const std::string& repo) const override;
  Status RemoveSecret(const std::string& repo, const std::string& key) override;

  // A run of a repository (non-empty `repo`) needs the repository:
  // kNotFound otherwise.
  Result<Run> AddRun(const Run& run) override;
  Status UpdateRun(const Run& run) override;
  Result<Run> GetRun(int64_t id) const override;
  // kInvalidArgument for a limit outside 1..500, a commit prefix that is not
  // 4 to 40 hex digits, or negative times or ids.
  Result<std::vector<Run>> ListRuns(const RunFilter& filter) const override;
  Result<std::vector<Run>> ListBranches(const std::string& repo) const override;
  Result<std::vector<int64_t>> RunIdsWithStatus(RunStatus status) const override;
  // Runs still queued or running are never removed; `keep` >= 0. The ids
  // come back oldest first.
  Result<std::vector<int64_t>> PruneRuns(const std::string& repo, int keep) override;

  // One transaction: at most 64 expired records (seen before now - keep_ms)
  // are dropped, then the delivery is recorded if new (or expired).
  // kInvalidArgument for an empty forge or id, an id over 512 bytes, or a
  // negative time.
  Result<bool> RecordDelivery(const std::string& forge, const std::string& delivery_id, int64_t now_unix_ms,
                              int64_t keep_ms) override;
  Status ForgetDelivery(const std::string& forge, const std::string& delivery_id) override;

  // kNotFound if the run does not exist.
  Status PutStep(const StepRecord& step) override;
  Result<std::vector<StepRecord>> ListSteps(int64_t run_id) const override;

 private:
  explicit SqliteRunStore(std::unique_ptr<SQLite::Database> db);

  mutable std::mutex mu_;  // guards db_: one statement sequence at a time
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace slipway::pipelines

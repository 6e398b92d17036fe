// RunStore: where repositories, their secrets, runs and steps are kept. The
// CI depends on this interface only; SqliteRunStore keeps them in slipwayd's
// SQLite database, and another backend (PostgreSQL, for several hosts) can be
// added beside it without touching the code that uses it.
//
// Contract of every implementation: thread-safe; each call is atomic (a
// reader never sees half of an update); errors name the object
// ("run 12: ...", "repository app: ..."); kNotFound for what does not
// exist; kResourceExhausted when the disk is full. Secrets and credentials
// are stored as given, already sealed: the store never sees plaintext.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/run_record.h"

namespace slipway::pipelines {

class RunStore {
 public:
  virtual ~RunStore() = default;

  // Repositories. AddRepository: kAlreadyExists for a name in use.
  virtual Status AddRepository(const Repository& repo) = 0;
  virtual Status UpdateRepository(const Repository& repo) = 0;
  virtual Result<Repository> GetRepository(const std::string& name) const = 0;
  virtual Result<std::vector<Repository>> ListRepositories() const = 0;  // by name
  // Removes the repository with its secrets, runs and steps.
  virtual Status RemoveRepository(const std::string& name) = 0;

  // A repository's secrets, sealed. PutSecret adds or replaces.
  virtual Status PutSecret(const std::string& repo, const std::string& key, const std::string& sealed) = 0;
  virtual Result<std::string> GetSecret(const std::string& repo, const std::string& key) const = 0;
  virtual Result<std::vector<std::string>> ListSecretNames(const std::string& repo) const = 0;  // sorted
  virtual Status RemoveSecret(const std::string& repo, const std::string& key) = 0;

  // Runs. AddRun ignores `run.id` and returns the run as stored, with its id.
  virtual Result<Run> AddRun(const Run& run) = 0;
  virtual Status UpdateRun(const Run& run) = 0;
  virtual Result<Run> GetRun(int64_t id) const = 0;
  // Newest first.
  virtual Result<std::vector<Run>> ListRuns(const RunFilter& filter) const = 0;
  // The newest run of each branch of `repo` that has runs (tag runs, which
  // have no branch, left out), newest first. kNotFound for an unknown
  // repository.
  virtual Result<std::vector<Run>> ListBranches(const std::string& repo) const = 0;
  // The ids of the runs in `status`, oldest first (the queue after a restart,
  // the runs a crash interrupted).
  virtual Result<std::vector<int64_t>> RunIdsWithStatus(RunStatus status) const = 0;
  // Removes the ended runs of `repo` ("": the runs of no repository, from
  // `pipeline exec`) but its newest `keep` ones (and their steps); returns
  // the ids removed, for their files to go too.
  virtual Result<std::vector<int64_t>> PruneRuns(const std::string& repo, int keep) = 0;

  // Webhook deliveries seen, by forge and delivery id: true the first time
  // (recorded), false for one seen before (a replay or a retry). Kept for
  // `keep_ms` (older records are dropped on the way).
  virtual Result<bool> RecordDelivery(const std::string& forge, const std::string& delivery_id,
                                      int64_t now_unix_ms, int64_t keep_ms) = 0;
  // Forgets a delivery recorded by RecordDelivery whose run could not be
  // queued, so that the forge's retry is run rather than taken for a replay.
  // A delivery not recorded is not an error.
  virtual Status ForgetDelivery(const std::string& forge, const std::string& delivery_id) = 0;

  // Steps, by (run_id, name): PutStep inserts or replaces.
  virtual Status PutStep(const StepRecord& step) = 0;
  virtual Result<std::vector<StepRecord>> ListSteps(int64_t run_id) const = 0;  // by index
};

}  // namespace slipway::pipelines

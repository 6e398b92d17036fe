// RunService: the CI's runs, from a trigger to a recorded result. What
// slipwayd's /api/v1/runs and /api/v1/repos/{name}/runs do.
//
// A run is queued by a trigger (Trigger, Exec, Rerun) and recorded at once;
// a scheduler starts queued runs, oldest first, while fewer than `max_runs`
// run. Each run then, on a thread of its own (RunExecutor):
//   fetch the commit into the repository's mirror, check it out into the
//   run's workspace (exec: copy the working tree) -> read .slipway.yml ->
//   build or pull its images -> start its services in one network namespace
//   and wait for their readiness checks -> run its steps as their graph
//   allows (in parallel where it does) -> record the result, remove the
//   run's containers and its workspace.
// Every service and step is a container of the ContainerService, labelled
// slipway.run=<id> and slipway.step=<name>, ending with its caller.
//
// Files, under `runs_dir`:
//   <id>/workspace/      the checkout, bind-mounted at /workspace in each step
//   <id>/logs/<n>.log    step (or service) n's output, framed as
//                        engine/runtime/frame.h, secrets masked, capped
//
// Crash safety: the queue is the store (queued runs survive a restart). A
// run found `running` by Recover() was interrupted: it is recorded
// `interrupted` (its steps too) and its workspace removed; its containers
// were stopped and removed by ContainerService::Reconcile() (they end with
// their caller).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "engine/containers/container_service.h"
#include "pipelines/image_provider.h"
#include "pipelines/repo_registry.h"
#include "pipelines/run_record.h"
#include "pipelines/run_store.h"
#include "pipelines/test_store.h"

namespace slipway::pipelines {

struct RunServiceOptions {
  std::string runs_dir;     // <data_dir>/runs
  std::string mirrors_dir;  // <data_dir>/repos: one bare mirror per repository
  int max_runs = 4;         // runs at once; more wait queued
  int64_t step_log_max_bytes = int64_t{8} << 20;
  // Workspaces of runs that did not succeed are kept this long (0: removed
  // when the run ends like every other).
  std::chrono::milliseconds keep_failed_workspaces{0};
  // After each run, its repository keeps only its newest `keep_runs` ended
  // runs (0: runs are kept until pruned by hand).
  int keep_runs = 0;
  // Limits of steps that set none and whose repository sets none, and the
  // most any step may ask for (0: no maximum).
  StepLimits default_limits;
  StepLimits max_limits;
  // Where the test cases of the runs' JUnit reports go (docs/tests.md);
  // null: reports are not read. Outlives the service.
  TestStore* tests = nullptr;
  // A report file larger than this is not read (a warning says so).
  int64_t reports_max_bytes = int64_t{64} << 20;
};

// What a manual trigger asks for: a branch (default: the remote's HEAD
// branch... "main" if unknown), a tag, or a commit.
struct TriggerRequest {
  std::string repo;
  std::string branch, tag, commit;  // manual: at most one of tag and commit; webhooks give commit too
  Event event = Event::kManual;
  // Webhooks: what the forge said of the commit, the pull request's number
  // and head ref (fetched instead of the branch), and whether its runs get
  // no secrets (from a fork).
  std::string author, message;
  int64_t pull_request = 0;
  std::string head_ref;
  bool no_secrets = false;
};

// Told when a run is queued, starts and ends (commit statuses, the
// dashboard's events), and when its steps start and end. Called on
// the thread that made the change, never under the service's lock, one call
// at a time and each run's changes in their order; must not block (queue the
// work) nor call back into the RunService's triggers or Cancel: a Trigger's
// caller (a webhook's answer) and every run's executor wait for it. RunChanged gets the run as recorded:
//   queued       Trigger, Exec, Rerun
//   running      the executor took it
//   final status the run ended, was cancelled (also while queued, also when
//                superseded), or found interrupted by Recover()
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void RunChanged(const Run& run) = 0;
  // A step, service or the run's setup started or ended (its record as
  // stored: running, or a final status, skipped included), with the run's
  // repository ("" for exec runs). Called as RunChanged is, in order with
  // the run's own changes. Default: nothing.
  virtual void StepChanged(const std::string& repo, const StepRecord& step) {}
};

class RunService {
 public:
  // Everything given outlives the service.
  static Result<std::unique_ptr<RunService>> Open(const RunServiceOptions& options, RunStore& store,
                                                  RepoRegistry& repos, ContainerService& containers,
                                                  ImageProvider& images, EventLog& log);
  ~RunService();  // Shutdown(0) if not done

  // After ContainerService::Reconcile(), before Start(): runs left running
  // become interrupted. Returns how many.
  Result<int> Recover();
  // Starts the scheduler.
  void Start();

  // Queues a run. kNotFound for an unknown repository, kInvalidArgument for
  // a bad branch, tag, commit or head ref. With the repository's
  // cancel_superseded, a push run cancels the older queued or running push
  // runs of its branch, and a pull request run those of its pull request
  // (superseded_by says by which run, the error "superseded by run N"), as
  // Cancel() does but without waiting for a running one to be recorded.
  // Manual and tag runs supersede nothing; reruns go through Rerun().
  //
  // A webhook's push gives branch and commit: the commit runs, the branch is
  // recorded (and filters `when`). A pull request run fetches `head_ref`
  // (and the branches) and runs `commit`, which must be in what came (else
  // the run is `error`); `branch` is its target branch. `author` and
  // `message` are kept (first line; 256 and 200 bytes at most) instead of
  // the mirror's. A `no_secrets` run's steps get none of the secrets they
  // name: each such variable is empty, and the step's log says which were
  // withheld.
  Result<Run> Trigger(const TriggerRequest& request);
  // Adds an observer, told of every change after those added before it.
  // Before Start() only; each outlives the service.
  void AddObserver(RunObserver* observer);
  // Queues a run of the pipeline file in `dir` (an absolute directory on this
  // host: a working tree, uncommitted changes included; .git is not copied).
  Result<Run> Exec(const std::string& dir);
  // A new run of the same commit (or working tree) as run `id`.
  Result<Run> Rerun(int64_t id);
  // Stops every sandbox of the run and records it cancelled.
  // kFailedPrecondition if it has already ended.
  Result<Run> Cancel(int64_t id);

  Result<Run> Get(int64_t id) const;
  Result<std::vector<Run>> List(const RunFilter& filter) const;
  Result<std::vector<StepRecord>> Steps(int64_t id) const;
  // Streams step (or service) `step`'s stored log as FollowLog does; with
  // `follow`, until the step's output is complete. kNotFound for an unknown
  // run or step; a step not started yet is waited for.
  Status StreamLog(int64_t id, const std::string& step, bool follow, const LogChunk& chunk);
  // Waits up to `timeout` for run `id` to end; the run as it is then.
  Result<Run> Await(int64_t id, std::chrono::milliseconds timeout) const;

  // Removes repository `name` with its secrets, runs, their files and its
  // mirror. kFailedPrecondition while one of its runs is queued or running;
  // no run of it can be queued while this runs (triggers take the same lock).
  Status RemoveRepository(const std::string& name);

  // Keeps the newest `keep` runs of `repo` (every repository if empty);
  // returns the ids removed, with their logs and workspaces.
  Result<std::vector<int64_t>> Prune(const std::string& repo, int keep);

  // Stops starting runs and waits up to `deadline` for the running ones to
  // end; runs still going afterwards are stopped (their containers killed)
  // and recorded interrupted, with their unfinished steps. Queued runs stay
  // queued for the next slipwayd.
  void Shutdown(std::chrono::milliseconds deadline);

  int running() const;
  int queued() const;

 private:
  class Impl;
  explicit RunService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slipway::pipelines

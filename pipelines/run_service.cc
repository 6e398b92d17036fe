// RunService: triggers, the queue of runs under max_runs, and what reaches
// into a run from outside (cancel, logs, await). The execution of one run
// is run_executor.cc's.
#include "pipelines/run_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/base/ascii.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/base/units.h"
#include "pipelines/run_control.h"
#include "pipelines/pipeline_file.h"
#include "pipelines/run_executor.h"
#include "pipelines/workspace.h"

namespace slipway::pipelines {

namespace {

// How often the scheduler looks for kept workspaces whose time is up, and
// for the files of runs removed with their repository.
constexpr std::chrono::milliseconds kSweepInterval{60'000};
// How long Cancel() waits for the run to be recorded cancelled before it
// answers with the run as it is (its containers are killed by then).
constexpr std::chrono::milliseconds kCancelWait{5'000};
// How often a log follower of a run's step looks up to notice a shutdown.
constexpr std::chrono::milliseconds kFollowSlice{500};

// git's rules for a branch or tag name (git-check-ref-format), the parts a
// trigger can get wrong: no "..", no control characters or space, none of
// ~^:?*[\, no leading '-' or '/', no "@{", not ending in '/', ".lock" or '.'.
Status CheckRefName(const std::string& name, const char* what) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(std::string(what) + " \"" + name + "\" is not a valid git ref name: " + why);
  };
  if (name.empty() || name.size() > 255) return bad("empty or longer than 255 bytes");
  if (HasControlChar(name)) return bad("it holds a control character");
  if (name.find_first_of(" ~^:?*[\\") != std::string::npos) return bad("it holds one of ' ~^:?*[\\'");
  if (name.find("..") != std::string::npos || name.find("@{") != std::string::npos) return bad("\"..\" or \"@{\"");
  if (name.front() == '-' || name.front() == '/' || name.back() == '/' || name.back() == '.') {
    return bad("it starts with '-' or '/', or ends with '/' or '.'");
  }
  if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".lock") == 0) return bad("it ends with .lock");
  return Status::Ok();
}

// What a forge says of a commit, as a run keeps it: the first line, at most
// `max` bytes, cut on a UTF-8 character's boundary (as Describe's summary).
std::string FirstLine(const std::string& text, size_t max) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line.resize(cut);
  }
  return line;
}

constexpr size_t kMaxAuthorBytes = 256;
constexpr size_t kMaxMessageBytes = 200;

}  // namespace

class RunService::Impl {
 public:
  Impl(const RunServiceOptions& options, RunStore& store, RepoRegistry& repos, ContainerService& containers,
       ImageProvider& images, EventLog& log)
      : options_(options), store_(store), repos_(repos), log_(log),
        deps_{options_,
              store,
              repos,
              containers,
              images,
              log,
              [this](const Run& run) { Notify(run); },
              [this](const std::string& repo, const StepRecord& step) { NotifyStep(repo, step); }} {}

  Result<int> Recover();
  void Start();
  void AddObserver(RunObserver* observer) { observers_.push_back(observer); }
  Result<Run> Trigger(const TriggerRequest& request);
  Result<Run> Exec(const std::string& dir);
  Result<Run> Rerun(int64_t id);
  Result<Run> Cancel(int64_t id);
  Status StreamLog(int64_t id, const std::string& step, bool follow, const LogChunk& chunk);
  Result<Run> Await(int64_t id, std::chrono::milliseconds timeout);
  Result<std::vector<int64_t>> Prune(const std::string& repo, int keep);
  Status RemoveRepository(const std::string& name);
  void Shutdown(std::chrono::milliseconds deadline);

  RunStore& store() { return store_; }
  int running() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(active_.size());
  }
  int queued() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(queue_.size());
  }

 private:
  Result<Run> Enqueue(Run run);
  Result<Run> TriggerRun(const TriggerRequest& request, int64_t rerun_of);
  // Cancels the older queued or running runs `newer` supersedes (its branch's
  // push runs, or its pull request's runs).
  void Supersede(const Run& newer);
  // Stops run `id`: a queued one is recorded cancelled at once (returned);
  // a running one is asked to stop (nullopt; its executor records it).
  // kFailedPrecondition if it is neither. `superseded_by`: the newer run
  // that made the cancel, 0 for a user's.
  Result<std::optional<Run>> StopRun(int64_t id, int64_t superseded_by);
  // Tells the observers of `run`'s change, in the order they were added. Never under mu_.
  void Notify(const Run& run) {
    std::lock_guard order(notify_mu_);
    NotifyLocked(run);
  }
  void NotifyLocked(const Run& run) {
    for (RunObserver* o : observers_) o->RunChanged(run);
  }
  void NotifyStep(const std::string& repo, const StepRecord& step) {
    std::lock_guard order(notify_mu_);
    for (RunObserver* o : observers_) o->StepChanged(repo, step);
  }
  Result<Run> ExecRun(const std::string& dir, int64_t rerun_of);
  void SchedulerLoop();
  void Execute(Run run, std::shared_ptr<RunControl> control);
  void SweepWorkspaces();
  // Prunes one repository's runs ("": exec runs) and their files.
  Result<std::vector<int64_t>> PruneRepo(const std::string& repo, int keep);
  void RemoveWorkspace(const Run& run);

  const RunServiceOptions options_;
  RunStore& store_;
  RepoRegistry& repos_;
  EventLog& log_;
  const RunDeps deps_;
  // Added before Start() and never changed after: read without a lock.
  std::vector<RunObserver*> observers_;
  // Orders the observer's calls: a run's "queued" is told before anything
  // else can happen to it (the scheduler may start it at once), so Enqueue
  // holds this from before the run is queued until it has told. Taken
  // before mu_, never while holding it.
  std::mutex notify_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // queue_, active_, stopping_
  std::condition_variable ended_cv_;  // a run ended
  std::deque<int64_t> queue_;         // queued runs, oldest first
  std::map<int64_t, std::shared_ptr<RunControl>> active_;
  int workers_ = 0;  // executor threads (detached) still working; Shutdown waits for none
  bool stopping_ = false;
  std::thread scheduler_;
};

Result<int> RunService::Impl::Recover() {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(options_.runs_dir, 0700));
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(options_.mirrors_dir, 0700));
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<int64_t> interrupted, store_.RunIdsWithStatus(RunStatus::kRunning));
  for (int64_t id : interrupted) {
    SLIPWAY_ASSIGN_OR_RETURN(Run run, store_.GetRun(id));
    run.status = RunStatus::kInterrupted;
    run.error = "slipwayd stopped while the run was going on";
    run.finished_unix_ms = NowUnixMs();
    SLIPWAY_RETURN_IF_ERROR(store_.UpdateRun(run));
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<StepRecord> steps, store_.ListSteps(id));
    for (StepRecord& s : steps) {
      if (IsFinal(s.status)) continue;
      s.status = StepStatus::kInterrupted;
      s.finished_unix_ms = run.finished_unix_ms;
      SLIPWAY_RETURN_IF_ERROR(store_.PutStep(s));
    }
    RemoveWorkspace(run);
    log_.Warn("run.interrupted", {{"run", id}});
    Notify(run);
  }
  // Containers of runs: none runs yet, so any left is a crash's. Their
  // sandboxes are gone already (they end with their caller: Reconcile());
  // their records would only stand in `ps -a` with nobody to remove them.
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Container> containers, deps_.containers.List(/*all=*/true));
  for (const Container& c : containers) {
    if (!c.labels.count(kRunLabel)) continue;
    Status st = deps_.containers.Remove(c.id, /*force=*/true);
    if (!st.ok()) log_.Warn("run.container_remove", {{"container", c.id}, {"error", st.message()}});
  }
  SweepWorkspaces();
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<int64_t> queued, store_.RunIdsWithStatus(RunStatus::kQueued));
  std::lock_guard lock(mu_);
  queue_.assign(queued.begin(), queued.end());
  return static_cast<int>(interrupted.size());
}

void RunService::Impl::Start() { scheduler_ = std::thread(&Impl::SchedulerLoop, this); }

Result<Run> RunService::Impl::Enqueue(Run run) {
  Run stored;
  std::lock_guard order(notify_mu_);
  {
    // Under the lock RemoveRepository() holds: a run is never added to a
    // repository that is being removed.
    std::lock_guard lock(mu_);
    if (stopping_) return FailedPrecondition("slipwayd is shutting down");
    if (!run.repo.empty()) SLIPWAY_RETURN_IF_ERROR(repos_.Get(run.repo).status());
    run.status = RunStatus::kQueued;
    run.queued_unix_ms = NowUnixMs();
    SLIPWAY_ASSIGN_OR_RETURN(stored, store_.AddRun(run));
    queue_.push_back(stored.id);
  }
  cv_.notify_all();
  log_.Info("run.queued", {{"run", stored.id}, {"repo", stored.repo}, {"event", EventName(stored.event)}});
  NotifyLocked(stored);
  return stored;
}

Result<Run> RunService::Impl::Trigger(const TriggerRequest& request) {
  SLIPWAY_ASSIGN_OR_RETURN(Run run, TriggerRun(request, 0));
  Supersede(run);
  return run;
}

void RunService::Impl::Supersede(const Run& newer) {
  RunFilter filter;
  filter.repo = newer.repo;
  if (newer.event == Event::kPush && !newer.branch.empty()) {
    filter.branch = newer.branch;
  } else if (newer.event == Event::kPullRequest && newer.pull_request > 0) {
    filter.pull_request = newer.pull_request;
  } else {
    return;  // manual and tag runs supersede nothing
  }
  filter.event = newer.event;
  filter.before_id = newer.id;  // older runs only
  filter.limit = 500;
  auto repo = repos_.Get(newer.repo);
  if (!repo.ok() || !repo->cancel_superseded) return;
  std::vector<int64_t> older;
  for (RunStatus status : {RunStatus::kQueued, RunStatus::kRunning}) {
    filter.status = status;
    auto runs = store_.ListRuns(filter);
    if (!runs.ok()) {
      log_.Error("run.supersede", {{"run", newer.id}, {"error", runs.status().message()}});
      continue;
    }
    for (const Run& r : *runs) older.push_back(r.id);
  }
  for (int64_t id : older) {
    // The webhook's answer waits for this: a running run is only told to
    // stop (its containers killed), never waited for.
    auto stopped = StopRun(id, newer.id);
    if (!stopped.ok()) {
      // It ended meanwhile (kFailedPrecondition): nothing to supersede.
      if (stopped.status().code() != Code::kFailedPrecondition) {
        log_.Warn("run.supersede", {{"run", id}, {"by", newer.id}, {"error", stopped.status().message()}});
      }
      continue;
    }
    log_.Info("run.superseded", {{"run", id}, {"by", newer.id}});
  }
}

Result<Run> RunService::Impl::TriggerRun(const TriggerRequest& request, int64_t rerun_of) {
  SLIPWAY_ASSIGN_OR_RETURN(Repository repo, repos_.Get(request.repo));
  // A webhook's tag push names its commit too; a user names one or the other.
  if (request.event == Event::kManual && !request.tag.empty() && !request.commit.empty()) {
    return InvalidArgument("give a tag or a commit, not both");
  }
  Run run;
  run.repo = repo.name;
  run.event = request.event;
  run.rerun_of = rerun_of;
  if (request.pull_request < 0) return InvalidArgument("pull request number must be positive");
  if ((request.pull_request > 0) != !request.head_ref.empty()) {
    return InvalidArgument("a pull request run needs both its number and its head ref");
  }
  if (request.pull_request > 0) {
    if (request.event != Event::kPullRequest) {
      return InvalidArgument("a pull request number is for pull_request runs only");
    }
    // Fetched as a ref of its own (git_mirror.h): a full ref name, never a pattern.
    SLIPWAY_RETURN_IF_ERROR(CheckRefName(request.head_ref, "head ref"));
    if (!request.head_ref.starts_with("refs/")) {
      return InvalidArgument("head ref \"" + request.head_ref + "\" is not a full ref (refs/...)");
    }
    run.pull_request = request.pull_request;
    run.head_ref = request.head_ref;
  }
  run.no_secrets = request.no_secrets;
  run.author = FirstLine(request.author, kMaxAuthorBytes);
  run.message = FirstLine(request.message, kMaxMessageBytes);
  if (!request.commit.empty()) {
    if (request.commit.size() != 40 || !IsLowerHex(request.commit)) {
      return InvalidArgument("commit \"" + request.commit + "\" is not a full commit id (40 lowercase hex digits)");
    }
    run.commit = request.commit;
  }
  if (!request.tag.empty()) {
    SLIPWAY_RETURN_IF_ERROR(CheckRefName(request.tag, "tag"));
    run.tag = request.tag;
  }
  if (!request.branch.empty()) {
    SLIPWAY_RETURN_IF_ERROR(CheckRefName(request.branch, "branch"));
    run.branch = request.branch;
  } else if (run.tag.empty() && run.commit.empty()) {
    run.branch = "main";
  }
  return Enqueue(run);
}

Result<Run> RunService::Impl::Exec(const std::string& dir) { return ExecRun(dir, 0); }

Result<Run> RunService::Impl::ExecRun(const std::string& dir, int64_t rerun_of) {
  if (dir.empty() || dir.front() != '/') return InvalidArgument("dir \"" + dir + "\" is not an absolute path");
  if (!PathExists(dir + "/" + kPipelineFileName)) {
    return InvalidArgument(dir + " has no " + kPipelineFileName);
  }
  Run run;
  run.event = Event::kManual;
  run.source_dir = dir;
  run.rerun_of = rerun_of;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return FailedPrecondition("slipwayd is shutting down");
  }
  // The tree is copied now, before the run is queued: what runs is the tree
  // as it was when the user asked, whatever they edit meanwhile.
  run.queued_unix_ms = NowUnixMs();
  // The id comes from the store, so the run is recorded first, as `error`
  // until its copy is made; a crash in between leaves an honest record.
  run.status = RunStatus::kError;
  run.error = "the working tree was not copied";
  SLIPWAY_ASSIGN_OR_RETURN(Run stored, store_.AddRun(run));
  Status st = MakeDirs(RunDir(options_, stored.id), 0700);
  if (st.ok()) st = CopyWorkingTree(dir, WorkspaceDir(options_, stored.id));
  if (!st.ok()) {
    stored.error = st.message();
    stored.finished_unix_ms = NowUnixMs();
    (void)store_.UpdateRun(stored);
    return st;
  }
  stored.status = RunStatus::kQueued;
  stored.error.clear();
  SLIPWAY_RETURN_IF_ERROR(store_.UpdateRun(stored));
  std::lock_guard order(notify_mu_);
  {
    std::lock_guard lock(mu_);
    queue_.push_back(stored.id);
  }
  cv_.notify_all();
  log_.Info("run.queued", {{"run", stored.id}, {"dir", dir}, {"event", "manual"}});
  NotifyLocked(stored);
  return stored;
}

Result<Run> RunService::Impl::Rerun(int64_t id) {
  SLIPWAY_ASSIGN_OR_RETURN(Run old, store_.GetRun(id));
  if (!IsFinal(old.status)) return FailedPrecondition("run " + std::to_string(id) + " has not ended");
  if (old.repo.empty()) return ExecRun(old.source_dir, old.id);
  if (old.commit.empty()) {
    // It never got as far as its commit: run what was asked again.
    TriggerRequest again;
    again.repo = old.repo;
    again.branch = old.branch;
    again.tag = old.tag;
    again.event = old.event;
    again.pull_request = old.pull_request;
    again.head_ref = old.head_ref;
    again.no_secrets = old.no_secrets;
    return TriggerRun(again, old.id);
  }
  Run run;
  run.repo = old.repo;
  run.branch = old.branch;
  run.tag = old.tag;
  run.commit = old.commit;
  run.event = old.event;
  run.rerun_of = old.id;
  // A pull request's commit is fetched through its head ref again, and a
  // fork's run gets no secrets the second time either.
  run.pull_request = old.pull_request;
  run.head_ref = old.head_ref;
  run.no_secrets = old.no_secrets;
  return Enqueue(run);
}

Result<std::optional<Run>> RunService::Impl::StopRun(int64_t id, int64_t superseded_by) {
  std::shared_ptr<RunControl> control;
  std::optional<Run> cancelled;
  std::unique_lock order(notify_mu_);  // its "cancelled" comes after its "queued"
  {
    std::lock_guard lock(mu_);
    auto it = std::find(queue_.begin(), queue_.end(), id);
    if (it != queue_.end()) {
      queue_.erase(it);
      SLIPWAY_ASSIGN_OR_RETURN(Run run, store_.GetRun(id));
      run.status = RunStatus::kCancelled;
      run.finished_unix_ms = NowUnixMs();
      if (superseded_by) {
        run.superseded_by = superseded_by;
        run.error = "superseded by run " + std::to_string(superseded_by);
      }
      SLIPWAY_RETURN_IF_ERROR(store_.UpdateRun(run));
      RemoveWorkspace(run);
      ended_cv_.notify_all();
      cancelled = std::move(run);
    } else if (auto a = active_.find(id); a != active_.end()) {
      control = a->second;
    }
  }
  if (cancelled) {
    log_.Info("run.cancelled", {{"run", id}});
    NotifyLocked(*cancelled);
    return cancelled;
  }
  order.unlock();
  if (!control) {
    SLIPWAY_ASSIGN_OR_RETURN(Run run, store_.GetRun(id));
    return FailedPrecondition("run " + std::to_string(id) + " is " + RunStatusName(run.status) +
                              ": only a queued or running run can be cancelled");
  }
  for (const std::string& container : control->RequestStop(RunControl::Stop::kCancel, superseded_by)) {
    (void)deps_.containers.Kill(container, SIGKILL);
  }
  log_.Info("run.cancelled", {{"run", id}});
  return std::optional<Run>();
}

Result<Run> RunService::Impl::Cancel(int64_t id) {
  SLIPWAY_ASSIGN_OR_RETURN(std::optional<Run> cancelled, StopRun(id, 0));
  if (cancelled) return *cancelled;
  return Await(id, kCancelWait);
}

void RunService::Impl::SchedulerLoop() {
  auto last_sweep = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, kSweepInterval, [&] {
      return stopping_ || (!queue_.empty() && static_cast<int>(active_.size()) < options_.max_runs);
    });
    if (stopping_) return;
    if (std::chrono::steady_clock::now() - last_sweep >= kSweepInterval) {
      lock.unlock();
      SweepWorkspaces();
      lock.lock();
      last_sweep = std::chrono::steady_clock::now();
      continue;
    }
    if (queue_.empty() || static_cast<int>(active_.size()) >= options_.max_runs) continue;
    int64_t id = queue_.front();
    queue_.pop_front();
    auto run = store_.GetRun(id);
    if (!run.ok() || run->status != RunStatus::kQueued) {
      if (!run.ok()) log_.Error("run.dequeue", {{"run", id}, {"error", run.status().message()}});
      continue;
    }
    auto control = std::make_shared<RunControl>(id);
    active_[id] = control;
    ++workers_;
    std::thread(&Impl::Execute, this, std::move(*run), control).detach();
  }
}

void RunService::Impl::Execute(Run run, std::shared_ptr<RunControl> control) {
  Run ended = ExecuteRun(deps_, std::move(run), *control);
  Notify(ended);
  if (ended.status == RunStatus::kSuccess || options_.keep_failed_workspaces.count() == 0 ||
      ended.status == RunStatus::kInterrupted) {
    RemoveWorkspace(ended);
  }
  if (options_.keep_runs > 0) {
    auto pruned = PruneRepo(ended.repo, options_.keep_runs);
    if (!pruned.ok()) log_.Warn("run.prune", {{"repo", ended.repo}, {"error", pruned.status().message()}});
  }
  // The last touch of `this`: notified under the lock, so that Shutdown,
  // which waits for workers_ to reach 0 under it, cannot return before.
  std::lock_guard lock(mu_);
  active_.erase(ended.id);
  --workers_;
  cv_.notify_all();
  ended_cv_.notify_all();
}

void RunService::Impl::RemoveWorkspace(const Run& run) {
  std::string dir = WorkspaceDir(options_, run.id);
  Status st = RemoveTree(dir);
  if (!st.ok()) log_.Warn("run.workspace", {{"run", run.id}, {"error", st.message()}});
}

void RunService::Impl::SweepWorkspaces() {
  const int64_t now = NowUnixMs();
  for (const std::string& name : ListDir(options_.runs_dir)) {
    auto id = ParseInt(name);
    if (!id) continue;
    auto run = store_.GetRun(*id);
    if (!run.ok() && run.status().code() == Code::kNotFound) {
      // Its repository was removed (with its runs): its files go too.
      Status st = RemoveTree(RunDir(options_, *id));
      if (!st.ok()) log_.Warn("run.sweep", {{"run", *id}, {"error", st.message()}});
      continue;
    }
    if (!run.ok() || !PathExists(WorkspaceDir(options_, *id))) continue;
    if (!IsFinal(run->status) || run->finished_unix_ms + options_.keep_failed_workspaces.count() > now) continue;
    RemoveWorkspace(*run);
  }
}

Status RunService::Impl::StreamLog(int64_t id, const std::string& step, bool follow, const LogChunk& chunk) {
  SLIPWAY_ASSIGN_OR_RETURN(Run run, store_.GetRun(id));
  std::shared_ptr<RunControl> control;
  {
    std::lock_guard lock(mu_);
    if (auto a = active_.find(id); a != active_.end()) control = a->second;
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<StepRecord> steps, store_.ListSteps(id));
  auto it = std::find_if(steps.begin(), steps.end(), [&](const StepRecord& s) { return s.name == step; });
  if (it == steps.end()) {
    return NotFound("run " + std::to_string(id) + " has no step \"" + step + "\"" +
                    (IsFinal(run.status) ? "" : " (yet: it is " + std::string(RunStatusName(run.status)) + ")"));
  }
  std::string path = StepLogPath(options_, id, it->index);
  std::shared_ptr<EndSignal> end = control ? control->LogEnd(step) : nullptr;
  if (!end || IsFinal(it->status)) {
    end = std::make_shared<EndSignal>();
    end->Fire(Container{});
  }
  if (!PathExists(path)) {
    // A step that never started has no output; one that is pending gets
    // its log when it starts, which a follower waits for.
    if (!follow || end->fired()) return Status::Ok();
    while (!PathExists(path) && !end->AwaitFired(std::chrono::milliseconds(100))) {
      std::lock_guard lock(mu_);
      if (stopping_) return Status::Ok();
    }
    if (!PathExists(path)) return Status::Ok();
  }
  return FollowLog(path, follow, end, kFollowSlice, [this] {
    std::lock_guard lock(mu_);
    return stopping_;
  }, chunk);
}

Result<Run> RunService::Impl::Await(int64_t id, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    SLIPWAY_ASSIGN_OR_RETURN(Run run, store_.GetRun(id));
    if (IsFinal(run.status) && !active_.count(id)) return run;
    if (ended_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return store_.GetRun(id);
  }
}

Result<std::vector<int64_t>> RunService::Impl::PruneRepo(const std::string& repo, int keep) {
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, store_.PruneRuns(repo, keep));
  for (int64_t id : ids) {
    Status st = RemoveTree(RunDir(options_, id));
    if (!st.ok()) log_.Warn("run.prune", {{"run", id}, {"error", st.message()}});
  }
  return ids;
}

Result<std::vector<int64_t>> RunService::Impl::Prune(const std::string& repo, int keep) {
  if (keep < 0) return InvalidArgument("keep must be 0 or more");
  std::vector<std::string> repos;
  if (!repo.empty()) {
    SLIPWAY_RETURN_IF_ERROR(repos_.Get(repo).status());
    repos.push_back(repo);
  } else {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<Repository> all, repos_.List());
    for (const Repository& r : all) repos.push_back(r.name);
    repos.push_back("");  // exec runs
  }
  std::vector<int64_t> removed;
  for (const std::string& name : repos) {
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, PruneRepo(name, keep));
    removed.insert(removed.end(), ids.begin(), ids.end());
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

Status RunService::Impl::RemoveRepository(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    SLIPWAY_RETURN_IF_ERROR(repos_.Get(name).status());
    for (RunStatus status : {RunStatus::kQueued, RunStatus::kRunning}) {
      RunFilter filter;
      filter.repo = name;
      filter.status = status;
      filter.limit = 1;
      SLIPWAY_ASSIGN_OR_RETURN(std::vector<Run> runs, store_.ListRuns(filter));
      if (!runs.empty()) {
        return FailedPrecondition("repository " + name + " has run " + std::to_string(runs[0].id) + " " +
                                  RunStatusName(status) + ": cancel it first");
      }
    }
    SLIPWAY_RETURN_IF_ERROR(repos_.Remove(name));
    // A repository added later under this name must not resolve commits
    // from this one's remote: its mirror goes with it.
    std::string mirror = options_.mirrors_dir + "/" + name + ".git";
    Status st = RemoveTree(mirror);
    if (st.ok() && ::unlink((mirror + ".lock").c_str()) != 0 && errno != ENOENT) {
      st = ErrnoStatus("unlink " + mirror + ".lock");
    }
    if (!st.ok()) log_.Warn("repo.mirror", {{"repo", name}, {"error", st.message()}});
  }
  SweepWorkspaces();  // the files of its runs
  log_.Info("repo.removed", {{"repo", name}});
  return Status::Ok();
}

void RunService::Impl::Shutdown(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  std::vector<std::shared_ptr<RunControl>> left;
  {
    std::unique_lock lock(mu_);
    ended_cv_.wait_for(lock, deadline, [&] { return active_.empty(); });
    for (auto& [id, control] : active_) left.push_back(control);
  }
  // Runs still going are stopped and recorded interrupted: their
  // containers end with them (the next slipwayd would remove them anyway).
  for (auto& control : left) {
    for (const std::string& container : control->RequestStop(RunControl::Stop::kShutdown)) {
      (void)deps_.containers.Kill(container, SIGKILL);
    }
  }
  std::unique_lock lock(mu_);
  ended_cv_.wait(lock, [&] { return workers_ == 0; });
}

// ---- RunService: the public face ----

Result<std::unique_ptr<RunService>> RunService::Open(const RunServiceOptions& options, RunStore& store,
                                                     RepoRegistry& repos, ContainerService& containers,
                                                     ImageProvider& images, EventLog& log) {
  if (options.runs_dir.empty() || options.mirrors_dir.empty()) {
    return InvalidArgument("runs_dir and mirrors_dir are required");
  }
  if (options.max_runs < 1) return InvalidArgument("max_runs must be at least 1");
  if (options.step_log_max_bytes < 1024) return InvalidArgument("step_log_max_bytes must be at least 1 KiB");
  auto impl = std::make_unique<Impl>(options, store, repos, containers, images, log);
  return std::unique_ptr<RunService>(new RunService(std::move(impl)));
}

RunService::RunService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunService::~RunService() { impl_->Shutdown(std::chrono::milliseconds(0)); }

Result<int> RunService::Recover() { return impl_->Recover(); }
void RunService::Start() { impl_->Start(); }
void RunService::AddObserver(RunObserver* observer) { impl_->AddObserver(observer); }
Result<Run> RunService::Trigger(const TriggerRequest& request) { return impl_->Trigger(request); }
Result<Run> RunService::Exec(const std::string& dir) { return impl_->Exec(dir); }
Result<Run> RunService::Rerun(int64_t id) { return impl_->Rerun(id); }
Result<Run> RunService::Cancel(int64_t id) { return impl_->Cancel(id); }
Result<Run> RunService::Get(int64_t id) const { return impl_->store().GetRun(id); }
Result<std::vector<Run>> RunService::List(const RunFilter& filter) const { return impl_->store().ListRuns(filter); }
Result<std::vector<StepRecord>> RunService::Steps(int64_t id) const {
  SLIPWAY_RETURN_IF_ERROR(impl_->store().GetRun(id).status());
  return impl_->store().ListSteps(id);
}
Status RunService::StreamLog(int64_t id, const std::string& step, bool follow, const LogChunk& chunk) {
  return impl_->StreamLog(id, step, follow, chunk);
}
Result<Run> RunService::Await(int64_t id, std::chrono::milliseconds timeout) const {
  return impl_->Await(id, timeout);
}
Status RunService::RemoveRepository(const std::string& name) { return impl_->RemoveRepository(name); }
Result<std::vector<int64_t>> RunService::Prune(const std::string& repo, int keep) {
  return impl_->Prune(repo, keep);
}
void RunService::Shutdown(std::chrono::milliseconds deadline) { impl_->Shutdown(deadline); }
int RunService::running() const { return impl_->running(); }
int RunService::queued() const { return impl_->queued(); }

}  // namespace slipway::pipelines

// One run, on the thread RunService gave it:
//   _setup: workspace (fetch + checkout, or the exec copy) -> pipeline file
//   -> limits -> images (build, pulls) -> services + readiness -> steps as
//   their graph allows -> teardown and the run's result.
// Every record change goes to the store as it happens, so the API shows a
// run as it progresses and a crash leaves an honest record to interrupt.
#include "pipelines/run_executor.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "engine/base/ascii.h"
#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/openat2.h"
#include "engine/base/time.h"
#include "engine/base/units.h"
#include "engine/oci/digest.h"
#include "pipelines/git_mirror.h"
#include "pipelines/pipeline_file.h"
#include "pipelines/promote_plan.h"
#include "pipelines/readiness.h"
#include "pipelines/step_log.h"
#include "pipelines/test_report.h"
#include "pipelines/workspace.h"

namespace slipway::pipelines {

std::string RunDir(const RunServiceOptions& options, int64_t id) {
  return options.runs_dir + "/" + std::to_string(id);
}
std::string WorkspaceDir(const RunServiceOptions& options, int64_t id) { return RunDir(options, id) + "/workspace"; }
std::string StepLogPath(const RunServiceOptions& options, int64_t id, int index) {
  return RunDir(options, id) + "/logs/" + std::to_string(index) + ".log";
}

namespace {

// How long a readiness TCP connect may take before that try counts as "not
// yet": on a run's own loopback an answer is immediate, so this only bounds
// a listener that accepts nothing.
constexpr std::chrono::milliseconds kConnectTimeout{1000};
// How long the run waits, at its end, for its services to go after SIGKILL.
constexpr std::chrono::milliseconds kTeardownWait{10000};

std::string Join(const std::vector<std::string>& lines, const char* sep) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += sep;
    out += lines[i];
  }
  return out;
}

// Opens `relative` inside `workspace`, resolved by the kernel as if the
// workspace were the root: a repository's symlink cannot point the pipeline
// file, a build context or a Dockerfile at the host's files.
Result<UniqueFd> OpenInWorkspace(const std::string& workspace, const std::string& relative, uint64_t flags,
                                 const std::string& what) {
  UniqueFd root(::open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus("open workspace " + workspace);
  UniqueFd fd(Openat2(root.get(), relative.c_str(), flags | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
  if (!fd) return ErrnoStatus(what);
  return fd;
}

// The real path of `relative` inside `workspace` (OpenInWorkspace), for the
// builder, which takes paths.
Result<std::string> ResolveInWorkspace(const std::string& workspace, const std::string& relative, bool directory,
                                       const std::string& what) {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, OpenInWorkspace(workspace, relative, O_RDONLY | (directory ? O_DIRECTORY : 0),
                                                        what + " " + relative + " in the repository"));
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return ErrnoStatus("readlink " + link);
  return std::string(buf, static_cast<size_t>(n));
}

// The pipeline file at the workspace's root, bounded before it is read.
Result<std::string> ReadPipelineText(const std::string& workspace) {
  auto fd = OpenInWorkspace(workspace, kPipelineFileName, O_RDONLY, std::string("open ") + kPipelineFileName);
  if (!fd.ok()) {
    if (fd.status().code() == Code::kNotFound) {
      return NotFound(std::string("the repository has no ") + kPipelineFileName + " at its root");
    }
    return fd.status();
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(std::string("stat ") + kPipelineFileName);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(std::string(kPipelineFileName) + " is not a regular file");
  if (st.st_size > static_cast<off_t>(kMaxPipelineFileBytes)) {
    return InvalidArgument(std::string(kPipelineFileName) + " is " + std::to_string(st.st_size) +
                           " bytes; at most " + std::to_string(kMaxPipelineFileBytes) + " are read");
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadAll(fd->get(), kPipelineFileName));
  // Nothing writes the workspace before the steps run; a file that grew
  // anyway is still held to the bound.
  if (text.size() > kMaxPipelineFileBytes) {
    return InvalidArgument(std::string(kPipelineFileName) + " grew past " + std::to_string(kMaxPipelineFileBytes) +
                           " bytes while it was read");
  }
  return text;
}

// A limit: the step's own, else the repository's default, else slipwayd's;
// then slipwayd's maximum, which a step may not exceed and which applies
// when nothing else does.
Result<int64_t> EffectiveLimit(std::optional<int64_t> own, int64_t repo_default, int64_t daemon_default,
                               int64_t max, const std::string& what, const std::string& max_key) {
  int64_t value = own ? *own : (repo_default ? repo_default : daemon_default);
  if (max > 0 && value > max) {
    return InvalidArgument(what + ": " + std::to_string(value) + " is above this slipwayd's " + max_key + " (" +
                           std::to_string(max) + ")");
  }
  if (max > 0 && value == 0) value = max;
  return value;
}

// Where a step or service stands while the run goes on.
struct Unit {
  size_t record = 0;  // index into records_
  std::string image;  // id to create from
  CreateRequest request;
  CreateOptions options;
  std::unique_ptr<StepLogWriter> log;
  std::string container_id;  // once created (a step's may be created ahead, while its needs run)
  std::shared_ptr<EndSignal> end;
  bool started = false;  // its container was asked to run
  std::thread pump;
  std::vector<std::string> withheld;  // secrets it names but does not get (no_secrets)
  int64_t launched_unix_ms = 0;       // just before its container was started (reports' attribution)
};

class RunExecutor {
 public:
  RunExecutor(const RunDeps& deps, Run run, RunControl& control) : d_(deps), run_(std::move(run)), control_(control) {}

  Run Execute();

 private:
  // Records a change of the run or a step; a store that fails (disk full)
  // is logged, the run goes on as far as it can.
  void SaveRun();
  void SaveStep(size_t record);
  Status Note(const std::string& line) { return setup_log_ ? setup_log_->Note(line) : Status::Ok(); }

  Status PrepareWorkspace();
  Result<Pipeline> ReadPipeline();
  Status PlanUnits();
  Status PrepareImages();
  Status PlanPromotion();
  Status StartServices();
  Status AwaitServices();
  void RunSteps();
  void Teardown();
  RunStatus Outcome() const;
  // After the steps: the reports become the run's test cases (recorded in
  // the TestStore), its counts and warnings; with reports_fail_run, failed
  // cases fail a run that succeeded.
  void RecordTestResults();
  // The step that wrote workspace file `file`: the one whose [launch, end]
  // holds its mtime, if exactly one does; "" otherwise.
  std::string StepThatWrote(const std::string& file) const;
  bool HasReports() const;
  bool AnyStepStarted();
  // Closes the setup log and tells its followers it is complete.
  void EndSetupLog();

  // Creates unit `u`'s container without starting it: the spec is built,
  // the image resolved, the workspace bind checked and the row recorded. A
  // step's is created ahead while the steps it needs still run, so that once
  // they end only the start is left (RunSteps).
  Status Create(Unit& u);
  // Removes the container of a unit created but never started (its need
  // failed, the run stops); a no-op for any other.
  void Discard(Unit& u);
  // Starts unit `u`'s container (creating it first unless it was created
  // ahead) and pumps its output into its log on a thread of its own, which
  // records how it ended.
  Status Launch(Unit& u);
  void Pump(Unit* u);
  // Records how unit `u` ended: first in memory, waking the scheduler at
  // once (the steps that wait for it start), then its log and the store.
  void RecordEnd(Unit& u, const Container& c);
  Result<bool> ServiceReady(const Service& svc, const Unit& u);
  // Waits until unit `u`'s container runs.
  Status AwaitRunning(const Unit& u, const std::string& name);
  std::vector<std::string> BaseEnv(const std::string& step) const;
  RunContext Context() const { return RunContext{run_.branch, run_.tag, run_.event}; }
  bool Stopping() const { return control_.stop() != RunControl::Stop::kNone; }
  // What a step the stop ended (or kept from starting) is.
  StepStatus StoppedStatus() const {
    return control_.stop() == RunControl::Stop::kCancel ? StepStatus::kCancelled : StepStatus::kInterrupted;
  }

  const RunDeps& d_;
  Run run_;
  RunControl& control_;
  std::string workspace_;
  std::optional<Repository> repo_;
  Pipeline pipeline_;
  std::unique_ptr<StepLogWriter> setup_log_;
  std::string built_image_;                 // the id `build:` made
  std::map<std::string, std::string> ids_;  // image reference -> id
  // Guarded by control_.mu() once units run: records_ and units' states.
  std::vector<StepRecord> records_;  // 0: _setup, then services, then steps
  std::map<size_t, StepStatus> told_;  // by record: the status observers last heard of
  std::vector<Unit> services_, steps_;
  std::set<std::string> stopped_by_run_;  // service containers the teardown stopped
  std::string network_;                   // "container:<first service>" or "none"
};

void RunExecutor::SaveRun() {
  Status st = d_.store.UpdateRun(run_);
  if (!st.ok()) d_.log.Error("run.store", {{"run", run_.id}, {"error", st.message()}});
}

void RunExecutor::SaveStep(size_t record) {
  StepRecord copy;
  bool tell = false;
  {
    std::lock_guard lock(control_.mu());
    copy = records_[record];
    // Observers hear of starts and ends, once each, not of every save.
    const bool worth = copy.status == StepStatus::kRunning || IsFinal(copy.status);
    auto [told, added] = told_.try_emplace(record, copy.status);
    tell = worth && (added || told->second != copy.status);
    told->second = copy.status;
  }
  Status st = d_.store.PutStep(copy);
  if (!st.ok()) d_.log.Error("run.store", {{"run", run_.id}, {"step", copy.name}, {"error", st.message()}});
  if (tell && d_.step_changed) d_.step_changed(run_.repo, copy);
}

Status RunExecutor::PrepareWorkspace() {
  workspace_ = WorkspaceDir(d_.options, run_.id);
  if (run_.repo.empty()) {
    // An exec run's workspace was copied when it was queued (RunService::Exec).
    if (!PathExists(workspace_)) return FailedPrecondition("the copy of " + run_.source_dir + " is gone");
    SLIPWAY_RETURN_IF_ERROR(Note("working tree " + run_.source_dir));
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(Repository repo, d_.repos.Get(run_.repo));
  repo_ = repo;
  SLIPWAY_ASSIGN_OR_RETURN(RepoRegistry::FetchAuth auth, d_.repos.FetchCredentials(repo));
  GitMirror mirror(d_.options.mirrors_dir + "/" + repo.name + ".git");
  // A pull request's head is a ref of its own on the base repository
  // (refs/pull/N/head): fetched beside the branches, then the commit the
  // forge named is looked up in what came.
  std::string what = !run_.head_ref.empty() ? run_.head_ref
                     : !run_.commit.empty() ? run_.commit
                     : !run_.tag.empty()    ? "refs/tags/" + run_.tag
                                            : "refs/heads/" + run_.branch;
  SLIPWAY_RETURN_IF_ERROR(Note("fetching " + what + " from " + repo.url));
  SLIPWAY_ASSIGN_OR_RETURN(FetchResult fetched, mirror.Fetch(repo.url, auth.credentials, what));
  if (!run_.head_ref.empty() && !run_.commit.empty()) {
    auto found = mirror.Resolve(run_.commit);
    if (!found.ok()) {
      return NotFound("pull request " + std::to_string(run_.pull_request) + ": commit " + run_.commit +
                      " is not in " + run_.head_ref + " any more (now " + fetched.commit + ")");
    }
  } else {
    run_.commit = fetched.commit;
  }
  // What the forge said of the commit stands; otherwise the mirror says.
  if (run_.author.empty() && run_.message.empty()) {
    if (auto info = mirror.Describe(run_.commit); info.ok()) {
      run_.author = info->author;
      run_.message = info->message;
    }
  }
  SaveRun();
  SLIPWAY_RETURN_IF_ERROR(Note("commit " + run_.commit + " (" + std::to_string(fetched.received_objects) +
                               " new objects), checking out"));
  SLIPWAY_ASSIGN_OR_RETURN(CheckoutResult checkout, mirror.Checkout(run_.commit, workspace_));
  for (const std::string& skipped : checkout.skipped_submodules) {
    SLIPWAY_RETURN_IF_ERROR(Note("submodule " + skipped + " is not checked out"));
  }
  return Status::Ok();
}

Result<Pipeline> RunExecutor::ReadPipeline() {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadPipelineText(workspace_));
  // The provenance of a promoted image names the exact file that ran.
  run_.pipeline_digest = Digest::Of(text).str();
  auto pipeline = ParsePipelineFile(text);
  if (!pipeline.ok()) return pipeline.status().Wrap(kPipelineFileName);
  return pipeline;
}

std::vector<std::string> RunExecutor::BaseEnv(const std::string& step) const {
  return {"CI=true",
          "SLIPWAY_REPO=" + run_.repo,
          "SLIPWAY_COMMIT=" + run_.commit,
          "SLIPWAY_BRANCH=" + run_.branch,
          "SLIPWAY_TAG=" + run_.tag,
          std::string("SLIPWAY_EVENT=") + EventName(run_.event),
          "SLIPWAY_RUN_ID=" + std::to_string(run_.id),
          "SLIPWAY_STEP=" + step};
}

// Records, requests and limits of every service and step, checked before
// anything starts: a limit above slipwayd's maximum or a secret the
// repository lacks ends the run as `error` with nothing started.
Status RunExecutor::PlanUnits() {
  const StepLimits none;
  const StepLimits& repo_defaults = repo_ ? repo_->defaults : none;
  const StepLimits& dflt = d_.options.default_limits;
  const StepLimits& max = d_.options.max_limits;
  auto make = [&](const std::string& name, bool service, const std::string& image,
                  const std::vector<std::string>& commands, const std::map<std::string, std::string>& env,
                  const StepLimits& limits) {
    Unit u;
    u.record = records_.size();
    StepRecord r;
    r.run_id = run_.id;
    r.index = static_cast<int>(records_.size());
    r.name = name;
    r.kind = service ? StepKind::kService : StepKind::kStep;
    r.limits = limits;
    records_.push_back(r);
    u.image = image;
    CreateRequest& q = u.request;
    q.name = "run" + std::to_string(run_.id) + "-" + name;
    if (!commands.empty()) q.entrypoint = std::vector<std::string>{"/bin/sh", "-e", "-c", Join(commands, "\n")};
    q.env = BaseEnv(name);
    for (const auto& [k, v] : env) q.env.push_back(k + "=" + v);
    q.workdir = "/workspace";
    q.binds = {workspace_ + ":/workspace:rw"};
    q.limits.memory_bytes = limits.memory_bytes;
    q.limits.cpu_millis = limits.millicpus;
    q.limits.pids_max = limits.pids;
    q.timeout_ms = limits.timeout_ms;
    // Removed by Pump() once its whole output is copied: with auto_remove, a
    // step quicker than the start of its log's reader would go, log and all.
    q.auto_remove = false;
    u.options.labels = {{kRunLabel, std::to_string(run_.id)}, {kStepLabel, name}};
    u.options.ends_with_caller = true;
    return u;
  };
  for (const Service& s : pipeline_.services) {
    StepLimits limits;
    limits.memory_bytes = max.memory_bytes ? max.memory_bytes : dflt.memory_bytes;
    limits.millicpus = max.millicpus ? max.millicpus : dflt.millicpus;
    limits.pids = max.pids ? max.pids : dflt.pids;
    services_.push_back(make(s.name, true, s.image, s.commands, s.env, limits));
  }
  for (const Step& s : pipeline_.steps) {
    std::string where = "steps[" + s.name + "]";
    StepLimits limits;
    std::optional<int64_t> timeout;
    if (s.timeout) timeout = s.timeout->count();
    SLIPWAY_ASSIGN_OR_RETURN(limits.timeout_ms, EffectiveLimit(timeout, repo_defaults.timeout_ms, dflt.timeout_ms,
                                                               max.timeout_ms, where + ".timeout (ms)",
                                                               "step_max_timeout"));
    SLIPWAY_ASSIGN_OR_RETURN(limits.memory_bytes,
                             EffectiveLimit(s.memory_bytes, repo_defaults.memory_bytes, dflt.memory_bytes,
                                            max.memory_bytes, where + ".memory (bytes)", "step_max_memory"));
    SLIPWAY_ASSIGN_OR_RETURN(limits.millicpus, EffectiveLimit(s.millicpus, repo_defaults.millicpus, dflt.millicpus,
                                                              max.millicpus, where + ".cpus (millicpus)",
                                                              "step_max_cpus"));
    SLIPWAY_ASSIGN_OR_RETURN(limits.pids, EffectiveLimit(s.pids, repo_defaults.pids, dflt.pids, max.pids,
                                                         where + ".pids", "step_max_pids"));
    Unit u = make(s.name, false, s.image, s.commands, s.env, limits);
    // The graph as the file made it, by name, for the record (the dashboard draws it).
    for (size_t need : s.needs) records_[u.record].needs.push_back(pipeline_.steps[need].name);
    if (!s.secrets.empty()) {
      if (run_.repo.empty()) {
        return InvalidArgument(where + ".secrets: a local run (pipeline exec) has no repository to take secrets from");
      }
      if (run_.no_secrets) {
        // A pull request from a fork: its code is the fork author's. As in
        // GitLab, Woodpecker and Drone, the step runs without the secrets
        // (their variables empty), and its log says which it did not get.
        // The names are checked as in any run; no value is even opened.
        SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> names, d_.repos.SecretNames(run_.repo));
        for (const std::string& key : s.secrets) {
          if (std::find(names.begin(), names.end(), key) == names.end()) {
            return NotFound("repository " + run_.repo + ": secret " + key + ": not found");
          }
          if (std::find(u.withheld.begin(), u.withheld.end(), key) != u.withheld.end()) continue;
          u.withheld.push_back(key);
          u.request.env.push_back(key + "=");
        }
      } else {
        SLIPWAY_ASSIGN_OR_RETURN(auto values, d_.repos.SecretValues(run_.repo, s.secrets));
        for (auto& [k, v] : values) u.options.secret_env.emplace_back(k, v);
      }
    }
    steps_.push_back(std::move(u));
  }
  for (size_t i = 0; i < records_.size(); ++i) {
    if (i == 0) continue;
    SaveStep(i);
  }
  return Status::Ok();
}

Status RunExecutor::PrepareImages() {
  OutputLine out = [this](std::string_view line) {
    if (setup_log_) (void)setup_log_->Write(Stream::kStdout, std::string(line) + "\n");
  };
  if (pipeline_.build) {
    const Build& b = *pipeline_.build;
    ImageBuildRequest req;
    SLIPWAY_ASSIGN_OR_RETURN(req.context, ResolveInWorkspace(workspace_, b.context, true, "build.context"));
    std::string dockerfile = b.context == "." ? b.dockerfile : b.context + "/" + b.dockerfile;
    SLIPWAY_ASSIGN_OR_RETURN(req.dockerfile, ResolveInWorkspace(workspace_, dockerfile, false, "build.dockerfile"));
    std::string owner = run_.repo.empty() ? "exec" : Lower(run_.repo);
    req.tag = "slipway-build/" + owner + ":latest";
    req.args = b.args;
    SLIPWAY_RETURN_IF_ERROR(Note("building " + dockerfile));
    auto built = d_.images.Build(req, out, control_.stop_fd());
    if (!built.ok()) return built.status().Wrap("build");
    built_image_ = *built;
    run_.image_id = built_image_;
    SLIPWAY_RETURN_IF_ERROR(Note("built " + built_image_));
  }
  for (std::vector<Unit>* units : {&services_, &steps_}) {
    for (Unit& u : *units) {
      if (Stopping()) return FailedPrecondition("stopped");
      if (u.image.empty()) {
        u.request.image = built_image_;
        continue;
      }
      auto known = ids_.find(u.image);
      if (known == ids_.end()) {
        auto id = d_.images.Ensure(u.image, out);
        if (!id.ok()) return id.status().Wrap("image " + u.image);
        known = ids_.emplace(u.image, *id).first;
      }
      u.request.image = known->second;
    }
  }
  return Status::Ok();
}

// The `promote` section resolved for this run, once its images are known:
// recorded with the run (promote_plan), "refused" with the reason when the
// branch and tag policy forbids it; "pending" is set at the end, if the run
// succeeded. A plan that cannot be made (no tag applies, the image is not
// the run's) is the pipeline's error, found before anything runs.
Status RunExecutor::PlanPromotion() {
  if (!pipeline_.promote) return Status::Ok();
  const Promote& p = *pipeline_.promote;
  std::string image_id = built_image_;
  if (!p.image.empty()) {
    auto it = ids_.find(p.image);
    if (it == ids_.end()) return InvalidArgument("promote.image " + p.image + " is not an image this run used");
    image_id = it->second;
  }
  SLIPWAY_ASSIGN_OR_RETURN(PromotePlan plan, ResolvePromotePlan(p, run_, image_id));
  run_.promote_plan = plan.ToJson();
  if (std::string refusal = PromotionRefusal(p, run_); !refusal.empty()) {
    run_.promotion_status = "refused";
    run_.promotion_error = refusal;
  }
  SaveRun();
  return Note(run_.promotion_status == "refused" ? "will not promote: " + run_.promotion_error
                                                   : "promotes " + image_id + " to " + p.to + " if the run passes");
}

Status RunExecutor::Create(Unit& u) {
  const std::string& name = records_[u.record].name;  // names never change
  u.request.network = network_;
  auto c = d_.containers.Create(u.request, u.options);
  if (!c.ok()) return c.status().Wrap(name);
  auto end = d_.containers.EndSignalOf(c->id);
  if (!end.ok()) {
    (void)d_.containers.Remove(c->id, /*force=*/true);
    return end.status().Wrap(name);
  }
  u.container_id = c->id;
  u.end = *end;
  return Status::Ok();
}

void RunExecutor::Discard(Unit& u) {
  if (u.container_id.empty() || u.started) return;
  // Never asked to run: removed without being stopped (its secrets, held
  // in memory by the container service, go with it).
  Status st = d_.containers.Remove(u.container_id, /*force=*/true);
  if (!st.ok()) {
    d_.log.Warn("run.container_remove", {{"run", run_.id}, {"container", u.container_id}, {"error", st.message()}});
  }
  u.container_id.clear();
  u.end.reset();
}

Status RunExecutor::Launch(Unit& u) {
  const std::string& name = records_[u.record].name;
  auto give_up = [&](Status st) {
    if (!u.container_id.empty()) control_.RemoveContainer(u.container_id);
    Discard(u);
    return st;
  };
  u.launched_unix_ms = NowUnixMs();
  // The log first: an error creating the container goes into it too.
  auto log = StepLogWriter::Create(StepLogPath(d_.options, run_.id, records_[u.record].index),
                                   d_.options.step_log_max_bytes);
  if (!log.ok()) return give_up(log.status());
  u.log = std::move(*log);
  if (!u.withheld.empty()) {
    Status noted = u.log->Note("secrets withheld (a pull request from a fork gets none): " + Join(u.withheld, ", "));
    if (!noted.ok()) return give_up(noted);
  }
  if (u.container_id.empty()) SLIPWAY_RETURN_IF_ERROR(Create(u));
  if (!control_.AddContainer(u.container_id)) return give_up(FailedPrecondition("stopped"));
  Status started = d_.containers.Start(u.container_id);
  if (!started.ok()) return give_up(started.Wrap(name));
  u.started = true;
  {
    std::lock_guard lock(control_.mu());
    StepRecord& r = records_[u.record];
    r.status = StepStatus::kRunning;
    r.container_id = u.container_id;
    r.started_unix_ms = NowUnixMs();
  }
  // While the sandbox starts on the container service's threads. Before the
  // pump exists: the end it records is always stored after this.
  SaveStep(u.record);
  u.pump = std::thread(&RunExecutor::Pump, this, &u);
  return Status::Ok();
}

void RunExecutor::Pump(Unit* u) {
  Status st = d_.containers.StreamLogs(u->container_id, /*follow=*/true, [u](Stream s, std::string_view data) {
    (void)u->log->Write(s, data);
    return true;
  });
  if (!st.ok()) (void)u->log->Note("reading the output: " + st.message());
  // StreamLogs returns once the container ended; the signal says how.
  while (!u->end->AwaitFired(std::chrono::milliseconds(1000))) {
  }
  RecordEnd(*u, *u->end->final());
  // Its sandbox's files go once the end is recorded, off the path of the
  // steps that waited for it (the run ends after every pump has).
  Status removed = d_.containers.Remove(u->container_id, /*force=*/false);
  if (!removed.ok()) {
    d_.log.Warn("run.container_remove", {{"run", run_.id}, {"container", u->container_id}, {"error", removed.message()}});
  }
}

void RunExecutor::RecordEnd(Unit& u, const Container& c) {
  bool stopped_by_run;
  std::string reason;
  RunControl::Stop stop = control_.stop();
  {
    std::lock_guard lock(control_.mu());
    stopped_by_run = stopped_by_run_.count(c.id) > 0;
    StepRecord& r = records_[u.record];
    r.finished_unix_ms = c.finished_unix_ms ? c.finished_unix_ms : NowUnixMs();
    if (c.state == ContainerState::kFailed) {
      r.status = StepStatus::kError;
      r.error = c.error;
    } else if (c.state == ContainerState::kLost || !c.result) {
      r.status = StepStatus::kInterrupted;
      r.error = c.error;
    } else {
      const SandboxResult& res = *c.result;
      r.exit_code = res.exit_code;
      r.duration_ms = res.wall_ms;
      r.peak_memory_bytes = res.peak_memory_bytes;
      r.cpu_ns = res.cpu_ns;
      // A step that did not end by itself after a stop was requested was
      // killed by it.
      bool killed_by_stop = stop != RunControl::Stop::kNone && (res.cancelled || res.exit_code != 0);
      if (stopped_by_run) {
        r.status = StepStatus::kSuccess;  // a service the run stopped at its end
      } else if (killed_by_stop) {
        r.status = StoppedStatus();
      } else if (res.oom_killed) {
        r.status = StepStatus::kFailure;
        r.reason = "oom";
      } else if (res.timed_out) {
        r.status = StepStatus::kFailure;
        r.reason = "timeout";
      } else {
        r.status = res.exit_code == 0 ? StepStatus::kSuccess : StepStatus::kFailure;
      }
    }
    reason = r.reason;
  }
  control_.RemoveContainer(c.id);
  // The scheduler decides from records_ alone: it starts what waited for
  // this step now, while the rest of the record is written.
  control_.Notify();
  if (reason == "oom") (void)u.log->Note("killed: out of memory (memory limit reached)");
  if (reason == "timeout") (void)u.log->Note("killed: the step's timeout passed");
  (void)u.log->Close();
  // Stored before its log's followers are told it is complete: what they
  // read next (the step) is final.
  SaveStep(u.record);
  control_.LogEnd(records_[u.record].name)->Fire(c);
}

Result<bool> RunExecutor::ServiceReady(const Service& svc, const Unit& u) {
  if (u.end->fired()) {
    const Container c = *u.end->final();
    std::string how = c.result ? "with code " + std::to_string(c.result->exit_code) : c.error;
    return FailedPrecondition("service " + svc.name + " ended (" + how + ") before it was ready");
  }
  const ReadyCheck& check = *svc.ready;
  if (check.tcp_port) {
    auto c = d_.containers.Inspect(u.container_id);
    if (!c.ok()) return c.status();
    if (c->pid <= 0) return false;  // not running yet
    return TcpAcceptsIn(c->pid, *check.tcp_port, kConnectTimeout);
  }
  // A command: a fresh container of the service's image in the run's
  // network namespace, as `docker run --network container:db` would.
  CreateRequest q;
  q.image = u.request.image;
  q.entrypoint = std::vector<std::string>{"/bin/sh", "-c", check.command};
  q.network = network_;
  q.env = u.request.env;
  q.auto_remove = true;
  q.timeout_ms = std::max<int64_t>(1000, check.timeout.count());
  CreateOptions opts;
  opts.labels = {{kRunLabel, std::to_string(run_.id)}, {kReadyLabel, svc.name}};
  opts.ends_with_caller = true;
  SLIPWAY_ASSIGN_OR_RETURN(Container probe, d_.containers.Create(q, opts));
  SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, d_.containers.EndSignalOf(probe.id));
  if (!control_.AddContainer(probe.id)) {
    (void)d_.containers.Remove(probe.id, true);
    control_.RemoveContainer(probe.id);
    return FailedPrecondition("cancelled");
  }
  Status st = d_.containers.Start(probe.id);
  if (!st.ok()) {
    (void)d_.containers.Remove(probe.id, true);
    control_.RemoveContainer(probe.id);
    return st;
  }
  while (!end->AwaitFired(std::chrono::milliseconds(1000))) {
  }
  control_.RemoveContainer(probe.id);
  Container done = *end->final();
  return done.state == ContainerState::kExited && done.result && done.result->exit_code == 0;
}

Status RunExecutor::AwaitRunning(const Unit& u, const std::string& name) {
  auto running = [&]() -> Result<bool> {
    if (u.end->fired()) {
      const Container c = *u.end->final();
      return FailedPrecondition("service " + name + " ended before it ran" + (c.error.empty() ? "" : ": " + c.error));
    }
    SLIPWAY_ASSIGN_OR_RETURN(Container c, d_.containers.Inspect(u.container_id));
    return c.state == ContainerState::kRunning;
  };
  // Starting takes as long as the start queue and a sandbox start; there is
  // no deadline of its own here beyond the queue's (a stop ends the wait).
  return RetryUntilReady(running, std::chrono::hours(24), [&](std::chrono::milliseconds d) {
    return control_.Sleep(d);
  });
}

Status RunExecutor::StartServices() {
  for (size_t i = 0; i < services_.size(); ++i) {
    // The first service makes the run's network namespace; everyone else
    // joins it and reaches the services on localhost.
    if (i == 0) network_ = "none";
    Status st = Launch(services_[i]);
    if (!st.ok()) return st;
    if (i == 0) {
      // Joining its namespace needs it running, not just queued or starting.
      SLIPWAY_RETURN_IF_ERROR(AwaitRunning(services_[0], pipeline_.services[0].name));
      network_ = "container:" + services_[0].container_id;
    }
  }
  if (services_.empty()) network_ = "none";
  return Status::Ok();
}

Status RunExecutor::AwaitServices() {
  for (size_t i = 0; i < services_.size(); ++i) {
    const Service& svc = pipeline_.services[i];
    if (!svc.ready) continue;
    std::string how = svc.ready->tcp_port ? "tcp " + std::to_string(*svc.ready->tcp_port)
                                          : "command \"" + svc.ready->command + "\"";
    SLIPWAY_RETURN_IF_ERROR(Note("waiting for service " + svc.name + " (" + how + ")"));
    Status st = RetryUntilReady([&] { return ServiceReady(svc, services_[i]); }, svc.ready->timeout,
                                [&](std::chrono::milliseconds d) { return control_.Sleep(d); });
    if (st.code() == Code::kDeadlineExceeded) {
      return Status(Code::kDeadlineExceeded, "service " + svc.name + " was not ready within " +
                                                 std::to_string(svc.ready->timeout.count()) + " ms" + " (" + how + ")");
    }
    if (!st.ok()) return st.Wrap("service " + svc.name);
    SLIPWAY_RETURN_IF_ERROR(Note("service " + svc.name + " is ready"));
  }
  return Status::Ok();
}

// How many steps of a run may wait created ahead at once. A chain of short
// steps needs its next few sandboxes staged before the one it waits for
// ends: staging one takes longer than a short step runs. More would only
// hold sandboxes (a monitor, an init and a root each) for steps far off.
constexpr int kMaxCreatedAhead = 3;

// The scheduler of the steps, on the run's thread. Each look at records_
// (under control_.mu()) decides, for every pending step: stopped (the run
// stops), skipped (a need did not succeed, or `when`), started (every need
// succeeded), or waiting. A step that waits only for steps on their way
// (running, or themselves created ahead) and will run if they succeed is
// created ahead (Create) and its sandbox staged, up to kMaxCreatedAhead
// steps at once: when its needs end, starting it is all that is left. Then
// the scheduler sleeps until a step's end wakes it (RecordEnd notifies
// before it writes anything) or a stop.
void RunExecutor::RunSteps() {
  const size_t first = 1 + services_.size();  // records_ index of step 0
  const RunContext ctx = Context();
  const std::vector<size_t> order = ExecutionOrder(pipeline_);
  for (;;) {
    std::vector<size_t> to_launch, to_create;
    std::vector<size_t> changed;
    bool more = false;
    uint64_t seen;  // the changes this look saw: a later one wakes the wait at once
    {
      std::lock_guard lock(control_.mu());
      seen = control_.changes();
      bool stopping = control_.stop() != RunControl::Stop::kNone;
      // Running, started in this look, or created ahead: `order` puts every
      // need before the steps that need it, so a need is decided first.
      std::vector<bool> on_its_way(pipeline_.steps.size(), false);
      int ahead = 0;  // pending steps with a container made ahead
      for (size_t i : order) {
        if (records_[first + i].status == StepStatus::kPending && !steps_[i].container_id.empty()) ++ahead;
      }
      for (size_t i : order) {
        StepRecord& r = records_[first + i];
        if (r.status == StepStatus::kRunning) {
          more = true;
          on_its_way[i] = true;
        }
        if (r.status != StepStatus::kPending) continue;
        if (stopping) {
          r.status = StoppedStatus();
          changed.push_back(first + i);
          continue;
        }
        bool waiting = false, all_on_their_way = true;
        std::string failed_need;
        for (size_t need : pipeline_.steps[i].needs) {
          const StepRecord& n = records_[first + need];
          if (!IsFinal(n.status)) waiting = true;
          bool fine = n.status == StepStatus::kSuccess || (n.status == StepStatus::kSkipped && n.reason == "when");
          if (IsFinal(n.status) && !fine && failed_need.empty()) failed_need = n.name;
          if (!fine && !on_its_way[need]) all_on_their_way = false;
        }
        if (waiting) {
          more = true;
          if (!steps_[i].container_id.empty()) {
            on_its_way[i] = true;
          } else if (failed_need.empty() && all_on_their_way && ahead < kMaxCreatedAhead &&
                     StepRuns(pipeline_.steps[i], ctx)) {
            to_create.push_back(i);
            on_its_way[i] = true;
            ++ahead;
          }
          continue;
        }
        if (!failed_need.empty()) {
          r.status = StepStatus::kSkipped;
          r.reason = "needs " + failed_need + ", which did not succeed";
          changed.push_back(first + i);
        } else if (!StepRuns(pipeline_.steps[i], ctx)) {
          r.status = StepStatus::kSkipped;
          r.reason = "when";
          changed.push_back(first + i);
        } else {
          r.status = StepStatus::kRunning;  // claimed; Launch records the rest
          to_launch.push_back(i);
          on_its_way[i] = true;
          more = true;
        }
      }
    }
    // Starts first: they are what a finished step's dependants wait for.
    for (size_t i : to_launch) {
      Unit& u = steps_[i];
      Status st = Launch(u);
      if (!st.ok()) {
        {
          std::lock_guard lock(control_.mu());
          StepRecord& r = records_[u.record];
          bool stopped = control_.stop() != RunControl::Stop::kNone;
          r.status = stopped ? StoppedStatus() : StepStatus::kError;
          if (!stopped) r.error = st.message();
          r.finished_unix_ms = NowUnixMs();
        }
        if (u.log) {
          (void)u.log->Note(st.message());
          (void)u.log->Close();
        }
        SaveStep(u.record);
        control_.LogEnd(records_[u.record].name)->Fire(Container{});
      }
    }
    for (size_t rec : changed) {
      SaveStep(rec);
      control_.LogEnd(records_[rec].name)->Fire(Container{});
    }
    for (size_t rec : changed) Discard(steps_[rec - first]);
    // A creation ahead that fails is not the step's failure: Launch tries
    // again once its needs succeeded, and records that error if it recurs.
    // Its sandbox is staged too, in the background (ContainerService::Stage):
    // once its needs succeed, only its command's exec is left.
    for (size_t i : to_create) {
      if (Create(steps_[i]).ok()) (void)d_.containers.Stage(steps_[i].container_id);
    }
    if (!more && to_launch.empty() && changed.empty()) break;
    if (!to_launch.empty() || !changed.empty()) continue;  // look again at once
    // Wait for a running step's end (RecordEnd notifies), or for a stop,
    // which kills the running ones.
    control_.WaitForChange(seen);
    if (Stopping()) {
      // The stop killed the running steps: wait until each is recorded.
      for (Unit& u : steps_) {
        if (u.pump.joinable()) u.pump.join();
      }
    }
  }
  for (Unit& u : steps_) {
    if (u.pump.joinable()) u.pump.join();
    Discard(u);  // none is left created: every step is final here
  }
}

void RunExecutor::Teardown() {
  for (Unit& u : services_) {
    if (u.container_id.empty()) continue;
    {
      std::lock_guard lock(control_.mu());
      stopped_by_run_.insert(u.container_id);
    }
    Status st = d_.containers.Kill(u.container_id, SIGKILL);
    if (!st.ok() && st.code() != Code::kFailedPrecondition && st.code() != Code::kNotFound) {
      d_.log.Warn("run.teardown", {{"run", run_.id}, {"container", u.container_id}, {"error", st.message()}});
    }
  }
  for (Unit& u : services_) {
    if (u.end) u.end->AwaitFired(kTeardownWait);
    if (u.pump.joinable()) u.pump.join();
  }
}

RunStatus RunExecutor::Outcome() const {
  switch (control_.stop()) {
    case RunControl::Stop::kCancel:
      return RunStatus::kCancelled;
    case RunControl::Stop::kShutdown:
      return RunStatus::kInterrupted;
    case RunControl::Stop::kNone:
      break;
  }
  bool failed = false;
  for (size_t i = 1 + services_.size(); i < records_.size(); ++i) {
    if (records_[i].status == StepStatus::kError) return RunStatus::kError;
    if (records_[i].status == StepStatus::kFailure) failed = true;
  }
  return failed ? RunStatus::kFailure : RunStatus::kSuccess;
}

bool RunExecutor::HasReports() const {
  if (!d_.options.tests) return false;
  if (!pipeline_.reports.empty()) return true;
  for (const Step& s : pipeline_.steps) {
    if (!s.reports.empty()) return true;
  }
  return false;
}

bool RunExecutor::AnyStepStarted() {
  std::lock_guard lock(control_.mu());
  for (const Unit& u : steps_) {
    if (records_[u.record].started_unix_ms != 0) return true;
  }
  return false;
}

// The workspace file `file`'s stat, resolved inside the workspace; nullopt
// if it is gone or not a regular file.
std::optional<struct stat> StatInWorkspace(const std::string& workspace, const std::string& file) {
  auto fd = OpenInWorkspace(workspace, file, O_PATH | O_NOFOLLOW, "open " + file);
  struct stat st;
  if (!fd.ok() || ::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return st;
}

std::string RunExecutor::StepThatWrote(const std::string& file) const {
  std::optional<struct stat> found_stat = StatInWorkspace(workspace_, file);
  if (!found_stat) return "";
  const struct stat& st = *found_stat;
  const int64_t mtime_ms = int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  std::string found;
  int matches = 0;
  for (const Unit& u : steps_) {
    const StepRecord& r = records_[u.record];
    if (u.launched_unix_ms == 0 || r.finished_unix_ms == 0) continue;
    if (mtime_ms >= u.launched_unix_ms && mtime_ms <= r.finished_unix_ms) {
      found = r.name;
      ++matches;
    }
  }
  return matches == 1 ? found : "";
}

void RunExecutor::RecordTestResults() {
  ReportLimits limits;
  limits.max_file_bytes = d_.options.reports_max_bytes;
  // CollectReports bounds what one call reads to four caps; a run calls it
  // once per step that names reports, and once for the top level, so what
  // is left of the run's four caps goes from call to call as the per-file
  // cap, and once it is spent no call is made. Many steps cannot multiply
  // the bound: the last call may overshoot it, at most by three times what
  // was left (a call reads at most four of its caps).
  int64_t read_left = d_.options.reports_max_bytes > INT64_MAX / 4 ? INT64_MAX : d_.options.reports_max_bytes * 4;
  std::vector<TestCase> cases;
  std::vector<ReportFile> files;
  std::set<std::string> read;  // a file two globs match is read once
  auto take = [&](CollectedReports got, const std::string& step) {
    const size_t taken = cases.size();  // before this call's
    for (std::string& w : got.warnings) run_.warnings.push_back(std::move(w));
    std::map<std::string, ReportFile> by_file;
    for (const std::string& f : got.files) {
      // Read again or not, it was read: it counts against the run's bound.
      if (std::optional<struct stat> st = StatInWorkspace(workspace_, f)) read_left -= st->st_size;
      if (read.count(f)) continue;
      by_file[f] = ReportFile{f, step.empty() ? StepThatWrote(f) : step, 0};
    }
    size_t text_bytes = 0;  // of the cases taken now
    for (TestCase& c : got.cases) {
      auto it = by_file.find(c.report);
      if (it == by_file.end()) continue;
      c.step = it->second.step;
      ++it->second.cases;
      text_bytes += c.suite.size() + c.class_name.size() + c.name.size() + c.message.size() + c.type.size() +
                    c.details.size() + c.system_out.size() + c.system_err.size() + c.file.size() + c.report.size();
      cases.push_back(std::move(c));
    }
    for (auto& [f, r] : by_file) {
      read.insert(f);
      files.push_back(std::move(r));
    }
    // The case and text caps hold for the run, all files together.
    limits.max_cases = cases.size() - taken < limits.max_cases ? limits.max_cases - (cases.size() - taken) : 0;
    limits.max_total_bytes = text_bytes < limits.max_total_bytes ? limits.max_total_bytes - text_bytes : 0;
    limits.max_file_bytes = std::min<int64_t>(d_.options.reports_max_bytes, std::max<int64_t>(read_left, 0));
  };
  // A step's own reports first: they say who wrote them. Those of a step
  // that never started would only be "matched nothing".
  auto collect = [&](const std::vector<std::string>& globs, const std::string& step) {
    if (limits.max_file_bytes <= 0) {
      run_.warnings.push_back((step.empty() ? std::string("reports") : "step " + step + "'s reports") +
                              ": not read: the run's reports took 4 x reports_max_bytes already");
      return;
    }
    take(CollectReports(workspace_, globs, limits), step);
  };
  for (size_t i = 0; i < pipeline_.steps.size(); ++i) {
    const Step& s = pipeline_.steps[i];
    if (s.reports.empty() || records_[steps_[i].record].started_unix_ms == 0) continue;
    collect(s.reports, s.name);
  }
  if (!pipeline_.reports.empty()) collect(pipeline_.reports, "");

  run_.tests = CountCases(cases);
  for (const ReportFile& f : files) {
    (void)Note("report " + f.file + ": " + std::to_string(f.cases) + " test cases" +
               (f.step.empty() ? "" : " (step " + f.step + ")"));
  }
  for (const std::string& w : run_.warnings) (void)Note("report warning: " + w);
  Status recorded = d_.options.tests->RecordRun(run_.id, cases, files);
  if (!recorded.ok()) {
    d_.log.Error("run.tests", {{"run", run_.id}, {"error", recorded.message()}});
    run_.warnings.push_back("the test cases could not be recorded: " + recorded.message());
  }
  const int64_t failing = run_.tests.failed + run_.tests.errors;
  (void)Note(std::to_string(run_.tests.total) + " test cases: " + std::to_string(run_.tests.passed) + " passed, " +
             std::to_string(run_.tests.failed) + " failed, " + std::to_string(run_.tests.errors) + " errors, " +
             std::to_string(run_.tests.skipped) + " skipped");
  // The steps decide, unless the file says failed tests fail the run.
  if (pipeline_.reports_fail_run && failing > 0 && run_.status == RunStatus::kSuccess) {
    run_.status = RunStatus::kFailure;
    run_.error = std::to_string(failing) + (failing == 1 ? " test case failed" : " test cases failed");
  }
}

void RunExecutor::EndSetupLog() {
  if (setup_log_) (void)setup_log_->Close();
  control_.LogEnd(kSetupStep)->Fire(Container{});
}

Run RunExecutor::Execute() {
  run_.status = RunStatus::kRunning;
  run_.started_unix_ms = NowUnixMs();
  SaveRun();
  d_.log.Info("run.started", {{"run", run_.id}, {"repo", run_.repo}});
  if (d_.changed) d_.changed(run_);

  Status st = MakeDirs(RunDir(d_.options, run_.id) + "/logs", 0700);
  StepRecord setup;
  setup.run_id = run_.id;
  setup.index = 0;
  setup.name = kSetupStep;
  setup.kind = StepKind::kSetup;
  setup.status = StepStatus::kRunning;
  setup.started_unix_ms = NowUnixMs();
  records_.push_back(setup);
  if (st.ok()) {
    auto log = StepLogWriter::Create(StepLogPath(d_.options, run_.id, 0), d_.options.step_log_max_bytes);
    if (log.ok()) setup_log_ = std::move(*log);
    st = log.status();
  }
  SaveStep(0);

  // Everything before the first service: no container exists yet.
  if (st.ok()) st = PrepareWorkspace();
  if (st.ok()) {
    auto pipeline = ReadPipeline();
    st = pipeline.status();
    if (pipeline.ok()) pipeline_ = std::move(*pipeline);
  }
  if (st.ok()) st = PlanUnits();
  if (st.ok() && !Stopping()) st = PrepareImages();
  if (st.ok() && !Stopping()) st = PlanPromotion();
  // The services and their readiness are part of the setup too: its log
  // says what the run waited for, and for how long.
  if (st.ok() && !Stopping()) st = StartServices();
  if (st.ok() && !Stopping()) st = AwaitServices();
  {
    std::lock_guard lock(control_.mu());
    records_[0].status = st.ok() ? StepStatus::kSuccess : Stopping() ? StoppedStatus() : StepStatus::kError;
    records_[0].finished_unix_ms = NowUnixMs();
    records_[0].duration_ms = records_[0].finished_unix_ms - records_[0].started_unix_ms;
    if (!st.ok()) records_[0].error = st.message();
  }
  if (!st.ok()) (void)Note(st.message());
  // The reports read after the steps are noted in the setup log: it stays
  // open until then.
  const bool reports = st.ok() && HasReports();
  SaveStep(0);
  if (!reports) EndSetupLog();

  if (st.ok() || Stopping()) {
    RunSteps();
  } else {
    // The run could not start its steps: they never run.
    for (size_t i = 1 + services_.size(); i < records_.size(); ++i) {
      {
        std::lock_guard lock(control_.mu());
        records_[i].status = StepStatus::kSkipped;
        records_[i].reason = "the run could not start";
      }
      SaveStep(i);
    }
  }
  Teardown();
  // A service that failed its readiness check: its log says why.
  run_.status = st.ok() || Stopping() ? Outcome() : RunStatus::kError;
  if (!st.ok() && !Stopping()) run_.error = st.message();
  if (run_.status == RunStatus::kCancelled && control_.superseded_by() != 0) {
    run_.superseded_by = control_.superseded_by();
    run_.error = "superseded by run " + std::to_string(run_.superseded_by);
  }
  // Reports are read once the steps ran, whatever their result (a cancelled
  // run's too: what its steps wrote before they were stopped).
  if (reports) {
    if (AnyStepStarted()) RecordTestResults();
    EndSetupLog();
  }
  // Only a run that succeeded promotes (PromotionService, told of its end).
  if (run_.status == RunStatus::kSuccess && !run_.promote_plan.empty() && run_.promotion_status.empty())
    run_.promotion_status = "pending";
  run_.finished_unix_ms = NowUnixMs();
  control_.EndAllLogs();
  SaveRun();
  d_.log.Info("run.finished", {{"run", run_.id}, {"status", RunStatusName(run_.status)}, {"error", run_.error}});
  return run_;
}

}  // namespace

Run ExecuteRun(const RunDeps& deps, Run run, RunControl& control) {
  RunExecutor executor(deps, std::move(run), control);
  return executor.Execute();
}

}  // namespace slipway::pipelines

#include "service/daemon/container_service.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/base/units.h"
#include "service/daemon/spec_builder.h"

namespace slipway::daemon {

namespace {

using json = nlohmann::json;

// How often a watcher looks up from waiting for its monitor, to notice that
// slipwayd gives up on it at shutdown.
constexpr std::chrono::milliseconds kWatchSlice{500};
// In pending_signals_: stop through the monitor rather than signal the init.
constexpr int kStopNow = 0;
// How long a forced removal waits for a killed sandbox to be recorded.
constexpr std::chrono::milliseconds kForceRemoveWait{10000};

// Waits until `fd` is readable or `timeout` passes; true if readable.
bool WaitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd p = {fd, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

// Closing an inotify fd waits for an SRCU grace period in the kernel
// (fsnotify_destroy_group), several milliseconds. A log follower that ends
// hands its fd here instead, so that the end of `slipway run` does not wait.
void CloseLater(UniqueFd fd) {
  struct Closer {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<UniqueFd> fds;
    Closer() {
      std::thread([this] {
        for (;;) {
          std::vector<UniqueFd> batch;
          {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return !fds.empty(); });
            batch.swap(fds);
          }
          batch.clear();  // the slow closes, off every caller's path
        }
      }).detach();
    }
  };
  static Closer* closer = new Closer;  // lives as long as the process
  std::lock_guard lock(closer->mu);
  closer->fds.push_back(std::move(fd));
  closer->cv.notify_one();
}

}  // namespace

// ---------------------------------------------------------------------------

EndSignal::EndSignal() : fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
EndSignal::~EndSignal() {
  if (fd >= 0) ::close(fd);
}

void EndSignal::Fire(const Container& c) {
  std::lock_guard lock(mu);
  if (final) return;
  final = c;
  uint64_t one = 1;  // never read back: the fd stays readable
  (void)!::write(fd, &one, sizeof one);
}

bool EndSignal::fired() {
  std::lock_guard lock(mu);
  return final.has_value();
}

void EndSignal::Settle() {
  std::lock_guard lock(mu);
  settled = true;
  settled_cv.notify_all();
}

void EndSignal::AwaitSettled() {
  std::unique_lock lock(mu);
  settled_cv.wait(lock, [&] { return settled; });
}

std::string ContainerStats::ToJson() const {
  return json{{"cpu_usage_ns", cpu_usage_ns},
              {"memory_bytes", memory_bytes},
              {"memory_peak_bytes", memory_peak_bytes},
              {"pids", pids}}
      .dump();
}

std::string ReconcileReport::ToJson() const {
  return json{{"adopted", adopted}, {"recorded", recorded}, {"lost", lost}, {"orphans", orphans}}.dump();
}

// ---------------------------------------------------------------------------
// Opening, creating, starting

ContainerService::ContainerService(const ContainerServiceOptions& options, std::unique_ptr<Runtime> runtime,
                                   ContainerStore& store, ImageStore& images, Metrics& metrics, EventLog& log)
    : options_(options),
      runtime_(std::move(runtime)),
      store_(store),
      images_(images),
      metrics_(metrics),
      log_(log) {}

ContainerService::~ContainerService() {
  Shutdown(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<ContainerService>> ContainerService::Open(const ContainerServiceOptions& options,
                                                                 ContainerStore& store, ImageStore& images,
                                                                 Metrics& metrics, EventLog& log) {
  if (options.max_running < 1) return InvalidArgument("max_running must be at least 1");
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> runtime, Runtime::Open(options.runtime));
  return std::unique_ptr<ContainerService>(
      new ContainerService(options, std::move(runtime), store, images, metrics, log));
}

MonitorOptions ContainerService::MonitorOptionsFor() const {
  MonitorOptions m;
  m.monitor_binary = options_.monitor_binary;
  m.state_dir = options_.runtime.state_dir;
  m.cgroup_parent = options_.runtime.cgroup_parent;
  return m;
}

Result<Container> ContainerService::Create(const CreateRequest& request) {
  SLIPWAY_ASSIGN_OR_RETURN(BuiltSpec built, BuildSandboxSpec(request, images_));
  Container c;
  c.id = RandomHex(16);
  c.name = request.name;
  c.request = request;
  c.image_id = built.image_id;
  c.request.stop_signal = built.stop_signal;
  c.spec = std::move(built.spec);
  // The sandbox is named after the container: after a crash, Reconcile()
  // matches sandboxes to rows by it.
  c.spec.name = c.id;
  if (c.spec.network == NetworkMode::kContainer) {
    auto peer = store_.Find(c.spec.network_peer);
    if (!peer.ok()) return peer.status().Wrap("network container:" + c.spec.network_peer);
    if (IsFinal(peer->state))
      return FailedPrecondition("network container:" + c.spec.network_peer + ": that container is " +
                                ContainerStateName(peer->state) + ", not running");
    c.spec.network_peer = peer->id;
  }
  // A missing bind source is a bad request, not a missing API object.
  if (Status st = ValidateSpec(c.spec); !st.ok()) {
    return st.code() == Code::kNotFound ? InvalidArgument(st.message()) : st;
  }
  c.created_unix_ms = NowUnixMs();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(Code::kUnavailable, "slipwayd is shutting down");
    SLIPWAY_RETURN_IF_ERROR(store_.Insert(c));
  }
  log_.Info("container.created", {{"id", c.id}, {"name", c.name}, {"image", request.image}});
  return c;
}

Status ContainerService::Start(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  if (stopping_) return Status(Code::kUnavailable, "slipwayd is shutting down");
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  if (c.state != ContainerState::kCreated) {
    return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state) +
                              ", not created");
  }
  if (static_cast<int>(queue_.size()) >= options_.max_queued) {
    return Status(Code::kResourceExhausted,
                  "the start queue is full (" + std::to_string(options_.max_queued) + " containers)");
  }
  c.state = ContainerState::kQueued;
  SLIPWAY_RETURN_IF_ERROR(store_.Update(c));
  queue_.push_back(c.id);
  UpdateGaugesLocked();
  cv_.notify_all();
  return Status::Ok();
}

void ContainerService::Run() {
  std::lock_guard lock(mu_);
  if (scheduler_.joinable() || stopping_) return;
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

void ContainerService::SchedulerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (!queue_.empty() && running_ < options_.max_running); });
    if (stopping_) return;
    std::string id = queue_.front();
    queue_.pop_front();
    ++running_;
    ++threads_;
    UpdateGaugesLocked();
    // One thread per sandbox starts it and then watches it: starting takes
    // milliseconds, and a slow start must not hold up the others.
    std::thread([this, id] { StartAndWatch(id); }).detach();
  }
}

void ContainerService::StartAndWatch(const std::string& id) {
  auto started = Launch(id);
  if (started.ok()) {
    Watch(*started);
  } else {
    ReleaseSlot();
  }
  std::lock_guard lock(mu_);
  --threads_;
  cv_.notify_all();
}

Result<Container> ContainerService::Launch(const std::string& id) {
  Container c;
  {
    std::lock_guard lock(mu_);
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Get(id));
    if (c.state != ContainerState::kQueued) return FailedPrecondition("no longer queued");  // stopped
    c.state = ContainerState::kStarting;
    SLIPWAY_RETURN_IF_ERROR(store_.Update(c));
  }
  Result<StartedSandbox> sandbox = CheckNetworkPeer(c);
  if (sandbox.ok()) sandbox = StartMonitored(MonitorOptionsFor(), c.spec);
  if (!sandbox.ok()) {
    c.state = ContainerState::kFailed;
    c.error = sandbox.status().message();
    c.finished_unix_ms = NowUnixMs();
    metrics_.sandboxes_failed.Inc();
    log_.Warn("container.failed", {{"id", c.id}, {"error", c.error}});
    Finish(c);
    return sandbox.status();
  }
  std::optional<int> pending;
  {
    std::lock_guard lock(mu_);
    c.state = ContainerState::kRunning;
    c.sandbox_id = sandbox->id;
    c.pid = sandbox->init_pid;
    c.started_unix_ms = NowUnixMs();
    Status st = store_.Update(c);
    if (!st.ok()) log_.Error("store.update", {{"id", c.id}, {"error", st.message()}});
    if (auto it = pending_signals_.find(c.id); it != pending_signals_.end()) {
      pending = it->second;
      pending_signals_.erase(it);
    }
    sandbox_ids_[c.id] = c.sandbox_id;
  }
  started_cv_.notify_all();
  metrics_.sandboxes_started.Inc();
  log_.Info("container.started", {{"id", c.id}, {"sandbox", c.sandbox_id}, {"pid", c.pid}});
  // A kill or stop that came while it was starting.
  if (pending && *pending == kStopNow) (void)StopMonitored(options_.runtime.state_dir, c.sandbox_id);
  if (pending && *pending != kStopNow)
    (void)SignalMonitoredInit(options_.runtime.state_dir, c.sandbox_id, *pending);
  return c;
}

// The sandbox whose network namespace `c` joins must run; the runtime would
// say so too, but only by the peer's sandbox id.
Result<StartedSandbox> ContainerService::CheckNetworkPeer(const Container& c) {
  if (c.spec.network != NetworkMode::kContainer) return StartedSandbox{};
  auto peer = store_.Get(c.spec.network_peer);
  std::string name = c.request.network.substr(std::string("container:").size());
  if (!peer.ok()) return FailedPrecondition("network container:" + name + ": that container was removed");
  if (peer->state != ContainerState::kRunning) {
    return FailedPrecondition("network container:" + name + ": that container is " +
                              ContainerStateName(peer->state) + ", not running");
  }
  return StartedSandbox{};
}

// ---------------------------------------------------------------------------
// Watching and recording the end

void ContainerService::Watch(Container c) {
  const std::string& state_dir = options_.runtime.state_dir;
  for (;;) {
    auto status = WaitForMonitor(state_dir, c.sandbox_id, kWatchSlice);
    if (!status.ok() && status.status().code() == Code::kDeadlineExceeded) {
      std::lock_guard lock(mu_);
      if (abandon_) return;  // shutting down: the next slipwayd adopts it
      continue;
    }
    RecordEnd(c, status);
    return;
  }
}

void ContainerService::RecordEnd(Container c, const Result<SandboxStatus>& status) {
  c.pid = 0;
  c.finished_unix_ms = NowUnixMs();
  if (status.ok() && status->phase == SandboxPhase::kEnded) {
    c.state = ContainerState::kExited;
    c.result = status->result;
    metrics_.sandboxes_exited.Inc();
    if (c.result->oom_killed) metrics_.sandboxes_oom_killed.Inc();
    log_.Info("container.exited", {{"id", c.id}, {"exit_code", c.result->exit_code}});
  } else {
    c.state = ContainerState::kLost;
    c.error = status.ok() ? "its monitor died without recording a result; the sandbox was killed"
                          : status.status().message();
    if (status.ok()) (void)CleanUpLost(*runtime_, c.sandbox_id);
    log_.Warn("container.lost", {{"id", c.id}, {"error", c.error}});
  }
  Finish(c);
  ReleaseSlot();
}

void ContainerService::ReleaseSlot() {
  std::lock_guard lock(mu_);
  --running_;
  UpdateGaugesLocked();
  cv_.notify_all();
}

void ContainerService::Finish(Container c) {
  std::shared_ptr<EndSignal> signal;
  {
    std::lock_guard lock(mu_);
    Status st = store_.Update(c);
    if (!st.ok()) log_.Error("store.update", {{"id", c.id}, {"error", st.message()}});
    signal = SignalForLocked(c.id);
    sandbox_ids_.erase(c.id);
  }
  signal->Fire(c);
  started_cv_.notify_all();
  if (c.request.auto_remove) {
    // Its readers first take the rest of its log, then it goes.
    AwaitReaders(c.id, kForceRemoveWait);
    Status st = RemoveEnded(c);
    if (!st.ok()) log_.Warn("container.remove", {{"id", c.id}, {"error", st.message()}});
  }
  signal->Settle();
}

void ContainerService::AwaitReaders(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !readers_.count(id); });
}

std::shared_ptr<EndSignal> ContainerService::SignalForLocked(const std::string& id) {
  auto& slot = signals_[id];
  if (!slot) slot = std::make_shared<EndSignal>();
  return slot;
}

Result<std::shared_ptr<EndSignal>> ContainerService::EndSignalOf(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  std::shared_ptr<EndSignal> signal = SignalForLocked(c.id);
  if (IsFinal(c.state) && !signal->fired()) {
    signal->Fire(c);
    signal->Settle();
  }
  return signal;
}

// ---------------------------------------------------------------------------
// Reading

Result<Container> ContainerService::Inspect(const std::string& id_or_name) const {
  return store_.Find(id_or_name);
}

Result<std::vector<Container>> ContainerService::List(bool all) const {
  return store_.List(all);
}

Result<ContainerStats> ContainerService::Stats(const std::string& id_or_name) const {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  if (c.state != ContainerState::kRunning)
    return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state));
  SLIPWAY_ASSIGN_OR_RETURN(CgroupUsage u, runtime_->cgroups().Usage(c.sandbox_id));
  return ContainerStats{u.cpu_usage_ns, u.memory_bytes, u.memory_peak_bytes, u.pids};
}

std::set<std::string> ContainerService::LowerDirsInUse() const {
  std::set<std::string> dirs;
  auto active = store_.List(/*all=*/false);
  if (!active.ok()) return dirs;
  for (const Container& c : *active) dirs.insert(c.spec.lower_dirs.begin(), c.spec.lower_dirs.end());
  return dirs;
}

bool ContainerService::ImageInUse(const std::string& image_id) const {
  auto active = store_.List(/*all=*/false);
  if (!active.ok()) return true;  // when in doubt, keep the image
  for (const Container& c : *active) {
    if (c.image_id == image_id) return true;
  }
  return false;
}

int ContainerService::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

int ContainerService::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size());
}

void ContainerService::UpdateGaugesLocked() {
  metrics_.sandboxes_running.Set(running_);
  metrics_.sandboxes_queued.Set(static_cast<int64_t>(queue_.size()));
}

// ---------------------------------------------------------------------------
// Logs

// Waits until the container has a sandbox (its log exists from then on) or
// has ended; returns the sandbox id, or "" if it ended without one.
std::string ContainerService::AwaitSandbox(const std::string& id, EndSignal& end) {
  std::unique_lock lock(mu_);
  std::string sandbox;
  started_cv_.wait(lock, [&] {
    auto it = sandbox_ids_.find(id);
    if (it != sandbox_ids_.end()) sandbox = it->second;
    return !sandbox.empty() || end.fired() || abandon_;
  });
  return sandbox;
}

Status ContainerService::StreamLogs(const std::string& id_or_name, bool follow,
                                    const std::function<bool(Stream, std::string_view)>& chunk) {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, EndSignalOf(c.id));
  // Counted, so that an auto_remove container's log outlives its end until
  // every reader has it all.
  {
    std::lock_guard lock(mu_);
    ++readers_[c.id];
  }
  struct Done {
    ContainerService* self;
    std::string id;
    ~Done() {
      std::lock_guard lock(self->mu_);
      if (--self->readers_[id] == 0) self->readers_.erase(id);
      self->cv_.notify_all();
    }
  } done{this, c.id};
  std::string sandbox = c.sandbox_id;
  if (sandbox.empty() && follow) sandbox = AwaitSandbox(c.id, *end);
  if (sandbox.empty()) {
    // Ended without ever running, or not started and not followed; an ended
    // container whose row was refreshed may have a sandbox after all.
    auto now = store_.Find(c.id);
    if (!now.ok() || now->sandbox_id.empty()) return Status::Ok();
    sandbox = now->sandbox_id;
  }
  return Follow(runtime_->SandboxDir(sandbox), follow, *end, chunk);
}

Status ContainerService::Follow(const std::string& dir, bool follow, EndSignal& end,
                                const std::function<bool(Stream, std::string_view)>& chunk) {
  const std::string path = dir + "/output.log";
  bool more = true;
  auto deliver = [&](Stream s, std::string_view data) {
    if (more) more = chunk(s, data);
  };
  uint64_t offset = 0;
  auto read_new = [&]() -> Status {
    if (!PathExists(path)) return Status::Ok();
    SLIPWAY_ASSIGN_OR_RETURN(offset, ReadLog(path, offset, deliver));
    return Status::Ok();
  };
  if (!follow) return read_new();
  // inotify wakes the follower when the monitor writes; the end signal when
  // the sandbox has ended (its log is complete by then).
  UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify) return ErrnoStatus("inotify_init1");
  struct Release {
    UniqueFd& fd;
    ~Release() { CloseLater(std::move(fd)); }
  } release{inotify};
  if (::inotify_add_watch(inotify.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE) < 0 &&
      errno != ENOENT) {
    return ErrnoStatus("inotify_add_watch " + dir);
  }
  for (;;) {
    bool ended = end.fired();
    SLIPWAY_RETURN_IF_ERROR(read_new());
    if (ended || !more) return Status::Ok();
    pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {end.fd, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(kWatchSlice.count()));
    if (n < 0 && errno != EINTR) return ErrnoStatus("poll log of " + dir);
    char drain[4096];
    while (::read(inotify.get(), drain, sizeof drain) > 0) {
    }
    std::lock_guard lock(mu_);
    if (abandon_) return Status(Code::kUnavailable, "slipwayd is shutting down");
  }
}

// ---------------------------------------------------------------------------
// Kill, stop, remove

Status ContainerService::Kill(const std::string& id_or_name, int signal) {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  if (IsFinal(c.state) || c.state == ContainerState::kCreated)
    return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state) +
                              ", not running");
  log_.Info("container.kill", {{"id", c.id}, {"signal", signal}});
  // Asked to run but not running yet: `run -d` then `kill` must not race the
  // queue. A container that never ran ends as if the signal had killed it.
  if (CancelUnstarted(c.id, signal)) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    auto row = store_.Get(c.id);
    if (row.ok() && row->state == ContainerState::kStarting) {
      pending_signals_[c.id] = signal;  // Launch() delivers it once it runs
      return Status::Ok();
    }
    if (row.ok()) c = *row;
  }
  if (c.state != ContainerState::kRunning) return Status::Ok();  // ended meanwhile
  return SignalMonitoredInit(options_.runtime.state_dir, c.sandbox_id, signal);
}

// Takes a container that never ran out of the queue and records it as
// cancelled by `signal`. False if it is no longer created or queued.
bool ContainerService::CancelUnstarted(const std::string& id, int signal) {
  Container c;
  {
    std::lock_guard lock(mu_);
    auto row = store_.Get(id);
    if (!row.ok()) return false;
    c = *row;
    if (c.state != ContainerState::kCreated && c.state != ContainerState::kQueued) return false;
    std::erase(queue_, id);
    UpdateGaugesLocked();
  }
  c.state = ContainerState::kExited;
  c.result = SandboxResult{};
  c.result->cancelled = true;
  c.result->signal = signal;
  c.result->exit_code = 128 + signal;
  c.finished_unix_ms = NowUnixMs();
  Finish(c);
  return true;
}

Status ContainerService::Stop(const std::string& id_or_name, std::chrono::milliseconds grace) {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  if (IsFinal(c.state)) return Status::Ok();
  if (CancelUnstarted(c.id, SIGTERM)) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    auto row = store_.Get(c.id);
    if (row.ok() && row->state == ContainerState::kStarting) {
      pending_signals_[c.id] = kStopNow;  // Launch() stops it once it runs
      return Status::Ok();
    }
    if (row.ok()) c = *row;
  }
  if (c.state != ContainerState::kRunning) return Status::Ok();
  auto parsed = ParseSignal(c.request.stop_signal);
  int signal = parsed.ok() ? *parsed : SIGTERM;  // rows made before stop_signal existed hold ""
  log_.Info("container.stop", {{"id", c.id}, {"grace_ms", grace.count()}, {"signal", signal}});
  (void)SignalMonitoredInit(options_.runtime.state_dir, c.sandbox_id, signal);
  SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, EndSignalOf(c.id));
  std::string state_dir = options_.runtime.state_dir, sandbox = c.sandbox_id;
  // The grace period runs on a thread of its own; the caller waits on `end`.
  {
    std::lock_guard lock(mu_);
    ++threads_;
  }
  std::thread([this, end, grace, state_dir, sandbox] {
    if (!WaitReadable(end->fd, grace)) (void)StopMonitored(state_dir, sandbox);
    std::lock_guard lock(mu_);
    --threads_;
    cv_.notify_all();
  }).detach();
  return Status::Ok();
}

Status ContainerService::Remove(const std::string& id_or_name, bool force) {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  // Never asked to run: nothing to stop (docker rm takes it without -f).
  if (c.state == ContainerState::kCreated && CancelUnstarted(c.id, SIGKILL)) {
    if (c.request.auto_remove) return Status::Ok();  // Finish() removed it
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Get(c.id));
  }
  if (!IsFinal(c.state)) {
    if (!force) {
      return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state) +
                                ": stop it first, or remove it with force");
    }
    SLIPWAY_RETURN_IF_ERROR(Stop(c.id, std::chrono::milliseconds(0)));
    SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, EndSignalOf(c.id));
    if (!WaitReadable(end->fd, kForceRemoveWait))
      return Status(Code::kDeadlineExceeded, "container " + id_or_name + " did not stop in time");
    if (c.request.auto_remove) {
      end->AwaitSettled();  // Finish() removes it
      return Status::Ok();
    }
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Get(c.id));
  }
  if (c.request.auto_remove) return Status::Ok();  // Finish() removed it already
  return RemoveEnded(c);
}

Status ContainerService::RemoveEnded(const Container& c) {
  if (!c.sandbox_id.empty()) {
    Status st = runtime_->Remove(c.sandbox_id, /*force=*/false);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  std::lock_guard lock(mu_);
  SLIPWAY_RETURN_IF_ERROR(store_.Delete(c.id));
  signals_.erase(c.id);
  log_.Info("container.removed", {{"id", c.id}});
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Crash recovery and shutdown

Result<ReconcileReport> ContainerService::Reconcile() {
  const std::string& state_dir = options_.runtime.state_dir;
  ReconcileReport report;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<SandboxStatus> sandboxes, Survey(state_dir));
  std::set<std::string> claimed;  // container ids whose sandbox was found
  for (const SandboxStatus& s : sandboxes) {
    auto row = store_.Get(s.name);
    bool active =
        row.ok() && (row->state == ContainerState::kStarting || row->state == ContainerState::kRunning);
    bool kept_for_logs = row.ok() && IsFinal(row->state) && row->sandbox_id == s.id;
    if (kept_for_logs) continue;
    if (!active) {
      SLIPWAY_RETURN_IF_ERROR(RemoveOrphan(s));
      ++report.orphans;
      continue;
    }
    claimed.insert(row->id);
    SLIPWAY_RETURN_IF_ERROR(Resume(*row, s, &report));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Container> active, store_.List(/*all=*/false));
  std::reverse(active.begin(), active.end());  // oldest first: the queue's order
  for (Container& c : active) {
    if (c.state == ContainerState::kQueued) {
      std::lock_guard lock(mu_);
      queue_.push_back(c.id);
    } else if ((c.state == ContainerState::kStarting || c.state == ContainerState::kRunning) &&
               !claimed.count(c.id)) {
      c.state = ContainerState::kLost;
      c.pid = 0;
      c.finished_unix_ms = NowUnixMs();
      c.error = "slipwayd stopped while it was starting; it never ran";
      if (!c.sandbox_id.empty()) c.error = "its sandbox disappeared while slipwayd was down";
      Finish(c);
      ++report.lost;
    }
  }
  SLIPWAY_RETURN_IF_ERROR(runtime_->CollectGarbage());
  {
    std::lock_guard lock(mu_);
    UpdateGaugesLocked();
  }
  log_.Info("reconciled", json::parse(report.ToJson()));
  return report;
}

// A sandbox no active container claims: it must not keep running or holding
// anything.
Status ContainerService::RemoveOrphan(const SandboxStatus& s) {
  const std::string& state_dir = options_.runtime.state_dir;
  log_.Warn("sandbox.orphan", {{"sandbox", s.id}, {"name", s.name}, {"phase", SandboxPhaseName(s.phase)}});
  if (s.phase == SandboxPhase::kRunning) {
    (void)StopMonitored(state_dir, s.id);
    (void)WaitForMonitor(state_dir, s.id, kForceRemoveWait);
  }
  auto now = SurveyOne(state_dir, s.id);
  if (now.ok() && now->phase == SandboxPhase::kLost) return CleanUpLost(*runtime_, s.id);
  Status st = runtime_->Remove(s.id, /*force=*/true);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

// The sandbox of an active container, found after a restart.
Status ContainerService::Resume(Container c, const SandboxStatus& s, ReconcileReport* report) {
  c.sandbox_id = s.id;
  if (s.phase == SandboxPhase::kRunning) {
    auto state = ReadSandboxState(runtime_->SandboxDir(s.id));
    c.state = ContainerState::kRunning;
    if (state.ok()) c.pid = state->init.pid;
    if (c.started_unix_ms == 0) c.started_unix_ms = s.created_unix_ms;
    {
      std::lock_guard lock(mu_);
      SLIPWAY_RETURN_IF_ERROR(store_.Update(c));
      sandbox_ids_[c.id] = c.sandbox_id;
      ++running_;
      ++threads_;
    }
    log_.Info("container.adopted", {{"id", c.id}, {"sandbox", s.id}});
    std::thread([this, c] {
      Watch(c);
      std::lock_guard lock(mu_);
      --threads_;
      cv_.notify_all();
    }).detach();
    ++report->adopted;
    return Status::Ok();
  }
  {
    std::lock_guard lock(mu_);
    ++running_;  // RecordEnd() releases it
  }
  RecordEnd(c, s);
  ++(s.phase == SandboxPhase::kEnded ? report->recorded : report->lost);
  return Status::Ok();
}

void ContainerService::Shutdown(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mu_);
  if (!stopping_) {
    stopping_ = true;
    cv_.notify_all();
    lock.unlock();
    if (scheduler_.joinable()) scheduler_.join();
    lock.lock();
    log_.Info("shutdown.draining", {{"running", running_}, {"queued", queue_.size()}});
  }
  cv_.wait_for(lock, deadline, [&] { return threads_ == 0; });
  abandon_ = true;
  started_cv_.notify_all();
  // Watchers look up every kWatchSlice; starts in progress finish theirs.
  cv_.wait(lock, [&] { return threads_ == 0; });
}

}  // namespace slipway::daemon

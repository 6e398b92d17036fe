#include "engine/containers/container_service.h"

#include <nlohmann/json.hpp>

#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/containers/sandbox_spec.h"

namespace slipway {

namespace {

using json = nlohmann::json;

// Whether nlohmann can encode `text` (it refuses invalid UTF-8): the spec
// goes to slipway-monitor as JSON.
bool EncodesAsJson(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// Errors name the variable, never its value.
Status CheckSecretEnv(const CreateOptions& options) {
  if (options.secret_env.empty()) return Status::Ok();
  if (!options.ends_with_caller) {
    return InvalidArgument(
        "secret_env needs ends_with_caller: secrets live in this process only, and a container that outlived "
        "it would start without them");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < options.secret_env.size(); ++i) {
    const auto& [name, value] = options.secret_env[i];
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos ||
        !EncodesAsJson(name)) {
      return InvalidArgument("secret_env[" + std::to_string(i) +
                             "]: invalid variable name (empty, or holds '=', NUL or invalid UTF-8)");
    }
    if (!names.insert(name).second) return InvalidArgument("secret_env: variable " + name + " given twice");
    if (value.find('\0') != std::string::npos || !EncodesAsJson(value))
      return InvalidArgument("secret_env: the value of " + name + " holds a NUL byte or is not valid UTF-8");
  }
  return Status::Ok();
}

}  // namespace

std::string ContainerStats::ToJson() const {
  return json{{"cpu_usage_ns", cpu_usage_ns},
              {"memory_bytes", memory_bytes},
              {"memory_peak_bytes", memory_peak_bytes},
              {"pids", pids}}
      .dump();
}

// ---------------------------------------------------------------------------
// Opening, creating, starting

ContainerService::ContainerService(const ContainerServiceOptions& options, std::unique_ptr<Runtime> runtime,
                                   ContainerStore& store, ImageStore& images, EventLog& log,
                                   ContainerObserver* observer)
    : options_(options),
      runtime_(std::move(runtime)),
      monitors_(*runtime_, options.monitor_binary),
      store_(store),
      images_(images),
      log_(log),
      observer_(observer),
      queue_(options.max_running, options.max_queued, [observer](int running, int queued) {
        if (observer) observer->Counts(running, queued);
      }) {}

ContainerService::~ContainerService() {
  Shutdown(std::chrono::milliseconds(0));
}

Result<std::unique_ptr<ContainerService>> ContainerService::Open(const ContainerServiceOptions& options,
                                                                 ContainerStore& store, ImageStore& images,
                                                                 EventLog& log, ContainerObserver* observer) {
  if (options.max_running < 1) return InvalidArgument("max_running must be at least 1");
  if (options.sandbox_pool_size < 0) return InvalidArgument("sandbox_pool_size must not be negative");
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> runtime, Runtime::Open(options.runtime));
  return std::unique_ptr<ContainerService>(
      new ContainerService(options, std::move(runtime), store, images, log, observer));
}

Result<Container> ContainerService::Create(const CreateRequest& request, const CreateOptions& options) {
  SLIPWAY_RETURN_IF_ERROR(CheckSecretEnv(options));
  SLIPWAY_ASSIGN_OR_RETURN(BuiltSpec built, BuildSandboxSpec(request, images_));
  Container c;
  c.name = request.name;
  c.request = request;
  c.image_id = built.image_id;
  c.request.stop_signal = built.stop_signal;
  c.spec = std::move(built.spec);
  c.labels = options.labels;
  c.ends_with_caller = options.ends_with_caller;
  if (c.spec.network == NetworkMode::kContainer) {
    SLIPWAY_ASSIGN_OR_RETURN(Container peer, NetworkPeer(c.spec.network_peer, c.spec.network_peer,
                                                         /*must_run=*/false));
    c.spec.network_peer = peer.id;
  }
  return Record(std::move(c), options.secret_env);
}

Result<Container> ContainerService::CreateFromSpec(SpecContainer request) {
  Container c;
  c.request.image = request.image;
  c.request.command = request.spec.argv;
  c.request.stop_signal = "SIGTERM";
  c.request.auto_remove = request.auto_remove;
  c.spec = std::move(request.spec);
  c.labels = std::move(request.labels);
  c.ends_with_caller = request.ends_with_caller;
  return Record(std::move(c));
}

// Names the container's sandbox after it, checks the spec and inserts the row.
Result<Container> ContainerService::Record(Container c, SecretEnv secrets) {
  c.id = RandomHex(16);
  // The sandbox is named after the container: after a crash, Reconcile()
  // matches sandboxes to rows by it.
  c.spec.name = c.id;
  // A missing bind source is a bad request, not a missing API object.
  if (Status st = ValidateSpec(c.spec); !st.ok()) {
    return st.code() == Code::kNotFound ? InvalidArgument(st.message()) : st;
  }
  c.created_unix_ms = NowUnixMs();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(Code::kUnavailable, "shutting down: no new containers");
    SLIPWAY_RETURN_IF_ERROR(store_.Insert(c));
    if (!secrets.empty()) secrets_[c.id] = std::move(secrets);
  }
  log_.Info("container.created", {{"id", c.id}, {"name", c.name}, {"image", c.request.image}});
  return c;
}

Status ContainerService::Start(const std::string& id_or_name) { return Start(id_or_name, /*here=*/false); }

Status ContainerService::StartHere(const std::string& id_or_name) { return Start(id_or_name, /*here=*/true); }

Status ContainerService::Start(const std::string& id_or_name, bool here) {
  Container c;
  SecretEnv secrets;
  std::optional<StagedSandbox> staged;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(Code::kUnavailable, "shutting down: no new starts");
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Find(id_or_name));
    if (c.state != ContainerState::kCreated) {
      return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state) +
                                ", not created");
    }
    // Started on this thread: a staged sandbox (only its exec is left), or
    // any container for a caller that waits for it anyway; and only with a
    // slot free and nobody queued. A staging in progress is waited for by
    // a launch from the queue.
    auto ready = staged_.find(c.id);
    const bool now = ready == staged_.end() ? here : ready->second.has_value();
    if (!now || !queue_.TryTakeSlot()) {
      SLIPWAY_RETURN_IF_ERROR(queue_.Push(c.id));
      c.state = ContainerState::kQueued;
      if (Status st = store_.Update(c); !st.ok()) {
        queue_.Remove(c.id);
        return st;
      }
      return Status::Ok();
    }
    // It starts here and now, without the queue's two thread hops and its
    // "queued" write. Recorded starting first, as a launch from the queue
    // is: a crash from here on finds the row claimed, never runs it twice.
    c.state = ContainerState::kStarting;
    if (Status st = store_.Update(c); !st.ok()) {
      queue_.ReleaseSlot();
      return st;  // a staged sandbox stays: a later start may use it
    }
    if (ready != staged_.end()) {
      staged = std::move(ready->second);
      staged_.erase(ready);
    }
    if (auto node = secrets_.extract(c.id)) secrets = std::move(node.mapped());
  }
  UniqueFd end;
  auto started = StartSandbox(std::move(c), std::move(secrets), std::move(staged), &end);
  if (!started.ok()) {
    queue_.ReleaseSlot();
    return Status::Ok();  // recorded failed, as a start from the queue would be
  }
  // A std::function must be copyable: the fd travels as its number.
  Spawn([this, c = *started, fd = end.release()] { Watch(c, UniqueFd(fd)); });
  return Status::Ok();
}

bool ContainerService::IsStaged(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = staged_.find(id);
  return it != staged_.end() && it->second.has_value();
}

bool ContainerService::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void ContainerService::Run() {
  std::lock_guard lock(mu_);
  if (scheduler_.joinable() || stopping_) return;
  // Before the scheduler: no Start() runs yet.
  if (Status st = monitors_.StartPool(options_.sandbox_pool_size); !st.ok())
    log_.Warn("sandbox_pool.failed", {{"error", st.message()}});
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

void ContainerService::SchedulerLoop() {
  while (std::optional<std::string> id = queue_.Next()) {
    // One thread per sandbox starts it and then watches it: starting takes
    // milliseconds, and a slow start must not hold up the others.
    Spawn([this, id = *id] { StartAndWatch(id); });
  }
}

void ContainerService::Spawn(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    ++threads_;
  }
  std::function<void()> counted = [this, work = std::move(work)] {
    work();
    std::lock_guard lock(mu_);
    --threads_;
    cv_.notify_all();
  };
  // The pool has no limit: it refuses only when no thread can be created.
  // A thread of its own then, which throws as a thread always did here.
  if (Status st = thread_pool_.Run(counted); !st.ok()) {
    log_.Warn("containers.thread_pool", {{"error", st.message()}});
    std::thread(std::move(counted)).detach();
  }
}

void ContainerService::LogIfFailed(const Status& st, std::string_view event, const std::string& id) {
  if (!st.ok()) log_.Warn(event, {{"id", id}, {"error", st.message()}});
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

// ---------------------------------------------------------------------------
// Logs

// Waits until the container has a sandbox (its log exists from then on) or
// has ended; returns the sandbox id, or "" if it ended without one.
std::string ContainerService::AwaitSandbox(const std::string& id, const EndSignal& end) {
  std::unique_lock lock(mu_);
  std::string sandbox;
  started_cv_.wait(lock, [&] {
    auto it = sandbox_ids_.find(id);
    if (it != sandbox_ids_.end()) sandbox = it->second;
    return !sandbox.empty() || end.fired() || abandon_;
  });
  return sandbox;
}

Status ContainerService::StreamLogs(const std::string& id_or_name, bool follow, const LogChunk& chunk,
                                    const Counted& counted) {
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
  if (counted) SLIPWAY_RETURN_IF_ERROR(counted());
  std::string sandbox = c.sandbox_id;
  if (sandbox.empty() && follow) sandbox = AwaitSandbox(c.id, *end);
  if (sandbox.empty()) {
    // Ended without ever running, or not started and not followed; an ended
    // container whose row was refreshed may have a sandbox after all.
    auto now = store_.Find(c.id);
    if (!now.ok() || now->sandbox_id.empty()) return Status::Ok();
    sandbox = now->sandbox_id;
  }
  auto give_up = [this] {
    std::lock_guard lock(mu_);
    return abandon_;
  };
  return FollowLog(runtime_->state_dir().LogFile(sandbox), follow, end, kWatchSlice, give_up, chunk);
}

}  // namespace slipway

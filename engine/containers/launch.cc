// ContainerService: staging a created container's sandbox ahead, launching
// a queued container under its monitor, watching it, and recording how it
// ended.
#include <csignal>

#include "engine/base/time.h"
#include "engine/containers/container_service.h"
#include "engine/runtime/log_masker.h"

namespace slipway {

namespace {

// How long an auto_remove container waits for its log readers.
constexpr std::chrono::milliseconds kReadersWait{10000};
// How long a launch waits for a staging in progress: about a start's time,
// and at most what MonitorClient waits for a monitor's report.
constexpr std::chrono::milliseconds kStagingWait{30000};

using SecretEnv = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> SecretValues(const SecretEnv& secrets) {
  std::vector<std::string> values;
  for (const auto& secret : secrets) values.push_back(secret.second);
  return values;
}

// What goes to slipway-monitor: the row's spec plus the secret variables
// (replacing any of the same name) and their values to mask. It lives only
// for the hand-over; the row never holds it.
SandboxSpec LaunchSpec(const SandboxSpec& spec, const SecretEnv& secrets) {
  SandboxSpec out = spec;
  for (const auto& [name, value] : secrets) {
    std::erase_if(out.env, [&](const std::string& kv) { return kv.compare(0, kv.find('='), name) == 0; });
    out.env.push_back(name + "=" + value);
  }
  out.masked_values = SecretValues(secrets);
  return out;
}

}  // namespace

Status ContainerService::Stage(const std::string& id_or_name) {
  SLIPWAY_ASSIGN_OR_RETURN(Container c, store_.Find(id_or_name));
  SecretEnv secrets;
  {
    std::lock_guard lock(mu_);
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Get(c.id));
    if (c.state != ContainerState::kCreated)
      return FailedPrecondition("container " + id_or_name + " is " + ContainerStateName(c.state) + ", not created");
    // At most max_running are held staged: no more could start at once,
    // and each holds a monitor, an init and a mounted root.
    if (options_.sandbox_pool_size == 0 || !Runtime::CanUsePrepared(c.spec) || stopping_ || staged_.count(c.id) ||
        static_cast<int>(staged_.size()) >= options_.max_running)
      return Status::Ok();
    staged_[c.id] = std::nullopt;
    if (auto it = secrets_.find(c.id); it != secrets_.end()) secrets = it->second;  // kept for Launch too
  }
  Spawn([this, c = std::move(c), secrets = std::move(secrets)] {
    Result<StagedSandbox> staged = monitors_.Stage(secrets.empty() ? c.spec : LaunchSpec(c.spec, secrets));
    std::optional<StagedSandbox> unwanted;  // dropped outside the lock: its monitor then removes it
    {
      std::lock_guard lock(mu_);
      auto it = staged_.find(c.id);
      if (it == staged_.end()) {
        if (staged.ok()) unwanted = std::move(*staged);  // stopped or removed meanwhile
      } else if (staged.ok()) {
        it->second = std::move(*staged);
      } else {
        staged_.erase(it);
      }
    }
    staged_cv_.notify_all();
    if (!staged.ok()) {
      std::string error = staged.status().message();
      if (!secrets.empty()) error = MaskSecrets(error, SecretMatcher(SecretValues(secrets)));
      log_.Warn("container.stage", {{"id", c.id}, {"error", error}});
    }
  });
  return Status::Ok();
}

std::optional<StagedSandbox> ContainerService::TakeStaged(const std::string& id) {
  std::unique_lock lock(mu_);
  staged_cv_.wait_for(lock, kStagingWait, [&] {
    auto it = staged_.find(id);
    return it == staged_.end() || it->second.has_value();
  });
  auto node = staged_.extract(id);
  if (node.empty()) return std::nullopt;
  return std::move(node.mapped());  // nullopt if the staging still runs: it then drops what it makes
}

void ContainerService::StartAndWatch(const std::string& id) {
  UniqueFd end;
  auto started = Launch(id, &end);
  if (started.ok()) {
    Watch(*started, std::move(end));
  } else {
    queue_.ReleaseSlot();
  }
}

Result<Container> ContainerService::NetworkPeer(const std::string& peer, const std::string& shown,
                                                bool must_run) const {
  const std::string what = "network container:" + shown;
  auto row = store_.Find(peer);
  if (!row.ok() && row.status().code() == Code::kNotFound) {
    return must_run ? FailedPrecondition(what + ": that container was removed") : row.status().Wrap(what);
  }
  if (!row.ok()) return row.status().Wrap(what);
  bool usable = must_run ? row->state == ContainerState::kRunning : !IsFinal(row->state);
  if (!usable) {
    return FailedPrecondition(what + ": that container is " + ContainerStateName(row->state) + ", not running");
  }
  return *row;
}

Result<Container> ContainerService::Launch(const std::string& id, UniqueFd* end) {
  Container c;
  SecretEnv secrets;
  std::optional<StagedSandbox> staged = TakeStaged(id);
  {
    std::lock_guard lock(mu_);
    SLIPWAY_ASSIGN_OR_RETURN(c, store_.Get(id));
    if (c.state != ContainerState::kQueued) return FailedPrecondition("no longer queued");  // stopped
    c.state = ContainerState::kStarting;
    SLIPWAY_RETURN_IF_ERROR(store_.Update(c));
    // Taken out: once the monitor has them, nothing here needs them.
    if (auto node = secrets_.extract(id)) secrets = std::move(node.mapped());
  }
  return StartSandbox(std::move(c), std::move(secrets), std::move(staged), end);
}

Result<Container> ContainerService::StartSandbox(Container c, SecretEnv secrets, std::optional<StagedSandbox> staged,
                                                 UniqueFd* end) {
  // The peer whose network namespace it joins must run by now; the runtime
  // would say so too, but only by the peer's sandbox id.
  Result<StartedSandbox> sandbox = StartedSandbox{};
  if (c.spec.network == NetworkMode::kContainer) {
    std::string shown = c.request.network.substr(std::string("container:").size());
    auto peer = NetworkPeer(c.spec.network_peer, shown, /*must_run=*/true);
    if (!peer.ok()) sandbox = peer.status();
  }
  const bool was_staged = staged.has_value();
  if (sandbox.ok() && staged) {
    // Made ahead with this spec and these secrets: only the exec is left.
    sandbox = monitors_.Release(std::move(*staged));
  } else if (sandbox.ok()) {
    sandbox = monitors_.Start(secrets.empty() ? c.spec : LaunchSpec(c.spec, secrets));
  }
  if (!sandbox.ok()) {
    c.state = ContainerState::kFailed;
    c.error = sandbox.status().message();
    // The monitor's message goes into the row: no secret may be quoted in it.
    if (!secrets.empty()) c.error = MaskSecrets(c.error, SecretMatcher(SecretValues(secrets)));
    c.finished_unix_ms = NowUnixMs();
    if (observer_) observer_->Failed(c);
    log_.Warn("container.failed", {{"id", c.id}, {"error", c.error}});
    Finish(c);
    return Status(sandbox.status().code(), c.error);
  }
  std::optional<int> pending;
  {
    std::lock_guard lock(mu_);
    c.state = ContainerState::kRunning;
    c.sandbox_id = sandbox->id;
    c.pid = sandbox->init_pid;
    *end = std::move(sandbox->end);
    c.started_unix_ms = NowUnixMs();
    LogIfFailed(store_.Update(c), "store.update", c.id);
    if (auto it = pending_signals_.find(c.id); it != pending_signals_.end()) {
      pending = it->second;
      pending_signals_.erase(it);
    }
    sandbox_ids_[c.id] = c.sandbox_id;
  }
  started_cv_.notify_all();
  if (observer_) observer_->Started(c);
  log_.Info("container.started",
            {{"id", c.id}, {"sandbox", c.sandbox_id}, {"pid", c.pid}, {"staged", was_staged}});
  // A kill or stop that came while it was starting.
  if (pending && *pending == kStopNow) LogIfFailed(monitors_.Stop(c.sandbox_id), "container.stop", c.id);
  if (pending && *pending != kStopNow)
    LogIfFailed(monitors_.Signal(c.sandbox_id, *pending), "container.kill", c.id);
  return c;
}

void ContainerService::Watch(Container c, UniqueFd end) {
  for (;;) {
    auto status = monitors_.Wait(c.sandbox_id, kWatchSlice, end.get());
    if (!status.ok() && status.status().code() == Code::kDeadlineExceeded) {
      std::lock_guard lock(mu_);
      if (abandon_) return;  // shutting down: the next service adopts it
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
    if (observer_) observer_->Exited(c);
    log_.Info("container.exited", {{"id", c.id}, {"exit_code", c.result->exit_code}});
  } else {
    c.state = ContainerState::kLost;
    c.error = status.ok() ? "its monitor died without recording a result; the sandbox was killed"
                          : status.status().message();
    if (status.ok()) LogIfFailed(monitors_.CleanUpLost(c.sandbox_id), "sandbox.cleanup", c.id);
    log_.Warn("container.lost", {{"id", c.id}, {"error", c.error}});
  }
  Finish(c);
  queue_.ReleaseSlot();
}

void ContainerService::Finish(Container c) {
  std::shared_ptr<EndSignal> signal;
  std::optional<StagedSandbox> unwanted;  // never started: its monitor removes it once dropped
  {
    std::lock_guard lock(mu_);
    LogIfFailed(store_.Update(c), "store.update", c.id);
    signal = SignalForLocked(c.id);
    sandbox_ids_.erase(c.id);
    secrets_.erase(c.id);  // ended without being launched (stopped while queued)
    if (auto node = staged_.extract(c.id); !node.empty()) unwanted = std::move(node.mapped());
  }
  unwanted.reset();
  signal->Fire(c);
  started_cv_.notify_all();
  if (c.request.auto_remove) {
    // Its readers first take the rest of its log, then it goes.
    AwaitReaders(c.id, kReadersWait);
    LogIfFailed(RemoveEnded(c), "container.remove", c.id);
  }
  signal->Settle();
}

void ContainerService::AwaitReaders(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !readers_.count(id); });
}

}  // namespace slipway

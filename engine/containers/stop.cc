// ContainerService: kill, stop and remove.
#include <csignal>

#include "engine/base/time.h"
#include "engine/base/units.h"
#include "engine/containers/container_service.h"

namespace slipway {

namespace {

// How long a forced removal waits for a killed sandbox to be recorded.
constexpr std::chrono::milliseconds kForceRemoveWait{10000};

}  // namespace

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
  return monitors_.Signal(c.sandbox_id, signal);
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
    queue_.Remove(id);
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
  Status signalled = monitors_.Signal(c.sandbox_id, signal);
  // Ended meanwhile is fine; anything else is worth a line, and the grace
  // period still ends in a stop through the monitor.
  if (signalled.code() != Code::kFailedPrecondition) LogIfFailed(signalled, "container.stop", c.id);
  SLIPWAY_ASSIGN_OR_RETURN(std::shared_ptr<EndSignal> end, EndSignalOf(c.id));
  // The grace period runs on a thread of its own; the caller waits on `end`.
  Spawn([this, end, grace, id = c.id, sandbox = c.sandbox_id] {
    if (end->AwaitFired(grace)) return;
    Status st = monitors_.Stop(sandbox);
    if (st.code() != Code::kFailedPrecondition) LogIfFailed(st, "container.stop", id);
  });
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
    if (!end->AwaitFired(kForceRemoveWait))
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
  secrets_.erase(c.id);
  log_.Info("container.removed", {{"id", c.id}});
  return Status::Ok();
}

}  // namespace slipway

// ContainerService: crash recovery (Reconcile) and shutdown.
#include <algorithm>

#include "engine/base/time.h"
#include "engine/containers/container_service.h"

namespace slipway {

namespace {

// How long removing an orphan waits for its monitor to record its end.
constexpr std::chrono::milliseconds kOrphanStopWait{10000};
// How long Shutdown() waits for the pool's monitors to remove their
// prepared sandboxes (each takes milliseconds).
constexpr std::chrono::milliseconds kPoolCloseWait{5000};

}  // namespace

Result<ReconcileReport> ContainerService::Reconcile() {
  ReconcileReport report;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<SandboxStatus> sandboxes, monitors_.Survey());
  std::set<std::string> claimed;  // container ids whose sandbox was found
  for (const SandboxStatus& s : sandboxes) {
    if (s.pooled) {
      RemovePooled(s);
      ++report.pooled;
      continue;
    }
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
    bool was_started = c.state == ContainerState::kStarting || c.state == ContainerState::kRunning;
    if (c.state == ContainerState::kQueued && !c.ends_with_caller) {
      queue_.Restore(c.id);
    } else if ((was_started && !claimed.count(c.id)) || (!was_started && c.ends_with_caller)) {
      c.state = ContainerState::kLost;
      c.pid = 0;
      c.finished_unix_ms = NowUnixMs();
      c.error = "the service stopped while it was starting; it never ran";
      if (!c.sandbox_id.empty()) c.error = "its sandbox disappeared while the service was down";
      if (!was_started) c.error = "the service stopped before it ran, and nobody waits for it any more";
      Finish(c);
      ++report.lost;
    }
  }
  SLIPWAY_RETURN_IF_ERROR(runtime_->CollectGarbage());
  log_.Info("reconciled", {{"adopted", report.adopted},
                           {"recorded", report.recorded},
                           {"lost", report.lost},
                           {"orphans", report.orphans},
                           {"abandoned", report.abandoned},
                           {"pooled", report.pooled}});
  return report;
}

// A sandbox no active container claims: it must not keep running or holding
// anything.
Status ContainerService::RemoveOrphan(const SandboxStatus& s) {
  log_.Warn("sandbox.orphan", {{"sandbox", s.id}, {"name", s.name}, {"phase", SandboxPhaseName(s.phase)}});
  if (s.phase == SandboxPhase::kRunning) {
    // Its monitor may end on its own meanwhile (kFailedPrecondition): what
    // it leaves is cleaned up below either way.
    Status st = monitors_.Stop(s.id);
    if (st.ok()) st = monitors_.Wait(s.id, kOrphanStopWait).status();
    if (st.code() != Code::kFailedPrecondition) LogIfFailed(st, "sandbox.orphan", s.id);
  }
  auto now = monitors_.SurveyOne(s.id);
  if (now.ok() && now->phase == SandboxPhase::kLost) return monitors_.CleanUpLost(s.id);
  Status st = runtime_->Remove(s.id, /*force=*/true);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

// A pooled monitor whose service has gone saw its socket close and removes
// its prepared sandbox itself; this one may be doing so right now (then the
// sandbox directory vanishes under us), or was killed (lost: its init died
// with it, its cgroups and directory are left). Either way it must go, and
// a failure here must not keep the service from starting.
void ContainerService::RemovePooled(const SandboxStatus& s) {
  if (s.phase == SandboxPhase::kRunning) {
    Status st = monitors_.Stop(s.id);
    if (st.ok()) st = monitors_.Wait(s.id, kOrphanStopWait).status();
    if (!st.ok() && st.code() != Code::kFailedPrecondition && st.code() != Code::kNotFound)
      LogIfFailed(st, "sandbox.pooled", s.id);
  }
  auto now = monitors_.SurveyOne(s.id);
  if (!now.ok()) return;  // removed by its monitor
  if (now->phase == SandboxPhase::kLost) LogIfFailed(monitors_.CleanUpLost(s.id), "sandbox.pooled", s.id);
}

// The sandbox of an active container, found after a restart.
Status ContainerService::Resume(Container c, const SandboxStatus& s, ReconcileReport* report) {
  c.sandbox_id = s.id;
  if (s.phase == SandboxPhase::kRunning && c.ends_with_caller) {
    // Its caller (a build) died with the last service: nobody would use what
    // it makes. Stopped and removed like an orphan, and recorded as lost.
    SLIPWAY_RETURN_IF_ERROR(RemoveOrphan(s));
    c.state = ContainerState::kLost;
    c.pid = 0;
    c.finished_unix_ms = NowUnixMs();
    c.error = "its caller ended with the service; the sandbox was stopped";
    Finish(c);
    ++report->abandoned;
    return Status::Ok();
  }
  if (s.phase == SandboxPhase::kRunning) {
    auto state = runtime_->state_dir().ReadState(s.id);
    c.state = ContainerState::kRunning;
    if (state.ok()) c.pid = state->init.pid;
    if (c.started_unix_ms == 0) c.started_unix_ms = s.created_unix_ms;
    {
      std::lock_guard lock(mu_);
      SLIPWAY_RETURN_IF_ERROR(store_.Update(c));
      sandbox_ids_[c.id] = c.sandbox_id;
    }
    queue_.TakeSlot();
    log_.Info("container.adopted", {{"id", c.id}, {"sandbox", s.id}});
    Spawn([this, c] { Watch(c); });
    ++report->adopted;
    return Status::Ok();
  }
  queue_.TakeSlot();  // RecordEnd() gives it back
  RecordEnd(c, s);
  ++(s.phase == SandboxPhase::kEnded ? report->recorded : report->lost);
  return Status::Ok();
}

void ContainerService::Shutdown(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mu_);
  if (!stopping_) {
    stopping_ = true;
    queue_.Close();
    lock.unlock();
    if (scheduler_.joinable()) scheduler_.join();
    // No Start() after the scheduler's end; those already running took
    // their pooled monitor out of the pool.
    monitors_.StopPool(kPoolCloseWait);
    lock.lock();
    // Sandboxes staged for containers that will not start now: closing
    // their sockets makes their monitors remove them. (Stagings still in
    // progress find their entry gone and do the same.)
    std::map<std::string, std::optional<StagedSandbox>> staged;
    staged.swap(staged_);
    lock.unlock();
    staged.clear();
    lock.lock();
    log_.Info("shutdown.draining", {{"running", queue_.running()}, {"queued", queue_.queued()}});
  }
  cv_.wait_for(lock, deadline, [&] { return threads_ == 0; });
  abandon_ = true;
  started_cv_.notify_all();
  // Watchers look up every half second; starts in progress finish theirs.
  cv_.wait(lock, [&] { return threads_ == 0; });
}

}  // namespace slipway

#include "pipelines/promotion_service.h"

#include <algorithm>
#include <utility>

#include "engine/base/time.h"
#include "pipelines/promote_plan.h"
#include "pipelines/provenance.h"

namespace slipway::pipelines {

namespace {

// How many of the newest runs that succeeded Recover() looks at for a
// promotion left "pending" or "promoting" without an audit record (slipwayd
// died between the run's end and the worker taking it).
constexpr int kRecoverRunScan = 100;

// What a registry may get over: it was down, slow, or failed inside. A
// refusal (credentials, an immutable tag, a missing image) is not retried.
bool Retryable(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kInternal;
}

std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000) + " s";
}

}  // namespace

PromotionService::PromotionService(const PromotionOptions& options, RunStore& runs, PromotionStore& audit,
                                   ImagePublisher& publisher, const SigningKey& key, EventLog& log)
    : options_(options), runs_(runs), audit_(audit), publisher_(publisher), key_(key), log_(log) {}

PromotionService::~PromotionService() {
  Stop();
}

void PromotionService::Start() {
  std::lock_guard lock(mu_);
  if (worker_.joinable() || stopping_) return;
  worker_ = std::thread(&PromotionService::WorkerLoop, this);
}

void PromotionService::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void PromotionService::RunChanged(const Run& run) {
  if (run.status != RunStatus::kSuccess || run.promotion_status != kPromotionPending) return;
  {
    std::lock_guard lock(mu_);
    queue_.emplace(std::chrono::steady_clock::now(), Job{run.id, 0, "auto", 0});
  }
  cv_.notify_all();
}

Result<int> PromotionService::Recover() {
  std::set<int64_t> queued;
  const auto now = std::chrono::steady_clock::now();
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<PromotionRecord> cut, audit_.Unfinished());
  for (PromotionRecord& r : cut) {
    r.result = kPromotionFailed;
    r.error = "slipwayd stopped before the promotion ended" + (r.error.empty() ? "" : " (" + r.error + ")");
    r.finished_unix_ms = NowUnixMs();
    SLIPWAY_RETURN_IF_ERROR(audit_.Update(r));
    queued.insert(r.run_id);
  }
  RunFilter succeeded;
  succeeded.status = RunStatus::kSuccess;
  succeeded.limit = kRecoverRunScan;
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Run> recent, runs_.ListRuns(succeeded));
  for (const Run& run : recent) {
    if (run.promotion_status == kPromotionPending || run.promotion_status == kPromotionPromoting)
      queued.insert(run.id);
  }
  std::lock_guard lock(mu_);
  for (int64_t id : queued) {
    log_.Info("promotion.recovered", {{"run", id}});
    queue_.emplace(now, Job{id, 0, "recover", 0});
  }
  return static_cast<int>(queued.size());
}

Result<PromotionRecord> PromotionService::Begin(const Run& run, const std::string& started_by,
                                                const char* result) {
  PromotionRecord r;
  r.run_id = run.id;
  r.repo = run.repo;
  r.started_by = started_by;
  r.result = result;
  r.started_unix_ms = NowUnixMs();
  if (auto plan = PromotePlan::FromJson(run.promote_plan); plan.ok()) {
    r.image_id = plan->image_id;
    r.target = plan->to;
    r.tags = plan->tags;
  }
  return audit_.Add(r);
}

void PromotionService::SetRunState(int64_t run_id, const std::string& status, const std::string& error) {
  std::lock_guard lock(run_mu_);
  auto run = runs_.GetRun(run_id);
  Status st = run.status();
  if (run.ok()) {
    run->promotion_status = status;
    run->promotion_error = error;
    st = runs_.UpdateRun(*run);
  }
  if (!st.ok()) log_.Error("promotion.store", {{"run", run_id}, {"error", st.message()}});
}

std::chrono::milliseconds PromotionService::BackoffAfter(int tries) const {
  std::chrono::milliseconds d = options_.backoff;
  for (int i = 1; i < tries && d < options_.max_backoff; ++i) d *= 2;
  return std::min(d, options_.max_backoff);
}

Status PromotionService::Attempt(int64_t run_id, PromotionRecord& rec, bool final_try) {
  SLIPWAY_ASSIGN_OR_RETURN(Run run, runs_.GetRun(run_id));
  SLIPWAY_ASSIGN_OR_RETURN(PromotePlan plan, PromotePlan::FromJson(run.promote_plan));
  const bool was_promoted = run.promotion_status == kPromotionPromoted;
  ++rec.attempts;
  rec.result = kPromotionPromoting;
  rec.error.clear();
  rec.image_id = plan.image_id;
  rec.target = plan.to;
  rec.tags = plan.tags;
  if (Status st = audit_.Update(rec); !st.ok())
    log_.Error("promotion.store", {{"run", run_id}, {"error", st.message()}});
  SetRunState(run_id, kPromotionPromoting, "");
  log_.Info("promotion.started",
            {{"run", run_id}, {"promotion", rec.id}, {"target", plan.to}, {"try", rec.attempts}});

  Status st = [&]() -> Status {
    PublishRequest request;
    request.image_id = plan.image_id;
    request.repository = plan.to;
    request.tags = plan.tags;
    request.immutable_tags.insert(plan.immutable.begin(), plan.immutable.end());
    SLIPWAY_ASSIGN_OR_RETURN(PublishResult published, publisher_.Publish(request, [&](std::string_view line) {
      log_.Debug("promotion.progress", {{"run", run_id}, {"line", line}});
    }));
    rec.manifest_digest = published.manifest_digest;
    ProvenanceFacts facts;
    facts.image = plan.to;
    facts.manifest_digest = published.manifest_digest;
    facts.tags = plan.tags;
    facts.builder_id = options_.builder_id;
    facts.run = run;
    // What the statement says of the run is what it did, not how its
    // promotion goes: the same run attaches the same statement every time.
    facts.run.promotion_status.clear();
    facts.run.promotion_error.clear();
    if (auto repo = runs_.GetRepository(run.repo); repo.ok()) facts.repo_url = repo->url;
    SLIPWAY_ASSIGN_OR_RETURN(facts.steps, runs_.ListSteps(run.id));
    SLIPWAY_ASSIGN_OR_RETURN(std::string envelope,
                             key_.SignEnvelope(kInTotoPayloadType, ProvenanceStatement(facts)));
    SLIPWAY_ASSIGN_OR_RETURN(rec.provenance_digest,
                             publisher_.Attach(plan.to, published.manifest_digest, kProvenanceArtifactType,
                                               kDsseMediaType, envelope));
    rec.result = !published.changed && was_promoted ? kPromotionUnchanged : kPromotionPromoted;
    return Status::Ok();
  }();

  rec.finished_unix_ms = NowUnixMs();
  if (st.ok()) {
    SetRunState(run_id, kPromotionPromoted, "");
    log_.Info("promotion.done", {{"run", run_id},
                                 {"promotion", rec.id},
                                 {"result", rec.result},
                                 {"digest", rec.manifest_digest},
                                 {"provenance", rec.provenance_digest}});
  } else {
    const bool retry = !final_try && Retryable(st.code());
    rec.error = st.message();
    // A retry to come keeps the record open (Recover() picks it up after a
    // crash); the run says it failed, and when it is tried again.
    rec.result = retry ? kPromotionPending : kPromotionFailed;
    std::string run_error = st.message();
    if (retry) {
      run_error += " (try " + std::to_string(rec.attempts) + " of " + std::to_string(options_.retries + 1) +
                   "; again in " + Seconds(BackoffAfter(rec.attempts)) + ")";
    }
    SetRunState(run_id, kPromotionFailed, run_error);
    log_.Warn("promotion.failed",
              {{"run", run_id}, {"promotion", rec.id}, {"error", st.message()}, {"retry", retry}});
  }
  if (Status saved = audit_.Update(rec); !saved.ok()) {
    log_.Error("promotion.store", {{"run", run_id}, {"error", saved.message()}});
  }
  return st;
}

void PromotionService::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_) return;
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto due = queue_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    Job job = queue_.begin()->second;
    queue_.erase(queue_.begin());
    // Being promoted by hand right now: that promotion does it.
    if (in_flight_.count(job.run_id)) continue;
    in_flight_.insert(job.run_id);
    lock.unlock();

    bool retry = false;
    auto run = runs_.GetRun(job.run_id);
    // Only a run that succeeded and still waits for its promotion (it may
    // have been promoted by hand since, or pruned). A failed one is taken
    // up again for its own retry, or after a crash cut its retries short.
    const bool again = job.tries > 0 || job.started_by == "recover";
    bool wanted =
        run.ok() && run->status == RunStatus::kSuccess &&
        (run->promotion_status == kPromotionPending || run->promotion_status == kPromotionPromoting ||
         (again && run->promotion_status == kPromotionFailed));
    if (!run.ok()) log_.Warn("promotion.skipped", {{"run", job.run_id}, {"error", run.status().message()}});
    PromotionRecord rec;
    if (!wanted && job.record_id != 0) {
      // A retry whose run was promoted (by hand) or went away meanwhile.
      if (auto open = audit_.Get(job.record_id); open.ok()) {
        open->result = kPromotionFailed;
        open->error +=
            " (not tried again: the run is " + (run.ok() ? "promoted" : std::string("gone")) + " meanwhile)";
        open->finished_unix_ms = NowUnixMs();
        (void)audit_.Update(*open);
      }
    }
    if (wanted) {
      auto existing =
          job.record_id ? audit_.Get(job.record_id) : Begin(*run, job.started_by, kPromotionPending);
      if (!existing.ok()) {
        log_.Error("promotion.store", {{"run", job.run_id}, {"error", existing.status().message()}});
        SetRunState(job.run_id, kPromotionFailed, existing.status().message());
      } else {
        rec = *existing;
        Status st = Attempt(job.run_id, rec, job.tries >= options_.retries);
        retry = !st.ok() && rec.result == kPromotionPending;
      }
    }

    lock.lock();
    in_flight_.erase(job.run_id);
    if (retry) {
      job.record_id = rec.id;
      ++job.tries;
      queue_.emplace(std::chrono::steady_clock::now() + BackoffAfter(job.tries), job);
    }
  }
}

Result<PromotionRecord> PromotionService::Promote(int64_t run_id, const std::string& started_by) {
  SLIPWAY_ASSIGN_OR_RETURN(Run run, runs_.GetRun(run_id));
  const std::string name = "run " + std::to_string(run_id);
  if (run.status != RunStatus::kSuccess) {
    return FailedPrecondition(name + " is " + RunStatusName(run.status) +
                              ": only a run that succeeded is promoted");
  }
  if (run.promote_plan.empty()) {
    return FailedPrecondition(name + " has nothing to promote: its pipeline file has no promote section");
  }
  if (run.promotion_status == "refused")
    return Status(Code::kPermissionDenied, name + " may not promote: " + run.promotion_error);
  {
    std::lock_guard lock(mu_);
    if (in_flight_.count(run_id)) return FailedPrecondition(name + " is being promoted now");
    in_flight_.insert(run_id);
  }
  Result<PromotionRecord> result = [&]() -> Result<PromotionRecord> {
    SLIPWAY_ASSIGN_OR_RETURN(PromotionRecord rec, Begin(run, started_by, kPromotionPromoting));
    SLIPWAY_RETURN_IF_ERROR(Attempt(run_id, rec, /*final_try=*/true));
    return rec;
  }();
  std::lock_guard lock(mu_);
  in_flight_.erase(run_id);
  return result;
}

}  // namespace slipway::pipelines

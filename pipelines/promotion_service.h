// PromotionService: puts the image of a run that passed into its `promote`
// target, with a signed provenance record, and keeps the audit
// (docs/promotion.md).
//
// A RunObserver: when a run ends `success` with promotion_status
// "pending" (the executor set it: the branch and tag policy allowed it),
// its promotion is queued for the service's own worker thread; the
// observer's call only queues. A promotion:
//   run.promotion_status "promoting" -> ImagePublisher::Publish (blobs,
//   manifest by digest, then the tags) -> the in-toto statement
//   (ProvenanceFacts: the run, its steps, its tests) signed by the
//   SigningKey -> ImagePublisher::Attach -> "promoted"; or "failed" with
//   the reason (the run's own status stays `success`).
// A failure the registry may get over (unreachable, a timeout, a server
// error) is retried `retries` times, waiting `backoff`, doubling up to
// `max_backoff`; a refusal (credentials, an immutable tag, an image gone)
// is not. Each promotion is one audit record (PromotionStore), updated as
// it goes.
//
// Crash safety: the audit records left pending or promoting, and runs left
// "pending" or "promoting", are promoted again by Recover() (started_by
// "recover"). A promotion cut short leaves no tag pointing anywhere new:
// the publisher sets tags only after the manifest is in.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "pipelines/image_publisher.h"
#include "pipelines/promotion_store.h"
#include "pipelines/run_service.h"
#include "pipelines/run_store.h"
#include "pipelines/signing_key.h"

namespace slipway::pipelines {

struct PromotionOptions {
  int retries = 3;  // after the first try, for failures worth retrying
  std::chrono::milliseconds backoff{5'000};
  std::chrono::milliseconds max_backoff{60'000};
  std::string builder_id;  // the provenance's builder: slipwayd's public URL
};

class PromotionService : public RunObserver {
 public:
  // Everything given outlives the service.
  PromotionService(const PromotionOptions& options, RunStore& runs, PromotionStore& audit,
                   ImagePublisher& publisher, const SigningKey& key, EventLog& log);
  ~PromotionService() override;  // Stop()

  // Before Start(), after RunService::Recover(): the promotions a crash cut
  // short are recorded failed and queued again. Returns how many runs.
  Result<int> Recover();
  // Starts the worker.
  void Start();
  // Stops the worker after the promotion it is doing (if any); what is
  // queued stays pending for the next slipwayd's Recover().
  void Stop();

  // Queues the promotion of a run that ended `success` with status pending.
  void RunChanged(const Run& run) override;

  // Promotes run `run_id` now, on the caller's thread, once (no retries):
  // `started_by` is "api" or "cli". kNotFound for an unknown run;
  // kFailedPrecondition for a run that did not succeed (naming its status),
  // has nothing to promote, or is being promoted; kPermissionDenied when the
  // branch and tag policy refuses it (the reason). The record says
  // "unchanged" when the run was promoted before and the registry had it
  // all. A failure of the push itself is returned as the publisher's
  // error, and recorded.
  Result<PromotionRecord> Promote(int64_t run_id, const std::string& started_by);

 private:
  struct Job {
    int64_t run_id = 0;
    int64_t record_id = 0;  // 0: not recorded yet
    std::string started_by;
    int tries = 0;  // done so far
  };

  void WorkerLoop();
  // One try of `record`'s promotion of `run_id`; the record and the run are
  // updated with how it went.
  Status Attempt(int64_t run_id, PromotionRecord& record, bool final_try);
  // A new audit record for a promotion of `run` by `started_by`.
  Result<PromotionRecord> Begin(const Run& run, const std::string& started_by, const char* result);
  void SetRunState(int64_t run_id, const std::string& status, const std::string& error);
  std::chrono::milliseconds BackoffAfter(int tries) const;

  const PromotionOptions options_;
  RunStore& runs_;
  PromotionStore& audit_;
  ImagePublisher& publisher_;
  const SigningKey& key_;
  EventLog& log_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, Job> queue_;  // by when due
  std::set<int64_t> in_flight_;  // runs being promoted now (worker or by hand)
  bool stopping_ = false;
  std::thread worker_;
  // Serializes the read-modify-write of a run's promotion fields.
  std::mutex run_mu_;
};

}  // namespace slipway::pipelines

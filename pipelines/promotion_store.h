// The promotion audit: one record per promotion of a run's image (started
// after the run, by hand, or again after a crash), what it pushed where and
// how it ended, and where such records are kept. GET /api/v1/promotions
// and `slipway promotions` read them (docs/promotion.md, "Audit").
//
// Contract of every PromotionStore: thread-safe, each call atomic, errors
// name the record ("promotion 3: ..."), kNotFound for what does not exist.
// A record outlives its run (runs are pruned; the audit is not).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/base/status.h"

namespace slipway::pipelines {

// How a promotion ended, or where it stands.
inline constexpr char kPromotionPending[] = "pending";      // queued, not begun
inline constexpr char kPromotionPromoting[] = "promoting";  // pushing
inline constexpr char kPromotionPromoted[] = "promoted";    // pushed, tags set, provenance attached
inline constexpr char kPromotionUnchanged[] = "unchanged";  // the registry had it all already
inline constexpr char kPromotionFailed[] = "failed";        // see error; the run may be promoted again

struct PromotionRecord {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t run_id = 0;
  std::string repo;
  // Who started it: "auto" (the run succeeded), "recover" (slipwayd
  // restarted while it was pending or going on), "api" or "cli" (by hand,
  // through POST /api/v1/runs/{id}/promote).
  std::string started_by;
  std::string image_id;  // "sha256:<hex>" in slipwayd's store
  std::string target;    // "127.0.0.1:5000/team/app"
  std::vector<std::string> tags;
  std::string manifest_digest;    // what the registry serves; "" until pushed
  std::string provenance_digest;  // the attached statement's manifest; "" until attached
  std::string result;             // kPromotion*
  std::string error;              // for "failed"; never a credential
  int attempts = 0;               // tries so far (retries with backoff)
  int64_t started_unix_ms = 0, finished_unix_ms = 0;

  nlohmann::ordered_json ToJsonValue() const;
  static Result<PromotionRecord> FromJsonValue(const nlohmann::ordered_json& value);  // for the CLI
};

// What List returns: newest first, each filter given narrowing it.
struct PromotionFilter {
  std::string repo;
  int64_t run_id = 0;
  std::string digest;     // the manifest digest, "sha256:<hex>"
  int64_t before_id = 0;  // paging: records older than this one
  int limit = 50;         // 1..500
};

class PromotionStore {
 public:
  virtual ~PromotionStore() = default;
  // Ignores `record.id`; returns the record as stored, with its id.
  virtual Result<PromotionRecord> Add(const PromotionRecord& record) = 0;
  virtual Status Update(const PromotionRecord& record) = 0;
  virtual Result<PromotionRecord> Get(int64_t id) const = 0;
  // kInvalidArgument for a limit outside 1..500, a digest that is not
  // "sha256:" and 64 hex digits, a negative run or paging id.
  virtual Result<std::vector<PromotionRecord>> List(const PromotionFilter& filter) const = 0;
  // Records still pending or promoting, oldest first: after a crash, those
  // whose promotion the crash cut short.
  virtual Result<std::vector<PromotionRecord>> Unfinished() const = 0;
};

}  // namespace slipway::pipelines

#include "pipelines/promotion_store.h"

#include <nlohmann/json.hpp>

#include "engine/base/time_json.h"

namespace slipway::pipelines {

using json = nlohmann::ordered_json;

json PromotionRecord::ToJsonValue() const {
  json j;
  j["id"] = id;
  j["run"] = run_id;
  j["repo"] = repo;
  j["started_by"] = started_by;
  j["image_id"] = image_id;
  j["target"] = target;
  j["tags"] = tags;
  j["manifest_digest"] = manifest_digest.empty() ? json(nullptr) : json(manifest_digest);
  j["provenance_digest"] = provenance_digest.empty() ? json(nullptr) : json(provenance_digest);
  j["result"] = result;
  j["error"] = error;
  j["attempts"] = attempts;
  j["started_at"] = Rfc3339Millis(started_unix_ms);
  j["finished_at"] = Rfc3339Millis(finished_unix_ms);
  return j;
}

Result<PromotionRecord> PromotionRecord::FromJsonValue(const json& j) {
  auto bad = [](const std::string& what) {
    return InvalidArgument("promotion: field \"" + what + "\" is missing or of another type");
  };
  if (!j.is_object()) return InvalidArgument("promotion: not a JSON object");
  PromotionRecord r;
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"id", &r.id}, {"run", &r.run_id}}) {
    if (!j.contains(key) || !j[key].is_number_integer()) return bad(key);
    *out = j[key].get<int64_t>();
  }
  if (!j.contains("attempts") || !j["attempts"].is_number_integer()) return bad("attempts");
  r.attempts = j["attempts"].get<int>();
  for (auto [key, out] : {std::pair<const char*, std::string*>{"repo", &r.repo},
                          {"started_by", &r.started_by},
                          {"image_id", &r.image_id},
                          {"target", &r.target},
                          {"result", &r.result},
                          {"error", &r.error}}) {
    if (!j.contains(key) || !j[key].is_string()) return bad(key);
    *out = j[key].get<std::string>();
  }
  for (auto [key, out] : {std::pair<const char*, std::string*>{"manifest_digest", &r.manifest_digest},
                          {"provenance_digest", &r.provenance_digest}}) {
    if (!j.contains(key) || !(j[key].is_string() || j[key].is_null())) return bad(key);
    if (j[key].is_string()) *out = j[key].get<std::string>();
  }
  if (!j.contains("tags") || !j["tags"].is_array()) return bad("tags");
  for (const json& t : j["tags"]) {
    if (!t.is_string()) return bad("tags");
    r.tags.push_back(t.get<std::string>());
  }
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"started_at", &r.started_unix_ms},
                          {"finished_at", &r.finished_unix_ms}}) {
    if (!j.contains(key)) return bad(key);
    SLIPWAY_ASSIGN_OR_RETURN(*out, Rfc3339MillisFromJson(j[key]));
  }
  return r;
}

}  // namespace slipway::pipelines

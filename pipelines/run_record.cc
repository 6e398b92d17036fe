#include "pipelines/run_record.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "engine/base/time_json.h"

namespace slipway::pipelines {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::pair<RunStatus, const char*> kRunStatuses[] = {
    {RunStatus::kQueued, "queued"},
    {RunStatus::kRunning, "running"},
    {RunStatus::kSuccess, "success"},
    {RunStatus::kFailure, "failure"},
    {RunStatus::kError, "error"},
    {RunStatus::kCancelled, "cancelled"},
    {RunStatus::kInterrupted, "interrupted"},
};

constexpr std::pair<StepStatus, const char*> kStepStatuses[] = {
    {StepStatus::kPending, "pending"},     {StepStatus::kRunning, "running"},
    {StepStatus::kSuccess, "success"},     {StepStatus::kFailure, "failure"},
    {StepStatus::kError, "error"},         {StepStatus::kSkipped, "skipped"},
    {StepStatus::kCancelled, "cancelled"}, {StepStatus::kInterrupted, "interrupted"},
};

ordered_json LimitsJson(const StepLimits& limits) {
  ordered_json j;
  j["timeout_ms"] = limits.timeout_ms;
  j["memory_bytes"] = limits.memory_bytes;
  j["millicpus"] = limits.millicpus;
  j["pids"] = limits.pids;
  return j;
}

// Reads the fields of one JSON object strictly: each named field must be
// present (unless optional) and of its type; the first problem is kept and
// names the object and the field. Fields it does not know are ignored, so
// that an older CLI can read a newer slipwayd's answer.
class FieldReader {
 public:
  FieldReader(const ordered_json& value, std::string what) : value_(value), what_(std::move(what)) {
    if (!value_.is_object()) status_ = InvalidArgument(what_ + ": not a JSON object");
  }

  const Status& status() const { return status_; }

  void String(const char* key, std::string* out, bool optional = false) {
    const ordered_json* v = Find(key, optional);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "a string");
    *out = v->get<std::string>();
  }
  template <typename Int>
  void Integer(const char* key, Int* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    // Integral JSON only (not 1.5, not "1"), and in range of *out.
    if (!v->is_number_integer()) return Fail(key, "an integer");
    if (v->is_number_unsigned() ? v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<Int>::max())
                                : (v->get<int64_t>() < std::numeric_limits<Int>::min() ||
                                   v->get<int64_t>() > std::numeric_limits<Int>::max())) {
      return Fail(key, "an integer in range");
    }
    *out = static_cast<Int>(v->get<int64_t>());
  }
  void Bool(const char* key, bool* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(key, "true or false");
    *out = v->get<bool>();
  }
  // null -> 0.
  void IdOrNull(const char* key, int64_t* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    if (v->is_null()) {
      *out = 0;
      return;
    }
    Integer(key, out);
  }
  void Time(const char* key, int64_t* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    auto t = Rfc3339MillisFromJson(*v);
    if (!t.ok()) return Fail(key, "an RFC 3339 time or null");
    *out = *t;
  }
  // A string that `parse` maps to a value.
  template <typename T, typename Parse>
  void Name(const char* key, T* out, Parse parse) {
    std::string name;
    String(key, &name);
    if (!status_.ok() || value_.find(key) == value_.end()) return;
    auto parsed = parse(name);
    if (!parsed) return Fail(key, "a known name, not \"" + name + "\"");
    *out = *parsed;
  }
  void Limits(const char* key, StepLimits* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    FieldReader limits(*v, what_ + ": " + key);
    limits.Integer("timeout_ms", &out->timeout_ms);
    limits.Integer("memory_bytes", &out->memory_bytes);
    limits.Integer("millicpus", &out->millicpus);
    limits.Integer("pids", &out->pids);
    if (status_.ok()) status_ = limits.status();
  }
  void Tests(const char* key, TestCounts* out) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    FieldReader tests(*v, what_ + ": " + key);
    tests.Integer("total", &out->total);
    tests.Integer("passed", &out->passed);
    tests.Integer("failed", &out->failed);
    tests.Integer("errors", &out->errors);
    tests.Integer("skipped", &out->skipped);
    if (status_.ok()) status_ = tests.status();
  }
  void Strings(const char* key, std::vector<std::string>* out, bool optional = false) {
    const ordered_json* v = Find(key, optional);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, "an array of strings");
    for (const auto& item : *v) {
      if (!item.is_string()) return Fail(key, "an array of strings");
      out->push_back(item.get<std::string>());
    }
  }
  // {"status": ..., "error": ...}
  void Promotion(const char* key, std::string* status, std::string* error) {
    const ordered_json* v = Find(key, false);
    if (v == nullptr) return;
    FieldReader promotion(*v, what_ + ": " + key);
    promotion.String("status", status);
    promotion.String("error", error);
    if (status_.ok()) status_ = promotion.status();
  }

 private:
  const ordered_json* Find(const char* key, bool optional) {
    if (!status_.ok()) return nullptr;
    auto it = value_.find(key);
    if (it == value_.end()) {
      if (!optional) status_ = InvalidArgument(what_ + ": \"" + key + "\" is missing");
      return nullptr;
    }
    return &*it;
  }
  void Fail(const char* key, const std::string& expected) {
    if (status_.ok()) status_ = InvalidArgument(what_ + ": \"" + key + "\" must be " + expected);
  }

  const ordered_json& value_;
  std::string what_;
  Status status_;
};

}  // namespace

const char* RunStatusName(RunStatus status) {
  for (const auto& [s, name] : kRunStatuses) {
    if (s == status) return name;
  }
  return "?";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (const auto& [s, n] : kRunStatuses) {
    if (name == n) return s;
  }
  return std::nullopt;
}

bool IsFinal(RunStatus status) {
  return status != RunStatus::kQueued && status != RunStatus::kRunning;
}

const char* StepStatusName(StepStatus status) {
  for (const auto& [s, name] : kStepStatuses) {
    if (s == status) return name;
  }
  return "?";
}

std::optional<StepStatus> ParseStepStatus(std::string_view name) {
  for (const auto& [s, n] : kStepStatuses) {
    if (name == n) return s;
  }
  return std::nullopt;
}

bool IsFinal(StepStatus status) {
  return status != StepStatus::kPending && status != StepStatus::kRunning;
}

namespace {
constexpr std::pair<StepKind, const char*> kStepKinds[] = {
    {StepKind::kStep, "step"}, {StepKind::kService, "service"}, {StepKind::kSetup, "setup"}};
}  // namespace

const char* StepKindName(StepKind kind) {
  for (const auto& [k, name] : kStepKinds) {
    if (k == kind) return name;
  }
  return "?";
}

std::optional<StepKind> ParseStepKind(std::string_view name) {
  for (const auto& [k, n] : kStepKinds) {
    if (name == n) return k;
  }
  return std::nullopt;
}

ordered_json Repository::ToJsonValue() const {
  ordered_json j;
  j["name"] = name;
  j["url"] = url;
  j["branch_filter"] = branch_filter;
  // Which kind only: the sealed bytes never leave slipwayd.
  j["credential"] = credential_kind.empty() ? ordered_json(nullptr) : ordered_json(credential_kind);
  j["defaults"] = LimitsJson(defaults);
  j["created_at"] = Rfc3339Millis(created_unix_ms);
  j["forge"] = forge;
  j["full_name"] = full_name;
  j["status_api"] = status_api;
  j["project_id"] = project_id;
  // Whether there is one, never the sealed bytes.
  j["webhook"] = !webhook_secret_sealed.empty();
  j["status_token"] = !status_token_sealed.empty();
  j["cancel_superseded"] = cancel_superseded;
  return j;
}

ordered_json Run::ToJsonValue() const {
  ordered_json j;
  j["id"] = id;
  j["repo"] = repo;
  j["branch"] = branch;
  j["tag"] = tag;
  j["commit"] = commit;
  j["author"] = author;
  j["message"] = message;
  j["event"] = EventName(event);
  j["status"] = RunStatusName(status);
  j["error"] = error;
  j["queued_at"] = Rfc3339Millis(queued_unix_ms);
  j["started_at"] = Rfc3339Millis(started_unix_ms);
  j["finished_at"] = Rfc3339Millis(finished_unix_ms);
  j["rerun_of"] = rerun_of == 0 ? ordered_json(nullptr) : ordered_json(rerun_of);
  j["pull_request"] = pull_request == 0 ? ordered_json(nullptr) : ordered_json(pull_request);
  j["head_ref"] = head_ref;
  j["no_secrets"] = no_secrets;
  j["superseded_by"] = superseded_by == 0 ? ordered_json(nullptr) : ordered_json(superseded_by);
  if (!source_dir.empty()) j["source_dir"] = source_dir;
  j["tests"] = {{"total", tests.total},
                {"passed", tests.passed},
                {"failed", tests.failed},
                {"errors", tests.errors},
                {"skipped", tests.skipped}};
  j["warnings"] = warnings;
  j["image_id"] = image_id;
  j["pipeline_digest"] = pipeline_digest;
  j["promotion"] = {{"status", promotion_status}, {"error", promotion_error}};
  return j;
}

Result<Run> Run::FromJsonValue(const ordered_json& value) {
  Run run;
  FieldReader r(value, "run");
  r.Integer("id", &run.id);
  r.String("repo", &run.repo);
  r.String("branch", &run.branch);
  r.String("tag", &run.tag);
  r.String("commit", &run.commit);
  r.String("author", &run.author);
  r.String("message", &run.message);
  r.Name("event", &run.event, ParseEvent);
  r.Name("status", &run.status, ParseRunStatus);
  r.String("error", &run.error);
  r.Time("queued_at", &run.queued_unix_ms);
  r.Time("started_at", &run.started_unix_ms);
  r.Time("finished_at", &run.finished_unix_ms);
  r.IdOrNull("rerun_of", &run.rerun_of);
  r.IdOrNull("pull_request", &run.pull_request);
  r.String("head_ref", &run.head_ref);
  r.Bool("no_secrets", &run.no_secrets);
  r.IdOrNull("superseded_by", &run.superseded_by);
  r.String("source_dir", &run.source_dir, /*optional=*/true);
  r.Tests("tests", &run.tests);
  r.Strings("warnings", &run.warnings);
  r.String("image_id", &run.image_id);
  r.String("pipeline_digest", &run.pipeline_digest);
  r.Promotion("promotion", &run.promotion_status, &run.promotion_error);
  if (!r.status().ok()) return r.status();
  return run;
}

ordered_json StepRecord::ToJsonValue() const {
  ordered_json j;
  j["name"] = name;
  j["kind"] = StepKindName(kind);
  j["status"] = StepStatusName(status);
  j["reason"] = reason;
  j["exit_code"] = exit_code;
  j["started_at"] = Rfc3339Millis(started_unix_ms);
  j["finished_at"] = Rfc3339Millis(finished_unix_ms);
  j["duration_ms"] = duration_ms;
  j["peak_memory_bytes"] = peak_memory_bytes;
  j["cpu_ns"] = cpu_ns;
  j["container_id"] = container_id;
  j["error"] = error;
  j["limits"] = LimitsJson(limits);
  j["needs"] = needs;
  return j;
}

Result<StepRecord> StepRecord::FromJsonValue(const ordered_json& value) {
  StepRecord step;
  FieldReader r(value, "step");
  r.String("name", &step.name);
  r.Name("kind", &step.kind, ParseStepKind);
  r.Name("status", &step.status, ParseStepStatus);
  r.String("reason", &step.reason);
  r.Integer("exit_code", &step.exit_code);
  r.Time("started_at", &step.started_unix_ms);
  r.Time("finished_at", &step.finished_unix_ms);
  r.Integer("duration_ms", &step.duration_ms);
  r.Integer("peak_memory_bytes", &step.peak_memory_bytes);
  r.Integer("cpu_ns", &step.cpu_ns);
  r.String("container_id", &step.container_id);
  r.String("error", &step.error);
  r.Limits("limits", &step.limits);
  r.Strings("needs", &step.needs, /*optional=*/true);  // a slipwayd before issue 18 has none
  if (!r.status().ok()) return r.status();
  return step;
}

}  // namespace slipway::pipelines

// The records of the CI: a registered repository, a run of its pipeline and
// the steps (and services) of a run. Plain data, and their one JSON form
// (docs/api.md, "Runs"), which slipwayd answers and the CLI reads. RunStore
// keeps them; RunService moves them through their states.
//
// Run statuses:
//   queued --> running --> success | failure | error | cancelled
//      |          +------> interrupted (slipwayd died while it ran)
//      +--> cancelled
//   error: the pipeline could not run (fetch, pipeline file, build, pull,
//   readiness); failure: a step failed.
// Step statuses: pending --> running --> success | failure | error |
// cancelled | interrupted, or pending --> skipped (its `when` did not match,
// or a step it needs did not succeed).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/when.h"

namespace slipway::pipelines {

enum class RunStatus { kQueued, kRunning, kSuccess, kFailure, kError, kCancelled, kInterrupted };
enum class StepStatus { kPending, kRunning, kSuccess, kFailure, kError, kSkipped, kCancelled, kInterrupted };

const char* RunStatusName(RunStatus status);  // "queued", ...
std::optional<RunStatus> ParseRunStatus(std::string_view name);
// success, failure, error, cancelled, interrupted: nothing more happens to it.
bool IsFinal(RunStatus status);
const char* StepStatusName(StepStatus status);
std::optional<StepStatus> ParseStepStatus(std::string_view name);
bool IsFinal(StepStatus status);

// Limits of a step's sandbox; 0 (or an unset duration): none given here.
struct StepLimits {
  int64_t timeout_ms = 0;
  int64_t memory_bytes = 0;
  int64_t millicpus = 0;
  int64_t pids = 0;
};

// A repository slipwayd may run pipelines of. The credential is only ever
// held sealed (SecretBox, by RepoRegistry); it never leaves slipwayd and is
// not part of the JSON form, which says only which kind there is.
struct Repository {
  std::string name;           // [A-Za-z0-9][A-Za-z0-9._-]{0,99}
  std::string url;            // as given, without a password (ParseGitUrl refuses one)
  std::string branch_filter;  // glob (GlobMatches); empty: every branch
  std::string credential_kind;    // "", "token", "basic" or "ssh"
  std::string credential_sealed;  // binary; empty when credential_kind is ""
  StepLimits defaults;            // of steps that set none
  int64_t created_unix_ms = 0;
  // The forge it lives on, for webhooks and commit statuses (docs/webhooks.md).
  std::string forge;         // "github", "gitea", "gitlab"; "" if none
  std::string full_name;     // as the forge names it ("owner/repo"); deliveries match it or `url`
  std::string status_api;    // the forge's API base; "" sets no commit statuses
  std::string project_id;    // GitLab's project id for its status API
  std::string webhook_secret_sealed;  // binary; empty: webhooks are refused (401)
  std::string status_token_sealed;    // binary; empty: no commit statuses
  bool cancel_superseded = true;      // a newer push to a branch (or PR) cancels its older runs

  nlohmann::ordered_json ToJsonValue() const;
};

// A run's test cases by status, from its JUnit reports (docs/tests.md).
struct TestCounts {
  int64_t total = 0, passed = 0, failed = 0, errors = 0, skipped = 0;
};

struct Run {
  int64_t id = 0;    // assigned by the store, increasing: 1, 2, 3...
  std::string repo;  // empty for `pipeline exec` runs
  std::string branch, tag;
  std::string commit;  // 40 hex; empty until fetched (and for exec runs)
  std::string author, message;  // of the commit, once fetched
  Event event = Event::kManual;
  RunStatus status = RunStatus::kQueued;
  int64_t queued_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;
  std::string error;       // why it is `error` (or a warning-free empty string)
  std::string source_dir;  // exec runs: the working tree copied into the workspace
  int64_t rerun_of = 0;    // the run this one re-runs, 0 if none
  // Pull request runs: its number and the ref holding its head on the base
  // repository (what is fetched); runs from a fork get no secrets.
  int64_t pull_request = 0;
  std::string head_ref;
  bool no_secrets = false;
  int64_t superseded_by = 0;  // cancelled because this newer run of its branch or PR came
  // After its steps: the counts of the test cases its `reports` held, and
  // one warning per report that could not be read (missing, not XML, too
  // large), naming the file. Warnings never change the run's status.
  TestCounts tests;
  std::vector<std::string> warnings;
  // What promotion needs: the image the run built (`build:`), the digest of
  // the pipeline file it ran (both "sha256:<hex>", "" if none), the
  // `promote` section resolved for this run (JSON; "" if the file has none),
  // and the promotion's state: "" (nothing to promote), then "pending",
  // "promoting", "promoted", "failed" or "refused", with its error.
  std::string image_id;
  std::string pipeline_digest;
  std::string promote_plan;
  std::string promotion_status;
  std::string promotion_error;

  nlohmann::ordered_json ToJsonValue() const;
  static Result<Run> FromJsonValue(const nlohmann::ordered_json& value);  // for the CLI
};

// What a step record is: the run's own setup (fetch, checkout, images; its
// log says what happened), a service, or a step of the pipeline file.
enum class StepKind { kStep = 0, kService = 1, kSetup = 2 };
const char* StepKindName(StepKind kind);  // "step", "service", "setup"
std::optional<StepKind> ParseStepKind(std::string_view name);

struct StepRecord {
  int64_t run_id = 0;
  int index = 0;             // the setup (0), then services, then steps, in file order
  std::string name;
  StepKind kind = StepKind::kStep;
  StepStatus status = StepStatus::kPending;
  std::string reason;        // "oom", "timeout" or a skipped step's why; empty otherwise
  int exit_code = 0;
  int64_t started_unix_ms = 0, finished_unix_ms = 0;
  int64_t duration_ms = 0, peak_memory_bytes = 0, cpu_ns = 0;
  std::string container_id;  // its sandbox, while it exists
  std::string error;         // why it is `error`
  StepLimits limits;         // as applied
  // The steps it waits for, as the pipeline file made them (`depends_on`,
  // or by default the step before); [] for services and the setup.
  std::vector<std::string> needs;

  nlohmann::ordered_json ToJsonValue() const;
  static Result<StepRecord> FromJsonValue(const nlohmann::ordered_json& value);
};

// ListRuns' filters; empty fields and 0 do not filter.
struct RunFilter {
  std::string repo, branch, commit;  // commit: a prefix of at least 4 hex digits
  std::optional<RunStatus> status;
  std::optional<Event> event;
  int64_t pull_request = 0;                      // the runs of this pull request
  int64_t since_unix_ms = 0, until_unix_ms = 0;  // queued in [since, until)
  int64_t before_id = 0;                        // paging: only runs with id < before_id
  int limit = 50;                               // 1..500
};

}  // namespace slipway::pipelines

// The records' names and JSON forms: what slipwayd answers and the CLI reads
// back, field by field, and JSON the CLI must refuse rather than misread.
#include "pipelines/run_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace slipway::pipelines {
namespace {

using ordered_json = nlohmann::ordered_json;

Run SampleRun() {
  Run run;
  run.id = 12;
  run.repo = "app";
  run.branch = "main";
  run.commit = std::string(40, 'a');
  run.author = "Ada <ada@example.com>";
  run.message = "fix: the thing\n\nwith a body";
  run.event = Event::kPush;
  run.status = RunStatus::kFailure;
  run.queued_unix_ms = 1795942693021;
  run.started_unix_ms = 1795942694000;
  run.finished_unix_ms = 1795942699999;
  run.rerun_of = 7;
  run.tests = {120, 115, 2, 1, 2};
  run.warnings = {"reports/a.xml: not XML", "reports/*.xml: matched no file"};
  run.image_id = "sha256:" + std::string(64, 'b');
  run.pipeline_digest = "sha256:" + std::string(64, 'c');
  run.promotion_status = "failed";
  run.promotion_error = "127.0.0.1:5000: connection refused";
  return run;
}

StepRecord SampleStep() {
  StepRecord s;
  s.run_id = 12;
  s.index = 1;
  s.name = "test";
  s.status = StepStatus::kFailure;
  s.reason = "oom";
  s.exit_code = 137;
  s.started_unix_ms = 1795942694000;
  s.finished_unix_ms = 1795942695500;
  s.duration_ms = 1500;
  s.peak_memory_bytes = 64 << 20;
  s.cpu_ns = 123456789;
  s.container_id = "c0ffee";
  s.limits = {.timeout_ms = 60000, .memory_bytes = 64 << 20, .millicpus = 500, .pids = 128};
  s.needs = {"build", "lint"};
  return s;
}

TEST(RunRecordTest, StatusNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(RunStatus::kInterrupted); ++i) {
    auto s = static_cast<RunStatus>(i);
    EXPECT_EQ(ParseRunStatus(RunStatusName(s)), s) << RunStatusName(s);
  }
  for (int i = 0; i <= static_cast<int>(StepStatus::kInterrupted); ++i) {
    auto s = static_cast<StepStatus>(i);
    EXPECT_EQ(ParseStepStatus(StepStatusName(s)), s) << StepStatusName(s);
  }
  EXPECT_FALSE(ParseRunStatus("Queued"));
  EXPECT_FALSE(ParseRunStatus(""));
  EXPECT_FALSE(ParseStepStatus("skipped "));
}

TEST(RunRecordTest, FinalStatuses) {
  EXPECT_FALSE(IsFinal(RunStatus::kQueued));
  EXPECT_FALSE(IsFinal(RunStatus::kRunning));
  for (auto s : {RunStatus::kSuccess, RunStatus::kFailure, RunStatus::kError, RunStatus::kCancelled,
                 RunStatus::kInterrupted}) {
    EXPECT_TRUE(IsFinal(s)) << RunStatusName(s);
  }
  EXPECT_FALSE(IsFinal(StepStatus::kPending));
  EXPECT_FALSE(IsFinal(StepStatus::kRunning));
  EXPECT_TRUE(IsFinal(StepStatus::kSkipped));
  EXPECT_TRUE(IsFinal(StepStatus::kInterrupted));
}

TEST(RunRecordTest, RunJsonHasTheDocumentedFieldsInOrder) {
  ordered_json j = SampleRun().ToJsonValue();
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "repo", "branch", "tag", "commit", "author", "message",
                                            "event", "status", "error", "queued_at", "started_at",
                                            "finished_at", "rerun_of", "pull_request", "head_ref",
                                            "no_secrets", "superseded_by", "tests", "warnings", "image_id",
                                            "pipeline_digest", "promotion"}));
  EXPECT_EQ(j["event"], "push");
  EXPECT_EQ(j["tests"].dump(), R"({"total":120,"passed":115,"failed":2,"errors":1,"skipped":2})");
  EXPECT_EQ(j["promotion"]["status"], "failed");
  EXPECT_EQ(j["status"], "failure");
  EXPECT_EQ(j["queued_at"], "2026-11-29T08:58:13.021Z");
  EXPECT_EQ(j["rerun_of"], 7);
}

TEST(RunRecordTest, UnsetTimesAndRerunAreNullAndSourceDirOnlyForExecRuns) {
  pipelines::Run run;
  run.id = 1;
  run.queued_unix_ms = 1;
  ordered_json j = run.ToJsonValue();
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_TRUE(j["finished_at"].is_null());
  EXPECT_TRUE(j["rerun_of"].is_null());
  EXPECT_TRUE(j["pull_request"].is_null());
  EXPECT_TRUE(j["superseded_by"].is_null());
  EXPECT_EQ(j["head_ref"], "");
  EXPECT_EQ(j["no_secrets"], false);
  EXPECT_FALSE(j.contains("source_dir"));
  run.source_dir = "/work/tree";
  EXPECT_EQ(run.ToJsonValue()["source_dir"], "/work/tree");
}

TEST(RunRecordTest, PullRequestRunsRoundTripThroughJson) {
  pipelines::Run run = SampleRun();
  run.event = Event::kPullRequest;
  run.pull_request = 42;
  run.head_ref = "refs/pull/42/head";
  run.no_secrets = true;
  run.superseded_by = 13;
  run.status = RunStatus::kCancelled;
  ordered_json j = run.ToJsonValue();
  EXPECT_EQ(j["pull_request"], 42);
  EXPECT_EQ(j["head_ref"], "refs/pull/42/head");
  EXPECT_EQ(j["no_secrets"], true);
  EXPECT_EQ(j["superseded_by"], 13);
  auto back = pipelines::Run::FromJsonValue(ordered_json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pull_request, 42);
  EXPECT_EQ(back->head_ref, "refs/pull/42/head");
  EXPECT_TRUE(back->no_secrets);
  EXPECT_EQ(back->superseded_by, 13);
  EXPECT_EQ(back->ToJsonValue(), j);
}

TEST(RunRecordTest, RunRoundTripsThroughJson) {
  for (pipelines::Run run : {SampleRun(), pipelines::Run{}}) {
    run.source_dir = run.id ? "" : "/src";
    auto back = pipelines::Run::FromJsonValue(ordered_json::parse(run.ToJsonValue().dump()));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->ToJsonValue(), run.ToJsonValue());
    EXPECT_EQ(back->queued_unix_ms, run.queued_unix_ms);
    EXPECT_EQ(back->rerun_of, run.rerun_of);
    EXPECT_EQ(back->tests.errors, run.tests.errors);
    EXPECT_EQ(back->warnings, run.warnings);
    EXPECT_EQ(back->promotion_error, run.promotion_error);
  }
}

TEST(RunRecordTest, RunFromJsonIsStrictAboutTypes) {
  const ordered_json good = SampleRun().ToJsonValue();
  auto refused = [&](const char* key, ordered_json value) {
    ordered_json j = good;
    if (value.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = value;
    }
    auto r = pipelines::Run::FromJsonValue(j);
    EXPECT_FALSE(r.ok()) << key << " = " << value.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
    }
  };
  refused("id", "12");
  refused("id", 12.5);
  refused("id", ordered_json::value_t::discarded);
  refused("repo", 5);
  refused("status", "exploded");
  refused("status", nullptr);
  refused("event", "Push");
  refused("queued_at", 1795942693021);
  refused("queued_at", "2026-11-29 08:58:13");
  refused("finished_at", "2026-13-01T00:00:00.000Z");
  refused("started_at", "2026-11-29T08:58:13.021+01:00");
  refused("rerun_of", "7");
  refused("source_dir", 1);
  // The webhook fields are required as every other (slipwayd and its CLI
  // ship together); an older CLI ignores them.
  refused("pull_request", "7");
  refused("pull_request", ordered_json::value_t::discarded);
  refused("head_ref", nullptr);
  refused("head_ref", ordered_json::value_t::discarded);
  refused("no_secrets", 1);
  refused("no_secrets", "true");
  refused("no_secrets", ordered_json::value_t::discarded);
  refused("superseded_by", 1.5);
  refused("superseded_by", ordered_json::value_t::discarded);
  EXPECT_FALSE(pipelines::Run::FromJsonValue(ordered_json::array()).ok());
  EXPECT_FALSE(pipelines::Run::FromJsonValue(nullptr).ok());
}

TEST(RunRecordTest, UnknownFieldsAreIgnoredForNewerServers) {
  ordered_json j = SampleRun().ToJsonValue();
  j["something_new"] = {1, 2};
  EXPECT_TRUE(pipelines::Run::FromJsonValue(j).ok());
}

TEST(RunRecordTest, StepJson) {
  StepRecord s = SampleStep();
  ordered_json j = s.ToJsonValue();
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "kind", "status", "reason", "exit_code", "started_at",
                                            "finished_at", "duration_ms", "peak_memory_bytes", "cpu_ns",
                                            "container_id", "error", "limits", "needs"}));
  EXPECT_EQ(j["needs"], (ordered_json{"build", "lint"}));
  EXPECT_EQ(j["kind"], "step");
  EXPECT_EQ(
      j["limits"],
      (ordered_json{{"timeout_ms", 60000}, {"memory_bytes", 64 << 20}, {"millicpus", 500}, {"pids", 128}}));
  s.kind = StepKind::kService;
  s.started_unix_ms = s.finished_unix_ms = 0;
  j = s.ToJsonValue();
  EXPECT_EQ(j["kind"], "service");
  EXPECT_TRUE(j["started_at"].is_null());

  auto back = StepRecord::FromJsonValue(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJsonValue(), j);
  EXPECT_EQ(back->kind, StepKind::kService);
  EXPECT_EQ(back->limits.pids, 128);
  EXPECT_EQ(back->needs, (std::vector<std::string>{"build", "lint"}));
  // A slipwayd before steps had needs: none.
  j.erase("needs");
  back = StepRecord::FromJsonValue(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->needs.empty());
  j["needs"] = "build";
  EXPECT_FALSE(StepRecord::FromJsonValue(j).ok());
}

TEST(RunRecordTest, StepFromJsonIsStrict) {
  const ordered_json good = SampleStep().ToJsonValue();
  for (auto [key, value] : std::vector<std::pair<std::string, ordered_json>>{
           {"kind", "container"},
           {"kind", nullptr},
           {"status", "queued"},  // a run status, not a step's
           {"exit_code", 4294967296},
           {"exit_code", "0"},
           {"limits", ordered_json::array()},
           {"limits", {{"timeout_ms", "1m"}, {"memory_bytes", 0}, {"millicpus", 0}, {"pids", 0}}},
           {"limits", {{"timeout_ms", 0}}},
           {"cpu_ns", -1.0},
       }) {
    ordered_json j = good;
    j[key] = value;
    auto r = StepRecord::FromJsonValue(j);
    EXPECT_FALSE(r.ok()) << key << " = " << value.dump();
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
    }
  }
}

TEST(RunRecordTest, RepositoryJsonNamesTheCredentialKindOnly) {
  Repository repo;
  repo.name = "app";
  repo.url = "https://git.example.com/app.git";
  repo.branch_filter = "release/*";
  repo.credential_kind = "token";
  repo.credential_sealed = std::string("\x01sealed-bytes-SENTINEL", 21);
  repo.defaults.memory_bytes = 1 << 30;
  repo.created_unix_ms = 1795942693021;
  ordered_json j = repo.ToJsonValue();
  EXPECT_EQ(j.dump(),
            R"({"name":"app","url":"https://git.example.com/app.git","branch_filter":"release/*",)"
            R"("credential":"token","defaults":{"timeout_ms":0,"memory_bytes":1073741824,"millicpus":0,)"
            R"("pids":0},"created_at":"2026-11-29T08:58:13.021Z","forge":"","full_name":"","status_api":"",)"
            R"("project_id":"","webhook":false,"status_token":false,"cancel_superseded":true})");
  EXPECT_EQ(j.dump().find("SENTINEL"), std::string::npos);
  repo.credential_kind.clear();
  repo.credential_sealed.clear();
  EXPECT_TRUE(repo.ToJsonValue()["credential"].is_null());
}

TEST(RunRecordTest, RepositoryJsonSaysWhetherAWebhookSecretAndTokenExistNeverWhatTheyAre) {
  Repository repo;
  repo.name = "app";
  repo.forge = "gitlab";
  repo.full_name = "group/app";
  repo.status_api = "https://gitlab.example.com/api/v4";
  repo.project_id = "17";
  repo.webhook_secret_sealed = "WEBHOOK-SENTINEL";
  repo.status_token_sealed = "TOKEN-SENTINEL";
  repo.cancel_superseded = false;
  ordered_json j = repo.ToJsonValue();
  EXPECT_EQ(j["forge"], "gitlab");
  EXPECT_EQ(j["full_name"], "group/app");
  EXPECT_EQ(j["status_api"], "https://gitlab.example.com/api/v4");
  EXPECT_EQ(j["project_id"], "17");
  EXPECT_EQ(j["webhook"], true);
  EXPECT_EQ(j["status_token"], true);
  EXPECT_EQ(j["cancel_superseded"], false);
  EXPECT_EQ(j.dump().find("SENTINEL"), std::string::npos);
}

}  // namespace
}  // namespace slipway::pipelines

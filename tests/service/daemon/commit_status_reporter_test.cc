// CommitStatusReporter against the forge stand-in, with a real repository
// registry (SQLite, sealed token): what it sends for each run state, per
// forge; that a later state is never overtaken by an earlier one's retry;
// that a refusal that will not change is not retried; that RunChanged never
// waits for the forge. No daemon, no root.
#include "service/daemon/commit_status_reporter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "engine/base/event_log.h"
#include "pipelines/repo_registry.h"
#include "pipelines/secret_box.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/forge_standin.h"

namespace slipway::daemon {
namespace {

using namespace std::chrono_literals;
using PRun = pipelines::Run;
using pipelines::RunStatus;
using testing::ForgeStandin;
using testing::StatusCall;

constexpr char kToken[] = "status-token-5e1";
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

class CommitStatusReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("reporter");
    auto store = pipelines::SqliteRunStore::Open(dir_ + "/slipway.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto box = pipelines::SecretBox::LoadOrCreate(dir_ + "/secrets.key");
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_ = std::make_unique<pipelines::SecretBox>(std::move(*box));
    std::filesystem::create_directories(dir_ + "/ssh");
    repos_ = std::make_unique<pipelines::RepoRegistry>(*store_, *box_, dir_ + "/ssh");
    auto log = EventLog::Open(dir_ + "/events.log", LogLevel::kDebug);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    ASSERT_TRUE(forge_.Start());
  }
  void TearDown() override {
    reporter_.reset();
    forge_.Stop();
    std::filesystem::remove_all(dir_);
  }

  void AddRepo(const std::string& forge, const std::string& status_api) {
    pipelines::Repository repo;
    repo.name = "app";
    repo.url = "https://example.com/acme/app.git";
    repo.forge = forge;
    repo.full_name = "acme/app";
    if (forge == "gitlab") repo.project_id = "42";
    repo.status_api = status_api;
    std::string made;
    auto added = repos_->Add(repo, {}, "hook-secret", kToken, &made);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
  }

  void StartReporter(std::chrono::milliseconds retry_for = 30s) {
    CommitStatusOptions options;
    options.public_url = "https://ci.example.com";
    options.retry_for = retry_for;
    options.first_backoff = 20ms;
    options.max_backoff = 100ms;
    options.call_timeout = 2s;
    reporter_ = std::make_unique<CommitStatusReporter>(options, *repos_, *log_);
  }

  static PRun RunIn(RunStatus status, int64_t id = 7) {
    PRun run;
    run.id = id;
    run.repo = "app";
    run.commit = kCommit;
    run.branch = "main";
    run.status = status;
    run.started_unix_ms = 1'000'000;
    run.finished_unix_ms = 1'014'000;
    return run;
  }

  std::string LogText() const {
    std::ifstream in(dir_ + "/events.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
  std::unique_ptr<pipelines::SqliteRunStore> store_;
  std::unique_ptr<pipelines::SecretBox> box_;
  std::unique_ptr<pipelines::RepoRegistry> repos_;
  std::unique_ptr<EventLog> log_;
  ForgeStandin forge_{kToken};
  std::unique_ptr<CommitStatusReporter> reporter_;
};

TEST(StatusDescriptionTest, SaysTheResult) {
  PRun run;
  run.id = 12;
  run.status = RunStatus::kSuccess;
  run.started_unix_ms = 1000;
  run.finished_unix_ms = 15'000;
  EXPECT_EQ(StatusDescription(run), "run 12: success in 14 s");
  run.status = RunStatus::kFailure;
  run.finished_unix_ms = 126'000;
  EXPECT_EQ(StatusDescription(run), "run 12: failure in 2 min 5 s");
  run.status = RunStatus::kCancelled;
  run.superseded_by = 13;
  EXPECT_EQ(StatusDescription(run), "run 12: superseded by run 13");
  run.status = RunStatus::kQueued;
  EXPECT_EQ(StatusDescription(run), "run 12 queued");
  run.status = RunStatus::kSuccess;
  run.finished_unix_ms = 15'000;
  run.tests = {.total = 125, .passed = 120, .failed = 2, .errors = 0, .skipped = 3};
  EXPECT_EQ(StatusDescription(run), "run 12: success in 14 s; 120 passed, 2 failed, 3 skipped");
  run.tests = {.total = 121, .passed = 120, .failed = 0, .errors = 1, .skipped = 0};
  EXPECT_EQ(StatusDescription(run), "run 12: success in 14 s; 120 passed, 1 error");
  run.tests = {};
  run.status = RunStatus::kError;
  run.error = std::string(500, 'e');
  EXPECT_LE(StatusDescription(run).size(), 140u);
}

TEST_F(CommitStatusReporterTest, GitHubStatesInOrder) {
  AddRepo("github", forge_.Url());
  StartReporter();
  for (RunStatus s : {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kSuccess})
    reporter_->RunChanged(RunIn(s));
  ASSERT_TRUE(forge_.WaitFor([](const std::vector<StatusCall>& calls) { return calls.size() >= 3; }, 10000));
  EXPECT_EQ(forge_.States(kCommit), (std::vector<std::string>{"pending", "pending", "success"}));
  StatusCall last = forge_.Calls().back();
  EXPECT_EQ(last.repo, "acme/app");
  EXPECT_EQ(last.context, "slipway");
  EXPECT_EQ(last.description, "run 7: success in 14 s");
  EXPECT_EQ(last.target_url, "https://ci.example.com/api/v1/runs/7");
}

TEST_F(CommitStatusReporterTest, GitLabStatesIncludingRunningAndCanceled) {
  AddRepo("gitlab", forge_.Url() + "/api/v4");
  StartReporter();
  PRun cancelled = RunIn(RunStatus::kCancelled);
  cancelled.superseded_by = 8;
  for (const PRun& run : {RunIn(RunStatus::kQueued), RunIn(RunStatus::kRunning), cancelled})
    reporter_->RunChanged(run);
  ASSERT_TRUE(forge_.WaitFor([](const std::vector<StatusCall>& calls) { return calls.size() >= 3; }, 10000));
  EXPECT_EQ(forge_.States(kCommit), (std::vector<std::string>{"pending", "running", "canceled"}));
  EXPECT_EQ(forge_.Calls().back().repo, "42");
  EXPECT_EQ(forge_.Calls().back().context, "slipway");
  EXPECT_EQ(forge_.Calls().back().description, "run 7: superseded by run 8");
}

// The forge refuses (503) while the run moves on: the failing update is
// replaced by the newer one, never sent after it.
TEST_F(CommitStatusReporterTest, ALaterStateIsNeverOvertakenByARetry) {
  AddRepo("github", forge_.Url());
  forge_.FailNext(3);
  StartReporter();
  reporter_->RunChanged(RunIn(RunStatus::kQueued));
  reporter_->RunChanged(RunIn(RunStatus::kRunning));
  reporter_->RunChanged(RunIn(RunStatus::kFailure));
  ASSERT_TRUE(forge_.WaitFor(
      [](const std::vector<StatusCall>& calls) {
        return !calls.empty() && calls.back().answered == 201 && calls.back().state == "failure";
      },
      10000));
  // Every accepted call after the first "failure" is "failure": nothing older
  // came after it.
  std::vector<std::string> states = forge_.States(kCommit);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), "failure");
  bool seen_failure = false;
  for (const std::string& s : states) {
    if (seen_failure) EXPECT_EQ(s, "failure");
    seen_failure = seen_failure || s == "failure";
  }
  std::this_thread::sleep_for(200ms);  // no late retry of an older state
  EXPECT_EQ(forge_.States(kCommit).back(), "failure");
  EXPECT_EQ(LogText().find(kToken), std::string::npos);
}

// A token the forge refuses: logged once, not retried (it will not change by
// itself), and never logged itself.
TEST_F(CommitStatusReporterTest, RefusedTokenIsNotRetriedNorLogged) {
  AddRepo("github", forge_.Url());
  ForgeStandin other("another-token");
  ASSERT_TRUE(other.Start());
  // The repository's token is not the one `other` takes.
  pipelines::Repository repo;
  repo.name = "app2";
  repo.url = "https://example.com/acme/app2.git";
  repo.forge = "gitea";
  repo.full_name = "acme/app2";
  repo.status_api = other.Url() + "/api/v1";
  std::string made;
  ASSERT_TRUE(repos_->Add(repo, {}, "s", kToken, &made).ok());
  StartReporter();
  PRun run = RunIn(RunStatus::kQueued);
  run.repo = "app2";
  reporter_->RunChanged(run);
  ASSERT_TRUE(other.WaitFor([](const std::vector<StatusCall>& calls) { return !calls.empty(); }, 10000));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(other.Calls().size(), 1u);
  EXPECT_EQ(other.Calls()[0].answered, 401);
  reporter_->Stop(1s);
  const std::string log = LogText();
  EXPECT_NE(log.find("status.failed"), std::string::npos);
  EXPECT_NE(log.find("401"), std::string::npos);
  EXPECT_EQ(log.find(kToken), std::string::npos);
}

// Repositories without a forge, a status API or a token, and runs without a
// repository or a commit: nothing is sent.
TEST_F(CommitStatusReporterTest, NothingForRunsThatCannotHaveAStatus) {
  pipelines::Repository plain;
  plain.name = "plain";
  plain.url = "https://example.com/plain.git";
  ASSERT_TRUE(repos_->Add(plain, {}).ok());
  StartReporter();
  PRun run = RunIn(RunStatus::kQueued);
  run.repo = "plain";
  reporter_->RunChanged(run);
  PRun exec = RunIn(RunStatus::kQueued);
  exec.repo = "";
  reporter_->RunChanged(exec);
  PRun unfetched = RunIn(RunStatus::kQueued);
  unfetched.commit = "";
  reporter_->RunChanged(unfetched);
  reporter_->Stop(2s);
  EXPECT_TRUE(forge_.Calls().empty());
}

// A forge that does not answer at all: RunChanged still returns at once
// (it only queues), and Stop() is bounded.
TEST_F(CommitStatusReporterTest, RunChangedNeverWaitsForTheForge) {
  const std::string url = forge_.Url();
  forge_.Stop();
  AddRepo("github", url);
  StartReporter(1s);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) reporter_->RunChanged(RunIn(RunStatus::kRunning, i + 1));
  // Not a timing assertion on speed: a call to a dead forge takes at least a
  // connection attempt, and 1000 of them would take far longer than queuing.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  reporter_->Stop(100ms);
  EXPECT_NE(LogText().find("status.failed"), std::string::npos);
}

}  // namespace
}  // namespace slipway::daemon

// RunService with real parts and no slipwayd: real sandboxes under
// slipway-monitor (ContainerService), the busybox image imported into a real
// ImageStore, a real SQLite file, real git repositories (git CLI). What the
// webhooks bring to runs, which the HTTP API cannot trigger: a push naming
// its commit, pull request runs fetching their head ref, runs from forks
// without secrets, newer runs superseding older ones, and the observer; and
// the executor's scheduling as the container service sees it (a step's
// container created while its dependency runs).
// Steps that must be seen running wait for a file the test writes into the
// run's workspace, in bounded loops: nothing depends on timing.
#include "pipelines/run_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/fs.h"
#include "engine/containers/container_service.h"
#include "engine/containers/container_store.h"
#include "engine/image/image_store.h"
#include "engine/image/layer_writer.h"
#include "engine/runtime/state.h"
#include "pipelines/repo_registry.h"
#include "pipelines/secret_box.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/pipelines/git_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/monitor_test_main.h"

namespace slipway::pipelines {
namespace {

using std::chrono::milliseconds;
using testing::TestRepo;
using RunRow = pipelines::Run;  // not `Run`: gtest's Test has a member of that name

constexpr milliseconds kRunTimeout{120'000};
constexpr char kSecret[] = "sec-PLAINTEXT-1f2e3d";

// The images of runs, from the store alone: the test imports busybox, and a
// run naming anything else is an error. (slipwayd's PipelineImages pulls
// and builds through its ImageService; what a run does with the id is the
// same.)
class StoreImages : public ImageProvider {
 public:
  explicit StoreImages(ImageStore& store) : store_(store) {}
  Result<std::string> Ensure(const std::string& ref, const OutputLine&) override {
    SLIPWAY_ASSIGN_OR_RETURN(ImageRecord image, store_.Resolve(ref));
    return image.id.str();
  }
  Result<std::string> Build(const ImageBuildRequest&, const OutputLine&, int) override {
    return FailedPrecondition("builds are not part of these tests");
  }

 private:
  ImageStore& store_;
};

// Every RunChanged, and whether the service's lock was free then: running()
// takes it, so a call made under it would never return.
class Recorder : public RunObserver {
 public:
  void RunChanged(const RunRow& run) override {
    if (service_ != nullptr) (void)service_->running();
    std::lock_guard lock(mu_);
    seen_[run.id].push_back(RunStatusName(run.status));
  }
  std::vector<std::string> Of(int64_t id) {
    std::lock_guard lock(mu_);
    return seen_[id];
  }
  RunService* service_ = nullptr;

 private:
  std::mutex mu_;
  std::map<int64_t, std::vector<std::string>> seen_;
};

// A step that waits for the test's go-ahead (a file in its workspace),
// bounded by its timeout so that a broken test fails instead of hanging.
constexpr char kWaitingPipeline[] =
    "steps:\n"
    "  - name: wait\n"
    "    image: busybox\n"
    "    timeout: 90s\n"
    "    commands: [\"while [ ! -e /workspace/go ]; do sleep 0.05; done\"]\n";
constexpr char kPassingPipeline[] =
    "steps:\n"
    "  - name: show\n"
    "    image: busybox\n"
    "    commands: [\"echo commit=$SLIPWAY_COMMIT branch=$SLIPWAY_BRANCH event=$SLIPWAY_EVENT\", \"cat "
    "marker\"]\n";

class RunServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("slipway-run-service");
    data_ = root_ + "/data";
    cgroup_parent_ = "slipway-runservicetest-" + std::to_string(::getpid());
    auto images = ImageStore::Open(data_);
    ASSERT_TRUE(images.ok()) << images.status().ToString();
    images_ = std::move(images).value();
    auto imported = ImportRootfsTar(*images_, testing::BusyboxTarPath(), "busybox");
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    auto log = EventLog::Open(root_ + "/events.log", LogLevel::kDebug);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto cstore = ContainerStore::Open(data_ + "/slipway.db");
    ASSERT_TRUE(cstore.ok()) << cstore.status().ToString();
    container_store_ = std::move(cstore).value();
    ContainerServiceOptions copts;
    copts.runtime = {root_ + "/state", cgroup_parent_};
    copts.monitor_binary = testing::g_monitor;
    copts.sandbox_pool_size = 1;  // warm starts, and steps staged ahead, as slipwayd has them by default
    auto containers = ContainerService::Open(copts, *container_store_, *images_, *log_);
    ASSERT_TRUE(containers.ok()) << containers.status().ToString();
    containers_ = std::move(containers).value();
    ASSERT_TRUE(containers_->Reconcile().ok());
    containers_->Run();
    auto store = SqliteRunStore::Open(data_ + "/slipway.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto box = SecretBox::LoadOrCreate(data_ + "/secrets.key");
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_.emplace(std::move(box).value());
    repos_ = std::make_unique<RepoRegistry>(*store_, *box_, data_ + "/ssh");
    provider_ = std::make_unique<StoreImages>(*images_);
    OpenService(/*max_runs=*/1);
  }

  void TearDown() override {
    if (service_) service_->Shutdown(milliseconds(0));
    service_.reset();
    if (containers_) {
      if (auto all = containers_->List(/*all=*/true); all.ok()) {
        for (const Container& c : *all) (void)containers_->Remove(c.id, /*force=*/true);
      }
    }
    containers_.reset();
    repos_.reset();
    store_.reset();
    container_store_.reset();
    images_.reset();
    log_.reset();
    (void)RemoveTree(root_);
    testing::RemoveCgroupParent(cgroup_parent_);
  }

  void OpenService(int max_runs) {
    if (service_) service_->Shutdown(milliseconds(0));
    service_.reset();
    options_.runs_dir = data_ + "/runs";
    options_.mirrors_dir = data_ + "/repos";
    options_.max_runs = max_runs;
    auto service = RunService::Open(options_, *store_, *repos_, *containers_, *provider_, *log_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    recorder_ = std::make_unique<Recorder>();
    recorder_->service_ = service_.get();
    service_->AddObserver(recorder_.get());
    ASSERT_TRUE(service_->Recover().ok());
    service_->Start();
  }

  void AddRepo(const std::string& name, const TestRepo& git, bool cancel_superseded = true) {
    Repository r;
    r.name = name;
    r.url = git.file_url();
    r.cancel_superseded = cancel_superseded;
    auto added = repos_->Add(r, {});
    ASSERT_TRUE(added.ok()) << added.status().ToString();
  }

  RunRow Trigger(const TriggerRequest& request) {
    auto run = service_->Trigger(request);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : RunRow{};
  }
  static TriggerRequest Push(const std::string& repo, const std::string& branch, const std::string& commit) {
    TriggerRequest t;
    t.repo = repo;
    t.branch = branch;
    t.commit = commit;
    t.event = Event::kPush;
    return t;
  }
  static TriggerRequest PullRequest(const std::string& repo, int64_t number, const std::string& commit) {
    TriggerRequest t;
    t.repo = repo;
    t.branch = "main";
    t.commit = commit;
    t.event = Event::kPullRequest;
    t.pull_request = number;
    t.head_ref = "refs/pull/" + std::to_string(number) + "/head";
    return t;
  }

  RunRow AwaitEnd(int64_t id) {
    auto run = service_->Await(id, kRunTimeout);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    if (!run.ok()) return {};
    EXPECT_TRUE(IsFinal(run->status)) << "run " << id << " did not end: " << RunStatusName(run->status);
    return *run;
  }

  // Waits (bounded) until step `step` of run `id` runs.
  void AwaitStepRunning(int64_t id, const std::string& step) {
    for (int i = 0; i < 6000; ++i) {
      auto steps = service_->Steps(id);
      if (steps.ok()) {
        for (const StepRecord& s : *steps) {
          if (s.name == step && s.status == StepStatus::kRunning) return;
        }
      }
      auto run = service_->Get(id);
      ASSERT_TRUE(run.ok());
      ASSERT_FALSE(IsFinal(run->status)) << "run " << id << " ended: " << run->error;
      std::this_thread::sleep_for(milliseconds(20));
    }
    FAIL() << "step " << step << " of run " << id << " never ran";
  }

  void Go(int64_t id) {
    // run_service.h, "Files": <runs_dir>/<id>/workspace.
    std::string path = options_.runs_dir + "/" + std::to_string(id) + "/workspace/go";
    ASSERT_TRUE(WriteFileAtomic(path, "", 0644, false).ok());
  }

  // The stored output of a step (frames decoded by StreamLog).
  std::string Log(int64_t id, const std::string& step) {
    std::string out;
    Status st = service_->StreamLog(id, step, /*follow=*/false, [&](Stream, std::string_view data) {
      out.append(data);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::string root_, data_, cgroup_parent_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ContainerStore> container_store_;
  std::unique_ptr<ContainerService> containers_;
  std::unique_ptr<SqliteRunStore> store_;
  std::optional<SecretBox> box_;
  std::unique_ptr<RepoRegistry> repos_;
  std::unique_ptr<StoreImages> provider_;
  RunServiceOptions options_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<RunService> service_;
};

TEST_F(RunServiceTest, APushRunsTheCommitItNamesAndKeepsTheForgesAuthorAndMessage) {
  TestRepo git;
  std::string first = git.Commit({{".slipway.yml", kPassingPipeline}, {"marker", "first\n"}}, "first");
  std::string second = git.Commit({{"marker", "second\n"}}, "second");
  git.Push("main");
  AddRepo("app", git);
  TriggerRequest t = Push("app", "main", first);  // the branch moved on since: the commit counts
  t.author = "Forge User <forge@example.com>";
  t.message = "what the forge said\nand its body";
  RunRow run = AwaitEnd(Trigger(t).id);
  EXPECT_EQ(run.status, RunStatus::kSuccess) << run.error;
  EXPECT_EQ(run.commit, first);
  EXPECT_EQ(run.branch, "main");
  EXPECT_EQ(run.event, Event::kPush);
  EXPECT_EQ(run.author, "Forge User <forge@example.com>");
  EXPECT_EQ(run.message, "what the forge said");
  std::string log = Log(run.id, "show");
  EXPECT_NE(log.find("commit=" + first + " branch=main event=push"), std::string::npos) << log;
  EXPECT_NE(log.find("first"), std::string::npos) << log;

  // Without them, the mirror says (as for manual runs).
  RunRow plain = AwaitEnd(Trigger(Push("app", "main", second)).id);
  EXPECT_EQ(plain.status, RunStatus::kSuccess) << plain.error;
  EXPECT_EQ(plain.message, "second");
  EXPECT_NE(plain.author.find("@"), std::string::npos) << plain.author;

  // A tag push names its commit too.
  git.WorkGit("tag v1 " + first);
  git.Push("--tags");
  TriggerRequest tag;
  tag.repo = "app";
  tag.tag = "v1";
  tag.commit = first;
  tag.event = Event::kTag;
  RunRow tagged = AwaitEnd(Trigger(tag).id);
  EXPECT_EQ(tagged.status, RunStatus::kSuccess) << tagged.error;
  EXPECT_EQ(tagged.commit, first);
  EXPECT_EQ(tagged.tag, "v1");
  // A user still names one of them.
  TriggerRequest manual = tag;
  manual.event = Event::kManual;
  EXPECT_EQ(service_->Trigger(manual).status().code(), Code::kInvalidArgument);
}

TEST_F(RunServiceTest, APullRequestRunFetchesItsHeadRefAndRunsTheNamedCommit) {
  TestRepo git;
  git.Commit({{".slipway.yml", kPassingPipeline}, {"marker", "main\n"}}, "base");
  git.Push("main");
  git.WorkGit("checkout -q -b contribution");
  std::string head = git.Commit({{"marker", "from the pull request\n"}}, "contribution");
  git.Push("HEAD:refs/pull/7/head");  // only there: on no branch of the base repository
  AddRepo("app", git);

  RunRow run = AwaitEnd(Trigger(PullRequest("app", 7, head)).id);
  EXPECT_EQ(run.status, RunStatus::kSuccess) << run.error;
  EXPECT_EQ(run.commit, head);
  EXPECT_EQ(run.pull_request, 7);
  EXPECT_EQ(run.head_ref, "refs/pull/7/head");
  EXPECT_EQ(run.branch, "main");  // the target branch
  EXPECT_NE(Log(run.id, "show").find("from the pull request"), std::string::npos);
  EXPECT_NE(Log(run.id, "_setup").find("fetching refs/pull/7/head"), std::string::npos);

  // A commit the head ref does not hold: the run says so, nothing runs.
  std::string elsewhere = std::string(40, 'e');
  RunRow missing = AwaitEnd(Trigger(PullRequest("app", 7, elsewhere)).id);
  EXPECT_EQ(missing.status, RunStatus::kError);
  EXPECT_NE(missing.error.find("not in refs/pull/7/head"), std::string::npos) << missing.error;
  // A head ref that is none, or a number without one.
  for (const char* ref : {"refs/pull/*/head", "pull/7/head", "refs/pull/../x", "refs/pull/7/head\n"}) {
    TriggerRequest bad = PullRequest("app", 7, head);
    bad.head_ref = ref;
    EXPECT_EQ(service_->Trigger(bad).status().code(), Code::kInvalidArgument) << ref;
  }
  TriggerRequest no_ref = PullRequest("app", 7, head);
  no_ref.head_ref.clear();
  EXPECT_EQ(service_->Trigger(no_ref).status().code(), Code::kInvalidArgument);
  TriggerRequest not_pr = PullRequest("app", 7, head);
  not_pr.event = Event::kPush;
  EXPECT_EQ(service_->Trigger(not_pr).status().code(), Code::kInvalidArgument);

  // A rerun fetches the head ref again.
  auto again = service_->Rerun(run.id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  RunRow rerun = AwaitEnd(again->id);
  EXPECT_EQ(rerun.status, RunStatus::kSuccess) << rerun.error;
  EXPECT_EQ(rerun.head_ref, "refs/pull/7/head");
  EXPECT_EQ(rerun.commit, head);
}

TEST_F(RunServiceTest, ARunFromAForkGetsNoSecretsAndItsLogSaysWhich) {
  TestRepo git;
  std::string commit = git.Commit({{".slipway.yml",
                                    "steps:\n"
                                    "  - name: use\n"
                                    "    image: busybox\n"
                                    "    secrets: [TOKEN, OTHER]\n"
                                    "    commands: [\"echo token=[$TOKEN] other=[$OTHER]\"]\n"}},
                                  "uses secrets");
  git.Push("main");
  git.Push("HEAD:refs/pull/3/head");
  AddRepo("app", git);
  ASSERT_TRUE(repos_->SetSecret("app", "TOKEN", kSecret).ok());
  ASSERT_TRUE(repos_->SetSecret("app", "OTHER", "other-value").ok());

  TriggerRequest fork = PullRequest("app", 3, commit);
  fork.no_secrets = true;
  RunRow run = AwaitEnd(Trigger(fork).id);
  EXPECT_EQ(run.status, RunStatus::kSuccess) << run.error;
  EXPECT_TRUE(run.no_secrets);
  std::string log = Log(run.id, "use");
  EXPECT_NE(log.find("token=[] other=[]"), std::string::npos) << log;
  EXPECT_NE(log.find("secrets withheld"), std::string::npos) << log;
  EXPECT_NE(log.find("TOKEN, OTHER"), std::string::npos) << log;
  EXPECT_EQ(log.find(kSecret), std::string::npos) << log;
  EXPECT_EQ(log.find("other-value"), std::string::npos) << log;

  // Its rerun neither.
  auto again = service_->Rerun(run.id);
  ASSERT_TRUE(again.ok());
  RunRow rerun = AwaitEnd(again->id);
  EXPECT_TRUE(rerun.no_secrets);
  EXPECT_NE(Log(rerun.id, "use").find("token=[] other=[]"), std::string::npos);

  // The same pull request from the repository itself gets them (masked).
  RunRow own = AwaitEnd(Trigger(PullRequest("app", 3, commit)).id);
  EXPECT_EQ(own.status, RunStatus::kSuccess) << own.error;
  std::string own_log = Log(own.id, "use");
  EXPECT_NE(own_log.find("token=[****] other=[****]"), std::string::npos) << own_log;
  EXPECT_EQ(own_log.find("withheld"), std::string::npos) << own_log;

  // A secret the repository lacks is the same error with or without them.
  ASSERT_TRUE(repos_->RemoveSecret("app", "OTHER").ok());
  RunRow lacking = AwaitEnd(Trigger(fork).id);
  EXPECT_EQ(lacking.status, RunStatus::kError);
  EXPECT_NE(lacking.error.find("secret OTHER"), std::string::npos) << lacking.error;
}

TEST_F(RunServiceTest, ANewerPushSupersedesTheOlderRunsOfItsBranchOnly) {
  TestRepo git;
  std::string waiting = git.Commit({{".slipway.yml", kWaitingPipeline}}, "waits");
  std::string passing = git.Commit({{".slipway.yml", kPassingPipeline}, {"marker", "ok\n"}}, "passes");
  git.Push("main");
  git.Push("main:feature");
  AddRepo("app", git);

  // max_runs is 1: the first runs, the rest wait in the queue.
  int64_t r1 = Trigger(Push("app", "main", waiting)).id;
  AwaitStepRunning(r1, "wait");
  int64_t r2 = Trigger(Push("app", "feature", passing)).id;  // another branch
  TriggerRequest manual;
  manual.repo = "app";
  manual.commit = passing;
  int64_t r3 = Trigger(manual).id;                        // manual: supersedes, and is superseded by, nothing
  int64_t r4 = Trigger(Push("app", "main", waiting)).id;  // supersedes r1 (running), waits
  int64_t r5 = Trigger(Push("app", "main", passing)).id;  // supersedes r4 (queued)

  RunRow s1 = AwaitEnd(r1), s4 = AwaitEnd(r4), s5 = AwaitEnd(r5), s2 = AwaitEnd(r2), s3 = AwaitEnd(r3);
  for (auto [old, by] : {std::pair{s1, r4}, std::pair{s4, r5}}) {
    EXPECT_EQ(old.status, RunStatus::kCancelled) << old.id;
    EXPECT_EQ(old.superseded_by, by) << old.id;
    EXPECT_EQ(old.error, "superseded by run " + std::to_string(by)) << old.id;
  }
  for (const RunRow& other : {s2, s3, s5}) {
    EXPECT_EQ(other.status, RunStatus::kSuccess) << other.id << ": " << other.error;
    EXPECT_EQ(other.superseded_by, 0) << other.id;
  }
  auto steps = service_->Steps(r1);
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps->back().status, StepStatus::kCancelled);

  // Every change was told, in order, outside the service's lock.
  EXPECT_EQ(recorder_->Of(r1), (std::vector<std::string>{"queued", "running", "cancelled"}));
  EXPECT_EQ(recorder_->Of(r4), (std::vector<std::string>{"queued", "cancelled"}));
  EXPECT_EQ(recorder_->Of(r5), (std::vector<std::string>{"queued", "running", "success"}));
}

TEST_F(RunServiceTest, ANewerPullRequestRunSupersedesItsOwnPullRequestsOnly) {
  TestRepo git;
  std::string waiting = git.Commit({{".slipway.yml", kWaitingPipeline}}, "waits");
  git.Push("HEAD:refs/pull/7/head");
  std::string passing = git.Commit({{".slipway.yml", kPassingPipeline}, {"marker", "ok\n"}}, "passes");
  git.Push("main");
  git.Push("HEAD:refs/pull/8/head");
  AddRepo("app", git);

  int64_t r1 = Trigger(PullRequest("app", 7, waiting)).id;
  AwaitStepRunning(r1, "wait");
  int64_t r2 = Trigger(PullRequest("app", 8, passing)).id;
  int64_t r3 = Trigger(Push("app", "main", passing)).id;  // the target branch's push: not the pull request's
  git.Push("-f HEAD:refs/pull/7/head");                   // the pull request gets a new commit
  int64_t r4 = Trigger(PullRequest("app", 7, passing)).id;

  RunRow s1 = AwaitEnd(r1);
  EXPECT_EQ(s1.status, RunStatus::kCancelled);
  EXPECT_EQ(s1.superseded_by, r4);
  for (int64_t id : {r2, r3, r4}) {
    RunRow r = AwaitEnd(id);
    EXPECT_EQ(r.status, RunStatus::kSuccess) << id << ": " << r.error;
    EXPECT_EQ(r.superseded_by, 0);
  }
}

TEST_F(RunServiceTest, WithoutCancelSupersededOlderRunsGoOn) {
  TestRepo git;
  std::string waiting = git.Commit({{".slipway.yml", kWaitingPipeline}}, "waits");
  std::string passing = git.Commit({{".slipway.yml", kPassingPipeline}, {"marker", "ok\n"}}, "passes");
  git.Push("main");
  AddRepo("app", git, /*cancel_superseded=*/false);
  int64_t r1 = Trigger(Push("app", "main", waiting)).id;
  AwaitStepRunning(r1, "wait");
  int64_t r2 = Trigger(Push("app", "main", passing)).id;
  EXPECT_EQ(service_->Get(r1)->status, RunStatus::kRunning);
  Go(r1);
  RunRow s1 = AwaitEnd(r1), s2 = AwaitEnd(r2);
  EXPECT_EQ(s1.status, RunStatus::kSuccess) << s1.error;
  EXPECT_EQ(s1.superseded_by, 0);
  EXPECT_EQ(s2.status, RunStatus::kSuccess) << s2.error;
}

TEST_F(RunServiceTest, TheObserverHearsACancelInTheQueueAndAnInterruptionAtRecovery) {
  TestRepo git;
  std::string waiting = git.Commit({{".slipway.yml", kWaitingPipeline}}, "waits");
  git.Push("main");
  AddRepo("app", git);
  TriggerRequest manual;
  manual.repo = "app";
  manual.commit = waiting;
  int64_t r1 = Trigger(manual).id;
  AwaitStepRunning(r1, "wait");
  int64_t r2 = Trigger(manual).id;
  auto cancelled = service_->Cancel(r2);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled->status, RunStatus::kCancelled);
  EXPECT_EQ(cancelled->superseded_by, 0);  // a user's cancel
  EXPECT_EQ(cancelled->error, "");
  EXPECT_EQ(recorder_->Of(r2), (std::vector<std::string>{"queued", "cancelled"}));
  auto stopped = service_->Cancel(r1);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(AwaitEnd(r1).status, RunStatus::kCancelled);
  EXPECT_EQ(recorder_->Of(r1), (std::vector<std::string>{"queued", "running", "cancelled"}));

  // A run a crash left `running`: Recover() tells it interrupted.
  RunRow left;
  left.repo = "app";
  left.branch = "main";
  left.status = RunStatus::kRunning;
  auto added = store_->AddRun(left);
  ASSERT_TRUE(added.ok());
  OpenService(1);
  EXPECT_EQ(recorder_->Of(added->id), (std::vector<std::string>{"interrupted"}));
}

// A chain a -> b -> c -> d -> e: while a runs, the containers of b, c and d
// are created already and b's sandbox staged (nothing is left but to start
// it when a ends); e's is not (at most three wait made ahead). The steps
// append their names to a workspace file: each ran after the one it needs.
// A failed need skips the steps whose containers were made ahead, and those
// containers and the staged sandbox go with the run.
TEST_F(RunServiceTest, AStepIsCreatedWhileItsNeedRunsAndStartsWhenItEnds) {
  const std::string chain =
      "steps:\n"
      "  - name: a\n"
      "    image: busybox\n"
      "    timeout: 90s\n"
      "    commands: [\"echo a >> order\", \"while [ ! -e /workspace/go ]; do sleep 0.05; done\", "
      "\"test ! -e fail\"]\n"
      "  - name: b\n"
      "    image: busybox\n"
      "    commands: [\"echo b >> order\", \"touch /workspace/b-ran\"]\n"
      "  - name: c\n"
      "    image: busybox\n"
      "    commands: [\"echo c >> order\", \"cat order\"]\n"
      "  - name: d\n"
      "    image: busybox\n"
      "    commands: [\"true\"]\n"
      "  - name: e\n"
      "    image: busybox\n"
      "    commands: [\"true\"]\n";
  TestRepo git;
  std::string commit = git.Commit({{".slipway.yml", chain}}, "chain");
  git.Push("main");
  AddRepo("app", git);
  TriggerRequest manual;
  manual.repo = "app";
  manual.commit = commit;
  auto of_step = [&](int64_t run, const std::string& step) {
    std::vector<Container> found;
    auto all = containers_->List(/*all=*/true);
    EXPECT_TRUE(all.ok());
    if (!all.ok()) return found;
    for (const Container& c : *all) {
      auto r = c.labels.find("slipway.run");
      auto s = c.labels.find("slipway.step");
      if (r != c.labels.end() && r->second == std::to_string(run) && s != c.labels.end() && s->second == step)
        found.push_back(c);
    }
    return found;
  };
  // Waits (bounded) until step `step` of run `run` has a container.
  auto await_container = [&](int64_t run, const std::string& step) {
    for (int i = 0; i < 6000 && of_step(run, step).empty(); ++i)
      std::this_thread::sleep_for(milliseconds(20));
    return of_step(run, step);
  };

  // The sandbox named after container `id`, if any (the runtime's own lookup).
  auto sandbox_named = [&](const std::string& id) -> std::string {
    auto sandbox = StateDir(root_ + "/state").Resolve(id);
    return sandbox.ok() ? *sandbox : "";
  };
  auto b_ran = [&](int64_t run) {
    return PathExists(options_.runs_dir + "/" + std::to_string(run) + "/workspace/b-ran");
  };

  int64_t id = Trigger(manual).id;
  AwaitStepRunning(id, "a");
  std::vector<Container> b = await_container(id, "b");
  ASSERT_EQ(b.size(), 1u) << "b's container was not made while a ran";
  EXPECT_EQ(b[0].state, ContainerState::kCreated) << "b started before a ended";
  // c needs b, which is on its way (made ahead): c is made ahead too.
  std::vector<Container> c = await_container(id, "c");
  ASSERT_EQ(c.size(), 1u) << "c's container was not made ahead of b's start";
  EXPECT_EQ(c[0].state, ContainerState::kCreated) << "c started before b";
  // So is d; e is not: at most three steps wait made ahead.
  EXPECT_EQ(await_container(id, "d").size(), 1u) << "d's container was not made ahead";
  EXPECT_TRUE(of_step(id, "e").empty()) << "more than three steps were made ahead";
  // Its sandbox is staged meanwhile (in the background): made, not run.
  for (int i = 0; i < 1500 && sandbox_named(b[0].id).empty(); ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(sandbox_named(b[0].id).empty()) << "b's sandbox was not staged while a ran";
  EXPECT_FALSE(b_ran(id)) << "b's staged command ran before a ended";
  Go(id);
  RunRow run = AwaitEnd(id);
  EXPECT_EQ(run.status, RunStatus::kSuccess) << run.error;
  EXPECT_EQ(Log(id, "c"), "a\nb\nc\n") << "each step ran after the one it needs";
  auto steps = service_->Steps(id);
  ASSERT_TRUE(steps.ok());
  for (const StepRecord& s : *steps) {
    if (s.name != "b") continue;
    EXPECT_EQ(s.container_id, b[0].id) << "b ran in the container made ahead";
  }

  // a fails: b, made ahead, is skipped and its container removed.
  int64_t failing = Trigger(manual).id;
  AwaitStepRunning(failing, "a");
  std::vector<Container> failing_b = await_container(failing, "b");
  ASSERT_EQ(failing_b.size(), 1u);
  ASSERT_TRUE(
      WriteFileAtomic(options_.runs_dir + "/" + std::to_string(failing) + "/workspace/fail", "", 0644, false)
          .ok());
  Go(failing);
  RunRow failed = AwaitEnd(failing);
  EXPECT_EQ(failed.status, RunStatus::kFailure) << failed.error;
  steps = service_->Steps(failing);
  ASSERT_TRUE(steps.ok());
  for (const StepRecord& s : *steps) {
    if (s.name == "b" || s.name == "c") {
      EXPECT_EQ(s.status, StepStatus::kSkipped) << s.name;
      EXPECT_EQ(s.container_id, "") << s.name << " never ran";
    }
  }
  EXPECT_TRUE(of_step(failing, "b").empty()) << "the container made ahead for b is left";
  EXPECT_TRUE(of_step(failing, "c").empty()) << "the container made ahead for c is left";
  for (int i = 0; i < 500 && !sandbox_named(failing_b[0].id).empty(); ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(sandbox_named(failing_b[0].id), "") << "the sandbox staged for b is left";

  // Cancelled while a runs: b, made ahead, is cancelled and its container removed.
  int64_t cancelled = Trigger(manual).id;
  AwaitStepRunning(cancelled, "a");
  ASSERT_EQ(await_container(cancelled, "b").size(), 1u);
  ASSERT_TRUE(service_->Cancel(cancelled).ok());
  RunRow stopped = AwaitEnd(cancelled);
  EXPECT_EQ(stopped.status, RunStatus::kCancelled) << stopped.error;
  steps = service_->Steps(cancelled);
  ASSERT_TRUE(steps.ok());
  for (const StepRecord& s : *steps) {
    if (s.name == "b") {
      EXPECT_EQ(s.status, StepStatus::kCancelled);
    }
  }
  EXPECT_TRUE(of_step(cancelled, "b").empty()) << "the container made ahead for b is left";
  EXPECT_TRUE(of_step(cancelled, "a").empty());
}

}  // namespace
}  // namespace slipway::pipelines

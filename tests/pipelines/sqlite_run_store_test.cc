// SqliteRunStore on real SQLite files under $TEST_TMPDIR: round trips,
// ListRuns' filters and paging, pruning, ids never reused, reopening,
// writers on several threads and connections, removal of a repository with
// everything of it, and a full disk.
#include "pipelines/sqlite_run_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "engine/base/database.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

// Not `Run` inside TEST bodies: gtest's Test has a member of that name.
using RunRow = pipelines::Run;

class SqliteRunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-run-store");
    path_ = dir_ + "/slipway.db";
    store_ = OpenStore();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SqliteRunStore> OpenStore() {
    auto store = SqliteRunStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  Repository Repo(const std::string& name) {
    Repository r;
    r.name = name;
    r.url = "https://git.example.com/" + name + ".git";
    r.branch_filter = "main";
    r.created_unix_ms = 1000;
    return r;
  }

  void AddRepo(const std::string& name) { ASSERT_TRUE(store_->AddRepository(Repo(name)).ok()); }

  RunRow NewRun(const std::string& repo, RunStatus status = RunStatus::kSuccess) {
    RunRow run;
    run.repo = repo;
    run.branch = "main";
    run.status = status;
    run.queued_unix_ms = 1000;
    return run;
  }

  int64_t Add(const RunRow& run) {
    auto stored = store_->AddRun(run);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? stored->id : 0;
  }

  std::vector<int64_t> Ids(const RunFilter& filter) {
    auto runs = store_->ListRuns(filter);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    std::vector<int64_t> ids;
    if (runs.ok()) {
      for (const RunRow& r : *runs) ids.push_back(r.id);
    }
    return ids;
  }

  // Rows of `table` left in the file, read by a connection of our own.
  int64_t CountRows(const std::string& sql) {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

  std::string dir_, path_;
  std::unique_ptr<SqliteRunStore> store_;
};

TEST_F(SqliteRunStoreTest, RepositoryRoundTripKeepsBinarySealedBytes) {
  Repository r = Repo("app");
  r.credential_kind = "token";
  r.credential_sealed = std::string("\x01\x00\xff\x00sealed", 10);
  r.defaults = {.timeout_ms = 1, .memory_bytes = 2, .millicpus = 3, .pids = 4};
  ASSERT_TRUE(store_->AddRepository(r).ok());
  auto got = store_->GetRepository("app");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->credential_sealed, r.credential_sealed);
  EXPECT_EQ(got->credential_sealed.size(), 10u);
  EXPECT_EQ(got->ToJsonValue(), r.ToJsonValue());

  Status dup = store_->AddRepository(Repo("app"));
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_NE(dup.message().find("repository app"), std::string::npos) << dup.message();

  r.url = "https://elsewhere.example.com/app.git";
  r.defaults.pids = 99;
  ASSERT_TRUE(store_->UpdateRepository(r).ok());
  EXPECT_EQ(store_->GetRepository("app")->defaults.pids, 99);
  EXPECT_EQ(store_->UpdateRepository(Repo("nope")).code(), Code::kNotFound);

  auto missing = store_->GetRepository("nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("repository nope"), std::string::npos);
}

TEST_F(SqliteRunStoreTest, RepositoriesAreListedByName) {
  for (const char* name : {"zeta", "alpha", "Mid"}) AddRepo(name);
  auto list = store_->ListRepositories();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> names;
  for (const auto& r : *list) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Mid", "alpha", "zeta"}));
}

TEST_F(SqliteRunStoreTest, SecretsRoundTripAndNameWhatIsMissing) {
  AddRepo("app");
  std::string sealed("\x01\x00binary\x00", 9);
  ASSERT_TRUE(store_->PutSecret("app", "NPM_TOKEN", sealed).ok());
  ASSERT_TRUE(store_->PutSecret("app", "AWS_KEY", "x").ok());
  EXPECT_EQ(*store_->GetSecret("app", "NPM_TOKEN"), sealed);
  ASSERT_TRUE(store_->PutSecret("app", "NPM_TOKEN", "replaced").ok());
  EXPECT_EQ(*store_->GetSecret("app", "NPM_TOKEN"), "replaced");
  EXPECT_EQ(*store_->ListSecretNames("app"), (std::vector<std::string>{"AWS_KEY", "NPM_TOKEN"}));

  auto missing = store_->GetSecret("app", "OTHER");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("OTHER"), std::string::npos);
  EXPECT_EQ(store_->PutSecret("nope", "K", "v").code(), Code::kNotFound);
  EXPECT_EQ(store_->ListSecretNames("nope").status().code(), Code::kNotFound);

  ASSERT_TRUE(store_->RemoveSecret("app", "AWS_KEY").ok());
  EXPECT_EQ(store_->RemoveSecret("app", "AWS_KEY").code(), Code::kNotFound);
  EXPECT_EQ(*store_->ListSecretNames("app"), (std::vector<std::string>{"NPM_TOKEN"}));
}

TEST_F(SqliteRunStoreTest, RunsRoundTripWithIncreasingIds) {
  AddRepo("app");
  RunRow run = NewRun("app", RunStatus::kQueued);
  run.id = 777;  // ignored
  run.tag = "v1";
  run.commit = std::string(40, 'c');
  run.author = "Ada";
  run.message = "multi\nline \xe2\x9c\x93";
  run.event = Event::kTag;
  run.started_unix_ms = 2;
  run.finished_unix_ms = 3;
  run.error = "e";
  run.rerun_of = 5;
  auto first = store_->AddRun(run);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->id, 1);
  auto got = store_->GetRun(1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ToJsonValue(), first->ToJsonValue());

  RunRow exec;  // `pipeline exec`: no repository
  exec.source_dir = "/tmp/tree";
  auto second = store_->AddRun(exec);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->id, 2);
  EXPECT_EQ(store_->GetRun(2)->source_dir, "/tmp/tree");
  EXPECT_EQ(store_->GetRun(2)->repo, "");

  got->status = RunStatus::kRunning;
  got->commit = std::string(40, 'd');
  ASSERT_TRUE(store_->UpdateRun(*got).ok());
  EXPECT_EQ(store_->GetRun(1)->status, RunStatus::kRunning);
  EXPECT_EQ(store_->GetRun(1)->commit, std::string(40, 'd'));

  RunRow ghost = *got;
  ghost.id = 99;
  Status st = store_->UpdateRun(ghost);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("run 99"), std::string::npos) << st.message();
  EXPECT_EQ(store_->GetRun(99).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->AddRun(NewRun("nope")).status().code(), Code::kNotFound);
}

TEST_F(SqliteRunStoreTest, ListRunsFiltersNewestFirst) {
  AddRepo("app");
  AddRepo("lib");
  auto make = [&](const std::string& repo, const std::string& branch, RunStatus status, Event event,
                  const std::string& commit, int64_t queued) {
    RunRow r = NewRun(repo, status);
    r.branch = branch;
    r.event = event;
    r.commit = commit;
    r.queued_unix_ms = queued;
    return Add(r);
  };
  std::string c1 = "abcd" + std::string(36, '1'), c2 = "abce" + std::string(36, '2');
  make("app", "main", RunStatus::kSuccess, Event::kPush, c1, 100);        // 1
  make("app", "dev", RunStatus::kFailure, Event::kPush, c2, 200);         // 2
  make("lib", "main", RunStatus::kSuccess, Event::kManual, c1, 300);      // 3
  make("app", "main", RunStatus::kQueued, Event::kPullRequest, "", 400);  // 4
  make("", "", RunStatus::kError, Event::kManual, "", 500);               // 5, exec

  EXPECT_EQ(Ids({}), (std::vector<int64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(Ids({.repo = "app"}), (std::vector<int64_t>{4, 2, 1}));
  EXPECT_EQ(Ids({.repo = "app", .branch = "main"}), (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(Ids({.commit = "abcd"}), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Ids({.commit = "ABCE"}), (std::vector<int64_t>{2}));
  EXPECT_EQ(Ids({.commit = c1}), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Ids({.status = RunStatus::kSuccess}), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Ids({.event = Event::kManual}), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(Ids({.since_unix_ms = 200, .until_unix_ms = 400}), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Ids({.repo = "nope"}), (std::vector<int64_t>{}));
  // A value that would be SQL if it were pasted in is just a value.
  EXPECT_EQ(Ids({.repo = "app' OR '1'='1"}), (std::vector<int64_t>{}));
}

TEST_F(SqliteRunStoreTest, PagingVisitsEveryRunOnce) {
  AddRepo("app");
  for (int i = 0; i < 23; ++i) Add(NewRun("app"));
  std::vector<int64_t> seen;
  RunFilter page{.limit = 5};
  for (;;) {
    std::vector<int64_t> ids = Ids(page);
    if (ids.empty()) break;
    EXPECT_LE(ids.size(), 5u);
    seen.insert(seen.end(), ids.begin(), ids.end());
    page.before_id = ids.back();
  }
  ASSERT_EQ(seen.size(), 23u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 23 - static_cast<int64_t>(i));
}

TEST_F(SqliteRunStoreTest, BranchesWithTheirNewestRunNewestFirst) {
  AddRepo("app");
  AddRepo("other");
  auto on = [&](const std::string& repo, const std::string& branch, const std::string& tag = "") {
    RunRow run = NewRun(repo);
    run.branch = branch;
    run.tag = tag;
    return Add(run);
  };
  on("app", "main");                              // 1
  on("app", "feature/x");                         // 2
  on("app", "main");                              // 3
  on("other", "main");                            // 4: another repository's
  on("app", "", "v1.0");                          // 5: a tag run, no branch
  const int64_t newest_x = on("app", "feature/x");  // 6
  auto branches = store_->ListBranches("app");
  ASSERT_TRUE(branches.ok()) << branches.status().ToString();
  ASSERT_EQ(branches->size(), 2u);
  EXPECT_EQ((*branches)[0].branch, "feature/x");
  EXPECT_EQ((*branches)[0].id, newest_x);
  EXPECT_EQ((*branches)[1].branch, "main");
  EXPECT_EQ((*branches)[1].id, 3);
  EXPECT_TRUE(store_->ListBranches("other").ok());
  EXPECT_EQ(store_->ListBranches("nosuch").status().code(), Code::kNotFound);
  AddRepo("empty");
  EXPECT_TRUE(store_->ListBranches("empty")->empty());
}

TEST_F(SqliteRunStoreTest, BadFiltersAreInvalidArguments) {
  for (RunFilter f :
       {RunFilter{.limit = 0}, RunFilter{.limit = 501}, RunFilter{.limit = -1}, RunFilter{.commit = "abc"},
        RunFilter{.commit = "abcg"}, RunFilter{.commit = "ab%d"}, RunFilter{.commit = std::string(41, 'a')},
        RunFilter{.since_unix_ms = -1}, RunFilter{.before_id = -5}}) {
    auto r = store_->ListRuns(f);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << f.limit << " " << f.commit;
  }
  EXPECT_TRUE(store_->ListRuns({.limit = 500}).ok());
  EXPECT_TRUE(store_->ListRuns({.limit = 1}).ok());
}

TEST_F(SqliteRunStoreTest, RunIdsWithStatusOldestFirst) {
  AddRepo("app");
  Add(NewRun("app", RunStatus::kQueued));
  Add(NewRun("app", RunStatus::kRunning));
  Add(NewRun("app", RunStatus::kQueued));
  EXPECT_EQ(*store_->RunIdsWithStatus(RunStatus::kQueued), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(*store_->RunIdsWithStatus(RunStatus::kRunning), (std::vector<int64_t>{2}));
  EXPECT_TRUE(store_->RunIdsWithStatus(RunStatus::kError)->empty());
}

TEST_F(SqliteRunStoreTest, PruneKeepsTheNewestEndedRunsAndUnendedOnes) {
  AddRepo("app");
  AddRepo("lib");
  Add(NewRun("app", RunStatus::kRunning));         // 1: never pruned while it runs
  for (int i = 0; i < 5; ++i) Add(NewRun("app"));  // 2..6
  Add(NewRun("lib"));                              // 7: another repository
  Add(NewRun("app", RunStatus::kQueued));          // 8
  ASSERT_TRUE(store_->PutStep({.run_id = 2, .name = "build"}).ok());
  ASSERT_TRUE(store_->PutStep({.run_id = 6, .name = "build"}).ok());

  auto removed = store_->PruneRuns("app", 2);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(Ids({.repo = "app"}), (std::vector<int64_t>{8, 6, 5, 1}));
  EXPECT_EQ(Ids({.repo = "lib"}), (std::vector<int64_t>{7}));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM steps WHERE run_id = 2"), 0);
  EXPECT_EQ(store_->ListSteps(6)->size(), 1u);
  EXPECT_TRUE(store_->PruneRuns("app", 2)->empty());
  EXPECT_EQ(store_->PruneRuns("app", -1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->PruneRuns("nope", 1).status().code(), Code::kNotFound);
}

TEST_F(SqliteRunStoreTest, PruningTheRunsOfNoRepositoryTakesExecRunsOnly) {
  AddRepo("app");
  Add(NewRun("app"));                           // 1
  for (int i = 0; i < 3; ++i) Add(NewRun(""));  // 2..4: `pipeline exec` runs
  Add(NewRun("", RunStatus::kRunning));         // 5
  auto removed = store_->PruneRuns("", 1);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Ids({}), (std::vector<int64_t>{5, 4, 1}));
}

TEST_F(SqliteRunStoreTest, IdsAreNeverReusedAfterPruneEvenAcrossReopen) {
  AddRepo("app");
  for (int i = 0; i < 3; ++i) Add(NewRun("app"));
  ASSERT_EQ(store_->PruneRuns("app", 0)->size(), 3u);  // the newest, id 3, goes too
  EXPECT_EQ(Add(NewRun("app")), 4);
  ASSERT_EQ(store_->PruneRuns("app", 0)->size(), 1u);
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Add(NewRun("app")), 5);
}

TEST_F(SqliteRunStoreTest, ReopeningMigratesOnceAndKeepsTheData) {
  AddRepo("app");
  Add(NewRun("app"));
  store_.reset();
  for (int i = 0; i < 3; ++i) {
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
    EXPECT_EQ(store_->GetRun(1)->repo, "app");
  }
  auto db = OpenDatabase(path_);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*SchemaVersion(**db, "pipelines"), 4);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);  // it holds sealed secrets
}

TEST_F(SqliteRunStoreTest, StepsByNameInIndexOrder) {
  AddRepo("app");
  int64_t id = Add(NewRun("app"));
  ASSERT_TRUE(store_->PutStep({.run_id = id, .index = 2, .name = "deploy"}).ok());
  ASSERT_TRUE(store_->PutStep({.run_id = id, .index = 0, .name = "db", .kind = StepKind::kService}).ok());
  StepRecord test{.run_id = id, .index = 1, .name = "test", .status = StepStatus::kRunning};
  ASSERT_TRUE(store_->PutStep(test).ok());
  test.status = StepStatus::kFailure;
  test.reason = "oom";
  test.exit_code = 137;
  test.limits.memory_bytes = 1 << 20;
  test.cpu_ns = 5;
  test.needs = {"db-migrate", "lint"};
  ASSERT_TRUE(store_->PutStep(test).ok());  // replaces, by name

  auto steps = store_->ListSteps(id);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 3u);
  EXPECT_EQ((*steps)[0].name, "db");
  EXPECT_EQ((*steps)[0].kind, StepKind::kService);
  EXPECT_EQ((*steps)[1].ToJsonValue(), test.ToJsonValue());
  EXPECT_EQ((*steps)[1].run_id, id);
  EXPECT_EQ((*steps)[1].needs, test.needs);
  EXPECT_TRUE((*steps)[0].needs.empty());
  EXPECT_EQ((*steps)[2].name, "deploy");

  Status orphan = store_->PutStep({.run_id = 42, .name = "x"});
  EXPECT_EQ(orphan.code(), Code::kNotFound);
  EXPECT_NE(orphan.message().find("run 42"), std::string::npos);
  EXPECT_EQ(store_->ListSteps(42).status().code(), Code::kNotFound);
}

TEST_F(SqliteRunStoreTest, RemoveRepositoryTakesItsSecretsRunsAndStepsOnly) {
  AddRepo("app");
  AddRepo("lib");
  ASSERT_TRUE(store_->PutSecret("app", "K", "sealed").ok());
  ASSERT_TRUE(store_->PutSecret("lib", "K", "sealed").ok());
  int64_t app_run = Add(NewRun("app"));
  int64_t lib_run = Add(NewRun("lib"));
  int64_t exec_run = Add(NewRun(""));
  ASSERT_TRUE(store_->PutStep({.run_id = app_run, .name = "a"}).ok());
  ASSERT_TRUE(store_->PutStep({.run_id = lib_run, .name = "a"}).ok());

  ASSERT_TRUE(store_->RemoveRepository("app").ok());
  EXPECT_EQ(store_->GetRepository("app").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetRun(app_run).status().code(), Code::kNotFound);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM repo_secrets WHERE repo = 'app'"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM steps WHERE run_id = " + std::to_string(app_run)), 0);
  EXPECT_EQ(*store_->GetSecret("lib", "K"), "sealed");
  EXPECT_EQ(store_->ListSteps(lib_run)->size(), 1u);
  EXPECT_TRUE(store_->GetRun(exec_run).ok());
  EXPECT_EQ(store_->RemoveRepository("app").code(), Code::kNotFound);
  // A new repository of the same name starts empty.
  AddRepo("app");
  EXPECT_TRUE(store_->ListSecretNames("app")->empty());
  EXPECT_TRUE(Ids({.repo = "app"}).empty());
}

TEST_F(SqliteRunStoreTest, ConcurrentWritersOnThreadsAndConnections) {
  AddRepo("app");
  // Two stores on one file: two connections, as two slipway processes would.
  std::unique_ptr<SqliteRunStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 6, kRunsEach = 30;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SqliteRunStore& store = t % 2 ? *other : *store_;
      for (int i = 0; i < kRunsEach; ++i) {
        auto run = store.AddRun(NewRun("app", RunStatus::kRunning));
        if (!run.ok()) {
          ADD_FAILURE() << run.status().ToString();
          return;
        }
        ids[t].push_back(run->id);
        run->status = RunStatus::kSuccess;
        EXPECT_TRUE(store.UpdateRun(*run).ok());
        EXPECT_TRUE(store.PutStep({.run_id = run->id, .name = "s" + std::to_string(t)}).ok());
        EXPECT_TRUE(store.PutSecret("app", "K" + std::to_string(t), std::to_string(i)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (const auto& v : ids) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kRunsEach));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kRunsEach);
  EXPECT_EQ(store_->RunIdsWithStatus(RunStatus::kSuccess)->size(), all.size());
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM steps"), kThreads * kRunsEach);
  EXPECT_EQ(store_->ListSecretNames("app")->size(), static_cast<size_t>(kThreads));
}

TEST_F(SqliteRunStoreTest, ForgeFieldsAndPullRequestsRoundTrip) {
  Repository r = Repo("app");
  r.forge = "gitlab";
  r.full_name = "group/sub/app";
  r.status_api = "https://gitlab.example.com/api/v4";
  r.project_id = "42";
  r.webhook_secret_sealed = std::string("\x00wh\x00", 4);
  r.status_token_sealed = std::string("\xff\x00tok", 5);
  r.cancel_superseded = false;
  ASSERT_TRUE(store_->AddRepository(r).ok());
  auto got = store_->GetRepository("app");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->forge, "gitlab");
  EXPECT_EQ(got->full_name, "group/sub/app");
  EXPECT_EQ(got->status_api, r.status_api);
  EXPECT_EQ(got->project_id, "42");
  EXPECT_EQ(got->webhook_secret_sealed, r.webhook_secret_sealed);
  EXPECT_EQ(got->status_token_sealed, r.status_token_sealed);
  EXPECT_FALSE(got->cancel_superseded);
  r.cancel_superseded = true;
  r.status_token_sealed.clear();
  ASSERT_TRUE(store_->UpdateRepository(r).ok());
  got = store_->GetRepository("app");
  EXPECT_TRUE(got->cancel_superseded);
  EXPECT_EQ(got->status_token_sealed, "");
  EXPECT_EQ(got->webhook_secret_sealed, r.webhook_secret_sealed);

  RunRow pr = NewRun("app", RunStatus::kQueued);
  pr.event = Event::kPullRequest;
  pr.pull_request = 7;
  pr.head_ref = "refs/merge-requests/7/head";
  pr.no_secrets = true;
  int64_t id = Add(pr);
  Add(NewRun("app", RunStatus::kQueued));
  pr.pull_request = 8;
  int64_t other = Add(pr);
  auto run = store_->GetRun(id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->warnings, std::vector<std::string>{});
  EXPECT_EQ(run->pull_request, 7);
  EXPECT_EQ(run->head_ref, "refs/merge-requests/7/head");
  EXPECT_TRUE(run->no_secrets);
  EXPECT_EQ(run->superseded_by, 0);
  run->superseded_by = other;
  run->status = RunStatus::kCancelled;
  ASSERT_TRUE(store_->UpdateRun(*run).ok());
  EXPECT_EQ(store_->GetRun(id)->superseded_by, other);
  EXPECT_EQ(store_->GetRun(id)->ToJsonValue(), run->ToJsonValue());
  EXPECT_EQ(Ids({.repo = "app", .pull_request = 7}), (std::vector<int64_t>{id}));
  EXPECT_EQ(Ids({.repo = "app", .pull_request = 8}), (std::vector<int64_t>{other}));
  EXPECT_EQ(store_->ListRuns({.pull_request = -1}).status().code(), Code::kInvalidArgument);
}

// The schema as slipway shipped it before the webhooks (migration 1, copied
// here on purpose: what a user's database holds must stay readable, whatever
// the code's migrations become).
constexpr char kSchemaV1[] = R"sql(
    CREATE TABLE repositories (
      name TEXT PRIMARY KEY, url TEXT NOT NULL, branch_filter TEXT NOT NULL,
      credential_kind TEXT NOT NULL, credential_sealed BLOB NOT NULL, timeout_ms INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL, millicpus INTEGER NOT NULL, pids INTEGER NOT NULL,
      created_unix_ms INTEGER NOT NULL);
    CREATE TABLE repo_secrets (
      repo TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE, key TEXT NOT NULL,
      sealed BLOB NOT NULL, PRIMARY KEY (repo, key)) WITHOUT ROWID;
    CREATE TABLE runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT REFERENCES repositories(name) ON DELETE CASCADE,
      branch TEXT NOT NULL, tag TEXT NOT NULL, commit_id TEXT NOT NULL, author TEXT NOT NULL,
      message TEXT NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL, queued_unix_ms INTEGER NOT NULL,
      started_unix_ms INTEGER NOT NULL, finished_unix_ms INTEGER NOT NULL, error TEXT NOT NULL,
      source_dir TEXT NOT NULL, rerun_of INTEGER NOT NULL);
    CREATE INDEX runs_repo ON runs(repo, id);
    CREATE INDEX runs_status ON runs(status, id);
    CREATE INDEX runs_event ON runs(event, id);
    CREATE INDEX runs_branch ON runs(branch, id);
    CREATE INDEX runs_commit ON runs(commit_id);
    CREATE INDEX runs_queued ON runs(queued_unix_ms);
    CREATE TABLE steps (
      run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
      name TEXT NOT NULL, kind INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
      exit_code INTEGER NOT NULL, started_unix_ms INTEGER NOT NULL, finished_unix_ms INTEGER NOT NULL,
      duration_ms INTEGER NOT NULL, peak_memory_bytes INTEGER NOT NULL, cpu_ns INTEGER NOT NULL,
      container_id TEXT NOT NULL, error TEXT NOT NULL, timeout_ms INTEGER NOT NULL,
      memory_bytes INTEGER NOT NULL, millicpus INTEGER NOT NULL, pids INTEGER NOT NULL,
      PRIMARY KEY (run_id, name)) WITHOUT ROWID;
    CREATE INDEX steps_order ON steps(run_id, idx);
)sql";

TEST_F(SqliteRunStoreTest, AVersionOneDatabaseIsMigratedWithItsData) {
  store_.reset();
  std::filesystem::remove(path_);
  {
    auto db = OpenDatabase(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    const char* const v1[] = {kSchemaV1};
    ASSERT_TRUE(Migrate(**db, "pipelines", v1).ok());
    (*db)->exec(
        "INSERT INTO repositories VALUES ('app', 'https://git.example.com/app.git', 'main', 'token', "
        "x'00ff00', 1, 2, 3, 4, 1000)");
    (*db)->exec("INSERT INTO repo_secrets VALUES ('app', 'K', x'0102')");
    (*db)->exec("INSERT INTO runs VALUES (NULL, 'app', 'main', '', '" + std::string(40, 'a') +
                "', 'Ada', 'msg', 'push', 'running', 10, 11, 0, '', '', 0)");
    (*db)->exec(
        "INSERT INTO steps VALUES (1, 0, '_setup', 2, 'success', '', 0, 1, 2, 1, 0, 0, '', '', 0, 0, 0, 0)");
  }
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  auto repo = store_->GetRepository("app");
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  EXPECT_EQ(repo->url, "https://git.example.com/app.git");
  EXPECT_EQ(repo->credential_sealed, std::string("\x00\xff\x00", 3));
  EXPECT_EQ(repo->defaults.pids, 4);
  EXPECT_EQ(repo->forge, "");
  EXPECT_EQ(repo->webhook_secret_sealed, "");
  EXPECT_TRUE(repo->cancel_superseded);  // on by default, also for repositories from before
  EXPECT_EQ(*store_->GetSecret("app", "K"), "\x01\x02");
  auto run = store_->GetRun(1);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->commit, std::string(40, 'a'));
  EXPECT_EQ(run->pull_request, 0);
  EXPECT_EQ(run->head_ref, "");
  EXPECT_FALSE(run->no_secrets);
  EXPECT_EQ(run->superseded_by, 0);
  EXPECT_EQ(store_->ListSteps(1)->size(), 1u);
  EXPECT_TRUE(store_->ListSteps(1)->at(0).needs.empty());  // version 4 adds them, none for old steps
  EXPECT_EQ(Add(NewRun("app")), 2);
  auto db = OpenDatabase(path_);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*SchemaVersion(**db, "pipelines"), 4);
}

TEST_F(SqliteRunStoreTest, DeliveriesAreNewOnceUntilTheyExpire) {
  const int64_t keep = 1000;
  EXPECT_TRUE(*store_->RecordDelivery("github", "d-1", 10'000, keep));
  EXPECT_FALSE(*store_->RecordDelivery("github", "d-1", 10'001, keep));  // a retry
  EXPECT_FALSE(*store_->RecordDelivery("github", "d-1", 10'999, keep));  // still kept
  EXPECT_TRUE(*store_->RecordDelivery("gitea", "d-1", 10'002, keep));    // per forge
  EXPECT_TRUE(*store_->RecordDelivery("github", "d-1", 11'001, keep));   // expired: new again
  EXPECT_FALSE(*store_->RecordDelivery("github", "d-1", 11'002, keep));
  // Survives a restart.
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_FALSE(*store_->RecordDelivery("github", "d-1", 11'003, keep));
  for (auto [forge, id] :
       {std::pair<std::string, std::string>{"", "x"}, {"github", ""}, {"github", std::string(513, 'x')}}) {
    auto r = store_->RecordDelivery(forge, id, 1, keep);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().find("xxxx"), std::string::npos);
  }
  EXPECT_EQ(store_->RecordDelivery("github", "y", 1, -1).status().code(), Code::kInvalidArgument);
}

TEST_F(SqliteRunStoreTest, AForgottenDeliveryCountsAsNewWhenRetried) {
  const int64_t keep = 1000;
  EXPECT_TRUE(*store_->RecordDelivery("github", "d-2", 10'000, keep));
  // Its run could not be queued: the forge's retry must run it.
  ASSERT_TRUE(store_->ForgetDelivery("github", "d-2").ok());
  EXPECT_TRUE(*store_->RecordDelivery("github", "d-2", 10'001, keep));
  EXPECT_FALSE(*store_->RecordDelivery("github", "d-2", 10'002, keep));
  EXPECT_TRUE(store_->ForgetDelivery("github", "never-seen").ok()) << "nothing to forget is no error";
}

TEST_F(SqliteRunStoreTest, ExpiredDeliveriesArePrunedInBoundedBatches) {
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(*store_->RecordDelivery("gitlab", "old-" + std::to_string(i), i, 1000));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM deliveries"), 200);
  // Each later call drops at most 64 expired records: the table drains over
  // a few deliveries, and no single one pays for all.
  ASSERT_TRUE(*store_->RecordDelivery("gitlab", "new-1", 5000, 1000));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM deliveries"), 200 - 64 + 1);
  for (int i = 2; i <= 4; ++i)
    ASSERT_TRUE(*store_->RecordDelivery("gitlab", "new-" + std::to_string(i), 5000, 1000));
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM deliveries"), 4);
  EXPECT_FALSE(*store_->RecordDelivery("gitlab", "new-1", 5001, 1000));
}

// A full disk is kResourceExhausted, as everywhere in slipway, and a failed
// write leaves the store usable for reads.
TEST_F(SqliteRunStoreTest, AFullDiskIsResourceExhausted) {
  store_.reset();
  std::string mnt = dir_ + "/small";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k"), 0) << ::strerror(errno);
  {
    auto store = SqliteRunStore::Open(mnt + "/slipway.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->AddRepository(Repo("app")).ok());
    RunRow big = NewRun("app");
    big.message = std::string(32 * 1024, 'm');
    Status last;
    for (int i = 0; i < 100 && last.ok(); ++i) last = (*store)->AddRun(big).status();
    EXPECT_EQ(last.code(), Code::kResourceExhausted) << last.ToString();
    EXPECT_NE(last.message().find("add a run of repository app"), std::string::npos) << last.message();
    EXPECT_TRUE((*store)->GetRun(1).ok());
  }
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);
}

TEST_F(SqliteRunStoreTest, TestCountsWarningsAndPromotionRoundTrip) {
  ASSERT_TRUE(store_->AddRepository(Repo("app")).ok());
  RunRow run = NewRun("app", RunStatus::kRunning);
  run.tests = {10, 6, 2, 1, 1};
  run.warnings = {"reports/\"odd\".xml: not XML", "b.xml: empty"};
  run.image_id = "sha256:" + std::string(64, 'a');
  int64_t id = Add(run);
  run.id = id;
  run.pipeline_digest = "sha256:" + std::string(64, 'd');
  run.promote_plan = R"({"to":"r/app"})";
  run.promotion_status = "promoted";
  run.promotion_error = "";
  ASSERT_TRUE(store_->UpdateRun(run).ok());
  auto got = store_->GetRun(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->tests.total, 10);
  EXPECT_EQ(got->tests.passed, 6);
  EXPECT_EQ(got->tests.failed, 2);
  EXPECT_EQ(got->tests.errors, 1);
  EXPECT_EQ(got->tests.skipped, 1);
  EXPECT_EQ(got->warnings, run.warnings);
  EXPECT_EQ(got->image_id, run.image_id);
  EXPECT_EQ(got->pipeline_digest, run.pipeline_digest);
  EXPECT_EQ(got->promote_plan, run.promote_plan);
  EXPECT_EQ(got->promotion_status, "promoted");
}

}  // namespace
}  // namespace slipway::pipelines

// OpenDatabase and per-component migrations: fresh files, reopening, several
// components in one file, refusing a newer schema, concurrent first opens.
#include "engine/base/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

// Each migration also records that it ran, so a test can tell a migration
// that ran twice from one that ran once.
const std::vector<const char*> kAlpha = {
    "CREATE TABLE alpha (x INTEGER); CREATE TABLE alpha_runs (n INTEGER); INSERT INTO alpha_runs VALUES (1);",
    "ALTER TABLE alpha ADD COLUMN y TEXT; INSERT INTO alpha_runs VALUES (2);",
};
const std::vector<const char*> kBeta = {
    "CREATE TABLE beta (name TEXT PRIMARY KEY);",
};

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-database");
    path_ = dir_ + "/slipway.db";
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  std::unique_ptr<SQLite::Database> Open() {
    auto db = OpenDatabase(path_);
    EXPECT_TRUE(db.ok()) << db.status().message();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  static int Version(SQLite::Database& db, const std::string& component) {
    auto v = SchemaVersion(db, component);
    EXPECT_TRUE(v.ok()) << v.status().message();
    return v.ok() ? *v : -1;
  }

  static std::string Get(SQLite::Database& db, const std::string& sql) {
    return db.execAndGet(sql).getString();
  }

  std::string dir_, path_;
};

TEST_F(DatabaseTest, OpenSetsWalForeignKeysAndSynchronous) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Get(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(Get(*db, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(Get(*db, "PRAGMA synchronous"), "1");  // NORMAL
}

// The database holds secrets: owner-only whatever the umask, and a file an
// older slipway left readable is narrowed at the next open.
TEST_F(DatabaseTest, FileWalAndShmAreOwnerOnly) {
  mode_t old_umask = ::umask(0);
  auto db = Open();
  ::umask(old_umask);
  ASSERT_NE(db, nullptr);
  db->exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st;
    ASSERT_EQ(::stat((path_ + suffix).c_str(), &st), 0) << suffix;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << suffix;
  }
  db.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) (void)::chmod((path_ + suffix).c_str(), 0644);
  db = Open();
  ASSERT_NE(db, nullptr);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st;
    if (::stat((path_ + suffix).c_str(), &st) == 0) EXPECT_EQ(st.st_mode & 07777, 0600u) << suffix;
  }
}

TEST_F(DatabaseTest, OpenFailureIsInternalAndNamesThePath) {
  std::string path = dir_ + "/missing/dir/slipway.db";
  auto db = OpenDatabase(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kInternal);
  EXPECT_NE(db.status().message().find(path), std::string::npos) << db.status().message();
}

TEST_F(DatabaseTest, UnmigratedComponentIsVersionZero) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Version(*db, "alpha"), 0);  // no schema_versions table yet
  ASSERT_TRUE(Migrate(*db, "beta", kBeta).ok());
  EXPECT_EQ(Version(*db, "alpha"), 0);  // the table exists, the row does not
}

TEST_F(DatabaseTest, FreshDatabaseRunsEveryMigration) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  Status st = Migrate(*db, "alpha", kAlpha);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Version(*db, "alpha"), 2);
  EXPECT_EQ(Get(*db, "SELECT version FROM schema_versions WHERE component = 'alpha'"), "2");
  EXPECT_EQ(Get(*db, "SELECT group_concat(n) FROM alpha_runs"), "1,2");
  db->exec("INSERT INTO alpha (x, y) VALUES (1, 'one')");
}

TEST_F(DatabaseTest, ReopenDoesNotMigrateAgain) {
  {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
    db->exec("INSERT INTO alpha (x, y) VALUES (1, 'kept')");
  }
  for (int i = 0; i < 3; ++i) {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    Status st = Migrate(*db, "alpha", kAlpha);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(Version(*db, "alpha"), 2);
    EXPECT_EQ(Get(*db, "SELECT count(*) FROM alpha_runs"), "2");
    EXPECT_EQ(Get(*db, "SELECT y FROM alpha"), "kept");
  }
}

TEST_F(DatabaseTest, AppendedMigrationRunsAlone) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  std::vector<const char*> first(kAlpha.begin(), kAlpha.begin() + 1);
  ASSERT_TRUE(Migrate(*db, "alpha", first).ok());
  EXPECT_EQ(Version(*db, "alpha"), 1);
  ASSERT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
  EXPECT_EQ(Version(*db, "alpha"), 2);
  EXPECT_EQ(Get(*db, "SELECT group_concat(n) FROM alpha_runs"), "1,2");
}

TEST_F(DatabaseTest, ComponentsAreIndependent) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
  ASSERT_TRUE(Migrate(*db, "beta", kBeta).ok());
  EXPECT_EQ(Version(*db, "alpha"), 2);
  EXPECT_EQ(Version(*db, "beta"), 1);
  // A newer beta does not stop alpha from opening, and is left as it is.
  db->exec("UPDATE schema_versions SET version = 9 WHERE component = 'beta'");
  EXPECT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
  EXPECT_EQ(Version(*db, "beta"), 9);
  EXPECT_EQ(Get(*db, "SELECT count(*) FROM alpha_runs"), "2");
}

TEST_F(DatabaseTest, NewerVersionIsRefusedAndLeftAlone) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
  db->exec("UPDATE schema_versions SET version = 7 WHERE component = 'alpha'");
  Status st = Migrate(*db, "alpha", kAlpha);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.message();
  EXPECT_NE(st.message().find("\"alpha\""), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("7"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("newer"), std::string::npos) << st.message();
  EXPECT_EQ(Version(*db, "alpha"), 7);
  EXPECT_EQ(Get(*db, "SELECT count(*) FROM alpha_runs"), "2");
}

// A failing migration leaves nothing of the batch behind, not even the
// migrations before it that succeeded.
TEST_F(DatabaseTest, FailedMigrationRollsBackTheBatch) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  std::vector<const char*> broken = {kAlpha[0], "THIS IS NOT SQL"};
  Status st = Migrate(*db, "alpha", broken);
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find("alpha"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path_), std::string::npos) << st.message();
  EXPECT_EQ(Version(*db, "alpha"), 0);
  EXPECT_EQ(Get(*db, "SELECT count(*) FROM sqlite_master WHERE name = 'alpha'"), "0");
  // The database still works afterwards.
  ASSERT_TRUE(Migrate(*db, "alpha", kAlpha).ok());
  EXPECT_EQ(Version(*db, "alpha"), 2);
}

// Threads opening a brand-new file at once, each with its own connection:
// one switches it to WAL and migrates, the others wait and see the result.
TEST_F(DatabaseTest, ConcurrentFirstOpensFromThreadsAllSucceed) {
  for (int round = 0; round < 5; ++round) {
    std::string path = dir_ + "/race-" + std::to_string(round) + ".db";
    std::atomic<int> failures{0};
    std::vector<std::string> errors(8);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < errors.size(); ++i) {
      threads.emplace_back([&, i] {
        auto db = OpenDatabase(path);
        Status st = db.ok() ? Migrate(**db, i % 2 ? "alpha" : "beta", i % 2 ? kAlpha : kBeta) : db.status();
        if (!st.ok()) {
          errors[i] = st.ToString();
          ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0) << "round " << round;
    for (const auto& e : errors) EXPECT_EQ(e, "");
    auto db = OpenDatabase(path);
    ASSERT_TRUE(db.ok()) << db.status().message();
    EXPECT_EQ(Version(**db, "alpha"), 2);
    EXPECT_EQ(Version(**db, "beta"), 1);
    EXPECT_EQ(Get(**db, "SELECT count(*) FROM alpha_runs"), "2");
    EXPECT_EQ(Get(**db, "PRAGMA journal_mode"), "wal");
  }
}

}  // namespace
}  // namespace slipway

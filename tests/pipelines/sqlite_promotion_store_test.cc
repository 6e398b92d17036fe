// SqlitePromotionStore on real SQLite files: round trips (and the JSON
// form), filters and paging, unfinished records, its own component beside
// the pipelines' in one database file, and reopening.
#include "pipelines/sqlite_promotion_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/base/database.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

std::string Digest(char c) {
  return "sha256:" + std::string(64, c);
}

PromotionRecord Record(int64_t run, const std::string& repo, const std::string& digest, const char* result) {
  PromotionRecord r;
  r.run_id = run;
  r.repo = repo;
  r.started_by = "auto";
  r.image_id = Digest('1');
  r.target = "127.0.0.1:5000/team/" + repo;
  r.tags = {"latest", "0123abcd"};
  r.manifest_digest = digest;
  r.result = result;
  r.attempts = 1;
  r.started_unix_ms = 1'700'000'000'000;
  return r;
}

class SqlitePromotionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-promotion-store");
    path_ = dir_ + "/slipway.db";
    auto store = SqlitePromotionStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_, path_;
  std::unique_ptr<SqlitePromotionStore> store_;
};

TEST_F(SqlitePromotionStoreTest, RoundTripAndJson) {
  auto added = store_->Add(Record(4, "app", "", kPromotionPromoting));
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->id, 1);
  PromotionRecord r = *added;
  r.manifest_digest = Digest('a');
  r.provenance_digest = Digest('b');
  r.result = kPromotionPromoted;
  r.finished_unix_ms = r.started_unix_ms + 1500;
  ASSERT_TRUE(store_->Update(r).ok());
  auto got = store_->Get(1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ToJsonValue(), r.ToJsonValue());
  auto back = PromotionRecord::FromJsonValue(r.ToJsonValue());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->ToJsonValue(), r.ToJsonValue());
  EXPECT_EQ(r.ToJsonValue()["run"], 4);
  EXPECT_EQ(r.ToJsonValue()["finished_at"], "2023-11-14T22:13:21.500Z");
  EXPECT_TRUE(Record(1, "a", "", "pending").ToJsonValue()["manifest_digest"].is_null());

  EXPECT_EQ(store_->Get(99).status().code(), Code::kNotFound);
  r.id = 99;
  EXPECT_EQ(store_->Update(r).code(), Code::kNotFound);
  EXPECT_EQ(PromotionRecord::FromJsonValue(nlohmann::ordered_json::array()).status().code(),
            Code::kInvalidArgument);
}

TEST_F(SqlitePromotionStoreTest, FiltersAndPaging) {
  ASSERT_TRUE(store_->Add(Record(1, "app", Digest('a'), kPromotionPromoted)).ok());
  ASSERT_TRUE(store_->Add(Record(2, "app", Digest('b'), kPromotionFailed)).ok());
  ASSERT_TRUE(store_->Add(Record(2, "app", Digest('b'), kPromotionUnchanged)).ok());
  ASSERT_TRUE(store_->Add(Record(3, "web", Digest('a'), kPromotionPromoted)).ok());
  auto ids = [&](const PromotionFilter& f) {
    std::vector<int64_t> out;
    auto list = store_->List(f);
    EXPECT_TRUE(list.ok()) << list.status().message();
    if (!list.ok()) return out;
    for (const auto& r : *list) out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(ids({}), (std::vector<int64_t>{4, 3, 2, 1}));
  EXPECT_EQ(ids({.repo = "app"}), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(ids({.run_id = 2}), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(ids({.digest = Digest('a')}), (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(ids({.repo = "web", .digest = Digest('b')}), std::vector<int64_t>{});
  EXPECT_EQ(ids({.limit = 2}), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(ids({.before_id = 3, .limit = 2}), (std::vector<int64_t>{2, 1}));
  // The filters are values bound to the query, never SQL.
  EXPECT_EQ(ids({.repo = "app' OR '1'='1"}), std::vector<int64_t>{});

  for (PromotionFilter bad :
       {PromotionFilter{.limit = 0}, PromotionFilter{.limit = 501}, PromotionFilter{.digest = "sha256:abc"},
        PromotionFilter{.digest = Digest('A')}, PromotionFilter{.run_id = -1}}) {
    EXPECT_EQ(store_->List(bad).status().code(), Code::kInvalidArgument);
  }
}

TEST_F(SqlitePromotionStoreTest, UnfinishedOldestFirst) {
  ASSERT_TRUE(store_->Add(Record(1, "app", "", kPromotionPromoting)).ok());
  ASSERT_TRUE(store_->Add(Record(2, "app", "", kPromotionPromoted)).ok());
  ASSERT_TRUE(store_->Add(Record(3, "app", "", kPromotionPending)).ok());
  auto open = store_->Unfinished();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].run_id, 1);
  EXPECT_EQ((*open)[1].run_id, 3);
}

// One database file: the pipelines' component and this one each migrate
// their own tables; reopened, the records are there and ids go on.
TEST_F(SqlitePromotionStoreTest, SharesTheDatabaseAndSurvivesReopening) {
  ASSERT_TRUE(store_->Add(Record(1, "app", "", kPromotionPromoted)).ok());
  auto runs = SqliteRunStore::Open(path_);
  ASSERT_TRUE(runs.ok()) << runs.status().message();
  store_.reset();
  auto again = SqlitePromotionStore::Open(path_);
  ASSERT_TRUE(again.ok());
  auto next = (*again)->Add(Record(2, "app", "", kPromotionPromoted));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->id, 2);
  auto db = OpenDatabase(path_);
  ASSERT_TRUE(db.ok());
  auto promotions = SchemaVersion(**db, "promotions");
  auto pipelines = SchemaVersion(**db, "pipelines");
  ASSERT_TRUE(promotions.ok() && pipelines.ok());
  EXPECT_EQ(*promotions, 1);
  EXPECT_GE(*pipelines, 3);
}

}  // namespace
}  // namespace slipway::pipelines

// SqlitePromotionStore: the PromotionStore in slipwayd's SQLite database
// (the same file as runs, <data_dir>/slipway.db), component "promotions"
// with migrations of its own. One table, promotions; ids from AUTOINCREMENT
// (never handed out twice). No foreign key to runs: the audit outlives
// pruned runs and removed repositories.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "pipelines/promotion_store.h"

namespace SQLite {
class Database;
}

namespace slipway::pipelines {

class SqlitePromotionStore : public PromotionStore {
 public:
  static Result<std::unique_ptr<SqlitePromotionStore>> Open(const std::string& db_path);
  ~SqlitePromotionStore() override;

  Result<PromotionRecord> Add(const PromotionRecord& record) override;
  Status Update(const PromotionRecord& record) override;
  Result<PromotionRecord> Get(int64_t id) const override;
  Result<std::vector<PromotionRecord>> List(const PromotionFilter& filter) const override;
  Result<std::vector<PromotionRecord>> Unfinished() const override;

 private:
  explicit SqlitePromotionStore(std::unique_ptr<SQLite::Database> db);

  mutable std::mutex mu_;  // guards db_
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace slipway::pipelines

#include "pipelines/sqlite_promotion_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <nlohmann/json.hpp>

#include "engine/base/ascii.h"
#include "engine/base/database.h"

namespace slipway::pipelines {

namespace {

constexpr char kComponent[] = "promotions";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE promotions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      run_id INTEGER NOT NULL,
      repo TEXT NOT NULL,
      started_by TEXT NOT NULL,
      image_id TEXT NOT NULL,
      target TEXT NOT NULL,
      tags TEXT NOT NULL,              -- a JSON array of strings
      manifest_digest TEXT NOT NULL,
      provenance_digest TEXT NOT NULL,
      result TEXT NOT NULL,
      error TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      started_unix_ms INTEGER NOT NULL,
      finished_unix_ms INTEGER NOT NULL
    );
    -- List's filters, each ending in id for the newest-first paging.
    CREATE INDEX promotions_repo ON promotions(repo, id);
    CREATE INDEX promotions_run ON promotions(run_id, id);
    CREATE INDEX promotions_digest ON promotions(manifest_digest, id);
    CREATE INDEX promotions_unfinished ON promotions(result, id) WHERE result IN ('pending', 'promoting');
    )sql",
};

constexpr int kMaxLimit = 500;

constexpr char kColumns[] =
    "id, run_id, repo, started_by, image_id, target, tags, manifest_digest, provenance_digest, result, "
    "error, "
    "attempts, started_unix_ms, finished_unix_ms";

std::string Name(int64_t id) {
  return "promotion " + std::to_string(id);
}

// Every column but id, from index 1.
void Bind(SQLite::Statement& q, const PromotionRecord& r) {
  int i = 1;
  q.bind(i++, r.run_id);
  q.bind(i++, r.repo);
  q.bind(i++, r.started_by);
  q.bind(i++, r.image_id);
  q.bind(i++, r.target);
  q.bind(i++, nlohmann::json(r.tags).dump());
  q.bind(i++, r.manifest_digest);
  q.bind(i++, r.provenance_digest);
  q.bind(i++, r.result);
  q.bind(i++, r.error);
  q.bind(i++, r.attempts);
  q.bind(i++, r.started_unix_ms);
  q.bind(i++, r.finished_unix_ms);
}

PromotionRecord Read(SQLite::Statement& q) {
  PromotionRecord r;
  r.id = q.getColumn(0).getInt64();
  r.run_id = q.getColumn(1).getInt64();
  r.repo = q.getColumn(2).getString();
  r.started_by = q.getColumn(3).getString();
  r.image_id = q.getColumn(4).getString();
  r.target = q.getColumn(5).getString();
  nlohmann::json tags = nlohmann::json::parse(q.getColumn(6).getString(), nullptr, false);
  if (tags.is_array()) {
    for (const auto& t : tags) {
      if (t.is_string()) r.tags.push_back(t.get<std::string>());
    }
  }
  r.manifest_digest = q.getColumn(7).getString();
  r.provenance_digest = q.getColumn(8).getString();
  r.result = q.getColumn(9).getString();
  r.error = q.getColumn(10).getString();
  r.attempts = q.getColumn(11).getInt();
  r.started_unix_ms = q.getColumn(12).getInt64();
  r.finished_unix_ms = q.getColumn(13).getInt64();
  return r;
}

bool IsDigest(const std::string& s) {
  return s.size() == 71 && s.starts_with("sha256:") && IsLowerHex(s.substr(7));
}

}  // namespace

SqlitePromotionStore::SqlitePromotionStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
SqlitePromotionStore::~SqlitePromotionStore() = default;

Result<std::unique_ptr<SqlitePromotionStore>> SqlitePromotionStore::Open(const std::string& db_path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  return std::unique_ptr<SqlitePromotionStore>(new SqlitePromotionStore(std::move(db)));
}

#define SLIPWAY_DB_CATCH(what)                                                \
  catch (const std::exception& e) {                                           \
    return DatabaseError(*db_, std::string("promotion store: ") + (what), e); \
  }

Result<PromotionRecord> SqlitePromotionStore::Add(const PromotionRecord& record) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO promotions (") + (kColumns + 4) +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Bind(q, record);
    q.exec();
    PromotionRecord stored = record;
    stored.id = db_->getLastInsertRowid();
    return stored;
  }
  SLIPWAY_DB_CATCH("add a promotion of run " + std::to_string(record.run_id))
}

Status SqlitePromotionStore::Update(const PromotionRecord& record) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(
        *db_,
        "UPDATE promotions SET run_id = ?, repo = ?, started_by = ?, image_id = ?, target = ?, "
        "tags = ?, manifest_digest = ?, provenance_digest = ?, result = ?, error = ?, "
        "attempts = ?, started_unix_ms = ?, finished_unix_ms = ? WHERE id = ?");
    Bind(q, record);
    q.bind(14, record.id);
    if (q.exec() == 0) return NotFound(Name(record.id) + ": not found");
    return Status::Ok();
  }
  SLIPWAY_DB_CATCH("update " + Name(record.id))
}

Result<PromotionRecord> SqlitePromotionStore::Get(int64_t id) const {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kColumns + " FROM promotions WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return NotFound(Name(id) + ": not found");
    return Read(q);
  }
  SLIPWAY_DB_CATCH("get " + Name(id))
}

Result<std::vector<PromotionRecord>> SqlitePromotionStore::List(const PromotionFilter& f) const {
  if (f.limit < 1 || f.limit > kMaxLimit)
    return InvalidArgument("promotions: limit must be from 1 to " + std::to_string(kMaxLimit));
  if (!f.digest.empty() && !IsDigest(f.digest))
    return InvalidArgument("promotions: digest must be sha256: and 64 lowercase hex digits");
  if (f.run_id < 0 || f.before_id < 0) return InvalidArgument("promotions: ids are positive");
  std::string sql = std::string("SELECT ") + kColumns + " FROM promotions WHERE 1";
  if (!f.repo.empty()) sql += " AND repo = :repo";
  if (f.run_id > 0) sql += " AND run_id = :run";
  if (!f.digest.empty()) sql += " AND manifest_digest = :digest";
  if (f.before_id > 0) sql += " AND id < :before";
  sql += " ORDER BY id DESC LIMIT :limit";
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, sql);
    if (!f.repo.empty()) q.bind(":repo", f.repo);
    if (f.run_id > 0) q.bind(":run", f.run_id);
    if (!f.digest.empty()) q.bind(":digest", f.digest);
    if (f.before_id > 0) q.bind(":before", f.before_id);
    q.bind(":limit", f.limit);
    std::vector<PromotionRecord> out;
    while (q.executeStep()) out.push_back(Read(q));
    return out;
  }
  SLIPWAY_DB_CATCH("list promotions")
}

Result<std::vector<PromotionRecord>> SqlitePromotionStore::Unfinished() const {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("SELECT ") + kColumns +
                                  " FROM promotions WHERE result IN ('pending', 'promoting') ORDER BY id");
    std::vector<PromotionRecord> out;
    while (q.executeStep()) out.push_back(Read(q));
    return out;
  }
  SLIPWAY_DB_CATCH("list unfinished promotions")
}

}  // namespace slipway::pipelines

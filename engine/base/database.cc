#include "engine/base/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace slipway {

namespace {

constexpr int kBusyTimeoutMs = 10000;

// Switching a database to WAL needs an exclusive lock that SQLite does not
// wait for (no busy handler), and while another connection holds a lock it may
// also just report the old mode: retry until the mode is WAL, as concurrent
// first opens by several slipway processes are normal.
void EnableWal(SQLite::Database& db) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    try {
      if (db.execAndGet("PRAGMA journal_mode=WAL").getString() == "wal") return;
    } catch (const SQLite::Exception& e) {
      if ((e.getErrorCode() & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) throw;
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("cannot enable WAL mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void CreateVersionTable(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_versions ("
      "component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
}

// The version recorded for `component`, 0 if none (the table must exist).
int ReadVersion(SQLite::Database& db, const std::string& component) {
  SQLite::Statement q(db, "SELECT version FROM schema_versions WHERE component = ?");
  q.bind(1, component);
  return q.executeStep() ? q.getColumn(0).getInt() : 0;
}

void WriteVersion(SQLite::Database& db, const std::string& component, int version) {
  SQLite::Statement q(db,
                      "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                      "ON CONFLICT(component) DO UPDATE SET version = excluded.version");
  q.bind(1, component);
  q.bind(2, version);
  q.exec();
}

Status DbError(const SQLite::Database& db, const std::string& what, const std::exception& e) {
  return Internal("database " + db.getFilename() + ": " + what + ": " + e.what());
}

}  // namespace

Result<std::unique_ptr<SQLite::Database>> OpenDatabase(const std::string& path) {
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db->setBusyTimeout(kBusyTimeoutMs);
    EnableWal(*db);
    db->exec("PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    return db;
  } catch (const std::exception& e) {
    return Internal("open database " + path + ": " + e.what());
  }
}

Status Migrate(SQLite::Database& db, const std::string& component, std::span<const char* const> migrations) {
  const int latest = static_cast<int>(migrations.size());
  try {
    // IMMEDIATE: the write lock is taken (waiting for it) before the version is
    // read, so concurrent openers queue up: one migrates, the rest see the new
    // version. A deferred transaction would fail to upgrade its read lock.
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    CreateVersionTable(db);
    int version = ReadVersion(db, component);
    if (version > latest) {
      return FailedPrecondition("database " + db.getFilename() + ": schema of \"" + component +
                                "\" is version " + std::to_string(version) +
                                ", newer than this slipway understands (" + std::to_string(latest) + ")");
    }
    if (version == latest) return Status::Ok();  // the transaction rolls back: nothing was written
    for (int v = version; v < latest; ++v) db.exec(migrations[v]);
    WriteVersion(db, component, latest);
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return DbError(db, "migrate \"" + component + "\"", e);
  }
}

Result<int> SchemaVersion(SQLite::Database& db, const std::string& component) {
  try {
    SQLite::Statement exists(db,
                             "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'");
    if (!exists.executeStep()) return 0;
    return ReadVersion(db, component);
  } catch (const std::exception& e) {
    return DbError(db, "schema version of \"" + component + "\"", e);
  }
}

}  // namespace slipway

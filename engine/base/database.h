// slipwayd's one SQLite database: opening it the same way everywhere, and
// schema migrations per component (images, containers, ...), so that several
// modules share one file, each with its own numbered migrations.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "engine/base/status.h"

namespace SQLite {
class Database;
}

namespace slipway {

// The database's file name in slipwayd's data directory, named here once: the
// image store opens it for image metadata and slipwayd's containers table
// shares the file.
inline constexpr char kDatabaseFileName[] = "slipway.db";

// Opens (creating if missing) the database at `path`: WAL journal, a 10 s
// busy timeout (other slipway processes may hold the write lock briefly),
// synchronous=NORMAL, foreign keys enforced. The file and its -wal and -shm
// are made mode 0600 (created so, or narrowed if an older slipway left them
// wider): the database holds secrets.
Result<std::unique_ptr<SQLite::Database>> OpenDatabase(const std::string& path);

// Brings `component`'s schema up to date: migrations[i] moves it from version
// i to i + 1, and the version reached is kept in the table
// schema_versions(component, version). Never edit a shipped migration; append
// a new one. kFailedPrecondition if the database is newer than `migrations`
// knows (written by a later slipway); nothing is changed then.
Status Migrate(SQLite::Database& db, const std::string& component, std::span<const char* const> migrations);

// The Status for an exception SQLite (through SQLiteCpp) threw while `what`
// ran on `db`: "<what>: <SQLite's message>". kResourceExhausted when the
// disk is full (SQLITE_FULL, or an I/O error whose errno is ENOSPC or
// EDQUOT), saying which filesystem, as every full disk in slipway is
// reported (FileErrnoStatus); kInternal otherwise.
Status DatabaseError(SQLite::Database& db, const std::string& what, const std::exception& e);

// The schema version of `component` (0 if it was never migrated).
Result<int> SchemaVersion(SQLite::Database& db, const std::string& component);

}  // namespace slipway

#include "engine/base/database.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway {

namespace {

constexpr int kBusyTimeoutMs = 10000;

// slipwayd keeps one connection per store, all on slipway.db, so a write
// that meets another's is normal: a container's end and the step record of
// its pipeline are written at once. SQLite's own busy handler
// (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ms... between tries, so each such
// meeting cost at least a millisecond on the path of every container start
// and step end; a write holds the lock for tens of microseconds. This one
// tries again after 50 us, doubling up to 5 ms, giving up after about
// kBusyTimeoutMs in all, as the default did.
int BusyRetry(void* /*context*/, int attempt) {
  constexpr int kFirstUs = 50, kMaxUs = 5000;
  // The tries whose sleeps add up to kBusyTimeoutMs: 7 doubling ones (6.35
  // ms), then kMaxUs each.
  constexpr int kMaxAttempts = 7 + (kBusyTimeoutMs * 1000 - 6350) / kMaxUs;
  if (attempt >= kMaxAttempts) return 0;  // SQLITE_BUSY to the caller
  int us = attempt < 7 ? kFirstUs << attempt : kMaxUs;
  std::this_thread::sleep_for(std::chrono::microseconds(std::min(us, kMaxUs)));
  return 1;
}

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

// The database holds every container's environment (secrets included):
// only its owner may read it. SQLite creates a database 0644 (less the
// umask) and gives its -wal and -shm files the database's mode, so the file
// is created 0600 before SQLite opens it; a database, -wal or -shm left
// wider by an older slipway is narrowed. Exactly 0600: nothing in it is
// executable, and group or others get nothing.
Status MakeOwnerOnly(const std::string& path, bool create) {
  int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | (create ? O_CREAT : 0);
  UniqueFd fd(::open(path.c_str(), flags, 0600));
  if (!fd) {
    if (!create && errno == ENOENT) return Status::Ok();
    return ErrnoStatus("open " + path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + path);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition(path + " is not a regular file");
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd.get(), 0600) != 0) return ErrnoStatus("chmod 600 " + path);
  return Status::Ok();
}

Status DbError(SQLite::Database& db, const std::string& what, const std::exception& e) {
  return DatabaseError(db, "database " + db.getFilename() + ": " + what, e);
}

}  // namespace

Status DatabaseError(SQLite::Database& db, const std::string& what, const std::exception& e) {
  std::string message = what + ": " + e.what();
  const auto* sqlite = dynamic_cast<const SQLite::Exception*>(&e);
  if (sqlite == nullptr) return Internal(message);
  int code = sqlite->getErrorCode() & 0xff;
  int sys = ::sqlite3_system_errno(db.getHandle());
  bool full = code == SQLITE_FULL || (code == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT));
  if (!full) return Internal(message);
  return Status(Code::kResourceExhausted, message + FilesystemFullNote(db.getFilename()));
}

Result<std::unique_ptr<SQLite::Database>> OpenDatabase(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    Status st = MakeOwnerOnly(path + suffix, /*create=*/*suffix == '\0');
    if (!st.ok()) return Internal("open database " + path + ": " + st.message());
  }
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    ::sqlite3_busy_handler(db->getHandle(), BusyRetry, nullptr);
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

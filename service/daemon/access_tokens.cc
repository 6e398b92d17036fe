#include "service/daemon/access_tokens.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/base/database.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "engine/oci/digest.h"

namespace slipway::daemon {

namespace {

constexpr char kComponent[] = "access_tokens";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE access_tokens (
      name TEXT PRIMARY KEY,
      scope TEXT NOT NULL,
      sha256 TEXT NOT NULL UNIQUE,
      created_unix_ms INTEGER NOT NULL,
      last_used_unix_ms INTEGER NOT NULL
    );
    )sql",
};

constexpr char kPrefix[] = "slw_";
constexpr size_t kRandomBytes = 32;
constexpr size_t kMaxName = 64;
// How stale the database's last use of a token may get.
constexpr int64_t kLastUsedEveryMs = 60'000;

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

const char* ScopeName(Scope scope) {
  return scope == Scope::kOperate ? "operate" : "read";
}

std::optional<Scope> ParseScope(std::string_view name) {
  if (name == "read") return Scope::kRead;
  if (name == "operate") return Scope::kOperate;
  return std::nullopt;
}

std::string HashToken(std::string_view token) {
  Sha256 hash;
  hash.Update(token);
  return hash.Finish().hex();
}

bool LooksLikeAccessToken(std::string_view text) {
  if (!text.starts_with(kPrefix) || text.size() != sizeof kPrefix - 1 + 2 * kRandomBytes) return false;
  for (char c : text.substr(sizeof kPrefix - 1)) {
    if (!IsHexDigit(c)) return false;
  }
  return true;
}

AccessTokens::AccessTokens(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}

AccessTokens::~AccessTokens() = default;

Result<std::unique_ptr<AccessTokens>> AccessTokens::Open(const std::string& db_path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  std::unique_ptr<AccessTokens> tokens(new AccessTokens(std::move(db)));
  SLIPWAY_RETURN_IF_ERROR(tokens->Load());
  return tokens;
}

Status AccessTokens::Load() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "SELECT name, scope, sha256, created_unix_ms, last_used_unix_ms FROM access_tokens");
    while (q.executeStep()) {
      AccessToken t;
      t.name = q.getColumn(0).getString();
      std::optional<Scope> scope = ParseScope(q.getColumn(1).getString());
      if (!scope) return Internal("access token " + t.name + ": unknown scope in the database");
      t.scope = *scope;
      t.sha256 = q.getColumn(2).getString();
      t.created_unix_ms = q.getColumn(3).getInt64();
      t.last_used_unix_ms = q.getColumn(4).getInt64();
      last_written_[t.sha256] = t.last_used_unix_ms;
      by_hash_[t.sha256] = std::move(t);
    }
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "access tokens: load", e);
  }
  return Status::Ok();
}

Status AccessTokens::CheckName(std::string_view name) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (!first && (c == '.' || c == '_' || c == '-'));
  };
  bool good = !name.empty() && name.size() <= kMaxName;
  for (size_t i = 0; good && i < name.size(); ++i) good = ok(name[i], i == 0);
  if (!good) return InvalidArgument("token name must be [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  return Status::Ok();
}

Result<std::string> AccessTokens::Create(const std::string& name, Scope scope, AccessToken* made) {
  SLIPWAY_RETURN_IF_ERROR(CheckName(name));
  std::string token = kPrefix + RandomHex(kRandomBytes);
  AccessToken t{name, scope, NowUnixMs(), 0, HashToken(token)};
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement exists(*db_, "SELECT 1 FROM access_tokens WHERE name = ?");
    exists.bind(1, name);
    if (exists.executeStep()) return AlreadyExists("access token " + name + " exists already");
    SQLite::Statement q(*db_,
                        "INSERT INTO access_tokens (name, scope, sha256, created_unix_ms, last_used_unix_ms) "
                        "VALUES (?, ?, ?, ?, 0)");
    q.bind(1, name);
    q.bind(2, ScopeName(scope));
    q.bind(3, t.sha256);
    q.bind(4, static_cast<int64_t>(t.created_unix_ms));
    q.exec();
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "access tokens: create " + name, e);
  }
  last_written_[t.sha256] = 0;
  by_hash_[t.sha256] = t;
  if (made) *made = std::move(t);
  return token;
}

Status AccessTokens::Remove(const std::string& name) {
  SLIPWAY_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM access_tokens WHERE name = ?");
    q.bind(1, name);
    if (q.exec() == 0) return NotFound("access token " + name + ": not found");
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "access tokens: remove " + name, e);
  }
  for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
    if (it->second.name != name) continue;
    last_written_.erase(it->first);
    by_hash_.erase(it);
    break;
  }
  return Status::Ok();
}

std::vector<AccessToken> AccessTokens::List() const {
  std::lock_guard lock(mu_);
  std::map<std::string, AccessToken> by_name;
  for (const auto& [hash, t] : by_hash_) by_name[t.name] = t;
  std::vector<AccessToken> out;
  for (auto& [name, t] : by_name) out.push_back(std::move(t));
  return out;
}

std::optional<AccessToken> AccessTokens::Authenticate(std::string_view token) {
  if (!LooksLikeAccessToken(token)) return std::nullopt;
  const std::string hash = HashToken(token);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int64_t now = NowUnixMs();
  it->second.last_used_unix_ms = now;
  if (int64_t& written = last_written_[hash]; now - written >= kLastUsedEveryMs) {
    try {
      SQLite::Statement q(*db_, "UPDATE access_tokens SET last_used_unix_ms = ? WHERE sha256 = ?");
      q.bind(1, static_cast<int64_t>(now));
      q.bind(2, hash);
      q.exec();
      written = now;
    } catch (const std::exception&) {
      // Only the last use is lost (a full disk, a busy database); the
      // request is still the token's. The next use tries again.
    }
  }
  return it->second;
}

bool AccessTokens::Exists(const std::string& sha256) const {
  std::lock_guard lock(mu_);
  return by_hash_.count(sha256) > 0;
}

}  // namespace slipway::daemon

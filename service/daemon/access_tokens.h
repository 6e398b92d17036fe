// AccessTokens: the tokens people (and the dashboard) use instead of the
// control token, each with a scope (docs/dashboard.md, "Who may do what").
//
// A token is "slw_" + 64 lowercase hex digits (32 bytes of getrandom(2)). It
// is shown once, when made; the store keeps only its SHA-256 (the token is
// random, so a fast hash is enough), in slipwayd's database under the
// component "access_tokens", with its name, scope, and when it was made and
// last used. The table is also held in memory (by hash), so checking a
// request's token costs one hash and one lookup; a removed token stops
// working at once. No method's error, and nothing this store writes, holds a
// token in plain text.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace SQLite {
class Database;
}

namespace slipway::daemon {

// What a token may do: `read` GETs the dashboard's routes, `operate` also
// cancels, re-runs and promotes runs.
enum class Scope { kRead, kOperate };
const char* ScopeName(Scope scope);  // "read", "operate"
std::optional<Scope> ParseScope(std::string_view name);

struct AccessToken {
  std::string name;  // [A-Za-z0-9][A-Za-z0-9._-]{0,63}
  Scope scope = Scope::kRead;
  int64_t created_unix_ms = 0;
  int64_t last_used_unix_ms = 0;  // 0: never
  std::string sha256;             // hex of the token's SHA-256: who it is, never what it is
};

// The token's SHA-256 in hex, as the store keys it.
std::string HashToken(std::string_view token);
// Whether `text` has a token's form ("slw_" + 64 lowercase hex).
bool LooksLikeAccessToken(std::string_view text);

class AccessTokens {
 public:
  // Opens (creating) the database at `db_path` and its "access_tokens" schema.
  static Result<std::unique_ptr<AccessTokens>> Open(const std::string& db_path);
  ~AccessTokens();

  // kInvalidArgument unless `name` is [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
  static Status CheckName(std::string_view name);

  // Makes a token named `name`; returns it in plain text (the only time it
  // exists outside its holder) and its record in `made`. kAlreadyExists for
  // a name in use.
  Result<std::string> Create(const std::string& name, Scope scope, AccessToken* made);
  // Revokes it. kNotFound for an unknown name.
  Status Remove(const std::string& name);
  std::vector<AccessToken> List() const;  // by name

  // The token `token` is, if it is one (its last use is now); nullopt
  // otherwise. The last use reaches the database at most once a minute per
  // token (List() shows the exact one).
  std::optional<AccessToken> Authenticate(std::string_view token);
  // Whether the token with this hash still exists (an open stream of it
  // ends once it does not).
  bool Exists(const std::string& sha256) const;

 private:
  explicit AccessTokens(std::unique_ptr<SQLite::Database> db);
  Status Load();

  std::unique_ptr<SQLite::Database> db_;
  mutable std::mutex mu_;
  std::map<std::string, AccessToken> by_hash_;
  std::map<std::string, int64_t> last_written_;  // by hash: the last use the database has
};

}  // namespace slipway::daemon

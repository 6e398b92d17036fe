// RegistryLogins: credentials for the registries slipwayd pushes to
// (promotion targets) and pulls from, from `slipway registry login`.
//
// Kept in slipwayd's database under their own component ("registries"):
// the host and username in plain text (they are listed), the password
// sealed with the SecretBox (pipelines/secret_box.h) under the associated
// data "registry/<host>/password", so a sealed password copied to another
// host's row fails to open. The passwords are opened once, when the store
// is opened, and kept in memory for the registry clients, which ask
// Lookup() on each authentication: a login takes effect at once, for
// transfers already running too. No method's error, and no log line of its
// callers, carries a password.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/registry/credentials.h"
#include "pipelines/secret_box.h"

namespace SQLite {
class Database;
}

namespace slipway::daemon {

struct RegistryLogin {
  std::string host;  // normalized: "127.0.0.1:5000", "docker.io"
  std::string username;
  int64_t updated_unix_ms = 0;
};

class RegistryLogins {
 public:
  // Opens (creating) the database at `db_path` and its "registries" schema;
  // `box` outlives the store. An entry whose password fails to open (sealed
  // under another key) is an error naming the host.
  static Result<std::unique_ptr<RegistryLogins>> Open(const std::string& db_path,
                                                      const pipelines::SecretBox& box);
  ~RegistryLogins();

  // "host[:port]" as a registry is named in image references, normalized
  // (NormalizeRegistryHost); kInvalidArgument for anything else.
  static Result<std::string> CheckHost(const std::string& host);

  // Stores (replacing) the login for `host`. Username and password must be
  // non-empty and at most 4 KiB.
  Status Login(const std::string& host, const Credentials& credentials);
  // kNotFound if there is no login for `host`.
  Status Logout(const std::string& host);
  std::vector<RegistryLogin> List() const;
  // For RegistryOptions::credentials.
  std::optional<Credentials> Lookup(const std::string& registry) const;

 private:
  RegistryLogins(std::unique_ptr<SQLite::Database> db, const pipelines::SecretBox& box);
  Status Load();

  std::unique_ptr<SQLite::Database> db_;
  const pipelines::SecretBox& box_;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<RegistryLogin, Credentials>> logins_;  // by host
};

}  // namespace slipway::daemon

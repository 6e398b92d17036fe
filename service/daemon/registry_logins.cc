#include "service/daemon/registry_logins.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/base/ascii.h"
#include "engine/base/database.h"
#include "engine/base/time.h"

namespace slipway::daemon {

namespace {

constexpr char kComponent[] = "registries";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE registry_logins (
      host TEXT PRIMARY KEY,
      username TEXT NOT NULL,
      password_sealed BLOB NOT NULL,
      updated_unix_ms INTEGER NOT NULL
    );
    )sql",
};

constexpr size_t kMaxField = 4096;

std::string AssociatedData(const std::string& host) {
  return "registry/" + host + "/password";
}

}  // namespace

RegistryLogins::RegistryLogins(std::unique_ptr<SQLite::Database> db, const pipelines::SecretBox& box)
    : db_(std::move(db)), box_(box) {}

RegistryLogins::~RegistryLogins() = default;

Result<std::unique_ptr<RegistryLogins>> RegistryLogins::Open(const std::string& db_path,
                                                             const pipelines::SecretBox& box) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  std::unique_ptr<RegistryLogins> logins(new RegistryLogins(std::move(db), box));
  SLIPWAY_RETURN_IF_ERROR(logins->Load());
  return logins;
}

Status RegistryLogins::Load() {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT host, username, password_sealed, updated_unix_ms FROM registry_logins");
    while (q.executeStep()) {
      RegistryLogin login;
      login.host = q.getColumn(0).getString();
      login.username = q.getColumn(1).getString();
      SQLite::Column sealed = q.getColumn(2);
      login.updated_unix_ms = q.getColumn(3).getInt64();
      auto password = box_.Open(std::string(static_cast<const char*>(sealed.getBlob()), sealed.getBytes()),
                                AssociatedData(login.host));
      if (!password.ok()) return password.status().Wrap("registry login for " + login.host);
      Credentials credentials{login.username, std::move(password).value()};
      const std::string host = login.host;  // not login.host: the right side is evaluated (and moved) first
      logins_[host] = {std::move(login), std::move(credentials)};
    }
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "registry logins: load", e);
  }
  return Status::Ok();
}

Result<std::string> RegistryLogins::CheckHost(const std::string& text) {
  if (text.empty() || text.size() > 255) return InvalidArgument("registry host must be 1 to 255 characters");
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return InvalidArgument("registry host must be host[:port], as in an image reference");
  }
  if (text.front() == '.' || text.front() == '-' || text.front() == ':') {
    return InvalidArgument("registry host must be host[:port], as in an image reference");
  }
  return NormalizeRegistryHost(text);
}

Status RegistryLogins::Login(const std::string& host_text, const Credentials& credentials) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string host, CheckHost(host_text));
  if (credentials.username.empty() || credentials.username.size() > kMaxField) {
    return InvalidArgument("username must be 1 to 4096 bytes");
  }
  if (credentials.username.find(':') != std::string::npos) {
    return InvalidArgument("username must not contain ':' (HTTP basic authentication)");
  }
  if (credentials.password.empty() || credentials.password.size() > kMaxField) {
    return InvalidArgument("password must be 1 to 4096 bytes");
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string sealed, box_.Seal(credentials.password, AssociatedData(host)));
  RegistryLogin login{host, credentials.username, NowUnixMs()};
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(
        *db_,
        "INSERT INTO registry_logins (host, username, password_sealed, updated_unix_ms) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET username = excluded.username, "
        "password_sealed = excluded.password_sealed, updated_unix_ms = excluded.updated_unix_ms");
    q.bind(1, host);
    q.bind(2, credentials.username);
    q.bind(3, sealed.data(), static_cast<int>(sealed.size()));
    q.bind(4, static_cast<int64_t>(login.updated_unix_ms));
    q.exec();
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "registry logins: login to " + host, e);
  }
  logins_[host] = {std::move(login), credentials};
  return Status::Ok();
}

Status RegistryLogins::Logout(const std::string& host_text) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string host, CheckHost(host_text));
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM registry_logins WHERE host = ?");
    q.bind(1, host);
    if (q.exec() == 0) return NotFound("no login for registry " + host);
  } catch (const std::exception& e) {
    return DatabaseError(*db_, "registry logins: logout from " + host, e);
  }
  logins_.erase(host);
  return Status::Ok();
}

std::vector<RegistryLogin> RegistryLogins::List() const {
  std::lock_guard lock(mu_);
  std::vector<RegistryLogin> out;
  for (const auto& [host, entry] : logins_) out.push_back(entry.first);
  return out;
}

std::optional<Credentials> RegistryLogins::Lookup(const std::string& registry) const {
  std::string host = NormalizeRegistryHost(registry);
  std::lock_guard lock(mu_);
  auto it = logins_.find(host);
  if (it == logins_.end()) return std::nullopt;
  return it->second.second;
}

}  // namespace slipway::daemon

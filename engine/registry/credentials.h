// Registry credentials from a Docker-style config file:
//   {"auths": {"host:port": {"auth": base64("user:pass")}}}
//   {"auths": {"host:port": {"username": "...", "password": "..."}}}
// Secrets never appear in a log line or an error message: errors name the file,
// the registry key and the field, never a value.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/base64.h"  // Base64Encode/Decode, for the "auth" field
#include "engine/base/status.h"

namespace slipway {

struct Credentials {
  std::string username;
  std::string password;
};

class CredentialStore {
 public:
  CredentialStore() = default;

  // Reads the config at `path`. `source` in Parse names the input in errors.
  static Result<CredentialStore> Load(const std::string& path);
  static Result<CredentialStore> Parse(std::string_view json, const std::string& source);

  // Credentials for a registry host ("localhost:5000", "docker.io"). Keys in
  // the file may be URLs ("https://index.docker.io/v1/"); Docker Hub's aliases
  // all match "docker.io".
  std::optional<Credentials> Lookup(std::string_view registry) const;
  void Set(std::string_view registry, Credentials credentials);
  bool empty() const { return auths_.empty(); }

 private:
  std::map<std::string, Credentials, std::less<>> auths_;
};

// "host[:port]" from a config key or registry name: no scheme, no path,
// lowercase, Docker Hub aliases folded into "docker.io".
std::string NormalizeRegistryHost(std::string_view key);

// The value of an Authorization header for HTTP basic authentication.
std::string BasicAuthorization(const Credentials& credentials);

}  // namespace slipway

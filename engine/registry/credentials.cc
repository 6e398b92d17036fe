#include "engine/registry/credentials.h"

#include <nlohmann/json.hpp>

#include "engine/base/ascii.h"
#include "engine/base/fs.h"

namespace slipway {
namespace {

// One entry of "auths". Errors name the key and the field only.
Result<std::optional<Credentials>> ParseEntry(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) return InvalidArgument(where + " is not an object");
  auto string_field = [&](const char* name) -> Result<std::string> {
    auto it = entry.find(name);
    if (it == entry.end() || it->is_null()) return std::string();
    if (!it->is_string()) return InvalidArgument(where + "." + name + " is not a string");
    return it->get<std::string>();
  };
  SLIPWAY_ASSIGN_OR_RETURN(std::string auth, string_field("auth"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string username, string_field("username"));
  SLIPWAY_ASSIGN_OR_RETURN(std::string password, string_field("password"));
  if (!auth.empty()) {
    std::optional<std::string> decoded = Base64Decode(auth);
    if (!decoded) return InvalidArgument(where + ".auth is not valid base64");
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return InvalidArgument(where + ".auth does not decode to user:password");
    return std::optional<Credentials>(Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)});
  }
  // Entries with neither (e.g. only an identitytoken, or left by a credential
  // helper) carry nothing this client can use.
  if (username.empty() && password.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(Credentials{username, password});
}

}  // namespace

std::string NormalizeRegistryHost(std::string_view key) {
  if (size_t scheme = key.find("://"); scheme != std::string_view::npos) key = key.substr(scheme + 3);
  key = key.substr(0, key.find('/'));
  std::string host = Lower(key);
  if (host == "index.docker.io" || host == "registry-1.docker.io" || host == "registry.hub.docker.com") {
    return "docker.io";
  }
  return host;
}

std::string BasicAuthorization(const Credentials& credentials) {
  return "Basic " + Base64Encode(credentials.username + ":" + credentials.password);
}

Result<CredentialStore> CredentialStore::Load(const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return Parse(text, path);
}

Result<CredentialStore> CredentialStore::Parse(std::string_view json, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() quotes the text around the error, which may be a secret.
    return InvalidArgument("parse credentials " + source + ": invalid JSON at byte " +
                           std::to_string(e.byte));
  }
  if (!doc.is_object()) return InvalidArgument("parse credentials " + source + ": not a JSON object");
  CredentialStore store;
  auto auths = doc.find("auths");
  if (auths == doc.end() || auths->is_null()) return store;
  if (!auths->is_object())
    return InvalidArgument("parse credentials " + source + ": \"auths\" is not an object");
  for (const auto& [key, entry] : auths->items()) {
    std::string where = "auths[\"" + key + "\"]";
    auto parsed = ParseEntry(entry, where);
    if (!parsed.ok()) return parsed.status().Wrap("parse credentials " + source);
    if (parsed->has_value()) store.Set(key, std::move(**parsed));
  }
  return store;
}

std::optional<Credentials> CredentialStore::Lookup(std::string_view registry) const {
  auto it = auths_.find(NormalizeRegistryHost(registry));
  if (it == auths_.end()) return std::nullopt;
  return it->second;
}

void CredentialStore::Set(std::string_view registry, Credentials credentials) {
  auths_[NormalizeRegistryHost(registry)] = std::move(credentials);
}

}  // namespace slipway

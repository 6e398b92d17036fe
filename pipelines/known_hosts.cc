#include "pipelines/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sstream>

#include "engine/base/base64.h"
#include "engine/base/fs.h"

namespace slipway::pipelines {

namespace {

// "|1|<salt>|<hash>": HMAC-SHA1 of the name under the salt.
bool HashedNameMatches(const std::string& pattern, const std::string& name) {
  if (!pattern.starts_with("|1|")) return false;
  size_t bar = pattern.find('|', 3);
  if (bar == std::string::npos) return false;
  std::string salt = Base64Decode(pattern.substr(3, bar - 3)).value_or("");
  if (salt.empty()) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
            reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac, &mac_len)) {
    return false;
  }
  return Base64Encode(std::string_view(reinterpret_cast<char*>(mac), mac_len)) == pattern.substr(bar + 1);
}

bool HostsFieldMatches(const std::string& hosts, const std::string& name) {
  if (hosts.starts_with("|")) return HashedNameMatches(hosts, name);
  std::istringstream names(hosts);
  std::string each;
  while (std::getline(names, each, ',')) {
    if (each == name) return true;
  }
  return false;
}

}  // namespace

Result<bool> KnownHostsLists(const std::string& path, const std::string& host, int port,
                             std::string_view key) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const std::string name = port == 0 || port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  const std::string key_base64 = Base64Encode(key);
  bool listed = false;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string marker, hosts, type, blob;
    if (!(fields >> hosts) || hosts.starts_with("#")) continue;
    if (hosts.starts_with("@")) {
      marker = hosts;
      if (!(fields >> hosts)) continue;
    }
    if (!(fields >> type >> blob) || blob != key_base64) continue;
    // A revoked key is refused whatever host pattern it is listed under.
    if (marker == "@revoked") return false;
    if (marker.empty() && HostsFieldMatches(hosts, name)) listed = true;
  }
  return listed;
}

}  // namespace slipway::pipelines

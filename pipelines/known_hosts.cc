#include "pipelines/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sstream>

#include "engine/base/fs.h"

namespace slipway::pipelines {

namespace {

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// Standard base64 with padding; nullopt-like empty result for bad input.
std::string Base64Decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return "";
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return "";
  size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// "|1|<salt>|<hash>": HMAC-SHA1 of the name under the salt.
bool HashedNameMatches(const std::string& pattern, const std::string& name) {
  if (!pattern.starts_with("|1|")) return false;
  size_t bar = pattern.find('|', 3);
  if (bar == std::string::npos) return false;
  std::string salt = Base64Decode(pattern.substr(3, bar - 3));
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

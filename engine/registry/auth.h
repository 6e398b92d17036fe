// Registry authentication challenges (RFC 7235 WWW-Authenticate) and the
// token scopes of the distribution spec's token flow.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

struct AuthChallenge {
  std::string scheme;                         // lowercased: "basic", "bearer"
  std::map<std::string, std::string> params;  // keys lowercased: realm, service, scope, error

  std::string Param(const std::string& key) const;
};

// Parses the first challenge of a WWW-Authenticate value, e.g.
//   Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"
// Quoted values may contain commas and escaped quotes.
Result<AuthChallenge> ParseAuthChallenge(std::string_view header);

// "repository:<repository>:<actions>", actions "pull" or "pull,push".
std::string RepositoryScope(std::string_view repository, std::string_view actions);

}  // namespace slipway

// Checking an ssh server's host key against an OpenSSH known_hosts file.
//
// libgit2 1.5 checks no host key by itself: without this, whoever answers on
// the server's address would receive the deploy key's signature and serve
// any code. Supported: plain and hashed ("|1|salt|hash", ssh-keygen -H)
// host names, "[host]:port" for ports other than 22, comma-separated names,
// and @revoked lines (a revoked key is never accepted). Not supported (such
// lines never match): wildcard and negated patterns, @cert-authority.
#pragma once

#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::pipelines {

// Whether `path` lists `key` (the raw host key blob the server sent) for
// `host` on `port` (0 or 22: the default). An unreadable file is an error,
// not a "no".
Result<bool> KnownHostsLists(const std::string& path, const std::string& host, int port,
                             std::string_view key);

}  // namespace slipway::pipelines

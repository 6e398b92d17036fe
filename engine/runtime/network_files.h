// /etc/hosts and /etc/resolv.conf for a sandbox, as Docker writes them.
#pragma once

#include <string>

#include "engine/base/status.h"
#include "engine/runtime/spec.h"

namespace slipway {

struct NetworkFiles {
  std::string hosts, resolv;
};

// The files for a sandbox on `mode`'s network. In its own network namespace
// (or its peer's): loopback names and the hostname, and the host's name
// servers minus loopback ones, which cannot be reached from there. In the
// host's namespace the host's files describe that very network, loopback
// name servers included, so they are copied as they are (Docker does the
// same), with one line mapping the sandbox's own hostname to loopback.
Result<NetworkFiles> NetworkFilesFor(NetworkMode mode, const std::string& hostname);

}  // namespace slipway

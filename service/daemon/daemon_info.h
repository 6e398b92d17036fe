// What GET /api/v1/info (and so `slipway info`) says about this slipwayd
// besides its live counts: what a user checks after an install.
#pragma once

#include "engine/runtime/cgroup.h"
#include "service/daemon/api_server.h"
#include "service/daemon/config.h"

namespace slipway::daemon {

// Versions (slipwayd's, the kernel's, the OS's PRETTY_NAME), the cgroup
// layout and controllers `cgroups` uses, the storage driver, directories,
// limits, the public URL, and the registries configured: those reached over
// plain http and those with credentials in the registry_auth file (host
// names only; a file that cannot be read lists none: pulls report why).
DaemonInfo DescribeDaemon(const DaemonConfig& config, const CgroupDriver& cgroups);

}  // namespace slipway::daemon

// Linux capabilities of the sandboxed process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

// A bit per capability number (CAP_CHOWN = bit 0, ...).
using CapabilityMask = uint64_t;

// Docker's default 14: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW,
// SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE.
CapabilityMask DefaultCapabilities();

// "CAP_NET_ADMIN" or "NET_ADMIN" (any case) -> its bit; for --cap-add/--cap-drop.
Result<CapabilityMask> ParseCapability(std::string_view name);
std::string CapabilityNames(CapabilityMask mask);

// The sequence, as runc does it: DropBoundingSet (needs CAP_SETPCAP, so while
// still root), prctl(PR_SET_KEEPCAPS, 1), setgroups/setresgid/setresuid,
// prctl(PR_SET_KEEPCAPS, 0), SetCapabilities. Both are async-signal-safe and
// allocate nothing (they run between clone and execve). Return 0 or -errno.

// Removes every capability not in `keep` from the bounding set.
int DropBoundingSet(CapabilityMask keep);
// Clears the ambient and inheritable sets and sets permitted and effective
// to `keep` for root; for a non-root user to nothing, as Docker does (the
// capabilities stay in the bounding set, reachable only through file caps).
int SetCapabilities(CapabilityMask keep, bool root_user);

}  // namespace slipway

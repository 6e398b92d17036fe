// The sandbox's root filesystem, set up inside its own mount namespace:
// a tmpfs for the writable layer (or, with a persistent upper directory, for
// a layer of mount points below it), the overlay root, /proc, /sys, /dev,
// the generated /etc files, bind mounts, pivot_root, then masked and
// read-only paths as Docker sets them.
//
// Targets inside the root are resolved with openat2(RESOLVE_IN_ROOT), so a
// symlink in an image (say /proc -> /host/proc) can never send a mount out of
// the sandbox's root. Runs in the cloned child: allocates nothing.
#pragma once

#include "engine/runtime/child.h"

namespace slipway {

struct RootfsError {
  const char* what = "";
  const char* path = nullptr;
  int err = 0;
};

// On failure fills `error` and returns false. Either way, everything mounted
// so far belongs to the child's mount namespace and dies with it.
bool SetUpRootfs(const ChildPlan& plan, RootfsError* error);

// Paths Docker masks (bind /dev/null or an empty read-only tmpfs) and paths
// it makes read-only. Exposed for tests.
extern const char* const kMaskedPaths[];
extern const char* const kReadOnlyPaths[];

}  // namespace slipway

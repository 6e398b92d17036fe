// The hello-world image on a fresh install: the package ships it as an OCI
// archive (packaging/hello_world), and slipwayd loads it into its store at
// start-up when the store has no image of that name, so that
// `slipway run hello-world` works with no registry at all.
#pragma once

#include <string>

#include "engine/base/status.h"
#include "engine/image/image_store.h"

namespace slipway::daemon {

inline constexpr char kHelloWorldImage[] = "hello-world";

// Loads `archive` (engine/image's LoadOciArchive: every blob verified) when
// `store` resolves no hello-world and `archive` exists. Returns whether it
// loaded. kFailedPrecondition if the archive holds no image named
// hello-world (what it did load stays: an image is only recorded whole).
Result<bool> ImportHelloWorld(ImageStore& store, const std::string& archive);

}  // namespace slipway::daemon

// Pull and push: moving images between the image store and OCI registries.
//
// A pull fetches the manifest for this platform, then the config, then the
// layers, several at a time; each layer that has arrived is unpacked into
// its snapshot by a pool of one thread per core, largest first, while the
// downloads go on (layers unpack independently: a snapshot never reads
// another). The image is recorded only when every blob and snapshot under it
// exists.
//
// A push uploads the config and layers the registry lacks (trying a
// cross-repository mount from the image's other repositories on the same
// registry first), and puts the manifest last, so a failed push never leaves
// a tag pointing at missing content.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/base/status.h"
#include "engine/image/image_store.h"
#include "engine/registry/client.h"

namespace slipway {

// Progress of one blob: `done` of `total` bytes; `phase` is "downloading",
// "unpacking", "done", "exists" (already present), "uploading", "mounted".
using TransferProgress =
    std::function<void(const Digest& blob, const std::string& phase, int64_t done, int64_t total)>;

struct TransferOptions {
  int parallelism = 3;  // blobs in flight at once
  TransferProgress progress;
};

Result<ImageRecord> Pull(ImageStore& store, RegistryClient& client, const std::string& ref,
                         const TransferOptions& options = {});

// Pushes local image `local_ref` to `target` (default: `local_ref` itself).
// Returns the manifest digest the registry now serves.
Result<Digest> Push(ImageStore& store, RegistryClient& client, const std::string& local_ref,
                    const std::string& target = "", const TransferOptions& options = {});

}  // namespace slipway

// `save` and `load`: images as an OCI image layout in a tar file
// (oci-layout, index.json, blobs/sha256/<hex>), the format
// `skopeo copy oci-archive:FILE` reads and writes.
#pragma once

#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/image/image_store.h"

namespace slipway {

// Writes the images named by `refs` to `path` (atomically: a temp file, then
// rename). Each gets the annotations org.opencontainers.image.ref.name (its
// tag) and io.containerd.image.name (its full name).
Status SaveOciArchive(ImageStore& store, const std::vector<std::string>& refs, const std::string& path);

// Reads an OCI layout tar (optionally compressed). Every blob is verified
// against its digest as it is stored; an image is recorded only once all its
// blobs are in. Returns the images loaded.
Result<std::vector<ImageRecord>> LoadOciArchive(ImageStore& store, const std::string& path);

}  // namespace slipway

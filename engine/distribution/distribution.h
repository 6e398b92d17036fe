// Pull and push: moving images between the image store and OCI registries.
//
// A pull fetches the manifest for this platform, then the config, then the
// layers, several at a time, largest first. Each layer is unpacked into its
// snapshot while it downloads: the download writes the blob into the content
// store (hashed once, as it is written), and the layer's unpack, on a pool
// of one thread per core (largest layer first), reads the blob's file as it
// grows (engine/image/blob_feed.h): inflate (engine/image/decompress.h),
// hash the diff_id, extract, in one pass. The snapshot takes its name only
// after its diff_id was checked and the blob was committed under its digest;
// a wrong digest, a short body or a failed download leaves neither blob nor
// snapshot. A download that is retried after the unpack had read from it
// voids what was read: that layer is unpacked from its blob once it is in.
// Layers unpack independently (a snapshot never reads another; only the
// image's overlay stacks them in order). The image is recorded only when
// every blob and snapshot under it exists.
//
// A push uploads the config and layers the registry lacks (trying a
// cross-repository mount from the image's other repositories on the same
// registry first), and puts the manifest last, so a failed push never leaves
// a tag pointing at missing content.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

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

// What PushByDigest did.
struct PushReport {
  Digest manifest_digest;        // what the registry now serves
  bool manifest_pushed = false;  // false: the registry had it
  int blobs_pushed = 0, blobs_mounted = 0, blobs_present = 0;
  std::vector<std::string> tags_set;    // put now (new, or moved)
  std::vector<std::string> tags_moved;  // of tags_set, those that named another digest
  bool changed() const { return manifest_pushed || !tags_set.empty(); }
};

// Pushes local image `local_ref` (a name or id) into `repository`
// ("host/team/app", no tag) by digest, then points each of `tags` at it,
// so no tag names an incomplete image. First, before anything is pushed,
// each tag's current digest is asked (HEAD): one of `immutable_tags`
// pointing at another digest is kFailedPrecondition naming both. A
// manifest the registry already has is not pushed again, nor are its blobs;
// a tag already pointing at it is not put again. Blobs are mounted from the
// image's other repositories on that registry and from `mount_from`
// (repository paths) before being uploaded.
Result<PushReport> PushByDigest(ImageStore& store, RegistryClient& client, const std::string& local_ref,
                                const std::string& repository, const std::vector<std::string>& tags,
                                const std::set<std::string>& immutable_tags,
                                const TransferOptions& options = {},
                                const std::vector<std::string>& mount_from = {});

}  // namespace slipway

// The image store: content (blobs), snapshots (unpacked layers) and metadata
// (images, tags) behind one narrow interface, as containerd separates them.
//
//   <root>/content/    blobs/sha256/<hex>, ingest/
//   <root>/snapshots/  <chain id hex>/   one directory per layer, shared
//   <root>/slipway.db  SQLite (kDatabaseFileName): image metadata, and
//                      slipwayd's other tables
//   <root>/gc.lock     writers hold it shared, garbage collection exclusive
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/image/blob_feed.h"
#include "engine/image/content_store.h"
#include "engine/image/metadata.h"
#include "engine/image/snapshots.h"
#include "engine/oci/image_config.h"

namespace slipway {

struct PruneReport {
  std::vector<Digest> images, blobs, snapshots;  // what was removed
};

// Held while blobs are written that no image refers to yet, so that garbage
// collection in this or another process cannot delete them.
class WriteLease {
 public:
  WriteLease() = default;
  explicit WriteLease(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

class ImageStore {
 public:
  // `max_layer_bytes` caps each layer's uncompressed size (0: no cap), for
  // pulled, loaded and imported layers alike.
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& root,
                                                  int64_t max_layer_bytes = kDefaultMaxLayerBytes);
  int64_t max_layer_bytes() const { return max_layer_bytes_; }

  // The parts (content, snapshots, metadata) are not handed out: callers use
  // the operations below, named for what they do, and how the parts keep
  // their data stays this class's business.

  // Held by whoever writes blobs that no image refers to yet (pull, load,
  // import, build) until Commit has recorded the image.
  Result<WriteLease> Lease();

  // --- Blobs (the content store) ---
  bool HasBlob(const Digest& blob) const;
  Result<int64_t> BlobSize(const Digest& blob) const;
  // The committed blob's file (read-only), for streaming it out: push, save.
  std::string BlobPath(const Digest& blob) const;
  // Streaming ingest of one blob (see BlobWriter), checked on Commit.
  Result<std::unique_ptr<BlobWriter>> NewBlobWriter();
  // Stores `data` as a blob; kInvalidArgument if `expected` is given and
  // differs from its digest.
  Result<Digest> PutBlob(std::string_view data, const Digest* expected = nullptr);
  // The image config blob `config` as stored (its bytes are what the image
  // id digests); kResourceExhausted above the config size limit.
  Result<std::string> ConfigJson(const Digest& config) const;

  // --- Snapshots (unpacked layers, by chain id) ---
  bool HasSnapshot(const Digest& chain_id) const;
  // Unpacks layer blob `blob` into snapshot `chain_id` unless that exists,
  // checking that its uncompressed digest is `diff_id`.
  Status Unpack(const Digest& chain_id, const Digest& blob, const Digest& diff_id);
  // The same while blob `blob` is still being written (`feed`: see
  // blob_feed.h): the layer is unpacked as its bytes arrive, and the
  // snapshot takes its name only once the blob was committed under its
  // digest (BlobFeed::Verdict). Any failure leaves no snapshot; after a
  // restarted download (feed.restarted()) the caller unpacks the committed
  // blob with Unpack.
  Status UnpackStreaming(const Digest& chain_id, const Digest& blob, const Digest& diff_id, BlobFeed& feed);

  // Records the image whose manifest is blob `manifest_digest` (its config and
  // layers must be in the content store too): checks every layer's diff id
  // while unpacking missing snapshots, then tags it `name` if not empty. The
  // image exists only once everything under it does.
  Result<ImageRecord> Commit(const Digest& manifest_digest, const std::string& name);

  // By name ("busybox", "localhost:5000/x:1"), by id ("sha256:..."), or by a
  // unique id prefix of at least 4 hex digits.
  Result<ImageRecord> Resolve(const std::string& ref) const;
  // Every image, with its tags.
  Result<std::vector<ImageRecord>> List() const;
  Result<ImageConfig> Config(const ImageRecord& image) const;
  Result<std::string> ManifestBody(const ImageRecord& image) const;
  // The snapshot directories to stack as overlay lower dirs, topmost first.
  Result<std::vector<std::string>> LowerDirs(const ImageRecord& image) const;

  Status Tag(const std::string& source, const std::string& target);
  // Docker's rmi: removes a tag; removes the image once no tag names it, or
  // when given by id (refused if several tags name it, unless `force`).
  // Returns the ids of images removed; blobs and layers go with Prune().
  Result<std::vector<Digest>> Remove(const std::string& ref, bool force);
  // After a failed import or load (holding `lease`, given up here): deletes
  // those of `blobs` and `snapshots` (chain ids) that no image refers to,
  // so that the failure does not leave them until the next prune. Only
  // when no other write is under way (gc.lock taken exclusively, without
  // waiting): another writer may be about to record an image over the same
  // blobs. Otherwise kFailedPrecondition, and they stay for Prune().
  Status Discard(WriteLease lease, const std::vector<Digest>& blobs, const std::vector<Digest>& snapshots);
  // Removes untagged images, then every blob and snapshot no image uses,
  // except snapshots whose directory is in `in_use` (running sandboxes'
  // lower dirs: their layers stay until they end).
  Result<PruneReport> Prune(const std::set<std::string>& in_use = {});

  // "busybox" -> "docker.io/library/busybox:latest".
  static Result<std::string> NormalizeName(const std::string& name);
  // NormalizeName() for a name a new tag is to get (import, load, build,
  // tag, pull). Refused, as Docker refuses them, are names that lookups
  // would read as an image id and so could never name the tag: one that
  // starts with "sha256:" and a bare 64-digit hex string.
  static Result<std::string> NormalizeNewName(const std::string& name);

 private:
  ImageStore() = default;
  std::string root_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<Metadata> metadata_;
  std::string empty_layer_dir_;  // the lower dir of an image without layers
  int64_t max_layer_bytes_ = kDefaultMaxLayerBytes;
};

}  // namespace slipway

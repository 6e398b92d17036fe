// The image store: content (blobs), snapshots (unpacked layers) and metadata
// (images, tags) behind one narrow interface, as containerd separates them.
//
//   <root>/content/    blobs/sha256/<hex>, ingest/
//   <root>/snapshots/  <chain id hex>/   one directory per layer, shared
//   <root>/slipway.db  SQLite: image metadata, and slipwayd's other tables
//   <root>/gc.lock     writers hold it shared, garbage collection exclusive
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/image/content_store.h"
#include "engine/image/image_config.h"
#include "engine/image/metadata.h"
#include "engine/image/snapshots.h"

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

  ContentStore& content() { return *content_; }
  SnapshotStore& snapshots() { return *snapshots_; }
  Metadata& metadata() { return *metadata_; }

  Result<WriteLease> Lease();

  // Records the image whose manifest is blob `manifest_digest` (its config and
  // layers must be in the content store too): checks every layer's diff id
  // while unpacking missing snapshots, then tags it `name` if not empty. The
  // image exists only once everything under it does.
  Result<ImageRecord> Commit(const Digest& manifest_digest, const std::string& name);

  // By name ("busybox", "localhost:5000/x:1"), by id ("sha256:..."), or by a
  // unique id prefix of at least 4 hex digits.
  Result<ImageRecord> Resolve(const std::string& ref) const;
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

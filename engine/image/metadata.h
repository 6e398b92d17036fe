// Image metadata in SQLite (WAL mode, versioned migrations): which images
// exist, which blobs and snapshots each uses, and their names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/oci/digest.h"

namespace SQLite {
class Database;
}

namespace slipway {

struct LayerRecord {
  Digest blob;  // the (usually compressed) layer as stored and pushed
  std::string media_type;
  int64_t size = 0;
  Digest diff_id;   // sha256 of the uncompressed tar
  Digest chain_id;  // names the snapshot
};

struct ImageRecord {
  Digest id;  // the config blob's digest, as Docker's image id
  Digest manifest_digest;
  std::string manifest_media_type;
  int64_t created_unix_ms = 0;
  std::vector<LayerRecord> layers;  // bottom first
  std::vector<std::string> tags;    // full references, e.g. docker.io/library/busybox:latest

  int64_t Size() const;
};

class Metadata {
 public:
  static Result<std::unique_ptr<Metadata>> Open(const std::string& path);
  ~Metadata();

  int SchemaVersion() const;
  // Inserts or replaces the image and its layers (not its tags).
  Status PutImage(const ImageRecord& image);
  Result<ImageRecord> GetImage(const Digest& id) const;
  Result<std::vector<ImageRecord>> ListImages() const;
  // Removes the image and every tag that names it.
  Status DeleteImage(const Digest& id);

  // Points `name` at `image_id`, replacing what it named before.
  Status Tag(const std::string& name, const Digest& image_id);
  // NotFound if `name` is no tag.
  Status Untag(const std::string& name);
  Result<std::optional<Digest>> LookupTag(const std::string& name) const;
  // Images whose id starts with `hex_prefix` (for short ids).
  Result<std::vector<Digest>> FindByIdPrefix(const std::string& hex_prefix) const;

  // Everything that images still refer to, for garbage collection.
  Result<std::set<Digest>> ReferencedBlobs() const;
  Result<std::set<Digest>> ReferencedSnapshots() const;

 private:
  explicit Metadata(std::unique_ptr<SQLite::Database> db);
  Status Migrate();
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace slipway

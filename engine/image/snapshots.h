// Snapshots: one unpacked directory per layer, keyed by the layer's chain id,
// shared by every image that has that layer stack, and used read-only as
// overlay lower dirs.
//
//   <root>/<chain id hex>   a complete, verified snapshot
//   <root>/tmp-<random>     being created (or removed); removed at Open
//
// A directory under a chain id name is always complete: it is unpacked under
// a temp name, its diff_id checked (and, for a layer unpacked while its blob
// downloads, the blob's digest: Gate), synced, and only then renamed into place;
// removal renames it away first. <root> is mode 0700, because snapshots hold
// layers' setuid binaries, which host users must not be able to reach.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/status.h"
#include "engine/image/layer_unpack.h"
#include "engine/oci/digest.h"

namespace slipway {

// Thread-safe; several processes may share a root.
class SnapshotStore {
 public:
  // Creates <root> (0700) as needed and removes stale tmp-* dirs (those no
  // live Create or Remove holds locked).
  // `max_layer_bytes` caps each layer's uncompressed size (UnpackLayer).
  static Result<std::unique_ptr<SnapshotStore>> Open(const std::string& root,
                                                     int64_t max_layer_bytes = kDefaultMaxLayerBytes);

  bool Has(const Digest& chain_id) const;
  std::string Path(const Digest& chain_id) const { return root_ + "/" + chain_id.hex(); }
  // Unpacks blob_path into <root>/tmp-<random>, checks that the diff_id equals
  // expected_diff_id (kInvalidArgument naming both otherwise), then renames it
  // to Path(chain_id). If that already exists (a concurrent creator won), the
  // tmp dir is discarded and the call succeeds. On any error nothing is left.
  Result<UnpackStats> Create(const Digest& chain_id, const std::string& blob_path,
                             const Digest& expected_diff_id);
  // Asked once the layer is unpacked and its diff_id checked, before the
  // snapshot is synced and takes its name: an error discards the snapshot
  // and is returned. A streamed layer's gate waits for its blob's digest.
  using Gate = std::function<Status()>;
  // The same from any source (a blob still downloading: BlobFeed), named
  // `layer` in errors; `gate` may be empty.
  Result<UnpackStats> Create(const Digest& chain_id, const BlobSource& source, const std::string& layer,
                             const Digest& expected_diff_id, const Gate& gate);
  // kNotFound if there is no such snapshot. Never follows symlinks or crosses
  // mounts inside the snapshot.
  Status Remove(const Digest& chain_id);
  // Every complete snapshot, sorted.
  std::vector<Digest> List() const;

 private:
  SnapshotStore(std::string root, int64_t max_layer_bytes)
      : root_(std::move(root)), max_layer_bytes_(max_layer_bytes) {}
  std::string root_;
  int64_t max_layer_bytes_;
};

}  // namespace slipway

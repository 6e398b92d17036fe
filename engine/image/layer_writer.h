// Writes a layer into the content store as gzip while computing both digests
// a layer has: the blob's (compressed) and the diff id (uncompressed tar).
// Used by `import` and by image builds.
#pragma once

#include <zlib.h>

#include <memory>
#include <string_view>

#include "engine/base/status.h"
#include "engine/image/content_store.h"
#include "engine/oci/digest.h"

namespace slipway {

struct CommittedLayer {
  Digest blob;
  int64_t size = 0;  // compressed bytes
  Digest diff_id;
  int64_t uncompressed_size = 0;
};

class GzipLayerWriter {
 public:
  // Compresses into `blob` (from ImageStore::NewBlobWriter, or a
  // ContentStore's own), which Commit commits.
  static Result<std::unique_ptr<GzipLayerWriter>> Create(std::unique_ptr<BlobWriter> blob,
                                                         int level = Z_DEFAULT_COMPRESSION);
  ~GzipLayerWriter();

  // Uncompressed tar bytes, in order.
  Status Write(std::string_view data);
  Result<CommittedLayer> Commit();

 private:
  GzipLayerWriter() = default;
  Status Deflate(std::string_view data, int flush);

  std::unique_ptr<BlobWriter> blob_;
  Sha256 diff_;
  z_stream z_{};
  bool z_open_ = false;
  int64_t uncompressed_ = 0;
};

// `slipway import`: a root filesystem tar (plain, gzip, zstd, xz or bzip2)
// becomes the single layer of a new image, tagged `name` if not empty.
struct ImageRecord;
class ImageStore;
Result<ImageRecord> ImportRootfsTar(ImageStore& store, const std::string& tar_path, const std::string& name);

}  // namespace slipway

// The build step cache: a step whose key was seen before reuses the layer
// directory that step produced instead of running again.
//
// - A key chains the parent's key with what determines the step's result:
//   for RUN the command, environment, user, working dir; for COPY/ADD the
//   expanded arguments, the owner, and a hash of the sources (content, type,
//   mode, owner, symlink targets; not mtimes, as in Docker).
// - Entries live in <dir>/<key hex>/: `layer/` (the upper or staging dir,
//   moved there, never modified after) and `source` ("upper" or "dir"), or
//   only `empty` for a step that changed nothing. Once an image used the
//   layer, `blob` records the layer blob it became, so that a rebuild from
//   cache does not tar and compress it again. `image-<key hex>` names the
//   manifest a build committed for an image's content (LookupImage). An entry appears by one
//   rename, so concurrent builds see whole entries only; when two store the
//   same key, the first wins and the second uses it.
// - Nothing is evicted yet: the cache grows until PruneBuildCache removes it
//   all. Builds hold <cache dir>.lock shared (Use()), pruning exclusive, so
//   no layer dir a running build stacks is removed under it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/build/layer_diff.h"
#include "engine/build/layer_tree.h"
#include "engine/image/digest.h"
#include "engine/image/metadata.h"

namespace slipway {

// sha256 of the parent key and each part, length-prefixed (unambiguous).
Digest ChainKey(const Digest& parent, const std::vector<std::string>& parts);

// A digest of the sources a COPY reads (each path below them, sorted, with
// type, permission bits, owner, size, content or link target), skipping what
// `skip` drops.
Result<Digest> HashSources(const LayerTree& tree, const std::vector<std::string>& sources,
                           const CopySkip& skip);

class BuildCache {
 public:
  struct Entry {
    bool empty = false;     // the step changed nothing: no layer
    std::string layer_dir;  // else the layer's directory
    LayerSource source = LayerSource::kPlainDir;
    std::optional<LayerRecord> record;  // the blob it became, once committed
  };

  explicit BuildCache(std::string dir) : dir_(std::move(dir)) {}

  // Taken by a build for as long as it may use entries.
  Result<UniqueFd> Use() const;
  std::optional<Entry> Lookup(const Digest& key) const;
  // Moves `layer_dir` into the cache (empty: a step without changes) and
  // returns the entry to use, which may be another build's for the same key.
  Result<Entry> Store(const Digest& key, const std::string& layer_dir, LayerSource source);
  // Records the blob the entry whose layer dir is `layer_dir` became (best
  // effort: without it the next commit writes the blob again).
  static void RememberBlob(const std::string& layer_dir, const LayerRecord& record);

  // The image (its manifest) a build committed for `key` (the image's
  // content without timestamps), so that a rebuild with the same content
  // makes the very same image instead of one differing only in its times.
  std::optional<Digest> LookupImage(const Digest& key) const;
  void RememberImage(const Digest& key, const Digest& manifest);  // best effort

 private:
  std::string dir_;
};

// Removes every entry of the cache in `dir`; kFailedPrecondition if a build
// is using it.
Status PruneBuildCache(const std::string& dir);

}  // namespace slipway

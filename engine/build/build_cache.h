// The build step cache: a step whose key was seen before reuses the layer
// directory that step produced instead of running again.
//
// - A key chains the parent's key with what determines the step's result:
//   for RUN the command, environment, user, working dir; for COPY/ADD the
//   expanded arguments, the owner, and a hash of the sources (content, type,
//   mode, owner, symlink targets; not mtimes, as in Docker).
// - Entries live in <dir>/<key hex>/: `layer/` (the upper or staging dir,
//   moved there, never modified after) and `source` ("upper" or "dir"), or
//   only `empty` for a step that changed nothing. `size` holds the layer's
//   bytes on disk (decimal), what a cap on the disk the cache takes needs
//   rather than apparent sizes: st_blocks * 512 of `layer/` and everything
//   below it, hard links once, symlinks not followed, other filesystems not
//   entered (0 for `empty`; the entry's small files are not counted). Once
//   an image used the layer, `blob` records the layer blob it became, so
//   that a rebuild from cache does not tar and compress it again.
//   `image-<key hex>` names the manifest a build committed for an image's
//   content (LookupImage). An entry appears by one rename, so concurrent
//   builds see whole entries only; when two store the same key, the first
//   wins and the second uses it. A directory with neither `layer/` nor
//   `empty` (an older version's crash while pruning left it) is a miss,
//   never a hit; Store leaves it and the layer stored for its key in tmp-*
//   for eviction or pruning to remove.
// - The mtime of an entry dir (of an image-* file) is its last use: Store
//   and every hit of Lookup (LookupImage) set it to now, best effort
//   (RememberBlob's write moves it too, right after a use).
// - EvictBuildCache removes the least recently used entries until the rest
//   fit a size; PruneBuildCache removes everything. Both remove an entry by
//   renaming it to tmp-* in <dir> first, so a crash never leaves a half
//   entry that Lookup would take as whole; the next of either removes such
//   leftovers. Builds hold <dir>.lock shared (Use()) for as long as they
//   use the cache (Store and RememberImage included), evicting and pruning
//   take it exclusive and never wait, so no layer dir a running build stacks
//   is removed under it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/build/layer_diff.h"
#include "engine/build/layer_tree.h"
#include "engine/image/metadata.h"
#include "engine/oci/digest.h"

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
  // A hit marks the entry used now.
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

struct EvictStats {
  int entries_removed = 0;
  int64_t bytes_removed = 0;  // as the entries' `size` files say
  int64_t bytes_kept = 0;
};

// Removes the least recently used entries of the cache in `dir` (oldest
// first) until the sizes of the rest add up to at most `max_bytes`. If it
// removed any, image-* files last used before the oldest entry kept go too
// (if none is kept: those used no later than the last entry removed), so
// that they do not pile up; the ones it keeps may name images whose entries
// are gone, which is harmless. An entry without `size` (made before sizes
// were recorded) is measured and gets one. Under the cap nothing is evicted
// (leftovers of a crash are removed all the same, uncounted); `max_bytes`
// <= 0 means no limit: it returns all zero at once, measuring nothing.
// kFailedPrecondition if a build is using the cache: retry after it.
Result<EvictStats> EvictBuildCache(const std::string& dir, int64_t max_bytes);

}  // namespace slipway

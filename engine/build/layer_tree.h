// A read-only, mount-free view of a stack of layer directories as overlayfs
// merges them, and copying out of it: what COPY reads, from the build
// context (one plain directory) or from an earlier stage (its layers).
//
// - Roots are topmost first and in overlay format: a 0/0 character device is
//   a whiteout, a directory with trusted.overlay.opaque (or
//   user.overlay.opaque) = "y" hides the same directory in lower roots.
// - Paths are relative to the root, cleaned lexically; `..` that would leave
//   the root is refused. Nothing is followed: a path through a symlink is an
//   error (openat2 RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH), and symlinks met
//   while copying are copied as symlinks.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

// "a/./b//c/" -> "a/b/c", "/x" -> "x", "." and "/" -> ""; `..` leaving the
// root is an error.
Result<std::string> CleanRelativePath(const std::string& path);

class LayerTree {
 public:
  struct Entry {
    std::string root;  // the root it is found in
    std::string path;  // relative
    struct stat st {};
  };

  explicit LayerTree(std::vector<std::string> roots) : roots_(std::move(roots)) {}

  // The merged entry at `path` ("" is the root), nullopt if absent.
  Result<std::optional<Entry>> Find(const std::string& path) const;
  // The merged directory's entry names, sorted, without whited-out ones.
  Result<std::vector<std::string>> List(const std::string& dir) const;
  // Paths matching a glob (fnmatch per component, FNM_PERIOD off), sorted;
  // a pattern without metacharacters is returned as is if it exists.
  Result<std::vector<std::string>> Glob(const std::string& pattern) const;
  // A regular file's content, in chunks; a symlink's target.
  static Status ReadContent(const Entry& entry, const std::function<Status(std::string_view)>& sink);
  static Result<std::string> ReadLinkTarget(const Entry& entry);

 private:
  std::vector<std::string> roots_;
};

// What a copy sets on every entry it writes instead of the source's.
struct CopyAttrs {
  std::optional<uid_t> uid;  // nullopt: keep the source's (COPY --from); COPY sets 0
  std::optional<gid_t> gid;
  std::optional<mode_t> mode;  // --chmod: permission bits of files and directories, not symlinks
};

// Copies `path` of `tree` (a file, symlink or whole directory) to the host
// path `dest` (which must not exist; its parent must). Modes and mtimes are
// kept unless `attrs` says otherwise. `skip(relative path, is_dir)` drops an entry and
// its subtree (.dockerignore); `path` itself is never asked about.
using CopySkip = std::function<bool(const std::string& path, bool is_dir)>;
Status CopyOut(const LayerTree& tree, const std::string& path, const std::string& dest,
               const CopyAttrs& attrs, const CopySkip& skip);

}  // namespace slipway

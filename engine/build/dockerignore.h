// .dockerignore: which files of the build context a build does not see, as
// Docker decides it (buildkit's dockerignore.ReadAll and moby/patternmatcher).
// Pure: the caller reads the file and walks the context.
//
// The file, line by line (a UTF-8 byte order mark before the first is dropped):
// - A line starting with `#` in its first column is a comment (`  # x` is a
//   pattern, as in Docker). Blank lines are skipped.
// - Otherwise the line, trimmed, is a pattern; a leading `!` (then trimmed
//   again) makes it an exception. The pattern is cleaned as Go's
//   filepath.Clean does (`a//b/./c/` -> `a/b/c`, `a/../b` -> `b`) and one
//   leading `/` is removed: patterns are relative to the context root.
//   `!` alone and malformed patterns (an unclosed `[`, a trailing `\`) are
//   errors: ".dockerignore:3: ...".
//
// Matching a path (relative to the context root, `/`-separated):
// - `*` matches any run of characters except `/`; `?` any one character
//   except `/`; `[abc]`, `[a-z]`, `[^a-z]` one character of (or not of) a
//   class; `\c` the character c.
// - `**` matches any number of directories: `**/x` is x at any depth
//   (including the root), `a/**/b` is b anywhere below a (or a/b), and a
//   trailing `**` matches anything (`a/**` is everything below a).
// - A pattern must match the whole path, or one of its parent directories:
//   `build` (or `build/`, cleaned to `build`) excludes build and everything
//   below it; `*.md` matches README.md at the root only.
// - The last pattern that matches decides: excluded by a pattern, included
//   again by a later `!` exception. `*.md` then `!README.md` keeps README.md.
// - The context root itself (`.` or empty) is never excluded.
//
// Walking: a walker skips an excluded directory's subtree only when
// MayReinclude() says no exception can match anything inside it; otherwise
// it descends and asks Excluded() for each entry. (Docker's walker adds the
// directories leading to a re-included file to the context, with their own
// metadata; that is the walker's business.)
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

class DockerIgnore {
 public:
  struct Pattern {
    std::string text;  // cleaned, without the leading `!`
    bool exception = false;
    int line = 0;
  };

  // No patterns: nothing is excluded.
  DockerIgnore() = default;
  // `filename` only names the file in errors.
  static Result<DockerIgnore> Parse(std::string_view text, const std::string& filename = ".dockerignore");

  // Whether the build may not see this path (file or directory).
  bool Excluded(std::string_view relative_path) const;
  // Whether an exception could re-include something below this directory:
  // an exception that matches the directory or one of its parents, or that
  // could match some path inside it. False means the walker may skip the
  // whole subtree of an excluded directory.
  bool MayReinclude(std::string_view relative_dir) const;

  const std::vector<Pattern>& patterns() const { return patterns_; }
  bool empty() const { return patterns_.empty(); }

  // One step of a compiled pattern; matching runs the steps as a small NFA
  // (no backtracking, so no pattern can make matching slow).
  struct Token {
    enum class Kind {
      kLiteral,   // `c`
      kAnyChar,   // `?`: one character except '/'
      kStar,      // `*`: any run without '/'
      kDirs,      // `**` followed by more: (.*/)?, any directories
      kAnything,  // trailing `**`: .*
      kClass,     // `[...]`
    };
    Kind kind = Kind::kLiteral;
    char c = 0;
    bool negated = false;                       // kClass
    std::vector<std::pair<char, char>> ranges;  // kClass: inclusive ranges

    bool Accepts(char ch) const;
  };

 private:
  std::vector<Pattern> patterns_;
  std::vector<std::vector<Token>> compiled_;  // one per pattern
};

}  // namespace slipway

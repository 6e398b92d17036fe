// A YAML document read into a small tree that keeps where each node was
// written, with the limits that make a file from any push safe to read.
//
// yaml-cpp's own tree (YAML::Load) is unsafe for hostile input: it shares
// aliased nodes, so a walk over a "billion laughs" file expands it
// exponentially, and `&a [*a]` makes a cycle; it forgets duplicate keys (the
// last wins, silently); and it keeps no mark per key. So the file is read
// through yaml-cpp's event parser instead, into this tree: aliases are copied
// against a budget of nodes and bytes, nesting is bounded, and a duplicate key
// is an error.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slipway::pipelines {

// A place in a file, 1-based as compilers print it. The column counts bytes.
struct SourceLocation {
  int line = 0;
  int column = 0;
  bool operator==(const SourceLocation&) const = default;
};

// One problem found in a file.
struct FileError {
  SourceLocation at;
  std::string message;
  // "LINE:COL: message"
  std::string ToString() const;
};

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping };
  Kind kind = Kind::kNull;
  // Where the node starts. A null value of a mapping (`key:` with nothing
  // after it) is placed at its key, where the reader would look for it.
  SourceLocation at;
  std::string text;             // kScalar: as written, quotes and escapes resolved
  bool quoted = false;          // kScalar: in quotes or tagged !!str: a string even if it looks like a number
  std::vector<YamlNode> items;  // kSequence
  std::vector<std::pair<YamlNode, YamlNode>> entries;  // kMapping: in file order; keys are unique scalars
};

struct YamlLimits {
  size_t max_bytes = 0;         // the text's size
  size_t max_depth = 0;         // collections inside collections
  size_t max_nodes = 0;         // every node, keys and aliases' copies included
  size_t max_copied_bytes = 0;  // scalar bytes that aliases copy
};

// Reads the one YAML document of `text` (an empty text is a null root).
// Returns nullopt, with at least one error appended, if no tree could be
// built: a syntax error (one: where yaml-cpp stopped), text that is not
// UTF-8 or holds control characters, a limit passed, a second document, an
// alias to a node that contains it. Errors that leave a usable tree are
// appended too, with the tree returned: a duplicate key (the later one is
// dropped), a key that is not a scalar, a merge key (<<), a tag other than
// !!str, a NUL character in a string. Never throws.
std::optional<YamlNode> LoadYaml(std::string_view text, const YamlLimits& limits,
                                 std::vector<FileError>* errors);

// "a mapping", "a list", "a string", "nothing": for messages.
const char* KindName(const YamlNode& node);

// `text` in double quotes for a message: at most kQuotedBytes of it (cut
// where a character starts, then "..."), so that a hostile file's long
// strings do not grow every error about them.
inline constexpr size_t kQuotedBytes = 64;
std::string Quote(std::string_view text);

}  // namespace slipway::pipelines

// (internal) Git ref names as a delivery names them: checked against
// git-check-ref-format's rules before a ref reaches a fetch, a log or a
// database, and split into a branch or a tag.
#pragma once

#include <string>
#include <string_view>

namespace slipway::webhooks::internal {

// Whether `ref` is a valid full ref name ("refs/heads/main"): at most
// kMaxRefBytes, no control character, space, ~ ^ : ? * [ \ or "@{", no
// component that begins with '.' or ends with ".lock", no "..", no "//",
// not ending in '/' or '.', not "@".
bool IsValidRefName(std::string_view ref);

enum class RefKind { kBranch, kTag, kOther };
struct SplitRef {
  RefKind kind = RefKind::kOther;
  std::string name;  // the branch or tag name without its prefix
};
// "refs/heads/x" -> branch x, "refs/tags/v1" -> tag v1, anything else kOther.
SplitRef Split(std::string_view ref);

}  // namespace slipway::webhooks::internal

#include "webhooks/git_ref.h"

#include "engine/base/ascii.h"
#include "webhooks/payload_json.h"

namespace slipway::webhooks::internal {
namespace {

bool ValidComponent(std::string_view c) {
  if (c.empty() || c.front() == '.') return false;
  constexpr std::string_view kLock = ".lock";
  if (c.size() >= kLock.size() && c.substr(c.size() - kLock.size()) == kLock) return false;
  return true;
}

}  // namespace

bool IsValidRefName(std::string_view ref) {
  if (ref.empty() || ref.size() > kMaxRefBytes || ref == "@") return false;
  if (HasControlChar(ref)) return false;
  if (ref.find_first_of(" ~^:?*[\\") != std::string_view::npos) return false;
  if (ref.find("..") != std::string_view::npos || ref.find("@{") != std::string_view::npos) return false;
  if (ref.back() == '.' || ref.back() == '/') return false;
  size_t start = 0;
  while (true) {
    size_t slash = ref.find('/', start);
    std::string_view component =
        ref.substr(start, slash == std::string_view::npos ? ref.npos : slash - start);
    if (!ValidComponent(component)) return false;  // also refuses "//" and a leading '/'
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

SplitRef Split(std::string_view ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  constexpr std::string_view kTags = "refs/tags/";
  if (ref.size() > kHeads.size() && ref.substr(0, kHeads.size()) == kHeads) {
    return {RefKind::kBranch, std::string(ref.substr(kHeads.size()))};
  }
  if (ref.size() > kTags.size() && ref.substr(0, kTags.size()) == kTags) {
    return {RefKind::kTag, std::string(ref.substr(kTags.size()))};
  }
  return {RefKind::kOther, std::string()};
}

}  // namespace slipway::webhooks::internal

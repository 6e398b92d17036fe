#include "pipelines/when.h"

#include <fnmatch.h>

#include <algorithm>

namespace slipway::pipelines {

namespace {
constexpr std::pair<Event, const char*> kEvents[] = {
    {Event::kPush, "push"},
    {Event::kTag, "tag"},
    {Event::kPullRequest, "pull_request"},
    {Event::kManual, "manual"},
};
}  // namespace

const char* EventName(Event event) {
  for (const auto& [e, name] : kEvents) {
    if (e == event) return name;
  }
  return "?";
}

std::optional<Event> ParseEvent(std::string_view name) {
  for (const auto& [e, n] : kEvents) {
    if (name == n) return e;
  }
  return std::nullopt;
}

bool GlobMatches(const std::string& glob, const std::string& name) {
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::string GlobProblem(std::string_view glob) {
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      if (++i == glob.size()) return "ends in an unescaped '\\'";
    } else if (glob[i] == '[') {
      size_t j = i + 1;
      if (j < glob.size() && glob[j] == '!') ++j;
      if (j < glob.size() && glob[j] == ']') ++j;  // a leading ']' is a member
      j = glob.find(']', j);
      if (j == std::string_view::npos) return "'[' without its ']'";
      i = j;
    }
  }
  return "";
}

bool AnyGlobMatches(const std::vector<std::string>& globs, const std::string& name) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return GlobMatches(g, name); });
}

bool WhenMatches(const When& when, const RunContext& ctx) {
  if (!when.events.empty() &&
      std::find(when.events.begin(), when.events.end(), ctx.event) == when.events.end()) {
    return false;
  }
  if (ctx.event == Event::kTag) return AnyGlobMatches(when.tags, ctx.tag);
  return AnyGlobMatches(when.branches, ctx.branch);
}

}  // namespace slipway::pipelines

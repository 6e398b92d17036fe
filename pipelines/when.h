// When a step runs: the events and branch or tag names of its `when`, and
// how they are matched against a run.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::pipelines {

// What started a run.
enum class Event { kPush, kTag, kPullRequest, kManual };

// "push", "tag", "pull_request", "manual".
const char* EventName(Event event);
std::optional<Event> ParseEvent(std::string_view name);

// The run a step belongs to, as the trigger describes it.
struct RunContext {
  std::string branch;  // the branch pushed to (pull_request: its target); empty for a tag
  std::string tag;     // the tag pushed (event kTag); empty otherwise
  Event event = Event::kManual;
};

// A step's `when`. An empty list does not filter.
struct When {
  std::vector<std::string> branches;  // globs; for runs with a branch (every event but tag)
  std::vector<std::string> tags;      // globs; for tag runs
  std::vector<Event> events;
};

// fnmatch(3) with no flags: the whole name must match; `*` matches any
// string, `/` included ("release/*" matches "release/1.0" and "release/a/b");
// `?` any one character; `[abc]`, `[a-z]`, `[!abc]` one character of (not
// of) a set; `\` makes the next character literal. Case counts, and a
// leading `.` is not special.
bool GlobMatches(const std::string& glob, const std::string& name);
// What fnmatch(3) would take in a way nobody means, or "" if nothing: an
// unclosed '[' (then a literal), a trailing '\'. Both are more likely typos
// than intent, so repository filters and `promote` refuse them.
std::string GlobProblem(std::string_view glob);
// Whether any of `globs` matches `name`; true for an empty list.
bool AnyGlobMatches(const std::vector<std::string>& globs, const std::string& name);

// Whether a step whose `when` is `when` runs in `ctx`: its event is listed
// (or no event is), and, for a tag run, the tag matches `tags`, else the
// branch matches `branches`. A tag is not a branch: `branches` does not
// filter tag runs, as in Woodpecker.
bool WhenMatches(const When& when, const RunContext& ctx);

}  // namespace slipway::pipelines

// Tag templates, as `promote.tags` writes them: tag text with the
// placeholders {sha} (the commit), {short_sha} (its first 8 hex digits),
// {branch} and {tag} (the run's git branch or tag). docs/promotion.md.
//
// A git branch may hold characters a tag cannot ('/' in "release/1.0"):
// each such character of a value becomes '-', so "{branch}" of
// "release/1.0" is "release-1.0". The result is always a tag
// ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}): a leading '.' or '-' becomes '_',
// and the tag is cut at 128 characters.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway::pipelines {

inline constexpr size_t kShortShaLength = 8;

// What the placeholders stand for in one run; "" is "no value" ({tag} in a
// branch run, {branch} in a tag run).
struct TagValues {
  std::string sha;  // 40 hex
  std::string branch;
  std::string tag;
};

// Why `tmpl` is not a tag template, or "" if it is: literal text outside
// [A-Za-z0-9_.-], an unknown or unclosed placeholder, a leading '.' or '-',
// or literal text alone longer than a tag may be.
std::string CheckTagTemplate(std::string_view tmpl);

// The tag `tmpl` (checked) makes; nullopt when one of its placeholders has
// no value in this run.
std::optional<std::string> ExpandTagTemplate(std::string_view tmpl, const TagValues& values);

}  // namespace slipway::pipelines

#include "pipelines/tag_template.h"

#include <array>
#include <utility>

namespace slipway::pipelines {

namespace {

constexpr size_t kMaxTagLength = 128;

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

enum class Placeholder { kSha, kShortSha, kBranch, kTag };
constexpr std::array<std::pair<std::string_view, Placeholder>, 4> kPlaceholders{{
    {"{sha}", Placeholder::kSha},
    {"{short_sha}", Placeholder::kShortSha},
    {"{branch}", Placeholder::kBranch},
    {"{tag}", Placeholder::kTag},
}};

// A template's pieces, left to right: literal text, or a placeholder.
// Returns why it cannot be split ("" if it can).
template <typename Literal, typename Hole>
std::string Split(std::string_view tmpl, Literal literal, Hole hole) {
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] == '{') {
      size_t close = tmpl.find('}', i);
      if (close == std::string_view::npos) return "a '{' without its '}'";
      std::string_view name = tmpl.substr(i, close - i + 1);
      bool known = false;
      for (const auto& [text, p] : kPlaceholders) {
        if (name == text) {
          hole(p);
          known = true;
        }
      }
      if (!known) {
        return "unknown placeholder " + std::string(name.substr(0, 32)) +
               " (known: {sha}, {short_sha}, {branch}, {tag})";
      }
      i = close + 1;
      continue;
    }
    if (tmpl[i] == '}') return "a '}' without its '{'";
    if (!IsTagChar(tmpl[i])) return "a tag holds only A-Z a-z 0-9 _ . - besides the placeholders";
    literal(tmpl[i]);
    ++i;
  }
  return "";
}

}  // namespace

std::string CheckTagTemplate(std::string_view tmpl) {
  if (tmpl.empty()) return "an empty tag";
  size_t literal = 0;
  std::string why = Split(
      tmpl, [&](char) { ++literal; }, [](Placeholder) {});
  if (!why.empty()) return why;
  if (tmpl[0] == '.' || tmpl[0] == '-') return "a tag does not start with '.' or '-'";
  if (literal > kMaxTagLength) return "longer than a tag may be (128 characters)";
  return "";
}

std::optional<std::string> ExpandTagTemplate(std::string_view tmpl, const TagValues& values) {
  std::string out;
  bool missing = false;
  auto value_of = [&](Placeholder p) -> std::string {
    switch (p) {
      case Placeholder::kSha: return values.sha;
      case Placeholder::kShortSha: return values.sha.substr(0, kShortShaLength);
      case Placeholder::kBranch: return values.branch;
      case Placeholder::kTag: return values.tag;
    }
    return "";
  };
  std::string why = Split(
      tmpl, [&](char c) { out += c; },
      [&](Placeholder p) {
        std::string v = value_of(p);
        if (v.empty()) missing = true;
        for (char c : v) out += IsTagChar(c) ? c : '-';
      });
  if (!why.empty() || missing || out.empty()) return std::nullopt;
  if (out[0] == '.' || out[0] == '-') out[0] = '_';
  if (out.size() > kMaxTagLength) out.resize(kMaxTagLength);
  return out;
}

}  // namespace slipway::pipelines

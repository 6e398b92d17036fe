#include "pipelines/promote_plan.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pipelines/tag_template.h"
#include "pipelines/when.h"

namespace slipway::pipelines {

namespace {

using json = nlohmann::ordered_json;

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool Contains(const std::vector<std::string>& items, const std::string& s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

}  // namespace

std::string PromotePlan::ToJson() const {
  json j;
  j["to"] = to;
  j["image"] = image;
  j["image_id"] = image_id;
  j["tags"] = tags;
  j["immutable"] = immutable;
  j["left_out"] = left_out;
  return j.dump();
}

Result<PromotePlan> PromotePlan::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [] { return InvalidArgument("promote plan: not the JSON object slipwayd writes"); };
  if (!j.is_object()) return bad();
  PromotePlan p;
  for (auto [key, out] :
       {std::pair<const char*, std::string*>{"to", &p.to}, {"image", &p.image}, {"image_id", &p.image_id}}) {
    if (!j.contains(key) || !j[key].is_string()) return bad();
    *out = j[key].get<std::string>();
  }
  for (auto [key, out] : {std::pair<const char*, std::vector<std::string>*>{"tags", &p.tags},
                          {"immutable", &p.immutable},
                          {"left_out", &p.left_out}}) {
    if (!j.contains(key) || !j[key].is_array()) return bad();
    for (const json& item : j[key]) {
      if (!item.is_string()) return bad();
      out->push_back(item.get<std::string>());
    }
  }
  return p;
}

std::string PromotionRefusal(const Promote& promote, const Run& run) {
  if (run.repo.empty()) return "a pipeline exec run never promotes: its tree is no commit of a repository";
  if (run.event == Event::kPullRequest) {
    return "a pull request run never promotes: its commit is not on " +
           (run.branch.empty() ? std::string("a branch") : run.branch) + " yet";
  }
  if (run.event == Event::kTag || !run.tag.empty()) {
    if (promote.tags_match.empty())
      return "tag " + run.tag + ": promote.tags_match lists no tags, so no tag promotes";
    if (!AnyGlobMatches(promote.tags_match, run.tag))
      return "tag " + run.tag + " matches none of promote.tags_match (" + List(promote.tags_match) + ")";
    return "";
  }
  if (promote.branches.empty()) {
    if (promote.tags_match.empty()) return "";
    return "branch " + run.branch +
           ": promote.branches lists none, so only tags matching promote.tags_match (" +
           List(promote.tags_match) + ") promote";
  }
  if (!AnyGlobMatches(promote.branches, run.branch))
    return "branch " + run.branch + " matches none of promote.branches (" + List(promote.branches) + ")";
  return "";
}

Result<PromotePlan> ResolvePromotePlan(const Promote& promote, const Run& run, const std::string& image_id) {
  PromotePlan plan;
  plan.to = promote.to;
  plan.image = promote.image;
  plan.image_id = image_id;
  const bool tag_run = run.event == Event::kTag || !run.tag.empty();
  TagValues values{run.commit, tag_run ? "" : run.branch, run.tag};
  for (const std::string& tmpl : promote.tags) {
    std::optional<std::string> tag = ExpandTagTemplate(tmpl, values);
    if (!tag) {
      plan.left_out.push_back(tmpl);
      continue;
    }
    // Two templates may make one tag ("{branch}" and "main"): pushed once,
    // immutable if either says so.
    if (!Contains(plan.tags, *tag)) plan.tags.push_back(*tag);
    if (Contains(promote.immutable, tmpl) && !Contains(plan.immutable, *tag)) plan.immutable.push_back(*tag);
  }
  if (plan.tags.empty()) {
    return InvalidArgument("promote.tags: none applies to this run (" + List(plan.left_out) +
                           " name placeholders it has no value for)");
  }
  return plan;
}

}  // namespace slipway::pipelines

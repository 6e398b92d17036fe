// The `promote` section resolved for one run: whether the run may promote
// (the branch and tag policy), and if so what goes where: the image's id,
// the target repository, the tags its templates make. Pure: no I/O.
//
// The executor resolves it once the run's images are known (its end
// records it as Run::promote_plan, JSON); PromotionService carries it out.
// docs/promotion.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/pipeline_file.h"
#include "pipelines/run_record.h"

namespace slipway::pipelines {

struct PromotePlan {
  std::string to;                      // "127.0.0.1:5000/team/app"
  std::string image;                   // promote.image as written; "" for the image `build` made
  std::string image_id;                // "sha256:<hex>" in slipwayd's store
  std::vector<std::string> tags;       // expanded, in the order written, without duplicates
  std::vector<std::string> immutable;  // of `tags`, those expanded from promote.immutable
  std::vector<std::string> left_out;   // templates with no value in this run ("{tag}" in a branch run)

  std::string ToJson() const;
  // kInvalidArgument for anything but what ToJson makes.
  static Result<PromotePlan> FromJson(std::string_view json);
  bool operator==(const PromotePlan&) const = default;
};

// Why `run` may not promote under `promote`, or "" if it may:
//   - a `pipeline exec` run (no repository) never does;
//   - a pull request run never does (its commit is on no branch yet, and may
//     come from a fork);
//   - a tag run: its tag must match one of `tags_match` (none listed: no tag);
//   - a branch run: with `branches` listed it must match one; with neither
//     list, every branch may; with only `tags_match`, no branch may.
std::string PromotionRefusal(const Promote& promote, const Run& run);

// The plan for `run` promoting the image `image_id`. kInvalidArgument when
// no tag applies to this run (each template names a placeholder it has no
// value for).
Result<PromotePlan> ResolvePromotePlan(const Promote& promote, const Run& run, const std::string& image_id);

}  // namespace slipway::pipelines

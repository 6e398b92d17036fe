// Tag templates, the branch and tag policy, and the plan a run gets from
// its `promote` section (pipelines/promote_plan.h, tag_template.h).
#include "pipelines/promote_plan.h"

#include <gtest/gtest.h>

#include "pipelines/tag_template.h"

namespace slipway::pipelines {
namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

pipelines::Run BranchRun(const std::string& branch, Event event = Event::kPush) {
  pipelines::Run r;
  r.id = 7;
  r.repo = "app";
  r.branch = branch;
  r.commit = kSha;
  r.event = event;
  return r;
}

pipelines::Run TagRun(const std::string& tag) {
  pipelines::Run r = BranchRun("");
  r.tag = tag;
  r.event = Event::kTag;
  return r;
}

TEST(TagTemplateTest, Placeholders) {
  TagValues v{kSha, "main", ""};
  EXPECT_EQ(ExpandTagTemplate("{sha}", v), kSha);
  EXPECT_EQ(ExpandTagTemplate("{short_sha}", v), "01234567");
  EXPECT_EQ(ExpandTagTemplate("v1-{branch}-{short_sha}", v), "v1-main-01234567");
  EXPECT_EQ(ExpandTagTemplate("latest", v), "latest");
  EXPECT_EQ(ExpandTagTemplate("{tag}", v), std::nullopt);  // no tag in a branch run
  EXPECT_EQ(ExpandTagTemplate("{branch}", TagValues{kSha, "", "v1.2"}), std::nullopt);
  EXPECT_EQ(ExpandTagTemplate("{tag}", TagValues{kSha, "", "v1.2"}), "v1.2");
}

// Branch names hold what tags cannot: each such character becomes '-', a
// leading '.' or '-' '_', and the tag is cut at 128.
TEST(TagTemplateTest, ValuesBecomeTags) {
  auto branch = [](const std::string& b) { return ExpandTagTemplate("{branch}", TagValues{kSha, b, ""}); };
  EXPECT_EQ(branch("release/1.0"), "release-1.0");
  EXPECT_EQ(branch("feature/ü"), "feature---");  // two bytes
  EXPECT_EQ(branch("-x"), "_x");
  EXPECT_EQ(branch(".x"), "_x");
  EXPECT_EQ(branch("a:b@c d"), "a-b-c-d");
  EXPECT_EQ(branch(std::string(300, 'b'))->size(), 128u);
  EXPECT_EQ(ExpandTagTemplate("x-{branch}", TagValues{kSha, std::string(300, 'b'), ""})->size(), 128u);
  for (const std::string& b :
       std::vector<std::string>{"release/1.0", "-", "../..", "a\nb", std::string(200, '/')}) {
    auto t = branch(b);
    ASSERT_TRUE(t) << b;
    EXPECT_TRUE(t->size() <= 128 && (isalnum((*t)[0]) || (*t)[0] == '_')) << *t;
  }
}

TEST(TagTemplateTest, Check) {
  EXPECT_EQ(CheckTagTemplate("{sha}"), "");
  EXPECT_EQ(CheckTagTemplate("v1.2-{short_sha}_{branch}{tag}"), "");
  EXPECT_NE(CheckTagTemplate(""), "");
  EXPECT_NE(CheckTagTemplate("{"), "");
  EXPECT_NE(CheckTagTemplate("{}"), "");
  EXPECT_NE(CheckTagTemplate("{sha}}"), "");
  EXPECT_NE(CheckTagTemplate("a b"), "");
  EXPECT_NE(CheckTagTemplate(".{sha}"), "");
  EXPECT_EQ(CheckTagTemplate(std::string(128, 'a')), "");
  EXPECT_NE(CheckTagTemplate(std::string(129, 'a')), "");
}

Promote Section() {
  Promote p;
  p.to = "127.0.0.1:5000/team/app";
  p.tags = {"{sha}", "{branch}", "{tag}", "latest"};
  p.immutable = {"{sha}", "{tag}"};
  return p;
}

TEST(PromotePlanTest, BranchRun) {
  auto plan = ResolvePromotePlan(Section(), BranchRun("release/2"), "sha256:" + std::string(64, 'e'));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->to, "127.0.0.1:5000/team/app");
  EXPECT_EQ(plan->image_id, "sha256:" + std::string(64, 'e'));
  EXPECT_EQ(plan->tags, (std::vector<std::string>{kSha, "release-2", "latest"}));
  EXPECT_EQ(plan->immutable, std::vector<std::string>{kSha});
  EXPECT_EQ(plan->left_out, std::vector<std::string>{"{tag}"});
  auto back = PromotePlan::FromJson(plan->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, *plan);
}

TEST(PromotePlanTest, TagRunAndDuplicates) {
  Promote p = Section();
  p.tags.push_back("v1");
  auto plan = ResolvePromotePlan(p, TagRun("v1"), "sha256:" + std::string(64, 'e'));
  ASSERT_TRUE(plan.ok());
  // {tag} and the literal v1 make one tag, immutable since {tag} is.
  EXPECT_EQ(plan->tags, (std::vector<std::string>{kSha, "v1", "latest"}));
  EXPECT_EQ(plan->immutable, (std::vector<std::string>{kSha, "v1"}));
  Promote only_branch;
  only_branch.tags = {"{branch}"};
  EXPECT_EQ(ResolvePromotePlan(only_branch, TagRun("v1"), "x").status().code(), Code::kInvalidArgument);
}

TEST(PromotePlanTest, FromJsonRefusesOtherShapes) {
  for (const char* bad :
       {"", "[]", "{}", R"({"to":1,"image":"","image_id":"","tags":[],"immutable":[],"left_out":[]})",
        R"({"to":"","image":"","image_id":"","tags":[1],"immutable":[],"left_out":[]})"}) {
    EXPECT_EQ(PromotePlan::FromJson(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(PromotionPolicyTest, Branches) {
  Promote p = Section();
  EXPECT_EQ(PromotionRefusal(p, BranchRun("anything")), "");  // neither list: every branch
  EXPECT_NE(PromotionRefusal(p, TagRun("v1")), "");           // ... and no tag
  p.branches = {"main", "release/*"};
  EXPECT_EQ(PromotionRefusal(p, BranchRun("main")), "");
  EXPECT_EQ(PromotionRefusal(p, BranchRun("release/1/2")), "");
  EXPECT_EQ(PromotionRefusal(p, BranchRun("feature")),
            "branch feature matches none of promote.branches (main, release/*)");
  EXPECT_NE(PromotionRefusal(p, BranchRun("Main")), "");  // case counts
  EXPECT_EQ(PromotionRefusal(p, BranchRun("main", Event::kManual)), "");
}

TEST(PromotionPolicyTest, Tags) {
  Promote p = Section();
  p.tags_match = {"v*"};
  EXPECT_EQ(PromotionRefusal(p, TagRun("v1.0")), "");
  EXPECT_EQ(PromotionRefusal(p, TagRun("nightly")), "tag nightly matches none of promote.tags_match (v*)");
  // Only tags_match: branches do not promote.
  EXPECT_NE(PromotionRefusal(p, BranchRun("main")).find("promote.branches lists none"), std::string::npos);
  p.branches = {"main"};
  EXPECT_EQ(PromotionRefusal(p, BranchRun("main")), "");
}

TEST(PromotionPolicyTest, PullRequestsAndExecRunsNever) {
  Promote p = Section();
  pipelines::Run pr = BranchRun("main", Event::kPullRequest);
  pr.pull_request = 3;
  EXPECT_NE(PromotionRefusal(p, pr).find("a pull request run never promotes"), std::string::npos);
  pipelines::Run exec = BranchRun("main");
  exec.repo = "";
  EXPECT_NE(PromotionRefusal(p, exec).find("pipeline exec"), std::string::npos);
}

}  // namespace
}  // namespace slipway::pipelines

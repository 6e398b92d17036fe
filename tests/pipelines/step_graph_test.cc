// The step graph: default chaining, depends_on, parallel roots, cycles.
#include "pipelines/step_graph.h"

#include <gtest/gtest.h>

#include "pipelines/pipeline_file.h"

namespace slipway::pipelines {
namespace {

Pipeline Parse(const std::string& text) {
  Result<Pipeline> p = ParsePipelineFile(text);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : Pipeline{};
}

std::string Step(const std::string& name, const std::string& depends_on = "") {
  std::string s = "  - name: " + name + "\n    image: busybox\n    commands: [true]\n";
  if (!depends_on.empty()) s += "    depends_on: " + depends_on + "\n";
  return s;
}

TEST(StepGraphTest, StepsWithoutDependsOnWaitForTheStepBefore) {
  Pipeline p = Parse("steps:\n" + Step("a") + Step("b") + Step("c"));
  EXPECT_EQ(NeedsOf(p), (StepNeeds{{}, {0}, {1}}));
  EXPECT_EQ(ExecutionOrder(p), (std::vector<size_t>{0, 1, 2}));
}

TEST(StepGraphTest, EmptyDependsOnStartsAtOnce) {
  // b and c are roots beside a; d waits for b and c; e, by default, for d.
  Pipeline p =
      Parse("steps:\n" + Step("a") + Step("b", "[]") + Step("c", "[]") + Step("d", "[c, b]") + Step("e"));
  EXPECT_EQ(NeedsOf(p), (StepNeeds{{}, {}, {}, {2, 1}, {3}}));
  EXPECT_EQ(ExecutionOrder(p), (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(StepGraphTest, DependsOnALaterStep) {
  Pipeline p = Parse("steps:\n" + Step("test", "[build]") + Step("build", "[]"));
  EXPECT_EQ(ExecutionOrder(p), (std::vector<size_t>{1, 0}));
}

TEST(StepGraphTest, FindCyclesNamesEachGroupOnce) {
  EXPECT_TRUE(FindCycles({{}, {0}, {0, 1}}).empty());
  EXPECT_EQ(FindCycles({{0}}), (std::vector<std::vector<size_t>>{{0}}));
  // 0 <-> 1, and 2 -> 3 -> 4 -> 2, and 5 alone waiting for both groups.
  StepNeeds needs = {{1}, {0}, {3}, {4}, {2}, {0, 2}};
  EXPECT_EQ(FindCycles(needs), (std::vector<std::vector<size_t>>{{0, 1}, {2, 3, 4}}));
  // Steps on a cycle never become ready; the rest still have an order.
  EXPECT_EQ(ExecutionOrder(StepNeeds{{1}, {0}, {}}), (std::vector<size_t>{2}));
}

TEST(StepGraphTest, LongChainsNeedNoDeepStack) {
  // A recursive walk would use a stack frame per step.
  const size_t n = 200'000;
  StepNeeds chain(n);
  for (size_t i = 1; i < n; ++i) chain[i] = {i - 1};
  EXPECT_TRUE(FindCycles(chain).empty());
  EXPECT_EQ(ExecutionOrder(chain).size(), n);
  chain[0] = {n - 1};
  std::vector<std::vector<size_t>> cycles = FindCycles(chain);
  ASSERT_EQ(cycles.size(), 1u);
  EXPECT_EQ(cycles[0].size(), n);
  EXPECT_EQ(cycles[0][0], 0u);
  EXPECT_EQ(cycles[0][1], n - 1);  // 0 waits for n-1
}

}  // namespace
}  // namespace slipway::pipelines

// A flood: 300 deliveries sent 20 at a time, from the three forges, with
// duplicates racing their original and replays sent after it. Each distinct
// push gives exactly one run (one delivery of each id is answered with a run,
// the others 200), none is lost (every pushed commit ran once, and passed),
// and slipwayd keeps answering its API meanwhile.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/webhooks/e2e/webhook_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "flood-secret";
constexpr int kPushes = 120;     // distinct pushes (40 per forge)
constexpr int kDuplicates = 90;  // sent in the same wave as their original
constexpr int kReplays = 90;     // sent again once the originals went
constexpr int kConcurrent = 20;

class FloodTest : public WebhookTest {};

TEST_F(FloodTest, ThreeHundredDeliveriesGiveOneRunPerDistinctPush) {
  static_assert(kPushes + kDuplicates + kReplays == 300);
  const std::vector<ForgeRepoInfo> forges = {
      {"github", "team/app", 1}, {"gitea", "team/app", 2}, {"gitlab", "team/app", 3}};
  // One history of kPushes + 1 commits; push i is "commit i-1 -> commit i"
  // to main of forge i % 3's repository.
  PipelineRepo repo;
  std::vector<std::string> commits = {repo.Push(OneStep("true"))};
  for (int i = 1; i <= kPushes; ++i) {
    commits.push_back(repo.repo().Commit({{"n.txt", std::to_string(i)}}, "change " + std::to_string(i)));
  }
  repo.repo().Push("main");
  for (const ForgeRepoInfo& f : forges) {
    // cancel_superseded off: every run must pass, none is cancelled by a
    // later push of the same branch (supersede_test covers that).
    ASSERT_FALSE(
        AddForgeRepo(f.forge, repo.file_url(), f, kSecret, {{"cancel_superseded", false}}).is_null());
  }

  struct Sent {
    int push;  // index into commits, 1..kPushes
    Delivery delivery;
  };
  std::vector<Sent> originals;
  for (int i = 1; i <= kPushes; ++i) {
    const ForgeRepoInfo& f = forges[i % 3];
    originals.push_back(
        {i, Sign(f.forge, "push", PushPayload(f, "refs/heads/main", commits[i - 1], commits[i]).dump(),
                 kSecret)});
  }
  std::mt19937 rng(13);
  std::shuffle(originals.begin(), originals.end(), rng);
  // Duplicates right after their original (the same wave of 20), replays
  // after every original.
  std::vector<Sent> order;
  for (size_t i = 0; i < originals.size(); ++i) {
    order.push_back(originals[i]);
    if (i < kDuplicates) order.push_back(originals[i]);
  }
  std::vector<Sent> replays(originals.end() - kReplays, originals.end());
  std::shuffle(replays.begin(), replays.end(), rng);
  order.insert(order.end(), replays.begin(), replays.end());
  ASSERT_EQ(order.size(), 300u);

  // Meanwhile: GET /api/v1/info, one after another, every answer counted.
  std::atomic<bool> flooding{true};
  std::atomic<int> info_ok{0}, info_bad{0};
  std::thread prober([&] {
    while (flooding) {
      HttpReply r = Api().Get("/api/v1/info");
      (r.status == 200 ? info_ok : info_bad)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::vector<HttpReply> answers(order.size());
  for (size_t wave = 0; wave < order.size(); wave += kConcurrent) {
    std::vector<std::thread> senders;
    for (size_t i = wave; i < std::min(order.size(), wave + kConcurrent); ++i) {
      senders.emplace_back([&, i] { answers[i] = Deliver(order[i].delivery); });
    }
    for (std::thread& t : senders) t.join();
  }
  flooding = false;
  prober.join();
  EXPECT_GT(info_ok.load(), 0);
  EXPECT_EQ(info_bad.load(), 0) << "GET /api/v1/info failed during the flood";

  // Per push: exactly one delivery answered with a run, the others 200.
  std::map<int, std::vector<int64_t>> runs_of_push;
  for (size_t i = 0; i < order.size(); ++i) {
    const HttpReply& r = answers[i];
    if (r.status == 200) continue;
    ASSERT_TRUE(r.status == 201 || r.status == 202) << "delivery " << i << ": " << r;
    runs_of_push[order[i].push].push_back(QueuedRun(r));
  }
  for (int i = 1; i <= kPushes; ++i) {
    EXPECT_EQ(runs_of_push[i].size(), 1u)
        << "push " << i << " (" << forges[i % 3].forge << ") gave " << runs_of_push[i].size() << " runs";
  }

  // Every run ends and passes, each commit ran once per its forge's repository.
  std::set<std::string> ran;
  for (const auto& [push, ids] : runs_of_push) {
    for (int64_t id : ids) {
      json run = AwaitRun(id, std::chrono::seconds(150));
      EXPECT_EQ(Str(run, "status"), "success") << run.dump();
      EXPECT_EQ(Str(run, "commit"), commits[push]) << run.dump();
      EXPECT_EQ(Str(run, "repo"), forges[push % 3].forge) << run.dump();
    }
  }
  std::vector<json> all = Runs();
  EXPECT_EQ(all.size(), static_cast<size_t>(kPushes));
  for (const json& run : all) {
    EXPECT_TRUE(ran.insert(Str(run, "repo") + "@" + Str(run, "commit")).second)
        << "ran twice: " << run.dump();
  }
  // Replayed once more after the runs: still nothing new.
  for (int k = 0; k < 5; ++k) EXPECT_EQ(Deliver(originals[k].delivery).status, 200);
  EXPECT_EQ(Runs().size(), static_cast<size_t>(kPushes));
}

}  // namespace
}  // namespace slipway::testing

// 50 runs queued at once with max_runs 4, through a real slipwayd: none is
// lost, all end `success`, never more than 4 run at once (as the API shows
// them while the queue drains), and each has its own workspace (its step
// finds no file of another run there) and its own log (its own run id).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/pipelines/e2e/pipeline_fixture.h"

namespace slipway::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr int kRuns = 50;
constexpr int kMaxRuns = 4;

class QueueTest : public PipelineTest {
 protected:
  std::vector<std::string> DaemonArgs() const override { return {"--max-runs", std::to_string(kMaxRuns)}; }
};

TEST_F(QueueTest, FiftyRunsAtMaxRunsFourAllSucceedEachInItsOwnWorkspace) {
  PipelineRepo repo;
  std::string commit = repo.Push(R"(
steps:
  - name: own
    image: busybox
    commands:
      - test ! -e id
      - echo "$SLIPWAY_RUN_ID" > id
      - cat id
)");
  ASSERT_FALSE(AddRepo("busy", repo.file_url()).is_null());

  // Triggered from 5 clients at once.
  std::mutex mu;
  std::vector<int64_t> ids;
  std::vector<std::thread> clients;
  for (int c = 0; c < 5; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kRuns / 5; ++i) {
        int64_t id = Trigger("busy");
        std::lock_guard<std::mutex> lock(mu);
        ids.push_back(id);
      }
    });
  }
  // Meanwhile, and until every run has ended: how many run at once.
  std::atomic<bool> done{false};
  int most_running = 0;
  std::thread watcher([&] {
    while (!done) {
      HttpReply r = Api().Get("/api/v1/runs?repo=busy&status=running&limit=100");
      json runs = r.Json();
      if (r.status == 200 && runs.contains("runs") && runs["runs"].is_array()) {
        most_running = std::max(most_running, static_cast<int>(runs["runs"].size()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "two triggers got one id";

  for (int64_t id : ids) {
    json run = AwaitRun(id, seconds(240));
    EXPECT_EQ(Str(run, "status"), "success") << run.dump();
    EXPECT_EQ(Str(run, "commit"), commit) << run.dump();
    EXPECT_EQ(StepLog(id, "own"), std::to_string(id) + "\n")
        << "run " << id << "'s log is not its own id (another run's, or its output lost)";
  }
  done = true;
  watcher.join();
  EXPECT_LE(most_running, kMaxRuns) << "more runs at once than max_runs";
  EXPECT_GE(most_running, 1) << "the watcher never saw a run running";

  // All 50 are listed, and paging walks them without a gap or a repeat.
  std::set<int64_t> listed;
  std::string before;
  for (int page = 0; page < 10; ++page) {
    HttpReply r = Api().Get("/api/v1/runs?repo=busy&limit=20" + (before.empty() ? "" : "&before=" + before));
    ASSERT_EQ(r.status, 200) << r;
    json body = r.Json();
    for (const json& run : body["runs"]) {
      EXPECT_TRUE(listed.insert(Int(run, "id")).second) << "listed twice: " << run.dump();
    }
    before = Str(body, "next_before");
    if (before.empty() || before == "0") break;
  }
  EXPECT_EQ(listed, std::set<int64_t>(ids.begin(), ids.end()));
  for (int64_t id : ids) ExpectNothingLeft(id);
}

}  // namespace
}  // namespace slipway::testing

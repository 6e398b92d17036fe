// 200 containers created and started through the API as fast as a few client
// threads can, on a slipwayd that runs at most 8 at once: none is lost, each
// ran its own command and kept its own output, the counters agree, and the
// limit held (GET /api/v1/info's `running`, sampled throughout, never went
// above it).
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/daemon_fixture.h"

namespace slipway::testing {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kContainers = 200;
constexpr int kClients = 4;
constexpr int kMaxRunning = 8;

TEST(LoadTest, TwoHundredContainersThroughEightSlots) {
  DaemonUnderTest daemon({"--max-running", std::to_string(kMaxRunning)});
  auto started = daemon.Start();
  ASSERT_TRUE(started) << started.message();
  ASSERT_FALSE(daemon.ImportBusybox("busybox").empty());
  ApiClient api = daemon.Api();

  // Samples `running` and `queued` until the clients are done.
  std::atomic<bool> done{false};
  std::atomic<int> max_running{0}, max_queued{0}, samples{0}, bad_samples{0};
  std::thread sampler([&] {
    while (!done) {
      json info = api.Get("/api/v1/info").Json();
      if (info.is_object() && info["running"].is_number_integer()) {
        max_running = std::max(max_running.load(), info["running"].get<int>());
        max_queued = std::max(max_queued.load(), info["queued"].get<int>());
        ++samples;
      } else {
        ++bad_samples;
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  });

  std::mutex mu;
  std::map<int, std::string> ids;  // N -> container id
  std::vector<std::string> errors;
  auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int n = t; n < kContainers; n += kClients) {
        json request = {{"image", "busybox"},
                        {"command", {"sh", "-c", "echo container-" + std::to_string(n)}}};
        HttpReply created = api.Post("/api/v1/containers", request);
        std::string id = created.status == 201 ? created.Json().value("id", "") : "";
        HttpReply start = api.Post("/api/v1/containers/" + id + "/start");
        std::lock_guard lock(mu);
        if (id.empty() || start.status != 202) {
          std::ostringstream e;
          e << "container " << n << ": create " << created << "; start " << start;
          errors.push_back(e.str());
        }
        ids[n] = id;
      }
    });
  }
  for (auto& c : clients) c.join();
  ASSERT_TRUE(errors.empty()) << errors.size() << " failed, the first: " << errors[0];

  // Wait for every one, from the same few threads.
  std::vector<json> ended(kContainers);
  clients.clear();
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int n = t; n < kContainers; n += kClients) {
        ended[n] = api.Post("/api/v1/containers/" + ids[n] + "/wait").Json();
      }
    });
  }
  for (auto& c : clients) c.join();
  auto took = Clock::now() - start;
  done = true;
  sampler.join();

  std::vector<json> all = daemon.List(true);
  EXPECT_EQ(all.size(), static_cast<size_t>(kContainers));
  int bad = 0;
  for (int n = 0; n < kContainers; ++n) {
    const json& c = ended[n];
    if (!c.is_object() || c.value("state", "") != "exited" || c["exit_code"] != 0) {
      if (++bad <= 3) ADD_FAILURE() << "container " << n << " ended as " << c.dump();
      continue;
    }
    HttpReply logs = api.Get("/api/v1/containers/" + ids[n] + "/logs");
    std::string out, err;
    if (logs.status != 200 || !DecodeFrames(logs.body, &out, &err) ||
        out != "container-" + std::to_string(n) + "\n") {
      if (++bad <= 3) ADD_FAILURE() << "container " << n << "'s logs: " << logs;
    }
  }
  EXPECT_EQ(bad, 0) << "containers that did not end well or lost their output";

  EXPECT_EQ(daemon.Metric("slipway_sandboxes_started_total"), kContainers);
  EXPECT_EQ(daemon.Metric("slipway_sandboxes_exited_total"), kContainers);
  EXPECT_EQ(daemon.Metric("slipway_sandboxes_failed_total"), 0);
  EXPECT_EQ(daemon.Metric("slipway_sandboxes_running"), 0);
  EXPECT_EQ(daemon.Metric("slipway_sandboxes_queued"), 0);

  EXPECT_EQ(bad_samples, 0);
  EXPECT_GT(samples, 20) << "too few samples of GET /api/v1/info to say anything";
  EXPECT_LE(max_running, kMaxRunning) << "more sandboxes ran at once than --max-running";
  EXPECT_GT(max_running, 1) << "nothing ran in parallel";
  std::cout << kContainers << " containers in " << std::chrono::duration_cast<milliseconds>(took).count()
            << " ms; at most " << max_running << " running and " << max_queued << " queued at once ("
            << samples << " samples)\n";

  daemon.RemoveAll();
  EXPECT_TRUE(daemon.List(true).empty());
  EXPECT_EQ(daemon.LeftoversAfter(), "");
}

}  // namespace
}  // namespace slipway::testing

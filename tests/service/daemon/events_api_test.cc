// GET /api/v1/events through a real slipwayd running real pipelines
// (docs/dashboard.md): run and step events as they happen, their ids,
// catching up after Last-Event-ID, `event: reset` for what is gone, the
// ?repo= and ?run= filters, and a stream ended when its token is revoked.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/pipelines/git_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

struct SseEvent {
  std::string id, name, data;
  json Json() const { return json::parse(data, nullptr, false); }
};

// One event stream on a socket of its own, read as it comes.
class EventStream {
 public:
  EventStream(int port, const std::string& path, const std::vector<std::string>& headers) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "connect to slipwayd";
      return;
    }
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nAccept: text/event-stream\r\n";
    for (const std::string& h : headers) request += h + "\r\n";
    request += "\r\n";
    EXPECT_EQ(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    // The answer's head leaves once the stream has its starting point: what
    // happens after this is the stream's.
    ReadUntil([this](const auto&) { return status_ != 0; }, std::chrono::seconds(30));
  }
  ~EventStream() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Reads until `done` holds for the events so far, the stream ends, or
  // `deadline` passes. The events read.
  const std::vector<SseEvent>& ReadUntil(const std::function<bool(const std::vector<SseEvent>&)>& done,
                                         std::chrono::seconds deadline = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done(events_) && !ended_ && std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        ended_ = true;
        break;
      }
      raw_.append(buf, static_cast<size_t>(n));
      Parse();
    }
    return events_;
  }
  int status() const { return status_; }
  bool ended() const { return ended_; }
  const std::string& comments() const { return comments_; }

 private:
  void Parse() {
    if (status_ == 0) {
      size_t end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      status_ = std::atoi(raw_.c_str() + raw_.find(' ') + 1);
      raw_.erase(0, end + 4);
    }
    for (;;) {  // chunks
      size_t eol = raw_.find("\r\n");
      if (eol == std::string::npos) break;
      size_t size = std::strtoul(raw_.substr(0, eol).c_str(), nullptr, 16);
      if (size == 0) {
        ended_ = true;
        break;
      }
      if (raw_.size() < eol + 2 + size + 2) break;
      body_ += raw_.substr(eol + 2, size);
      raw_.erase(0, eol + 2 + size + 2);
    }
    for (size_t end; (end = body_.find("\n\n")) != std::string::npos;) {
      std::string block = body_.substr(0, end);
      body_.erase(0, end + 2);
      SseEvent e;
      size_t at = 0;
      while (at <= block.size()) {
        size_t nl = block.find('\n', at);
        std::string line = block.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.starts_with(":")) comments_ += line + "\n";
        if (line.starts_with("id: ")) e.id = line.substr(4);
        if (line.starts_with("event: ")) e.name = line.substr(7);
        if (line.starts_with("data: ")) e.data += (e.data.empty() ? "" : "\n") + line.substr(6);
      }
      if (!e.name.empty()) events_.push_back(std::move(e));
    }
  }

  int fd_ = -1;
  int status_ = 0;
  bool ended_ = false;
  std::string raw_, body_, comments_;
  std::vector<SseEvent> events_;
};

class EventsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = StartDaemonWithBusybox().release(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (!daemon_) GTEST_SKIP() << "slipwayd did not start";
  }
  ApiClient Api() const { return daemon_->Api(); }
  std::string Auth() const { return "Authorization: Bearer " + daemon_->Token(); }

  // Registers `name`: two steps, `build` then `test` (which needs it).
  void AddRepo(const std::string& name) {
    repos_.push_back(std::make_unique<TestRepo>());
    TestRepo& repo = *repos_.back();
    repo.Commit({{".slipway.yml",
                  "steps:\n"
                  "  - name: build\n    image: busybox\n    commands: [\"echo built\"]\n"
                  "  - name: test\n    image: busybox\n    commands: [\"echo tested\"]\n"}},
                "two steps");
    repo.Push("main");
    ASSERT_EQ(Api().Post("/api/v1/repos", {{"name", name}, {"url", repo.file_url()}}).status, 201);
  }
  int64_t Trigger(const std::string& repo) {
    HttpReply r = Api().Post("/api/v1/repos/" + repo + "/runs", {{"branch", "main"}});
    EXPECT_EQ(r.status, 201) << r;
    return r.Json().value("id", int64_t{0});
  }

  static DaemonUnderTest* daemon_;
  std::vector<std::unique_ptr<TestRepo>> repos_;
};

DaemonUnderTest* EventsApiTest::daemon_ = nullptr;

// Whether `events` hold the run event of run `id` in `status`.
bool HasRunStatus(const std::vector<SseEvent>& events, int64_t id, const std::string& status) {
  for (const SseEvent& e : events) {
    if (e.name == "run" && e.Json().value("id", int64_t{0}) == id && e.Json().value("status", "") == status)
      return true;
  }
  return false;
}

TEST_F(EventsApiTest, AStreamTellsARunAndItsStepsAndCatchesUpAfterLastEventId) {
  AddRepo("evented");
  EventStream stream(daemon_->port(), "/api/v1/events", {Auth()});
  const int64_t id = Trigger("evented");
  const auto& events = stream.ReadUntil([&](const auto& e) { return HasRunStatus(e, id, "success"); });
  ASSERT_EQ(stream.status(), 200);
  ASSERT_TRUE(HasRunStatus(events, id, "success")) << events.size() << " events";
  EXPECT_TRUE(HasRunStatus(events, id, "queued"));
  EXPECT_TRUE(HasRunStatus(events, id, "running"));
  // Steps: each started and ended, `test` after `build` ended.
  std::vector<std::string> seen;
  uint64_t previous = 0;
  for (const SseEvent& e : events) {
    uint64_t n = std::strtoull(e.id.c_str(), nullptr, 10);
    EXPECT_GT(n, previous) << "ids increase";
    previous = n;
    if (e.name != "step") continue;
    json body = e.Json();
    EXPECT_EQ(body["run_id"], id) << e.data;
    seen.push_back(body["step"].value("name", "") + ":" + body["step"].value("status", ""));
  }
  const std::vector<std::string> want = {"_setup:running", "_setup:success", "build:running",
                                         "build:success",  "test:running",   "test:success"};
  EXPECT_EQ(seen, want);

  // A reconnection after the first event gets the rest, with the same ids.
  ASSERT_GE(events.size(), 2u);
  EventStream again(daemon_->port(), "/api/v1/events", {Auth(), "Last-Event-ID: " + events[0].id});
  const auto& replayed = again.ReadUntil([&](const auto& e) { return e.size() >= events.size() - 1; });
  ASSERT_EQ(replayed.size(), events.size() - 1);
  for (size_t i = 0; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].id, events[i + 1].id);
    EXPECT_EQ(replayed[i].name, events[i + 1].name);
    EXPECT_EQ(replayed[i].data, events[i + 1].data);
  }
  // An id from before this slipwayd (or garbage): reset.
  for (const std::string stale : {"1", "abc", "99999999999999999999"}) {
    EventStream old(daemon_->port(), "/api/v1/events", {Auth(), "Last-Event-ID: " + stale});
    const auto& told = old.ReadUntil([](const auto& e) { return !e.empty(); });
    ASSERT_FALSE(told.empty()) << stale;
    EXPECT_EQ(told[0].name, "reset") << stale;
  }
}

TEST_F(EventsApiTest, FiltersByRepositoryAndRun) {
  AddRepo("first");
  AddRepo("second");
  EventStream all(daemon_->port(), "/api/v1/events", {Auth()});
  const int64_t a = Trigger("first");
  const int64_t b = Trigger("second");
  const auto& events = all.ReadUntil(
      [&](const auto& e) { return HasRunStatus(e, a, "success") && HasRunStatus(e, b, "success"); });
  ASSERT_TRUE(HasRunStatus(events, b, "success"));
  const std::string from = events[0].id;
  auto only = [&](const std::string& query, int64_t want) {
    // Replayed from the start: the filter applies to what is caught up too.
    EventStream s(daemon_->port(), "/api/v1/events?" + query, {Auth(), "Last-Event-ID: " + from});
    const auto& got = s.ReadUntil([&](const auto& e) { return HasRunStatus(e, want, "success"); });
    EXPECT_TRUE(HasRunStatus(got, want, "success")) << query;
    for (const SseEvent& e : got) {
      json body = e.Json();
      int64_t run = e.name == "run" ? body.value("id", int64_t{0}) : body.value("run_id", int64_t{0});
      EXPECT_EQ(run, want) << query << ": " << e.data;
    }
  };
  only("repo=second", b);
  only("run=" + std::to_string(a), a);
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/events?run=x"), 400, "invalid_argument"));
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/events?since=1"), 400, "invalid_argument"));
}

TEST_F(EventsApiTest, ARevokedTokensStreamEndsAndAReadTokenMayListen) {
  HttpReply made = Api().Post("/api/v1/tokens", {{"name", "watcher"}, {"scope", "read"}});
  ASSERT_EQ(made.status, 201);
  const std::string token = made.Json().value("token", "");
  EventStream stream(daemon_->port(), "/api/v1/events", {"Authorization: Bearer " + token});
  AddRepo("watched");
  const int64_t id = Trigger("watched");
  stream.ReadUntil([&](const auto& e) { return HasRunStatus(e, id, "queued"); });
  EXPECT_EQ(stream.status(), 200);
  EXPECT_TRUE(HasRunStatus(stream.ReadUntil([](const auto&) { return false; }, std::chrono::seconds(0)), id,
                           "queued"));
  ASSERT_EQ(Api().Delete("/api/v1/tokens/watcher").status, 204);
  stream.ReadUntil([](const auto&) { return false; }, std::chrono::seconds(30));
  EXPECT_TRUE(stream.ended()) << "the stream of a revoked token goes on";
  // Without a credential: 401, no stream.
  EventStream nobody(daemon_->port(), "/api/v1/events", {});
  nobody.ReadUntil([](const auto&) { return false; }, std::chrono::seconds(5));
  EXPECT_EQ(nobody.status(), 401);
}

// Steps' needs as the pipeline file made them, and the branches of a
// repository with their newest runs (GET /api/v1/repos/{name}/branches).
TEST_F(EventsApiTest, StepsCarryTheirNeedsAndBranchesTheirNewestRun) {
  repos_.push_back(std::make_unique<TestRepo>());
  TestRepo& repo = *repos_.back();
  repo.Commit(
      {{".slipway.yml",
        "services:\n  - name: cache\n    image: busybox\n    commands: [\"sleep 30\"]\n"
        "steps:\n"
        "  - name: unit\n    image: busybox\n    commands: [\"true\"]\n"
        "  - name: lint\n    image: busybox\n    commands: [\"true\"]\n    depends_on: []\n"
        "  - name: package\n    image: busybox\n    commands: [\"true\"]\n    depends_on: [lint, unit]\n"
        "  - name: ship\n    image: busybox\n    commands: [\"true\"]\n"}},
      "a graph");
  repo.Push("main");
  repo.WorkGit("checkout -q -b feature/x");
  repo.Push("feature/x");
  ASSERT_EQ(Api().Post("/api/v1/repos", {{"name", "graphed"}, {"url", repo.file_url()}}).status, 201);
  HttpReply none = Api().Get("/api/v1/repos/graphed/branches");
  ASSERT_EQ(none.status, 200) << none;
  EXPECT_EQ(none.Json(), json::array());

  auto run_on = [&](const std::string& branch) {
    HttpReply r = Api().Post("/api/v1/repos/graphed/runs", {{"branch", branch}});
    EXPECT_EQ(r.status, 201) << r;
    return r.Json().value("id", int64_t{0});
  };
  const int64_t first = run_on("main");
  // Waits for its end through the run's own answer.
  json run;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
       std::chrono::steady_clock::now() < deadline;) {
    run = Api().Get("/api/v1/runs/" + std::to_string(first)).Json();
    if (run.value("status", "") != "queued" && run.value("status", "") != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(run["status"], "success") << run;
  std::map<std::string, json> needs;
  for (const json& step : run["steps"]) needs[step.value("name", "")] = step["needs"];
  EXPECT_EQ(needs["_setup"], json::array());
  EXPECT_EQ(needs["cache"], json::array());
  EXPECT_EQ(needs["unit"], json::array());
  EXPECT_EQ(needs["lint"], json::array());
  EXPECT_EQ(needs["package"], json({"lint", "unit"}));
  EXPECT_EQ(needs["ship"], json({"package"}));

  const int64_t second = run_on("feature/x");
  const int64_t third = run_on("main");
  HttpReply branches = Api().Get("/api/v1/repos/graphed/branches");
  ASSERT_EQ(branches.status, 200) << branches;
  ASSERT_EQ(branches.Json().size(), 2u) << branches;
  EXPECT_EQ(branches.Json()[0]["branch"], "main");
  EXPECT_EQ(branches.Json()[0]["last_run"]["id"], third);
  EXPECT_EQ(branches.Json()[1]["branch"], "feature/x");
  EXPECT_EQ(branches.Json()[1]["last_run"]["id"], second);
  EXPECT_TRUE(IsApiError(Api().Get("/api/v1/repos/nosuch/branches"), 404, "not_found"));
  // A read token may list them.
  HttpReply made = Api().Post("/api/v1/tokens", {{"name", "brancher"}, {"scope", "read"}});
  ASSERT_EQ(made.status, 201);
  EXPECT_EQ(Api().WithToken(made.Json().value("token", "")).Get("/api/v1/repos/graphed/branches").status,
            200);
  for (int64_t id : {second, third}) Api().Post("/api/v1/runs/" + std::to_string(id) + "/cancel");
}

}  // namespace
}  // namespace slipway::testing

#include "engine/base/event_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("event-log-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name = "events.log") const { return dir_ + "/" + name; }

  std::unique_ptr<EventLog> OpenLog(LogLevel level = LogLevel::kInfo) {
    Result<std::unique_ptr<EventLog>> log = EventLog::Open(Path(), level);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static std::vector<std::string> Lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }

  // Every line parsed, in order; fails the test on a line that is not JSON.
  static std::vector<ordered_json> Events(const std::string& path) {
    std::vector<ordered_json> events;
    for (const std::string& line : Lines(path)) {
      ordered_json j = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      events.push_back(j);
    }
    return events;
  }

  std::string dir_;
};

TEST_F(EventLogTest, LinesAreJsonWithTimeLevelEventThenFields) {
  auto log = OpenLog();
  log->Info("container.started", {{"id", "5d0f"}, {"pid", 123}, {"argv", {"sh", "-c", "true"}}});
  log->Error("api.failed");
  std::vector<ordered_json> events = Events(Path());
  ASSERT_EQ(events.size(), 2u);

  const ordered_json& e = events[0];
  std::vector<std::string> keys;
  for (const auto& [k, v] : e.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"time", "level", "event", "id", "pid", "argv"}));
  EXPECT_TRUE(std::regex_match(e["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d\dZ)")))
      << e["time"];
  EXPECT_EQ(e["level"], "info");
  EXPECT_EQ(e["event"], "container.started");
  EXPECT_EQ(e["id"], "5d0f");
  EXPECT_EQ(e["pid"], 123);
  EXPECT_EQ(e["argv"], ordered_json({"sh", "-c", "true"}));

  EXPECT_EQ(events[1]["level"], "error");
  EXPECT_EQ(events[1]["event"], "api.failed");
  EXPECT_EQ(events[1].size(), 3u);
}

TEST_F(EventLogTest, AcceptsJsonObjectsAndOddFields) {
  auto log = OpenLog();
  json fields = {{"b", 1}, {"a", 2}};
  log->Warn("plain.json", fields);
  log->Info("reserved", {{"event", "mine"}, {"time", 5}, {"level", "x"}});
  log->Info("not.an.object", json::array({1, 2}));
  log->Info("bad.utf8", {{"path", std::string("caf\xc3", 4)}});
  log->Info("newline", {{"msg", "two\nlines"}});
  std::vector<ordered_json> events = Events(Path());
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0]["a"], 2);
  EXPECT_EQ(events[0]["b"], 1);
  EXPECT_EQ(events[1]["event"], "reserved");
  EXPECT_EQ(events[1]["_event"], "mine");
  EXPECT_EQ(events[1]["_time"], 5);
  EXPECT_EQ(events[1]["_level"], "x");
  EXPECT_EQ(events[2]["fields"], ordered_json({1, 2}));
  EXPECT_EQ(events[3]["path"], "caf\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(events[4]["msg"], "two\nlines");
}

TEST_F(EventLogTest, LevelsBelowTheThresholdAreDropped) {
  auto log = OpenLog(LogLevel::kWarn);
  EXPECT_FALSE(log->Enabled(LogLevel::kInfo));
  EXPECT_TRUE(log->Enabled(LogLevel::kWarn));
  log->Debug("d");
  log->Info("i");
  log->Warn("w");
  log->Error("e");
  log->SetLevel(LogLevel::kDebug);
  log->Debug("d2");
  std::vector<std::string> got;
  for (const ordered_json& e : Events(Path())) got.push_back(e["event"]);
  EXPECT_EQ(got, (std::vector<std::string>{"w", "e", "d2"}));
}

TEST_F(EventLogTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("INFO").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseLogLevel("warning").status().code(), Code::kInvalidArgument);
  EXPECT_STREQ(LogLevelName(LogLevel::kWarn), "warn");
}

// Lines longer than PIPE_BUF from many threads at once: every line must come
// out whole, none lost.
TEST_F(EventLogTest, ConcurrentWritersProduceWholeLines) {
  auto log = OpenLog();
  constexpr int kThreads = 8;
  constexpr int kLines = 300;
  const std::string padding(6000, 'x');
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) log->Info("tick", {{"thread", t}, {"seq", i}, {"pad", padding}});
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<ordered_json> events = Events(Path());
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kLines));
  std::set<std::pair<int, int>> seen;
  for (const ordered_json& e : events) {
    ASSERT_EQ(e["pad"], padding);
    seen.insert({e["thread"].get<int>(), e["seq"].get<int>()});
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));
}

TEST_F(EventLogTest, AppendsToAnExistingFile) {
  std::ofstream(Path()) << "{\"earlier\":true}\n";
  OpenLog()->Info("later");
  std::vector<ordered_json> events = Events(Path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["earlier"], true);
  EXPECT_EQ(events[1]["event"], "later");
}

TEST_F(EventLogTest, ReopenFollowsRotation) {
  auto log = OpenLog();
  log->Info("one");
  std::filesystem::rename(Path(), Path("events.log.1"));
  log->Info("two");  // still the old file, until reopened
  ASSERT_TRUE(log->Reopen().ok());
  log->Info("three");
  ASSERT_EQ(Events(Path("events.log.1")).size(), 2u);
  std::vector<ordered_json> now = Events(Path());
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0]["event"], "three");
}

TEST_F(EventLogTest, OpenFailureNamesThePath) {
  std::string path = dir_ + "/missing/events.log";
  Result<std::unique_ptr<EventLog>> log = EventLog::Open(path, LogLevel::kInfo);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Code::kNotFound);
  EXPECT_NE(log.status().message().find(path), std::string::npos) << log.status().message();
}

TEST_F(EventLogTest, EmptyPathWritesToStderr) {
  // Point fd 2 at a file for the duration of the test.
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  int fd = ::open(Path("stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  {
    Result<std::unique_ptr<EventLog>> log = EventLog::Open("", LogLevel::kInfo);
    ASSERT_TRUE(log.ok());
    (*log)->Info("to.stderr", {{"n", 1}});
    ASSERT_TRUE((*log)->Reopen().ok());
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::vector<ordered_json> events = Events(Path("stderr"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event"], "to.stderr");
  // The log did not close fd 2 when it went away.
  EXPECT_GE(::fcntl(STDERR_FILENO, F_GETFD), 0);
}

}  // namespace
}  // namespace slipway

// slipwayd's API against clients without the token, as an attacker would
// try it (issue 11, findings 1, 2, 3 and 10a): large bodies, bodies without
// a length, floods of idle connections, bad Content-Length values, slow
// heads and bodies, and what /metrics tells about the routes.
//
// Time bounds here are liveness bounds (an answer at all, within seconds),
// not performance claims: bench/api_flood.sh measures.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/daemon_fixture.h"

namespace slipway::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kTenMegabytes = 10'000'000;
// A cap below the default (4096), so that a flood quick to open exceeds it.
constexpr int kMaxConnections = 1000;
// How long an answer may take before the test calls the daemon stalled.
constexpr milliseconds kLiveness = seconds(5);

// A client socket, closed when dropped.
class Socket {
 public:
  explicit Socket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // False once the peer closed or reset the connection.
  bool Send(std::string_view data) const {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Whether an answer (or the end) is there to read within `wait`.
  bool Readable(milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) == 1;
  }
  // Appends what has arrived, without waiting. False once the server closed.
  bool ReadAvailable(std::string* out) const {
    char buf[65536];
    while (Readable(milliseconds(0))) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      out->append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Everything until the server closes, or what came by `wait`.
  // `closed` says which.
  std::string ReadToEnd(milliseconds wait, bool* closed) const {
    std::string out;
    *closed = false;
    const auto deadline = Clock::now() + wait;
    char buf[65536];
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (!Readable(left)) break;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// The first answer in `raw`: its status and JSON body.
struct Answer {
  int status = 0;
  std::string head;
  nlohmann::json body;
};

Answer FirstAnswer(const std::string& raw) {
  Answer a;
  size_t end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.1 ") || end == std::string::npos) return a;
  a.status = std::atoi(raw.c_str() + 9);
  a.head = raw.substr(0, end);
  size_t length_at = a.head.find("Content-Length: ");
  size_t length = length_at == std::string::npos ? 0 : std::stoul(a.head.substr(length_at + 16));
  a.body = nlohmann::json::parse(raw.substr(end + 4, length), nullptr, /*allow_exceptions=*/false);
  return a;
}

// An API error answer: a JSON object whose only key is "error", holding
// `code` and a message.
::testing::AssertionResult IsJsonError(const Answer& a, int status, const std::string& code) {
  if (a.status != status) {
    return ::testing::AssertionFailure() << "status " << a.status << ", want " << status << "\n" << a.head;
  }
  if (!a.body.is_object() || a.body.size() != 1 || !a.body.contains("error") ||
      a.body["error"].value("code", "") != code || a.body["error"].value("message", "").empty()) {
    return ::testing::AssertionFailure() << "body " << a.body.dump() << ", want error code " << code;
  }
  return ::testing::AssertionSuccess();
}

std::string Head(const std::string& method, const std::string& path, const std::vector<std::string>& fields) {
  std::string head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& f : fields) head += f + "\r\n";
  return head + "\r\n";
}

// As a client that streams a body of `length` (Content-Length) and keeps
// sending until answered: how many body bytes went out by the time the
// answer came, and the answer.
struct Upload {
  size_t body_sent = 0;
  std::string answer;
  bool closed = false;
};
Upload SendLargeBody(int port, size_t length, const std::vector<std::string>& extra_fields) {
  Upload up;
  Socket s(port);
  if (!s.ok()) return up;
  std::vector<std::string> fields = extra_fields;
  fields.push_back("Content-Type: application/json");
  fields.push_back("Content-Length: " + std::to_string(length));
  if (!s.Send(Head("POST", "/api/v1/containers", fields))) return up;
  const std::string piece(64 << 10, 'a');
  // One piece, then nothing more until the daemon had its chance to answer.
  if (s.Send(piece)) up.body_sent += piece.size();
  while (up.body_sent < length && !s.Readable(kLiveness)) {
    if (!s.Send(piece)) break;
    up.body_sent += piece.size();
  }
  up.answer = s.ReadToEnd(kLiveness, &up.closed);
  return up;
}

// The soft RLIMIT_NOFILE up to the hard one: the floods below hold
// thousands of sockets.
void RaiseOpenFileLimit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
}

size_t OpenDescriptors(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

class ApiHardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = StartDaemon({"--api-max-connections", std::to_string(kMaxConnections)}).release();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (!daemon_) GTEST_SKIP() << "the daemon did not start";
  }
  int port() const { return daemon_->port(); }
  std::string Bearer() const { return "Authorization: Bearer " + daemon_->Token(); }

  static DaemonUnderTest* daemon_;
};

DaemonUnderTest* ApiHardeningTest::daemon_ = nullptr;

// Finding 1: the 413 comes from Content-Length, before the body is sent;
// the connection is closed after it.
TEST_F(ApiHardeningTest, OversizedBodyIs413BeforeTheBodyIsSent) {
  for (bool with_token : {false, true}) {
    SCOPED_TRACE(with_token ? "with the token" : "without a token");
    std::vector<std::string> fields;
    if (with_token) fields.push_back(Bearer());
    Upload up = SendLargeBody(port(), kTenMegabytes, fields);
    EXPECT_TRUE(IsJsonError(FirstAnswer(up.answer), 413, "payload_too_large")) << up.answer;
    EXPECT_LT(up.body_sent, kTenMegabytes) << "the answer came only after the whole body";
    EXPECT_TRUE(up.closed) << "the connection stayed open after the 413";
  }
}

// Finding 1: without the token, no body is read at all (nor held in
// memory), whatever the path: /api/v1/ is 401 and the token-less routes,
// which take no body, 400, both before the body is sent.
TEST_F(ApiHardeningTest, NoBodyIsReadWithoutTheToken) {
  for (const char* path : {"/api/v1/containers", "/healthz", "/metrics"}) {
    SCOPED_TRACE(path);
    Socket s(port());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.Send(Head("POST", path, {"Content-Type: application/json", "Content-Length: 1000000"})));
    ASSERT_TRUE(s.Readable(kLiveness)) << "no answer before the body";
    bool closed = false;
    Answer a = FirstAnswer(s.ReadToEnd(kLiveness, &closed));
    if (std::string(path).starts_with("/api/v1/")) {
      EXPECT_TRUE(IsJsonError(a, 401, "unauthenticated"));
    } else {
      EXPECT_TRUE(IsJsonError(a, 400, "invalid_argument"));
    }
    EXPECT_TRUE(closed);
  }
}

// Finding 1: a body without a length. Chunked is refused from its head; a
// body sent with no length at all is not taken for one (HTTP: no body) and
// what follows is cut off at the head limit.
TEST_F(ApiHardeningTest, BodyWithoutContentLengthIsCutOffAtTheLimit) {
  {
    Socket s(port());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.Send(Head("POST", "/api/v1/containers",
                            {Bearer(), "Content-Type: application/json", "Transfer-Encoding: chunked"})));
    ASSERT_TRUE(s.Readable(kLiveness)) << "no answer to a chunked upload before its body";
    bool closed = false;
    EXPECT_TRUE(IsJsonError(FirstAnswer(s.ReadToEnd(kLiveness, &closed)), 411, "length_required"));
    EXPECT_TRUE(closed);
  }
  Socket s(port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.Send(Head("POST", "/api/v1/containers", {"Content-Type: application/json"})));
  const std::string piece(64 << 10, 'a');
  size_t sent = 0;
  // As fast as it goes, reading what answers come between pieces, until
  // the connection is cut off.
  std::string raw;
  bool open = true;
  while (sent < kTenMegabytes && raw.find("\"headers_too_large\"") == std::string::npos &&
         (open = s.ReadAvailable(&raw)) && s.Send(piece)) {
    sent += piece.size();
  }
  bool closed = !open;
  if (open) raw += s.ReadToEnd(kLiveness, &closed);
  // The bodiless POST's 401 may be lost (still queued when the client is cut
  // off); the cut-off is what counts.
  EXPECT_NE(raw.find("\"headers_too_large\""), std::string::npos) << raw.substr(0, 600);
  EXPECT_TRUE(closed);
  EXPECT_LT(sent, kTenMegabytes) << "no answer before the whole junk body was sent";
}

// Finding 3: a bad Content-Length is a JSON 400 (or 413), not a plain-text
// 500 of Pistache's, with or without the token.
TEST_F(ApiHardeningTest, BadContentLengthIsAJsonError) {
  struct Case {
    const char* length;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {"999999999999", 413, "payload_too_large"},
      {"-5", 400, "invalid_argument"},
      {"9223372036854775808", 400, "invalid_argument"},
      {"18446744073709551615", 400, "invalid_argument"},
      {"abc", 400, "invalid_argument"},
      {"1 2", 400, "invalid_argument"},
      {"0x10", 400, "invalid_argument"},
  };
  for (bool with_token : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.length) + (with_token ? " with the token" : " without a token"));
      Socket s(port());
      ASSERT_TRUE(s.ok());
      std::vector<std::string> fields = {"Content-Type: application/json",
                                         std::string("Content-Length: ") + c.length};
      if (with_token) fields.push_back(Bearer());
      ASSERT_TRUE(s.Send(Head("POST", "/api/v1/containers", fields) + "{}"));
      bool closed = false;
      EXPECT_TRUE(IsJsonError(FirstAnswer(s.ReadToEnd(kLiveness, &closed)), c.status, c.code));
      EXPECT_TRUE(closed);
    }
  }
  // Two lengths: refused rather than guessed between.
  HttpReply r =
      daemon_->Api().SendRaw("POST", "/api/v1/containers", "",
                             {"Content-Type: application/json", "Content-Length: 2", "Content-Length: 900"});
  EXPECT_TRUE(IsApiError(r, 400, "invalid_argument")) << r;
  // Pistache's own parse errors come as JSON too.
  r = daemon_->Api().SendRaw("GET", "/api/v1/containers", "", {"Content-Type: garbage"});
  EXPECT_TRUE(IsApiError(r, 415, "unsupported_media_type")) << r;
}

// Finding 10a: without the token, /metrics does not tell which routes exist.
TEST_F(ApiHardeningTest, UnauthenticatedRequestsAreOneRouteInTheMetrics) {
  ApiClient anonymous = daemon_->Api().WithoutToken();
  EXPECT_EQ(anonymous.Get("/api/v1/containers/abcd/logs").status, 401);
  EXPECT_EQ(anonymous.Post("/api/v1/images/prune").status, 401);
  EXPECT_EQ(anonymous.Get("/api/v1/no/such/route").status, 401);
  HttpReply metrics = anonymous.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  bool unauthenticated_seen = false;
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("code=\"401\"") == std::string::npos) continue;
    EXPECT_NE(line.find("route=\"unauthenticated\""), std::string::npos) << line;
    unauthenticated_seen = true;
  }
  EXPECT_TRUE(unauthenticated_seen) << metrics.body;
  EXPECT_EQ(metrics.body.find("/api/v1/containers/:id/logs"), std::string::npos);
  EXPECT_EQ(metrics.body.find("/api/v1/images/prune"), std::string::npos);
}

// Findings 1 and 2 together, as the probe did: thousands of idle
// connections (more than slipwayd keeps) and eight clients streaming 10 MB
// bodies, all without the token; meanwhile /healthz, an authenticated list
// and `slipway ps` are answered, and slipwayd's descriptors stay capped.
// bench/api_flood.sh runs the full size (20,000 connections) and measures.
TEST_F(ApiHardeningTest, FloodOfIdleConnectionsAndLargeBodiesDoesNotLockOutClients) {
  RaiseOpenFileLimit();
  constexpr int kIdle = 4 * kMaxConnections;
  std::vector<Socket> idle;
  idle.reserve(kIdle);
  for (int i = 0; i < kIdle; ++i) {
    Socket s(port());
    if (s.ok()) idle.push_back(std::move(s));
  }
  EXPECT_GT(idle.size(), size_t{kMaxConnections}) << "could not even open the flood";

  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> uploaders;
  for (int i = 0; i < 8; ++i) {
    uploaders.emplace_back([&] {
      while (!stop) {
        Upload up = SendLargeBody(port(), kTenMegabytes, {});
        if (FirstAnswer(up.answer).status == 413) ++refused;
      }
    });
  }
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Socket s(port());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.Send(Head("GET", "/healthz", {"Connection: close"})));
    bool closed = false;
    std::string raw = s.ReadToEnd(kLiveness, &closed);
    EXPECT_EQ(FirstAnswer(raw).status, 200) << raw;

    HttpReply list = daemon_->Api().Get("/api/v1/containers");
    EXPECT_EQ(list.status, 200) << list;
    Outcome ps = daemon_->Cli({"ps"}, {}, seconds(30));
    EXPECT_EQ(ps.code, 0) << ps;
    EXPECT_FALSE(ps.hung);
  }
  // The cap holds: no descriptor flood inside slipwayd.
  EXPECT_LT(OpenDescriptors(daemon_->pid()), size_t{kMaxConnections} + 256u);
  stop = true;
  for (std::thread& t : uploaders) t.join();
  EXPECT_GT(refused.load(), 0);
}

// An ended container kept until `rm` holds no descriptor in slipwayd: under
// a 160-descriptor limit, 87 of 200 runs once failed with "Too many open
// files" because each kept an eventfd.
TEST(EndedContainersTest, HoldNoDescriptorsInTheDaemon) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = {160, saved.rlim_max};  // the soft limit, which slipwayd keeps
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);  // slipwayd inherits it
  auto daemon = std::make_unique<DaemonUnderTest>();
  auto started = daemon->Start();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  {
    // The limit the test is about really is slipwayd's.
    std::ifstream limits("/proc/" + std::to_string(daemon->pid()) + "/limits");
    std::string line, soft;
    while (std::getline(limits, line)) {
      if (line.rfind("Max open files", 0) == 0) std::istringstream(line.substr(14)) >> soft;
    }
    ASSERT_EQ(soft, "160");
  }
  ASSERT_TRUE(started) << started.message();
  ASSERT_FALSE(daemon->ImportBusybox("busybox").empty());
  size_t before = OpenDescriptors(daemon->pid());
  for (int i = 0; i < 200; ++i) {
    std::string id = daemon->CreateAndStart({{"image", "busybox"}, {"command", {"true"}}});
    ASSERT_FALSE(id.empty()) << "run " << i;
    nlohmann::json ended = daemon->WaitFor(id);
    ASSERT_EQ(ended.value("exit_code", -1), 0) << "run " << i << ": " << ended.dump();
  }
  EXPECT_EQ(daemon->List(/*all=*/true).size(), 200u);
  // Some slack for the HTTP connections of this very test.
  EXPECT_LE(OpenDescriptors(daemon->pid()), before + 8) << "ended containers hold descriptors";
  daemon->RemoveAll();
}

// Slow clients get their time limits; a daemon with short ones.
class ApiTimeoutsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonUnderTest>(std::vector<std::string>{
        "--api-header-timeout", "1s", "--api-body-timeout", "1s", "--api-idle-timeout", "1s"});
    ASSERT_TRUE(daemon_->Start());
  }
  std::unique_ptr<DaemonUnderTest> daemon_;
};

TEST_F(ApiTimeoutsTest, SlowClientsAreCutOff) {
  const int port = daemon_->port();
  {
    SCOPED_TRACE("headers that never end");
    Socket s(port);
    ASSERT_TRUE(s.Send("GET /api/v1/containers HTTP/1.1\r\nHost: x\r\nX-Slow: a"));
    bool closed = false;
    std::string raw = s.ReadToEnd(kLiveness, &closed);
    EXPECT_TRUE(IsJsonError(FirstAnswer(raw), 408, "request_timeout")) << raw;
    EXPECT_TRUE(closed);
  }
  {
    SCOPED_TRACE("a body that never ends");
    Socket s(port);
    ASSERT_TRUE(s.Send(Head("POST", "/api/v1/containers",
                            {"Authorization: Bearer " + daemon_->Token(), "Content-Type: application/json",
                             "Content-Length: 100"}) +
                       "{\"image\":"));
    bool closed = false;
    std::string raw = s.ReadToEnd(kLiveness, &closed);
    EXPECT_TRUE(IsJsonError(FirstAnswer(raw), 408, "request_timeout")) << raw;
    EXPECT_TRUE(closed);
  }
  {
    SCOPED_TRACE("a connection that says nothing");
    Socket s(port);
    bool closed = false;
    EXPECT_EQ(s.ReadToEnd(kLiveness, &closed), "");
    EXPECT_TRUE(closed);
  }
  {
    SCOPED_TRACE("a kept-alive connection after its answer");
    Socket s(port);
    ASSERT_TRUE(s.Send(Head("GET", "/healthz", {"Connection: keep-alive"})));
    bool closed = false;
    std::string raw = s.ReadToEnd(kLiveness, &closed);
    EXPECT_EQ(FirstAnswer(raw).status, 200) << raw;
    EXPECT_TRUE(closed);
  }
}

}  // namespace
}  // namespace slipway::testing

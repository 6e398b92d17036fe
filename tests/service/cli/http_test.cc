// slipway's HTTP client (service/cli/http.h) against a real TCP server on
// loopback that answers with scripted bytes: the framings slipwayd uses
// (Content-Length, chunked in pieces, until close), what a broken or
// hostile server might send (a huge head, an absurd chunk size, a body cut
// short, silence), Abort() from another thread during a blocked read, and
// requests that would split into two (CR/LF in the target or a header),
// which must be refused before anything is sent; and the connection kept
// from one request to the next, given up whenever it cannot be trusted
// (the server closes it, before, during or instead of answering).
#include "service/cli/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fd.h"

namespace slipway::cli {
namespace {

using std::chrono::milliseconds;

// A TCP socket listening on 127.0.0.1 at a free port, which goes to `port`.
UniqueFd ListenOnLoopback(int* port) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return listener;
}

// Accepts one connection, reads the request head (and a Content-Length
// body), then writes `pieces` with a pause between them, then closes
// (unless `hold`, which keeps the connection open until the test ends).
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> pieces, bool hold = false)
      : pieces_(std::move(pieces)), hold_(hold) {
    listener_ = ListenOnLoopback(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    done_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }

  HttpEndpoint endpoint() const { return {"127.0.0.1", port_}; }
  // The request as received (valid once Send() returned).
  std::string request() const { return request_; }
  bool accepted() const { return accepted_; }

 private:
  void Serve() {
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    accepted_ = true;
    char buf[4096];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(conn.get(), buf, sizeof buf);
      if (n <= 0) return;
      request_.append(buf, static_cast<size_t>(n));
    }
    for (const std::string& p : pieces_) {
      if (::send(conn.get(), p.data(), p.size(), MSG_NOSIGNAL) < 0) return;
      std::this_thread::sleep_for(milliseconds(20));
    }
    while (hold_ && !done_) std::this_thread::sleep_for(milliseconds(10));
  }

  std::vector<std::string> pieces_;
  bool hold_;
  std::atomic<bool> done_ = false, accepted_ = false;
  UniqueFd listener_;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

struct Got {
  Result<int> status = 0;
  std::string body;
  int calls = 0;
};

Got Send(HttpClient& client, const HttpRequest& request) {
  Got got;
  got.status = client.Send(request, [&](int, std::string_view data) {
    got.body.append(data);
    ++got.calls;
    return true;
  });
  return got;
}

Got Get(const ScriptedServer& server, int read_timeout_ms = 5000) {
  HttpClient client(server.endpoint(), 5000);
  return Send(client, {"GET", "/api/v1/version", {{"Authorization", "Bearer t"}}, "", read_timeout_ms});
}

TEST(HttpClientTest, ContentLengthBodyAndTheRequestSent) {
  ScriptedServer server(
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhel", "lo"});
  HttpClient client(server.endpoint(), 5000);
  Got got = Send(client, {"POST", "/api/v1/containers", {{"Content-Type", "application/json"}}, "{}", 5000});
  ASSERT_TRUE(got.status.ok()) << got.status.status().ToString();
  EXPECT_EQ(*got.status, 200);
  EXPECT_EQ(got.body, "hello");
  std::string req = server.request();
  EXPECT_TRUE(req.starts_with("POST /api/v1/containers HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("\r\nContent-Length: 2\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:"), std::string::npos) << req;
}

TEST(HttpClientTest, ChunkedBodyArrivesPieceByPiece) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nfirst\r\n",
                         "6;ext=1\r\nsecond\r\n", "0\r\nTrailer: x\r\n\r\n"});
  Got got = Get(server);
  ASSERT_TRUE(got.status.ok()) << got.status.status().ToString();
  EXPECT_EQ(got.body, "firstsecond");
  EXPECT_GE(got.calls, 2) << "handed over as it came, not at the end";
}

TEST(HttpClientTest, BodyUntilCloseAndNoBodyFor204) {
  {
    ScriptedServer server({"HTTP/1.0 404 Not Found\r\n\r\n{\"error\":", "{}}"});
    Got got = Get(server);
    ASSERT_TRUE(got.status.ok()) << got.status.status().ToString();
    EXPECT_EQ(*got.status, 404);
    EXPECT_EQ(got.body, "{\"error\":{}}");
  }
  {
    ScriptedServer server({"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"}, /*hold=*/true);
    Got got = Get(server);
    ASSERT_TRUE(got.status.ok()) << got.status.status().ToString();
    EXPECT_EQ(*got.status, 204);
    EXPECT_EQ(got.body, "");
  }
}

TEST(HttpClientTest, ABrokenOrHostileServerIsAnErrorNotACrash) {
  const std::vector<std::vector<std::string>> answers = {
      {"SSH-2.0-OpenSSH\r\n\r\n"},
      {"HTTP/1.1 2x0 OK\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc"},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a')},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(70 * 1024, '1')},
      {"HTTP/1.1 200"},
      {},
  };
  for (const auto& answer : answers) {
    ScriptedServer server(answer);
    Got got = Get(server);
    const std::string what = answer.empty() ? "(closed at once)" : answer[0].substr(0, 80);
    ASSERT_FALSE(got.status.ok()) << what;
    EXPECT_EQ(got.status.status().code(), Code::kInternal) << what << ": " << got.status.status().ToString();
  }
}

TEST(HttpClientTest, SilenceTimesOut) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"}, /*hold=*/true);
  Got got = Get(server, /*read_timeout_ms=*/200);
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.status().code(), Code::kInternal);
  EXPECT_NE(got.status.status().message().find("timed out"), std::string::npos)
      << got.status.status().ToString();
  EXPECT_EQ(got.body, "ab");
}

TEST(HttpClientTest, AbortEndsABlockedReadAndEveryLaterSend) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n"}, /*hold=*/true);
  HttpClient client(server.endpoint(), 5000);
  std::thread aborter([&] {
    std::this_thread::sleep_for(milliseconds(300));
    client.Abort();
  });
  Got got = Send(client, {"POST", "/api/v1/containers/x/attach", {}, "", -1});  // no read timeout
  aborter.join();
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.status().code(), Code::kDeadlineExceeded) << got.status.status().ToString();
  EXPECT_EQ(got.body, "hi");
  Got later = Send(client, {"GET", "/x", {}, "", 1000});
  EXPECT_EQ(later.status.status().code(), Code::kDeadlineExceeded);
}

TEST(HttpClientTest, ARequestThatWouldSplitIsRefusedUnsent) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  HttpClient client(server.endpoint(), 5000);
  const std::vector<HttpRequest> bad = {
      {"GET", "/a\r\nX-Injected: 1", {}, "", 1000},
      {"GET", "/a HTTP/1.1\r\n\r\nGET /b", {}, "", 1000},
      {"GET", "/a", {{"Authorization", "Bearer t\r\nX-Injected: 1"}}, "", 1000},
      {"GET", "/a", {{"X\nY", "v"}}, "", 1000},
      {"GET", "/a", {{"Authorization", std::string("Bearer t\0x", 10)}}, "", 1000},
      {"GET\r\n", "/a", {}, "", 1000},
  };
  for (const HttpRequest& r : bad) {
    Got got = Send(client, r);
    EXPECT_EQ(got.status.status().code(), Code::kInvalidArgument) << r.target;
  }
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_FALSE(server.accepted()) << "a refused request still connected";
}

TEST(HttpClientTest, NobodyListeningIsUnavailable) {
  int port;
  {
    ScriptedServer server({});
    port = server.endpoint().port;
    HttpClient warm(server.endpoint(), 1000);
    (void)Send(warm, {"GET", "/", {}, "", 1000});  // let it accept and close
  }
  HttpClient client({"127.0.0.1", port}, 1000);
  Got got = Send(client, {"GET", "/", {}, "", 1000});
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.status().code(), Code::kUnavailable) << got.status.status().ToString();
}

// --- Connections kept between requests ---------------------------------------

// What a KeptServer does with the n-th request it reads (counted over all
// its connections).
struct Answer {
  std::string bytes;        // written back
  bool close_after = false; // then the connection is closed
};

// Accepts connections one after another and answers each request on them
// (head and Content-Length body read) as `answers` says, in order; a
// request beyond the script is read and the connection closed unanswered.
class KeptServer {
 public:
  explicit KeptServer(std::vector<Answer> answers) : answers_(std::move(answers)) {
    listener_ = ListenOnLoopback(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~KeptServer() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }

  HttpEndpoint endpoint() const { return {"127.0.0.1", port_}; }
  int connections() const { return connections_; }
  // The connection (1, 2, ...) each request arrived on.
  std::vector<int> request_connections() const {
    std::lock_guard lock(mu_);
    return request_connections_;
  }

 private:
  void Serve() {
    size_t next = 0;
    for (;;) {
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) return;
      const int number = ++connections_;
      std::string in;
      for (bool open = true; open;) {
        size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos) {
          char buf[4096];
          ssize_t n = ::read(conn.get(), buf, sizeof buf);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        if (end == std::string::npos) break;  // the client closed
        size_t body = 0;
        if (size_t at = in.find("Content-Length: "); at != std::string::npos && at < end)
          body = std::stoul(in.substr(at + 16));
        in.erase(0, end + 4 + body);  // the whole body came in the same read: requests here are small
        {
          std::lock_guard lock(mu_);
          request_connections_.push_back(number);
        }
        if (next >= answers_.size()) break;
        const Answer& a = answers_[next++];
        if (!a.bytes.empty() && ::send(conn.get(), a.bytes.data(), a.bytes.size(), MSG_NOSIGNAL) < 0) break;
        open = !a.close_after;
      }
    }
  }

  std::vector<Answer> answers_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<int> connections_ = 0;
  mutable std::mutex mu_;
  std::vector<int> request_connections_;
  std::thread thread_;
};

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(HttpClientTest, RequestsShareOneConnection) {
  KeptServer server({{kOk}, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"}, {kOk}});
  HttpClient client(server.endpoint(), 5000);
  for (const char* want : {"ok", "hi", "ok"}) {
    Got got = Send(client, {"POST", "/api/v1/containers", {}, "{}", 5000});
    ASSERT_TRUE(got.status.ok()) << got.status.status().ToString();
    EXPECT_EQ(got.body, want);
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 1, 1}));
}

// A response that says it closes, or is delimited only by the close, or
// that the receiver stopped reading, leaves nothing to reuse.
TEST(HttpClientTest, AConnectionThatCannotGoOnIsNotReused) {
  KeptServer server({{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
                     {"HTTP/1.1 200 OK\r\n\r\nuntil-close", /*close_after=*/true},
                     {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"},
                     {kOk}});
  HttpClient client(server.endpoint(), 5000);
  EXPECT_EQ(Send(client, {"GET", "/a", {}, "", 5000}).body, "ok");
  EXPECT_EQ(Send(client, {"GET", "/b", {}, "", 5000}).body, "until-close");
  Result<int> stopped = client.Send({"GET", "/c", {}, "", 5000}, [](int, std::string_view) { return false; });
  EXPECT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(Send(client, {"GET", "/d", {}, "", 5000}).body, "ok");
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 2, 3, 4}));
}

// The server closes the kept connection while it is idle (its idle
// timeout): the next request notices before sending and connects anew.
TEST(HttpClientTest, AConnectionClosedWhileIdleIsReplaced) {
  KeptServer server({{kOk, /*close_after=*/true}, {kOk}});
  HttpClient client(server.endpoint(), 5000);
  EXPECT_EQ(Send(client, {"POST", "/a", {}, "{}", 5000}).body, "ok");
  std::this_thread::sleep_for(milliseconds(100));  // the close has arrived
  Got second = Send(client, {"POST", "/b", {}, "{}", 5000});
  ASSERT_TRUE(second.status.ok()) << second.status.status().ToString();
  EXPECT_EQ(second.body, "ok");
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 2}));
}

// The close crosses the request: the server read it and closed without a
// byte of answer, as an idle close does. The request goes again, once, on a
// new connection.
TEST(HttpClientTest, ARequestTheKeptConnectionDroppedUnansweredGoesAgainOnce) {
  KeptServer server({{kOk}, {"", /*close_after=*/true}, {kOk}});
  HttpClient client(server.endpoint(), 5000);
  EXPECT_EQ(Send(client, {"POST", "/a", {}, "{}", 5000}).body, "ok");
  Got second = Send(client, {"POST", "/b", {}, "{}", 5000});
  ASSERT_TRUE(second.status.ok()) << second.status.status().ToString();
  EXPECT_EQ(second.body, "ok");
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 1, 2}));
}

// Part of an answer came: the request was taken, and is not sent again.
// Nor is one on a new connection, whatever happens to it.
TEST(HttpClientTest, ARequestPartlyAnsweredOrOnANewConnectionIsNeverSentAgain) {
  KeptServer server({{kOk}, {"HTTP/1.1 200 OK\r\nContent-Le", /*close_after=*/true}, {"", true}});
  HttpClient client(server.endpoint(), 5000);
  EXPECT_EQ(Send(client, {"POST", "/a", {}, "{}", 5000}).body, "ok");
  Got cut = Send(client, {"POST", "/b", {}, "{}", 5000});
  EXPECT_EQ(cut.status.status().code(), Code::kInternal) << cut.status.status().ToString();
  Got dropped = Send(client, {"POST", "/c", {}, "{}", 5000});
  EXPECT_EQ(dropped.status.status().code(), Code::kInternal) << dropped.status.status().ToString();
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1, 1, 2}));
}

// Abort() between two requests: the second is not sent on the kept
// connection either.
TEST(HttpClientTest, AbortStopsTheNextRequestOnTheKeptConnection) {
  KeptServer server({{kOk}, {kOk}});
  HttpClient client(server.endpoint(), 5000);
  EXPECT_EQ(Send(client, {"POST", "/a", {}, "{}", 5000}).body, "ok");
  client.Abort();
  Got later = Send(client, {"POST", "/b", {}, "{}", 5000});
  EXPECT_EQ(later.status.status().code(), Code::kDeadlineExceeded);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(server.request_connections(), (std::vector<int>{1}));
}

}  // namespace
}  // namespace slipway::cli

// ConnectionTable: the API's connection cap, making room and timeouts, on
// real sockets (socketpairs: the table shuts down one end, the test reads
// the other) and a clock the test moves. No daemon, no root.
#include "service/daemon/connection_table.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "service/daemon/metrics.h"

namespace slipway::daemon::api {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kHeader{1000};
constexpr milliseconds kBody{2000};
constexpr milliseconds kIdle{3000};

// One connection as the table sees it (`server`) and as its client does.
struct Socket {
  int server = -1;
  int client = -1;
  ~Socket() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};

class ConnectionTableTest : public ::testing::Test {
 protected:
  ConnectionTable& Table(int max_connections) {
    table_ = std::make_unique<ConnectionTable>(ConnectionLimits{max_connections, kHeader, kBody, kIdle},
                                               metrics_, [this] { return now_; });
    return *table_;
  }

  // A new socketpair, accepted by the table.
  ConnectionPtr Accept(Socket* socket) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0) << "socketpair: " << errno;
    socket->server = fds[0];
    socket->client = fds[1];
    return table_->Accept(socket->server);
  }

  // A new connection that has sent the first byte of a request.
  ConnectionPtr AcceptTalking(Socket* socket) {
    ConnectionPtr conn = Accept(socket);
    EXPECT_TRUE(conn && table_->Input(conn));
    return conn;
  }

  // Sweeps `limit` from now, having swept 1 ms before it: then nothing may
  // have happened.
  std::vector<ConnectionPtr> SweepAt(milliseconds limit) {
    now_ += limit - milliseconds(1);
    const int open = table_->open();
    EXPECT_TRUE(table_->Sweep().empty());
    EXPECT_EQ(table_->open(), open);
    now_ += milliseconds(1);
    return table_->Sweep();
  }

  // Whether the server's end still takes input: a lingering connection
  // does (shut for writing only), a closed one does not (EPIPE).
  static bool Reads(const Socket& socket) {
    return ::send(socket.client, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
  }

  // What the client reads until the end of input, or "<open>" if the
  // server's end was not shut down (nothing to read, no end yet).
  static std::string ReadAll(const Socket& socket) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(socket.client, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return out;
      if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? out + "<open>" : "<error>";
      out.append(buf, static_cast<size_t>(n));
    }
  }

  uint64_t ClosedFor(const std::string& reason) const {
    return metrics_.api_connections_closed.value({reason});
  }

  Metrics metrics_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
  std::unique_ptr<ConnectionTable> table_;
};

TEST_F(ConnectionTableTest, MakesRoomByClosingTheQuietestIdleConnection) {
  ConnectionTable& table = Table(2);
  Socket a, b, c;
  ConnectionPtr ca = Accept(&a);
  ConnectionPtr cb = Accept(&b);
  ASSERT_TRUE(ca && cb);
  now_ += milliseconds(10);
  ASSERT_TRUE(table.Input(ca));  // a spoke last: b is now the quietest
  ConnectionPtr cc = Accept(&c);
  ASSERT_TRUE(cc);
  EXPECT_EQ(ReadAll(b), "");  // shut down
  EXPECT_EQ(ReadAll(a), "<open>");
  EXPECT_EQ(ReadAll(c), "<open>");
  EXPECT_EQ(ClosedFor("evicted"), 1u);
  EXPECT_EQ(table.open(), 2);
  EXPECT_EQ(metrics_.api_connections.value(), 2);
}

TEST_F(ConnectionTableTest, NeverEvictsAConnectionBeingAnswered) {
  ConnectionTable& table = Table(2);
  Socket a, b, c;
  ConnectionPtr ca = Accept(&a);
  ConnectionPtr cb = Accept(&b);
  ASSERT_TRUE(table.BeginAnswer(ca));  // a is quietest of the two, but busy
  ASSERT_TRUE(Accept(&c));
  EXPECT_EQ(ReadAll(a), "<open>");
  EXPECT_EQ(ReadAll(b), "");
}

TEST_F(ConnectionTableTest, RefusesANewConnectionWhenAllAreBeingAnswered) {
  ConnectionTable& table = Table(1);
  Socket a, b;
  ConnectionPtr ca = Accept(&a);
  ASSERT_TRUE(table.BeginAnswer(ca));
  EXPECT_EQ(Accept(&b), nullptr);
  EXPECT_EQ(ReadAll(b), "");
  EXPECT_EQ(ReadAll(a), "<open>");
  EXPECT_EQ(ClosedFor("over_limit"), 1u);
  EXPECT_EQ(table.open(), 1);
  // Once answered, a is idle again and makes room.
  table.EndAnswer(ca);
  Socket c;
  EXPECT_TRUE(Accept(&c));
  EXPECT_EQ(ReadAll(a), "");
  EXPECT_EQ(ClosedFor("evicted"), 1u);
}

TEST_F(ConnectionTableTest, ARefusedConnectionIsTheFirstToGo) {
  ConnectionTable& table = Table(2);
  Socket a, b, c;
  ConnectionPtr ca = Accept(&a);
  ConnectionPtr cb = Accept(&b);
  now_ += milliseconds(10);
  ASSERT_TRUE(table.Input(cb));
  ASSERT_TRUE(table.Input(ca));  // b is the quietest now...
  ASSERT_TRUE(table.Refuse(cb, "", false));
  ASSERT_TRUE(table.Refuse(ca, "HTTP/1.1 400 Bad Request\r\n\r\n", false));  // ...but a was refused last
  // Answered and shut for writing, but still read (lingering): what the
  // client still sends does not reset the connection.
  EXPECT_EQ(ReadAll(a), "HTTP/1.1 400 Bad Request\r\n\r\n");
  EXPECT_TRUE(Reads(a));
  EXPECT_TRUE(Reads(b));
  ASSERT_TRUE(Accept(&c));
  EXPECT_EQ(ClosedFor("evicted"), 1u);
  EXPECT_FALSE(Reads(a));
  EXPECT_TRUE(Reads(b));
  // Both refused ones went before the idle c.
  Socket d;
  ASSERT_TRUE(Accept(&d));
  EXPECT_EQ(ClosedFor("evicted"), 2u);
  EXPECT_FALSE(Reads(b));
  EXPECT_EQ(ReadAll(c), "<open>");
  EXPECT_EQ(ReadAll(d), "<open>");
}

TEST_F(ConnectionTableTest, LingeringConnectionsDropInputAndCloseAfterTheLinger) {
  ConnectionTable& table = Table(8);
  Socket a;
  ConnectionPtr ca = AcceptTalking(&a);
  ASSERT_TRUE(table.Refuse(ca, "no", false));
  EXPECT_FALSE(table.Input(ca));                   // dropped
  EXPECT_FALSE(table.Refuse(ca, "again", false));  // refused once only
  EXPECT_FALSE(table.BeginAnswer(ca));
  EXPECT_TRUE(SweepAt(kLinger).empty());
  EXPECT_EQ(ClosedFor("refused"), 1u);
  EXPECT_EQ(ReadAll(a), "no");
  EXPECT_EQ(table.open(), 0);
}

TEST_F(ConnectionTableTest, OnlyReadingRefusalsSpareARequestBeingAnswered) {
  ConnectionTable& table = Table(8);
  Socket a;
  ConnectionPtr ca = AcceptTalking(&a);
  ASSERT_TRUE(table.BeginAnswer(ca));
  EXPECT_FALSE(table.Refuse(ca, "408", /*only_reading=*/true));
  EXPECT_EQ(ReadAll(a), "<open>");
  // A refusal while answering (the client sent junk early) writes nothing,
  // so as not to cut into the answer, and the connection lingers.
  EXPECT_TRUE(table.Refuse(ca, "400", /*only_reading=*/false));
  EXPECT_EQ(ReadAll(a), "<open>");
  EXPECT_EQ(table.PhaseOf(ca), Phase::kLinger);
}

TEST_F(ConnectionTableTest, HeaderTimeout) {
  ConnectionTable& table = Table(8);
  Socket silent, slow;
  ConnectionPtr cs = Accept(&silent);
  ConnectionPtr cw = Accept(&slow);
  ASSERT_TRUE(table.Input(cw));  // a byte came, the head did not
  std::vector<ConnectionPtr> late = SweepAt(kHeader);
  // The one that said something is owed a 408; the silent one is just closed.
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0], cw);
  EXPECT_EQ(ClosedFor("idle"), 1u);
  EXPECT_EQ(ReadAll(silent), "");
  EXPECT_EQ(ReadAll(slow), "<open>");
}

TEST_F(ConnectionTableTest, BodyTimeoutCountsFromTheHead) {
  ConnectionTable& table = Table(8);
  Socket a;
  ConnectionPtr ca = AcceptTalking(&a);
  now_ += kHeader - milliseconds(1);
  table.StartBody(ca);
  EXPECT_EQ(table.PhaseOf(ca), Phase::kBody);
  std::vector<ConnectionPtr> late = SweepAt(kBody);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0], ca);
}

TEST_F(ConnectionTableTest, IdleTimeoutAfterAnAnswerAndNoneWhileAnswering) {
  ConnectionTable& table = Table(8);
  Socket a;
  ConnectionPtr ca = AcceptTalking(&a);
  ASSERT_TRUE(table.BeginAnswer(ca));
  now_ += std::chrono::hours(48);  // a long wait or stream: no timeout applies
  EXPECT_TRUE(table.Sweep().empty());
  EXPECT_EQ(ReadAll(a), "<open>");
  table.EndAnswer(ca);
  EXPECT_EQ(table.PhaseOf(ca), Phase::kIdle);
  now_ += kIdle - milliseconds(1);
  EXPECT_TRUE(table.Sweep().empty());
  // The next request's first byte restarts the clock, as a head.
  ASSERT_TRUE(table.Input(ca));
  EXPECT_EQ(table.PhaseOf(ca), Phase::kHead);
  table.BeginAnswer(ca);
  table.EndAnswer(ca);
  EXPECT_TRUE(SweepAt(kIdle).empty());
  EXPECT_EQ(ClosedFor("idle"), 1u);
  EXPECT_EQ(ReadAll(a), "");
}

TEST_F(ConnectionTableTest, AConnectionPistacheDroppedIsNeverShutDownAgain) {
  ConnectionTable& table = Table(1);
  Socket a, b;
  ConnectionPtr ca = Accept(&a);
  table.Closed(ca);  // its descriptor may be reused from now on
  EXPECT_EQ(table.open(), 0);
  EXPECT_EQ(metrics_.api_connections.value(), 0);
  ASSERT_TRUE(Accept(&b));  // room without evicting anyone
  EXPECT_EQ(ClosedFor("evicted"), 0u);
  EXPECT_FALSE(table.Refuse(ca, "late", false));
  EXPECT_TRUE(table.Sweep().empty());
  EXPECT_EQ(ReadAll(a), "<open>");  // untouched
}

TEST_F(ConnectionTableTest, SetMaxConnectionsLowersTheCap) {
  ConnectionTable& table = Table(4);
  table.SetMaxConnections(1);
  EXPECT_EQ(table.max_connections(), 1);
  Socket a, b;
  ConnectionPtr ca = Accept(&a);
  ASSERT_TRUE(Accept(&b));
  EXPECT_EQ(ReadAll(a), "");
  EXPECT_EQ(ClosedFor("evicted"), 1u);
}

}  // namespace
}  // namespace slipway::daemon::api

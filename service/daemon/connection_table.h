// ConnectionTable: the API server's open connections and their limits
// (docs/api.md, "Connections and limits"; the policy is told in
// api_server.h). It knows descriptors, not Pistache: the server's handler
// tells it what happens on a connection, and it shuts a connection down
// (shutdown(2)) when it is to be closed, so that the reactor sees the end of
// input and drops it.
//
// Contract:
// - No more than max_connections are open at once. A new one beyond that
//   closes the connection that has been quiet longest ("evicted"); with
//   none quiet (every one is being answered) the new one is refused
//   ("over_limit").
// - Quiet connections (no reply in progress) are kept least recently active
//   first; a refused one (lingering) is moved to the front.
// - Sweep() applies header_timeout (kHead: 408, or a silent close "idle" if
//   not a byte came), body_timeout (kBody: 408), idle_timeout (kIdle: closed
//   "idle") and the lingering of refused ones (closed "refused"). The
//   connections that are owed a 408 are returned; the caller refuses them.
// - A shutdown(2) is made only under the table's lock, on a connection that
//   Pistache has not dropped yet (Closed), so it never hits a reused
//   descriptor.
// Every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "service/daemon/metrics.h"
#include "service/daemon/principal.h"

namespace slipway::daemon::api {

using Clock = std::chrono::steady_clock;

// How long a refused request's connection is still read (and what comes
// dropped) after the answer went out, before it is closed: closing with
// unread data sends a reset, which can destroy the answer before the client
// read it (Apache's and nginx's "lingering close").
constexpr auto kLinger = std::chrono::seconds(2);

// Where a connection's current request is.
enum class Phase {
  kHead,       // reading a request line and headers (header_timeout)
  kBody,       // reading a body (body_timeout)
  kAnswering,  // a request of it is being answered (no timeout)
  kIdle,       // kept alive between requests (idle_timeout)
  kLinger,     // refused: dropping input until closed (kLinger)
};

// One accepted connection.
struct Connection {
  Connection(int f, Clock::time_point now) : fd(f), since(now) {}

  const int fd;

  // The reactor thread's own (HttpHandler::onInput).
  std::string head;        // the current request's head, as far as it came
  size_t scanned = 0;      // how far `head` was searched for its end
  uint64_t body_left = 0;  // body bytes still to come
  // Bytes of the webhook budget (Server::ReserveUnverifiedBody) held for the
  // body being read without the token; given back once it is answered or
  // the connection goes.
  uint64_t unverified_body = 0;
  // Who the current request is, resolved from its head before its body is
  // read (Server::Resolve), for the server to use once it is whole.
  Principal principal;

  // Guarded by ConnectionTable::mu_.
  Phase phase = Phase::kHead;
  Clock::time_point since;  // when the phase began; kLinger: when it ends
  bool started = false;     // a byte of the current request arrived
  int answering = 0;        // replies of it not yet finished
  bool open = true;         // false once Pistache dropped it (its fd may be reused)
  bool closing = false;     // shut down by us, or gone
  bool quiet = false;       // in ConnectionTable::quiet_ (then `pos` is valid)
  std::list<std::shared_ptr<Connection>>::iterator pos;
};

using ConnectionPtr = std::shared_ptr<Connection>;

struct ConnectionLimits {
  int max_connections = 4096;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
};

class ConnectionTable {
 public:
  // `now` is the clock (steady_clock::now but in tests). Metrics:
  // api_connections and api_connections_closed{reason}.
  ConnectionTable(ConnectionLimits limits, Metrics& metrics,
                  std::function<Clock::time_point()> now = Clock::now);
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // Lowers the cap (the server does so from RLIMIT_NOFILE before serving).
  void SetMaxConnections(int max_connections);
  int max_connections() const;
  // Connections accepted and not closing.
  int open() const;

  // A new connection: its record, or null if it was refused (shut down)
  // because max_connections are open and none is quiet.
  ConnectionPtr Accept(int fd);
  // Pistache dropped the connection.
  void Closed(const ConnectionPtr& conn);
  // Bytes arrived: false if they are to be dropped (lingering, closing).
  bool Input(const ConnectionPtr& conn);
  // The head is in; the body is next.
  void StartBody(const ConnectionPtr& conn);
  // A whole request is about to be answered: false if it must not be (the
  // connection was refused or closed meanwhile).
  bool BeginAnswer(const ConnectionPtr& conn);
  // Its reply is done. A null `conn` is ignored.
  void EndAnswer(const ConnectionPtr& conn);
  // Writes `answer` (a whole HTTP response) and makes the connection linger
  // until it is closed. False if it was not refused: closing or lingering
  // already, or, with `only_reading`, a request of it is being answered.
  bool Refuse(const ConnectionPtr& conn, std::string_view answer, bool only_reading);
  // Applies the timeouts; returns the connections owed a 408.
  std::vector<ConnectionPtr> Sweep();
  // The phase `conn` is in.
  Phase PhaseOf(const ConnectionPtr& conn) const;

 private:
  void CloseLocked(const ConnectionPtr& conn, const char* reason);

  const ConnectionLimits limits_;  // max_connections: see max_connections_
  Metrics& metrics_;
  const std::function<Clock::time_point()> now_;

  mutable std::mutex mu_;
  // Connections with no reply in progress, least recently active first:
  // what timeouts apply to, and what is closed to make room.
  std::list<ConnectionPtr> quiet_;
  int open_ = 0;             // accepted, not closing
  int max_connections_ = 0;  // limits_.max_connections, or lower
};

}  // namespace slipway::daemon::api

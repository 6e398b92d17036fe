// The connection table's policy; the contract is in connection_table.h.
#include "service/daemon/connection_table.h"

#include <sys/socket.h>

#include <utility>

namespace slipway::daemon::api {

ConnectionTable::ConnectionTable(ConnectionLimits limits, Metrics& metrics,
                                 std::function<Clock::time_point()> now)
    : limits_(limits), metrics_(metrics), now_(std::move(now)), max_connections_(limits.max_connections) {}

void ConnectionTable::SetMaxConnections(int max_connections) {
  std::lock_guard lock(mu_);
  max_connections_ = max_connections;
}

int ConnectionTable::max_connections() const {
  std::lock_guard lock(mu_);
  return max_connections_;
}

int ConnectionTable::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

ConnectionPtr ConnectionTable::Accept(int fd) {
  std::lock_guard lock(mu_);
  if (open_ >= max_connections_) {
    if (quiet_.empty()) {
      // Every connection is being answered: this one cannot be served.
      ::shutdown(fd, SHUT_RDWR);
      metrics_.api_connections_closed.Inc({"over_limit"});
      return nullptr;
    }
    ConnectionPtr victim = quiet_.front();
    CloseLocked(victim, "evicted");
  }
  auto conn = std::make_shared<Connection>(fd, now_());
  conn->pos = quiet_.insert(quiet_.end(), conn);
  conn->quiet = true;
  ++open_;
  metrics_.api_connections.Set(open_);
  metrics_.api_connections_accepted.Inc();
  return conn;
}

void ConnectionTable::CloseLocked(const ConnectionPtr& conn, const char* reason) {
  if (conn->closing) return;
  conn->closing = true;
  --open_;
  metrics_.api_connections.Set(open_);
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
  // The reactor sees the end of input and drops the peer.
  if (conn->open) ::shutdown(conn->fd, SHUT_RDWR);
  metrics_.api_connections_closed.Inc({reason});
}

void ConnectionTable::Closed(const ConnectionPtr& conn) {
  std::lock_guard lock(mu_);
  if (!conn->closing) {
    conn->closing = true;
    --open_;
    metrics_.api_connections.Set(open_);
  }
  conn->open = false;
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
}

bool ConnectionTable::Input(const ConnectionPtr& conn) {
  std::lock_guard lock(mu_);
  if (conn->closing || conn->phase == Phase::kLinger) return false;
  if (conn->phase == Phase::kIdle || conn->phase == Phase::kAnswering) {
    conn->phase = Phase::kHead;  // the first byte of the next request
    conn->since = now_();
  }
  conn->started = true;
  if (conn->quiet) quiet_.splice(quiet_.end(), quiet_, conn->pos);  // most recently active
  return true;
}

void ConnectionTable::StartBody(const ConnectionPtr& conn) {
  std::lock_guard lock(mu_);
  if (conn->phase != Phase::kHead) return;
  conn->phase = Phase::kBody;
  conn->since = now_();
}

bool ConnectionTable::BeginAnswer(const ConnectionPtr& conn) {
  std::lock_guard lock(mu_);
  if (conn->closing || conn->phase == Phase::kLinger) return false;
  ++conn->answering;
  conn->phase = Phase::kAnswering;
  if (conn->quiet) {
    conn->quiet = false;
    quiet_.erase(conn->pos);
  }
  return true;
}

void ConnectionTable::EndAnswer(const ConnectionPtr& conn) {
  if (!conn) return;
  std::lock_guard lock(mu_);
  if (--conn->answering > 0) return;
  if (conn->phase == Phase::kAnswering) {
    conn->phase = Phase::kIdle;
    conn->since = now_();
  }
  if (!conn->closing && !conn->quiet) {
    conn->pos = quiet_.insert(quiet_.end(), conn);
    conn->quiet = true;
  }
}

bool ConnectionTable::Refuse(const ConnectionPtr& conn, std::string_view answer, bool only_reading) {
  std::lock_guard lock(mu_);
  if (conn->closing || conn->phase == Phase::kLinger) return false;
  if (only_reading && conn->phase != Phase::kHead && conn->phase != Phase::kBody) return false;
  conn->phase = Phase::kLinger;
  conn->since = now_() + kLinger;
  // A refused connection is the first to go when room is needed.
  if (conn->quiet) quiet_.splice(quiet_.begin(), quiet_, conn->pos);
  // Written here rather than through Pistache's write queue: its reactor
  // handles an event that is both readable and writable as readable only,
  // so a queued answer to a client still sending its body is never
  // written (the client waits forever). The answer is small, so the
  // socket takes it whole. An earlier answer still queued for the same
  // client (one that sent junk after a request without reading) is lost:
  // that client is being cut off. Transport::flush() would write it
  // first, but it drains other connections' queues too, and a writable
  // event for one of those later in the same epoll batch then finds no
  // data and throws in the reactor. Then nothing more is sent; what
  // comes is read and dropped until kLinger has passed. While an earlier
  // request is still being answered (a client sending its next request
  // early), no refusal is written, so as not to cut into that answer: the
  // connection is closed once kLinger has passed.
  if (conn->open && conn->answering == 0) {
    (void)::send(conn->fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(conn->fd, SHUT_WR);
  }
  return true;
}

std::vector<ConnectionPtr> ConnectionTable::Sweep() {
  std::vector<ConnectionPtr> late;  // to answer 408
  std::lock_guard lock(mu_);
  const auto now = now_();
  for (auto it = quiet_.begin(); it != quiet_.end();) {
    ConnectionPtr conn = *it++;  // CloseLocked erases it
    switch (conn->phase) {
      case Phase::kHead:
        if (now - conn->since < limits_.header_timeout) break;
        // A connection that never said anything is closed without a word.
        if (conn->started) {
          late.push_back(conn);
        } else {
          CloseLocked(conn, "idle");
        }
        break;
      case Phase::kBody:
        if (now - conn->since >= limits_.body_timeout) late.push_back(conn);
        break;
      case Phase::kIdle:
        if (now - conn->since >= limits_.idle_timeout) CloseLocked(conn, "idle");
        break;
      case Phase::kLinger:
        if (now >= conn->since) CloseLocked(conn, "refused");
        break;
      case Phase::kAnswering: break;
    }
  }
  return late;
}

Phase ConnectionTable::PhaseOf(const ConnectionPtr& conn) const {
  std::lock_guard lock(mu_);
  return conn->phase;
}

}  // namespace slipway::daemon::api

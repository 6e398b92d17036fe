#include "service/cli/http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>

#include "engine/base/ascii.h"

namespace slipway::cli {

namespace {

// A response head larger than this is not slipwayd's.
constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

bool SplitsRequest(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

// One connection: every wait also watches `abort_fd`, and every read waits
// at most `read_timeout_ms` (-1: forever).
class HttpConnection {
 public:
  HttpConnection(UniqueFd fd, int abort_fd) : fd_(std::move(fd)), abort_fd_(abort_fd) {}

  Status WriteAll(std::string_view data, int timeout_ms) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) ended_ = true;
      if (errno != EAGAIN) return ErrnoStatus("send");
      SLIPWAY_RETURN_IF_ERROR(Wait(POLLOUT, timeout_ms, "write"));
    }
    return Status::Ok();
  }

  // Appends what arrives to buffer(); false at the end of the stream. Waits
  // first even if data is there, so that Abort() stops a flowing stream.
  Result<bool> Fill(int timeout_ms) {
    for (;;) {
      SLIPWAY_RETURN_IF_ERROR(Wait(POLLIN, timeout_ms, "read"));
      size_t old = buf_.size();
      buf_.resize(old + kReadChunk);
      ssize_t n = ::recv(fd_.get(), buf_.data() + old, kReadChunk, 0);
      buf_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
      if (n > 0) return true;
      if (n == 0) {
        ended_ = true;
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) ended_ = true;
      if (errno != EAGAIN) return ErrnoStatus("recv");
    }
  }

  // Waits for `events` on the socket, or fails at once if aborted.
  Status Wait(short events, int timeout_ms, const char* what) {
    pollfd fds[2] = {{fd_.get(), events, 0}, {abort_fd_, POLLIN, 0}};
    for (;;) {
      int n = ::poll(fds, 2, timeout_ms);
      if (n < 0 && errno == EINTR) continue;  // a full wait again: only signals we ignore land here
      if (n < 0) return ErrnoStatus("poll");
      if (fds[1].revents) return Status(Code::kDeadlineExceeded, "interrupted");
      if (n == 0) return Internal(std::string(what) + " timed out");
      return Status::Ok();
    }
  }

  std::string& buffer() { return buf_; }
  // Whether the server closed or reset the connection.
  bool ended() const { return ended_; }

  // For a connection kept between requests: whether the server closed it
  // (or sent something unasked) while it sat idle.
  bool ClosedWhileIdle() const {
    if (!buf_.empty()) return true;
    pollfd p{fd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;  // readable (EOF, a reset, stray bytes) or an error
  }

 private:
  UniqueFd fd_;
  int abort_fd_;
  std::string buf_;
  bool ended_ = false;
};

namespace {

std::string PortString(int port) {
  return std::to_string(port);
}

// A non-blocking TCP socket connected to `e` within `timeout_ms`, trying
// each address the name resolves to.
Result<UniqueFd> Connect(const HttpEndpoint& e, int timeout_ms, int abort_fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string where = e.host + " port " + PortString(e.port);
  if (int rc = ::getaddrinfo(e.host.c_str(), PortString(e.port).c_str(), &hints, &found); rc != 0) {
    return Status(Code::kUnavailable, "resolve " + where + ": " + ::gai_strerror(rc));
  }
  Status last = Status(Code::kUnavailable, "connect " + where + ": no address");
  for (addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) {
      last = Status::FromErrno(errno, "socket for " + where);
      continue;
    }
    int one = 1;  // the request goes out in one write, the answer must not wait for an ACK
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = Status(Code::kUnavailable, Status::FromErrno(errno, "connect " + where).message());
      continue;
    }
    pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {abort_fd, POLLIN, 0}};
    int n;
    while ((n = ::poll(fds, 2, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
      last = Status(Code::kUnavailable, Status::FromErrno(errno, "poll connect " + where).message());
      continue;
    }
    if (fds[1].revents) {
      ::freeaddrinfo(found);
      return Status(Code::kDeadlineExceeded, "interrupted");
    }
    if (n == 0) {
      last = Status(Code::kUnavailable, "connect " + where + ": timed out");
      continue;
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      last = Status(Code::kUnavailable, Status::FromErrno(error, "connect " + where).message());
      continue;
    }
    ::freeaddrinfo(found);
    return fd;
  }
  ::freeaddrinfo(found);
  return last;
}

struct ResponseHead {
  int status = 0;
  bool close = false;  // the server will close the connection after this response
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
};

Result<uint64_t> ParseNumber(std::string_view s, int base, const char* what) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return Internal(std::string("malformed ") + what + " in the response: \"" + std::string(s) + "\"");
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "HTTP/1.1 200 OK\r\nName: value\r\n..." without the empty line.
Result<ResponseHead> ParseHead(std::string_view head) {
  ResponseHead out;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ')
    return Internal("the answer is not HTTP/1.x");
  SLIPWAY_ASSIGN_OR_RETURN(uint64_t status, ParseNumber(line.substr(9, 3), 10, "status"));
  out.status = static_cast<int>(status);
  out.close = !line.starts_with("HTTP/1.1");  // a 1.0 answer is taken to close, whatever it says
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "connection") {
      out.close |= Lower(value).find("close") != std::string::npos;
    } else if (name == "transfer-encoding") {
      out.chunked = Lower(value).find("chunked") != std::string::npos;
    } else if (name == "content-length") {
      SLIPWAY_ASSIGN_OR_RETURN(out.length, ParseNumber(value, 10, "Content-Length"));
      out.has_length = true;
    }
  }
  return out;
}

// The body's bytes, as the head says they are delimited. Returns false if
// the receiver stopped.
class BodyReader {
 public:
  BodyReader(HttpConnection& c, int timeout_ms, int status, const HttpBodyReceiver& receiver)
      : c_(c), buf_(c.buffer()), timeout_ms_(timeout_ms), status_(status), receiver_(receiver) {}

  Result<bool> UntilEnd() {
    for (;;) {
      if (!buf_.empty() && !Deliver(buf_.size())) return false;
      SLIPWAY_ASSIGN_OR_RETURN(bool more, c_.Fill(timeout_ms_));
      if (!more) return true;
    }
  }

  Result<bool> Exactly(uint64_t n) {
    while (n > 0) {
      if (buf_.empty()) {
        SLIPWAY_ASSIGN_OR_RETURN(bool more, c_.Fill(timeout_ms_));
        if (!more) return Internal("the connection closed in the middle of the body");
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
      n -= take;
      if (!Deliver(take)) return false;
    }
    return true;
  }

  Result<bool> Chunked() {
    for (;;) {
      SLIPWAY_ASSIGN_OR_RETURN(std::string line, Line());
      std::string_view size = Trim(std::string_view(line).substr(0, line.find(';')));
      SLIPWAY_ASSIGN_OR_RETURN(uint64_t n, ParseNumber(size, 16, "chunk size"));
      if (n == 0) break;
      SLIPWAY_ASSIGN_OR_RETURN(bool go_on, Exactly(n));
      if (!go_on) return false;
      SLIPWAY_ASSIGN_OR_RETURN(std::string end, Line());
      if (!end.empty()) return Internal("a chunk is longer than its size says");
    }
    for (;;) {  // trailers, up to the empty line
      SLIPWAY_ASSIGN_OR_RETURN(std::string trailer, Line());
      if (trailer.empty()) return true;
    }
  }

 private:
  bool Deliver(size_t n) {
    bool go_on = receiver_(status_, std::string_view(buf_.data(), n));
    buf_.erase(0, n);
    return go_on;
  }

  Result<std::string> Line() {
    for (;;) {
      if (size_t eol = buf_.find("\r\n"); eol != std::string::npos) {
        std::string line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return line;
      }
      if (buf_.size() > kMaxHeadBytes) return Internal("a chunk header is too long");
      SLIPWAY_ASSIGN_OR_RETURN(bool more, c_.Fill(timeout_ms_));
      if (!more) return Internal("the connection closed in the middle of a chunked body");
    }
  }

  HttpConnection& c_;
  std::string& buf_;
  int timeout_ms_;
  int status_;
  const HttpBodyReceiver& receiver_;
};

std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

Result<HttpEndpoint> ParseHttpUrl(std::string_view url, int default_port) {
  std::string_view rest = url;
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid daemon address \"" + std::string(url) + "\": " + why);
  };
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    std::string_view s = rest.substr(0, scheme);
    if (s == "https") return bad("https is not supported (slipwayd speaks plain http)");
    if (s != "http" && s != "tcp") return bad("want http://HOST:PORT");
    rest.remove_prefix(scheme + 3);
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("a path is not allowed");
  HttpEndpoint e;
  e.port = default_port;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:7780
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    e.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("want [ADDRESS]:PORT");
      port = rest.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (e.host.empty()) return bad("no host");
  if (!port.empty() || rest.ends_with(":")) {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
    if (ec != std::errc() || p != port.data() + port.size() || e.port < 1 || e.port > 65535)
      return bad("bad port");
  }
  return e;
}

HttpClient::HttpClient(HttpEndpoint endpoint, int connect_timeout_ms)
    : endpoint_(std::move(endpoint)),
      connect_timeout_ms_(connect_timeout_ms),
      aborted_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      eventfd_errno_(aborted_ ? 0 : errno) {}

HttpClient::~HttpClient() = default;

Result<int> HttpClient::Send(const HttpRequest& request, const HttpBodyReceiver& receiver) {
  if (!aborted_) return Status::FromErrno(eventfd_errno_, "eventfd for the HTTP client");
  if (SplitsRequest(request.method) || SplitsRequest(request.target) ||
      request.target.find(' ') != std::string::npos)
    return InvalidArgument("the request line holds a space, CR, LF or NUL");
  // Asked for explicitly: slipwayd (as Pistache) closes a connection after
  // its answer unless the request says keep-alive.
  std::string message = request.method + " " + request.target +
                        " HTTP/1.1\r\nHost: " + HostForUrl(endpoint_.host) + ":" +
                        std::to_string(endpoint_.port) + "\r\nConnection: keep-alive\r\n";
  for (const auto& [name, value] : request.headers) {
    if (SplitsRequest(name) || SplitsRequest(value) || name.find(':') != std::string::npos)
      return InvalidArgument("the header \"" + name + "\" holds a colon, CR, LF or NUL");
    message += name + ": " + value + "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
    message += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  message += "\r\n";
  message += request.body;

  // The connection the last response left open, unless the server has
  // closed it since. A server may still close it just as the request goes
  // out: then nothing of it was read (an idle close happens between
  // requests), and it goes again on a new connection.
  std::unique_ptr<HttpConnection> kept = std::move(idle_);
  if (kept && kept->ClosedWhileIdle()) kept.reset();
  pollfd abort{aborted_.get(), POLLIN, 0};
  if (::poll(&abort, 1, 0) != 0) return Status(Code::kDeadlineExceeded, "interrupted");  // nothing sent
  if (kept) {
    bool unanswered = false;
    Result<int> status = Exchange(std::move(kept), message, request, receiver, &unanswered);
    if (status.ok() || !unanswered) return status;
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd fd, Connect(endpoint_, connect_timeout_ms_, aborted_.get()));
  bool unanswered = false;
  return Exchange(std::make_unique<HttpConnection>(std::move(fd), aborted_.get()), message, request, receiver,
                  &unanswered);
}

Result<int> HttpClient::Exchange(std::unique_ptr<HttpConnection> c, const std::string& message,
                                 const HttpRequest& request, const HttpBodyReceiver& receiver,
                                 bool* unanswered) {
  if (Status sent = c->WriteAll(message, connect_timeout_ms_); !sent.ok()) {
    *unanswered = c->ended();
    return sent;
  }
  std::string& buf = c->buffer();
  ResponseHead response;
  for (;;) {  // 1xx answers (100 Continue) come before the real one
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeadBytes) return Internal("the response head is larger than 64 KiB");
      Result<bool> more = c->Fill(request.read_timeout_ms);
      if (!more.ok() || !*more) {
        *unanswered = c->ended() && buf.empty();  // not a timeout, not Abort()
        if (!more.ok()) return more.status();
        return Internal("the connection closed before a response");
      }
    }
    SLIPWAY_ASSIGN_OR_RETURN(response, ParseHead(std::string_view(buf).substr(0, end)));
    buf.erase(0, end + 4);
    if (response.status >= 200) break;
  }
  BodyReader body(*c, request.read_timeout_ms, response.status, receiver);
  Result<bool> read = true;
  bool delimited = true;  // the body's end is known without the connection's
  if (request.method == "HEAD" || response.status == 204 || response.status == 304) {
    read = true;
  } else if (response.chunked) {
    read = body.Chunked();
  } else if (response.has_length) {
    read = body.Exactly(response.length);
  } else {
    delimited = false;
    read = body.UntilEnd();
  }
  if (!read.ok()) return read.status();
  // Kept for the next request when the whole response was read, up to its
  // last byte and no further, and the server keeps the connection too.
  if (*read && delimited && !response.close && buf.empty()) idle_ = std::move(c);
  return response.status;
}

void HttpClient::Abort() {
  uint64_t one = 1;
  (void)!::write(aborted_.get(), &one, sizeof one);
}

}  // namespace slipway::cli

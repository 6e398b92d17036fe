// The CLI's HTTP transport: plain HTTP/1.1 over a TCP socket, the
// connection kept from one request to the next (a command of several
// requests, such as `run`'s create and attach, connects once), the
// response body handed over as it arrives (chunked or not), and an Abort()
// another thread can call (for Ctrl-C during a stream).
//
// Its own, not cpp-httplib: Debian's libcpp-httplib.so is built with OpenSSL
// and sets it up at every process start, and loading libssl and libcrypto
// was most of the CLI's start (docs/performance.md). slipwayd speaks plain
// http only, so the client of the daemon needs no TLS; what talks to
// registries (`slipway verify`) lives in slipway-tools (tool_commands.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway::cli {

class HttpConnection;  // http.cc

struct HttpEndpoint {
  std::string host;  // a name or an address; IPv6 without brackets
  int port = 0;
};

// "http://HOST[:PORT][/]", "tcp://HOST:PORT" or "HOST:PORT"; the port
// defaults to `default_port`. https is refused: slipwayd does not speak it.
Result<HttpEndpoint> ParseHttpUrl(std::string_view url, int default_port);

struct HttpRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string target;  // "/api/v1/containers?all=true", already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int read_timeout_ms = -1;  // for each read of the response; -1: wait forever
};

// Gets the response's status with each piece of its body, in order; an empty
// body yields no call. Returns false to stop reading.
using HttpBodyReceiver = std::function<bool(int status, std::string_view data)>;

class HttpClient {
 public:
  HttpClient(HttpEndpoint endpoint, int connect_timeout_ms);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` on the connection the last response left open (kept
  // when that response was read whole and the server did not close it), or
  // on a new one, and returns the response's status
  // once its body has been read (or the receiver stopped). Errors: connecting
  // failed -> kUnavailable; the connection broke later, a read timed out, or
  // the response is not HTTP -> kInternal; Abort() -> kDeadlineExceeded; a
  // target or header with CR, LF or NUL (it would split the request) ->
  // kInvalidArgument, before anything is sent.
  Result<int> Send(const HttpRequest& request, const HttpBodyReceiver& receiver);

  // From another thread: makes the Send() in progress, and every later one,
  // fail at once (every wait of Send() also polls an eventfd that Abort()
  // makes readable for good). Async-signal-safe: one write(2).
  void Abort();

 private:
  // Sends `message` on `c` and reads the response; keeps `c` in idle_ if
  // the next request can use it. `unanswered`: the connection ended before
  // any byte of a response (the request may go again on a new one).
  Result<int> Exchange(std::unique_ptr<HttpConnection> c, const std::string& message,
                       const HttpRequest& request, const HttpBodyReceiver& receiver, bool* unanswered);

  HttpEndpoint endpoint_;
  int connect_timeout_ms_;
  UniqueFd aborted_;       // eventfd; readable once Abort() was called
  int eventfd_errno_ = 0;  // why aborted_ is invalid, if it is
  std::unique_ptr<HttpConnection> idle_;  // left open by the last response
};

}  // namespace slipway::cli

#include "service/cli/http.h"

#include <httplib.h>

#include <charconv>
#include <limits>

namespace slipway::cli {

namespace {

// "Wait forever" for cpp-httplib, which always sets a read timeout.
constexpr time_t kForeverSeconds = 365L * 24 * 3600;

void SetTimeouts(httplib::Client& client, int connect_timeout_ms, int read_timeout_ms) {
  client.set_connection_timeout(std::chrono::milliseconds(connect_timeout_ms));
  if (read_timeout_ms < 0) {
    client.set_read_timeout(kForeverSeconds, 0);
  } else {
    client.set_read_timeout(std::chrono::milliseconds(read_timeout_ms));
  }
  client.set_write_timeout(std::chrono::milliseconds(connect_timeout_ms));
}

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
    : endpoint_(std::move(endpoint)), connect_timeout_ms_(connect_timeout_ms) {}

HttpClient::~HttpClient() = default;

Result<int> HttpClient::Send(const HttpRequest& request, const HttpBodyReceiver& receiver) {
  auto client = std::make_shared<httplib::Client>("http://" + HostForUrl(endpoint_.host) + ":" +
                                                  std::to_string(endpoint_.port));
  SetTimeouts(*client, connect_timeout_ms_, request.read_timeout_ms);
  client->set_keep_alive(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_) return Status(Code::kDeadlineExceeded, "interrupted");
    in_flight_ = client;
  }
  httplib::Request req;
  req.method = request.method;
  req.path = request.target;
  for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
  req.body = request.body;
  int status = 0;
  req.response_handler = [&](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    return receiver(status, std::string_view(data, size));
  };
  httplib::Result result = client->send(req);
  bool aborted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.reset();
    aborted = aborted_;
  }
  if (aborted) return Status(Code::kDeadlineExceeded, "interrupted");
  if (result.error() == httplib::Error::Canceled) return status;  // the receiver stopped
  if (result.error() == httplib::Error::Connection)
    return Status(Code::kUnavailable, "connect: " + httplib::to_string(result.error()));
  // Whatever broke after connecting, it is not "nobody listens there".
  if (!result) return Internal(httplib::to_string(result.error()));
  return status;
}

void HttpClient::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  if (in_flight_) in_flight_->stop();
}

}  // namespace slipway::cli

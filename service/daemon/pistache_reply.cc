// PistacheReply; the contract is in pistache_reply.h.
#include "service/daemon/pistache_reply.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>

#include "service/daemon/server.h"

namespace slipway::daemon::api {

namespace {

using namespace Pistache;

// Unsent stream bytes a writer may have queued before it waits.
constexpr size_t kMaxUnsent = 1 << 20;
constexpr auto kUnsentSlice = std::chrono::milliseconds(100);
// Status code recorded for a request whose client went away unanswered.
constexpr int kClientGone = 499;

// A header of any name. Pistache 0.0.5 writes only typed headers into an
// answer (Collection::addRaw's are kept but never sent): this is one whose
// name is chosen at run time.
class NamedHeader final : public Http::Header::Header {
 public:
  NamedHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& stream) const override { stream << value_; }
  uint64_t hash() const override { return Http::Header::detail::hash(name_.c_str()); }

 private:
  const std::string name_, value_;
};

std::optional<Http::Method> MethodOf(const std::string& name) {
  static const std::pair<const char*, Http::Method> kMethods[] = {
      {"GET", Http::Method::Get}, {"POST", Http::Method::Post},   {"DELETE", Http::Method::Delete},
      {"PUT", Http::Method::Put}, {"PATCH", Http::Method::Patch}, {"HEAD", Http::Method::Head},
  };
  for (const auto& [n, m] : kMethods) {
    if (name == n) return m;
  }
  return std::nullopt;
}

std::string HexSize(size_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

}  // namespace

PistacheReply::~PistacheReply() {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kStreaming) {
      EndLocked();
    } else if (state_ == State::kNew) {
      // A handler that dropped its reply: answer anyway, so the client does not hang.
      if (Gone()) {
        state_ = State::kDone;
        Finish(kClientGone);
      } else {
        Status status = server_.stopping() ? Status(Code::kUnavailable, "slipwayd is shutting down")
                                           : Internal("the request ended without an answer");
        OnError(HttpStatusOf(status.code()), ApiCodeOf(status.code()), status.message());
        SendLocked(HttpStatusOf(status.code()), kJson, Dump(ErrorJson(status)));
      }
    }
  }
  server_.connections().EndAnswer(conn_);
}

void PistacheReply::Send(int status, std::string_view content_type, std::string body) {
  std::lock_guard lock(mu_);
  if (state_ != State::kNew) return;
  SendLocked(status, content_type, std::move(body));
}

void PistacheReply::SendLocked(int status, std::string_view content_type, std::string body) {
  state_ = State::kDone;
  try {
    if (!content_type.empty()) {
      writer_.headers().add<Http::Header::ContentType>(Http::Mime::MediaType(std::string(content_type)));
    }
    server_.WriteQueued();
    Server* server = &server_;
    writer_.send(static_cast<Http::Code>(status), body)
        .then([server](ssize_t) { server->WriteDone(); },
              [server](std::exception_ptr) { server->WriteDone(); });
  } catch (const std::exception& e) {
    server_.log().Warn("api.send_failed", {{"path", info_.path}, {"what", e.what()}});
  }
  Finish(Gone() ? kClientGone : status);
}

bool PistacheReply::Begin(int status, std::string_view content_type) {
  std::lock_guard lock(mu_);
  if (state_ != State::kNew) return false;
  if (server_.stopping()) {
    Status st(Code::kUnavailable, "slipwayd is shutting down");
    OnError(503, ApiCodeOf(st.code()), st.message());
    SendLocked(503, kJson, Dump(ErrorJson(st)));
    return false;
  }
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     Http::codeString(static_cast<Http::Code>(status)) + "\r\nContent-Type: ";
  head.append(content_type);
  head.append("\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
  state_ = State::kStreaming;
  if (!Enqueue(std::move(head))) {
    state_ = State::kDone;
    Finish(kClientGone);
    return false;
  }
  Finish(status);  // the status is on its way; the duration is the time to the first byte
  return true;
}

bool PistacheReply::Write(std::string_view data) {
  std::lock_guard lock(mu_);
  if (state_ != State::kStreaming || server_.stopping()) return false;
  if (data.empty()) return true;  // an empty chunk would end the body
  if (!AwaitRoom()) return false;
  std::string chunk = HexSize(data.size());
  chunk.append("\r\n").append(data).append("\r\n");
  return Enqueue(std::move(chunk));
}

void PistacheReply::End() {
  std::lock_guard lock(mu_);
  if (state_ == State::kStreaming) EndLocked();
}

void PistacheReply::EndLocked() {
  state_ = State::kDone;
  (void)Enqueue("0\r\n\r\n");
}

// Waits while the client is slow to read what was queued for it.
bool PistacheReply::AwaitRoom() {
  std::unique_lock lock(unsent_->mu);
  while (unsent_->bytes > kMaxUnsent) {
    if (Gone() || server_.stopping()) return false;
    unsent_->cv.wait_for(lock, kUnsentSlice);
  }
  return true;
}

bool PistacheReply::Enqueue(std::string bytes) {
  std::shared_ptr<Tcp::Peer> peer = peer_.lock();
  if (!peer) return false;
  const size_t n = bytes.size();
  {
    std::lock_guard lock(unsent_->mu);
    unsent_->bytes += n;
  }
  // Written or failed, the bytes are no longer waiting. (A peer dropped with
  // writes queued resolves neither; AwaitRoom notices the peer is gone.)
  server_.WriteQueued();
  auto release = [unsent = unsent_, n, server = &server_] {
    server->WriteDone();
    std::lock_guard lock(unsent->mu);
    unsent->bytes -= std::min(n, unsent->bytes);
    unsent->cv.notify_all();
  };
  try {
    RawBuffer buffer(std::move(bytes), n);
    peer->send(buffer).then([release](ssize_t) { release(); }, [release](std::exception_ptr) { release(); });
  } catch (const std::exception&) {
    release();
    return false;
  }
  return true;
}

void PistacheReply::SetAllow(const std::vector<std::string>& methods) {
  std::vector<Http::Method> allowed;
  for (const std::string& m : methods) {
    if (auto method = MethodOf(m)) allowed.push_back(*method);
  }
  try {
    writer_.headers().add<Http::Header::Allow>(allowed);
  } catch (const std::exception&) {
    // The 405 goes out without Allow.
  }
}

void PistacheReply::SetHeader(std::string_view name, std::string_view value) {
  auto bad = [](std::string_view s) { return s.find_first_of("\r\n", 0) != std::string_view::npos; };
  if (name.empty() || bad(name) || bad(value)) return;
  try {
    writer_.headers().add(std::make_shared<NamedHeader>(std::string(name), std::string(value)));
  } catch (const std::exception&) {
    // Pistache refused it (a duplicate of a header it manages): sent without.
  }
}

void PistacheReply::OnError(int http_status, std::string_view code, std::string_view message) {
  server_.log().Warn("api.error", {{"method", info_.method},
                                   {"route", info_.route},
                                   {"path", info_.path},
                                   {"status", http_status},
                                   {"code", code},
                                   {"message", message}});
}

void PistacheReply::Finish(int status) {
  double seconds = std::chrono::duration<double>(Clock::now() - info_.start).count();
  server_.metrics().ObserveRequest(info_.method, info_.route, status, seconds);
  if (server_.log().Enabled(LogLevel::kDebug)) {
    server_.log().Debug("api.request", {{"method", info_.method},
                                        {"route", info_.route},
                                        {"path", info_.path},
                                        {"status", status},
                                        {"ms", seconds * 1000}});
  }
}

}  // namespace slipway::daemon::api

#include "service/daemon/readiness.h"

#include <httplib.h>
#include <unistd.h>

#include <thread>

namespace slipway::daemon {

Status AnnounceReady(const SdNotifier& notifier, const std::string& host, int port,
                     std::chrono::milliseconds deadline) {
  if (!notifier.enabled()) return Status::Ok();
  std::string probe_host = host;
  if (host.empty() || host == "0.0.0.0") probe_host = "127.0.0.1";
  if (host == "::") probe_host = "::1";
  httplib::Client client(probe_host, port);
  client.set_connection_timeout(std::chrono::seconds(1));
  client.set_read_timeout(std::chrono::seconds(2));
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::string last;
  for (;;) {
    httplib::Result answer = client.Get("/healthz");
    if (answer && answer->status == 200) break;
    last = answer ? "status " + std::to_string(answer->status) : httplib::to_string(answer.error());
    if (std::chrono::steady_clock::now() >= until) {
      return Status(Code::kDeadlineExceeded, "GET /healthz on " + probe_host + ":" + std::to_string(port) +
                                                 " did not answer 200 (" + last + "): READY=1 not sent");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return notifier.Notify("READY=1\nMAINPID=" + std::to_string(::getpid()));
}

}  // namespace slipway::daemon

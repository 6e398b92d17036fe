// GET /api/v1/events: the dashboard's live view of runs and steps as
// Server-Sent Events (docs/dashboard.md), read from the EventHub. Each
// stream runs on a worker thread of its own: it writes the events after
// the last it sent (or after Last-Event-ID), a keep-alive comment when 15 s
// pass without one, and `event: reset` when the events a client asked for
// are gone from the hub's buffer. It ends when the client goes, slipwayd
// stops, or the token it was opened with is revoked.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>

#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

constexpr auto kKeepAliveEvery = std::chrono::seconds(15);
// How often a quiet stream looks at its client, slipwayd's stopping and
// its token (events and revocations wake it at once).
constexpr auto kPollEvery = std::chrono::milliseconds(500);

// Last-Event-ID as an id; nullopt if absent; 0 if it is no id of ours.
std::optional<uint64_t> ParseLastEventId(const std::string& text) {
  if (text.empty()) return std::nullopt;
  uint64_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size()) return 0;
  return id;
}

void Stream(Context& c, const Request& r, int64_t run_filter, Reply& reply) {
  EventHub& hub = *c.events;
  const std::string repo_filter = r.Query("repo");
  std::optional<uint64_t> resume = ParseLastEventId(r.last_event_id);
  uint64_t last = resume.value_or(hub.last_id());
  if (!reply.Begin(200, kEventStream)) return;
  auto revoked = [&] {
    return !r.principal.token_sha256.empty() && (!c.tokens || !c.tokens->Exists(r.principal.token_sha256));
  };
  auto quiet_since = std::chrono::steady_clock::now();
  while (!c.stopping.load() && !reply.Gone() && !revoked()) {
    bool reset = false;
    std::vector<EventHub::Event> events = hub.Since(last, kPollEvery, &reset);
    if (reset) {
      // The page reloads its lists; the stream goes on from the newest.
      last = hub.last_id();
      if (!reply.Write(SseEvent("reset", "{}", last))) break;
      quiet_since = std::chrono::steady_clock::now();
      continue;
    }
    std::string out;
    for (const EventHub::Event& e : events) {
      last = e.id;
      if (!repo_filter.empty() && e.repo != repo_filter) continue;
      if (run_filter != 0 && e.run_id != run_filter) continue;
      out += SseEvent(e.name, e.data, e.id);
    }
    const auto now = std::chrono::steady_clock::now();
    if (out.empty() && now - quiet_since >= kKeepAliveEvery) out = kSseKeepAlive;
    if (out.empty()) continue;
    if (!reply.Write(out)) break;
    quiet_since = now;
  }
  reply.End();
}

}  // namespace

void AddEventRoutes(Router& router, Context& context) {
  Context* c = &context;
  router.Add("GET", "/api/v1/events", kRead, {"repo", "run"}, [c](const Request& r, ReplyPtr reply) {
    auto run = QueryInt(r, "run", 0, 1, INT64_MAX);
    if (!run.ok()) return reply->Error(run.status());
    Spawn(*c, reply, [c, r, run = *run, reply]() { Stream(*c, r, run, *reply); });
  });
}

}  // namespace slipway::daemon::api

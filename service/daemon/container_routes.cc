// /api/v1/containers: docs/api.md, "Containers".
#include <poll.h>
#include <signal.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <utility>

#include "engine/base/units.h"
#include "engine/runtime/frame.h"
#include "service/daemon/api_routes.h"
#include "engine/containers/container_service.h"

namespace slipway::daemon::api {

namespace {

// How often a waiting request looks whether its client or the server gave up.
constexpr auto kWaitSlice = std::chrono::milliseconds(200);
constexpr int64_t kDefaultStopSeconds = 10;
constexpr int64_t kMaxStopSeconds = 24 * 3600;

enum class Ending { kEnded, kStopping, kClientGone };

Ending AwaitEnd(EndSignal& end, const Reply& reply, const std::atomic<bool>& stopping) {
  for (;;) {
    if (end.fired()) return Ending::kEnded;
    if (stopping.load()) return Ending::kStopping;
    if (reply.Gone()) return Ending::kClientGone;
    (void)end.AwaitFired(kWaitSlice);
  }
}

// The container as it ended: from the signal, since with auto_remove its
// row may be gone already.
std::string EndedJson(const EndSignal& end) {
  std::optional<Container> final = end.final();
  return final ? final->ToJson() : "null";
}

class ContainerRoutes {
 public:
  explicit ContainerRoutes(Context& c) : c_(c) {}

  void Create(const Request& r, ReplyPtr reply);
  void List(const Request& r, ReplyPtr reply);
  void Inspect(const Request& r, ReplyPtr reply);
  void Start(const Request& r, ReplyPtr reply);
  void Attach(const Request& r, ReplyPtr reply);
  void Wait(const Request& r, ReplyPtr reply);
  void Logs(const Request& r, ReplyPtr reply);
  void Stats(const Request& r, ReplyPtr reply);
  void Kill(const Request& r, ReplyPtr reply);
  void Stop(const Request& r, ReplyPtr reply);
  void Remove(const Request& r, ReplyPtr reply);

 private:
  void Spawn(const ReplyPtr& reply, std::function<void()> work) { api::Spawn(c_, reply, std::move(work)); }
  void StreamAttached(const Container& c, const std::shared_ptr<EndSignal>& end, const ReplyPtr& reply);
  void StreamLogs(const std::string& id, LogOptions o, const std::shared_ptr<EndSignal>& end,
                  const ReplyPtr& reply);
  void AnswerWhenEnded(const std::shared_ptr<EndSignal>& end, const ReplyPtr& reply);

  Context& c_;
};

void ContainerRoutes::Create(const Request& r, ReplyPtr reply) {
  auto request = CreateRequest::FromJson(r.body);
  if (!request.ok()) return reply->Error(request.status());
  auto c = c_.containers.Create(*request);
  if (!c.ok()) return reply->Error(c.status());
  json body;
  body["id"] = c->id;
  body["name"] = c->name;
  reply->Json(201, body);
}

void ContainerRoutes::List(const Request& r, ReplyPtr reply) {
  auto all = QueryBool(r, "all", false);
  if (!all.ok()) return reply->Error(all.status());
  auto list = c_.containers.List(*all);
  if (!list.ok()) return reply->Error(list.status());
  // Container::ToJson() is the one serializer of the object: spliced, not re-parsed.
  std::string body = "{\"containers\":[";
  for (size_t i = 0; i < list->size(); ++i) {
    if (i) body.push_back(',');
    body += (*list)[i].ToJson();
  }
  body += "]}";
  reply->JsonText(200, std::move(body));
}

void ContainerRoutes::Inspect(const Request& r, ReplyPtr reply) {
  auto c = c_.containers.Inspect(r.Param("id"));
  if (!c.ok()) return reply->Error(c.status());
  reply->JsonText(200, c->ToJson());
}

void ContainerRoutes::Start(const Request& r, ReplyPtr reply) {
  const std::string& id = r.Param("id");
  if (Status st = c_.containers.Start(id); !st.ok()) return reply->Error(st);
  auto c = c_.containers.Inspect(id);
  if (!c.ok()) return reply->Error(c.status());
  reply->JsonText(202, c->ToJson());
}

void ContainerRoutes::Attach(const Request& r, ReplyPtr reply) {
  auto c = c_.containers.Inspect(r.Param("id"));
  if (!c.ok()) return reply->Error(c.status());
  // Taken before the start: with auto_remove, the signal is all that is left
  // of the container once it has ended.
  auto end = c_.containers.EndSignalOf(c->id);
  if (!end.ok()) return reply->Error(end.status());
  Spawn(reply, [this, c = *c, end = *end, reply] { StreamAttached(c, end, reply); });
}

void ContainerRoutes::StreamAttached(const Container& c, const std::shared_ptr<EndSignal>& end,
                                     const ReplyPtr& reply) {
  // Started once this reader is counted, so that a quick auto_remove
  // container cannot end and go before its output is read; on this thread,
  // which waits for it anyway.
  bool begun = false, gone = false;
  auto start = [&]() -> Status {
    if (c.state == ContainerState::kCreated) {
      Status st = c_.containers.StartHere(c.id);
      // Someone else starting it meanwhile is as good.
      if (!st.ok() && st.code() != Code::kFailedPrecondition) return st;
    }
    begun = reply->Begin(200, kMultiplexed);
    gone = !begun;
    return begun ? Status::Ok() : Status(Code::kUnavailable, "the client went away");
  };
  Status st = c_.containers.StreamLogs(
      c.id, /*follow=*/true,
      [&](Stream s, std::string_view data) { return reply->Write(EncodeFrame(s, data)); }, start);
  if (!begun) {
    if (!gone) reply->Error(st);  // the start's error, or the container's
    return;
  }
  // kNotFound: an auto_remove container ended and went while being followed.
  bool complete = st.ok() || st.code() == Code::kNotFound;
  // The end frame goes once the container is settled (with auto_remove:
  // removed), so a client that runs the next step on it finds the name free.
  if (complete && end->fired()) end->AwaitSettled();
  if (complete && end->fired()) {
    reply->Write(EncodeFrame(Stream::kEnd, EndedJson(*end)));
  } else if (!st.ok()) {
    c_.log.Warn("api.attach_ended", {{"id", c.id}, {"error", st.ToString()}});
  }
  // Without the end frame the client knows the stream was cut short.
  reply->End();
}

void ContainerRoutes::Wait(const Request& r, ReplyPtr reply) {
  auto end = c_.containers.EndSignalOf(r.Param("id"));
  if (!end.ok()) return reply->Error(end.status());
  Spawn(reply, [this, end = *end, reply] { AnswerWhenEnded(end, reply); });
}

void ContainerRoutes::AnswerWhenEnded(const std::shared_ptr<EndSignal>& end, const ReplyPtr& reply) {
  switch (AwaitEnd(*end, *reply, c_.stopping)) {
    case Ending::kEnded: return reply->JsonText(200, EndedJson(*end));
    case Ending::kStopping: return reply->Error(Status(Code::kUnavailable, "slipwayd is shutting down"));
    case Ending::kClientGone: return;
  }
}

void ContainerRoutes::Logs(const Request& r, ReplyPtr reply) {
  auto o = ParseLogOptions(r);
  if (!o.ok()) return reply->Error(o.status());
  auto c = c_.containers.Inspect(r.Param("id"));
  if (!c.ok()) return reply->Error(c.status());
  std::shared_ptr<EndSignal> end;
  if (o->follow) {
    auto signal = c_.containers.EndSignalOf(c->id);
    if (!signal.ok()) return reply->Error(signal.status());
    end = *signal;
  }
  Spawn(reply, [this, id = c->id, o = *o, end, reply] { StreamLogs(id, o, end, reply); });
}

void ContainerRoutes::StreamLogs(const std::string& id, LogOptions o, const std::shared_ptr<EndSignal>& end,
                                 const ReplyPtr& reply) {
  Status st = StreamLog(
      o, *reply, [&](const LogChunk& chunk) { return c_.containers.StreamLogs(id, o.follow, chunk); },
      [&]() -> std::string {
        if (end && end->fired()) return EndedJson(*end);
        auto now = c_.containers.Inspect(id);
        return now.ok() ? now->ToJson() : "";
      });
  if (!st.ok()) c_.log.Warn("api.logs_ended", {{"id", id}, {"error", st.ToString()}});
}

void ContainerRoutes::Stats(const Request& r, ReplyPtr reply) {
  auto stats = c_.containers.Stats(r.Param("id"));
  if (!stats.ok()) return reply->Error(stats.status());
  reply->JsonText(200, stats->ToJson());
}

void ContainerRoutes::Kill(const Request& r, ReplyPtr reply) {
  // Absent means KILL, as docker kill; present but empty is a mistake.
  auto signal = ParseSignal(r.query.count("signal") ? r.Query("signal") : "KILL");
  if (!signal.ok()) return reply->Error(signal.status());
  if (Status st = c_.containers.Kill(r.Param("id"), *signal); !st.ok()) return reply->Error(st);
  reply->NoContent();
}

void ContainerRoutes::Stop(const Request& r, ReplyPtr reply) {
  int64_t seconds = kDefaultStopSeconds;
  if (std::string text = r.Query("timeout"); !text.empty()) {
    auto parsed = ParseInt(text);
    if (!parsed || *parsed < 0 || *parsed > kMaxStopSeconds) {
      return reply->Error(
          InvalidArgument("timeout must be a number of seconds, 0 to " + std::to_string(kMaxStopSeconds)));
    }
    seconds = *parsed;
  }
  const std::string id = r.Param("id");
  auto end = c_.containers.EndSignalOf(id);
  if (!end.ok()) return reply->Error(end.status());
  Spawn(reply, [this, id, seconds, end = *end, reply] {
    Status st = c_.containers.Stop(id, std::chrono::seconds(seconds));
    // An auto_remove container may be gone by now; its signal still says how it ended.
    if (!st.ok() && !end->fired()) return reply->Error(st);
    AnswerWhenEnded(end, reply);
  });
}

void ContainerRoutes::Remove(const Request& r, ReplyPtr reply) {
  auto force = QueryBool(r, "force", false);
  if (!force.ok()) return reply->Error(force.status());
  const std::string id = r.Param("id");
  auto remove = [this, id, force = *force, reply] {
    Status st = c_.containers.Remove(id, force);
    if (!st.ok()) return reply->Error(st);
    reply->NoContent();
  };
  // Forcing waits for the container to be killed and recorded.
  if (*force) return Spawn(reply, std::move(remove));
  remove();
}

}  // namespace

void AddContainerRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<ContainerRoutes>(context);
  auto bind = [routes](void (ContainerRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  const std::string base = "/api/v1/containers";
  router.Add("POST", base, kMutating | kJsonBody, {}, bind(&ContainerRoutes::Create));
  router.Add("GET", base, kReadOnly, {"all"}, bind(&ContainerRoutes::List));
  router.Add("GET", base + "/:id", kReadOnly, {}, bind(&ContainerRoutes::Inspect));
  router.Add("DELETE", base + "/:id", kMutating, {"force"}, bind(&ContainerRoutes::Remove));
  router.Add("POST", base + "/:id/start", kMutating, {}, bind(&ContainerRoutes::Start));
  router.Add("POST", base + "/:id/attach", kMutating, {}, bind(&ContainerRoutes::Attach));
  router.Add("POST", base + "/:id/wait", kReadOnly, {}, bind(&ContainerRoutes::Wait));
  router.Add("GET", base + "/:id/logs", kReadOnly, {"follow", "stdout", "stderr"},
             bind(&ContainerRoutes::Logs));
  router.Add("GET", base + "/:id/stats", kReadOnly, {}, bind(&ContainerRoutes::Stats));
  router.Add("POST", base + "/:id/kill", kMutating, {"signal"}, bind(&ContainerRoutes::Kill));
  router.Add("POST", base + "/:id/stop", kMutating, {"timeout"}, bind(&ContainerRoutes::Stop));
}

}  // namespace slipway::daemon::api

// /api/v1/runs: docs/api.md, "Runs". The RunService does the work; these
// handlers decode, check and answer.
#include <limits>
#include <mutex>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/time.h"
#include "engine/base/units.h"
#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

using pipelines::Run;
using pipelines::RunFilter;
using pipelines::StepRecord;

constexpr int kMaxListLimit = 500;
constexpr int64_t kMaxKeep = 1'000'000;

Result<int64_t> RunId(const Request& r) {
  const std::string& text = r.Param("id");
  std::optional<int64_t> id = ParseInt(text);
  if (!id || *id < 1 || text[0] == '+')
    return InvalidArgument("invalid run id \"" + text + "\": want a number");
  return *id;
}

// RFC 3339 in UTC ("2026-11-29T08:55:01Z") or Unix milliseconds.
Result<int64_t> QueryTime(const Request& r, const std::string& name) {
  auto it = r.query.find(name);
  if (it == r.query.end()) return 0;
  const std::string& text = it->second;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (std::optional<int64_t> ms = ParseInt(text); ms && *ms > 0) return *ms;
  } else if (Result<int64_t> ms = ParseRfc3339Millis(text); ms.ok() && *ms > 0) {
    return *ms;
  }
  return InvalidArgument(
      "query parameter " + name +
      " must be an RFC 3339 time in UTC (2026-11-29T08:55:01Z) or Unix milliseconds, not \"" + text + "\"");
}

Result<RunFilter> ParseFilter(const Request& r) {
  RunFilter f;
  f.repo = r.Query("repo");
  f.branch = r.Query("branch");
  if (std::string status = r.Query("status"); r.query.count("status")) {
    f.status = pipelines::ParseRunStatus(status);
    if (!f.status) {
      return InvalidArgument(
          "query parameter status must be one of queued, running, success, failure, error, "
          "cancelled, interrupted, not \"" +
          status + "\"");
    }
  }
  if (std::string event = r.Query("event"); r.query.count("event")) {
    f.event = pipelines::ParseEvent(event);
    if (!f.event) {
      return InvalidArgument("query parameter event must be one of push, tag, pull_request, manual, not \"" +
                             event + "\"");
    }
  }
  if (r.query.count("commit")) {
    f.commit = Lower(r.Query("commit"));
    if (f.commit.size() < 4 || f.commit.size() > 40 || !IsLowerHex(f.commit)) {
      return InvalidArgument(
          "query parameter commit must be 4 to 40 hex digits (a commit id or its prefix), not \"" +
          r.Query("commit") + "\"");
    }
  }
  SLIPWAY_ASSIGN_OR_RETURN(f.since_unix_ms, QueryTime(r, "since"));
  SLIPWAY_ASSIGN_OR_RETURN(f.until_unix_ms, QueryTime(r, "until"));
  if (f.since_unix_ms && f.until_unix_ms && f.until_unix_ms <= f.since_unix_ms)
    return InvalidArgument("query parameter until must be later than since");
  SLIPWAY_ASSIGN_OR_RETURN(f.before_id, QueryInt(r, "before", 0, 1, std::numeric_limits<int64_t>::max()));
  SLIPWAY_ASSIGN_OR_RETURN(int64_t limit, QueryInt(r, "limit", 50, 1, kMaxListLimit));
  f.limit = static_cast<int>(limit);
  return f;
}

json StepsJson(const std::vector<StepRecord>& steps) {
  json list = json::array();
  for (const StepRecord& step : steps) list.push_back(step.ToJsonValue());
  return list;
}

class RunRoutes {
 public:
  explicit RunRoutes(Context& c) : c_(c) {}

  void Exec(const Request& r, ReplyPtr reply);
  void List(const Request& r, ReplyPtr reply);
  void Get(const Request& r, ReplyPtr reply);
  void Logs(const Request& r, ReplyPtr reply);
  void Cancel(const Request& r, ReplyPtr reply);
  void Rerun(const Request& r, ReplyPtr reply);
  void Prune(const Request& r, ReplyPtr reply);

 private:
  void Spawn(const ReplyPtr& reply, std::function<void()> work) { api::Spawn(c_, reply, std::move(work)); }

  Context& c_;
};

void RunRoutes::Exec(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string dir;
  for (Status st : {f.String("dir", &dir, true), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  if (dir[0] != '/') return reply->Error(InvalidArgument("field \"dir\" must be an absolute path"));
  auto run = c_.runs.Exec(dir);
  if (!run.ok()) return reply->Error(run.status());
  reply->Json(201, run->ToJsonValue());
}

void RunRoutes::List(const Request& r, ReplyPtr reply) {
  auto filter = ParseFilter(r);
  if (!filter.ok()) return reply->Error(filter.status());
  auto runs = c_.runs.List(*filter);
  if (!runs.ok()) return reply->Error(runs.status());
  json list = json::array();
  for (const Run& run : *runs) list.push_back(run.ToJsonValue());
  json body;
  body["runs"] = std::move(list);
  // A full page may have more behind it; the next page starts below its last id.
  body["next_before"] = static_cast<int>(runs->size()) == filter->limit && !runs->empty()
                            ? json(runs->back().id)
                            : json(nullptr);
  reply->Json(200, body);
}

void RunRoutes::Get(const Request& r, ReplyPtr reply) {
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  auto run = c_.runs.Get(*id);
  if (!run.ok()) return reply->Error(run.status());
  auto steps = c_.runs.Steps(*id);
  if (!steps.ok()) return reply->Error(steps.status());
  json body = run->ToJsonValue();
  body["steps"] = StepsJson(*steps);
  reply->Json(200, body);
}

void RunRoutes::Logs(const Request& r, ReplyPtr reply) {
  auto o = ParseLogOptions(r);
  if (!o.ok()) return reply->Error(o.status());
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  const std::string step = r.Param("step");
  // What can be refused is refused before the stream begins. Steps are
  // known once the run has read its pipeline file: before that, a step of
  // any name is waited for (StreamLog's contract).
  auto steps = c_.runs.Steps(*id);
  if (!steps.ok()) return reply->Error(steps.status());
  bool known = steps->empty();
  for (const StepRecord& s : *steps) known = known || s.name == step;
  if (!known) return reply->Error(NotFound("run " + std::to_string(*id) + " has no step " + step));
  Spawn(reply, [this, id = *id, step, o = *o, reply] {
    Status st = StreamLog(
        o, *reply, [&](const LogChunk& chunk) { return c_.runs.StreamLog(id, step, o.follow, chunk); },
        [&]() -> std::string {
          auto now = c_.runs.Steps(id);
          if (!now.ok()) return "";
          for (const StepRecord& s : *now) {
            if (s.name == step) return Dump(s.ToJsonValue());
          }
          return "";
        });
    if (!st.ok()) c_.log.Warn("api.logs_ended", {{"run", id}, {"step", step}, {"error", st.ToString()}});
  });
}

void RunRoutes::Cancel(const Request& r, ReplyPtr reply) {
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  // Stopping the run's sandboxes takes a moment: on a thread of its own.
  Spawn(reply, [this, id = *id, reply] {
    auto run = c_.runs.Cancel(id);
    if (!run.ok()) return reply->Error(run.status());
    reply->Json(200, run->ToJsonValue());
  });
}

void RunRoutes::Rerun(const Request& r, ReplyPtr reply) {
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  Result<Run> run = c_.runs.Rerun(*id);
  if (!run.ok()) return reply->Error(run.status());
  reply->Json(201, run->ToJsonValue());
}

void RunRoutes::Prune(const Request& r, ReplyPtr reply) {
  Fields f(r.object);
  std::string repo;
  int64_t keep = 0;
  for (Status st : {f.String("repo", &repo, false), f.Int("keep", &keep, true, 0, kMaxKeep), f.Finish()}) {
    if (!st.ok()) return reply->Error(st);
  }
  // Removes logs and workspaces: file system work.
  Spawn(reply, [this, repo, keep, reply] {
    auto removed = c_.runs.Prune(repo, static_cast<int>(keep));
    if (!removed.ok()) return reply->Error(removed.status());
    json body;
    body["removed"] = *removed;
    reply->Json(200, body);
  });
}

}  // namespace

void AddRunRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<RunRoutes>(context);
  auto bind = [routes](void (RunRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  const std::string base = "/api/v1/runs";
  router.Add("GET", base, kRead,
             {"repo", "branch", "status", "commit", "event", "since", "until", "before", "limit"},
             bind(&RunRoutes::List));
  router.Add("POST", base + "/exec", kMutating | kJsonBody, {}, bind(&RunRoutes::Exec));
  router.Add("POST", base + "/prune", kMutating | kJsonBody, {}, bind(&RunRoutes::Prune));
  router.Add("GET", base + "/:id", kRead, {}, bind(&RunRoutes::Get));
  router.Add("POST", base + "/:id/cancel", kMutating | kOperate, {}, bind(&RunRoutes::Cancel));
  router.Add("POST", base + "/:id/rerun", kMutating | kOperate, {}, bind(&RunRoutes::Rerun));
  router.Add("GET", base + "/:id/steps/:step/logs", kRead, {"follow", "stdout", "stderr"},
             bind(&RunRoutes::Logs));
}

}  // namespace slipway::daemon::api

// POST /api/v1/runs/{id}/promote and GET /api/v1/promotions: docs/api.md,
// "Promotion". PromotionService does the work; these decode and answer.
#include <limits>

#include "engine/base/ascii.h"
#include "engine/base/units.h"
#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

using pipelines::PromotionFilter;
using pipelines::PromotionRecord;

constexpr int kMaxListLimit = 500;

Result<int64_t> PositiveInt(const std::string& name, const std::string& text, const char* what) {
  std::optional<int64_t> n = ParseInt(text);
  if (!n || *n < 1 || text[0] == '+')
    return InvalidArgument(what + name + " must be a positive whole number, not \"" + text + "\"");
  return *n;
}

class PromotionRoutes {
 public:
  explicit PromotionRoutes(Context& c) : c_(c) {}

  // The run's promotion, now: its record (200), or why not (409, 403), or
  // the registry's error.
  void Promote(const Request& r, ReplyPtr reply) {
    auto id = PositiveInt("run id", r.Param("id"), "");
    if (!id.ok()) return reply->Error(id.status());
    // Who asked, for the audit: the CLI says so; any other client is "api".
    std::string via = r.Query("via");
    if (r.query.count("via") && via != "cli" && via != "api")
      return reply->Error(InvalidArgument("query parameter via must be cli or api, not \"" + via + "\""));
    std::string who = via == "cli" ? "cli" : "api";
    // A push takes as long as the image's size: on a worker thread.
    Spawn(c_, reply, [this, id = *id, who, reply] {
      auto record = c_.promotions->Promote(id, who);
      if (!record.ok()) return reply->Error(record.status());
      reply->Json(200, record->ToJsonValue());
    });
  }

  void List(const Request& r, ReplyPtr reply) {
    PromotionFilter f;
    f.repo = r.Query("repo");
    f.digest = Lower(r.Query("digest"));
    for (auto [name, out] : {std::pair<const char*, int64_t*>{"run", &f.run_id}, {"before", &f.before_id}}) {
      if (!r.query.count(name)) continue;
      auto n = PositiveInt(name, r.Query(name), "query parameter ");
      if (!n.ok()) return reply->Error(n.status());
      *out = *n;
    }
    if (r.query.count("limit")) {
      auto n = PositiveInt("limit", r.Query("limit"), "query parameter ");
      if (!n.ok() || *n > kMaxListLimit)
        return reply->Error(InvalidArgument("query parameter limit must be from 1 to 500"));
      f.limit = static_cast<int>(*n);
    }
    auto list = c_.promotion_audit->List(f);
    if (!list.ok()) return reply->Error(list.status());
    json items = json::array();
    for (const PromotionRecord& p : *list) items.push_back(p.ToJsonValue());
    json body;
    body["promotions"] = std::move(items);
    body["next_before"] =
        static_cast<int>(list->size()) == f.limit && !list->empty() ? json(list->back().id) : json(nullptr);
    reply->Json(200, body);
  }

 private:
  Context& c_;
};

}  // namespace

void AddPromotionRoutes(Router& router, Context& context) {
  if (!context.promotions || !context.promotion_audit) return;
  auto routes = std::make_shared<PromotionRoutes>(context);
  router.Add("POST", "/api/v1/runs/:id/promote", kMutating | kOperate, {"via"},
             [routes](const Request& r, ReplyPtr reply) { routes->Promote(r, std::move(reply)); });
  router.Add("GET", "/api/v1/promotions", kRead, {"repo", "run", "digest", "before", "limit"},
             [routes](const Request& r, ReplyPtr reply) { routes->List(r, std::move(reply)); });
}

}  // namespace slipway::daemon::api

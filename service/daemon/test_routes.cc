// The runs' test cases: docs/api.md, "Test results". The TestStore answers;
// these handlers decode, check and answer.
//   GET /api/v1/runs/{id}/tests?status=&offset=&limit=
//   GET /api/v1/runs/{id}/tests/{index}
//   GET /api/v1/repos/{name}/tests/{test}/history?runs=&branch=
//   GET /api/v1/repos/{name}/tests/flaky?runs=&min_flips=&branch=
//   GET /api/v1/repos/{name}/tests/slowest?runs=&branch=&limit=
#include <limits>
#include <utility>

#include "engine/base/time_json.h"
#include "engine/base/units.h"
#include "service/daemon/api_routes.h"

namespace slipway::daemon::api {

namespace {

using pipelines::TestIdentity;
using pipelines::TestStatus;

constexpr int64_t kMaxCases = 1000;
constexpr int64_t kMaxWindow = 1000;

Result<int64_t> RunId(const Request& r) {
  const std::string& text = r.Param("id");
  std::optional<int64_t> id = ParseInt(text);
  if (!id || *id < 1 || text[0] == '+')
    return InvalidArgument("invalid run id \"" + text + "\": want a number");
  return *id;
}

json IdentityJson(const TestIdentity& t) {
  return {{"id", t.id}, {"suite", t.suite}, {"class_name", t.class_name}, {"name", t.name}};
}

// A case as listed: without its long texts (GET .../tests/{index} has them).
json CaseJson(const pipelines::StoredCase& c, bool whole) {
  const pipelines::TestCase& r = c.result;
  json j = {{"index", c.index},
            {"test", IdentityJson(c.test)},
            {"status", pipelines::TestStatusName(r.status)},
            {"duration_us", r.duration_us},
            {"message", r.message},
            {"type", r.type},
            {"step", r.step},
            {"report", r.report},
            {"file", r.file},
            {"line", r.line}};
  if (whole) {
    j["details"] = r.details;
    j["system_out"] = r.system_out;
    j["system_err"] = r.system_err;
  }
  return j;
}

// "failed" or "failed,error".
Result<std::vector<TestStatus>> QueryStatuses(const Request& r) {
  std::vector<TestStatus> out;
  if (!r.query.count("status")) return out;
  const std::string text = r.Query("status");
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    auto s = pipelines::ParseTestStatus(std::string_view(text).substr(start, end - start));
    if (!s) {
      return InvalidArgument(
          "query parameter status must be passed, failed, error or skipped (several: comma-separated), not "
          "\"" +
          text + "\"");
    }
    out.push_back(*s);
    start = end + 1;
  }
  return out;
}

Result<pipelines::Window> QueryWindow(const Request& r, int64_t runs_default) {
  pipelines::Window w;
  w.branch = r.Query("branch");
  if (r.query.count("branch") && w.branch.empty())
    return InvalidArgument("query parameter branch must not be empty");
  SLIPWAY_ASSIGN_OR_RETURN(int64_t runs, QueryInt(r, "runs", runs_default, 1, kMaxWindow));
  w.runs = static_cast<int>(runs);
  return w;
}

class TestRoutes {
 public:
  explicit TestRoutes(Context& c) : store_(*c.tests) {}

  void List(const Request& r, ReplyPtr reply);
  void Get(const Request& r, ReplyPtr reply);
  void History(const Request& r, ReplyPtr reply);
  void Flaky(const Request& r, ReplyPtr reply);
  void Slowest(const Request& r, ReplyPtr reply);

 private:
  // {test}: a test id, or a name ("name" or "class_name.name") that only
  // one of the repository's tests has.
  Result<TestIdentity> FindTest(const std::string& repo, const std::string& text);

  pipelines::TestStore& store_;
};

void TestRoutes::List(const Request& r, ReplyPtr reply) {
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  pipelines::CaseQuery q;
  q.run_id = *id;
  auto statuses = QueryStatuses(r);
  if (!statuses.ok()) return reply->Error(statuses.status());
  q.statuses = *statuses;
  auto offset = QueryInt(r, "offset", 0, 0, std::numeric_limits<int64_t>::max());
  if (!offset.ok()) return reply->Error(offset.status());
  auto limit = QueryInt(r, "limit", 100, 1, kMaxCases);
  if (!limit.ok()) return reply->Error(limit.status());
  q.offset = *offset;
  q.limit = static_cast<int>(*limit);
  auto page = store_.ListCases(q);
  if (!page.ok()) return reply->Error(page.status());
  json tests = json::array();
  for (const auto& c : page->cases) tests.push_back(CaseJson(c, false));
  json reports = json::array();
  for (const auto& f : page->reports)
    reports.push_back({{"file", f.file}, {"step", f.step}, {"cases", f.cases}});
  const int64_t next = q.offset + static_cast<int64_t>(page->cases.size());
  json body = {{"run", *id}, {"total", page->total}, {"tests", std::move(tests)}};
  body["next_offset"] = next < page->total && !page->cases.empty() ? json(next) : json(nullptr);
  body["reports"] = std::move(reports);
  reply->Json(200, body);
}

void TestRoutes::Get(const Request& r, ReplyPtr reply) {
  auto id = RunId(r);
  if (!id.ok()) return reply->Error(id.status());
  const std::string& text = r.Param("index");
  std::optional<int64_t> index = ParseInt(text);
  if (!index || *index < 0 || text[0] == '+') {
    return reply->Error(InvalidArgument("invalid test case index \"" + text + "\": want a number from 0"));
  }
  auto c = store_.GetCase(*id, *index);
  if (!c.ok()) return reply->Error(c.status());
  reply->Json(200, CaseJson(*c, true));
}

Result<TestIdentity> TestRoutes::FindTest(const std::string& repo, const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    std::optional<int64_t> id = ParseInt(text);
    if (!id) return InvalidArgument("invalid test id \"" + text + "\"");
    return store_.GetTest(repo, *id);
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<TestIdentity> found, store_.FindTests(repo, text));
  if (found.size() == 1) return found.front();
  std::string ids;
  for (size_t i = 0; i < found.size() && i < 10; ++i) ids += (i ? ", " : "") + std::to_string(found[i].id);
  return InvalidArgument(std::to_string(found.size()) + " tests of repository " + repo + " are named \"" +
                         text + "\" (ids " + ids + (found.size() > 10 ? ", ..." : "") + "): give the id");
}

void TestRoutes::History(const Request& r, ReplyPtr reply) {
  const std::string& repo = r.Param("name");
  auto window = QueryWindow(r, 50);
  if (!window.ok()) return reply->Error(window.status());
  auto test = FindTest(repo, r.Param("test"));
  if (!test.ok()) return reply->Error(test.status());
  auto history = store_.History(repo, test->id, *window);
  if (!history.ok()) return reply->Error(history.status());
  json runs = json::array();
  for (const auto& e : *history) {
    runs.push_back({{"run", e.run_id},
                    {"status", pipelines::TestStatusName(e.status)},
                    {"duration_us", e.duration_us},
                    {"message", e.message},
                    {"commit", e.commit},
                    {"branch", e.branch},
                    {"run_status", pipelines::RunStatusName(e.run_status)},
                    {"queued_at", Rfc3339Millis(e.queued_unix_ms)}});
  }
  reply->Json(200, {{"test", IdentityJson(*test)}, {"history", std::move(runs)}});
}

void TestRoutes::Flaky(const Request& r, ReplyPtr reply) {
  const std::string& repo = r.Param("name");
  pipelines::FlakyQuery q;
  auto window = QueryWindow(r, 100);
  if (!window.ok()) return reply->Error(window.status());
  q.window = *window;
  auto flips = QueryInt(r, "min_flips", 3, 1, 1000);
  if (!flips.ok()) return reply->Error(flips.status());
  q.min_flips = static_cast<int>(*flips);
  auto flaky = store_.Flaky(repo, q);
  if (!flaky.ok()) return reply->Error(flaky.status());
  json tests = json::array();
  for (const auto& f : *flaky) {
    json last = nullptr;
    if (f.last_failure_run) {
      last = {
          {"run", f.last_failure_run}, {"message", f.last_failure_message}, {"type", f.last_failure_type}};
    }
    tests.push_back({{"test", IdentityJson(f.test)},
                     {"flips", f.flips},
                     {"commits", f.commits},
                     {"runs", f.runs},
                     {"failures", f.failures},
                     {"last_failure", std::move(last)}});
  }
  reply->Json(200, {{"runs", q.window.runs}, {"min_flips", q.min_flips}, {"tests", std::move(tests)}});
}

void TestRoutes::Slowest(const Request& r, ReplyPtr reply) {
  const std::string& repo = r.Param("name");
  auto window = QueryWindow(r, 20);
  if (!window.ok()) return reply->Error(window.status());
  auto limit = QueryInt(r, "limit", 20, 1, kMaxCases);
  if (!limit.ok()) return reply->Error(limit.status());
  auto slow = store_.Slowest(repo, *window, static_cast<int>(*limit));
  if (!slow.ok()) return reply->Error(slow.status());
  json tests = json::array();
  for (const auto& s : *slow) {
    tests.push_back({{"test", IdentityJson(s.test)},
                     {"runs", s.runs},
                     {"median_us", s.median_us},
                     {"latest_us", s.latest_us},
                     {"max_us", s.max_us}});
  }
  reply->Json(200, {{"runs", window->runs}, {"tests", std::move(tests)}});
}

}  // namespace

void AddTestRoutes(Router& router, Context& context) {
  auto routes = std::make_shared<TestRoutes>(context);
  auto bind = [routes](void (TestRoutes::*method)(const Request&, ReplyPtr)) -> Handler {
    return [routes, method](const Request& r, ReplyPtr reply) { ((*routes).*method)(r, std::move(reply)); };
  };
  router.Add("GET", "/api/v1/runs/:id/tests", kRead, {"status", "offset", "limit"},
             bind(&TestRoutes::List));
  router.Add("GET", "/api/v1/runs/:id/tests/:index", kRead, {}, bind(&TestRoutes::Get));
  router.Add("GET", "/api/v1/repos/:name/tests/flaky", kRead, {"runs", "min_flips", "branch"},
             bind(&TestRoutes::Flaky));
  router.Add("GET", "/api/v1/repos/:name/tests/slowest", kRead, {"runs", "branch", "limit"},
             bind(&TestRoutes::Slowest));
  router.Add("GET", "/api/v1/repos/:name/tests/:test/history", kRead, {"runs", "branch"},
             bind(&TestRoutes::History));
}

}  // namespace slipway::daemon::api

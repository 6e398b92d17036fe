#include "service/cli/test_commands.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "service/cli/format.h"

namespace slipway::cli {

namespace {

// The most cases one request asks for (the API's own maximum).
constexpr int64_t kPage = 1000;

// "1.234s".
std::string Seconds(int64_t us) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3fs", static_cast<double>(us) / 1e6);
  return text;
}

// "pkg.Suite.test_x", or "suite/test_x" for a case without a class.
std::string TestName(const Json& test) {
  std::string cls = StringField(test, "class_name");
  if (!cls.empty()) return cls + "." + StringField(test, "name");
  std::string suite = StringField(test, "suite");
  return suite.empty() ? StringField(test, "name") : suite + "/" + StringField(test, "name");
}

// The first line of a message, for a table cell.
std::string FirstLine(const std::string& text, size_t width) {
  return Truncate(text.substr(0, text.find('\n')), width);
}

std::string TestPath(const std::string& repo, const std::string& rest) {
  return "/repos/" + Escape(repo) + "/tests/" + rest;
}

struct ListOptions {
  std::string run, format;
  bool failed = false;
  std::string status;
  int64_t limit = 0;
};

int List(DaemonClient& client, const ListOptions& o) {
  if (o.failed && !o.status.empty()) return Fail("give --failed or --status, not both");
  if (o.limit < 0) return Fail("--limit must not be negative");
  const std::string status = o.failed ? "failed,error" : o.status;
  // Page by page: the API answers at most kPage cases at once.
  Json all = Json::array();
  Json first;
  for (int64_t offset = 0;;) {
    int64_t want = o.limit ? std::min(kPage, o.limit - offset) : kPage;
    std::string path = "/runs/" + Escape(o.run) + "/tests?offset=" + std::to_string(offset) +
                       "&limit=" + std::to_string(want);
    if (!status.empty()) path += "&status=" + Escape(status);
    auto page = client.Get(path);
    if (!page.ok()) return Fail(page.status());
    if (first.is_null()) first = *page;
    for (const Json& c : Field(*page, "tests")) all.push_back(c);
    offset = static_cast<int64_t>(all.size());
    if (!Field(*page, "next_offset").is_number_integer() || (o.limit && offset >= o.limit)) break;
  }
  if (o.format == "json") {
    first["tests"] = all;
    first["next_offset"] = nullptr;
    PrintJson(first);
    return 0;
  }
  Table table({"#", "TEST ID", "STATUS", "DURATION", "TEST", "STEP", "MESSAGE"});
  for (const Json& c : all) {
    const Json& test = Field(c, "test");
    std::string step = StringField(c, "step");
    table.Add({std::to_string(IntField(c, "index")), std::to_string(IntField(test, "id")),
               StringField(c, "status"), Seconds(IntField(c, "duration_us")), Truncate(TestName(test), 80),
               step.empty() ? "-" : step, FirstLine(StringField(c, "message"), 60)});
  }
  table.Print();
  // The run's counts and where they came from, under the table.
  auto run = client.Get("/runs/" + Escape(o.run));
  if (run.ok()) {
    const Json& t = Field(*run, "tests");
    std::printf("\n%lld tests: %lld passed, %lld failed, %lld errors, %lld skipped\n",
                static_cast<long long>(IntField(t, "total")), static_cast<long long>(IntField(t, "passed")),
                static_cast<long long>(IntField(t, "failed")), static_cast<long long>(IntField(t, "errors")),
                static_cast<long long>(IntField(t, "skipped")));
    for (const std::string& w : StringsField(*run, "warnings")) std::printf("warning: %s\n", w.c_str());
  }
  for (const Json& r : Field(first, "reports")) {
    std::string step = StringField(r, "step");
    std::printf("report %s: %lld cases%s\n", StringField(r, "file").c_str(),
                static_cast<long long>(IntField(r, "cases")),
                step.empty() ? "" : (" (step " + step + ")").c_str());
  }
  return 0;
}

struct RepoOptions {
  std::string repo, test, branch, format;
  int64_t runs = -1, min_flips = -1, limit = -1;  // -1: not given, the daemon's default
};

std::string WindowQuery(const RepoOptions& o) {
  std::string q;
  auto add = [&](const std::string& part) { q += (q.empty() ? "?" : "&") + part; };
  if (o.runs >= 0) add("runs=" + std::to_string(o.runs));
  if (!o.branch.empty()) add("branch=" + Escape(o.branch));
  if (o.min_flips >= 0) add("min_flips=" + std::to_string(o.min_flips));
  if (o.limit >= 0) add("limit=" + std::to_string(o.limit));
  return q;
}

int History(DaemonClient& client, const RepoOptions& o) {
  auto answer = client.Get(TestPath(o.repo, Escape(o.test) + "/history" + WindowQuery(o)));
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  const Json& test = Field(*answer, "test");
  std::printf("test %lld: %s\n\n", static_cast<long long>(IntField(test, "id")), TestName(test).c_str());
  Table table({"RUN", "STATUS", "DURATION", "BRANCH", "COMMIT", "RUN STATUS", "MESSAGE"});
  for (const Json& e : Field(*answer, "history")) {
    std::string commit = StringField(e, "commit");
    table.Add({std::to_string(IntField(e, "run")), StringField(e, "status"),
               Seconds(IntField(e, "duration_us")), StringField(e, "branch"),
               commit.empty() ? "-" : commit.substr(0, 10), StringField(e, "run_status"),
               FirstLine(StringField(e, "message"), 60)});
  }
  table.Print();
  return 0;
}

int Flaky(DaemonClient& client, const RepoOptions& o) {
  auto answer = client.Get(TestPath(o.repo, "flaky" + WindowQuery(o)));
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"TEST ID", "TEST", "FLIPS", "SAME COMMIT", "FAILED", "LAST FAILURE"});
  for (const Json& f : Field(*answer, "tests")) {
    const Json& last = Field(f, "last_failure");
    std::string last_text = last.is_object() ? "run " + std::to_string(IntField(last, "run")) + ": " +
                                                   FirstLine(StringField(last, "message"), 50)
                                             : "-";
    size_t commits = StringsField(f, "commits").size();
    table.Add({std::to_string(IntField(Field(f, "test"), "id")), Truncate(TestName(Field(f, "test")), 70),
               std::to_string(IntField(f, "flips")), commits ? std::to_string(commits) + (commits == 1 ? " commit" : " commits") : "-",
               std::to_string(IntField(f, "failures")) + "/" + std::to_string(IntField(f, "runs")),
               last_text});
  }
  table.Print();
  return 0;
}

int Slowest(DaemonClient& client, const RepoOptions& o) {
  auto answer = client.Get(TestPath(o.repo, "slowest" + WindowQuery(o)));
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"TEST ID", "TEST", "MEDIAN", "LATEST", "MAX", "RUNS"});
  for (const Json& s : Field(*answer, "tests")) {
    table.Add({std::to_string(IntField(Field(s, "test"), "id")), Truncate(TestName(Field(s, "test")), 70),
               Seconds(IntField(s, "median_us")), Seconds(IntField(s, "latest_us")),
               Seconds(IntField(s, "max_us")), std::to_string(IntField(s, "runs"))});
  }
  table.Print();
  return 0;
}

}  // namespace

void AddTestCommands(CLI::App& app, Verbs& verbs) {
  auto l = std::make_shared<ListOptions>();
  auto o = std::make_shared<RepoOptions>();
  CLI::App* tests =
      app.add_subcommand("tests", "Test results: a run's test cases, a test's history, flaky and slow tests");
  tests->add_option("RUN", l->run, "The run whose test cases to list");
  tests->add_flag("--failed", l->failed, "Only failed and errored cases");
  tests->add_option("--status", l->status,
                    "Only cases in these statuses (passed, failed, error, skipped; comma-separated)");
  tests->add_option("--limit", l->limit, "At most this many cases (0: all)")->default_str("0");
  AddFormatOption(tests, l->format);

  auto window = [o](CLI::App* c, const char* runs_default) {
    c->add_option("--runs", o->runs, "How many of the repository's newest runs with tests to look at")
        ->default_str(runs_default);
    c->add_option("--branch", o->branch, "Only runs of this branch");
    AddFormatOption(c, o->format);
  };
  CLI::App* history =
      tests->add_subcommand("history", "A test's result in each of the repository's recent runs");
  history->add_option("REPO", o->repo, "The repository")->required();
  history->add_option("TEST", o->test, "The test: its id (slipway tests RUN), or its name or CLASS.NAME")
      ->required();
  window(history, "50");
  verbs.push_back({history, [o](DaemonClient& c) { return History(c, *o); }});

  CLI::App* flaky = tests->add_subcommand(
      "flaky", "Tests that passed and failed on one commit, or flipped while nothing else failed");
  flaky->add_option("REPO", o->repo, "The repository")->required();
  flaky->add_option("--min-flips", o->min_flips, "Flips a test needs to be listed")->default_str("3");
  window(flaky, "100");
  verbs.push_back({flaky, [o](DaemonClient& c) { return Flaky(c, *o); }});

  CLI::App* slowest = tests->add_subcommand("slowest", "The tests of the highest median duration");
  slowest->add_option("REPO", o->repo, "The repository")->required();
  slowest->add_option("--limit", o->limit, "How many tests")->default_str("20");
  window(slowest, "20");
  verbs.push_back({slowest, [o](DaemonClient& c) { return Slowest(c, *o); }});

  // After its subcommands: main runs the first verb parsed.
  verbs.push_back({tests, [l](DaemonClient& c) {
                     if (l->run.empty())
                       return Fail("give a run (slipway tests RUN), or history, flaky or slowest");
                     return List(c, *l);
                   }});
}

}  // namespace slipway::cli

#include "service/cli/pipeline_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/time.h"
#include "service/cli/format.h"
#include "service/cli/interrupt.h"
#include "service/cli/stream.h"
#include "service/cli/tool_commands.h"

namespace slipway::cli {

namespace {

// How often a followed run is looked at for steps that started and for its
// end (the API has no run-level event stream; step logs are streamed).
constexpr auto kPollInterval = std::chrono::milliseconds(200);

std::string RunPath(const std::string& id) {
  return "/runs/" + Escape(id);
}

std::string RunPath(int64_t id) {
  return RunPath(std::to_string(id));
}

bool IsFinalStatus(const std::string& status) {
  return status == "success" || status == "failure" || status == "error" || status == "cancelled" ||
         status == "interrupted";
}

// What `pipeline exec` and `pipeline run --wait` exit with.
int ExitCodeOfRun(const std::string& status) {
  if (status == "success") return 0;
  if (status == "failure") return 1;
  return 2;
}

std::string Ago(const Json& object, const char* key) {
  int64_t t = ParseTimestamp(StringField(object, key));
  return t ? HumanDuration(NowUnixMs() - t) + " ago" : "-";
}

// From started_at to finished_at (or now, while it runs); "-" before it starts.
std::string Took(const Json& object) {
  int64_t start = ParseTimestamp(StringField(object, "started_at"));
  if (!start) return "-";
  int64_t end = ParseTimestamp(StringField(object, "finished_at"));
  return HumanDuration((end ? end : NowUnixMs()) - start);
}

std::string RefText(const Json& run) {
  if (std::string tag = StringField(run, "tag"); !tag.empty()) return "tag " + tag;
  if (std::string branch = StringField(run, "branch"); !branch.empty()) return branch;
  if (std::string dir = StringField(run, "source_dir"); !dir.empty()) return dir;
  return "-";
}

// "118/120 passed" for a table cell; "-" without tests.
std::string TestsCell(const Json& run) {
  const Json& t = Field(run, "tests");
  if (IntField(t, "total") == 0) return "-";
  return std::to_string(IntField(t, "passed")) + "/" + std::to_string(IntField(t, "total")) + " passed";
}

// A run's test cases: "120 passed, 2 failed, 3 skipped" ("" if its reports
// had none).
std::string TestsText(const Json& run) {
  const Json& t = Field(run, "tests");
  if (IntField(t, "total") == 0) return "";
  std::string text = std::to_string(IntField(t, "passed")) + " passed";
  for (const char* key : {"failed", "errors", "skipped"}) {
    if (int64_t n = IntField(t, key)) text += ", " + std::to_string(n) + " " + key;
  }
  return text;
}

std::string StatusText(const Json& object) {
  std::string status = StringField(object, "status");
  std::string reason = StringField(object, "reason");
  return reason.empty() ? status : status + " (" + reason + ")";
}

// --- Following a run: its steps' logs as they start, then its result ---

// Lines of several steps, each prefixed with its step's name, go to stdout
// and stderr whole, one at a time.
class StepOutput {
 public:
  void SetPrefixed(bool prefixed) {
    std::lock_guard lock(mu_);
    prefixed_ = prefixed;
  }
  bool prefixed() {
    std::lock_guard lock(mu_);
    return prefixed_;
  }
  void Write(Stream stream, const std::string& prefix, std::string_view data) {
    std::lock_guard lock(mu_);
    int fd = stream == Stream::kStderr ? STDERR_FILENO : STDOUT_FILENO;
    if (prefix.empty()) return WriteAll(fd, data);
    std::string line = "[" + prefix + "] ";
    line.append(data);
    line.push_back('\n');
    WriteAll(fd, line);
  }

 private:
  std::mutex mu_;
  bool prefixed_ = false;
};

class RunFollower {
 public:
  RunFollower(DaemonClient& client, int64_t id) : client_(client), id_(id) {}
  ~RunFollower() {
    for (std::thread& t : threads_) t.join();
  }

  // Polls the run until it has ended, following each step's log from when
  // it starts; then waits for the logs to be complete. The run as it ended.
  Result<Json> Follow() {
    for (;;) {
      SLIPWAY_ASSIGN_OR_RETURN(Json run, client_.Get(RunPath(id_)));
      StartFollowers(run);
      if (IsFinalStatus(StringField(run, "status"))) {
        for (std::thread& t : threads_) t.join();
        threads_.clear();
        // Steps that ended between two looks were followed to their end:
        // the logs are complete.
        return run;
      }
      // Cancelled by a signal or not: looked at until it says it has ended.
      std::this_thread::sleep_for(kPollInterval);
    }
  }

 private:
  void StartFollowers(const Json& run) {
    const Json& steps = Field(run, "steps");
    if (!steps.is_array()) return;
    // The setup (checkout, images) is slipwayd's own: its log is shown, but
    // it does not make a one-step pipeline look like several.
    int count = 0;
    for (const Json& step : steps) count += StringField(step, "kind") == "step";
    output_.SetPrefixed(count > 1);
    for (const Json& step : steps) {
      // Followed once started; a step skipped or cancelled before it
      // started has no log.
      std::string name = StringField(step, "name");
      if (StringField(step, "kind") == "service" || !Field(step, "started_at").is_string()) continue;
      if (!followed_.insert(name).second) continue;
      threads_.emplace_back([this, name, own = client_.Clone()] { FollowStep(*own, name); });
    }
  }

  void FollowStep(DaemonClient& own, const std::string& name) {
    const std::string prefix = output_.prefixed() ? name : "";
    std::map<Stream, std::unique_ptr<LineSplitter>> lines;
    for (Stream s : {Stream::kStdout, Stream::kStderr}) {
      lines[s] = std::make_unique<LineSplitter>(
          [this, s, prefix](std::string_view line) { output_.Write(s, prefix, line); });
    }
    std::string path = RunPath(id_) + "/steps/" + Escape(name) + "/logs?follow=true";
    Status st = ReadLogStream(own, path, "step " + name, [&](Stream s, std::string_view data) {
      if (prefix.empty()) return output_.Write(s, "", data);
      lines[s]->Feed(data);
    });
    for (auto& [s, splitter] : lines) splitter->Finish();
    if (!st.ok())
      std::fprintf(stderr, "slipway: the log of step %s: %s\n", name.c_str(), st.message().c_str());
  }

  DaemonClient& client_;
  const int64_t id_;
  StepOutput output_;
  std::set<std::string> followed_;
  std::vector<std::thread> threads_;
};

// Follows run `run` to its end (Ctrl-C cancels it), prints how it ended
// and returns the exit code: 0 success, 1 failure, 2 otherwise; 128 + the
// signal if one cancelled it.
int FollowToEnd(DaemonClient& client, SandboxGuard& guard, const Json& run) {
  const int64_t id = IntField(run, "id");
  if (int sig = guard.OnSignal([id](DaemonClient& own) { (void)own.Post(RunPath(id) + "/cancel"); })) {
    (void)client.Post(RunPath(id) + "/cancel");
    return ReportSignal(sig, "cancelled run " + std::to_string(id));
  }
  RunFollower follower(client, id);
  auto ended = follower.Follow();
  if (!ended.ok()) return Fail(ended.status());
  std::string status = StringField(*ended, "status");
  std::string error = StringField(*ended, "error");
  std::fflush(stdout);
  std::fprintf(stderr, "run %lld: %s%s%s\n", static_cast<long long>(id), status.c_str(),
               error.empty() ? "" : ": ", error.c_str());
  if (int sig = guard.signal()) return ReportSignal(sig, "cancelled run " + std::to_string(id));
  return ExitCodeOfRun(status);
}

// Starts a run (POST `path`, which answers the new run); with `wait`,
// follows it to its end.
int StartRun(DaemonClient& client, const std::string& path, const Json& body, bool wait) {
  if (!wait) {
    auto run = client.Post(path, body);
    if (!run.ok()) return Fail(run.status());
    std::printf("%lld\n", static_cast<long long>(IntField(*run, "id")));
    return 0;
  }
  SandboxGuard guard(client);
  guard.AbortOnSignal(&client);
  auto run = client.Post(path, body);
  guard.AbortOnSignal(nullptr);
  if (!run.ok()) {
    if (int sig = guard.signal()) return ReportSignal(sig, "no run was started");
    return Fail(run.status());
  }
  std::fprintf(stderr, "run %lld %s\n", static_cast<long long>(IntField(*run, "id")),
               StringField(*run, "status").c_str());
  return FollowToEnd(client, guard, *run);
}

// --- The verbs ---

struct RunOptions {
  std::string repo, branch, tag, commit;
  bool wait = false;
};

int Run(DaemonClient& client, const RunOptions& o) {
  int given = !o.branch.empty() + !o.tag.empty() + !o.commit.empty();
  if (given > 1) return Fail("give at most one of --branch, --tag and --commit");
  Json body = Json::object();
  if (!o.branch.empty()) body["branch"] = o.branch;
  if (!o.tag.empty()) body["tag"] = o.tag;
  if (!o.commit.empty()) body["commit"] = o.commit;
  return StartRun(client, "/repos/" + Escape(o.repo) + "/runs", body, o.wait);
}

int Exec(DaemonClient& client, const std::string& dir) {
  return StartRun(client, "/runs/exec", {{"dir", AbsolutePath(dir.empty() ? "." : dir)}}, /*wait=*/true);
}

struct ListOptions {
  std::string repo, branch, status, format;
  int limit = 50;
  bool quiet = false;
};

int List(DaemonClient& client, const ListOptions& o) {
  std::string query = "?limit=" + std::to_string(o.limit);
  if (!o.repo.empty()) query += "&repo=" + Escape(o.repo);
  if (!o.branch.empty()) query += "&branch=" + Escape(o.branch);
  if (!o.status.empty()) query += "&status=" + Escape(o.status);
  auto answer = client.Get("/runs" + query);
  if (!answer.ok()) return Fail(answer.status());
  const Json& runs = Field(*answer, "runs");
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  if (o.quiet) {
    for (const Json& run : runs) std::printf("%lld\n", static_cast<long long>(IntField(run, "id")));
    return 0;
  }
  Table table({"RUN", "REPO", "REF", "COMMIT", "EVENT", "STATUS", "TESTS", "QUEUED", "DURATION"});
  for (const Json& run : runs) {
    std::string repo = StringField(run, "repo");
    std::string commit = StringField(run, "commit");
    table.Add({std::to_string(IntField(run, "id")), repo.empty() ? "(exec)" : repo,
               Truncate(RefText(run), 30), commit.empty() ? "-" : commit.substr(0, 10),
               StringField(run, "event"), StringField(run, "status"), TestsCell(run), Ago(run, "queued_at"),
               Took(run)});
  }
  table.Print();
  return 0;
}

int Show(DaemonClient& client, const std::string& id, const std::string& format) {
  auto run = client.Get(RunPath(id));
  if (!run.ok()) return Fail(run.status());
  if (format == "json") {
    PrintJson(*run);
    return 0;
  }
  auto line = [](const char* label, const std::string& value) {
    if (!value.empty()) std::printf("%-10s %s\n", label, value.c_str());
  };
  std::string repo = StringField(*run, "repo");
  line("Run:", std::to_string(IntField(*run, "id")));
  line("Repo:", repo.empty() ? "(exec)" : repo);
  line("Ref:", RefText(*run));
  line("Commit:", StringField(*run, "commit"));
  line("Author:", StringField(*run, "author"));
  std::string message = StringField(*run, "message");
  line("Message:", message.substr(0, message.find('\n')));
  line("Event:", StringField(*run, "event"));
  line("Status:", StringField(*run, "status"));
  line("Error:", StringField(*run, "error"));
  line("Tests:", TestsText(*run));
  for (const std::string& w : StringsField(*run, "warnings")) line("Warning:", w);
  if (const Json& promotion = Field(*run, "promotion"); promotion.is_object()) {
    std::string status = StringField(promotion, "status");
    std::string error = StringField(promotion, "error");
    line("Promotion:", status.empty() || error.empty() ? status : status + ": " + error);
  }
  if (int64_t of = IntField(*run, "rerun_of")) line("Rerun of:", std::to_string(of));
  line("Queued:", Ago(*run, "queued_at"));
  line("Took:", Took(*run));
  const Json& steps = Field(*run, "steps");
  if (!steps.is_array() || steps.empty()) return 0;
  std::printf("\n");
  Table table({"STEP", "KIND", "STATUS", "EXIT", "DURATION", "PEAK MEMORY", "ERROR"});
  for (const Json& step : steps) {
    std::string status = StringField(step, "status");
    bool ended = IsFinalStatus(status) || status == "skipped";
    int64_t peak = IntField(step, "peak_memory_bytes");
    table.Add({StringField(step, "name"), StringField(step, "kind"), StatusText(step),
               ended && status != "skipped" ? std::to_string(IntField(step, "exit_code")) : "-", Took(step),
               peak ? HumanBytes(peak) : "-", Truncate(StringField(step, "error"), 60)});
  }
  table.Print();
  return 0;
}

int Logs(DaemonClient& client, const std::string& id, const std::string& step, bool follow) {
  std::string path = RunPath(id) + "/steps/" + Escape(step) + "/logs?follow=" + (follow ? "true" : "false");
  Status st = PrintLogStream(client, path, "step " + step);
  return st.ok() ? 0 : Fail(st);
}

int Cancel(DaemonClient& client, const std::vector<std::string>& ids) {
  return ForEachName(ids, [&](const std::string& id) -> Status {
    SLIPWAY_RETURN_IF_ERROR(client.Post(RunPath(id) + "/cancel", nullptr, DaemonClient::kNoTimeout).status());
    std::printf("%s\n", id.c_str());
    return Status::Ok();
  });
}

int Rerun(DaemonClient& client, const std::string& id, bool wait) {
  return StartRun(client, RunPath(id) + "/rerun", nullptr, wait);
}

int Prune(DaemonClient& client, const std::string& repo, int keep) {
  if (keep < 0) return Fail("--keep must not be negative");
  Json body = {{"keep", keep}};
  if (!repo.empty()) body["repo"] = repo;
  auto answer = client.Post("/runs/prune", body, DaemonClient::kNoTimeout);
  if (!answer.ok()) return Fail(answer.status());
  for (const Json& id : Field(*answer, "removed")) {
    if (id.is_number_integer()) std::printf("%lld\n", static_cast<long long>(id.get<int64_t>()));
  }
  return 0;
}

// A promotion's record as `pipeline promote` and `promotions` show it.
void PrintPromotion(const Json& p) {
  auto line = [](const char* label, const std::string& value) {
    if (!value.empty()) std::printf("%-12s %s\n", label, value.c_str());
  };
  line("Promotion:", std::to_string(IntField(p, "id")));
  line("Run:", std::to_string(IntField(p, "run")));
  line("Result:", StringField(p, "result"));
  line("Error:", StringField(p, "error"));
  line("Target:", StringField(p, "target"));
  std::string tags;
  for (const Json& t : Field(p, "tags"))
    tags += (tags.empty() ? "" : ", ") + (t.is_string() ? t.get<std::string>() : "");
  line("Tags:", tags);
  line("Digest:", StringField(p, "manifest_digest"));
  line("Provenance:", StringField(p, "provenance_digest"));
  line("Image:", StringField(p, "image_id"));
  line("Took:", Took(p));
}

// `pipeline promote RUN`: the run's promotion now, by hand (a retry after a
// failure, or a run that passed before its promote section was there).
int Promote(DaemonClient& client, const std::string& id, const std::string& format) {
  auto answer = client.Post(RunPath(id) + "/promote?via=cli", nullptr, DaemonClient::kNoTimeout);
  if (!answer.ok()) return Fail(answer.status());
  if (format == "json") {
    PrintJson(*answer);
    return 0;
  }
  PrintPromotion(*answer);
  return 0;
}

struct PromotionListOptions {
  std::string repo, digest, format;
  int64_t run = 0;
  int limit = 50;
};

// `promotions`: the audit, newest first.
int Promotions(DaemonClient& client, const PromotionListOptions& o) {
  std::string query = "?limit=" + std::to_string(o.limit);
  if (!o.repo.empty()) query += "&repo=" + Escape(o.repo);
  if (o.run > 0) query += "&run=" + std::to_string(o.run);
  if (!o.digest.empty()) query += "&digest=" + Escape(o.digest);
  auto answer = client.Get("/promotions" + query);
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"ID", "RUN", "REPO", "TARGET", "TAGS", "DIGEST", "RESULT", "BY", "STARTED"});
  for (const Json& p : Field(*answer, "promotions")) {
    std::string tags;
    for (const Json& t : Field(p, "tags"))
      tags += (tags.empty() ? "" : ",") + (t.is_string() ? t.get<std::string>() : "");
    std::string digest = StringField(p, "manifest_digest");
    std::string result = StringField(p, "result");
    std::string error = StringField(p, "error");
    table.Add({std::to_string(IntField(p, "id")), std::to_string(IntField(p, "run")), StringField(p, "repo"),
               StringField(p, "target"), Truncate(tags, 40), digest.empty() ? "-" : ShortId(digest),
               error.empty() ? result : result + ": " + Truncate(error, 50), StringField(p, "started_by"),
               Ago(p, "started_at")});
  }
  table.Print();
  return 0;
}

struct Options {
  std::string file, id, step, dir, repo, format;
  std::vector<std::string> ids;
  bool flag = false;
  int keep = -1;
  RunOptions run;
  ListOptions list;
  PromotionListOptions promotions;
};

}  // namespace

void AddPipelineCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* pipeline = app.add_subcommand("pipeline", "Pipelines: runs of repositories and working trees");
  pipeline->require_subcommand(1);

  CLI::App* lint =
      pipeline->add_subcommand("lint", "Check a pipeline file (.slipway.yml); needs no slipwayd");
  lint->add_option("FILE", o->file, "The pipeline file")->required();
  verbs.push_back({lint, nullptr, [o] { return LintPipelineFile(o->file); }});

  CLI::App* run = pipeline->add_subcommand("run", "Start a run of a repository's pipeline (event manual)");
  run->add_option("REPO", o->run.repo, "The repository")->required();
  auto* branch =
      run->add_option("--branch", o->run.branch, "A branch (default: the remote's default branch)");
  auto* tag = run->add_option("--tag", o->run.tag, "A tag");
  auto* commit = run->add_option("--commit", o->run.commit, "A commit id");
  branch->excludes(tag)->excludes(commit);
  tag->excludes(commit);
  run->add_flag("--wait", o->run.wait,
                "Stream the steps' logs and exit with the run's result (0 success, 1 failure, 2 otherwise)");
  verbs.push_back({run, [o](DaemonClient& c) { return Run(c, o->run); }});

  CLI::App* exec = pipeline->add_subcommand(
      "exec", "Run the .slipway.yml of a working tree (uncommitted changes included), streaming its logs");
  exec->add_option("DIR", o->dir, "The working tree (default: the current directory)");
  verbs.push_back({exec, [o](DaemonClient& c) { return Exec(c, o->dir); }});

  CLI::App* ls = pipeline->add_subcommand("ls", "List runs, newest first");
  ls->add_option("--repo", o->list.repo, "Only runs of this repository");
  ls->add_option("--branch", o->list.branch, "Only runs of this branch");
  ls->add_option(
      "--status", o->list.status,
      "Only runs in this status (queued, running, success, failure, error, cancelled, interrupted)");
  ls->add_option("--limit", o->list.limit, "At most this many runs (1 to 500)")->default_str("50");
  ls->add_flag("-q,--quiet", o->list.quiet, "Only run ids");
  AddFormatOption(ls, o->list.format);
  verbs.push_back({ls, [o](DaemonClient& c) { return List(c, o->list); }});

  CLI::App* show = pipeline->add_subcommand("show", "Show a run and its steps");
  show->add_option("RUN", o->id, "The run's id")->required();
  AddFormatOption(show, o->format);
  verbs.push_back({show, [o](DaemonClient& c) { return Show(c, o->id, o->format); }});

  CLI::App* logs = pipeline->add_subcommand("logs", "Print a step's (or service's) output");
  logs->add_option("RUN", o->id, "The run's id")->required();
  logs->add_option("STEP", o->step, "The step's name")->required();
  logs->add_flag("-f,--follow", o->flag, "Keep printing output until the step ends");
  verbs.push_back({logs, [o](DaemonClient& c) { return Logs(c, o->id, o->step, o->flag); }});

  CLI::App* cancel = pipeline->add_subcommand("cancel", "Cancel runs: their sandboxes are stopped");
  cancel->add_option("RUN", o->ids, "The runs' ids")->required();
  verbs.push_back({cancel, [o](DaemonClient& c) { return Cancel(c, o->ids); }});

  CLI::App* rerun = pipeline->add_subcommand("rerun", "Start a new run of the same commit (or working tree)");
  rerun->add_option("RUN", o->id, "The run's id")->required();
  rerun->add_flag("--wait", o->flag, "Stream the steps' logs and exit with the run's result");
  verbs.push_back({rerun, [o](DaemonClient& c) { return Rerun(c, o->id, o->flag); }});

  CLI::App* prune = pipeline->add_subcommand("prune", "Remove ended runs but the newest N (per repository)");
  prune->add_option("--repo", o->repo,
                    "Only this repository's runs (default: each repository's, and pipeline exec's, apart)");
  prune->add_option("--keep", o->keep, "How many of the newest runs to keep")->required();
  verbs.push_back({prune, [o](DaemonClient& c) { return Prune(c, o->repo, o->keep); }});

  CLI::App* promote = pipeline->add_subcommand(
      "promote", "Promote a run that succeeded now (its promote section): push, tag, attach provenance");
  promote->add_option("RUN", o->id, "The run's id")->required();
  AddFormatOption(promote, o->format);
  verbs.push_back({promote, [o](DaemonClient& c) { return Promote(c, o->id, o->format); }});

  CLI::App* promotions = app.add_subcommand("promotions", "List promotions (the audit), newest first");
  promotions->add_option("--repo", o->promotions.repo, "Only promotions of this repository");
  promotions->add_option("--run", o->promotions.run, "Only promotions of this run");
  promotions->add_option("--digest", o->promotions.digest,
                         "Only promotions of this manifest digest (sha256:...)");
  promotions->add_option("--limit", o->promotions.limit, "At most this many (1 to 500)")->default_str("50");
  AddFormatOption(promotions, o->promotions.format);
  verbs.push_back({promotions, [o](DaemonClient& c) { return Promotions(c, o->promotions); }});
}

}  // namespace slipway::cli

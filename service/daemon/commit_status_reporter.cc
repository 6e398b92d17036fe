// CommitStatusReporter; the contract is in commit_status_reporter.h.
#include "service/daemon/commit_status_reporter.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

#include "webhooks/commit_status.h"
#include "webhooks/forge_event.h"

namespace slipway::daemon {

namespace {

using pipelines::Run;
using pipelines::RunStatus;
using Steady = std::chrono::steady_clock;

webhooks::CommitState StateOf(RunStatus status) {
  switch (status) {
    case RunStatus::kQueued: return webhooks::CommitState::kPending;
    case RunStatus::kRunning: return webhooks::CommitState::kRunning;
    case RunStatus::kSuccess: return webhooks::CommitState::kSuccess;
    case RunStatus::kFailure: return webhooks::CommitState::kFailure;
    case RunStatus::kCancelled: return webhooks::CommitState::kCancelled;
    case RunStatus::kError:
    case RunStatus::kInterrupted: return webhooks::CommitState::kError;
  }
  return webhooks::CommitState::kError;
}

// "14 s", "2 min 5 s".
std::string Took(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

// "https://api.github.com/repos/o/r/statuses/x" -> origin and path.
bool SplitUrl(const std::string& url, std::string* origin, std::string* path) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  size_t slash = url.find('/', scheme + 3);
  *origin = url.substr(0, slash);
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  return true;
}

}  // namespace

std::string StatusDescription(const Run& run) {
  const std::string prefix = "run " + std::to_string(run.id);
  std::string text;
  switch (run.status) {
    case RunStatus::kQueued: text = prefix + " queued"; break;
    case RunStatus::kRunning: text = prefix + " running"; break;
    case RunStatus::kSuccess:
    case RunStatus::kFailure:
      text = prefix + ": " + pipelines::RunStatusName(run.status) + " in " +
             Took(run.finished_unix_ms - run.started_unix_ms);
      break;
    case RunStatus::kError: text = prefix + ": error" + (run.error.empty() ? "" : ": " + run.error); break;
    case RunStatus::kCancelled:
      text = run.superseded_by ? prefix + ": superseded by run " + std::to_string(run.superseded_by)
                               : prefix + ": cancelled";
      break;
    case RunStatus::kInterrupted: text = prefix + ": interrupted (slipwayd stopped)"; break;
  }
  // The run's test cases, when its reports had any: "120 passed, 2 failed".
  if (const pipelines::TestCounts& t = run.tests; t.total > 0) {
    text += "; " + std::to_string(t.passed) + " passed";
    if (t.failed) text += ", " + std::to_string(t.failed) + " failed";
    if (t.errors) text += ", " + std::to_string(t.errors) + (t.errors == 1 ? " error" : " errors");
    if (t.skipped) text += ", " + std::to_string(t.skipped) + " skipped";
  }
  if (text.size() > 140) text = text.substr(0, 137) + "...";
  return text;
}

CommitStatusReporter::CommitStatusReporter(CommitStatusOptions options, const pipelines::RepoRegistry& repos,
                                           EventLog& log)
    : options_(std::move(options)), repos_(repos), log_(log) {
  for (int i = 0; i < std::max(options_.senders, 1); ++i) senders_.emplace_back([this] { Sender(); });
}

CommitStatusReporter::~CommitStatusReporter() {
  Stop(std::chrono::milliseconds(0));
}

void CommitStatusReporter::RunChanged(const Run& run) {
  // Runs of `pipeline exec` have no repository; a run whose commit is not
  // known yet (a manual trigger before its fetch) has nothing to mark.
  if (run.repo.empty() || run.commit.size() != 40) return;
  {
    std::lock_guard lock(mu_);
    if (draining_) return;
    Line& line = lines_[run.repo + " " + run.commit];
    line.updates.push_back({run, Steady::now() + options_.retry_for});
  }
  cv_.notify_one();
}

std::map<std::string, CommitStatusReporter::Line>::iterator CommitStatusReporter::Due(
    Steady::time_point now, Steady::time_point* wait_until) {
  auto due = lines_.end();
  for (auto it = lines_.begin(); it != lines_.end(); ++it) {
    if (it->second.busy || it->second.updates.empty()) continue;
    if (it->second.next_try <= now) {
      if (due == lines_.end() || it->second.next_try < due->second.next_try) due = it;
    } else {
      *wait_until = std::min(*wait_until, it->second.next_try);
    }
  }
  return due;
}

void CommitStatusReporter::Sender() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    Steady::time_point now = Steady::now();
    Steady::time_point wait_until = now + std::chrono::hours(1);
    auto it = Due(now, &wait_until);
    if (it == lines_.end()) {
      if (draining_ && std::none_of(lines_.begin(), lines_.end(),
                                    [](const auto& l) { return l.second.busy || !l.second.updates.empty(); }))
        cv_.notify_all();  // Stop() waits for this
      cv_.wait_until(lock, wait_until);
      continue;
    }
    Line& line = it->second;
    line.busy = true;
    Run run = line.updates.front().run;
    lock.unlock();
    Outcome outcome = Send(run);
    lock.lock();
    line.busy = false;  // `it` stays valid: only idle, empty lines are erased
    now = Steady::now();
    if (outcome == Outcome::kDone) {
      line.updates.pop_front();
      line.backoff = std::chrono::milliseconds(0);
      line.next_try = now;
    } else if (line.updates.size() > 1) {
      // A newer state of this commit is waiting: it replaces the one the
      // forge refused (which must not overtake it later).
      log_.Info("status.superseded", {{"repo", run.repo}, {"run", run.id}, {"commit", run.commit}});
      line.updates.pop_front();
    } else if (now >= line.updates.front().give_up) {
      log_.Warn("status.gave_up", {{"repo", run.repo},
                                   {"run", run.id},
                                   {"commit", run.commit},
                                   {"state", pipelines::RunStatusName(run.status)},
                                   {"retried_for_ms", options_.retry_for.count()}});
      line.updates.pop_front();
    } else {
      line.backoff = line.backoff.count() == 0 ? options_.first_backoff
                                               : std::min(line.backoff * 2, options_.max_backoff);
      line.next_try = now + line.backoff;
    }
    if (line.updates.empty()) lines_.erase(it);
    cv_.notify_all();
  }
}

CommitStatusReporter::Outcome CommitStatusReporter::Send(const Run& run) {
  // The repository as it is now: one removed, or whose forge settings were
  // dropped, gets no more statuses.
  Result<pipelines::Repository> repo = repos_.Get(run.repo);
  if (!repo.ok()) return Outcome::kDone;
  std::optional<webhooks::Forge> forge = webhooks::ParseForge(repo->forge);
  if (!forge || repo->status_api.empty() || repo->status_token_sealed.empty()) return Outcome::kDone;
  Result<std::string> token = repos_.StatusToken(*repo);
  if (!token.ok()) {
    log_.Warn("status.failed", {{"repo", run.repo}, {"run", run.id}, {"error", token.status().message()}});
    return Outcome::kDone;
  }
  webhooks::StatusTarget target;
  target.forge = *forge;
  target.api_base = repo->status_api;
  target.full_name = repo->full_name;
  target.project_id = repo->project_id;
  target.token = std::move(*token);
  webhooks::StatusUpdate update;
  update.commit = run.commit;
  update.state = StateOf(run.status);
  update.description = StatusDescription(run);
  if (!options_.public_url.empty())
    update.target_url = options_.public_url + "/api/v1/runs/" + std::to_string(run.id);
  Result<webhooks::HttpCall> call = webhooks::CommitStatusCall(target, update);
  if (!call.ok()) {  // the repository's settings cannot make a call: retrying will not help
    log_.Warn("status.failed", {{"repo", run.repo}, {"run", run.id}, {"error", call.status().message()}});
    return Outcome::kDone;
  }
  std::string origin, path;
  if (!SplitUrl(call->url, &origin, &path)) {
    log_.Warn("status.failed", {{"repo", run.repo}, {"run", run.id}, {"error", "not an absolute URL"}});
    return Outcome::kDone;
  }
  httplib::Client client(origin);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(options_.call_timeout);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_follow_location(false);
  if (origin.starts_with("https://")) {
    client.set_ca_cert_path(options_.ca_file);
    client.enable_server_certificate_verification(true);
  }
  httplib::Headers headers;
  std::string content_type = "application/json";
  for (const auto& [name, value] : call->headers) {
    if (name == "content-type" || name == "Content-Type") {
      content_type = value;
    } else {
      headers.emplace(name, value);
    }
  }
  httplib::Result result = client.Post(path, headers, call->body, content_type);
  const char* state = pipelines::RunStatusName(run.status);
  if (!result) {
    // httplib's error names the failure (connection refused, timeout), not
    // the request: no token in it.
    log_.Warn("status.failed", {{"repo", run.repo},
                                {"run", run.id},
                                {"state", state},
                                {"origin", origin},
                                {"error", httplib::to_string(result.error())}});
    return Outcome::kRetry;
  }
  if (result->status / 100 == 2) {
    log_.Debug("status.set", {{"repo", run.repo}, {"run", run.id}, {"state", state}});
    return Outcome::kDone;
  }
  log_.Warn("status.failed", {{"repo", run.repo},
                              {"run", run.id},
                              {"state", state},
                              {"origin", origin},
                              {"http_status", result->status}});
  // A refusal that will not change on its own (bad token, unknown commit or
  // project, invalid body) is not retried; 408, 429 and 5xx are.
  const int code = result->status;
  return code == 408 || code == 429 || code >= 500 ? Outcome::kRetry : Outcome::kDone;
}

void CommitStatusReporter::Stop(std::chrono::milliseconds deadline) {
  std::unique_lock lock(mu_);
  if (stopped_) return;
  draining_ = true;
  cv_.notify_all();
  cv_.wait_until(lock, Steady::now() + deadline, [this] {
    return std::none_of(lines_.begin(), lines_.end(),
                        [](const auto& l) { return l.second.busy || !l.second.updates.empty(); });
  });
  size_t left = 0;
  for (const auto& [key, line] : lines_) left += line.updates.size();
  if (left > 0) log_.Warn("status.dropped", {{"updates", static_cast<int64_t>(left)}});
  stopped_ = true;
  lock.unlock();
  cv_.notify_all();
  for (std::thread& t : senders_) t.join();
  lines_.clear();
}

}  // namespace slipway::daemon

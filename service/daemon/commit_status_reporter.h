// CommitStatusReporter: tells the forge how a run of one of its commits goes
// (docs/webhooks.md, "Commit statuses"). A RunObserver: the RunService tells
// it of every run queued, started and ended; for a repository with a forge,
// a status_api and a status token, it sets the commit's status `slipway`:
//   queued -> pending, running -> running (GitHub, Gitea: pending),
//   success, failure, error -> the same, cancelled -> canceled (GitHub,
//   Gitea: error), interrupted -> error;
// with a description ("run 12: success in 14 s", "run 12: superseded by run
// 13") and a link to the run (<public_url>/api/v1/runs/<id>).
//
// RunChanged only queues (it is called on the run's own thread, which must
// never wait for a forge). A few sender threads make the calls (cpp-httplib,
// bounded timeouts), so that a forge that hangs holds up only its own
// commits. Per commit, updates go out in the order the run changed: an
// update is never overtaken by an older one's retry; a call the forge
// refuses (or does not answer) is retried with exponential backoff for
// `retry_for`, unless a newer update of the same commit is waiting, which
// then replaces it (the forge only shows the latest). Nothing here changes a
// run. Failures are logged with the repository, the run and the HTTP status,
// never with the token.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/event_log.h"
#include "pipelines/repo_registry.h"
#include "pipelines/run_record.h"
#include "pipelines/run_service.h"

namespace slipway::daemon {

struct CommitStatusOptions {
  std::string public_url;  // target URLs: <public_url>/api/v1/runs/<id>; "" sends none
  std::chrono::milliseconds retry_for{std::chrono::minutes(10)};
  std::chrono::milliseconds first_backoff{std::chrono::seconds(1)};  // doubled after each failure
  std::chrono::milliseconds max_backoff{std::chrono::minutes(1)};
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};  // connect, and read, each
  int senders = 4;
  // Where https certificates are checked against.
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
};

// The description of a run's state on the forge, e.g. "run 12: success in
// 14 s", "run 12: superseded by run 13"; with its test cases when its
// reports had any: "run 12: success in 14 s; 120 passed, 2 failed". At most
// 140 characters.
std::string StatusDescription(const pipelines::Run& run);

class CommitStatusReporter : public pipelines::RunObserver {
 public:
  // `repos` and `log` outlive the reporter. Starts the sender threads.
  CommitStatusReporter(CommitStatusOptions options, const pipelines::RepoRegistry& repos, EventLog& log);
  ~CommitStatusReporter() override;  // Stop(0)
  CommitStatusReporter(const CommitStatusReporter&) = delete;
  CommitStatusReporter& operator=(const CommitStatusReporter&) = delete;

  // Queues the run's state for its commit; returns at once.
  void RunChanged(const pipelines::Run& run) override;

  // Sends what is due for up to `deadline` (the last states of runs
  // interrupted by a shutdown), then stops the senders; what is left is
  // dropped (logged). Idempotent.
  void Stop(std::chrono::milliseconds deadline);

 private:
  struct Update {
    pipelines::Run run;
    std::chrono::steady_clock::time_point give_up;
  };
  // One commit's updates, oldest first; the first one is sent next.
  struct Line {
    std::deque<Update> updates;
    std::chrono::steady_clock::time_point next_try;
    std::chrono::milliseconds backoff{0};
    bool busy = false;  // a sender is calling the forge for it
  };
  enum class Outcome { kDone, kRetry };

  void Sender();
  // The line due first that no sender holds, or nullptr; `*wait_until`: when
  // the next one is due.
  std::map<std::string, Line>::iterator Due(std::chrono::steady_clock::time_point now,
                                            std::chrono::steady_clock::time_point* wait_until);
  Outcome Send(const pipelines::Run& run);

  const CommitStatusOptions options_;
  const pipelines::RepoRegistry& repos_;
  EventLog& log_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Line> lines_;  // by "<repo> <commit>"
  bool draining_ = false;              // Stop(): nothing more is queued
  bool stopped_ = false;               // senders return
  std::vector<std::thread> senders_;
};

}  // namespace slipway::daemon

// A forge's commit-status API, standing in for GitHub, Gitea and GitLab in
// tests (no forge runs here): an HTTP server on 127.0.0.1 in the test's own
// process (cpp-httplib, a thread of its own) that takes
//   POST <any prefix>/repos/{owner}/{repo}/statuses/{sha}   GitHub, Gitea
//   POST <any prefix>/projects/{id}/statuses/{sha}          GitLab
// checks the token (GitHub/Gitea "Authorization: token T" or "Bearer T",
// GitLab "PRIVATE-TOKEN: T") and the body (a JSON object whose "state" is one
// the forge knows), and records every call, refused ones included, in
// arrival order. It answers 201 as the forges do; 401 for a wrong or missing
// token, 422 for a bad body, 404 for any other path, and 503 while told to
// fail (FailNext), so that a test can see the caller retry.
//
// "The forge is down": do not start it, or Stop() it (its port then refuses
// connections).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slipway::testing {

struct StatusCall {
  std::string kind;     // "github-gitea" or "gitlab"
  std::string path;     // as received
  std::string repo;     // "owner/repo", or GitLab's project id
  std::string commit;   // the sha in the path
  std::string state;    // from the body ("" if unreadable)
  std::string context;  // "context" (GitHub, Gitea) or "name" (GitLab)
  std::string description;
  std::string target_url;
  std::string body;  // raw
  int answered = 0;  // the status it answered
};

class ForgeStandin {
 public:
  // Calls must carry `token`.
  explicit ForgeStandin(std::string token);
  ~ForgeStandin();  // Stop()
  ForgeStandin(const ForgeStandin&) = delete;
  ForgeStandin& operator=(const ForgeStandin&) = delete;

  // Listens on 127.0.0.1 (`port` 0: a free one; give the old port to come
  // back up where the caller expects it). False if it cannot bind.
  bool Start(int port = 0);
  void Stop();  // idempotent; the recorded calls stay
  int port() const { return port_; }
  std::string Url() const;  // "http://127.0.0.1:PORT"

  // The next `n` well-formed, authorized calls are answered 503 (recorded).
  void FailNext(int n) { fail_next_ = n; }

  std::vector<StatusCall> Calls() const;
  // The states of the accepted (2xx) calls for `commit`, in order.
  std::vector<std::string> States(const std::string& commit) const;
  // Waits (polling, up to `timeout_ms`) until `pred(Calls())` holds; whether it did.
  template <typename Pred>
  bool WaitFor(Pred pred, int timeout_ms = 30000) const;

 private:
  struct Impl;
  const std::string token_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> fail_next_{0};
  mutable std::mutex mu_;
  std::vector<StatusCall> calls_;

  friend struct Impl;
  void Record(StatusCall call);
  bool TakeFailure();
};

template <typename Pred>
bool ForgeStandin::WaitFor(Pred pred, int timeout_ms) const {
  for (int waited = 0;; waited += 20) {
    if (pred(Calls())) return true;
    if (waited >= timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace slipway::testing

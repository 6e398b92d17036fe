// SIGINT, SIGTERM and SIGHUP while `slipway run` waits on a sandbox (or
// `slipway pipeline exec` on a run).
//
// Under slipwayd, ending slipway alone would leave the sandbox running. So
// the guard blocks these signals and reads them on a thread of its own: once
// a container is watched, a signal kills it (POST kill?signal=KILL, on a
// connection of its own) and the attach stream then ends by itself; before
// that, a signal aborts the abortable request in flight (a pull). Either way
// slipway then exits 128 + the signal, as if the signal had ended it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/base/fd.h"
#include "service/cli/client.h"

namespace slipway::cli {

class SandboxGuard {
 public:
  // Blocks the signals for the whole process (call before any other thread
  // starts) and starts the watching thread.
  explicit SandboxGuard(const DaemonClient& client);
  // Stops the thread. The signals stay blocked: one arriving now is dropped
  // when slipway exits, which it is about to do.
  ~SandboxGuard();
  SandboxGuard(const SandboxGuard&) = delete;
  SandboxGuard& operator=(const SandboxGuard&) = delete;

  // From now on a signal aborts `client`'s requests (nullptr: nobody's).
  // Returns the signal received so far, 0 if none.
  int AbortOnSignal(DaemonClient* client);
  // From now on a signal kills container `id`. Returns the signal received
  // so far, 0 if none: then nothing was killed, and the caller cleans up.
  int Watch(const std::string& id);
  // The same with any action (cancelling a run), run on a client of its
  // own (the main one is busy), on every signal.
  int OnSignal(std::function<void(DaemonClient& own)> action);
  // The first signal received, 0 if none.
  int signal();

 private:
  void Loop();
  void Received(int sig);

  std::unique_ptr<DaemonClient> killer_;  // its own connection: the main one is busy
  UniqueFd signal_fd_, stop_fd_;
  std::mutex mu_;  // guards the three below
  int signal_ = 0;
  std::function<void(DaemonClient&)> action_;
  DaemonClient* abortable_ = nullptr;
  std::thread thread_;
};

// "slipway: received SIGINT; <what>" on stderr; returns 128 + sig.
int ReportSignal(int sig, const std::string& what);

// Ends container `id` now: SIGKILL if it runs; if it has not started yet
// (created, queued, starting), a stop, which cancels it.
void KillContainer(DaemonClient& client, const std::string& id);

}  // namespace slipway::cli

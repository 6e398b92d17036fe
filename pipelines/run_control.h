// RunControl: the live part of one run that is being executed, shared by its
// executor and whoever reaches into it from outside (cancel, shutdown, log
// followers). Internal to RunService.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "engine/base/fd.h"
#include "engine/containers/end_signal.h"

namespace slipway::pipelines {

class RunControl {
 public:
  // Why a run stops early: the user cancelled it, or slipwayd is shutting
  // down (the run is then recorded interrupted).
  enum class Stop { kNone, kCancel, kShutdown };

  explicit RunControl(int64_t run_id);
  int64_t run_id() const { return run_id_; }

  // Asks the run to stop; the first reason given wins. Returns the live
  // containers, for the caller to kill. Wakes every waiter and makes
  // stop_fd() readable. A cancel may say which newer run superseded it.
  std::set<std::string> RequestStop(Stop why, int64_t superseded_by = 0);
  // The newer run whose cancel stopped this one; 0 if none did.
  int64_t superseded_by() const;
  // Lock-free: the executor asks while it holds mu() (RunSteps).
  Stop stop() const { return stop_.load(); }
  // Becomes readable once a stop is requested (for a build's cancel_fd).
  int stop_fd() const { return stop_fd_.get(); }
  // Waits up to `d`; false if a stop was requested (now or before).
  bool Sleep(std::chrono::milliseconds d) const;

  // The run's containers that may still run. Adding one after a stop was
  // requested returns false: the caller kills it.
  bool AddContainer(const std::string& id);
  void RemoveContainer(const std::string& id);

  // Fired once step `name`'s stored log is complete (log followers wait for
  // it). Made on first use, so a follower may come before the step starts.
  std::shared_ptr<EndSignal> LogEnd(const std::string& name);
  // Fires every log end not fired yet (the run is over).
  void EndAllLogs();

  // Notifies the executor that something it waits for happened (a step
  // ended): counts one more change and wakes every waiter at once.
  void Notify();
  // How many Notify() calls there were so far; read under mu(), together
  // with whatever the caller decides from, then passed to WaitForChange.
  uint64_t changes() const { return changes_; }
  // Waits until a Notify() after the one that made changes() `seen`, or a
  // stop. A change that came between the caller's look (under mu()) and
  // this call returns at once: it is never lost. There is no timeout: the
  // executor is woken by the event itself, never by polling. Returns the
  // count it saw.
  uint64_t WaitForChange(uint64_t seen);
  std::mutex& mu() { return mu_; }

 private:
  const int64_t run_id_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::atomic<Stop> stop_{Stop::kNone};  // written under mu_, so waiters on cv_ see it
  int64_t superseded_by_ = 0;            // guarded by mu_
  uint64_t changes_ = 0;                 // Notify() calls; guarded by mu_
  UniqueFd stop_fd_;
  std::set<std::string> containers_;
  std::map<std::string, std::shared_ptr<EndSignal>> log_ends_;
};

}  // namespace slipway::pipelines

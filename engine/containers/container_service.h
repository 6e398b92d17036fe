// ContainerService: slipwayd's containers, from creation to removal.
//
// It wires three things together and owns none of their internals: the
// ContainerStore (what was asked and what happened, in SQLite), the image
// store (which layers a container runs on) and the runtime's monitors (one
// slipway-monitor process per running sandbox, which outlives slipwayd).
//
// Starting never blocks the caller: Start() queues the container and a
// scheduler thread starts queued containers while fewer than `max_running`
// run. One watcher thread per running sandbox waits for its monitor to exit
// and records the result.
//
// Crash safety: a container's sandbox is named after the container id, so
// after a restart Reconcile() can match every sandbox in the runtime's state
// directory with its row (see Reconcile()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/status.h"
#include "engine/image/image_store.h"
#include "engine/runtime/cgroup.h"
#include "engine/runtime/log.h"
#include "engine/runtime/monitor.h"
#include "engine/runtime/sandbox.h"
#include "service/daemon/container.h"
#include "service/daemon/container_store.h"
#include "service/daemon/event_log.h"
#include "service/daemon/metrics.h"

namespace slipway::daemon {

struct ContainerServiceOptions {
  RuntimeOptions runtime;  // state_dir, cgroup_parent
  std::string monitor_binary;
  int max_running = 8;
  int max_queued = 10000;
};

struct ContainerStats {
  int64_t cpu_usage_ns = 0;
  int64_t memory_bytes = 0;       // current usage
  int64_t memory_peak_bytes = 0;  // 0 when the kernel does not report it
  int64_t pids = 0;               // processes and threads now
  std::string ToJson() const;
};

// What Reconcile() found and did.
struct ReconcileReport {
  int adopted = 0;   // still running under their monitor: watched again
  int recorded = 0;  // ended while slipwayd was down: result recorded
  int lost = 0;      // monitor gone without a result: cleaned up, marked lost
  int orphans = 0;   // sandboxes no container claims: killed and removed
  std::string ToJson() const;
};

// Shared by everyone waiting for one container to end: `fd` (an eventfd)
// becomes readable, and stays so, once `final` is set. The container is
// "settled" once whatever follows its end is done too (with auto_remove:
// its removal, which waits for its log readers to finish).
struct EndSignal {
  EndSignal();
  ~EndSignal();
  int fd = -1;
  std::mutex mu;
  std::condition_variable settled_cv;
  std::optional<Container> final;  // the container as it ended
  bool settled = false;
  void Fire(const Container& c);
  bool fired();
  void Settle();
  void AwaitSettled();
};

class ContainerService {
 public:
  static Result<std::unique_ptr<ContainerService>> Open(const ContainerServiceOptions& options,
                                                        ContainerStore& store, ImageStore& images,
                                                        Metrics& metrics, EventLog& log);
  ~ContainerService();  // Shutdown(0) if not done

  // Matches the machine with the database, once, before serving:
  // - a sandbox whose container is known and whose monitor still runs is
  //   adopted (watched again);
  // - one that ended meanwhile gets its result recorded;
  // - one whose monitor died without a result is cleaned up and its
  //   container marked lost;
  // - a sandbox no active container claims is an orphan: killed and removed;
  // - a container left "starting" or "running" without a sandbox is lost;
  // - queued containers stay queued and start once the scheduler runs.
  // Then the runtime removes half-created debris (CollectGarbage).
  Result<ReconcileReport> Reconcile();
  // Starts the scheduler (after Reconcile()).
  void Run();

  // Resolves the image (kNotFound if the store lacks it: the client pulls),
  // builds and validates the sandbox spec, records the container "created".
  Result<Container> Create(const CreateRequest& request);
  // created -> queued. kFailedPrecondition if it is not "created".
  // kResourceExhausted if the queue is full.
  Status Start(const std::string& id_or_name);

  Result<Container> Inspect(const std::string& id_or_name) const;
  Result<std::vector<Container>> List(bool all) const;

  // The signal that fires when the container ends (already fired if it has).
  Result<std::shared_ptr<EndSignal>> EndSignalOf(const std::string& id_or_name);

  // Sends `signal` to the sandbox's init. A queued container ends at once
  // as if killed by it; a starting one gets it once it runs.
  // kFailedPrecondition if it is created (never asked to run) or has ended.
  Status Kill(const std::string& id_or_name, int signal);
  // Docker's stop: SIGTERM to the init, SIGKILL after `grace`. A queued or
  // created container is marked exited (cancelled) without running. Returns
  // at once; wait on the EndSignal.
  Status Stop(const std::string& id_or_name, std::chrono::milliseconds grace);
  // Deletes the record and the sandbox's state (logs). A container that is
  // queued, starting or running is refused (kFailedPrecondition) unless
  // `force`: then it is killed first.
  Status Remove(const std::string& id_or_name, bool force);

  Result<ContainerStats> Stats(const std::string& id_or_name) const;

  // Streams the container's output, in order, to `chunk` (which returns false
  // to stop: the client went away). Without `follow` it returns after what
  // has been written so far; with it, it also waits for more until the
  // container ends (a container not started yet is waited for). Blocking:
  // call it on a thread of its own.
  Status StreamLogs(const std::string& id_or_name, bool follow,
                    const std::function<bool(Stream, std::string_view)>& chunk);

  // Overlay lower dirs of every container that has not ended (image garbage
  // collection must keep them).
  std::set<std::string> LowerDirsInUse() const;
  // Whether an active (not ended) container was made from image `image_id`.
  bool ImageInUse(const std::string& image_id) const;

  // Stops starting queued containers (they stay queued in the database) and
  // waits up to `deadline` for running ones to end and be recorded. Those
  // still running afterwards keep running under their monitors; the next
  // slipwayd adopts them.
  void Shutdown(std::chrono::milliseconds deadline);

  int running() const;
  int queued() const;

 private:
  ContainerService(const ContainerServiceOptions& options, std::unique_ptr<Runtime> runtime,
                   ContainerStore& store, ImageStore& images, Metrics& metrics, EventLog& log);

  MonitorOptions MonitorOptionsFor() const;
  void SchedulerLoop();
  // The life of one sandbox on its own thread: Launch, then Watch.
  void StartAndWatch(const std::string& id);
  Result<Container> Launch(const std::string& id);
  Result<StartedSandbox> CheckNetworkPeer(const Container& c);
  void Watch(Container c);
  void RecordEnd(Container c, const Result<SandboxStatus>& status);
  void ReleaseSlot();
  // Records a final state, fires the end signal, removes if auto_remove.
  void Finish(Container c);
  // Waits until no StreamLogs() of container `id` is in progress.
  void AwaitReaders(const std::string& id, std::chrono::milliseconds timeout);
  Status RemoveEnded(const Container& c);
  bool CancelUnstarted(const std::string& id, int signal);
  std::string AwaitSandbox(const std::string& id, EndSignal& end);
  Status Follow(const std::string& dir, bool follow, EndSignal& end,
                const std::function<bool(Stream, std::string_view)>& chunk);
  Status RemoveOrphan(const SandboxStatus& s);
  Status Resume(Container c, const SandboxStatus& s, ReconcileReport* report);
  std::shared_ptr<EndSignal> SignalForLocked(const std::string& id);
  void UpdateGaugesLocked();

  ContainerServiceOptions options_;
  std::unique_ptr<Runtime> runtime_;
  ContainerStore& store_;
  ImageStore& images_;
  Metrics& metrics_;
  EventLog& log_;

  // Guards everything below, and every read-modify-write of a store row.
  mutable std::mutex mu_;
  std::condition_variable cv_;                      // queue, slots, threads_
  std::condition_variable started_cv_;              // sandbox_ids_ or an end
  std::deque<std::string> queue_;                   // container ids, oldest first
  int running_ = 0;                                 // slots taken: starting or running
  int threads_ = 0;                                 // detached threads still working for us
  bool stopping_ = false;                           // no more creates and starts
  bool abandon_ = false;                            // watchers leave their sandboxes to the next slipwayd
  std::map<std::string, int> pending_signals_;      // kill or stop asked while starting
  std::map<std::string, int> readers_;              // StreamLogs() calls in progress
  std::map<std::string, std::string> sandbox_ids_;  // running: container -> sandbox
  std::map<std::string, std::shared_ptr<EndSignal>> signals_;  // containers not removed
  std::thread scheduler_;
};

}  // namespace slipway::daemon

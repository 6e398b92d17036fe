// ContainerService: the one container lifecycle. slipwayd's API, image builds
// (every RUN step) and pipelines all run sandboxes through it, and nothing
// else in Slipway starts a sandbox.
//
// It wires together what it does not own the internals of: the
// ContainerStore (what was asked and what happened, in SQLite), the image
// store (which layers a container runs on) and slipway-monitor (one process
// per running sandbox, which outlives whoever started it; MonitorClient).
//
// Starting never blocks the caller: Start() queues the container and a
// scheduler thread starts queued containers while fewer than `max_running`
// run (StartQueue). One thread per running sandbox waits for its monitor to
// exit and records the result.
//
// Crash safety: a container's sandbox is named after the container id, so
// after a restart Reconcile() can match every sandbox in the runtime's state
// directory with its row (see Reconcile()).
//
// The concerns live in their own files: container_service.cc (creating,
// starting, reading), launch.cc (launch and watch), stop.cc (kill, stop,
// remove), reconcile.cc (crash recovery, shutdown), with the start queue,
// end signal, log follower and spec building in files of their own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/event_log.h"
#include "engine/base/status.h"
#include "engine/base/thread_pool.h"
#include "engine/containers/container.h"
#include "engine/containers/container_store.h"
#include "engine/containers/end_signal.h"
#include "engine/containers/log_follower.h"
#include "engine/containers/observer.h"
#include "engine/containers/start_queue.h"
#include "engine/image/image_store.h"
#include "engine/runtime/monitor.h"
#include "engine/runtime/sandbox.h"

namespace slipway {

struct ContainerServiceOptions {
  RuntimeOptions runtime;  // state_dir, cgroup_parent
  std::string monitor_binary;
  int max_running = 8;
  int max_queued = 10000;
  // Pooled monitors with prepared sandboxes kept ready from Run() to
  // Shutdown() (MonitorClient::StartPool): warm starts. 0: none.
  int sandbox_pool_size = 0;
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
  int adopted = 0;    // still running under their monitor: watched again
  int recorded = 0;   // ended while the service was down: result recorded
  int lost = 0;       // monitor gone without a result: cleaned up, marked lost
  int orphans = 0;    // sandboxes no container claims: killed and removed
  int abandoned = 0;  // their caller died with the last process (build steps): stopped and removed
  int pooled = 0;     // prepared by a previous service's pool, never used: stopped and removed
};

// What the engine's own callers (a pipeline's step executor) set on a
// container beyond the API's CreateRequest. API clients pass none.
struct CreateOptions {
  // Shown by `ps`/inspect: what made it ("slipway.pipeline" ...).
  std::map<std::string, std::string> labels;
  // Its caller lives in this process and waits for it: after a restart
  // nobody does, so Reconcile() stops and removes it (see Reconcile()).
  bool ends_with_caller = false;
  // Variables the command gets (NAME, value), never stored in plain text:
  // - kept in memory by the service only, by container id, until it is
  //   launched (then taken out), ends or is removed; never in the
  //   container's row (neither request.env nor spec.env), nor in Inspect,
  //   List or any error;
  // - at launch they are appended to a copy of the spec's env (replacing a
  //   variable of the same name) and their values become that copy's
  //   masked_values; the copy reaches slipway-monitor through a memfd, and
  //   the monitor writes "****" for each value in the output log, so
  //   StreamLogs() and everything reading the log only ever see "****";
  // - they need ends_with_caller (kInvalidArgument otherwise): a container
  //   that outlived this process would start without them.
  // Names: non-empty, no '=' or NUL; values: no NUL, valid UTF-8 (the spec
  // travels as JSON). Errors name the variable, never its value.
  std::vector<std::pair<std::string, std::string>> secret_env;
};

// A container whose spec the caller made itself (a build's RUN step, with
// its own layer stack and a persistent upper dir).
struct SpecContainer {
  std::string image;  // what `ps` shows as its image
  SandboxSpec spec;
  std::map<std::string, std::string> labels;
  bool ends_with_caller = true;
  // Removed once it has ended and its log readers are done: the caller takes
  // the result from the EndSignal.
  bool auto_remove = true;
};

class ContainerService {
 public:
  // `store`, `images`, `log` and `observer` (may be null) outlive the service.
  static Result<std::unique_ptr<ContainerService>> Open(const ContainerServiceOptions& options,
                                                        ContainerStore& store, ImageStore& images,
                                                        EventLog& log, ContainerObserver* observer = nullptr);
  ~ContainerService();  // Shutdown(0) if not done

  // Matches the machine with the database, once, before Run():
  // - a sandbox whose container is known and whose monitor still runs is
  //   adopted (watched again), unless the container ends with its caller:
  //   then it is stopped, removed and its container marked lost;
  // - one that ended meanwhile gets its result recorded;
  // - one whose monitor died without a result is cleaned up and its
  //   container marked lost;
  // - a sandbox no active container claims is an orphan: killed and removed;
  // - a prepared sandbox of a previous service's pool (its monitor saw
  //   that service go and is removing it, or was killed) is stopped and
  //   removed;
  // - a container left "starting" or "running" without a sandbox is lost;
  // - queued containers stay queued and start once the scheduler runs,
  //   except those that end with their caller: marked lost, never started
  //   (their secret_env, if any, went with the last process).
  // Then the runtime removes half-created debris (CollectGarbage).
  Result<ReconcileReport> Reconcile();
  // Starts the scheduler and the sandbox pool (after Reconcile()).
  void Run();

  // Resolves the image (kNotFound if the store lacks it: the client pulls),
  // builds and validates the sandbox spec, records the container "created"
  // with `options` (labels, ends_with_caller, secrets held in memory).
  Result<Container> Create(const CreateRequest& request, const CreateOptions& options = {});
  // Records a container whose spec the caller made (ValidateSpec'd here).
  Result<Container> CreateFromSpec(SpecContainer request);
  // created -> queued. kFailedPrecondition if it is not "created".
  // kResourceExhausted if the queue is full. A container whose sandbox is
  // staged (Stage) starts at once instead, when a slot is free and nobody
  // queues: the release (about a millisecond) happens on this thread, and
  // the container is running (or recorded failed) when this returns.
  Status Start(const std::string& id_or_name);
  // Start(), but any container that can start at once (a slot free, nobody
  // queued) starts on this thread, as a staged one does: for a caller on a
  // thread of its own that waits for the container anyway (attach).
  Status StartHere(const std::string& id_or_name);
  // Whether container `id`'s sandbox is staged and ready to be released.
  bool IsStaged(const std::string& id) const;
  // For a caller that knows a created container will be started soon (a
  // pipeline step whose needs are running): makes its sandbox now, in the
  // background, up to its command's exec (MonitorClient::Stage), so that
  // its start only lets the init exec. The container stays "created" and
  // runs nothing until Start(); Stop() or Remove() drop the staged sandbox.
  // Best effort and never blocking: without warm starts (sandbox_pool_size
  // 0), for a network that is not private, with max_running sandboxes
  // staged already, or if staging fails (logged), the container starts the
  // usual way. kFailedPrecondition if it is not "created".
  Status Stage(const std::string& id_or_name);

  Result<Container> Inspect(const std::string& id_or_name) const;
  Result<std::vector<Container>> List(bool all) const;
  // The signal that fires when the container ends (already fired if it has).
  Result<std::shared_ptr<EndSignal>> EndSignalOf(const std::string& id_or_name);

  // Sends `signal` to the sandbox's init. A queued container ends at once
  // as if killed by it; a starting one gets it once it runs.
  // kFailedPrecondition if it is created (never asked to run) or has ended.
  Status Kill(const std::string& id_or_name, int signal);
  // Docker's stop: the container's stop signal to the init, SIGKILL after
  // `grace`. A queued or created container is marked exited (cancelled)
  // without running. Returns at once; wait on the EndSignal.
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
  // call it on a thread of its own. `counted`, if given, runs once this
  // reader is counted (an auto_remove container's log outlives its end
  // until every counted reader has it all) and before any output: attach
  // starts the container there. An error from it is returned at once.
  using Counted = std::function<Status()>;
  Status StreamLogs(const std::string& id_or_name, bool follow, const LogChunk& chunk,
                    const Counted& counted = nullptr);

  // Overlay lower dirs of every container that has not ended (image garbage
  // collection must keep them).
  std::set<std::string> LowerDirsInUse() const;
  // Whether an active (not ended) container was made from image `image_id`.
  bool ImageInUse(const std::string& image_id) const;

  // Closes the sandbox pool (its monitors remove their prepared sandboxes),
  // stops starting queued containers (they stay queued in the database) and
  // waits up to `deadline` for running ones to end and be recorded. Those
  // still running afterwards keep running under their monitors; the next
  // service adopts them.
  void Shutdown(std::chrono::milliseconds deadline);

  // Shutdown() has begun: waits for containers should end.
  bool stopping() const;
  int running() const { return queue_.running(); }
  int queued() const { return queue_.queued(); }
  // Prepared sandboxes waiting in the pool now (0 without one).
  int pool_ready() const { return monitors_.pool() ? monitors_.pool()->idle() : 0; }

 private:
  ContainerService(const ContainerServiceOptions& options, std::unique_ptr<Runtime> runtime,
                   ContainerStore& store, ImageStore& images, EventLog& log, ContainerObserver* observer);

  using SecretEnv = std::vector<std::pair<std::string, std::string>>;
  // Start() and StartHere().
  Status Start(const std::string& id_or_name, bool here);
  // Inserts the row; `secrets` (may be empty) are kept in secrets_ for it.
  Result<Container> Record(Container c, SecretEnv secrets = {});
  void SchedulerLoop();
  // The life of one sandbox on its own thread: Launch, then Watch.
  void StartAndWatch(const std::string& id);
  // Starts queued container `id`; `end` gets the fd that ends once its
  // sandbox's result is recorded (StartedSandbox::end), for Watch().
  Result<Container> Launch(const std::string& id, UniqueFd* end);
  // The rest of a launch, once container `c` is recorded starting (its slot
  // taken, its secrets and staged sandbox, if any, taken out): releases or
  // starts its sandbox and records how that went. On an error the
  // container is recorded failed; the caller gives the slot back.
  Result<Container> StartSandbox(Container c, SecretEnv secrets, std::optional<StagedSandbox> staged,
                                 UniqueFd* end);
  // The staged sandbox of container `id`, waiting for a staging still in
  // progress; nullopt if it has none.
  std::optional<StagedSandbox> TakeStaged(const std::string& id);
  // The container whose network namespace a container joins: `peer` is its
  // name or id, `shown` how the request named it. It must not have ended,
  // and with `must_run` it must be running.
  Result<Container> NetworkPeer(const std::string& peer, const std::string& shown, bool must_run) const;
  // Waits for the end of running container `c` and records it; `end`, if
  // valid, is its StartedSandbox::end (an adopted sandbox has none).
  void Watch(Container c, UniqueFd end = UniqueFd());
  void RecordEnd(Container c, const Result<SandboxStatus>& status);
  // Records a final state, fires the end signal, removes if auto_remove.
  void Finish(Container c);
  // Waits until no StreamLogs() of container `id` is in progress.
  void AwaitReaders(const std::string& id, std::chrono::milliseconds timeout);
  Status RemoveEnded(const Container& c);
  bool CancelUnstarted(const std::string& id, int signal);
  std::string AwaitSandbox(const std::string& id, const EndSignal& end);
  Status RemoveOrphan(const SandboxStatus& s);
  // A prepared sandbox of a previous service's pool: best effort, logged.
  void RemovePooled(const SandboxStatus& s);
  Status Resume(Container c, const SandboxStatus& s, ReconcileReport* report);
  // Runs `work` on a thread of thread_pool_ that Shutdown() waits for.
  void Spawn(std::function<void()> work);
  std::shared_ptr<EndSignal> SignalForLocked(const std::string& id);
  // Logs a failed Status that has no caller to go back to.
  void LogIfFailed(const Status& st, std::string_view event, const std::string& id);

  // How often a waiter (a watcher, a log follower) looks up to notice that
  // the service gives up on it at shutdown.
  static constexpr std::chrono::milliseconds kWatchSlice{500};
  // In pending_signals_: stop through the monitor rather than signal the init.
  static constexpr int kStopNow = 0;

  ContainerServiceOptions options_;
  std::unique_ptr<Runtime> runtime_;
  MonitorClient monitors_;
  ContainerStore& store_;
  ImageStore& images_;
  EventLog& log_;
  ContainerObserver* observer_;  // may be null
  StartQueue queue_;

  // Guards everything below, and every read-modify-write of a store row.
  mutable std::mutex mu_;
  std::condition_variable cv_;                      // threads_, readers_
  std::condition_variable started_cv_;              // sandbox_ids_ or an end
  int threads_ = 0;                                 // Spawn()ed work still running
  bool stopping_ = false;                           // no more creates and starts
  bool abandon_ = false;                            // watchers leave their sandboxes to the next service
  std::map<std::string, int> pending_signals_;      // kill or stop asked while starting
  std::map<std::string, int> readers_;              // StreamLogs() calls in progress
  std::map<std::string, std::string> sandbox_ids_;  // running: container -> sandbox
  // CreateOptions::secret_env of containers not launched yet (memory only).
  std::map<std::string, SecretEnv> secrets_;
  // Sandboxes staged for created containers (Stage()); nullopt while the
  // staging runs. An entry erased meanwhile tells the staging to drop it.
  std::map<std::string, std::optional<StagedSandbox>> staged_;
  std::condition_variable staged_cv_;  // a staging finished
  std::map<std::string, std::shared_ptr<EndSignal>> signals_;  // containers not removed
  std::thread scheduler_;
  // Spawn()'s threads, kept between pieces of work: a start's watch no
  // longer pays for a thread's creation. Last: the first to go, idle.
  ThreadPool thread_pool_{{.max_threads = SIZE_MAX, .idle_exit = std::chrono::seconds(10)}};
};

}  // namespace slipway

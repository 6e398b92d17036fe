// The monitor: one small process per sandbox that owns it for its whole life,
// as containerd-shim and conmon do, so that the sandbox outlives whoever
// asked for it (slipwayd may be killed with -9 and restarted at any time).
//
//   starter (slipwayd)           slipway-monitor (one per sandbox)      sandbox init
//   MonitorClient::Start() -spawn-> launcher --fork--> monitor --clone--> pid 1 of the sandbox
//         ^   reaped at once      exits at once    setsid; Runtime::Start; Wait
//         +------ ready line ("ok <id> <init pid>" or "error <code> <message>") ---+
//
// Process relationships, and why:
// - The monitor is never the starter's child: the launcher the starter spawns
//   forks it and exits at once, and the starter reaps the launcher before
//   Start() returns. A restarted daemon is never the parent of the
//   monitors of its predecessor, so there is one model for both: a monitor is
//   watched through its recorded ProcessRef (pidfd, start time) and its
//   sandbox's result.json, never through waitpid(). The starter has nothing
//   to reap later; the monitor's exit is reaped by the nearest subreaper or
//   pid 1.
// - The monitor is a session leader of its own (no terminal, no signals meant
//   for the starter's process group), has no parent-death signal, ignores
//   SIGHUP and SIGPIPE, and has stdin, stdout and stderr on /dev/null.
// - The monitor is the sandbox's owner: Runtime::Start() records the calling
//   process, pid and start time, in state.json. "The monitor is alive" is
//   that ProcessRef being alive, so a recycled pid is never mistaken for it.
// - The sandbox's init is the monitor's child, with a parent-death SIGKILL:
//   once the monitor is gone nobody reads the sandbox's output nor can learn
//   its exit status, so it is killed at once rather than left running
//   unobserved. (The kernel clears a parent-death signal when the uid
//   changes; child.cc arms it again after switching user.) Whatever a lost
//   sandbox leaves (its cgroups, its state directory, an init that escaped
//   the signal) is removed by CleanUpLost().
// - SIGTERM (or SIGINT) to the monitor kills the sandbox; its result says
//   cancelled.
// - The ready line is the hand-over. A monitor that cannot write it (the
//   starter died or gave up before reading it) stops and removes its sandbox:
//   nobody learned its id, so nobody would ever collect it.
//
// Crash recovery for a restarted daemon: MonitorClient::Survey() the state
// directory; for each sandbox, kRunning means its monitor still records it
// (watch it), kEnded carries the result, kLost goes to CleanUpLost(); then
// Runtime::CollectGarbage() removes half-created debris.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/runtime/monitor_pool.h"
#include "engine/runtime/sandbox.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/spec_json.h"
#include "engine/runtime/state.h"

namespace slipway {

// The monitor's one report to its starter, on the ready fd:
//   "ok <sandbox id> <init pid>\n"  or  "error <code> <message>\n"
// where <code> is the Status code's name with '_' for ' ' ("not_found").
// A staged sandbox (below) is reported first as "staged <id> <init pid>\n".
struct ReadyReport {
  std::string id;
  pid_t init_pid = 0;
  bool staged = false;  // "staged", not "ok"
};
std::string ReadyLine(const ReadyReport& report);
std::string ReadyLine(const Status& error);
// An "ok" or "staged" line yields the report, an "error" line the monitor's
// Status.
Result<ReadyReport> ParseReadyLine(const std::string& line);

// What a pooled monitor (monitor_pool.h) is told on its socket, once:
//   "run <n>\n" + n bytes of spec JSON    start it; the ready line follows
//   "stage <n>\n" + n bytes of spec JSON  Runtime::Stage it; "staged <id>
//                                          <pid>\n" (or an error line)
//                                          follows; then "go\n" releases it
//                                          and the ready line follows, while
//                                          EOF instead removes everything
// EOF before an order: the pool let the monitor go.
struct PoolOrder {
  bool stage = false;
  std::string spec_json;  // may carry secrets: never logged, never on disk
};
std::string EncodePoolOrder(const PoolOrder& order);
// Reads one order from `fd`, exactly its bytes (the "go" that may follow
// stays unread); nullopt at EOF before any byte. kInvalidArgument for a
// malformed header or a spec over 64 MiB.
Result<std::optional<PoolOrder>> ReadPoolOrder(int fd);
inline constexpr std::string_view kGoWord = "go\n";

struct StartedSandbox {
  std::string id;
  pid_t init_pid = 0;
  pid_t monitor_pid = 0;
  // Our end of the monitor's ready fd, which it closes once the sandbox's
  // result is recorded, before it tears the sandbox down and exits: pass it
  // to Wait() to learn of the end that much sooner. Invalid inside a
  // StagedSandbox: its channel becomes this once Release() returns.
  UniqueFd end;
};

// A sandbox staged under a pooled monitor (MonitorClient::Stage): started up
// to its command's exec, waiting for Release(). Dropping it closes the
// socket: its monitor then removes everything and exits.
struct StagedSandbox {
  StartedSandbox sandbox;  // its ids already; init_pid is the waiting init
  UniqueFd channel;        // our end of its monitor's socket
};

// What the state directory says about one sandbox.
enum class SandboxPhase {
  kRunning,  // its owner (the monitor) is alive and has recorded no result yet
  kEnded,    // result.json is present
  kLost,     // neither: the owner died without recording (e.g. SIGKILLed)
};
const char* SandboxPhaseName(SandboxPhase phase);

struct SandboxStatus {
  std::string id, name;
  SandboxPhase phase = SandboxPhase::kLost;
  std::optional<SandboxResult> result;  // when kEnded
  ProcessRef monitor;                   // the owner recorded in state.json
  int64_t created_unix_ms = 0;
  bool pooled = false;  // prepared ahead, never given a spec (SandboxState::pooled)
};

// The starter's side of slipway-monitor: starts monitored sandboxes in the
// runtime's state directory and cgroup parent, and watches, signals and
// cleans up after them, whichever process started them.
class MonitorClient {
 public:
  // `runtime` must outlive the client. `ready_timeout`: how long Start()
  // waits for the ready line; past it the starter gives up, and the
  // monitor, finding nobody to report to, removes its sandbox.
  MonitorClient(Runtime& runtime, std::string monitor_binary,
                std::chrono::milliseconds ready_timeout = std::chrono::milliseconds(30000));
  ~MonitorClient();  // the pool's monitors are let go without waiting (StopPool first to wait)

  // Spawns slipway-monitor with the spec in a sealed memfd (never a file:
  // it may carry secrets in env and masked_values) and returns once the
  // sandbox's command runs (or failed to start: then the Status carries the
  // monitor's message and code, and nothing is left behind). The monitor
  // records the output (masked) and the result in the state directory;
  // watch it with Wait() or SurveyOne().
  // With a pool (StartPool) and a spec a prepared sandbox can serve (a
  // private network: Runtime::CanUsePrepared), an idle pooled monitor gets
  // the spec instead; if none is ready, or the one taken has gone, a monitor
  // is spawned as without a pool. Either way the outcome is the same.
  // Under a monitor, stdin is /dev/null (spec.interactive is refused) and
  // spec.kill_on_parent_death is always on (the monitor is the parent).
  Result<StartedSandbox> Start(const SandboxSpec& spec) const;

  // Start() up to the command's exec (Runtime::Stage) under a pooled
  // monitor: one from the pool, or, with none idle (or no pool), one
  // launched now for it. For a start that should cost almost nothing once it
  // is asked for: Release() then only lets the init exec. Meanwhile the
  // sandbox exists (its name is taken, its cgroups and root are made) but
  // runs nothing. Only a spec a prepared sandbox can serve
  // (Runtime::CanUsePrepared): kFailedPrecondition otherwise.
  Result<StagedSandbox> Stage(const SandboxSpec& spec) const;
  // Lets a staged sandbox's command run; returns as Start() does. If the
  // monitor or its init has gone meanwhile: kUnavailable, nothing left.
  Result<StartedSandbox> Release(StagedSandbox staged) const;

  // Every sandbox that has a state file, newest first.
  Result<std::vector<SandboxStatus>> Survey() const;
  // One sandbox; kNotFound if it has no state file.
  Result<SandboxStatus> SurveyOne(const std::string& id) const;

  // Blocks until the monitor of sandbox `id` has exited (its sandbox ended
  // and was recorded, or the monitor died), then reports the sandbox's
  // status. kDeadlineExceeded if the monitor still runs after `timeout`.
  // With `end_fd` (StartedSandbox::end of this sandbox) it returns as soon
  // as the result is recorded: kEnded while the monitor may still be
  // tearing the sandbox down (Runtime::Remove waits for that).
  Result<SandboxStatus> Wait(const std::string& id, std::chrono::milliseconds timeout, int end_fd = -1) const;

  // Asks the monitor of a running sandbox to stop it (SIGTERM): the sandbox
  // is killed and its result says cancelled.
  Status Stop(const std::string& id) const;

  // Sends `signal` to the init of a running monitored sandbox (docker kill):
  // the monitor records how the init ended. kFailedPrecondition if it has
  // ended.
  Status Signal(const std::string& id, int signal) const;

  // For a lost sandbox: kills what is left (the init, through a pidfd, if
  // still alive, and anything else in its cgroups), removes its cgroups, its
  // state directory and its name. kFailedPrecondition if it is not lost.
  Status CleanUpLost(const std::string& id) const;

  Runtime& runtime() const { return runtime_; }

  // Keeps `size` pooled monitors with prepared sandboxes (monitor_pool.h),
  // refilled in the background. 0: no pool. Not thread-safe against Start():
  // call before the first.
  Status StartPool(int size);
  // Closes the pool (its monitors remove their sandboxes and exit), waiting
  // up to `wait` for them. Start() spawns monitors from then on.
  void StopPool(std::chrono::milliseconds wait);
  // The pool, or null without one.
  MonitorPool* pool() const { return pool_.get(); }

 private:
  Result<StartedSandbox> Spawn(const SandboxSpec& spec) const;
  Result<PooledMonitor> LaunchPooled() const;
  // Sends `order` to a pooled monitor and reads its answer: the ready line,
  // or the staged line for a stage order.
  Result<ReadyReport> Order(const PooledMonitor& pooled, const PoolOrder& order) const;
  Result<StartedSandbox> HandOver(PooledMonitor pooled, const SandboxSpec& spec) const;
  // The sandbox a monitor reported, with the monitor's pid from state.json
  // and `end`, the fd the report came on.
  Result<StartedSandbox> Reported(const ReadyReport& report, UniqueFd end) const;

  Runtime& runtime_;
  std::string binary_;
  std::chrono::milliseconds ready_timeout_;
  std::unique_ptr<MonitorPool> pool_;
};

}  // namespace slipway

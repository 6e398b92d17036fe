// A sandbox: one process tree in its own pid, mount, uts, ipc, net and cgroup
// namespaces, on a throwaway overlay root, under cgroup limits, seccomp and a
// reduced capability set.
//
// Lifecycle: Runtime::Start() sets everything up and returns once the command
// has been exec'd (or fails with nothing left behind). Sandbox::Wait() streams
// output until the command exits or times out, then tears everything down:
// every mount lives only in the sandbox's own mount namespace, so it vanishes
// with the last process; the cgroups are removed; the state directory is kept
// (logs, result) until Remove(), or removed at once when `remove_on_exit`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/runtime/cgroup.h"
#include "engine/runtime/log.h"
#include "engine/runtime/log_masker.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/state.h"

namespace slipway {

struct RuntimeOptions {
  std::string state_dir = "/run/slipway";  // sandboxes/<id>/, names/<name>
  std::string cgroup_parent = "slipway";
  // Test hook: start sandboxes with clone3(CLONE_INTO_CGROUP), the pure v2
  // path, on any host with a cgroup2 mount.
  bool force_clone_into_cgroup = false;
};

class Sandbox;

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> Open(const RuntimeOptions& options);
  ~Runtime();

  // Creates and starts a sandbox. On error nothing is left behind and the
  // Status says which step failed. A command that cannot be executed is not
  // an error here: the sandbox starts, and Wait() reports exit code 127 or
  // 126 with the reason in the result's error text, as a shell would.
  Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);

  // A sandbox made ahead of its spec, for a pool of warm starts: its state
  // directory (state.json says `pooled`, no name), its cgroups (no limits
  // yet) and its init, cloned into new pid, mount, uts, ipc and network
  // namespaces, already a member of its cgroups (it paid the cgroup.procs
  // write there, and unshared its cgroup namespace) with its loopback up.
  // The init waits for its spec on a pipe. Dropping the handle kills it and
  // removes everything, like any sandbox never waited for.
  // The init is forked (not cloned with CLONE_VM): once it has its spec it
  // parses it and builds its own plan, which allocates. That is safe only
  // in a single-threaded process (slipway-monitor is one), where no other
  // thread can hold the allocator's or any other lock at the fork:
  // kFailedPrecondition in a process with more than one thread.
  Result<std::unique_ptr<Sandbox>> Prepare();
  // Starts `prepared` (from Prepare() of this runtime) with `spec`, as
  // Start(spec) would, with the same errors: the limits are applied to its
  // cgroups, its name and overlay directories made, then the spec goes to
  // its init, which mounts a fresh root (a new tmpfs and overlay upper) and
  // execs. A prepared sandbox serves one spec only, and only one that asks
  // for a private network (kFailedPrecondition otherwise: its network
  // namespace is new and its own). On error `prepared` is gone too.
  Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared);
  // Whether a prepared sandbox can serve `spec` (a private network).
  static bool CanUsePrepared(const SandboxSpec& spec);
  // Start(spec, prepared) up to the command's exec, for a start that should
  // cost almost nothing once it is asked for (a pipeline step made while
  // the steps it needs still run): the limits are applied, the root is
  // mounted, user, capabilities and seccomp are set, and the init waits at
  // its very last step (child.h, gate_fd). Sandbox::Release() lets it exec.
  // Until then nothing of the command has run and its timeout has not
  // begun; dropping the handle kills the init and removes everything, as
  // for any sandbox never waited for. Only a prepared sandbox can be staged
  // (kFailedPrecondition otherwise); errors as Start(spec, prepared).
  Result<std::unique_ptr<Sandbox>> Stage(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared);

  // Removes what sandboxes whose owner process died left behind (cgroups and
  // state directories). Live sandboxes of other processes are untouched.
  Status CollectGarbage();

  // Deletes an ended sandbox's state directory and name. A running one is
  // refused, unless `force`: then it is killed first. Either way it is
  // removed once its owner, if another process (a monitor, which records
  // the result before it tears down), has exited: waits up to 5 s for it.
  Status Remove(const std::string& name_or_id, bool force);

  const RuntimeOptions& options() const { return options_; }
  const CgroupDriver& cgroups() const { return cgroups_; }
  const StateDir& state_dir() const { return state_dir_; }

 private:
  Runtime(RuntimeOptions options, CgroupDriver cgroups);
  // Start() and Stage(): `stage` stops the init at its gate.
  Result<std::unique_ptr<Sandbox>> Begin(const SandboxSpec& spec, std::unique_ptr<Sandbox> prepared, bool stage);
  RuntimeOptions options_;
  StateDir state_dir_;
  CgroupDriver cgroups_;
};

class Sandbox {
 public:
  ~Sandbox();  // kills and tears down a sandbox that was never waited for
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }  // in the host's pid namespace
  // A pidfd of the init (a prepared sandbox's waiting init too): polls
  // readable once it has exited.
  int pidfd() const { return pidfd_.get(); }
  const std::string& dir() const { return dir_; }
  // Set when the command could not be executed ("exec: "x": executable file
  // not found in $PATH"); Wait() then reports 127 or 126.
  const std::string& exec_error() const { return exec_error_; }

  // Lets a staged sandbox (Runtime::Stage) exec its command and returns once
  // it has, or could not (then exec_error() says why, as after Start). Its
  // timeout starts now. kFailedPrecondition if it is not staged (or was
  // released); kUnavailable if its init has gone meanwhile.
  Status Release();
  bool staged() const { return staged_; }

  // Streams output to `sink` (may be null) and to the sandbox's log file until
  // the command exits, the timeout passes, or `cancel_fd` (if >= 0) becomes
  // readable; then tears down. Call once, not while staged.
  Result<SandboxResult> Wait(OutputSink* sink, int cancel_fd = -1);
  // Wait() without the tear-down: returns once the result is recorded in
  // the state directory, the sandbox's processes all gone but its cgroups,
  // mounts and overlay scratch still there. For an owner that tells others
  // of the end before it tears down (slipway-monitor); TearDown() (or the
  // destructor) then removes the rest. Call once, instead of Wait().
  Result<SandboxResult> Collect(OutputSink* sink, int cancel_fd = -1);
  // Removes what an ended sandbox still holds: its mounts, its cgroups and
  // its overlay scratch. Once; the destructor does it too.
  Status TearDown();

  // Sends `signal` to the sandbox's init (SIGKILL ends the whole sandbox).
  Status Kill(int signal);

  // Deletes the state directory and name (after Wait()).
  Status Remove();

 private:
  friend class Runtime;
  Sandbox() = default;
  // Makes <dir>/upper and <dir>/work for SandboxSpec::upper_dir.
  Status MakeOverlayDirs(const std::string& dir);
  // Reads the init's reports until its exec (EOF) or a failure: a set-up
  // failure is the error; a command that cannot be executed is recorded in
  // exec_error_ (not an error, as for Start()).
  Status AwaitExec(int report_fd);
  // One output stream while Wait() reads it.
  struct Output {
    UniqueFd fd;
    Stream stream;
    std::unique_ptr<LogMasker> masker;  // null: nothing to mask
  };
  // Reads what is ready on the stream; false at EOF.
  bool Pump(Output& output, LogWriter& log, OutputSink* sink);
  void Emit(Output& output, std::string_view data, LogWriter& log, OutputSink* sink);
  // Closes the stream and passes on what its masker held back.
  void EndOutput(Output& output, LogWriter& log, OutputSink* sink);

  StateDir state_dir_{""};
  std::string id_, name_, dir_, name_link_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd mnt_ns_;  // the init's mount namespace, until TearDown() (HoldMountNamespace)
  UniqueFd stdout_, stderr_;
  std::unique_ptr<Cgroup> cgroup_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::milliseconds timeout_{0};
  // SandboxSpec::masked_values, ready to mask the output; null if none.
  std::shared_ptr<const SecretMatcher> masked_;
  std::string exec_error_;
  int exec_exit_code_ = 0;
  // With SandboxSpec::upper_dir, once made: work/ is removed at tear-down,
  // upper/ only when Start() fails (it is the caller's result otherwise).
  std::string overlay_upper_, overlay_work_;
  // A prepared sandbox (Runtime::Prepare) until Start() takes it: the write
  // end of the pipe its init reads its spec from, our end of its gate (a
  // socket: no SIGPIPE if the init has gone), and the read end of its report
  // pipe (a ChildReport at each stage and on failure, EOF once it has
  // exec'd). A staged one keeps the gate and the report until Release().
  bool prepared_ = false;
  bool staged_ = false;
  UniqueFd spec_in_, gate_, report_;
  bool start_done_ = false;  // Start() returned it
  bool owns_dir_ = false;
  bool waited_ = false;  // Wait() was called
  bool reaped_ = false;  // the init has exited and was reaped
  bool torn_down_ = false;
};

}  // namespace slipway

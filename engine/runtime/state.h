// The runtime's state directory, and the records it keeps of each sandbox.
// StateDir is the one place that knows the layout:
//   <root>/sandboxes/<id>/state.json   who owns it, which process is its init
//   <root>/sandboxes/<id>/result.json  how it ended (after Wait)
//   <root>/sandboxes/<id>/output.log   its framed stdout and stderr
//   <root>/sandboxes/<id>/rootfs, rw   empty mount points on the host
//   <root>/names/<name> -> <id>        names are unique among kept sandboxes
//   <root>/seccomp/                    the compiled seccomp filter (seccomp.h)
// Processes are recorded with their start time so a recycled pid is never
// mistaken for the one that was recorded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/fd.h"
#include "engine/base/status.h"

namespace slipway {

struct ProcessRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat, in clock ticks since boot

  // The running process `pid` (start time read from /proc).
  static Result<ProcessRef> Of(pid_t pid);
  // True if `pid` still runs (a zombie does not) and is the same process
  // that was recorded.
  bool Alive() const;
  // A pidfd for the process if it still is the recorded one, an invalid fd
  // if it has gone. Signals sent through it can never reach a recycled pid.
  Result<UniqueFd> OpenIfAlive() const;
  // Sends `signal` if the process still is the recorded one; a process
  // already gone is not an error. `what` names it in errors.
  Status SignalIfAlive(int signal, const std::string& what) const;
};

// pidfd_open(2) and pidfd_send_signal(2), which glibc 2.36 does not wrap:
// -1 with errno on failure.
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int signal);

struct SandboxState {
  std::string id;
  std::string name;
  ProcessRef owner;  // the process that started the sandbox and waits for it
  ProcessRef init;   // the sandbox's pid 1 (pid 0 until it is started)
  int64_t created_unix_ms = 0;
  // The overlay lower dirs (image layers) it runs on, so that image garbage
  // collection can leave them alone while it runs.
  std::vector<std::string> lower_dirs;
  // Made ahead by Runtime::Prepare() and still waiting for its spec: no
  // name, no command yet, nobody's container.
  bool pooled = false;

  std::string ToJson() const;
  static Result<SandboxState> FromJson(const std::string& text);
};

// How a sandbox ended: result.json, and part of a container's API record.
struct SandboxResult {
  int exit_code = 0;  // as a shell reports it: the code, or 128 + signal
  int signal = 0;     // the signal that ended the command, or 0
  bool oom_killed = false;
  bool timed_out = false;
  bool cancelled = false;  // ended through Kill() or the cancel fd
  int64_t wall_ms = 0;
  int64_t cpu_ns = 0;
  int64_t peak_memory_bytes = 0;
  // One JSON object, every field, in this order (docs/api.md shows it).
  nlohmann::ordered_json ToJsonValue() const;
  std::string ToJson() const;
  static Result<SandboxResult> FromJson(const std::string& text);
};

class StateDir {
 public:
  explicit StateDir(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // Creates sandboxes/ and names/ (mode 0700) if missing.
  Status Create() const;

  std::string SandboxDir(const std::string& id) const { return root_ + "/sandboxes/" + id; }
  std::string LogFile(const std::string& id) const { return SandboxDir(id) + "/output.log"; }
  std::string RootfsDir(const std::string& id) const { return SandboxDir(id) + "/rootfs"; }
  std::string RwDir(const std::string& id) const { return SandboxDir(id) + "/rw"; }
  std::string NameLink(const std::string& name) const { return root_ + "/names/" + name; }
  std::string SeccompCacheDir() const { return root_ + "/seccomp"; }

  // Every sandbox directory's id, in no particular order.
  std::vector<std::string> SandboxIds() const;
  // The id that `name_or_id` names (names/<name>, or an id with a state
  // file). kNotFound if there is none.
  Result<std::string> Resolve(const std::string& name_or_id) const;

  Result<SandboxState> ReadState(const std::string& id) const;
  Status WriteState(const SandboxState& state) const;
  bool HasResult(const std::string& id) const;
  // The recorded result; kNotFound if the sandbox has not ended.
  Result<SandboxResult> ReadResult(const std::string& id) const;
  Status WriteResult(const std::string& id, const SandboxResult& result) const;

  // Deletes the sandbox's directory, and names/<name> if it still points at
  // `id` (a later sandbox may have taken the name).
  Status RemoveSandbox(const std::string& id, const std::string& name) const;

 private:
  std::string root_;
};

}  // namespace slipway

// The on-disk record of one sandbox in the runtime's state directory:
//   <state_dir>/sandboxes/<id>/state.json   who owns it, which process is its init
//   <state_dir>/sandboxes/<id>/result.json  how it ended (after Wait)
//   <state_dir>/sandboxes/<id>/output.log   its framed stdout and stderr
//   <state_dir>/names/<name> -> <id>
// Processes are recorded with their start time so a recycled pid is never
// mistaken for the one that was recorded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

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
};

struct SandboxState {
  std::string id;
  std::string name;
  ProcessRef owner;  // the process that started the sandbox and waits for it
  ProcessRef init;   // the sandbox's pid 1 (pid 0 until it is started)
  int64_t created_unix_ms = 0;
  // The overlay lower dirs (image layers) it runs on, so that image garbage
  // collection can leave them alone while it runs.
  std::vector<std::string> lower_dirs;

  std::string ToJson() const;
  static Result<SandboxState> FromJson(const std::string& text);
};

Result<SandboxState> ReadSandboxState(const std::string& sandbox_dir);
Status WriteSandboxState(const std::string& sandbox_dir, const SandboxState& state);

}  // namespace slipway

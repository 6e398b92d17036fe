// sandbox_run: one sandbox, start to exit, straight on the engine's runtime.
//
//   sandbox_run --state-dir DIR --cgroup-parent NAME --rootfs DIR
//               [--memory BYTES] [--cpus-millis N] [--pids N] -- CMD [ARG...]
//
// What `slipway run --rm --rootfs DIR` did before the CLI became a client of
// slipwayd: no daemon, no monitor, no image store. bench/runtime_start.sh
// times it against runc to measure the runtime itself; the daemon's path is
// bench/daemon_start.sh's.
//
// The sandbox is the runtime's default (new pid, mount, uts, ipc, net and
// cgroup namespaces; an overlay on ROOTFS with a tmpfs upper; seccomp;
// Docker's capabilities; Docker's device rules) plus the limits given: memory
// without swap, CPU in thousandths of a CPU per 100 ms period, pids. No flag
// means no limit. Its output goes to this process's stdout and stderr, and
// everything it had is removed before exit.
//
// Exits with the command's exit code (128 + signal if a signal ended it; 127
// or 126 if it could not be executed), or 125 with a message on stderr when
// sandbox_run itself fails.
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/runtime/log.h"
#include "engine/runtime/sandbox.h"
#include "engine/runtime/spec.h"

namespace slipway {
namespace {

constexpr int kOwnError = 125;  // as `docker run`: the runner failed, not the command

struct Flags {
  RuntimeOptions runtime;
  std::string rootfs;
  CgroupLimits limits;  // memory_swap_bytes stays 0: no swap, as the old CLI
  std::vector<std::string> argv;
};

Result<int64_t> ParseCount(const std::string& flag, const std::string& text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n <= 0)
    return InvalidArgument(flag + ": want a positive integer, got \"" + text + "\"");
  return n;
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  flags.runtime.state_dir.clear();
  flags.runtime.cgroup_parent.clear();
  int i = 1;
  for (; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--") break;
    if (i + 1 >= argc) return InvalidArgument(flag + " needs a value");
    std::string value = argv[i + 1];
    if (flag == "--state-dir") {
      flags.runtime.state_dir = value;
    } else if (flag == "--cgroup-parent") {
      flags.runtime.cgroup_parent = value;
    } else if (flag == "--rootfs") {
      flags.rootfs = value;
    } else if (flag == "--memory") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.limits.memory_bytes, ParseCount(flag, value));
    } else if (flag == "--cpus-millis") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.limits.cpu_millis, ParseCount(flag, value));
    } else if (flag == "--pids") {
      SLIPWAY_ASSIGN_OR_RETURN(flags.limits.pids_max, ParseCount(flag, value));
    } else {
      return InvalidArgument("unknown flag " + flag);
    }
  }
  if (i >= argc || i + 1 >= argc) return InvalidArgument("no command: want -- CMD [ARG...]");
  flags.argv.assign(argv + i + 1, argv + argc);
  if (flags.runtime.state_dir.empty() || flags.runtime.cgroup_parent.empty() || flags.rootfs.empty())
    return InvalidArgument("--state-dir, --cgroup-parent and --rootfs are all required");
  return flags;
}

// Start, wait, remove. Returns the command's exit code.
Result<int> Run(const Flags& flags) {
  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> runtime, Runtime::Open(flags.runtime));
  // What an earlier sandbox_run left if it was killed (its owner is dead),
  // as the old CLI did on every run: the timing includes the scan.
  SLIPWAY_RETURN_IF_ERROR(runtime->CollectGarbage().Wrap("collect garbage"));

  SandboxSpec spec;
  spec.lower_dirs = {flags.rootfs};
  spec.argv = flags.argv;
  spec.limits = flags.limits;
  // If this process dies (a killed benchmark), the sandbox dies with it; the
  // next run's CollectGarbage() removes its cgroups and state.
  spec.kill_on_parent_death = true;

  SLIPWAY_ASSIGN_OR_RETURN(std::unique_ptr<Sandbox> sandbox, runtime->Start(spec));
  FdSink sink(STDOUT_FILENO, STDERR_FILENO);
  SLIPWAY_ASSIGN_OR_RETURN(SandboxResult result, sandbox->Wait(&sink));
  SLIPWAY_RETURN_IF_ERROR(sandbox->Remove().Wrap("remove sandbox " + sandbox->id()));
  return result.exit_code;
}

}  // namespace
}  // namespace slipway

int main(int argc, char** argv) {
  auto flags = slipway::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr,
                 "sandbox_run: %s\nusage: sandbox_run --state-dir DIR --cgroup-parent NAME --rootfs DIR "
                 "[--memory BYTES] [--cpus-millis N] [--pids N] -- CMD [ARG...]\n",
                 flags.status().message().c_str());
    return slipway::kOwnError;
  }
  auto code = slipway::Run(*flags);
  if (!code.ok()) {
    std::fprintf(stderr, "sandbox_run: %s\n", code.status().ToString().c_str());
    return slipway::kOwnError;
  }
  return *code;
}

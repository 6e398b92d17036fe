// `slipway run` and `slipway create`: Docker's flags turned into a create
// request (docs/api.md), and the attached run: output copied as it comes,
// the sandbox's exit code returned.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/containers/create_request.h"
#include "service/cli/client.h"
#include "service/cli/global_options.h"

namespace slipway::cli {

struct RunOptions {
  std::string verb = "run";  // or "create": for messages
  bool remove = false, detach = false, interactive = false, tty = false;
  std::string name, memory, memory_swap, cpus, storage_size, timeout, network = "none", hostname, workdir,
                                                                      stop_signal, user, rootfs;
  std::optional<std::string> entrypoint;
  int64_t pids_limit = 0;
  std::vector<std::string> env, volumes, cap_add, cap_drop;
  std::vector<std::string> args;  // [IMAGE] [COMMAND [ARG...]]
};

// Registers `run` and `create`. Their image and command are what the
// subcommand leaves unparsed, followed by `tail` (what came after "--",
// which main cuts off before parsing).
void AddRunCommands(CLI::App& app, Verbs& verbs, const std::vector<std::string>& tail);

// The create request for these flags; every flag is checked here, before
// anything is sent.
Result<CreateRequest> BuildCreateRequest(const RunOptions& options);

// Attaches to container `id` (starting it if it is created), copies its
// output to stdout and stderr until it ends, and returns what `slipway run`
// exits with. SIGINT, SIGTERM and SIGHUP kill the sandbox meanwhile.
int AttachAndWait(DaemonClient& client, const std::string& id);

// What `slipway run` exits with for a container that has ended (its exit
// code; 124 if it timed out; 125 if it failed to start or was lost), and in
// `message` what to say about it on stderr (empty: nothing).
int ExitCodeOf(const Json& container, std::string* message);

}  // namespace slipway::cli

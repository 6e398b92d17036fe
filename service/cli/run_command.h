// `slipway run`: flags as Docker names them, turned into a SandboxSpec.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "service/cli/global_options.h"

namespace slipway::cli {

struct RunOptions {
  bool remove = false;
  bool interactive = false;
  std::string name, memory, memory_swap, cpus, storage_size, timeout, network = "none", hostname, workdir,
                                                                      user, rootfs;
  int64_t pids_limit = 0;
  std::vector<std::string> env, volumes, cap_add, cap_drop;
  std::vector<std::string> args;  // [IMAGE] CMD [ARG...]
};

// Registers `run`; after parsing, options.args must be set from the returned
// subcommand's remaining() (the image and command, untouched by flag parsing).
CLI::App* AddRunCommand(CLI::App& app, RunOptions& options);
// Runs the sandbox; returns the process exit code (the command's, or 125).
int RunCommand(const GlobalOptions& global, const RunOptions& options);

}  // namespace slipway::cli

// Sandbox verbs besides run: ps and rm.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "service/cli/global_options.h"

namespace slipway::cli {

struct SandboxOptions {
  std::vector<std::string> names;
  bool all = false;    // ps -a
  bool quiet = false;  // ps -q
  bool force = false;  // rm -f
};

void AddSandboxCommands(CLI::App& app, SandboxOptions& options);
// Runs the chosen verb; -1 if none of these was chosen.
int RunSandboxCommand(CLI::App& app, const GlobalOptions& global, const SandboxOptions& options);

}  // namespace slipway::cli

// Container verbs besides run and create: start, wait, ps, logs, stop, kill,
// rm, inspect, stats.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddContainerCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

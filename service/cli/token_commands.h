// `slipway token create|ls|rm`: the dashboard's access tokens
// (/api/v1/tokens; docs/dashboard.md). `create` prints the token once, on
// stdout alone, so that it can be piped into a file; slipwayd keeps only its
// hash.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddTokenCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

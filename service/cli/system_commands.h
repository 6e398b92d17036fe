// info and version: about slipwayd and this client.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddSystemCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

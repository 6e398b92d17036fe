// info and version: about slipwayd and this client.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

// The client's version; the daemon reports its own in GET /api/v1/info.
inline constexpr char kClientVersion[] = "0.4.0";

void AddSystemCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

// Image verbs: pull, push, tag, images, rmi, image prune, import, save, load, build.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "service/cli/client.h"
#include "service/cli/global_options.h"

namespace slipway::cli {

void AddImageCommands(CLI::App& app, Verbs& verbs);

// POST /images/pull with its progress drawn on stderr; returns the last
// event, {"status": "pulled", "ref": ..., "id": ...}. `slipway run` uses it
// for a missing image.
Result<Json> PullWithProgress(DaemonClient& client, const std::string& ref);

}  // namespace slipway::cli

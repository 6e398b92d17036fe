// Registry verbs: `registry login|ls|logout` (logins slipwayd keeps, sealed,
// for promotion targets and pulls: /api/v1/registries) and `verify
// IMAGE@DIGEST`, which finds an image's provenance in its registry itself
// (engine/registry: the referrers API or the sha256-<hex> tag scheme),
// checks its signature against slipwayd's key (GET /api/v1/signing-key) or
// --key FILE, and prints what vouches for the image. A password is read from
// stdin and sent to slipwayd only; the CLI never prints it.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddRegistryCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

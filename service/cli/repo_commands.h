// Repository verbs: `repo add|ls|show|rm` and `repo secret set|ls|rm`, over
// /api/v1/repos. A credential file is sent to slipwayd as it is and parsed
// there (pipelines' ParseCredentialFile), so that its format has one reader;
// a secret's value is read from stdin and sent as the request's bytes. The
// CLI prints neither.
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddRepoCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

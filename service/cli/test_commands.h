// Test results (docs/tests.md) over /api/v1/runs/{id}/tests and
// /api/v1/repos/{name}/tests: `tests RUN [--failed]` (a run's cases),
// `tests history REPO TEST`, `tests flaky REPO`, `tests slowest REPO`, in
// the CLI's table or as the daemon's JSON (--format json).
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddTestCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

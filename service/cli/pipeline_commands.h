// Pipeline verbs: `pipeline lint FILE`, which reads a pipeline file here,
// with no daemon; and runs through slipwayd's /api/v1/runs: `run`, `exec`
// (a working tree's pipeline, its steps' logs streamed, the exit code the
// run's result; Ctrl-C cancels the run), `ls`, `show`, `logs`, `cancel`,
// `rerun`, `prune`, `promote`; and `promotions` (/api/v1/promotions, the
// promotion audit).
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddPipelineCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

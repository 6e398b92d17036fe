// Pipeline verbs: `pipeline lint FILE`, which reads a pipeline file here,
// with no daemon (the verbs that run pipelines through slipwayd come later).
#pragma once

#include <CLI/CLI.hpp>

#include "service/cli/global_options.h"

namespace slipway::cli {

void AddPipelineCommands(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

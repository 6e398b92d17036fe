// What the package ships about the CLI, generated from its command tree (so
// it cannot drift from what slipway parses): `slipway completion bash`, a
// bash completion script, and `slipway completion man`, the slipway(1)
// manual made of every command's --help text.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "service/cli/global_options.h"

namespace slipway::cli {

// Commands, subcommands and option names per command path; values of
// options and arguments complete as file names.
std::string BashCompletion(const CLI::App& root);
// A man page (roff): NAME, SYNOPSIS, then each visible command's help,
// depth first, then FILES, ENVIRONMENT and SEE ALSO.
std::string ManPage(const CLI::App& root);

// Adds `slipway completion bash|man` (run locally: no daemon involved).
void AddCompletionCommand(CLI::App& app, Verbs& verbs);

}  // namespace slipway::cli

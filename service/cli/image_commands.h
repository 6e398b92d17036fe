// Image verbs: images, tag, rmi, import, image prune, save, load, pull, push.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "service/cli/global_options.h"

namespace slipway::cli {

struct ImageOptions {
  std::vector<std::string> names;  // positional arguments of the verb
  std::string output;              // save -o FILE
  std::string input;               // load -i FILE
  bool force = false;              // rmi -f
  bool quiet = false;              // images -q
  bool all = false;                // image prune -a (accepted for Docker's sake; prune is always "all")
};

void AddImageCommands(CLI::App& app, ImageOptions& options);
// Runs the chosen image verb; -1 if no image verb was chosen.
int RunImageCommand(CLI::App& app, const GlobalOptions& global, const ImageOptions& options);

}  // namespace slipway::cli

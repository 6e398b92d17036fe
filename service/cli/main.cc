// slipway: the command-line client.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "service/cli/run_command.h"

int main(int argc, char** argv) {
  using namespace slipway::cli;
  CLI::App app{"slipway: self-hosted CI sandboxes"};
  app.require_subcommand(1);
  GlobalOptions global;
  if (const char* dir = std::getenv("SLIPWAY_STATE_DIR")) global.state_dir = dir;
  if (const char* parent = std::getenv("SLIPWAY_CGROUP_PARENT")) global.cgroup_parent = parent;
  app.add_option("--state-dir", global.state_dir, "Runtime state directory (env SLIPWAY_STATE_DIR)");
  app.add_option("--cgroup-parent", global.cgroup_parent, "Parent cgroup name (env SLIPWAY_CGROUP_PARENT)");
  RunOptions run;
  CLI::App* run_cmd = AddRunCommand(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }
  if (app.got_subcommand("run")) {
    run.args = run_cmd->remaining();
    return RunCommand(global, run);
  }
  return 125;
}

// slipway: the command-line client.
#include <CLI/CLI.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "service/cli/global_options.h"
#include "service/cli/image_commands.h"
#include "service/cli/run_command.h"
#include "service/cli/sandbox_commands.h"

namespace {

// `slipway run [OPTIONS] -- CMD...`: CLI11's prefix mode does not take "--"
// well, so everything after the first "--" is cut off here and appended to
// the command.
std::vector<std::string> SplitAtDoubleDash(int* argc, char** argv) {
  std::vector<std::string> tail;
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--") != 0) continue;
    for (int j = i + 1; j < *argc; ++j) tail.push_back(argv[j]);
    *argc = i;
    break;
  }
  return tail;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slipway::cli;
  std::vector<std::string> tail = SplitAtDoubleDash(&argc, argv);
  CLI::App app{"slipway: self-hosted CI sandboxes"};
  app.require_subcommand(1);
  GlobalOptions global;
  AddGlobalOptions(app, global);
  RunOptions run;
  CLI::App* run_cmd = AddRunCommand(app, run);
  SandboxOptions sandbox;
  AddSandboxCommands(app, sandbox);
  ImageOptions image;
  AddImageCommands(app, image);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(std::string(e.what()) + " (see \"slipway --help\")");
  }
  if (!tail.empty() && !app.got_subcommand("run")) return Fail("\"--\" is only for \"slipway run\"");
  if (app.got_subcommand("run")) {
    run.args = run_cmd->remaining();
    run.args.insert(run.args.end(), tail.begin(), tail.end());
    return RunCommand(global, run);
  }
  if (int rc = RunSandboxCommand(app, global, sandbox); rc >= 0) return rc;
  if (int rc = RunImageCommand(app, global, image); rc >= 0) return rc;
  return Fail("unknown command");
}

// slipway: the command-line client of slipwayd. Every verb is a request (or
// a few) to the daemon's REST API; see docs/cli.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "service/cli/command_tree.h"
#include "service/cli/container_commands.h"
#include "service/cli/global_options.h"
#include "service/cli/image_commands.h"
#include "service/cli/pipeline_commands.h"
#include "service/cli/registry_commands.h"
#include "service/cli/token_commands.h"
#include "service/cli/repo_commands.h"
#include "service/cli/run_command.h"
#include "service/cli/system_commands.h"
#include "service/cli/test_commands.h"

namespace {

using namespace slipway::cli;

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

// The first argument that is neither a global option nor its value: the verb.
std::string FirstPositional(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-H" || arg == "--host" || arg == "--token-file") {
      ++i;
    } else if (arg.empty() || arg[0] != '-') {
      return arg;
    }
  }
  return "";
}

// Whether `app` has a command named `verb` (or aliased so).
bool HasVerb(const CLI::App& app, const std::string& verb) {
  if (verb.empty()) return false;
  return !app.get_subcommands([&](const CLI::App* a) { return a->check_name(verb); }).empty();
}

// CLI11's message, and where to look for the right usage.
std::string UsageError(const CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
  std::vector<const CLI::App*> chosen;
  for (const CLI::App* a = &app; !a->get_subcommands().empty();)
    chosen.push_back(a = a->get_subcommands()[0]);
  std::string verb = FirstPositional(argc, argv);
  if (chosen.empty() && !verb.empty()) return "unknown command \"" + verb + "\" (see \"slipway --help\")";
  std::string help = "slipway";
  for (const CLI::App* a : chosen) help += " " + a->get_name();
  return std::string(e.what()) + " (see \"" + help + " --help\")";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> tail = SplitAtDoubleDash(&argc, argv);
  CLI::App app{"slipway: run commands in sandboxes, through slipwayd"};
  app.name("slipway");
  app.require_subcommand(1);
  DaemonEndpoint endpoint;
  AddGlobalOptions(app, endpoint);
  Verbs verbs;
  // Making a group's commands is most of the CLI's start (CLI11 builds every
  // option up front), so groups are added, most used first, only until the
  // one holding the verb on the command line is in. Without a known verb
  // (help, a typo) every group is: the help and the error list them all.
  // Completion comes last: it reads the whole tree.
  const std::function<void()> groups[] = {
      [&] { AddRunCommands(app, verbs, tail); },     [&] { AddContainerCommands(app, verbs); },
      [&] { AddImageCommands(app, verbs); },         [&] { AddSystemCommands(app, verbs); },
      [&] { AddRepoCommands(app, verbs); },          [&] { AddPipelineCommands(app, verbs); },
      [&] { AddTestCommands(app, verbs); },          [&] { AddRegistryCommands(app, verbs); },
      [&] { AddTokenCommands(app, verbs); },         [&] { AddCompletionCommand(app, verbs); },
  };
  const std::string named = FirstPositional(argc, argv);
  for (const auto& add : groups) {
    add();
    if (HasVerb(app, named)) break;
  }
  app.footer("Run \"slipway VERB --help\" for a verb's options.");  // after the verbs: they would inherit it
  if (argc == 1) {  // as Docker: a bare `slipway` shows what it can do
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(UsageError(app, argc, argv, e));
  }
  bool takes_tail = app.got_subcommand("run") || app.got_subcommand("create");
  if (!tail.empty() && !takes_tail) return Fail("\"--\" is only for \"slipway run\" and \"slipway create\"");
  for (const Verb& verb : verbs) {
    if (!verb.command->parsed()) continue;
    if (verb.run_local) return verb.run_local();
    auto client = DaemonClient::Create(endpoint);
    if (!client.ok()) return Fail(client.status());
    int code = verb.run(**client);
    // Done: the process ends without freeing the command tree and the rest
    // piece by piece (a measurable part of a short command's time); every
    // object with work in its destructor lived inside the verb.
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return Fail("no command given (see \"slipway --help\")");
}

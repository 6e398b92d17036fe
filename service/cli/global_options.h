// What every verb shares: the daemon's address and token (flags, environment
// variables, defaults), how a verb is registered, and how errors end slipway.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "service/cli/client.h"

namespace slipway::cli {

// --host URL (SLIPWAY_HOST) and --token-file FILE (SLIPWAY_TOKEN_FILE); a
// flag wins over its variable, which wins over the default.
void AddGlobalOptions(CLI::App& app, DaemonEndpoint& endpoint);

// A verb: its subcommand, and what it does once its flags are parsed:
// `run` with a client of slipwayd, or `run_local` for a verb that needs no
// daemon (`pipeline lint`), which then works whatever --host says.
struct Verb {
  CLI::App* command;
  std::function<int(DaemonClient& client)> run;
  std::function<int()> run_local = nullptr;
};
using Verbs = std::vector<Verb>;

// --format table|json (default table), for the verbs that list or show
// repositories and runs; PrintJson prints the daemon's answer as it came,
// indented.
void AddFormatOption(CLI::App* command, std::string& format);
void PrintJson(const Json& value);

// "slipway: <message>" on stderr; returns 125, Slipway's own error code.
int Fail(const std::string& message);
int Fail(const Status& status);

// `path` made absolute against the current directory, and lexically clean
// ("a/../b/" -> "/cwd/b"): the daemon resolves paths from its own directory,
// and wants them clean.
std::string AbsolutePath(const std::string& path);

// Docker's way with `rm A B C`: each name is tried, each failure reported,
// and the exit code is 1 if any failed. When the daemon cannot be reached
// (or the token read), nothing else can work: it stops at once with 125.
int ForEachName(const std::vector<std::string>& names, const std::function<Status(const std::string&)>& each);

}  // namespace slipway::cli

// The verbs that need big libraries: `verify` (the registry client with
// cpp-httplib and OpenSSL, the provenance checker) and `pipeline lint` (the
// pipeline file reader, yaml-cpp). Loading those libraries was most of the
// start of every command (docs/performance.md), so they are linked into a
// second program only, slipway-tools: the same command tree as slipway
// (main.cc, cli_lib) with these functions implemented (tool_commands.cc).
// slipway itself links tool_exec.cc instead, whose functions exec
// slipway-tools with slipway's own arguments, found next to slipway or in
// ../libexec/slipway (engine/base/self_exe.h), as git runs git-core's.
// Their options, help and completion live in slipway, parsed before either
// runs: a flag error never needs slipway-tools.
#pragma once

#include <string>

#include "service/cli/client.h"

namespace slipway::cli {

// The program that implements these functions for slipway.
inline constexpr char kToolsProgram[] = "slipway-tools";

struct VerifyOptions {
  std::string image, key_file, registry_auth, format;
  bool insecure = false;
};

// `slipway verify IMAGE@DIGEST`: exit 0 verified, 1 not, 125 our errors.
int VerifyImage(DaemonClient& client, const VerifyOptions& o);

// `slipway pipeline lint FILE`: "FILE:LINE:COL: message" per error on
// stdout and exit 1; nothing and 0 for a good file.
int LintPipelineFile(const std::string& path);

}  // namespace slipway::cli

// slipway's side of tool_commands.h: the work is done by slipway-tools,
// which gets the arguments slipway got and replaces this process (its exit
// code, output and signals are the command's).
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "engine/base/self_exe.h"
#include "service/cli/global_options.h"
#include "service/cli/tool_commands.h"

namespace slipway::cli {

namespace {

// Our own argv, as the kernel has it: main() has already cut the part after
// "--" off its copy, and this needs no hook in main().
int ExecTools() {
  const std::string tools = HelperProgramPath(SelfExe(), kToolsProgram);
  auto cmdline = ReadFile("/proc/self/cmdline");
  if (!cmdline.ok()) return Fail(cmdline.status().Wrap("run " + tools));
  std::vector<std::string> args;
  for (size_t start = 0; start < cmdline->size();) {
    size_t end = cmdline->find('\0', start);
    if (end == std::string::npos) end = cmdline->size();
    args.push_back(cmdline->substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(tools.c_str(), argv.data());
  int err = errno;
  return Fail(Status::FromErrno(err, "execv " + tools)
                  .Wrap(std::string("this command is run by ") + kToolsProgram +
                        ", installed with slipway in /usr/libexec/slipway"));
}

}  // namespace

int VerifyImage(DaemonClient&, const VerifyOptions&) {
  return ExecTools();
}

int LintPipelineFile(const std::string&) {
  return ExecTools();
}

}  // namespace slipway::cli

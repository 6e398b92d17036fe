#include "service/cli/sandbox_commands.h"

#include <cstdio>
#include <ctime>

#include "engine/runtime/sandbox.h"

namespace slipway::cli {

namespace {

std::string Status(const SandboxInfo& s) {
  if (s.running) return "running";
  if (!s.result) return "unknown";
  if (s.result->timed_out) return "timed out";
  if (s.result->oom_killed) return "exited (" + std::to_string(s.result->exit_code) + ", out of memory)";
  return "exited (" + std::to_string(s.result->exit_code) + ")";
}

std::string Created(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

int Ps(Runtime& runtime, const SandboxOptions& o) {
  auto list = runtime.List();
  if (!list.ok()) return Fail(list.status().message());
  if (!o.quiet) std::printf("%-12s  %-20s  %-19s  %s\n", "ID", "NAME", "CREATED", "STATUS");
  for (const SandboxInfo& s : *list) {
    if (!o.all && !s.running) continue;
    if (o.quiet) {
      std::printf("%s\n", s.id.substr(0, 12).c_str());
    } else {
      std::printf("%-12s  %-20s  %-19s  %s\n", s.id.substr(0, 12).c_str(), s.name.c_str(),
                  Created(s.created_unix_ms).c_str(), Status(s).c_str());
    }
  }
  return 0;
}

int Rm(Runtime& runtime, const SandboxOptions& o) {
  int rc = 0;
  for (const std::string& name : o.names) {
    ::slipway::Status st = runtime.Remove(name, o.force);
    if (st.ok()) {
      std::printf("%s\n", name.c_str());
    } else {
      rc = Fail(st.message());
    }
  }
  return rc;
}

}  // namespace

void AddSandboxCommands(CLI::App& app, SandboxOptions& o) {
  CLI::App* ps = app.add_subcommand("ps", "List sandboxes");
  ps->add_flag("-a,--all", o.all, "Show ended sandboxes too");
  ps->add_flag("-q,--quiet", o.quiet, "Only ids");
  CLI::App* rm = app.add_subcommand("rm", "Remove ended sandboxes (their log and result)");
  rm->add_flag("-f,--force", o.force, "Kill a running sandbox first");
  rm->add_option("sandbox", o.names, "Names or ids")->required();
}

int RunSandboxCommand(CLI::App& app, const GlobalOptions& global, const SandboxOptions& o) {
  bool ps = app.got_subcommand("ps"), rm = app.got_subcommand("rm");
  if (!ps && !rm) return -1;
  auto runtime = Runtime::Open({global.state_dir, global.cgroup_parent});
  if (!runtime.ok()) return Fail(runtime.status().message());
  return ps ? Ps(**runtime, o) : Rm(**runtime, o);
}

}  // namespace slipway::cli

#include "engine/runtime/state.h"

#include <signal.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/base/fs.h"

namespace slipway {

namespace {

struct ProcStat {
  char state = '?';
  uint64_t start_time = 0;
};

Result<ProcStat> ReadProcStat(pid_t pid) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string stat, ReadFile("/proc/" + std::to_string(pid) + "/stat"));
  // The command name (field 2) may contain spaces and parentheses; fields are
  // counted after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) {
    return Internal("malformed /proc/" + std::to_string(pid) + "/stat");
  }
  ProcStat out;
  const char* p = stat.c_str() + close + 2;  // at field 3, the state
  out.state = *p;
  for (int field = 3; field < 22 && *p; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return Internal("short /proc/" + std::to_string(pid) + "/stat");
    ++p;
  }
  out.start_time = std::strtoull(p, nullptr, 10);
  return out;
}

}  // namespace

Result<ProcessRef> ProcessRef::Of(pid_t pid) {
  SLIPWAY_ASSIGN_OR_RETURN(ProcStat stat, ReadProcStat(pid));
  return ProcessRef{pid, stat.start_time};
}

bool ProcessRef::Alive() const {
  if (pid <= 0) return false;
  auto now = ReadProcStat(pid);
  return now.ok() && now->start_time == start_time && now->state != 'Z' && now->state != 'X';
}

std::string SandboxState::ToJson() const {
  nlohmann::json j = {
      {"id", id},
      {"name", name},
      {"owner", {{"pid", owner.pid}, {"start_time", owner.start_time}}},
      {"init", {{"pid", init.pid}, {"start_time", init.start_time}}},
      {"created_unix_ms", created_unix_ms},
      {"lower_dirs", lower_dirs},
  };
  return j.dump();
}

Result<SandboxState> SandboxState::FromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    SandboxState s;
    s.id = j.at("id").get<std::string>();
    s.name = j.value("name", "");
    s.owner = {j.at("owner").at("pid").get<pid_t>(), j.at("owner").at("start_time").get<uint64_t>()};
    s.init = {j.at("init").at("pid").get<pid_t>(), j.at("init").at("start_time").get<uint64_t>()};
    s.created_unix_ms = j.value("created_unix_ms", int64_t{0});
    s.lower_dirs = j.value("lower_dirs", std::vector<std::string>{});
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("malformed sandbox state: ") + e.what());
  }
}

Result<SandboxState> ReadSandboxState(const std::string& sandbox_dir) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(sandbox_dir + "/state.json"));
  auto state = SandboxState::FromJson(text);
  if (!state.ok()) return state.status().Wrap(sandbox_dir);
  return state;
}

Status WriteSandboxState(const std::string& sandbox_dir, const SandboxState& state) {
  return WriteFileAtomic(sandbox_dir + "/state.json", state.ToJson(), 0600, /*durable=*/false);
}

}  // namespace slipway

#include "engine/runtime/state.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/base/fs.h"
#include "engine/runtime/spec.h"

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

// The check comes after the open: a process alive with the recorded start
// time after the open was also the one the open found.
Result<UniqueFd> ProcessRef::OpenIfAlive() const {
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd && errno != ESRCH) return ErrnoStatus("pidfd_open " + std::to_string(pid));
  if (!pidfd || !Alive()) return UniqueFd();
  return pidfd;
}

Status ProcessRef::SignalIfAlive(int signal, const std::string& what) const {
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd pidfd, OpenIfAlive());
  if (pidfd && PidfdSendSignal(pidfd.get(), signal) != 0 && errno != ESRCH)
    return ErrnoStatus("pidfd_send_signal " + what);
  return Status::Ok();
}

int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
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
  if (pooled) j["pooled"] = true;
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
    s.pooled = j.value("pooled", false);
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("malformed sandbox state: ") + e.what());
  }
}

nlohmann::ordered_json SandboxResult::ToJsonValue() const {
  nlohmann::ordered_json j;
  j["exit_code"] = exit_code;
  j["signal"] = signal;
  j["oom_killed"] = oom_killed;
  j["timed_out"] = timed_out;
  j["cancelled"] = cancelled;
  j["wall_ms"] = wall_ms;
  j["cpu_ns"] = cpu_ns;
  j["peak_memory_bytes"] = peak_memory_bytes;
  return j;
}

std::string SandboxResult::ToJson() const {
  return ToJsonValue().dump();
}

Result<SandboxResult> SandboxResult::FromJson(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    SandboxResult r;
    r.exit_code = j.at("exit_code").get<int>();
    r.signal = j.value("signal", 0);
    r.oom_killed = j.value("oom_killed", false);
    r.timed_out = j.value("timed_out", false);
    r.cancelled = j.value("cancelled", false);
    r.wall_ms = j.value("wall_ms", int64_t{0});
    r.cpu_ns = j.value("cpu_ns", int64_t{0});
    r.peak_memory_bytes = j.value("peak_memory_bytes", int64_t{0});
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Internal(std::string("malformed sandbox result: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// StateDir

namespace {

std::string StateFile(const StateDir& dir, const std::string& id) {
  return dir.SandboxDir(id) + "/state.json";
}

std::string ResultFile(const StateDir& dir, const std::string& id) {
  return dir.SandboxDir(id) + "/result.json";
}

}  // namespace

Status StateDir::Create() const {
  SLIPWAY_RETURN_IF_ERROR(MakeDirs(root_ + "/sandboxes", 0700));
  return MakeDirs(root_ + "/names", 0700);
}

std::vector<std::string> StateDir::SandboxIds() const {
  return ListDir(root_ + "/sandboxes");
}

Result<std::string> StateDir::Resolve(const std::string& name_or_id) const {
  if (!IsValidName(name_or_id)) return InvalidArgument("invalid sandbox name \"" + name_or_id + "\"");
  char target[256];
  std::string link = NameLink(name_or_id);
  ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  std::string id = n > 0 ? std::string(target, static_cast<size_t>(n)) : name_or_id;
  if (!PathExists(StateFile(*this, id))) return NotFound("no such sandbox: " + name_or_id);
  return id;
}

Result<SandboxState> StateDir::ReadState(const std::string& id) const {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(StateFile(*this, id)));
  auto state = SandboxState::FromJson(text);
  if (!state.ok()) return state.status().Wrap(SandboxDir(id));
  return state;
}

Status StateDir::WriteState(const SandboxState& state) const {
  return WriteFileAtomic(StateFile(*this, state.id), state.ToJson(), 0600, /*durable=*/false);
}

bool StateDir::HasResult(const std::string& id) const {
  return PathExists(ResultFile(*this, id));
}

Result<SandboxResult> StateDir::ReadResult(const std::string& id) const {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(ResultFile(*this, id)));
  auto result = SandboxResult::FromJson(text);
  if (!result.ok()) return result.status().Wrap(SandboxDir(id));
  return result;
}

Status StateDir::WriteResult(const std::string& id, const SandboxResult& result) const {
  return WriteFileAtomic(ResultFile(*this, id), result.ToJson(), 0600, /*durable=*/false);
}

Status StateDir::RemoveSandbox(const std::string& id, const std::string& name) const {
  SLIPWAY_RETURN_IF_ERROR(RemoveTree(SandboxDir(id)));
  if (name.empty()) return Status::Ok();
  std::string link = NameLink(name);
  char target[256];
  ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n > 0 && std::string(target, static_cast<size_t>(n)) == id && ::unlink(link.c_str()) != 0 &&
      errno != ENOENT) {
    return ErrnoStatus("unlink " + link);
  }
  return Status::Ok();
}

}  // namespace slipway

#include "engine/runtime/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <thread>

#include "engine/base/fs.h"
#include "engine/runtime/cgroup_devices.h"

namespace slipway {

const char* CgroupLayoutName(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kV1: return "v1";
    case CgroupLayout::kHybrid: return "hybrid";
    case CgroupLayout::kV2: return "v2";
  }
  return "unknown";
}

namespace {

// v1 hierarchies Slipway uses; cpuset, blkio, freezer and named ones are left alone.
constexpr std::string_view kV1Controllers[] = {"memory", "cpu", "cpuacct", "pids", "devices"};
// Controllers a pure v2 <parent> delegates to each sandbox.
constexpr std::string_view kV2Controllers[] = {"memory", "cpu", "pids"};

constexpr auto kRemoveTimeout = std::chrono::seconds(1);
constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr int kKillRounds = 200;

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> Split(std::string_view s, std::string_view separators) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find_first_of(separators, pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.emplace_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal =
        s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; });
    if (octal) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct CgroupMount {
  std::string mount_point;
  std::string fs_type;
  std::vector<std::string> super_options;
};

// "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices":
// the mount point is field 5; fs type and super options follow the "-".
std::vector<CgroupMount> CgroupMounts(const std::string& mountinfo) {
  std::vector<CgroupMount> out;
  for (const std::string& line : Split(mountinfo, "\n")) {
    std::vector<std::string> f = Split(line, " ");
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    if (dash[1] != "cgroup" && dash[1] != "cgroup2") continue;
    out.push_back({UnescapeMountPath(f[4]), dash[1], Split(dash[3], ",")});
  }
  return out;
}

// Names become path components in cgroupfs, next to files like "cgroup.procs".
Status ValidateName(const char* what, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 200 && name[0] != '.' &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
            });
  if (ok) return Status::Ok();
  return InvalidArgument(std::string("invalid ") + what + " \"" + name +
                         "\": use letters, digits, '-', '_' and '.', not first");
}

Status ValidateLimits(const CgroupLimits& l) {
  if (l.memory_bytes < 0) return InvalidArgument("memory limit must not be negative");
  if (l.memory_swap_bytes < -1) return InvalidArgument("memory+swap limit must be -1, 0 or positive");
  if (l.memory_bytes > 0 && l.memory_swap_bytes > 0 && l.memory_swap_bytes < l.memory_bytes)
    return InvalidArgument("memory+swap limit " + std::to_string(l.memory_swap_bytes) +
                           " is below the memory limit " + std::to_string(l.memory_bytes));
  if (l.cpu_millis < 0) return InvalidArgument("cpu limit must not be negative");
  if (l.cpu_millis > 0 && l.cpu_period_us <= 0) return InvalidArgument("cpu period must be positive");
  if (l.cpu_millis > std::numeric_limits<int64_t>::max() / std::max<int64_t>(l.cpu_period_us, 1))
    return InvalidArgument("cpu limit " + std::to_string(l.cpu_millis) + " is too large");
  if (l.pids_max < 0) return InvalidArgument("pids limit must not be negative");
  return Status::Ok();
}

// One write(2) per value: cgroupfs applies each write as a whole.
Status WriteValue(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  ssize_t n = -1;
  if (fd) {
    do n = ::write(fd.get(), value.data(), value.size());
    while (n < 0 && errno == EINTR);
  }
  if (n < 0) return ErrnoStatus("write " + path + " = " + value);
  if (static_cast<size_t>(n) != value.size())
    return Internal("write " + path + " = " + value + ": short write");
  return Status::Ok();
}

Result<int64_t> ParseInt(std::string_view s, const std::string& path) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data())
    return Internal("parse " + path + ": not a number: " + std::string(s));
  return v;
}

Result<int64_t> ReadInt(const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseInt(text, path);
}

// The value of `key` in a "key value" per line file (cpu.stat, memory.events,
// memory.oom_control); 0 if the kernel does not report that key.
Result<int64_t> ReadKeyed(const std::string& path, std::string_view key) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  for (const std::string& line : Split(text, "\n")) {
    std::vector<std::string> kv = Split(line, " ");
    if (kv.size() == 2 && kv[0] == key) return ParseInt(kv[1], path);
  }
  return int64_t{0};
}

std::vector<pid_t> ReadPids(const std::string& dir) {
  std::vector<pid_t> pids;
  Result<std::string> text = ReadFile(dir + "/cgroup.procs");
  if (!text.ok()) return pids;  // already removed
  for (const std::string& s : Split(*text, "\n")) pids.push_back(static_cast<pid_t>(std::atoll(s.c_str())));
  return pids;
}

// --- Limits -----------------------------------------------------------------

bool NoSwap(const CgroupLimits& l) {
  return l.memory_swap_bytes == 0 || l.memory_swap_bytes == l.memory_bytes;
}

Status ApplyV1Memory(const std::string& dir, const CgroupLimits& l) {
  if (l.memory_bytes == 0) return Status::Ok();
  // memsw may never be below the memory limit, so the memory limit goes first.
  SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/memory.limit_in_bytes", std::to_string(l.memory_bytes)));
  // memsw only exists when the kernel accounts swap.
  std::string memsw = dir + "/memory.memsw.limit_in_bytes";
  if (PathExists(memsw)) {
    int64_t total = l.memory_swap_bytes == 0 ? l.memory_bytes : l.memory_swap_bytes;
    SLIPWAY_RETURN_IF_ERROR(WriteValue(memsw, std::to_string(total)));
  }
  // Without memsw accounting this is what keeps the sandbox out of swap.
  if (NoSwap(l)) SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/memory.swappiness", "0"));
  return Status::Ok();
}

Status ApplyV1Cpu(const std::string& dir, const CgroupLimits& l) {
  if (l.cpu_millis == 0) return Status::Ok();
  int64_t quota = l.cpu_millis * l.cpu_period_us / 1000;
  SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/cpu.cfs_period_us", std::to_string(l.cpu_period_us)));
  return WriteValue(dir + "/cpu.cfs_quota_us", std::to_string(quota));
}

Status ApplyPids(const std::string& dir, const CgroupLimits& l) {
  if (l.pids_max == 0) return Status::Ok();
  return WriteValue(dir + "/pids.max", std::to_string(l.pids_max));
}

Status ApplyV2Limits(const std::string& dir, const CgroupLimits& l) {
  if (l.memory_bytes > 0) {
    SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/memory.max", std::to_string(l.memory_bytes)));
    // v2 limits swap alone, not memory plus swap.
    std::string swap = dir + "/memory.swap.max";
    std::string value = l.memory_swap_bytes == -1  ? "max"
                        : l.memory_swap_bytes == 0 ? "0"
                                                   : std::to_string(l.memory_swap_bytes - l.memory_bytes);
    if (PathExists(swap)) SLIPWAY_RETURN_IF_ERROR(WriteValue(swap, value));
  }
  if (l.cpu_millis > 0) {
    int64_t quota = l.cpu_millis * l.cpu_period_us / 1000;
    SLIPWAY_RETURN_IF_ERROR(
        WriteValue(dir + "/cpu.max", std::to_string(quota) + " " + std::to_string(l.cpu_period_us)));
  }
  return ApplyPids(dir, l);
}

Status NeedDir(const std::string& dir, const char* controller) {
  if (!dir.empty()) return Status::Ok();
  return FailedPrecondition(std::string("no ") + controller + " cgroup hierarchy is mounted");
}

Status RestrictV1Devices(const std::string& dir) {
  SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/devices.deny", "a"));
  for (const std::string& line : V1DeviceAllowLines()) {
    SLIPWAY_RETURN_IF_ERROR(WriteValue(dir + "/devices.allow", line));
  }
  return Status::Ok();
}

// --- Setup and removal ------------------------------------------------------

// A controller is usable in <parent>/<name> only if the root and <parent>
// both list it in cgroup.subtree_control.
Status EnableControllers(const std::string& dir, const std::vector<std::string>& wanted) {
  std::string path = dir + "/cgroup.subtree_control";
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> enabled = Split(text, " \n");
  for (const std::string& controller : wanted) {
    if (Contains(enabled, controller)) continue;
    Status st = WriteValue(path, "+" + controller);
    if (!st.ok()) {
      return Status(st.code(), "cannot delegate the " + controller + " controller: " + st.message() +
                                   " (a cgroup that has processes of its own cannot enable controllers "
                                   "for its children)");
    }
  }
  return Status::Ok();
}

Status RemoveDir(const std::string& dir) {
  auto deadline = std::chrono::steady_clock::now() + kRemoveTimeout;
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status::Ok();
    // EBUSY: killed processes have not finished exiting yet.
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) return ErrnoStatus("rmdir " + dir);
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

// --- CgroupDriver -----------------------------------------------------------

std::vector<std::string> CgroupDriver::Controllers() const {
  std::vector<std::string> out;
  if (layout_ != CgroupLayout::kV2) {
    for (std::string_view c : kV1Controllers) {
      if (!V1Dir(std::string(c), "").empty()) out.emplace_back(c);
    }
    return out;
  }
  Result<std::string> text = ReadFile(unified_mount_ + "/cgroup.controllers");
  std::vector<std::string> available = text.ok() ? Split(*text, " \n") : std::vector<std::string>{};
  for (std::string_view c : kV2Controllers) {
    if (Contains(available, c)) out.emplace_back(c);
  }
  out.emplace_back("devices");
  return out;
}

Result<CgroupDriver> CgroupDriver::Detect(const std::string& parent) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  return FromMountinfo(mountinfo, parent);
}

Result<CgroupDriver> CgroupDriver::FromMountinfo(const std::string& mountinfo, const std::string& parent) {
  SLIPWAY_RETURN_IF_ERROR(ValidateName("cgroup parent", parent));
  CgroupDriver d;
  d.parent_ = parent;
  for (const CgroupMount& m : CgroupMounts(mountinfo)) {
    if (m.fs_type == "cgroup2") {
      if (d.unified_mount_.empty()) d.unified_mount_ = m.mount_point;
      continue;
    }
    V1Hierarchy h{m.mount_point, {}};
    for (std::string_view c : kV1Controllers) {
      if (Contains(m.super_options, c)) h.controllers.emplace_back(c);
    }
    // The same hierarchy can be mounted twice; the first mount wins.
    bool seen = std::any_of(h.controllers.begin(), h.controllers.end(),
                            [&](const std::string& c) { return !d.V1Dir(c, "").empty(); });
    if (!h.controllers.empty() && !seen) d.v1_.push_back(std::move(h));
  }
  if (!d.v1_.empty()) {
    d.layout_ = d.unified_mount_.empty() ? CgroupLayout::kV1 : CgroupLayout::kHybrid;
  } else if (!d.unified_mount_.empty()) {
    d.layout_ = CgroupLayout::kV2;
  } else {
    return FailedPrecondition("no cgroup filesystem with memory, cpu, pids or devices is mounted");
  }
  return d;
}

std::vector<std::string> CgroupDriver::ParentDirs() const {
  std::vector<std::string> dirs;
  for (const V1Hierarchy& h : v1_) dirs.push_back(h.mount + "/" + parent_);
  if (!unified_mount_.empty()) dirs.push_back(unified_mount_ + "/" + parent_);
  return dirs;
}

std::vector<std::string> CgroupDriver::PathsFor(const std::string& name) const {
  std::vector<std::string> paths = ParentDirs();
  for (std::string& p : paths) p += "/" + name;
  return paths;
}

std::string CgroupDriver::V1Dir(const std::string& controller, const std::string& name) const {
  for (const V1Hierarchy& h : v1_) {
    if (Contains(h.controllers, controller)) return h.mount + "/" + parent_ + "/" + name;
  }
  return "";
}

bool CgroupDriver::UseBpfDevices() const {
  return layout_ == CgroupLayout::kV2 || (force_bpf_devices_ && !unified_mount_.empty());
}

std::vector<std::string> CgroupDriver::List() const {
  std::set<std::string> names;
  for (const std::string& dir : ParentDirs()) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    while (const dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (e->d_type == DT_DIR && n != "." && n != "..") names.insert(n);
    }
    ::closedir(d);
  }
  return {names.begin(), names.end()};
}

Status CgroupDriver::Remove(const std::string& name) const {
  SLIPWAY_RETURN_IF_ERROR(ValidateName("cgroup name", name));
  std::unique_ptr<Cgroup> cg = NewCgroup(name);
  for (const std::string& dir : PathsFor(name)) {
    if (PathExists(dir)) cg->dirs_.push_back(dir);
  }
  return cg->Destroy();
}

std::unique_ptr<Cgroup> CgroupDriver::NewCgroup(const std::string& name) const {
  std::unique_ptr<Cgroup> cg(new Cgroup());
  cg->name_ = name;
  cg->layout_ = layout_;
  cg->memory_dir_ = V1Dir("memory", name);
  cg->cpuacct_dir_ = V1Dir("cpuacct", name);
  if (!unified_mount_.empty()) cg->unified_dir_path_ = unified_mount_ + "/" + parent_ + "/" + name;
  return cg;
}

Result<std::unique_ptr<Cgroup>> CgroupDriver::Create(const std::string& name,
                                                     const CgroupLimits& limits) const {
  SLIPWAY_RETURN_IF_ERROR(ValidateName("cgroup name", name));
  SLIPWAY_RETURN_IF_ERROR(ValidateLimits(limits));
  std::unique_ptr<Cgroup> cg = NewCgroup(name);
  Status st = Populate(*cg, limits);
  if (st.ok()) return cg;
  // Destroy() only removes the directories Populate made, never one that existed.
  Status cleanup = cg->Destroy();
  std::string message = "create cgroup " + name + ": " + st.message();
  if (!cleanup.ok()) message += " (cleanup failed: " + cleanup.message() + ")";
  return Status(st.code(), message);
}

Status CgroupDriver::Populate(Cgroup& cg, const CgroupLimits& limits) const {
  SLIPWAY_RETURN_IF_ERROR(PrepareParents());
  for (const std::string& dir : PathsFor(cg.name_)) {
    if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir " + dir);
    cg.dirs_.push_back(dir);
  }
  SLIPWAY_RETURN_IF_ERROR(ApplyLimits(cg, limits));
  for (const std::string& dir : cg.dirs_) {
    std::string path = dir + "/cgroup.procs";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return ErrnoStatus("open " + path);
    cg.procs_raw_.push_back(fd.get());
    cg.procs_.push_back(std::move(fd));
  }
  if (!cg.unified_dir_path_.empty()) {
    cg.unified_dir_.reset(::open(cg.unified_dir_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cg.unified_dir_) return ErrnoStatus("open " + cg.unified_dir_path_);
  }
  return limits.restrict_devices ? RestrictDevices(cg) : Status::Ok();
}

Status CgroupDriver::Limit(Cgroup& cg, const CgroupLimits& limits) const {
  SLIPWAY_RETURN_IF_ERROR(ValidateLimits(limits));
  SLIPWAY_RETURN_IF_ERROR(ApplyLimits(cg, limits));
  if (limits.restrict_devices == cg.devices_restricted_) return Status::Ok();
  return limits.restrict_devices ? RestrictDevices(cg) : LiftDeviceRestriction(cg);
}

Status CgroupDriver::PrepareParents() const {
  for (const std::string& dir : ParentDirs()) SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir));
  if (layout_ != CgroupLayout::kV2) return Status::Ok();
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(unified_mount_ + "/cgroup.controllers"));
  std::vector<std::string> available = Split(text, " \n");
  std::vector<std::string> wanted;
  for (std::string_view c : kV2Controllers) {
    if (Contains(available, c)) wanted.emplace_back(c);
  }
  SLIPWAY_RETURN_IF_ERROR(EnableControllers(unified_mount_, wanted));
  return EnableControllers(unified_mount_ + "/" + parent_, wanted);
}

Status CgroupDriver::ApplyLimits(const Cgroup& cg, const CgroupLimits& limits) const {
  if (layout_ == CgroupLayout::kV2) return ApplyV2Limits(cg.unified_dir_path_, limits);
  if (limits.memory_bytes > 0) {
    SLIPWAY_RETURN_IF_ERROR(NeedDir(cg.memory_dir_, "memory"));
    SLIPWAY_RETURN_IF_ERROR(ApplyV1Memory(cg.memory_dir_, limits));
  }
  if (limits.cpu_millis > 0) {
    std::string cpu = V1Dir("cpu", cg.name_);
    SLIPWAY_RETURN_IF_ERROR(NeedDir(cpu, "cpu"));
    SLIPWAY_RETURN_IF_ERROR(ApplyV1Cpu(cpu, limits));
  }
  if (limits.pids_max > 0) {
    std::string pids = V1Dir("pids", cg.name_);
    SLIPWAY_RETURN_IF_ERROR(NeedDir(pids, "pids"));
    SLIPWAY_RETURN_IF_ERROR(ApplyPids(pids, limits));
  }
  return Status::Ok();
}

Status CgroupDriver::RestrictDevices(Cgroup& cg) const {
  if (!UseBpfDevices()) {
    std::string devices = V1Dir("devices", cg.name_);
    SLIPWAY_RETURN_IF_ERROR(NeedDir(devices, "devices"));
    SLIPWAY_RETURN_IF_ERROR(RestrictV1Devices(devices));
    cg.devices_restricted_ = true;
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(UniqueFd prog, LoadDeviceProgram());
  SLIPWAY_RETURN_IF_ERROR(AttachDeviceProgram(cg.unified_dir_.get(), prog.get(), cg.unified_dir_path_));
  cg.device_prog_ = std::move(prog);  // only now: Destroy() detaches what this holds
  cg.devices_restricted_ = true;
  return Status::Ok();
}

Status CgroupDriver::LiftDeviceRestriction(Cgroup& cg) const {
  if (cg.device_prog_) {
    SLIPWAY_RETURN_IF_ERROR(
        DetachDeviceProgram(cg.unified_dir_.get(), cg.device_prog_.get(), cg.unified_dir_path_));
    cg.device_prog_.reset();
  } else {
    std::string devices = V1Dir("devices", cg.name_);
    SLIPWAY_RETURN_IF_ERROR(NeedDir(devices, "devices"));
    // Allowed again as the parent allows: everything, under Slipway's parent.
    SLIPWAY_RETURN_IF_ERROR(WriteValue(devices + "/devices.allow", "a"));
  }
  cg.devices_restricted_ = false;
  return Status::Ok();
}

// --- Cgroup -----------------------------------------------------------------

Cgroup::~Cgroup() {
  (void)Destroy();
}

Result<CgroupStats> Cgroup::Stats() const {
  CgroupStats s;
  if (layout_ == CgroupLayout::kV2) {
    const std::string& dir = unified_dir_path_;
    SLIPWAY_ASSIGN_OR_RETURN(int64_t usage_us, ReadKeyed(dir + "/cpu.stat", "usage_usec"));
    s.cpu_usage_ns = usage_us * 1000;
    if (PathExists(dir + "/memory.peak")) {
      SLIPWAY_ASSIGN_OR_RETURN(s.memory_peak_bytes, ReadInt(dir + "/memory.peak"));
    }
    if (PathExists(dir + "/memory.events")) {
      SLIPWAY_ASSIGN_OR_RETURN(s.oom_kills, ReadKeyed(dir + "/memory.events", "oom_kill"));
    }
    return s;
  }
  if (!cpuacct_dir_.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(s.cpu_usage_ns, ReadInt(cpuacct_dir_ + "/cpuacct.usage"));
  }
  if (!memory_dir_.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(s.memory_peak_bytes, ReadInt(memory_dir_ + "/memory.max_usage_in_bytes"));
    SLIPWAY_ASSIGN_OR_RETURN(s.oom_kills, ReadKeyed(memory_dir_ + "/memory.oom_control", "oom_kill"));
  }
  return s;
}

Result<CgroupUsage> CgroupDriver::Usage(const std::string& name) const {
  SLIPWAY_RETURN_IF_ERROR(ValidateName("cgroup name", name));
  CgroupUsage u;
  if (layout_ == CgroupLayout::kV2) {
    std::string dir = unified_mount_ + "/" + parent_ + "/" + name;
    if (!PathExists(dir)) return NotFound("no cgroup " + dir);
    SLIPWAY_ASSIGN_OR_RETURN(int64_t usage_us, ReadKeyed(dir + "/cpu.stat", "usage_usec"));
    u.cpu_usage_ns = usage_us * 1000;
    SLIPWAY_ASSIGN_OR_RETURN(u.memory_bytes, ReadInt(dir + "/memory.current"));
    if (PathExists(dir + "/memory.peak")) {
      SLIPWAY_ASSIGN_OR_RETURN(u.memory_peak_bytes, ReadInt(dir + "/memory.peak"));
    }
    SLIPWAY_ASSIGN_OR_RETURN(u.pids, ReadInt(dir + "/pids.current"));
    return u;
  }
  std::string memory = V1Dir("memory", name), cpuacct = V1Dir("cpuacct", name), pids = V1Dir("pids", name);
  if (memory.empty() || !PathExists(memory))
    return NotFound("no cgroup " + name + " in the memory hierarchy");
  SLIPWAY_ASSIGN_OR_RETURN(u.memory_bytes, ReadInt(memory + "/memory.usage_in_bytes"));
  SLIPWAY_ASSIGN_OR_RETURN(u.memory_peak_bytes, ReadInt(memory + "/memory.max_usage_in_bytes"));
  if (!cpuacct.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(u.cpu_usage_ns, ReadInt(cpuacct + "/cpuacct.usage"));
  }
  if (!pids.empty()) {
    SLIPWAY_ASSIGN_OR_RETURN(u.pids, ReadInt(pids + "/pids.current"));
  }
  return u;
}

Status Cgroup::KillAll() const {
  // cgroup.kill (Linux 5.14+) also catches processes forked while we kill.
  // Only in a directory this object made: after a failed Create, the
  // unified path may be another sandbox's cgroup.
  std::string kill_file = unified_dir_path_ + "/cgroup.kill";
  if (Contains(dirs_, unified_dir_path_) && PathExists(kill_file)) {
    SLIPWAY_RETURN_IF_ERROR(WriteValue(kill_file, "1"));
  }
  // Without it, kill what is listed until nothing is left: a process may fork
  // between reading cgroup.procs and the kill. Killed processes vanish from
  // cgroup.procs once they exit, even while still unreaped zombies. (A listed
  // pid could exit and be reused before kill(); the window is microseconds.)
  for (int round = 0; round < kKillRounds; ++round) {
    bool empty = true;
    for (const std::string& dir : dirs_) {
      for (pid_t pid : ReadPids(dir)) {
        if (pid > 0) ::kill(pid, SIGKILL);
        empty = false;
      }
    }
    if (empty) return Status::Ok();
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status(Code::kDeadlineExceeded, "kill processes in cgroup " + name_ + ": some are still running");
}

Status Cgroup::Destroy() {
  if (destroyed_) return Status::Ok();
  // A kill failure shows up below as EBUSY if it matters.
  Status killed = KillAll();
  Status result;
  if (device_prog_ && unified_dir_) {
    result = DetachDeviceProgram(unified_dir_.get(), device_prog_.get(), unified_dir_path_);
    device_prog_.reset();
  }
  procs_raw_.clear();
  procs_.clear();
  unified_dir_.reset();
  // Reverse creation order; keep what could not be removed for a retry.
  std::vector<std::string> left;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    Status st = RemoveDir(*it);
    if (st.ok()) continue;
    left.insert(left.begin(), *it);
    if (result.ok())
      result = killed.ok() ? st : Status(st.code(), st.message() + " (" + killed.message() + ")");
  }
  dirs_ = std::move(left);
  destroyed_ = dirs_.empty();
  return result;
}

}  // namespace slipway

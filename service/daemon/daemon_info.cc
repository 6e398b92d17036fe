#include "service/daemon/daemon_info.h"

#include <sys/utsname.h>

#include "engine/base/fs.h"
#include "engine/registry/credentials.h"
#include "service/version/version.h"

namespace slipway::daemon {
namespace {

// PRETTY_NAME of os-release(5), its quotes removed; "" if absent.
std::string OsName() {
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    Result<std::string> text = ReadFile(path);
    if (!text.ok()) continue;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t end = text->find('\n', pos);
      if (end == std::string::npos) end = text->size();
      std::string_view line(text->data() + pos, end - pos);
      pos = end + 1;
      if (!line.starts_with("PRETTY_NAME=")) continue;
      line.remove_prefix(12);
      if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') && line.back() == line.front())
        line = line.substr(1, line.size() - 2);
      return std::string(line.substr(0, 200));
    }
  }
  return "";
}

}  // namespace

DaemonInfo DescribeDaemon(const DaemonConfig& config, const CgroupDriver& cgroups) {
  DaemonInfo info;
  info.version = kVersion;
  struct utsname u;
  if (::uname(&u) == 0) info.kernel_version = u.release;
  info.operating_system = OsName();
  info.data_dir = config.data_dir;
  info.state_dir = config.state_dir;
  info.cgroup_layout = CgroupLayoutName(cgroups.layout());
  info.cgroup_controllers = cgroups.Controllers();
  info.cgroup_parent = config.cgroup_parent;
  info.max_running = config.max_running;
  info.sandbox_pool_size = config.sandbox_pool_size;
  info.max_runs = config.max_runs;
  info.public_url = PublicUrl(config);
  info.insecure_registries = config.insecure_registries;
  const std::string auth = RegistryAuthPath(config);
  if (!auth.empty()) {
    Result<CredentialStore> credentials = CredentialStore::Load(auth);
    if (credentials.ok()) info.registries_with_credentials = credentials->Registries();
  }
  return info;
}

}  // namespace slipway::daemon

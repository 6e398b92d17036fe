#include "service/cli/global_options.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "engine/registry/client.h"

namespace slipway::cli {

void AddGlobalOptions(CLI::App& app, GlobalOptions& o) {
  if (const char* v = std::getenv("SLIPWAY_STATE_DIR")) o.state_dir = v;
  if (const char* v = std::getenv("SLIPWAY_CGROUP_PARENT")) o.cgroup_parent = v;
  if (const char* v = std::getenv("SLIPWAY_DATA_DIR")) o.data_dir = v;
  if (const char* v = std::getenv("SLIPWAY_REGISTRY_AUTH")) {
    o.registry_auth = v;
  } else if (const char* home = std::getenv("HOME")) {
    o.registry_auth = std::string(home) + "/.docker/config.json";
  }
  app.add_option("--state-dir", o.state_dir, "Runtime state directory (env SLIPWAY_STATE_DIR)");
  app.add_option("--cgroup-parent", o.cgroup_parent, "Parent cgroup name (env SLIPWAY_CGROUP_PARENT)");
  app.add_option("--data-dir", o.data_dir, "Image store directory (env SLIPWAY_DATA_DIR)");
  app.add_option("--registry-auth", o.registry_auth,
                 "Registry credentials, Docker's config.json format (env SLIPWAY_REGISTRY_AUTH)");
  app.add_option("--insecure-registry", o.insecure_registries,
                 "A registry (host:port) that may be reached over plain http")
      ->allow_extra_args(false);
}

RegistryOptions RegistryOptionsFor(const GlobalOptions& g) {
  RegistryOptions o;
  o.insecure_registries = g.insecure_registries;
  if (::access(g.registry_auth.c_str(), R_OK) == 0) o.credentials_file = g.registry_auth;
  return o;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "slipway: %s\n", message.c_str());
  return 125;
}

}  // namespace slipway::cli

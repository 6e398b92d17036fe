// Options every slipway verb shares, with their environment variables.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace slipway {
struct RegistryOptions;
}

namespace slipway::cli {

struct GlobalOptions {
  std::string state_dir = "/run/slipway";     // SLIPWAY_STATE_DIR: running sandboxes
  std::string cgroup_parent = "slipway";      // SLIPWAY_CGROUP_PARENT
  std::string data_dir = "/var/lib/slipway";  // SLIPWAY_DATA_DIR: images
  std::string registry_auth;                  // SLIPWAY_REGISTRY_AUTH, default ~/.docker/config.json
  std::vector<std::string> insecure_registries;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& options);

// How to reach registries: insecure ones, and the credentials file if it exists.
::slipway::RegistryOptions RegistryOptionsFor(const GlobalOptions& options);

// "slipway: <message>" on stderr; returns 125, Slipway's own error code.
int Fail(const std::string& message);

}  // namespace slipway::cli

#include "service/cli/system_commands.h"

#include <cstdio>

#include "service/version/version.h"

namespace slipway::cli {

namespace {

// GET /api/v1/info's fields, with Docker-like labels; fields this client
// does not know are shown by their own names.
std::string Label(const std::string& key) {
  static const std::pair<const char*, const char*> kLabels[] = {
      {"version", "Server Version"},
      {"kernel_version", "Kernel Version"},
      {"operating_system", "Operating System"},
      {"data_dir", "Data Dir"},
      {"state_dir", "State Dir"},
      {"storage_driver", "Storage Driver"},
      {"cgroup_layout", "Cgroup Layout"},
      {"cgroup_controllers", "Cgroup Controllers"},
      {"cgroup_parent", "Cgroup Parent"},
      {"registries", "Registries"},
      {"insecure", "Insecure (plain http)"},
      {"with_credentials", "With Credentials"},
      {"webhook_urls", "Webhook URLs"},
      {"max_running", "Max Running"},
      {"running", "Running"},
      {"queued", "Queued"},
      {"max_runs", "Max Runs"},
      {"runs_running", "Runs Running"},
      {"runs_queued", "Runs Queued"},
      {"public_url", "Public URL"},
  };
  for (const auto& [k, label] : kLabels) {
    if (key == k) return label;
  }
  return key;
}

// Strings as they are, lists joined by ", " ("none" if empty), the rest as JSON.
std::string Text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return v.dump();
  if (v.empty()) return "none";
  std::string out;
  for (const Json& item : v) out += (out.empty() ? "" : ", ") + Text(item);
  return out;
}

int Info(DaemonClient& client) {
  auto info = client.Get("/info");
  if (!info.ok()) return Fail(info.status());
  std::printf("Server: %s\n", client.url().c_str());
  for (const auto& [key, value] : info->items()) {
    if (value.is_object()) {
      // webhook_urls (to paste into a forge's settings), registries: a line each.
      std::printf(" %s:\n", Label(key).c_str());
      for (const auto& [name, item] : value.items())
        std::printf("  %s: %s\n", (key == "webhook_urls" ? name : Label(name)).c_str(), Text(item).c_str());
      continue;
    }
    std::printf(" %s: %s\n", Label(key).c_str(), Text(value).c_str());
  }
  return 0;
}

int Version(DaemonClient& client) {
  std::printf("Client:\n Version: %s\n", kVersion);
  std::fflush(stdout);
  auto info = client.Get("/info");
  if (!info.ok()) return Fail(info.status());
  std::printf("\nServer: %s\n Version: %s\n", client.url().c_str(),
              StringField(*info, "version", "?").c_str());
  return 0;
}

}  // namespace

void AddSystemCommands(CLI::App& app, Verbs& verbs) {
  verbs.push_back({app.add_subcommand("info", "Show slipwayd's configuration and load"), Info});
  verbs.push_back({app.add_subcommand("version", "Show the client's and slipwayd's versions"), Version});
}

}  // namespace slipway::cli

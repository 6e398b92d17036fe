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
      {"data_dir", "Data Dir"},
      {"state_dir", "State Dir"},
      {"cgroup_layout", "Cgroup Layout"},
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

std::string Text(const Json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

int Info(DaemonClient& client) {
  auto info = client.Get("/info");
  if (!info.ok()) return Fail(info.status());
  std::printf("Server: %s\n", client.url().c_str());
  for (const auto& [key, value] : info->items()) {
    if (key == "webhook_urls" && value.is_object()) {
      // The URLs to paste into a forge's webhook settings, one per forge.
      std::printf(" Webhook URLs:\n");
      for (const auto& [forge, url] : value.items())
        std::printf("  %s: %s\n", forge.c_str(), Text(url).c_str());
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

#include "service/cli/global_options.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace slipway::cli {

void AddGlobalOptions(CLI::App& app, DaemonEndpoint& e) {
  if (const char* v = std::getenv("SLIPWAY_HOST"); v && *v) e.host = v;
  if (const char* v = std::getenv("SLIPWAY_TOKEN_FILE"); v && *v) e.token_file = v;
  app.add_option("-H,--host", e.host, "slipwayd's address (env SLIPWAY_HOST)")
      ->default_str(kDefaultHost)
      ->type_name("URL");
  app.add_option("--token-file", e.token_file, "slipwayd's control token (env SLIPWAY_TOKEN_FILE)")
      ->default_str(kDefaultTokenFile)
      ->type_name("FILE");
}

void AddFormatOption(CLI::App* command, std::string& format) {
  format = "table";
  command->add_option("--format", format, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->default_str("table");
}

void PrintJson(const Json& value) {
  std::printf("%s\n", value.dump(4, ' ', false, Json::error_handler_t::replace).c_str());
}

int Fail(const std::string& message) {
  std::fflush(stdout);  // what was printed before the error comes first
  std::fprintf(stderr, "slipway: %s\n", message.c_str());
  return 125;
}

int Fail(const Status& status) {
  return Fail(status.message());
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_relative()) {
    std::error_code ec;
    std::filesystem::path cwd = std::filesystem::current_path(ec);
    if (ec) return path;  // the daemon will say what is wrong with it
    p = cwd / p;
  }
  std::string clean = p.lexically_normal().string();
  if (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  return clean;
}

int ForEachName(const std::vector<std::string>& names,
                const std::function<Status(const std::string&)>& each) {
  int rc = 0;
  for (const std::string& name : names) {
    Status st = each(name);
    if (st.ok()) continue;
    Code c = st.code();
    if (c == Code::kUnavailable || c == Code::kUnauthenticated || c == Code::kPermissionDenied)
      return Fail(st);
    Fail(st);
    rc = 1;
  }
  return rc;
}

}  // namespace slipway::cli

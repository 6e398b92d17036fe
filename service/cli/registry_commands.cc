#include "service/cli/registry_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "service/cli/format.h"
#include "service/cli/tool_commands.h"

namespace slipway::cli {

namespace {

struct Options {
  std::string host, username, format;
  bool password_stdin = false, no_verify = false;
};

int Login(DaemonClient& client, const Options& o) {
  if (!o.password_stdin) {
    return Fail(
        "the password is read from stdin: pass --password-stdin (a command line is visible to others)");
  }
  auto password = ReadAll(STDIN_FILENO, "stdin");
  if (!password.ok()) return Fail(password.status());
  // `echo secret | slipway registry login` sends a line: its end is not
  // part of the password.
  std::string secret = std::move(password).value();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Fail("no password on stdin");
  Json body = {{"username", o.username}, {"password", secret}, {"verify", !o.no_verify}};
  auto answer =
      client.Post("/registries/" + Escape(o.host) + "/login", body, DaemonClient::kDefaultTimeoutMs);
  if (!answer.ok()) return Fail(answer.status());
  std::printf("Login to %s as %s %s\n", StringField(*answer, "host").c_str(),
              StringField(*answer, "username").c_str(),
              BoolField(*answer, "verified") ? "succeeded" : "stored (not checked)");
  return 0;
}

int List(DaemonClient& client, const Options& o) {
  auto answer = client.Get("/registries");
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"REGISTRY", "USERNAME", "UPDATED"});
  for (const Json& entry : Field(*answer, "registries")) {
    int64_t t = ParseTimestamp(StringField(entry, "updated_at"));
    table.Add({StringField(entry, "host"), StringField(entry, "username"),
               t ? HumanDuration(NowUnixMs() - t) + " ago" : "N/A"});
  }
  table.Print();
  return 0;
}

int Logout(DaemonClient& client, const Options& o) {
  auto answer = client.Delete("/registries/" + Escape(o.host));
  if (!answer.ok()) return Fail(answer.status());
  std::printf("Removed login for %s\n", o.host.c_str());
  return 0;
}

}  // namespace

void AddRegistryCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* registry = app.add_subcommand("registry", "Logins slipwayd uses to push (promote) and pull");
  registry->require_subcommand(1);

  CLI::App* login =
      registry->add_subcommand("login", "Store a login for a registry (checked against it first)");
  login->add_option("HOST", o->host, "The registry, host[:port] as in image references")->required();
  login->add_option("-u,--username", o->username, "The user name")->required();
  login->add_flag("--password-stdin", o->password_stdin, "Read the password (or token) from stdin");
  login->add_flag("--no-verify", o->no_verify, "Store without checking against the registry");
  verbs.push_back({login, [o](DaemonClient& c) { return Login(c, *o); }});

  CLI::App* ls = registry->add_subcommand("ls", "List registry logins (hosts and user names)");
  AddFormatOption(ls, o->format);
  verbs.push_back({ls, [o](DaemonClient& c) { return List(c, *o); }});

  CLI::App* logout = registry->add_subcommand("logout", "Remove the login for a registry");
  logout->add_option("HOST", o->host, "The registry")->required();
  verbs.push_back({logout, [o](DaemonClient& c) { return Logout(c, *o); }});

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = app.add_subcommand(
      "verify", "Check an image's signed provenance and show which run and tests vouch for it");
  verify->add_option("IMAGE", v->image, "The image by digest: REGISTRY/REPO@sha256:...")->required();
  verify->add_option("--key", v->key_file,
                     "The public key (PEM) to trust; default: slipwayd's (GET /api/v1/signing-key)");
  verify->add_option("--registry-auth", v->registry_auth,
                     "Registry credentials, Docker's config.json format (default ~/.docker/config.json)");
  verify->add_flag("--insecure", v->insecure, "Reach the registry over plain http (loopback always is)");
  AddFormatOption(verify, v->format);
  // With --key the client is never used: no request reaches slipwayd.
  verbs.push_back({verify, [v](DaemonClient& c) { return VerifyImage(c, *v); }});
}

}  // namespace slipway::cli

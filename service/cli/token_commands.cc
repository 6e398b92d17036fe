#include "service/cli/token_commands.h"

#include <cstdio>
#include <memory>

#include "engine/base/time.h"
#include "service/cli/format.h"

namespace slipway::cli {

namespace {

struct Options {
  std::string name, scope = "read", format;
};

int Create(DaemonClient& client, const Options& o) {
  auto answer = client.Post("/tokens", Json{{"name", o.name}, {"scope", o.scope}});
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  std::fprintf(stderr, "Token %s (scope %s) made; it is shown this once:\n",
               StringField(*answer, "name").c_str(), StringField(*answer, "scope").c_str());
  std::printf("%s\n", StringField(*answer, "token").c_str());
  return 0;
}

std::string Ago(const std::string& rfc3339) {
  int64_t t = ParseTimestamp(rfc3339);
  return t ? HumanDuration(NowUnixMs() - t) + " ago" : "never";
}

int List(DaemonClient& client, const Options& o) {
  auto answer = client.Get("/tokens");
  if (!answer.ok()) return Fail(answer.status());
  if (o.format == "json") {
    PrintJson(*answer);
    return 0;
  }
  Table table({"NAME", "SCOPE", "CREATED", "LAST USED"});
  for (const Json& t : *answer) {
    table.Add({StringField(t, "name"), StringField(t, "scope"), Ago(StringField(t, "created_at")),
               Ago(StringField(t, "last_used_at"))});
  }
  table.Print();
  return 0;
}

int Remove(DaemonClient& client, const Options& o) {
  auto answer = client.Delete("/tokens/" + Escape(o.name));
  if (!answer.ok()) return Fail(answer.status());
  std::printf("Revoked token %s\n", o.name.c_str());
  return 0;
}

}  // namespace

void AddTokenCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* token = app.add_subcommand("token", "Access tokens for the dashboard and read-only clients");
  token->require_subcommand(1);

  CLI::App* create = token->add_subcommand("create", "Make an access token and print it (this once)");
  create->add_option("NAME", o->name, "Its name, [A-Za-z0-9][A-Za-z0-9._-]{0,63}")->required();
  create
      ->add_option("--scope", o->scope,
                   "read (GET runs, logs, tests) or operate (also cancel, re-run, promote)")
      ->check(CLI::IsMember({"read", "operate"}))
      ->capture_default_str();
  AddFormatOption(create, o->format);
  verbs.push_back({create, [o](DaemonClient& c) { return Create(c, *o); }});

  CLI::App* ls = token->add_subcommand("ls", "List access tokens: name, scope, created, last used");
  AddFormatOption(ls, o->format);
  verbs.push_back({ls, [o](DaemonClient& c) { return List(c, *o); }});

  CLI::App* rm = token->add_subcommand("rm", "Revoke an access token (at once, open streams too)");
  rm->add_option("NAME", o->name, "The token's name")->required();
  verbs.push_back({rm, [o](DaemonClient& c) { return Remove(c, *o); }});
}

}  // namespace slipway::cli

#include "service/cli/repo_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "engine/base/fd.h"
#include "engine/base/time.h"
#include "service/cli/format.h"

namespace slipway::cli {

namespace {

// Larger than anything slipwayd takes (max_body_bytes, 1 MiB by default), so
// that the daemon, not the CLI, says what is too large.
constexpr size_t kMaxInputBytes = (size_t{1} << 20) + 1;

Result<std::string> ReadAllFd(int fd, const std::string& what) {
  std::string text;
  char buf[65536];
  while (text.size() < kMaxInputBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + what);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  if (text.size() >= kMaxInputBytes) return InvalidArgument(what + " is larger than 1 MiB");
  return text;
}

Result<std::string> ReadFileText(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  return ReadAllFd(fd.get(), path);
}

std::string RepoPath(const std::string& name) {
  return "/repos/" + Escape(name);
}

std::string Ago(const Json& object, const char* key) {
  int64_t t = ParseTimestamp(StringField(object, key));
  return t ? HumanDuration(NowUnixMs() - t) + " ago" : "N/A";
}

// "10m, 512MiB, 1 CPU, 256 pids" or "none".
std::string LimitsText(const Json& limits) {
  std::string text;
  auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  if (int64_t ms = IntField(limits, "timeout_ms")) add("timeout " + std::to_string(ms / 1000) + "s");
  if (int64_t b = IntField(limits, "memory_bytes")) add("memory " + HumanBytes(b));
  if (int64_t m = IntField(limits, "millicpus")) {
    char cpus[32];
    std::snprintf(cpus, sizeof cpus, "%g", static_cast<double>(m) / 1000);
    add(std::string(cpus) + " CPUs");
  }
  if (int64_t p = IntField(limits, "pids")) add(std::to_string(p) + " pids");
  return text.empty() ? "none" : text;
}

struct AddOptions {
  std::string name, url, branch_filter, credential_file;
  // The forge's side (docs/webhooks.md).
  std::string forge, full_name, secret, status_api, status_token_file, project_id;
  bool no_cancel_superseded = false;
};

int Add(DaemonClient& client, const AddOptions& o) {
  Json body = {{"name", o.name}, {"url", o.url}};
  if (!o.branch_filter.empty()) body["branch_filter"] = o.branch_filter;
  if (!o.credential_file.empty()) {
    auto text = ReadFileText(o.credential_file);
    if (!text.ok()) return Fail(text.status());
    body["credential"] = *text;  // parsed by slipwayd
  }
  if (!o.forge.empty()) body["forge"] = o.forge;
  if (!o.full_name.empty()) body["full_name"] = o.full_name;
  if (!o.secret.empty()) body["webhook_secret"] = o.secret;
  if (!o.status_api.empty()) body["status_api"] = o.status_api;
  if (!o.project_id.empty()) body["project_id"] = o.project_id;
  if (o.no_cancel_superseded) body["cancel_superseded"] = false;
  if (!o.status_token_file.empty()) {
    auto text = ReadFileText(o.status_token_file);
    if (!text.ok()) return Fail(text.status());
    std::string token = *text;
    // A token file written with `echo` ends with a line break that is no
    // part of the token.
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    body["status_token"] = std::move(token);
  }
  auto repo = client.Post("/repos", body);
  if (!repo.ok()) return Fail(repo.status());
  std::printf("%s\n", StringField(*repo, "name").c_str());
  if (std::string url = StringField(*repo, "webhook_url"); !url.empty()) {
    // On stderr: stdout stays the name alone, for scripts.
    std::fprintf(stderr, "Webhook URL:    %s (content type application/json)\n", url.c_str());
    if (std::string made = StringField(*repo, "webhook_secret"); !made.empty()) {
      std::fprintf(stderr, "Webhook secret: %s\n", made.c_str());
      std::fprintf(stderr, "  (shown this once: paste it into the forge's webhook settings now)\n");
    }
  }
  return 0;
}

int List(DaemonClient& client, const std::string& format, bool quiet) {
  auto answer = client.Get("/repos");
  if (!answer.ok()) return Fail(answer.status());
  const Json& repos = Field(*answer, "repos");
  if (format == "json") {
    PrintJson(repos.is_array() ? repos : Json::array());
    return 0;
  }
  if (quiet) {
    for (const Json& repo : repos) std::printf("%s\n", StringField(repo, "name").c_str());
    return 0;
  }
  Table table({"NAME", "URL", "BRANCH FILTER", "CREDENTIAL", "CREATED"});
  for (const Json& repo : repos) {
    std::string filter = StringField(repo, "branch_filter");
    table.Add({StringField(repo, "name"), StringField(repo, "url"), filter.empty() ? "*" : filter,
               StringField(repo, "credential", "none"), Ago(repo, "created_at")});
  }
  table.Print();
  return 0;
}

int Show(DaemonClient& client, const std::string& name, const std::string& format) {
  auto repo = client.Get(RepoPath(name));
  if (!repo.ok()) return Fail(repo.status());
  auto secrets = client.Get(RepoPath(name) + "/secrets");
  if (!secrets.ok()) return Fail(secrets.status());
  if (format == "json") {
    Json all = *repo;
    all["secrets"] = Field(*secrets, "secrets");
    PrintJson(all);
    return 0;
  }
  std::string filter = StringField(*repo, "branch_filter");
  std::string names;
  for (const std::string& key : StringsField(*secrets, "secrets")) names += (names.empty() ? "" : ", ") + key;
  std::printf("Name:           %s\n", StringField(*repo, "name").c_str());
  std::printf("URL:            %s\n", StringField(*repo, "url").c_str());
  std::printf("Branch filter:  %s\n", filter.empty() ? "* (every branch)" : filter.c_str());
  std::printf("Credential:     %s\n", StringField(*repo, "credential", "none").c_str());
  std::printf("Step defaults:  %s\n", LimitsText(Field(*repo, "defaults")).c_str());
  std::printf("Secrets:        %s\n", names.empty() ? "none" : names.c_str());
  if (std::string forge = StringField(*repo, "forge"); !forge.empty()) {
    std::string full_name = StringField(*repo, "full_name");
    std::printf("Forge:          %s%s\n", forge.c_str(), full_name.empty() ? "" : (" " + full_name).c_str());
    std::printf("Webhook URL:    %s\n", StringField(*repo, "webhook_url").c_str());
    std::string status_api = StringField(*repo, "status_api");
    std::printf("Status API:     %s\n",
                status_api.empty() ? "none (no commit statuses)" : status_api.c_str());
  }
  std::printf("Created:        %s\n", Ago(*repo, "created_at").c_str());
  return 0;
}

int Remove(DaemonClient& client, const std::vector<std::string>& names) {
  return ForEachName(names, [&](const std::string& name) -> Status {
    SLIPWAY_RETURN_IF_ERROR(client.Delete(RepoPath(name)).status());
    std::printf("%s\n", name.c_str());
    return Status::Ok();
  });
}

// The value comes from stdin, so that it is in no command line (ps, shell
// history); one trailing newline, which `echo` and a terminal add, is not
// part of it.
int SetSecret(DaemonClient& client, const std::string& repo, const std::string& key) {
  auto value = ReadAllFd(STDIN_FILENO, "the secret's value (stdin)");
  if (!value.ok()) return Fail(value.status());
  if (!value->empty() && value->back() == '\n') value->pop_back();
  auto put = client.PutBytes(RepoPath(repo) + "/secrets/" + Escape(key), std::move(*value));
  if (!put.ok()) return Fail(put.status());
  std::printf("%s\n", key.c_str());
  return 0;
}

int ListSecrets(DaemonClient& client, const std::string& repo, const std::string& format) {
  auto answer = client.Get(RepoPath(repo) + "/secrets");
  if (!answer.ok()) return Fail(answer.status());
  if (format == "json") {
    PrintJson(Field(*answer, "secrets"));
    return 0;
  }
  for (const std::string& key : StringsField(*answer, "secrets")) std::printf("%s\n", key.c_str());
  return 0;
}

int RemoveSecret(DaemonClient& client, const std::string& repo, const std::vector<std::string>& keys) {
  return ForEachName(keys, [&](const std::string& key) -> Status {
    SLIPWAY_RETURN_IF_ERROR(client.Delete(RepoPath(repo) + "/secrets/" + Escape(key)).status());
    std::printf("%s\n", key.c_str());
    return Status::Ok();
  });
}

struct Options {
  AddOptions add;
  std::string name, key, format;
  std::vector<std::string> names;
  bool quiet = false;
};

}  // namespace

void AddRepoCommands(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* repo = app.add_subcommand("repo", "Repositories whose pipelines slipwayd runs");
  repo->require_subcommand(1);

  CLI::App* add = repo->add_subcommand("add", "Register a repository");
  add->add_option("NAME", o->add.name, "Its name: letters, digits, '.', '_', '-'")->required();
  add->add_option("--url", o->add.url, "file://, git://, http(s)://, ssh:// or user@host:path")->required();
  add->add_option("--branch-filter", o->add.branch_filter,
                  "Only branches matching this glob run (default all)");
  add->add_option("--credential", o->add.credential_file,
                  "A credential file (token, username/password or ssh_key + known_hosts; docs/pipelines.md)");
  add->add_option("--forge", o->add.forge, "The forge it lives on, for webhooks: github, gitea or gitlab")
      ->check(CLI::IsMember({"github", "gitea", "gitlab"}));
  add->add_option("--full-name", o->add.full_name,
                  "Its name on the forge (OWNER/REPO; GitLab: the project's path), as deliveries give it");
  add->add_option("--secret", o->add.secret,
                  "The webhook secret (default: a new one, printed once); prefer the generated one, "
                  "a command line is visible to other users");
  add->add_option("--status-api", o->add.status_api,
                  "The forge's API base for commit statuses (https://api.github.com, "
                  "https://gitea.example/api/v1, https://gitlab.example/api/v4)");
  add->add_option("--status-token-file", o->add.status_token_file,
                  "A file holding the token that may set commit statuses");
  add->add_option("--project-id", o->add.project_id, "GitLab: the project's id, for its status API");
  add->add_flag("--no-cancel-superseded", o->add.no_cancel_superseded,
                "Keep older runs of a branch (or pull request) running when a newer push comes");
  verbs.push_back({add, [o](DaemonClient& c) { return Add(c, o->add); }});

  CLI::App* ls = repo->add_subcommand("ls", "List repositories");
  ls->add_flag("-q,--quiet", o->quiet, "Only names");
  AddFormatOption(ls, o->format);
  verbs.push_back({ls, [o](DaemonClient& c) { return List(c, o->format, o->quiet); }});

  CLI::App* show = repo->add_subcommand("show", "Show a repository and the names of its secrets");
  show->add_option("NAME", o->name, "The repository")->required();
  AddFormatOption(show, o->format);
  verbs.push_back({show, [o](DaemonClient& c) { return Show(c, o->name, o->format); }});

  CLI::App* rm = repo->add_subcommand("rm", "Remove repositories with their secrets and runs");
  rm->add_option("NAME", o->names, "The repositories")->required();
  verbs.push_back({rm, [o](DaemonClient& c) { return Remove(c, o->names); }});

  CLI::App* secret = repo->add_subcommand("secret", "A repository's secrets (values are never shown)");
  secret->require_subcommand(1);
  CLI::App* set = secret->add_subcommand("set", "Set a secret; its value is read from stdin");
  set->add_option("NAME", o->name, "The repository")->required();
  set->add_option("KEY", o->key, "The secret's name: [A-Za-z_][A-Za-z0-9_]*")->required();
  verbs.push_back({set, [o](DaemonClient& c) { return SetSecret(c, o->name, o->key); }});
  CLI::App* secret_ls = secret->add_subcommand("ls", "List the names of a repository's secrets");
  secret_ls->add_option("NAME", o->name, "The repository")->required();
  AddFormatOption(secret_ls, o->format);
  verbs.push_back({secret_ls, [o](DaemonClient& c) { return ListSecrets(c, o->name, o->format); }});
  CLI::App* secret_rm = secret->add_subcommand("rm", "Remove secrets");
  secret_rm->add_option("NAME", o->name, "The repository")->required();
  secret_rm->add_option("KEY", o->names, "The secrets' names")->required();
  verbs.push_back({secret_rm, [o](DaemonClient& c) { return RemoveSecret(c, o->name, o->names); }});
}

}  // namespace slipway::cli

// RepoRegistry: registering repositories and keeping their credentials and
// secrets, sealed with the SecretBox. What the API's /api/v1/repos does, and
// what a run asks for when it fetches and starts its steps.
//
// Plaintext credentials and secret values pass through here on their way in
// (sealed before they reach the store) and on their way to libgit2 or a
// step's environment; they never appear in an error, a log event or a JSON
// answer.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/git_mirror.h"
#include "pipelines/run_record.h"
#include "pipelines/run_store.h"
#include "pipelines/secret_box.h"

namespace slipway::pipelines {

// A credential as a client gives it (API body or `--credential FILE`).
struct Credential {
  std::string kind;  // "token", "basic" or "ssh"; "" for none
  std::string username;    // basic (token: optional)
  std::string password;    // token or basic password
  std::string ssh_key;     // ssh: the private key, PEM/OpenSSH text
  std::string ssh_known_hosts;  // ssh: known_hosts lines for the host
  std::string ssh_passphrase;
};

// `--credential FILE`'s format (docs/pipelines.md): "token: ...",
// "username: ...", "password: ...", "ssh_key: |" ..., "known_hosts: |" ...
// (YAML). kInvalidArgument naming the key, never the value.
Result<Credential> ParseCredentialFile(const std::string& text);

class RepoRegistry {
 public:
  // `store` and `box` outlive the registry. `ssh_dir`: where ssh keys are
  // written for libgit2 (root-only, 0700; a key file exists only while a
  // fetch needs it).
  RepoRegistry(RunStore& store, const SecretBox& box, std::string ssh_dir);

  // Checks the name, URL (ParseGitUrl: a password in it is refused), branch
  // filter and credential (a kind the URL's scheme can use), seals the
  // credential, stores the repository. kAlreadyExists for a used name.
  Result<Repository> Add(Repository repo, const Credential& credential);
  // The same, with the forge's side (docs/webhooks.md): `repo.forge`,
  // `full_name`, `status_api`, `project_id`, `cancel_superseded` as given;
  // `webhook_secret` sealed (empty: a new one is made and returned in
  // `*made_secret`, to be shown once); `status_token` sealed if given.
  // Checked (docs/pipelines.md, "Repositories"): forge "", github, gitea or
  // gitlab, and without one none of the other forge fields nor a secret or
  // token; full_name owner/repo; status_api http(s) without userinfo;
  // project_id GitLab's digits; a token needs status_api. The secret is
  // made (32 bytes of getrandom(2), hex) only with a forge; the Add above
  // passes none and makes none for a repository without a forge. Errors
  // never hold the secret or the token.
  Result<Repository> Add(Repository repo, const Credential& credential, const std::string& webhook_secret,
                         const std::string& status_token, std::string* made_secret);
  // The plaintext webhook secret / status token of `repo` (kNotFound if it
  // has none). For verification and the status call only: never shown.
  Result<std::string> WebhookSecret(const Repository& repo) const;
  Result<std::string> StatusToken(const Repository& repo) const;
  // The repository a delivery is for: the one registered for `forge` whose
  // full_name equals `full_name` (ignoring case) or whose url is one of
  // `clone_urls` (compared without userinfo, a trailing ".git" or "/",
  // with scheme and host in lowercase and scp-like "host:path" as
  // "ssh://host/path"). The first by name if several are. kNotFound if none;
  // the message does not repeat the delivery's names.
  Result<Repository> Match(const std::string& forge, const std::string& full_name,
                           const std::vector<std::string>& clone_urls) const;
  Result<Repository> Get(const std::string& name) const;
  Result<std::vector<Repository>> List() const;
  Status Remove(const std::string& name);

  // KEY: [A-Za-z_][A-Za-z0-9_]*, not CI or SLIPWAY_*; the value at most 64 KiB.
  Status SetSecret(const std::string& repo, const std::string& key, const std::string& value);
  Result<std::vector<std::string>> SecretNames(const std::string& repo) const;
  Status RemoveSecret(const std::string& repo, const std::string& key);
  // The values of `keys` (a step's `secrets:`); kNotFound naming the first
  // key the repository does not have.
  Result<std::map<std::string, std::string>> SecretValues(const std::string& repo,
                                                          const std::vector<std::string>& keys) const;

  // What a fetch of `repo` passes to GitMirror. For ssh, the key is written to
  // a 0600 file under ssh_dir that is removed when `files` goes.
  class FetchAuth {
   public:
    GitCredentials credentials;
    ~FetchAuth();  // removes the key files
    FetchAuth() = default;
    FetchAuth(FetchAuth&&) noexcept;
    FetchAuth& operator=(FetchAuth&&) = delete;
    std::vector<std::string> files;
  };
  Result<FetchAuth> FetchCredentials(const Repository& repo) const;

 private:
  RunStore& store_;
  const SecretBox& box_;
  std::string ssh_dir_;
};

}  // namespace slipway::pipelines

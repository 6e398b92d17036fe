#include "pipelines/repo_registry.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/time.h"
#include "pipelines/git_url.h"
#include "pipelines/when.h"
#include "pipelines/yaml_tree.h"

namespace slipway::pipelines {

namespace {

constexpr size_t kMaxNameLength = 100;
constexpr size_t kMaxBranchFilterLength = 255;
constexpr size_t kMaxSecretKeyLength = 128;
constexpr size_t kMaxSecretValueBytes = 64 * 1024;
// Each credential field (an ssh key is a few KiB; known_hosts a few lines).
constexpr size_t kMaxCredentialFieldBytes = 64 * 1024;

// The keys of a credential file (docs/pipelines.md).
constexpr const char* kCredentialKeys[] = {"token",   "username",    "password",
                                           "ssh_key", "known_hosts", "passphrase"};

constexpr YamlLimits kCredentialFileLimits{
    .max_bytes = 256 * 1024,
    .max_depth = 4,
    .max_nodes = 64,
    .max_copied_bytes = 256 * 1024,
};

// Overwrites plaintext a string held before it is freed (best effort: copies
// made by the libraries on the way are out of reach).
void Wipe(std::string& s) {
  ::explicit_bzero(s.data(), s.size());
  s.clear();
}

// Where each sealed value belongs: authenticated with it, so that a sealed
// value copied to another repository or key fails to open.
std::string CredentialPlace(const std::string& repo) {
  return "repo/" + repo + "/credential";
}
std::string SecretPlace(const std::string& repo, const std::string& key) {
  return "repo/" + repo + "/secret/" + key;
}
std::string WebhookPlace(const std::string& repo) {
  return "repo/" + repo + "/webhook";
}
std::string StatusTokenPlace(const std::string& repo) {
  return "repo/" + repo + "/status-token";
}

// The forges a webhook may come from (webhooks/forge_event.h names them).
constexpr const char* kForges[] = {"github", "gitea", "gitlab"};
constexpr size_t kMaxFullNameLength = 255;
constexpr size_t kMaxStatusApiLength = 2048;
constexpr size_t kMaxProjectIdLength = 20;
// A webhook secret is pasted into the forge's form; a status token into an
// Authorization header. Both bounded, neither ever repeated.
constexpr size_t kMaxWebhookSecretBytes = 1024;
constexpr size_t kMaxStatusTokenBytes = 4096;
// Bytes of randomness in a secret made for the user (hex: twice as long).
constexpr size_t kMadeSecretBytes = 32;

std::string RepoName(const std::string& name) {
  return "repository " + name;
}

// Client input in a message: quoted and cut (Quote), or not repeated at all
// if it holds control characters, which would break the line a log or a
// terminal shows.
std::string Shown(const std::string& text) {
  return HasControlChar(text) ? "(with control characters)" : Quote(text);
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status CheckName(const std::string& name) {
  if (name.empty()) return InvalidArgument("repository name is empty");
  bool ok = name.size() <= kMaxNameLength && IsAlnum(name[0]);
  for (char c : name) ok = ok && (IsAlnum(c) || c == '.' || c == '_' || c == '-');
  if (!ok) {
    return InvalidArgument("repository name " + Shown(name) + " is not 1 to 100 of A-Z a-z 0-9 . _ - " +
                           "starting with a letter or digit");
  }
  return Status::Ok();
}

// A glob as GlobMatches takes it, bounded, and without what fnmatch(3)
// would take in a way nobody means (GlobProblem).
Status CheckBranchFilter(const std::string& glob) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("branch filter " + Shown(glob) + ": " + why);
  };
  if (glob.size() > kMaxBranchFilterLength) return bad("longer than 255 bytes");
  if (HasControlChar(glob)) return bad("control character");
  if (std::string why = GlobProblem(glob); !why.empty()) return bad(why);
  return Status::Ok();
}

Status CheckLimits(const StepLimits& l) {
  if (l.timeout_ms < 0 || l.memory_bytes < 0 || l.millicpus < 0 || l.pids < 0) {
    return InvalidArgument("default limits must not be negative");
  }
  return Status::Ok();
}

// Checks a credential against the URL's scheme. Messages name fields, never
// their values.
Status CheckCredential(const GitUrl& url, const Credential& c) {
  for (const auto& [field, value] : {std::pair<const char*, const std::string&>{"username", c.username},
                                     {"password", c.password},
                                     {"ssh_key", c.ssh_key},
                                     {"known_hosts", c.ssh_known_hosts},
                                     {"passphrase", c.ssh_passphrase}}) {
    if (value.size() > kMaxCredentialFieldBytes) {
      return InvalidArgument(std::string("credential: ") + field + " is longer than 64 KiB");
    }
    if (value.find('\0') != std::string::npos) {
      return InvalidArgument(std::string("credential: ") + field + " holds a NUL byte");
    }
    // It is sealed as JSON (EncodeCredential), which holds UTF-8 only.
    try {
      (void)nlohmann::json(value).dump();
    } catch (const nlohmann::json::exception&) {  // its message would show the bad byte
      return InvalidArgument(std::string("credential: ") + field + " is not valid UTF-8");
    }
  }
  bool http = url.scheme == "http" || url.scheme == "https";
  bool ssh_fields = !c.ssh_key.empty() || !c.ssh_known_hosts.empty() || !c.ssh_passphrase.empty();
  if (c.kind.empty()) {
    if (!c.username.empty() || !c.password.empty() || ssh_fields) {
      return InvalidArgument("credential: fields given without a kind (token, basic or ssh)");
    }
    return Status::Ok();
  }
  if (c.kind == "token" || c.kind == "basic") {
    if (!http) {
      return InvalidArgument("credential: a " + c.kind + " credential needs an http or https URL, not " +
                             url.scheme + (url.scheme == "ssh" ? " (use an ssh key)" : ""));
    }
    if (ssh_fields) return InvalidArgument("credential: a " + c.kind + " credential takes no ssh fields");
    if (c.password.empty()) {
      return InvalidArgument(c.kind == "token" ? "credential: the token is empty"
                                               : "credential: password is empty");
    }
    if (c.kind == "basic" && c.username.empty()) return InvalidArgument("credential: username is empty");
    // Sent in an Authorization header: no line breaks, and no ':' in the
    // user name (it ends the name in basic auth).
    if (HasControlChar(c.username) || HasControlChar(c.password)) {
      return InvalidArgument("credential: username or password holds a control character");
    }
    if (c.username.find(':') != std::string::npos) return InvalidArgument("credential: username holds ':'");
    return Status::Ok();
  }
  if (c.kind == "ssh") {
    if (url.scheme != "ssh") {
      return InvalidArgument("credential: an ssh credential needs an ssh URL, not " + url.scheme);
    }
    if (!c.username.empty() || !c.password.empty()) {
      return InvalidArgument(
          "credential: an ssh credential takes no username or password (the user is in the URL)");
    }
    if (c.ssh_key.find("-----BEGIN ") == std::string::npos ||
        c.ssh_key.find("PRIVATE KEY-----") == std::string::npos) {
      return InvalidArgument("credential: ssh_key is not a PEM or OpenSSH private key");
    }
    // git_mirror.h: ssh is refused without a known_hosts to check the host.
    if (c.ssh_known_hosts.empty()) {
      return InvalidArgument("credential: an ssh credential needs known_hosts (the server's host key)");
    }
    return Status::Ok();
  }
  return InvalidArgument("credential: unknown kind " + Shown(c.kind) + " (token, basic or ssh)");
}

Status CheckSecretKey(const std::string& key) {
  bool ok = !key.empty() && key.size() <= kMaxSecretKeyLength && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key) ok = ok && (IsAlnum(c) || c == '_');
  if (!ok) {
    return InvalidArgument("secret name " + Shown(key) + " is not [A-Za-z_][A-Za-z0-9_]* (at most 128)");
  }
  // Slipway sets these in every step; a secret must not replace them.
  if (key == "CI" || key.starts_with("SLIPWAY_")) {
    return InvalidArgument("secret name " + key + " is reserved (CI, SLIPWAY_*)");
  }
  return Status::Ok();
}

// "owner/repo", "group/sub/repo" as forges name repositories: path segments
// of [A-Za-z0-9._-], none empty, "." or "..".
Status CheckFullName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxFullNameLength;
  size_t start = 0;
  while (ok) {
    size_t end = name.find('/', start);
    std::string segment = name.substr(start, end == std::string::npos ? std::string::npos : end - start);
    ok = !segment.empty() && segment != "." && segment != "..";
    for (char c : segment) ok = ok && (IsAlnum(c) || c == '.' || c == '_' || c == '-');
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!ok) {
    return InvalidArgument("full name " + Shown(name) +
                           " is not the forge's owner/repo (segments of A-Z a-z 0-9 . _ -, at most 255)");
  }
  return Status::Ok();
}

// The forge's API base: an http(s) URL without userinfo (the token goes in
// a header), query or fragment. The message shows it without userinfo.
Status CheckStatusApi(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("status API " + Shown(StripUserinfo(url)) + ": " + why);
  };
  if (url.size() > kMaxStatusApiLength) return bad("longer than 2048 bytes");
  if (HasControlChar(url) || url.find(' ') != std::string::npos) return bad("control character or space");
  std::string lower = Lower(url);
  size_t host = lower.starts_with("https://") ? 8 : lower.starts_with("http://") ? 7 : 0;
  if (host == 0) return bad("not an http:// or https:// URL");
  size_t host_end = url.find('/', host);
  std::string authority =
      url.substr(host, host_end == std::string::npos ? std::string::npos : host_end - host);
  if (authority.find('@') != std::string::npos) {
    return bad("holds a user name or password: give the token with the status token instead");
  }
  if (authority.empty() || authority.front() == ':') return bad("no host");
  if (url.find_first_of("?#") != std::string::npos) return bad("holds a query or fragment");
  return Status::Ok();
}

// A secret or token as given: its rules named, its value never.
Status CheckSecretText(const std::string& value, size_t max, const char* what) {
  if (value.size() > max) {
    return InvalidArgument(std::string(what) + " is longer than " + std::to_string(max) + " bytes");
  }
  if (HasControlChar(value)) {
    return InvalidArgument(std::string(what) + " holds a control character");
  }
  return Status::Ok();
}

// The forge's side of a repository, checked together: everything but
// cancel_superseded needs a forge.
Status CheckForge(const Repository& repo, const std::string& webhook_secret,
                  const std::string& status_token) {
  bool known = repo.forge.empty();
  for (const char* forge : kForges) known = known || repo.forge == forge;
  if (!known) return InvalidArgument("forge " + Shown(repo.forge) + " is not github, gitea or gitlab");
  if (repo.forge.empty()) {
    if (!repo.full_name.empty() || !repo.status_api.empty() || !repo.project_id.empty() ||
        !webhook_secret.empty() || !status_token.empty()) {
      return InvalidArgument(
          "full name, status API, project id, webhook secret and status token need a forge (github, gitea or "
          "gitlab)");
    }
    return Status::Ok();
  }
  if (!repo.full_name.empty()) SLIPWAY_RETURN_IF_ERROR(CheckFullName(repo.full_name));
  if (!repo.status_api.empty()) SLIPWAY_RETURN_IF_ERROR(CheckStatusApi(repo.status_api));
  if (!repo.project_id.empty()) {
    bool digits = repo.project_id.size() <= kMaxProjectIdLength &&
                  repo.project_id.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      return InvalidArgument("project id " + Shown(repo.project_id) + " is not GitLab's numeric id");
    if (repo.forge != "gitlab")
      return InvalidArgument("a project id is GitLab's: the forge is " + repo.forge);
  }
  SLIPWAY_RETURN_IF_ERROR(CheckSecretText(webhook_secret, kMaxWebhookSecretBytes, "the webhook secret"));
  SLIPWAY_RETURN_IF_ERROR(CheckSecretText(status_token, kMaxStatusTokenBytes, "the status token"));
  if (!status_token.empty() && repo.status_api.empty()) {
    return InvalidArgument("a status token needs the status API (the forge's API base URL)");
  }
  if (repo.forge == "gitlab" && !repo.status_api.empty() && repo.project_id.empty()) {
    return InvalidArgument("GitLab's status API needs the project id");
  }
  return Status::Ok();
}

// A clone URL in the form two spellings of one repository share: no
// userinfo, scheme and host in lowercase, scp-like "host:path" as
// "ssh://host/path", without trailing "/" and ".git".
std::string NormalizeCloneUrl(const std::string& url) {
  std::string u = StripUserinfo(url);
  size_t scheme_end = u.find("://");
  if (scheme_end == std::string::npos) {
    size_t colon = u.find(':');
    if (colon != std::string::npos && u.find('/') > colon) {
      std::string path = u.substr(colon + 1);
      u = "ssh://" + u.substr(0, colon) + (path.starts_with("/") ? "" : "/") + path;
      scheme_end = 3;
    }
  }
  if (scheme_end != std::string::npos) {
    size_t host_end = u.find('/', scheme_end + 3);
    if (host_end == std::string::npos) host_end = u.size();
    u = Lower(u.substr(0, host_end)) + u.substr(host_end);
  }
  while (u.ends_with("/")) u.pop_back();
  if (u.ends_with(".git")) u.resize(u.size() - 4);
  while (u.ends_with("/")) u.pop_back();
  return u;
}

// Seals `plain` for `place` into `*out`; the error names what, not the value.
Status SealInto(const SecretBox& box, const std::string& plain, const std::string& place,
                const std::string& what, std::string* out) {
  auto sealed = box.Seal(plain, place);
  if (!sealed.ok()) return sealed.status().Wrap(what);
  *out = std::move(sealed).value();
  return Status::Ok();
}

// The credential's fields as sealed: JSON, the kind kept beside it in clear.
std::string EncodeCredential(const Credential& c) {
  nlohmann::json j;
  j["username"] = c.username;
  j["password"] = c.password;
  j["ssh_key"] = c.ssh_key;
  j["known_hosts"] = c.ssh_known_hosts;
  j["passphrase"] = c.ssh_passphrase;
  return j.dump();
}

Result<Credential> DecodeCredential(const std::string& kind, const std::string& json) {
  try {
    auto j = nlohmann::json::parse(json);
    Credential c;
    c.kind = kind;
    c.username = j.at("username").get<std::string>();
    c.password = j.at("password").get<std::string>();
    c.ssh_key = j.at("ssh_key").get<std::string>();
    c.ssh_known_hosts = j.at("known_hosts").get<std::string>();
    c.ssh_passphrase = j.at("passphrase").get<std::string>();
    return c;
  } catch (const nlohmann::json::exception&) {
    // Not e.what(): it could quote the plaintext.
    return Internal("the opened credential is not in the expected form");
  }
}

// ssh_dir, created 0700 if missing, and refused unless it is a directory
// (not a symlink) of ours that nobody else can enter: the key files in it
// are only 0600, and a directory others could write to would let them
// swap a file between its creation and libgit2 reading it.
Result<UniqueFd> OpenSshDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + dir);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + dir);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + dir);
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return FailedPrecondition("ssh key directory " + dir + " must be owned by uid " +
                              std::to_string(::geteuid()) + " and mode 0700");
  }
  return fd;
}

// Writes `data` to a new 0600 file with a random name under `dir`; returns
// its path. O_EXCL | O_NOFOLLOW: never an existing file, never through a link.
Result<std::string> WriteKeyFile(int dir_fd, const std::string& dir, const std::string& prefix,
                                 const std::string& data) {
  std::string name = prefix + "-" + RandomHex(16);
  std::string path = dir + "/" + name;
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("create " + path);
  Status st = WriteAll(fd.get(), data, path);
  if (!st.ok()) {
    ::unlinkat(dir_fd, name.c_str(), 0);
    return st;
  }
  return path;
}

}  // namespace

Result<Credential> ParseCredentialFile(const std::string& text) {
  std::vector<FileError> errors;
  auto root = LoadYaml(text, kCredentialFileLimits, &errors);
  if (!errors.empty()) {
    // The reader quotes parts of the file in some messages (a tag, a
    // duplicate key); in this file any of them could be a pasted secret.
    const FileError& e = errors.front();
    std::string message = e.message;
    bool known_duplicate = false;
    for (const char* key : kCredentialKeys) {
      known_duplicate = known_duplicate || message.starts_with("duplicate key \"" + std::string(key) + "\"");
    }
    if (message.find('"') != std::string::npos && !known_duplicate)
      message = "not a valid credential file here";
    return InvalidArgument("credential file: line " + std::to_string(e.at.line) + ", column " +
                           std::to_string(e.at.column) + ": " + message);
  }
  if (!root || root->kind != YamlNode::Kind::kMapping) {
    return InvalidArgument(
        "credential file: not a mapping of token, username, password, ssh_key, known_hosts, "
        "passphrase");
  }
  Credential c;
  std::string token;
  const std::pair<const char*, std::string*> kFields[] = {
      {"token", &token},       {"username", &c.username},           {"password", &c.password},
      {"ssh_key", &c.ssh_key}, {"known_hosts", &c.ssh_known_hosts}, {"passphrase", &c.ssh_passphrase},
  };
  for (const auto& [key, value] : root->entries) {
    std::string* out = nullptr;
    for (const auto& [name, field] : kFields) {
      if (key.text == name) out = field;
    }
    if (out == nullptr) {
      // Named only if it looks like a key: a token pasted as a key is not repeated.
      bool word = !key.text.empty() && key.text.size() <= 32 &&
                  key.text.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos;
      return InvalidArgument("credential file: line " + std::to_string(key.at.line) + ": unknown key " +
                             (word ? Quote(key.text) + " " : std::string()) +
                             "(token, username, password, ssh_key, known_hosts, passphrase)");
    }
    if (value.kind != YamlNode::Kind::kScalar || value.text.empty()) {
      return InvalidArgument("credential file: " + key.text + " must be a non-empty string, not " +
                             (value.kind == YamlNode::Kind::kScalar ? "empty" : KindName(value)));
    }
    *out = value.text;
  }
  // The kind follows from the keys given.
  if (!c.ssh_key.empty()) {
    if (!token.empty() || !c.password.empty() || !c.username.empty()) {
      return InvalidArgument("credential file: ssh_key goes with known_hosts and passphrase only");
    }
    c.kind = "ssh";
  } else if (!c.ssh_known_hosts.empty() || !c.ssh_passphrase.empty()) {
    return InvalidArgument("credential file: known_hosts and passphrase need ssh_key");
  } else if (!token.empty()) {
    if (!c.password.empty()) return InvalidArgument("credential file: token and password are exclusive");
    c.kind = "token";
    c.password = std::move(token);
  } else if (!c.password.empty()) {
    if (c.username.empty()) return InvalidArgument("credential file: password needs username");
    c.kind = "basic";
  } else {
    return InvalidArgument("credential file: no token, password or ssh_key");
  }
  Wipe(token);
  return c;
}

RepoRegistry::RepoRegistry(RunStore& store, const SecretBox& box, std::string ssh_dir)
    : store_(store), box_(box), ssh_dir_(std::move(ssh_dir)) {}

Result<Repository> RepoRegistry::Add(Repository repo, const Credential& credential) {
  return Add(std::move(repo), credential, "", "", nullptr);
}

Result<Repository> RepoRegistry::Add(Repository repo, const Credential& credential,
                                     const std::string& webhook_secret, const std::string& status_token,
                                     std::string* made_secret) {
  if (made_secret != nullptr) made_secret->clear();
  SLIPWAY_RETURN_IF_ERROR(CheckName(repo.name));
  SLIPWAY_ASSIGN_OR_RETURN(GitUrl url, ParseGitUrl(repo.url));
  if (!url.password.empty()) {
    // The message names the URL without its userinfo (display), never the password.
    return InvalidArgument("repository URL " + url.display +
                           " holds a password: give it as a credential (token or basic) instead");
  }
  SLIPWAY_RETURN_IF_ERROR(CheckBranchFilter(repo.branch_filter));
  SLIPWAY_RETURN_IF_ERROR(CheckLimits(repo.defaults));
  Status st = CheckCredential(url, credential);
  if (!st.ok()) return st.Wrap(RepoName(repo.name));
  st = CheckForge(repo, webhook_secret, status_token);
  if (!st.ok()) return st.Wrap(RepoName(repo.name));
  repo.webhook_secret_sealed.clear();
  repo.status_token_sealed.clear();
  if (!repo.forge.empty()) {
    // getrandom(2) (RandomHex): the kernel's CSPRNG, as OpenSSL's RAND_bytes
    // seeds from.
    std::string secret = webhook_secret.empty() ? RandomHex(kMadeSecretBytes) : webhook_secret;
    st = SealInto(box_, secret, WebhookPlace(repo.name), RepoName(repo.name) + ": seal the webhook secret",
                  &repo.webhook_secret_sealed);
    if (st.ok() && webhook_secret.empty() && made_secret != nullptr) *made_secret = secret;
    Wipe(secret);
    if (!st.ok()) return st;
  }
  if (!status_token.empty()) {
    SLIPWAY_RETURN_IF_ERROR(SealInto(box_, status_token, StatusTokenPlace(repo.name),
                                     RepoName(repo.name) + ": seal the status token",
                                     &repo.status_token_sealed));
  }
  repo.credential_kind = credential.kind;
  repo.credential_sealed.clear();
  if (!credential.kind.empty()) {
    std::string plain = EncodeCredential(credential);
    auto sealed = box_.Seal(plain, CredentialPlace(repo.name));
    Wipe(plain);
    if (!sealed.ok()) return sealed.status().Wrap(RepoName(repo.name) + ": seal the credential");
    repo.credential_sealed = std::move(sealed).value();
  }
  repo.created_unix_ms = NowUnixMs();
  SLIPWAY_RETURN_IF_ERROR(store_.AddRepository(repo));
  return repo;
}

Result<std::string> RepoRegistry::WebhookSecret(const Repository& repo) const {
  if (repo.webhook_secret_sealed.empty()) return NotFound(RepoName(repo.name) + " has no webhook secret");
  auto plain = box_.Open(repo.webhook_secret_sealed, WebhookPlace(repo.name));
  if (!plain.ok()) return plain.status().Wrap(RepoName(repo.name) + ": open the webhook secret");
  return plain;
}

Result<std::string> RepoRegistry::StatusToken(const Repository& repo) const {
  if (repo.status_token_sealed.empty()) return NotFound(RepoName(repo.name) + " has no status token");
  auto plain = box_.Open(repo.status_token_sealed, StatusTokenPlace(repo.name));
  if (!plain.ok()) return plain.status().Wrap(RepoName(repo.name) + ": open the status token");
  return plain;
}

Result<Repository> RepoRegistry::Match(const std::string& forge, const std::string& full_name,
                                       const std::vector<std::string>& clone_urls) const {
  std::vector<std::string> urls;
  for (const std::string& u : clone_urls) {
    if (!u.empty()) urls.push_back(NormalizeCloneUrl(u));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::vector<Repository> all, store_.ListRepositories());
  // By name: with two registrations of one forge repository, the first.
  for (Repository& repo : all) {
    if (forge.empty() || repo.forge != forge) continue;
    if (!full_name.empty() && !repo.full_name.empty() && Lower(repo.full_name) == Lower(full_name))
      return repo;
    std::string mine = NormalizeCloneUrl(repo.url);
    if (std::find(urls.begin(), urls.end(), mine) != urls.end()) return repo;
  }
  // The delivery's names are the sender's: not repeated.
  return NotFound("no repository registered for this " +
                  (forge.empty() ? std::string("forge") : Shown(forge)) + " repository");
}

// Every call naming a repository or a key checks the name first, so that no
// message repeats a name that could not exist (a newline from a URL path).
Result<Repository> RepoRegistry::Get(const std::string& name) const {
  SLIPWAY_RETURN_IF_ERROR(CheckName(name));
  return store_.GetRepository(name);
}

Result<std::vector<Repository>> RepoRegistry::List() const {
  return store_.ListRepositories();
}

Status RepoRegistry::Remove(const std::string& name) {
  SLIPWAY_RETURN_IF_ERROR(CheckName(name));
  return store_.RemoveRepository(name);
}

Status RepoRegistry::SetSecret(const std::string& repo, const std::string& key, const std::string& value) {
  SLIPWAY_RETURN_IF_ERROR(CheckName(repo));
  SLIPWAY_RETURN_IF_ERROR(CheckSecretKey(key));
  if (value.size() > kMaxSecretValueBytes) {
    return InvalidArgument(RepoName(repo) + ": secret " + key + ": the value is " +
                           std::to_string(value.size()) + " bytes, more than 64 KiB");
  }
  // It becomes an environment variable, which cannot hold a NUL.
  if (value.find('\0') != std::string::npos) {
    return InvalidArgument(RepoName(repo) + ": secret " + key + ": the value holds a NUL byte");
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string sealed, box_.Seal(value, SecretPlace(repo, key)));
  return store_.PutSecret(repo, key, sealed);
}

Result<std::vector<std::string>> RepoRegistry::SecretNames(const std::string& repo) const {
  SLIPWAY_RETURN_IF_ERROR(CheckName(repo));
  return store_.ListSecretNames(repo);
}

Status RepoRegistry::RemoveSecret(const std::string& repo, const std::string& key) {
  SLIPWAY_RETURN_IF_ERROR(CheckName(repo));
  SLIPWAY_RETURN_IF_ERROR(CheckSecretKey(key));
  return store_.RemoveSecret(repo, key);
}

Result<std::map<std::string, std::string>> RepoRegistry::SecretValues(
    const std::string& repo, const std::vector<std::string>& keys) const {
  SLIPWAY_RETURN_IF_ERROR(CheckName(repo));
  std::map<std::string, std::string> out;
  for (const std::string& key : keys) {
    if (out.count(key)) continue;
    SLIPWAY_RETURN_IF_ERROR(CheckSecretKey(key));
    auto sealed = store_.GetSecret(repo, key);
    if (!sealed.ok()) return sealed.status();  // kNotFound: "repository R: secret KEY: not found"
    auto value = box_.Open(*sealed, SecretPlace(repo, key));
    if (!value.ok()) return value.status().Wrap(RepoName(repo) + ": secret " + key);
    out.emplace(key, std::move(value).value());
  }
  return out;
}

RepoRegistry::FetchAuth::FetchAuth(FetchAuth&& other) noexcept
    : credentials(std::move(other.credentials)), files(std::move(other.files)) {
  other.files.clear();
}

RepoRegistry::FetchAuth::~FetchAuth() {
  for (const std::string& path : files) ::unlink(path.c_str());  // nothing to do if it failed
  Wipe(credentials.password);
  Wipe(credentials.ssh_key_passphrase);
}

Result<RepoRegistry::FetchAuth> RepoRegistry::FetchCredentials(const Repository& repo) const {
  FetchAuth auth;
  if (repo.credential_kind.empty()) return auth;
  auto plain = box_.Open(repo.credential_sealed, CredentialPlace(repo.name));
  if (!plain.ok()) return plain.status().Wrap(RepoName(repo.name) + ": open the credential");
  auto credential = DecodeCredential(repo.credential_kind, *plain);
  Wipe(*plain);
  if (!credential.ok()) return credential.status().Wrap(RepoName(repo.name));
  Credential& c = *credential;
  if (c.kind == "token" || c.kind == "basic") {
    auth.credentials.username = c.username;
    auth.credentials.password = c.password;
  } else if (c.kind == "ssh") {
    SLIPWAY_ASSIGN_OR_RETURN(UniqueFd dir, OpenSshDir(ssh_dir_));
    if (!c.ssh_key.ends_with('\n')) c.ssh_key += '\n';  // libssh2 wants the final line ended
    auto key = WriteKeyFile(dir.get(), ssh_dir_, "key", c.ssh_key);
    if (!key.ok()) return key.status().Wrap(RepoName(repo.name));
    auth.files.push_back(*key);  // from here on, `auth` removes it whatever happens
    auto known = WriteKeyFile(dir.get(), ssh_dir_, "known_hosts", c.ssh_known_hosts + "\n");
    if (!known.ok()) return known.status().Wrap(RepoName(repo.name));
    auth.files.push_back(*known);
    auth.credentials.ssh_key_path = *key;
    auth.credentials.ssh_known_hosts = *known;
    auth.credentials.ssh_key_passphrase = c.ssh_passphrase;
  } else {
    return Internal(RepoName(repo.name) + ": stored credential kind " + Quote(c.kind) + " is unknown");
  }
  Wipe(c.password);
  Wipe(c.ssh_key);
  Wipe(c.ssh_passphrase);
  return auth;
}

}  // namespace slipway::pipelines

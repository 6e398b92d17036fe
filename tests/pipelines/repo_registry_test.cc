// RepoRegistry over a real SqliteRunStore and SecretBox in a scratch
// directory: what it refuses (and that no refusal repeats a secret), that
// nothing secret reaches the database file in clear, that sealed values do
// not open anywhere but where they were sealed, and the ssh key files of a
// fetch.
#include "pipelines/repo_registry.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/base/ascii.h"
#include "engine/base/fs.h"
#include "pipelines/sqlite_run_store.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;

// Distinct plaintexts, each searched for where it must not be.
constexpr char kToken[] = "tok-PLAINTEXT-7c1e9a";
constexpr char kSecretValue[] = "sec-PLAINTEXT-42f0b3";
constexpr char kSshKey[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAA-KEYMATERIAL-91d2\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
constexpr char kWebhookSecret[] = "whs-PLAINTEXT-5d8e21";
constexpr char kStatusToken[] = "stt-PLAINTEXT-a0b4c6";
constexpr char kKnownHosts[] = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";

class RepoRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-repo-registry");
    db_path_ = dir_ + "/slipway.db";
    ssh_dir_ = dir_ + "/ssh";
    auto store = SqliteRunStore::Open(db_path_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto box = SecretBox::LoadOrCreate(dir_ + "/secrets.key");
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_.emplace(std::move(box).value());
    registry_ = std::make_unique<RepoRegistry>(*store_, *box_, ssh_dir_);
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  static Repository Repo(const std::string& name, const std::string& url) {
    Repository r;
    r.name = name;
    r.url = url;
    return r;
  }
  static Credential Token(const std::string& token = kToken) {
    return Credential{.kind = "token", .password = token};
  }
  static Credential Ssh() {
    return Credential{.kind = "ssh", .ssh_key = kSshKey, .ssh_known_hosts = kKnownHosts};
  }

  // The error of adding `repo` with `credential`, which must not hold any
  // of the plaintexts.
  Status AddError(const Repository& repo, const Credential& credential) {
    auto added = registry_->Add(repo, credential);
    EXPECT_FALSE(added.ok()) << repo.name << " " << repo.url << " was accepted";
    if (added.ok()) return Status::Ok();
    ExpectNoSecretIn(added.status().message());
    return added.status();
  }
  static void ExpectNoSecretIn(const std::string& text) {
    for (const char* secret :
         {kToken, kSecretValue, "KEYMATERIAL", "hunter2", kWebhookSecret, kStatusToken}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
  }

  std::string dir_, db_path_, ssh_dir_;
  std::unique_ptr<SqliteRunStore> store_;
  std::optional<SecretBox> box_;
  std::unique_ptr<RepoRegistry> registry_;
};

TEST_F(RepoRegistryTest, NamesAreChecked) {
  for (const std::string& bad : {std::string(""), std::string("-x"), std::string(".x"), std::string("_x"),
                                 std::string("a/b"), std::string("../x"), std::string("a b"),
                                 std::string("a\nb"), std::string("caf\xc3\xa9"), std::string(101, 'a')}) {
    Status st = AddError(Repo(bad, "https://git.example.com/x.git"), {});
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  }
  for (const std::string& good : {std::string("a"), std::string("App.v2_x-1"), std::string(100, 'z')}) {
    auto added = registry_->Add(Repo(good, "https://git.example.com/x.git"), {});
    EXPECT_TRUE(added.ok()) << good << ": " << added.status().ToString();
  }
  EXPECT_EQ(registry_->Add(Repo("a", "https://git.example.com/y.git"), {}).status().code(),
            Code::kAlreadyExists);
}

TEST_F(RepoRegistryTest, UrlsAreCheckedAndAPasswordInOneIsRefusedWithoutRepeatingIt) {
  Status st = AddError(Repo("app", "https://ci:hunter2@git.example.com/app.git"), {});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("https://git.example.com/app.git"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("password"), std::string::npos) << st.message();
  // Percent-encoded, and in the scp-like and ssh forms.
  EXPECT_EQ(AddError(Repo("app", "https://ci:hunter2%40x@git.example.com/app.git"), {}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(AddError(Repo("app", "ssh://git:hunter2@git.example.com/app.git"), Ssh()).code(),
            Code::kInvalidArgument);
  for (const char* bad : {"", "/srv/git/app", "ftp://git.example.com/app.git", "ext::sh -c touch% /tmp/pwned",
                          "https://", "-oProxyCommand=x:app", "https://git.example.com/a\n.git"}) {
    EXPECT_EQ(AddError(Repo("app", bad), {}).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(registry_->Get("app").ok());
  // A user name without a password is fine (ssh needs it).
  auto added = registry_->Add(Repo("app", "git@git.example.com:team/app.git"), Ssh());
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->url, "git@git.example.com:team/app.git");
}

TEST_F(RepoRegistryTest, BranchFiltersAndLimitsAreChecked) {
  for (const char* bad : {"[main", "main\\", "release/[!", "a\tb"}) {
    Repository r = Repo("app", "https://git.example.com/app.git");
    r.branch_filter = bad;
    EXPECT_EQ(AddError(r, {}).code(), Code::kInvalidArgument) << bad;
  }
  Repository r = Repo("app", "https://git.example.com/app.git");
  r.defaults.memory_bytes = -1;
  EXPECT_EQ(AddError(r, {}).code(), Code::kInvalidArgument);
  r.defaults.memory_bytes = 1 << 30;
  r.branch_filter = "release/[0-9]*";
  auto added = registry_->Add(r, {});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(registry_->Get("app")->branch_filter, "release/[0-9]*");
  EXPECT_EQ(registry_->Get("app")->defaults.memory_bytes, 1 << 30);
  EXPECT_GT(added->created_unix_ms, 0);
}

TEST_F(RepoRegistryTest, CredentialKindsFollowTheScheme) {
  struct Case {
    const char* url;
    Credential credential;
  };
  const Credential basic{.kind = "basic", .username = "ci", .password = kToken};
  for (const Case& c : std::vector<Case>{
           {"ssh://git@git.example.com/app.git", Token()},
           {"git@git.example.com:app.git", basic},
           {"https://git.example.com/app.git", Ssh()},
           {"file:///srv/git/app.git", Token()},
           {"git://git.example.com/app.git", Token()},
           {"file:///srv/git/app.git", Ssh()},
           {"https://git.example.com/app.git", Credential{.kind = "token"}},
           {"https://git.example.com/app.git", Credential{.kind = "basic", .password = kToken}},
           {"https://git.example.com/app.git",
            Credential{.kind = "basic", .username = "a:b", .password = kToken}},
           {"https://git.example.com/app.git",
            Credential{.kind = "token", .password = std::string(kToken) + "\r\n"}},
           {"https://git.example.com/app.git",
            Credential{.kind = "token", .password = kToken, .ssh_key = kSshKey}},
           {"https://git.example.com/app.git", Credential{.kind = "magic", .password = kToken}},
           {"https://git.example.com/app.git",
            Credential{.kind = "token", .password = std::string(kToken) + "\xff\xfe"}},
           {"ssh://git@git.example.com/app.git",
            Credential{
                .kind = "ssh", .ssh_key = kSshKey, .ssh_known_hosts = kKnownHosts, .ssh_passphrase = "\xc3"}},
           {"https://git.example.com/app.git", Credential{.password = kToken}},
           {"ssh://git@git.example.com/app.git", Credential{.kind = "ssh", .ssh_key = kSshKey}},
           {"ssh://git@git.example.com/app.git",
            Credential{.kind = "ssh", .ssh_key = "KEYMATERIAL only", .ssh_known_hosts = kKnownHosts}},
           {"ssh://git@git.example.com/app.git",
            Credential{
                .kind = "ssh", .password = kToken, .ssh_key = kSshKey, .ssh_known_hosts = kKnownHosts}},
       }) {
    Status st = AddError(Repo("app", c.url), c.credential);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.url << " " << c.credential.kind;
    EXPECT_NE(st.message().find("repository app"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(registry_->Add(Repo("a1", "https://git.example.com/app.git"), Token()).ok());
  EXPECT_TRUE(registry_->Add(Repo("a2", "http://git.example.com/app.git"), basic).ok());
  EXPECT_TRUE(registry_->Add(Repo("a3", "ssh://git@git.example.com/app.git"), Ssh()).ok());
  EXPECT_TRUE(registry_->Add(Repo("a4", "file:///srv/git/app.git"), {}).ok());
  EXPECT_EQ(registry_->Get("a3")->ToJsonValue()["credential"], "ssh");
  EXPECT_TRUE(registry_->Get("a4")->ToJsonValue()["credential"].is_null());
}

// The bytes of the database, its WAL included: every sealed value is there,
// and no plaintext is.
TEST_F(RepoRegistryTest, TheDatabaseFileHoldsNoPlaintext) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app-URL-MARKER.git"), Token()).ok());
  ASSERT_TRUE(registry_->Add(Repo("deploy", "ssh://git@git.example.com/d.git"), Ssh()).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "NPM_TOKEN", kSecretValue).ok());
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    auto part = ReadFile(db_path_ + suffix);
    if (part.ok()) bytes += *part;
  }
  // The search works: what is stored in clear is found.
  ASSERT_NE(bytes.find("app-URL-MARKER"), std::string::npos);
  ASSERT_NE(bytes.find("NPM_TOKEN"), std::string::npos);
  for (const char* plaintext : {kToken, kSecretValue, "KEYMATERIAL", "AAAAC3NzaC1lZDI1NTE5AAAAIHostKey"}) {
    EXPECT_EQ(bytes.find(plaintext), std::string::npos) << plaintext << " is in the database file";
  }
}

TEST_F(RepoRegistryTest, SecretsRoundTrip) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), {}).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "NPM_TOKEN", kSecretValue).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "_lower_ok", "").ok());
  ASSERT_TRUE(registry_->SetSecret("app", "BIG", std::string(64 * 1024, 'b')).ok());
  EXPECT_EQ(*registry_->SecretNames("app"), (std::vector<std::string>{"BIG", "NPM_TOKEN", "_lower_ok"}));
  auto values = registry_->SecretValues("app", {"NPM_TOKEN", "_lower_ok", "NPM_TOKEN"});
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  EXPECT_EQ(*values, (std::map<std::string, std::string>{{"NPM_TOKEN", kSecretValue}, {"_lower_ok", ""}}));
  ASSERT_TRUE(registry_->SetSecret("app", "NPM_TOKEN", "rotated").ok());
  EXPECT_EQ(registry_->SecretValues("app", {"NPM_TOKEN"})->at("NPM_TOKEN"), "rotated");
  ASSERT_TRUE(registry_->RemoveSecret("app", "BIG").ok());
  EXPECT_EQ(registry_->SecretNames("app")->size(), 2u);
  EXPECT_EQ(registry_->SetSecret("nope", "K", "v").code(), Code::kNotFound);
}

TEST_F(RepoRegistryTest, SecretValuesNamesTheMissingKey) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), {}).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "PRESENT", kSecretValue).ok());
  auto values = registry_->SecretValues("app", {"PRESENT", "ABSENT_KEY"});
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.status().code(), Code::kNotFound);
  EXPECT_NE(values.status().message().find("ABSENT_KEY"), std::string::npos) << values.status().message();
  ExpectNoSecretIn(values.status().message());
}

TEST_F(RepoRegistryTest, SecretKeysAndValuesAreChecked) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), {}).ok());
  for (const std::string& bad : {std::string(""), std::string("1A"), std::string("A-B"), std::string("A B"),
                                 std::string("A=B"), std::string("CI"), std::string("SLIPWAY_TOKEN"),
                                 std::string("SLIPWAY_"), std::string(129, 'K'), std::string("K\n")}) {
    Status st = registry_->SetSecret("app", bad, kSecretValue);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
    ExpectNoSecretIn(st.message());
  }
  Status big = registry_->SetSecret("app", "BIG", std::string(64 * 1024, 'x') + kSecretValue);
  EXPECT_EQ(big.code(), Code::kInvalidArgument);
  ExpectNoSecretIn(big.message());
  EXPECT_LT(big.message().size(), 200u);
  Status nul = registry_->SetSecret("app", "NUL", std::string(kSecretValue) + '\0' + "x");
  EXPECT_EQ(nul.code(), Code::kInvalidArgument);
  ExpectNoSecretIn(nul.message());
  EXPECT_TRUE(registry_->SecretNames("app")->empty());
}

// Someone with write access to the database copies sealed values around:
// none opens where it was not sealed.
TEST_F(RepoRegistryTest, ASealedValueMovedElsewhereDoesNotOpen) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), Token()).ok());
  ASSERT_TRUE(registry_->Add(Repo("lib", "https://git.example.com/lib.git"), {}).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "A", kSecretValue).ok());
  std::string sealed = *store_->GetSecret("app", "A");

  ASSERT_TRUE(store_->PutSecret("app", "B", sealed).ok());  // another key
  auto moved = registry_->SecretValues("app", {"B"});
  EXPECT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("secret B"), std::string::npos) << moved.status().message();
  ExpectNoSecretIn(moved.status().message());

  ASSERT_TRUE(store_->PutSecret("lib", "A", sealed).ok());  // another repository
  EXPECT_FALSE(registry_->SecretValues("lib", {"A"}).ok());
  EXPECT_TRUE(registry_->SecretValues("app", {"A"}).ok());  // the original still opens

  // The credential, moved to another repository.
  Repository lib = *registry_->Get("lib");
  Repository app = *registry_->Get("app");
  lib.credential_kind = app.credential_kind;
  lib.credential_sealed = app.credential_sealed;
  ASSERT_TRUE(store_->UpdateRepository(lib).ok());
  auto auth = registry_->FetchCredentials(lib);
  EXPECT_FALSE(auth.ok());
  ExpectNoSecretIn(auth.status().message());
  auto own = registry_->FetchCredentials(app);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->credentials.password, kToken);
  EXPECT_TRUE(own->files.empty());
}

TEST_F(RepoRegistryTest, SshKeyFilesAreOwnerOnlyAndGoWithTheFetchAuth) {
  ASSERT_TRUE(registry_
                  ->Add(Repo("app", "ssh://git@git.example.com/app.git"),
                        Credential{.kind = "ssh",
                                   .ssh_key = kSshKey,
                                   .ssh_known_hosts = kKnownHosts,
                                   .ssh_passphrase = "pass-KEYMATERIAL"})
                  .ok());
  std::vector<std::string> files;
  {
    auto auth = registry_->FetchCredentials(*registry_->Get("app"));
    ASSERT_TRUE(auth.ok()) << auth.status().ToString();
    // Moving it (into a Result, a caller's variable) keeps the files.
    RepoRegistry::FetchAuth held(std::move(auth).value());
    files = held.files;
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(held.credentials.ssh_key_path, files[0]);
    EXPECT_EQ(held.credentials.ssh_known_hosts, files[1]);
    EXPECT_EQ(held.credentials.ssh_key_passphrase, "pass-KEYMATERIAL");
    EXPECT_TRUE(held.credentials.password.empty());
    EXPECT_EQ(*ReadFile(files[0]), kSshKey);
    EXPECT_EQ(*ReadFile(files[1]), std::string(kKnownHosts) + "\n");
    for (const std::string& f : files) {
      EXPECT_EQ(fs::path(f).parent_path(), fs::path(ssh_dir_));
      struct stat st;
      ASSERT_EQ(::lstat(f.c_str(), &st), 0);
      EXPECT_TRUE(S_ISREG(st.st_mode));
      EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
    }
    struct stat dir;
    ASSERT_EQ(::stat(ssh_dir_.c_str(), &dir), 0);
    EXPECT_EQ(dir.st_mode & 07777, 0700u);
    // Two fetches at once get files of their own.
    auto second = registry_->FetchCredentials(*registry_->Get("app"));
    ASSERT_TRUE(second.ok());
    EXPECT_NE(second->files[0], files[0]);
  }
  for (const std::string& f : files)
    EXPECT_FALSE(fs::exists(fs::symlink_status(f))) << f << " is still there";
  EXPECT_TRUE(fs::is_empty(ssh_dir_));
}

TEST_F(RepoRegistryTest, AnSshDirOthersCanEnterOrALinkIsRefused) {
  ASSERT_TRUE(registry_->Add(Repo("app", "ssh://git@git.example.com/app.git"), Ssh()).ok());
  Repository app = *registry_->Get("app");
  ASSERT_EQ(::mkdir(ssh_dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(ssh_dir_.c_str(), 0755), 0);
  auto open = registry_->FetchCredentials(app);
  EXPECT_EQ(open.status().code(), Code::kFailedPrecondition);
  ExpectNoSecretIn(open.status().message());
  ASSERT_EQ(::rmdir(ssh_dir_.c_str()), 0);

  std::string elsewhere = dir_ + "/elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), ssh_dir_.c_str()), 0);
  EXPECT_FALSE(registry_->FetchCredentials(app).ok());
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(RepoRegistryTest, RemoveTakesTheSecretsAlong) {
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), Token()).ok());
  ASSERT_TRUE(registry_->SetSecret("app", "K", kSecretValue).ok());
  ASSERT_TRUE(registry_->Remove("app").ok());
  EXPECT_EQ(registry_->Get("app").status().code(), Code::kNotFound);
  EXPECT_EQ(registry_->Remove("app").code(), Code::kNotFound);
  // A name that cannot exist is not looked up (nor repeated as it is).
  EXPECT_EQ(registry_->Remove("app\nINJECTED").code(), Code::kInvalidArgument);
  EXPECT_EQ(registry_->Get("../app").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(registry_->SecretNames("a\x1b[2J").status().message().find('\x1b'), std::string::npos);
  ASSERT_TRUE(registry_->Add(Repo("app", "https://git.example.com/app.git"), {}).ok());
  EXPECT_TRUE(registry_->SecretNames("app")->empty());
  EXPECT_EQ(registry_->List()->size(), 1u);
}

// ---- The forge's side: webhook secret, status token, matching deliveries ----

Repository ForgeRepo(const std::string& name, const std::string& url, const std::string& forge = "github") {
  Repository r;
  r.name = name;
  r.url = url;
  r.forge = forge;
  return r;
}

TEST_F(RepoRegistryTest, AWebhookSecretAndStatusTokenAreSealedAndOpenOnlyForTheirRepository) {
  Repository r = ForgeRepo("app", "https://github.com/acme/app.git");
  r.full_name = "acme/app";
  r.status_api = "https://api.github.com";
  std::string made = "left over";
  auto added = registry_->Add(r, {}, kWebhookSecret, kStatusToken, &made);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(made, "");  // one was given: nothing made
  EXPECT_FALSE(added->webhook_secret_sealed.empty());
  EXPECT_FALSE(added->status_token_sealed.empty());
  EXPECT_EQ(added->webhook_secret_sealed.find(kWebhookSecret), std::string::npos);
  Repository stored = *registry_->Get("app");
  EXPECT_EQ(*registry_->WebhookSecret(stored), kWebhookSecret);
  EXPECT_EQ(*registry_->StatusToken(stored), kStatusToken);
  EXPECT_EQ(stored.ToJsonValue()["webhook"], true);
  EXPECT_EQ(stored.ToJsonValue()["status_token"], true);
  ExpectNoSecretIn(stored.ToJsonValue().dump());

  // Moved to another repository, or swapped with each other: neither opens.
  ASSERT_TRUE(
      registry_->Add(ForgeRepo("lib", "https://github.com/acme/lib.git"), {}, "other", "", nullptr).ok());
  Repository lib = *registry_->Get("lib");
  lib.webhook_secret_sealed = stored.webhook_secret_sealed;
  lib.status_token_sealed = stored.status_token_sealed;
  auto moved = registry_->WebhookSecret(lib);
  EXPECT_FALSE(moved.ok());
  ExpectNoSecretIn(moved.status().message());
  EXPECT_FALSE(registry_->StatusToken(lib).ok());
  Repository swapped = stored;
  std::swap(swapped.webhook_secret_sealed, swapped.status_token_sealed);
  EXPECT_FALSE(registry_->WebhookSecret(swapped).ok());
  EXPECT_FALSE(registry_->StatusToken(swapped).ok());

  // None: kNotFound.
  ASSERT_TRUE(registry_->Add(Repo("plain", "https://git.example.com/plain.git"), {}).ok());
  Repository plain = *registry_->Get("plain");
  EXPECT_EQ(registry_->WebhookSecret(plain).status().code(), Code::kNotFound);
  EXPECT_EQ(registry_->StatusToken(plain).status().code(), Code::kNotFound);
  EXPECT_EQ(plain.forge, "");
  EXPECT_TRUE(plain.webhook_secret_sealed.empty());  // the old Add makes no secret
}

TEST_F(RepoRegistryTest, AnEmptyWebhookSecretIsMadeRandomAndReturnedOnce) {
  std::string first, second;
  ASSERT_TRUE(
      registry_->Add(ForgeRepo("a", "https://gitea.example.com/o/a.git", "gitea"), {}, "", "", &first).ok());
  ASSERT_TRUE(
      registry_->Add(ForgeRepo("b", "https://gitea.example.com/o/b.git", "gitea"), {}, "", "", &second).ok());
  EXPECT_EQ(first.size(), 64u);  // 32 random bytes, hex
  EXPECT_TRUE(IsLowerHex(first)) << first;
  EXPECT_NE(first, second);
  EXPECT_EQ(*registry_->WebhookSecret(*registry_->Get("a")), first);
  EXPECT_EQ(*registry_->WebhookSecret(*registry_->Get("b")), second);
  EXPECT_EQ(registry_->Get("a")->ToJsonValue().dump().find(first), std::string::npos);
}

TEST_F(RepoRegistryTest, ForgeFieldsAreCheckedWithoutRepeatingSecrets) {
  auto refused = [&](Repository r, const std::string& secret, const std::string& token, const char* says) {
    std::string made;
    auto added = registry_->Add(r, {}, secret, token, &made);
    EXPECT_FALSE(added.ok()) << r.name << " (" << says << ") was accepted";
    if (added.ok()) return;
    EXPECT_EQ(added.status().code(), Code::kInvalidArgument);
    EXPECT_NE(added.status().message().find(says), std::string::npos) << added.status().message();
    ExpectNoSecretIn(added.status().message());
    EXPECT_EQ(made, "");
    EXPECT_EQ(registry_->Get(r.name).status().code(), Code::kNotFound);
  };
  const std::string url = "https://github.com/acme/app.git";
  refused(ForgeRepo("a", url, "bitbucket"), "", "", "not github, gitea or gitlab");
  refused(ForgeRepo("a", url, "GitHub"), "", "", "not github, gitea or gitlab");
  Repository no_forge = ForgeRepo("a", url, "");
  refused(no_forge, kWebhookSecret, "", "need a forge");
  no_forge.full_name = "acme/app";
  refused(no_forge, "", "", "need a forge");
  for (const char* name :
       {"acme//app", "/acme/app", "acme/app/", "acme/../app", "acme/a b", "acme/app\n", "."}) {
    Repository r = ForgeRepo("a", url);
    r.full_name = name;
    refused(r, "", "", "full name");
  }
  for (const char* api :
       {"ftp://api.github.com", "api.github.com", "https://user:hunter2@api.github.com",
        "https://hunter2@api.github.com/v3", "https://", "https://:443/x", "https://api.github.com/?q=1",
        "https://api.github.com/#x", "https://api.github.com/a b"}) {
    Repository r = ForgeRepo("a", url);
    r.status_api = api;
    refused(r, "", "", "status API");
  }
  Repository r = ForgeRepo("a", url);
  refused(r, "", kStatusToken, "needs the status API");
  refused(r, std::string(kWebhookSecret) + "\n", "", "webhook secret holds a control character");
  refused(r, std::string(2000, 'w') + kWebhookSecret, "", "webhook secret is longer");
  r.status_api = "https://api.github.com";
  refused(r, "", std::string(kStatusToken) + "\r\nX-Injected: 1", "status token holds a control character");
  r.project_id = "42";
  refused(r, "", "", "GitLab's");
  Repository gl = ForgeRepo("a", "https://gitlab.example.com/g/app.git", "gitlab");
  gl.status_api = "https://gitlab.example.com/api/v4";
  refused(gl, "", kStatusToken, "needs the project id");
  gl.project_id = "g/app";
  refused(gl, "", kStatusToken, "numeric id");
  gl.project_id = "1234";
  gl.full_name = "g/sub/app";
  EXPECT_TRUE(registry_->Add(gl, {}, "", kStatusToken, nullptr).ok());
  Repository http = ForgeRepo("b", url);
  http.status_api = "HTTP://forge.local:8080/api/v1";  // plain http (a forge on the LAN) is the user's call
  EXPECT_TRUE(registry_->Add(http, {}, "", "", nullptr).ok());
}

TEST_F(RepoRegistryTest, TheDatabaseFileHoldsNoWebhookSecretOrStatusToken) {
  Repository r = ForgeRepo("app", "https://github.com/acme/app.git");
  r.status_api = "https://api.github.com";
  ASSERT_TRUE(registry_->Add(r, {}, kWebhookSecret, kStatusToken, nullptr).ok());
  std::string made;
  ASSERT_TRUE(registry_->Add(ForgeRepo("made", "https://github.com/acme/made.git"), {}, "", "", &made).ok());
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    auto part = ReadFile(db_path_ + suffix);
    if (part.ok()) bytes += *part;
  }
  ASSERT_NE(bytes.find("api.github.com"), std::string::npos);  // the search works
  for (const std::string& plaintext : {std::string(kWebhookSecret), std::string(kStatusToken), made}) {
    EXPECT_EQ(bytes.find(plaintext), std::string::npos) << plaintext << " is in the database file";
  }
}

TEST_F(RepoRegistryTest, DeliveriesMatchByFullNameOrAnyCloneUrlForm) {
  Repository by_name = ForgeRepo("named", "https://mirror.example.com/whatever.git");
  by_name.full_name = "Acme/Widget";
  ASSERT_TRUE(registry_->Add(by_name, {}, "", "", nullptr).ok());
  ASSERT_TRUE(
      registry_->Add(ForgeRepo("https", "https://GitHub.com/acme/app.git"), {}, "", "", nullptr).ok());
  ASSERT_TRUE(
      registry_->Add(ForgeRepo("scp", "git@gitea.example.com:team/tool.git", "gitea"), {}, "", "", nullptr)
          .ok());
  ASSERT_TRUE(registry_
                  ->Add(ForgeRepo("ssh", "ssh://git@GitLab.example.com:2222/g/sub/lib", "gitlab"), {}, "", "",
                        nullptr)
                  .ok());
  auto match = [&](const std::string& forge, const std::string& full_name, std::vector<std::string> urls) {
    auto r = registry_->Match(forge, full_name, urls);
    return r.ok() ? r->name : "(" + std::string(CodeName(r.status().code())) + ")";
  };
  EXPECT_EQ(match("github", "acme/widget", {}), "named");  // full name, any case
  EXPECT_EQ(match("github", "ACME/WIDGET", {"https://github.com/other/x.git"}), "named");
  // Each spelling of a clone URL: case of scheme and host, ".git", "/", user info.
  for (const char* url :
       {"https://github.com/acme/app.git", "https://github.com/acme/app", "HTTPS://GITHUB.COM/acme/app/",
        "https://github.com/acme/app.git/", "https://x-access-token@github.com/acme/app.git"}) {
    EXPECT_EQ(match("github", "acme/renamed", {"git@github.com:acme/nope.git", url}), "https") << url;
  }
  // An ssh URL is another URL than the https one (the forge sends both).
  EXPECT_EQ(match("github", "", {"git@github.com:acme/app.git"}), "(not found)");
  EXPECT_EQ(match("gitea", "team/tool", {}), "(not found)");  // no full name registered
  EXPECT_EQ(match("gitea", "", {"ssh://git@gitea.example.com/team/tool.git"}), "scp");
  EXPECT_EQ(match("gitea", "", {"git@Gitea.Example.com:team/tool"}), "scp");
  EXPECT_EQ(match("gitlab", "", {"ssh://git@gitlab.example.com:2222/g/sub/lib.git"}), "ssh");
  // No match: another forge, another path, path case, a prefix.
  EXPECT_EQ(match("gitea", "acme/widget", {"https://github.com/acme/app.git"}), "(not found)");
  EXPECT_EQ(match("github", "", {"https://github.com/acme/App.git"}), "(not found)");
  EXPECT_EQ(match("github", "", {"https://github.com/acme/ap"}), "(not found)");
  EXPECT_EQ(match("github", "", {"https://github.com/acme"}), "(not found)");
  EXPECT_EQ(match("github", "", {}), "(not found)");
  EXPECT_EQ(match("", "acme/widget", {}), "(not found)");
  // A repository without a forge receives no deliveries.
  ASSERT_TRUE(registry_->Add(Repo("plain", "https://git.example.com/plain.git"), {}).ok());
  EXPECT_EQ(match("github", "", {"https://git.example.com/plain.git"}), "(not found)");
  auto missing = registry_->Match("github", "evil/\nname", {"https://evil.example.com/\nx"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message().find("evil"), std::string::npos) << missing.status().message();
}

}  // namespace
}  // namespace slipway::pipelines

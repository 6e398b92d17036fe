// Authentication against a real docker-registry: htpasswd basic auth, and
// the bearer token flow with a token server whose JWTs the registry verifies.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "engine/registry/client.h"
#include "engine/registry/credentials.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using namespace std::chrono_literals;
using testing::Skopeo;
using testing::TestImage;
using testing::TestRegistry;
using testing::TestTokenServer;

RegistryOptions Options(const std::string& credentials_file = "") {
  RegistryOptions o;
  o.retries = 1;
  o.retry_backoff = 20ms;
  o.timeout = 10s;
  o.credentials_file = credentials_file;
  return o;
}

std::string AuthFile(const std::string& host, const std::string& user, const std::string& password,
                     bool base64_form = true) {
  std::string path = testing::MakeTempDir("slipway-auth") + "/config.json";
  std::string entry = base64_form ? R"({"auth":")" + Base64Encode(user + ":" + password) + R"("})"
                                  : R"({"username":")" + user + R"(","password":")" + password + R"("})";
  std::ofstream(path) << R"({"auths":{")" + host + R"(":)" + entry + "}}";
  return path;
}

Status PushImage(RegistryClient& client, const Reference& ref, const TestImage& image) {
  SLIPWAY_RETURN_IF_ERROR(client.PushBlob(ref, image.manifest.config, image.config_path));
  SLIPWAY_RETURN_IF_ERROR(client.PushBlob(ref, image.manifest.layers[0], image.layer_paths[0]));
  return client.PutManifest(ref, ref.tag, image.manifest.media_type, image.manifest_json);
}

void ExpectNoSecret(const Status& s, const std::string& user, const std::string& password) {
  EXPECT_EQ(s.message().find(password), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(Base64Encode(user + ":" + password)), std::string::npos) << s.message();
}

TEST(BasicAuthTest, RightCredentialsWorkWrongOnesAreUnauthenticated) {
  const std::string user = "alice", password = "correct-horse-battery";
  TestRegistry registry({.user = user, .password = password});
  TestImage image = TestImage::Busybox();
  testing::SkopeoPush(image, registry.host() + "/test/basic:1", "", user + ":" + password);

  for (bool base64_form : {true, false}) {
    RegistryClient client(Options(AuthFile(registry.host(), user, password, base64_form)));
    Status ping = client.Ping(registry.host());
    EXPECT_TRUE(ping.ok()) << ping.message();
    auto fetched = client.GetManifest(registry.Ref("test/basic:1"));
    ASSERT_TRUE(fetched.ok()) << fetched.status().message();
    EXPECT_EQ(fetched->digest, image.manifest_digest);
    StringSink config;
    Status s = client.FetchBlob(registry.Ref("test/basic"), image.manifest.config, config);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(config.data(), image.config_json);
  }

  RegistryClient pusher(Options(AuthFile(registry.host(), user, password)));
  Status pushed = PushImage(pusher, registry.Ref("test/basic:pushed"), image);
  ASSERT_TRUE(pushed.ok()) << pushed.message();

  const std::string wrong = "wrong-password-123";
  RegistryClient bad(Options(AuthFile(registry.host(), user, wrong)));
  auto refused = bad.GetManifest(registry.Ref("test/basic:1"));
  EXPECT_EQ(refused.status().code(), Code::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("401 Unauthorized"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("were rejected"), std::string::npos)
      << refused.status().message();
  ExpectNoSecret(refused.status(), user, wrong);
  Status bad_ping = bad.Ping(registry.host());
  EXPECT_EQ(bad_ping.code(), Code::kUnauthenticated) << bad_ping.message();
  ExpectNoSecret(bad_ping, user, wrong);
  Status bad_push = PushImage(bad, registry.Ref("test/basic:nope"), image);
  EXPECT_EQ(bad_push.code(), Code::kUnauthenticated) << bad_push.message();
  ExpectNoSecret(bad_push, user, wrong);

  RegistryClient anonymous(Options());
  auto anon = anonymous.GetManifest(registry.Ref("test/basic:1"));
  EXPECT_EQ(anon.status().code(), Code::kUnauthenticated);
  EXPECT_NE(anon.status().message().find("no credentials configured for " + registry.host()),
            std::string::npos)
      << anon.status().message();
}

TEST(BasicAuthTest, AnUnreadableCredentialsFileIsReportedWhenNeeded) {
  TestRegistry registry({.user = "alice", .password = "pw-pw-pw"});
  std::string path = testing::MakeTempDir("slipway-auth") + "/broken.json";
  std::ofstream(path) << R"({"auths":{"x":{"password":"pw-pw-pw")";
  RegistryClient client(Options(path));
  Status s = client.Ping(registry.host());
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.message();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("pw-pw-pw"), std::string::npos) << s.message();
}

class TokenAuthTest : public ::testing::Test {
 protected:
  TokenAuthTest()
      : tokens_(user_, password_), registry_({.user = "", .password = "", .token_server = &tokens_}) {}

  const std::string user_ = "bob";
  const std::string password_ = "token-pass-xyz";
  TestTokenServer tokens_;
  TestRegistry registry_;
};

TEST_F(TokenAuthTest, PushPullAndMountWithTokens) {
  RegistryClient client(Options(AuthFile(registry_.host(), user_, password_)));
  Status ping = client.Ping(registry_.host());
  ASSERT_TRUE(ping.ok()) << ping.message() << "\n" << registry_.Log();

  TestImage image = TestImage::Busybox();
  Reference ref = registry_.Ref("test/tok:1");
  Status s = PushImage(client, ref, image);
  ASSERT_TRUE(s.ok()) << s.message() << "\n" << registry_.Log();
  auto fetched = client.GetManifest(ref);
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_EQ(fetched->digest, image.manifest_digest);
  StringSink layer;
  s = client.FetchBlob(ref, image.manifest.layers[0], layer);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Digest::Of(layer.data()), image.manifest.layers[0].digest);

  auto mounted = client.MountBlob(registry_.Ref("test/tok2"), image.manifest.layers[0].digest, "test/tok");
  ASSERT_TRUE(mounted.ok()) << mounted.status().message();
  EXPECT_TRUE(*mounted);

  std::vector<std::string> scopes = tokens_.scopes();
  auto asked = [&](const std::string& scope) { return std::count(scopes.begin(), scopes.end(), scope); };
  EXPECT_GE(asked("repository:test/tok:pull,push"), 1);
  EXPECT_GE(asked("repository:test/tok:pull"), 1);
  EXPECT_GE(asked("repository:test/tok2:pull,push"), 1);
  EXPECT_TRUE(tokens_.saw_credentials());
  // Tokens are cached per scope: a handful of requests, not one per call.
  EXPECT_LE(tokens_.requests(), 6) << ::testing::PrintToString(scopes);

  // skopeo, through the same registry and token server, sees the same image.
  EXPECT_EQ(Skopeo("inspect --raw --tls-verify=false --creds " + user_ + ":" + password_ + " docker://" +
                   registry_.host() + "/test/tok:1"),
            image.manifest_json);
}

TEST_F(TokenAuthTest, AnonymousMayPullButNotPush) {
  TestImage image = TestImage::Busybox();
  RegistryClient owner(Options(AuthFile(registry_.host(), user_, password_)));
  Status s = PushImage(owner, registry_.Ref("test/public:1"), image);
  ASSERT_TRUE(s.ok()) << s.message();

  RegistryClient anonymous(Options());
  auto fetched = anonymous.GetManifest(registry_.Ref("test/public:1"));
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_EQ(fetched->digest, image.manifest_digest);

  s = PushImage(anonymous, registry_.Ref("test/anon:1"), image);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.message();
  EXPECT_NE(s.message().find("insufficient_scope"), std::string::npos) << s.message();
}

TEST_F(TokenAuthTest, WrongCredentialsAreUnauthenticated) {
  const std::string wrong = "not-the-token-pass";
  RegistryClient client(Options(AuthFile(registry_.host(), user_, wrong)));
  auto m = client.GetManifest(registry_.Ref("test/tok:1"));
  EXPECT_EQ(m.status().code(), Code::kUnauthenticated) << m.status().message();
  EXPECT_NE(m.status().message().find("credentials were rejected"), std::string::npos)
      << m.status().message();
  ExpectNoSecret(m.status(), user_, wrong);
}

}  // namespace
}  // namespace slipway

// The client's HTTP behaviour against small in-process servers on loopback:
// scheme selection, redirects, retries, token requests, digest checks. The
// real registry is in client_test and auth_test.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "engine/registry/auth.h"
#include "engine/registry/client.h"
#include "engine/registry/credentials.h"
#include "tests/engine/registry/recording_sink.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

using namespace std::chrono_literals;

TEST(SchemeTest, PlainHttpOnlyForLoopbackAndInsecureRegistries) {
  EXPECT_EQ(RegistryBaseUrl("docker.io", {}), "https://registry-1.docker.io");
  EXPECT_EQ(RegistryBaseUrl("example.com", {}), "https://example.com");
  EXPECT_EQ(RegistryBaseUrl("example.com:5000", {}), "https://example.com:5000");
  EXPECT_EQ(RegistryBaseUrl("10.0.0.1:5000", {}), "https://10.0.0.1:5000");
  EXPECT_EQ(RegistryBaseUrl("localhost:5000", {}), "http://localhost:5000");
  EXPECT_EQ(RegistryBaseUrl("127.0.0.1:5000", {}), "http://127.0.0.1:5000");
  EXPECT_EQ(RegistryBaseUrl("127.8.9.10", {}), "http://127.8.9.10");
  EXPECT_EQ(RegistryBaseUrl("[::1]:5000", {}), "http://[::1]:5000");
  EXPECT_EQ(RegistryBaseUrl("reg.lan:5000", {"reg.lan:5000"}), "http://reg.lan:5000");
  EXPECT_EQ(RegistryBaseUrl("reg.lan:5001", {"reg.lan:5000"}), "https://reg.lan:5001");
  EXPECT_EQ(RegistryBaseUrl("reg.lan:5001", {"reg.lan"}), "http://reg.lan:5001");

  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST:80"));
  EXPECT_TRUE(IsLoopbackHost("127.255.0.1:5000"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com:5000"));
  EXPECT_FALSE(IsLoopbackHost("[::2]:5000"));
}

TEST(AuthChallengeTest, Parses) {
  auto bearer =
      ParseAuthChallenge(R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
                         R"(scope="repository:a/b:pull,push",error="insufficient_scope")");
  ASSERT_TRUE(bearer.ok()) << bearer.status().message();
  EXPECT_EQ(bearer->scheme, "bearer");
  EXPECT_EQ(bearer->Param("realm"), "https://auth.example.com/token");
  EXPECT_EQ(bearer->Param("service"), "registry.example.com");
  EXPECT_EQ(bearer->Param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(bearer->Param("error"), "insufficient_scope");

  auto basic = ParseAuthChallenge(R"(Basic realm="Registry Realm")");
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->Param("realm"), "Registry Realm");

  auto spaced = ParseAuthChallenge(R"(  BEARER  Realm = "x\"y" , Service=plain)");
  EXPECT_EQ(spaced->scheme, "bearer");
  EXPECT_EQ(spaced->Param("realm"), "x\"y");
  EXPECT_EQ(spaced->Param("service"), "plain");

  auto two = ParseAuthChallenge(R"(Bearer realm="a", Basic realm="b")");
  EXPECT_EQ(two->Param("realm"), "a");

  EXPECT_FALSE(ParseAuthChallenge("").ok());
  EXPECT_FALSE(ParseAuthChallenge(R"(Bearer realm="unterminated)").ok());
  EXPECT_EQ(RepositoryScope("a/b", "pull"), "repository:a/b:pull");
}

// An httplib server on a loopback address, in a thread. Register handlers on
// `http` before Start().
class FakeServer {
 public:
  ~FakeServer() {
    http.stop();
    if (thread_.joinable()) thread_.join();
  }
  void Start(const std::string& address = "127.0.0.1") {
    port_ = http.bind_to_any_port(address);
    ASSERT_GT(port_, 0);
    host_ = address + ":" + std::to_string(port_);
    // bind_to_any_port also listens: connections queue until the thread accepts.
    thread_ = std::thread([this] { http.listen_after_bind(); });
  }
  const std::string& host() const { return host_; }
  Reference Ref(const std::string& name) const { return ParseReference(host_ + "/" + name).value(); }

  httplib::Server http;

 private:
  std::thread thread_;
  int port_ = 0;
  std::string host_;
};

using testing::RecordingSink;

RegistryOptions FastOptions() {
  RegistryOptions o;
  o.retries = 2;
  o.retry_backoff = 10ms;
  o.timeout = 5s;
  return o;
}

std::string CredentialsFile(const std::string& host, const std::string& user, const std::string& password) {
  std::string path = testing::MakeTempDir("slipway-creds") + "/config.json";
  std::ofstream(path) << R"({"auths":{")" + host + R"(":{"auth":")" + Base64Encode(user + ":" + password) +
                             R"("}}})";
  return path;
}

TEST(TransportTest, RedirectsDoNotCarryCredentialsToAnotherHost) {
  const std::string blob = "hello blob";
  const Descriptor d = DescribeContent("application/octet-stream", blob);
  const Descriptor denied = DescribeContent("application/octet-stream", "other");
  std::atomic<int> storage_saw_auth{0}, registry_saw_auth{0};

  FakeServer storage;
  storage.http.Get("/blob", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Authorization")) ++storage_saw_auth;
    if (req.get_param_value("sig") != "SECRETSIG") {
      res.status = 403;
      return;
    }
    res.set_content(blob, "application/octet-stream");
  });
  storage.Start("127.0.0.2");  // another host: 127.0.0.0/8 is all loopback

  FakeServer registry;
  registry.http.Get(R"(/v2/r/blobs/(.*))", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != BasicAuthorization({"user", "pass"})) {
      res.status = 401;
      res.set_header("WWW-Authenticate", R"(Basic realm="fake")");
      return;
    }
    ++registry_saw_auth;
    std::string sig = req.matches[1] == d.digest.str() ? "SECRETSIG" : "WRONG";
    res.status = 307;
    res.set_header("Location", "http://" + storage.host() + "/blob?sig=" + sig + "&X-Amz-Signature=" + sig);
  });
  registry.Start();

  RegistryOptions options = FastOptions();
  options.credentials_file = CredentialsFile(registry.host(), "user", "pass");
  RegistryClient client(options);
  RecordingSink sink;
  Status s = client.FetchBlob(registry.Ref("r"), d, sink);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sink.data, blob);
  EXPECT_GE(registry_saw_auth, 1);
  EXPECT_EQ(storage_saw_auth, 0);

  RecordingSink other;
  Status refused = client.FetchBlob(registry.Ref("r"), denied, other);
  EXPECT_EQ(refused.code(), Code::kPermissionDenied) << refused.message();
  EXPECT_NE(refused.message().find("127.0.0.2"), std::string::npos) << refused.message();
  // Query strings (signatures) never show in errors.
  EXPECT_EQ(refused.message().find("WRONG"), std::string::npos) << refused.message();
  EXPECT_EQ(storage_saw_auth, 0);
}

TEST(TransportTest, RedirectsMustUseHttpsWithAVerifiedCertificate) {
  // A server certificate for 127.0.0.2, signed by no CA in the system bundle.
  std::string dir = testing::MakeTempDir("slipway-tls");
  std::string out;
  ASSERT_EQ(
      testing::RunShell("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir + "/key.pem -out " + dir +
                            "/cert.pem -days 2 -subj /CN=127.0.0.2 -addext subjectAltName=IP:127.0.0.2",
                        &out),
      0)
      << out;
  const std::string blob = "over tls";
  const Descriptor d = DescribeContent("application/octet-stream", blob);
  httplib::SSLServer storage((dir + "/cert.pem").c_str(), (dir + "/key.pem").c_str());
  storage.Get("/blob", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(blob, "application/octet-stream");
  });
  int tls_port = storage.bind_to_any_port("127.0.0.2");
  ASSERT_GT(tls_port, 0);
  std::thread tls_thread([&] { storage.listen_after_bind(); });

  FakeServer registry;
  registry.http.Get(R"(/v2/(\w+)/blobs/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", req.matches[1] == "plain"
                                   ? "http://example.com/blob"
                                   : "https://127.0.0.2:" + std::to_string(tls_port) + "/blob");
  });
  registry.Start();

  RecordingSink sink;
  Status untrusted = RegistryClient(FastOptions()).FetchBlob(registry.Ref("tls"), d, sink);
  EXPECT_EQ(untrusted.code(), Code::kFailedPrecondition) << untrusted.message();
  EXPECT_NE(untrusted.message().find("server certificate verification failed"), std::string::npos)
      << untrusted.message();

  RegistryOptions trusting = FastOptions();
  trusting.ca_file = dir + "/cert.pem";
  Status trusted = RegistryClient(trusting).FetchBlob(registry.Ref("tls"), d, sink);
  EXPECT_TRUE(trusted.ok()) << trusted.message();
  EXPECT_EQ(sink.data, blob);

  Status plain = RegistryClient(FastOptions()).FetchBlob(registry.Ref("plain"), d, sink);
  EXPECT_EQ(plain.code(), Code::kFailedPrecondition) << plain.message();
  EXPECT_NE(plain.message().find("refusing plain http to example.com"), std::string::npos) << plain.message();

  storage.stop();
  tls_thread.join();
}

TEST(TransportTest, RetriesResetTheSinkAndSucceed) {
  const std::string blob(300000, 'x');
  const Descriptor d = DescribeContent("application/octet-stream", blob);
  std::atomic<int> requests{0};
  FakeServer registry;
  registry.http.Get(R"(/v2/r/blobs/.*)", [&](const httplib::Request&, httplib::Response& res) {
    int n = ++requests;
    if (n == 1) {
      res.status = 503;
      return;
    }
    // The second answer breaks off half way; the third is whole.
    res.set_content_provider(blob.size(), "application/octet-stream",
                             [&, n](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (n == 2 && offset >= blob.size() / 2) return false;
                               size_t chunk = std::min<size_t>(length, 65536);
                               sink.write(blob.data() + offset, chunk);
                               return true;
                             });
  });
  registry.Start();
  RegistryClient client(FastOptions());
  RecordingSink sink;
  Status s = client.FetchBlob(registry.Ref("r"), d, sink);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(sink.resets, 2);
  EXPECT_EQ(sink.data, blob);
}

TEST(TransportTest, GivesUpAfterRetriesOnServerErrors) {
  std::atomic<int> requests{0};
  FakeServer registry;
  registry.http.Get(R"(/v2/r/manifests/.*)", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 503;
    res.set_content(R"({"errors":[{"code":"UNAVAILABLE","message":"try later"}]})", "application/json");
  });
  registry.http.Get(R"(/v2/missing/manifests/.*)", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})",
                    "application/json");
  });
  registry.Start();
  RegistryClient client(FastOptions());
  auto m = client.GetManifest(registry.Ref("r:1"));
  EXPECT_EQ(m.status().code(), Code::kUnavailable);
  EXPECT_EQ(requests, 3);
  EXPECT_NE(m.status().message().find("503 Service Unavailable: UNAVAILABLE: try later"), std::string::npos)
      << m.status().message();
  EXPECT_NE(m.status().message().find("gave up after 3 attempts"), std::string::npos);

  auto missing = client.GetManifest(registry.Ref("missing:1"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("404 Not Found: MANIFEST_UNKNOWN: manifest unknown"),
            std::string::npos)
      << missing.status().message();
}

TEST(TransportTest, ConnectionRefusedIsUnavailable) {
  RegistryClient client(FastOptions());
  Status s = client.Ping("127.0.0.1:1");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("GET http://127.0.0.1:1/v2/: connection failed"), std::string::npos)
      << s.message();
}

TEST(TransportTest, ChecksManifestDigests) {
  const std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
      std::string(64, 'a') + R"(","size":2},"layers":[]})";
  FakeServer registry;
  registry.http.Get(R"(/v2/r/manifests/(.*))", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Docker-Content-Digest",
                   req.matches[1] == "lying" ? "sha256:" + std::string(64, 'f') : Digest::Of(body).str());
    res.set_content(body, media_type::kOciManifest);
  });
  registry.Start();
  RegistryClient client(FastOptions());
  auto ok = client.GetManifest(registry.Ref("r:good"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->digest, Digest::Of(body));
  EXPECT_EQ(ok->media_type, media_type::kOciManifest);

  auto lying = client.GetManifest(registry.Ref("r:lying"));
  EXPECT_EQ(lying.status().code(), Code::kInvalidArgument);
  EXPECT_NE(lying.status().message().find("Docker-Content-Digest"), std::string::npos)
      << lying.status().message();

  Digest other = Digest::Of("something else");
  auto wrong = client.GetManifestByDigest(registry.Ref("r"), other);
  EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("asked for " + other.str()), std::string::npos)
      << wrong.status().message();
}

TEST(TransportTest, RejectsSchema1) {
  FakeServer registry;
  registry.http.Get(R"(/v2/r/manifests/.*)", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"schemaVersion":1,"name":"r","tag":"1","fsLayers":[],"signatures":[]})",
                    media_type::kDockerSchema1Signed);
  });
  registry.Start();
  RegistryClient client(FastOptions());
  auto m = client.GetManifest(registry.Ref("r:1"));
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_NE(m.status().message().find("schema 1"), std::string::npos) << m.status().message();
}

TEST(TransportTest, BearerTokensAreRequestedOnceAndCached) {
  const std::string body = R"({"schemaVersion":2,"manifests":[]})";
  std::atomic<int> token_requests{0};
  std::string token_query;
  std::string token_authorization;
  FakeServer registry;
  registry.http.Get("/token", [&](const httplib::Request& req, httplib::Response& res) {
    ++token_requests;
    token_query = "service=" + req.get_param_value("service") + " scope=" + req.get_param_value("scope");
    token_authorization = req.get_header_value("Authorization");
    res.set_content(R"({"access_token":"T1","expires_in":300})", "application/json");
  });
  registry.http.Get(R"(/v2/r/manifests/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer T1") {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer realm=\"http://" + registry.host() +
                                             "/token\",service=\"fake\",scope=\"repository:r:pull\"");
      return;
    }
    res.set_content(body, media_type::kOciIndex);
  });
  registry.Start();
  RegistryOptions options = FastOptions();
  options.credentials_file = CredentialsFile(registry.host(), "bob", "pw");
  RegistryClient client(options);
  for (int i = 0; i < 3; ++i) {
    // An empty index: the platform is missing, after a successful, authorized fetch.
    auto m = client.GetManifest(registry.Ref("r:1"));
    EXPECT_EQ(m.status().code(), Code::kNotFound) << m.status().message();
    EXPECT_NE(m.status().message().find("available: none"), std::string::npos) << m.status().message();
  }
  EXPECT_EQ(token_requests, 1);
  EXPECT_EQ(token_query, "service=fake scope=repository:r:pull");
  EXPECT_EQ(token_authorization, BasicAuthorization({"bob", "pw"}));
}

TEST(TransportTest, RefusesATokenRealmOverPlainHttpToAnotherHost) {
  FakeServer registry;
  registry.http.Get(R"(/v2/.*)", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_header("WWW-Authenticate", R"(Bearer realm="http://auth.example.com/token",service="x")");
  });
  registry.Start();
  RegistryOptions options = FastOptions();
  options.credentials_file = CredentialsFile(registry.host(), "bob", "pw");
  RegistryClient client(options);
  Status s = client.Ping(registry.host());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("refusing token realm http://auth.example.com/token over plain http"),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace slipway

// Real registry peers on loopback for tests that pull and push images:
//   TestRegistry     docker-registry (the distribution project's server) with
//                    filesystem storage in a temp dir, optionally behind
//                    htpasswd basic auth or a TestTokenServer.
//   TestTokenServer  a bearer token server (RS256 JWTs with an x5c chain the
//                    registry trusts), in this process.
//   TestImage        a one-layer busybox image as an OCI layout, which skopeo
//                    can copy into a registry.
// Processes are started and stopped by pid, never by name. Failures to set up
// throw std::runtime_error with the peer's output.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/oci/digest.h"
#include "engine/oci/manifest.h"
#include "engine/oci/reference.h"

namespace httplib {
class Server;
}

namespace slipway::testing {

class TestTokenServer;

struct TestRegistryOptions {
  // Basic auth: an htpasswd file (bcrypt, made with htpasswd -B) with this user.
  std::string user;
  std::string password;
  // Bearer tokens from this server (which must outlive the registry).
  const TestTokenServer* token_server = nullptr;
};

class TestRegistry {
 public:
  explicit TestRegistry(TestRegistryOptions options = {});
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  int port() const { return port_; }
  // The registry's filesystem storage root.
  const std::string& storage_dir() const { return storage_dir_; }
  // Where the registry keeps a blob's bytes, for tests that tamper with them.
  std::string BlobDataPath(const Digest& digest) const;
  // host() + "/" + name, parsed: Ref("test/busybox:1").
  Reference Ref(const std::string& name) const;

  // SIGKILL now, as a crash would; storage stays. Restart() brings it back on
  // the same port and storage.
  void Kill();
  void Restart();
  bool running() const { return pid_ > 0; }
  // What the registry wrote to stdout and stderr.
  std::string Log() const;

 private:
  void Start();
  void Stop();

  std::string dir_;
  std::string storage_dir_;
  std::string config_path_;
  std::string log_path_;
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class TestTokenServer {
 public:
  // Issues tokens granting what is asked for to `user`:`password`, and only
  // pull to anonymous callers when `anonymous_pull`. Wrong credentials: 401.
  TestTokenServer(std::string user, std::string password, bool anonymous_pull = true);
  ~TestTokenServer();
  TestTokenServer(const TestTokenServer&) = delete;
  TestTokenServer& operator=(const TestTokenServer&) = delete;

  std::string realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  std::string service() const { return "slipway-test-registry"; }
  std::string issuer() const { return "slipway-test-issuer"; }
  // The self-signed certificate the registry trusts (rootcertbundle).
  const std::string& cert_path() const { return cert_path_; }

  int requests() const { return requests_; }
  // The scope parameters of every token request so far, in order.
  std::vector<std::string> scopes() const;
  // Whether any request carried an Authorization header.
  bool saw_credentials() const { return saw_credentials_; }

 private:
  // A JWT for `subject` granting `access_json` (the "access" claim).
  std::string Sign(const std::string& subject, const std::string& access_json) const;

  std::string user_, password_;
  bool anonymous_pull_;
  std::string dir_, key_path_, cert_path_, cert_der_base64_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<bool> saw_credentials_{false};
  mutable std::mutex mu_;
  std::vector<std::string> scopes_;
};

// A one-layer busybox image (the layer is a reproducible tar.gz of
// testing::BusyboxRootfs()) written as an OCI image layout, tag "latest".
struct TestImage {
  std::string layout_dir;
  std::string config_json;
  std::string manifest_json;  // exactly what index.json points at
  Manifest manifest;
  Digest manifest_digest;
  std::string config_path;               // the config blob's file
  std::vector<std::string> layer_paths;  // one file per manifest layer

  // A new image with architecture `architecture` (the layer is shared).
  static TestImage Busybox(const std::string& architecture = "amd64");
};

// Runs `command` with /bin/sh; returns stdout. Throws with stderr on failure.
std::string RunOrThrow(const std::string& command);
// Runs skopeo with a permissive signature policy of its own.
std::string Skopeo(const std::string& args);
// skopeo copy oci:<layout>:latest docker://<destination> over plain http.
// `format` is "" (keep OCI), "v2s2" or "oci".
void SkopeoPush(const TestImage& image, const std::string& destination, const std::string& format = "",
                const std::string& creds = "");

// A file of `size` pseudo-random bytes in a new temp file.
std::string WriteRandomFile(size_t size, unsigned seed);

}  // namespace slipway::testing

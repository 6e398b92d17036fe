#include "tests/engine/registry/registry_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "engine/base/fs.h"
#include "engine/registry/credentials.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("write " + path);
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Base64Url(std::string_view data) {
  std::string out = Base64Encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// The base64 body of the first PEM block: a DER certificate as x5c wants it.
std::string PemBody(const std::string& pem) {
  std::istringstream in(pem);
  std::string line, body;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("-----BEGIN")) {
      inside = true;
    } else if (line.starts_with("-----END")) {
      break;
    } else if (inside) {
      body += line;
    }
  }
  return body;
}

std::string RsaSha256(const std::string& key_pem, const std::string& data) {
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) throw std::runtime_error("read token signing key");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("sign token");
  return sig;
}

const std::string& PolicyFile() {
  static const std::string path = [] {
    std::string p = MakeTempDir("slipway-skopeo") + "/policy.json";
    WriteAll(p, R"({"default":[{"type":"insecureAcceptAnything"}]})");
    return p;
  }();
  return path;
}

struct SharedLayer {
  std::string gz_path;
  Digest gz_digest;
  int64_t gz_size = 0;
  Digest diff_id;
};

// Built once per process: tar of the busybox rootfs, sorted and with fixed
// owners and times so its digest does not depend on when it was built.
const SharedLayer& BusyboxLayer() {
  static const SharedLayer layer = [] {
    SharedLayer l;
    std::string dir = MakeTempDir("slipway-layer");
    std::string tar = dir + "/layer.tar";
    l.gz_path = tar + ".gz";
    RunOrThrow("tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C " +
               ShellQuote(BusyboxRootfs()) + " -cf " + ShellQuote(tar) + " . && gzip -n -c " +
               ShellQuote(tar) + " > " + ShellQuote(l.gz_path));
    l.diff_id = Digest::Of(ReadAll(tar));
    std::string gz = ReadAll(l.gz_path);
    l.gz_digest = Digest::Of(gz);
    l.gz_size = static_cast<int64_t>(gz.size());
    return l;
  }();
  return layer;
}

}  // namespace

std::string RunOrThrow(const std::string& command) {
  char err_path[] = "/tmp/slipway-stderr-XXXXXX";
  int err_fd = ::mkstemp(err_path);
  if (err_fd < 0) throw std::runtime_error("mkstemp");
  ::close(err_fd);
  std::string full = "( " + command + " ) 2>" + err_path;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) throw std::runtime_error("popen " + command);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  std::string err = ReadAll(err_path);
  ::unlink(err_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command + "\n" + err +
                             out);
  }
  return out;
}

std::string Skopeo(const std::string& args) {
  return RunOrThrow("skopeo --policy " + PolicyFile() + " " + args);
}

void SkopeoPush(const TestImage& image, const std::string& destination, const std::string& format,
                const std::string& creds) {
  std::string args = "copy --retry-times 0 --dest-tls-verify=false";
  if (!format.empty()) args += " --format " + format;
  if (!creds.empty()) args += " --dest-creds " + ShellQuote(creds);
  Skopeo(args + " oci:" + image.layout_dir + ":latest docker://" + destination);
}

std::string WriteRandomFile(size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(gen());
  std::string path = MakeTempDir("slipway-random") + "/data";
  WriteAll(path, data);
  return path;
}

// ---------------------------------------------------------------------------
// TestRegistry

TestRegistry::TestRegistry(TestRegistryOptions options) {
  dir_ = MakeTempDir("slipway-registry");
  storage_dir_ = dir_ + "/storage";
  config_path_ = dir_ + "/config.yml";
  log_path_ = dir_ + "/registry.log";
  fs::create_directories(storage_dir_);
  port_ = FreeLoopbackPort();
  host_ = "127.0.0.1:" + std::to_string(port_);

  std::string auth;
  if (!options.user.empty()) {
    std::string htpasswd = dir_ + "/htpasswd";
    WriteAll(htpasswd,
             RunOrThrow("htpasswd -Bbn " + ShellQuote(options.user) + " " + ShellQuote(options.password)));
    auth = "auth:\n  htpasswd:\n    realm: slipway-test\n    path: " + htpasswd + "\n";
  } else if (options.token_server) {
    const TestTokenServer& t = *options.token_server;
    auth = "auth:\n  token:\n    realm: " + t.realm() + "\n    service: " + t.service() +
           "\n    issuer: " + t.issuer() + "\n    rootcertbundle: " + t.cert_path() + "\n";
  }
  WriteAll(config_path_,
           "version: 0.1\n"
           "log:\n  level: info\n  accesslog:\n    disabled: false\n"
           "storage:\n  filesystem:\n    rootdirectory: " +
               storage_dir_ +
               "\n"
               "  delete:\n    enabled: true\n"
               "  maintenance:\n    uploadpurging:\n      enabled: false\n"
               "http:\n  addr: " +
               host_ + "\n  secret: " + RandomHex(16) + "\n" + auth);
  Start();
}

TestRegistry::~TestRegistry() {
  Stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void TestRegistry::Start() {
  int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) throw std::runtime_error("open registry log");
  const char* argv[] = {"/usr/bin/docker-registry", "serve", config_path_.c_str(), nullptr};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The registry dies
    // with the test process, however that ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(log);
  ::close(null);
  if (pid < 0) throw std::runtime_error("fork docker-registry");
  pid_ = pid;

  httplib::Client probe("http://" + host_);
  probe.set_connection_timeout(std::chrono::milliseconds(200));
  probe.set_read_timeout(std::chrono::seconds(2));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("docker-registry exited (" + std::to_string(status) + "):\n" + Log());
    }
    auto res = probe.Get("/v2/");
    if (res && (res->status == 200 || res->status == 401)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();
  throw std::runtime_error("docker-registry did not answer on " + host_ + ":\n" + Log());
}

void TestRegistry::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
}

void TestRegistry::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void TestRegistry::Restart() {
  Stop();
  Start();
}

std::string TestRegistry::Log() const {
  return ReadAll(log_path_);
}

std::string TestRegistry::BlobDataPath(const Digest& digest) const {
  return storage_dir_ + "/docker/registry/v2/blobs/sha256/" + digest.hex().substr(0, 2) + "/" + digest.hex() +
         "/data";
}

Reference TestRegistry::Ref(const std::string& name) const {
  auto ref = ParseReference(host_ + "/" + name);
  if (!ref.ok()) throw std::runtime_error(ref.status().message());
  return *ref;
}

// ---------------------------------------------------------------------------
// TestTokenServer

TestTokenServer::TestTokenServer(std::string user, std::string password, bool anonymous_pull)
    : user_(std::move(user)), password_(std::move(password)), anonymous_pull_(anonymous_pull) {
  dir_ = MakeTempDir("slipway-token");
  key_path_ = dir_ + "/key.pem";
  cert_path_ = dir_ + "/cert.pem";
  RunOrThrow("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key_path_ + " -out " + cert_path_ +
             " -days 2 -subj /CN=slipway-test-token");
  cert_der_base64_ = PemBody(ReadAll(cert_path_));

  server_ = std::make_unique<httplib::Server>();
  server_->Get("/token", [this](const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    std::vector<std::string> asked;
    for (size_t i = 0; i < req.get_param_value_count("scope"); ++i)
      asked.push_back(req.get_param_value("scope", i));
    {
      std::lock_guard lock(mu_);
      scopes_.insert(scopes_.end(), asked.begin(), asked.end());
    }
    bool authenticated = false;
    if (req.has_header("Authorization")) {
      saw_credentials_ = true;
      std::string header = req.get_header_value("Authorization");
      auto decoded = header.starts_with("Basic ") ? Base64Decode(header.substr(6)) : std::nullopt;
      if (!decoded || *decoded != user_ + ":" + password_) {
        res.status = 401;
        return;
      }
      authenticated = true;
    } else if (!anonymous_pull_) {
      res.status = 401;
      return;
    }
    json access = json::array();
    for (const std::string& scope : asked) {
      // repository:<name>:<actions>; the name may not contain ':'.
      size_t first = scope.find(':');
      size_t last = scope.rfind(':');
      if (first == last || scope.substr(0, first) != "repository") continue;
      json actions = json::array();
      std::istringstream list(scope.substr(last + 1));
      std::string action;
      while (std::getline(list, action, ',')) {
        if (authenticated || action == "pull") actions.push_back(action);
      }
      access.push_back({{"type", "repository"},
                        {"name", scope.substr(first + 1, last - first - 1)},
                        {"actions", actions}});
    }
    std::string token = Sign(authenticated ? user_ : "", access.dump());
    res.set_content(json{{"token", token}, {"access_token", token}, {"expires_in", 300}}.dump(),
                    "application/json");
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("bind token server");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

TestTokenServer::~TestTokenServer() {
  server_->stop();
  thread_.join();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::vector<std::string> TestTokenServer::scopes() const {
  std::lock_guard lock(mu_);
  return scopes_;
}

// An RS256 JWT as distribution's token auth verifies it: signed by the key
// of the certificate in "x5c", which chains to rootcertbundle.
std::string TestTokenServer::Sign(const std::string& subject, const std::string& access_json) const {
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  ordered_json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_base64_}}};
  ordered_json claims = {{"iss", issuer()},
                         {"sub", subject},
                         {"aud", service()},
                         {"exp", now + 300},
                         {"nbf", now - 60},
                         {"iat", now - 60},
                         {"jti", std::to_string(now) + "-" + std::to_string(requests_.load())},
                         {"access", json::parse(access_json)}};
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  return signing_input + "." + Base64Url(RsaSha256(ReadAll(key_path_), signing_input));
}

// ---------------------------------------------------------------------------
// TestImage

TestImage TestImage::Busybox(const std::string& architecture) {
  const SharedLayer& layer = BusyboxLayer();
  TestImage image;
  image.layout_dir = MakeTempDir("slipway-oci");
  std::string blobs = image.layout_dir + "/blobs/sha256/";
  fs::create_directories(blobs);

  ordered_json config = {
      {"architecture", architecture},
      {"os", "linux"},
      {"config",
       {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
        {"Cmd", {"/bin/sh"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id.str()}}}},
      {"history", {{{"created", "1970-01-01T00:00:00Z"}, {"created_by", "slipway test: busybox"}}}},
  };
  image.config_json = config.dump();
  image.manifest.media_type = media_type::kOciManifest;
  image.manifest.config = DescribeContent(media_type::kOciConfig, image.config_json);
  Descriptor layer_descriptor;
  layer_descriptor.media_type = media_type::kOciLayerTarGzip;
  layer_descriptor.digest = layer.gz_digest;
  layer_descriptor.size = layer.gz_size;
  image.manifest.layers.push_back(layer_descriptor);
  image.manifest_json = SerializeManifest(image.manifest);
  image.manifest_digest = Digest::Of(image.manifest_json);

  image.config_path = blobs + image.manifest.config.digest.hex();
  WriteAll(image.config_path, image.config_json);
  image.layer_paths.push_back(blobs + layer.gz_digest.hex());
  fs::copy_file(layer.gz_path, image.layer_paths.back(), fs::copy_options::overwrite_existing);
  WriteAll(blobs + image.manifest_digest.hex(), image.manifest_json);

  WriteAll(image.layout_dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Descriptor entry = DescribeContent(media_type::kOciManifest, image.manifest_json);
  entry.annotations["org.opencontainers.image.ref.name"] = "latest";
  Index index;
  index.manifests.push_back(entry);
  WriteAll(image.layout_dir + "/index.json", SerializeIndex(index));
  return image;
}

}  // namespace slipway::testing

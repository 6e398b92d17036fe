#include "service/daemon/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing/fixtures.h"

namespace slipway::daemon {
namespace {

using namespace std::chrono_literals;

// config/slipway.yaml, a `data` dependency of this test, in its runfiles.
std::string DefaultsFile() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir && workspace) return std::string(srcdir) + "/" + workspace + "/config/slipway.yaml";
  return "config/slipway.yaml";
}

Result<DaemonConfig> Parse(const std::string& yaml) {
  return ParseConfigYaml(yaml, "test.yaml");
}

// The message of a parse that must fail with kInvalidArgument.
std::string ErrorOf(const std::string& yaml) {
  Result<DaemonConfig> r = Parse(yaml);
  EXPECT_FALSE(r.ok()) << yaml;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  return r.status().message();
}

class TempDir {
 public:
  TempDir() : path_(testing::MakeTempDir("config-test")) {}
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

DaemonArgs Args(std::vector<std::string> args) {
  args.insert(args.begin(), "slipwayd");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseDaemonArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(DaemonConfigTest, DefaultsFileMatchesStruct) {
  Result<DaemonConfig> loaded = LoadConfigFile(DefaultsFile());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(*loaded == DaemonConfig{}) << "config/slipway.yaml and DaemonConfig's defaults differ";
  // Every key is written out, in ConfigKeys() order, so that the file
  // documents all of them.
  std::string text = "\n" + testing::ReadFileOrEmpty(DefaultsFile());
  size_t last = 0;
  for (const std::string& key : ConfigKeys()) {
    size_t at = text.find("\n" + key + ":");
    ASSERT_NE(at, std::string::npos) << key << " is missing from config/slipway.yaml";
    EXPECT_GT(at, last) << key << " is out of order in config/slipway.yaml";
    last = at;
  }
}

TEST(DaemonConfigTest, DocumentedDefaults) {
  DaemonConfig c;
  EXPECT_EQ(c.listen, "127.0.0.1:7780");
  EXPECT_EQ(c.data_dir, "/var/lib/slipway");
  EXPECT_EQ(c.max_body_bytes, 1 << 20);
  EXPECT_EQ(c.shutdown_timeout, 10s);
  EXPECT_EQ(TokenPath(c), "/var/lib/slipway/control.token");
  EXPECT_EQ(DatabasePath(c), "/var/lib/slipway/slipway.db");
}

TEST(DaemonConfigTest, WebhookKeys) {
  DaemonConfig d;
  EXPECT_EQ(d.webhook_listen, "");
  EXPECT_EQ(d.webhook_max_body_bytes, 25 << 20);
  EXPECT_EQ(d.status_retry_for, 10min);
  // One port by default: the webhook URL is on the API's address.
  EXPECT_EQ(PublicUrl(d), "http://127.0.0.1:7780");

  Result<DaemonConfig> r = Parse(
      "webhook_listen: \"0.0.0.0:7781\"\n"
      "webhook_max_body_bytes: 1m\n"
      "webhook_delivery_keep: 1h\n"
      "status_retry_for: 30s\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->webhook_listen, "0.0.0.0:7781");
  EXPECT_EQ(r->webhook_max_body_bytes, 1 << 20);
  EXPECT_EQ(r->webhook_delivery_keep, 1h);
  EXPECT_EQ(r->status_retry_for, 30s);
  // Listening on every address: the URL names the machine, not 0.0.0.0.
  const std::string derived = PublicUrl(*r);
  EXPECT_TRUE(derived.starts_with("http://")) << derived;
  EXPECT_TRUE(derived.ends_with(":7781")) << derived;
  EXPECT_EQ(derived.find("0.0.0.0"), std::string::npos) << derived;

  r = Parse("webhook_listen: \"[::1]:7781\"\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(PublicUrl(*r), "http://[::1]:7781");

  // public_url wins, without its trailing slash.
  r = Parse("public_url: https://ci.example.com/\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->public_url, "https://ci.example.com");
  EXPECT_EQ(PublicUrl(*r), "https://ci.example.com");

  EXPECT_NE(ErrorOf("webhook_listen: nowhere\n").find("webhook_listen"), std::string::npos);
  for (const char* bad : {"ftp://x", "ci.example.com", "http://", "https://x/?a=b", "http://a b"}) {
    EXPECT_NE(ErrorOf(std::string("public_url: \"") + bad + "\"\n").find("public_url"), std::string::npos)
        << bad;
  }
}

TEST(DaemonConfigTest, EmptyFileMeansDefaults) {
  for (const char* text : {"", "# nothing\n", "---\n"}) {
    Result<DaemonConfig> r = Parse(text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r == DaemonConfig{});
  }
}

TEST(DaemonConfigTest, ReadsEveryKind) {
  Result<DaemonConfig> r = Parse(
      "listen: \"[::1]:9000\"\n"
      "data_dir: /srv/slipway\n"
      "token_file:\n"
      "log_level: debug\n"
      "max_running: 2\n"
      "max_queued: 0\n"
      "api_threads: 64\n"
      "max_body_bytes: 2m\n"
      "shutdown_timeout: 1m30s\n"
      "insecure_registries: [localhost:5000, \"10.0.0.1:5000\"]\n"
      "build_cache_max_bytes: 0\n"
      "build_allow_host_network: true\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->listen, "[::1]:9000");
  EXPECT_EQ(r->data_dir, "/srv/slipway");
  EXPECT_EQ(r->token_file, "");
  EXPECT_EQ(r->log_level, "debug");
  EXPECT_EQ(r->max_running, 2);
  EXPECT_EQ(r->max_queued, 0);
  EXPECT_EQ(r->api_threads, 64);
  EXPECT_EQ(r->max_body_bytes, 2 << 20);
  EXPECT_EQ(r->shutdown_timeout, 90s);
  EXPECT_EQ(r->insecure_registries, (std::vector<std::string>{"localhost:5000", "10.0.0.1:5000"}));
  EXPECT_EQ(r->build_cache_max_bytes, 0);  // no limit
  EXPECT_TRUE(r->build_allow_host_network);
  EXPECT_EQ(r->state_dir, "/run/slipway");  // untouched keys keep their defaults
  EXPECT_EQ(TokenPath(*r), "/srv/slipway/control.token");
  EXPECT_EQ(DatabasePath(*r), "/srv/slipway/slipway.db");
}

TEST(DaemonConfigTest, SizesAndDurations) {
  EXPECT_EQ(Parse("max_body_bytes: 4096")->max_body_bytes, 4096);
  EXPECT_EQ(Parse("max_body_bytes: \"512k\"")->max_body_bytes, 512 * 1024);
  EXPECT_EQ(Parse("max_body_bytes: 1g")->max_body_bytes, int64_t{1} << 30);
  EXPECT_EQ(Parse("shutdown_timeout: 500ms")->shutdown_timeout, 500ms);
  EXPECT_EQ(Parse("shutdown_timeout: 2m")->shutdown_timeout, 120s);
  EXPECT_NE(ErrorOf("max_body_bytes: 1x").find("max_body_bytes"), std::string::npos);
  EXPECT_NE(ErrorOf("max_body_bytes: 0").find("max_body_bytes"), std::string::npos);
  EXPECT_EQ(Parse("build_cache_max_bytes: 2g")->build_cache_max_bytes, int64_t{2} << 30);
  EXPECT_NE(ErrorOf("build_cache_max_bytes: -1").find("build_cache_max_bytes"), std::string::npos);
  EXPECT_NE(ErrorOf("build_allow_host_network: yes").find("build_allow_host_network"), std::string::npos);
  // A bare number is not a duration: seconds or milliseconds would be a guess.
  EXPECT_NE(ErrorOf("shutdown_timeout: 10").find("shutdown_timeout"), std::string::npos);
  EXPECT_NE(ErrorOf("shutdown_timeout: soon").find("shutdown_timeout"), std::string::npos);
}

TEST(DaemonConfigTest, ApiConnectionLimits) {
  DaemonConfig d;
  EXPECT_EQ(d.api_max_connections, 4096);
  EXPECT_EQ(d.api_max_head_bytes, 64 << 10);
  EXPECT_EQ(d.api_header_timeout, 10s);
  EXPECT_EQ(d.api_body_timeout, 30s);
  EXPECT_EQ(d.api_idle_timeout, 60s);
  Result<DaemonConfig> r = Parse(
      "api_max_connections: 50\napi_max_head_bytes: 16k\napi_header_timeout: 2s\n"
      "api_body_timeout: 500ms\napi_idle_timeout: 1m\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->api_max_connections, 50);
  EXPECT_EQ(r->api_max_head_bytes, 16 << 10);
  EXPECT_EQ(r->api_header_timeout, 2s);
  EXPECT_EQ(r->api_body_timeout, 500ms);
  EXPECT_EQ(r->api_idle_timeout, 60s);
  // A timeout of 0 would close every connection at once; no connections at
  // all would serve nobody.
  EXPECT_NE(ErrorOf("api_header_timeout: 0s").find("api_header_timeout"), std::string::npos);
  EXPECT_NE(ErrorOf("api_idle_timeout: 0ms").find("api_idle_timeout"), std::string::npos);
  EXPECT_NE(ErrorOf("api_max_connections: 0").find("api_max_connections"), std::string::npos);
}

TEST(DaemonConfigTest, Pipelines) {
  DaemonConfig d;
  EXPECT_EQ(d.max_runs, 4);
  EXPECT_EQ(d.step_log_max_bytes, int64_t{8} << 20);
  EXPECT_EQ(d.keep_failed_workspaces, 0ms);
  EXPECT_EQ(d.keep_runs, 0);
  EXPECT_EQ(d.step_default_timeout, 0ms);
  EXPECT_EQ(d.step_max_cpus, 0);
  Result<DaemonConfig> r = Parse(
      "max_runs: 2\nstep_log_max_bytes: 1m\nkeep_failed_workspaces: 24h\nkeep_runs: 10\n"
      "step_default_timeout: 10m\nstep_default_memory: 512m\nstep_default_cpus: 0.5\nstep_default_pids: 256\n"
      "step_max_timeout: 1h\nstep_max_memory: 4g\nstep_max_cpus: 2\nstep_max_pids: 4096\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->max_runs, 2);
  EXPECT_EQ(r->step_log_max_bytes, 1 << 20);
  EXPECT_EQ(r->keep_failed_workspaces, 24h);
  EXPECT_EQ(r->keep_runs, 10);
  EXPECT_EQ(r->step_default_timeout, 10min);
  EXPECT_EQ(r->step_default_memory, 512 << 20);
  EXPECT_EQ(r->step_default_cpus, 500);
  EXPECT_EQ(r->step_default_pids, 256);
  EXPECT_EQ(r->step_max_timeout, 1h);
  EXPECT_EQ(r->step_max_memory, int64_t{4} << 30);
  EXPECT_EQ(r->step_max_cpus, 2000);
  EXPECT_EQ(r->step_max_pids, 4096);
  // 0 means none, in any unit; a bare number other than 0 is still no duration.
  EXPECT_EQ(Parse("step_max_timeout: 0")->step_max_timeout, 0ms);
  EXPECT_EQ(Parse("keep_failed_workspaces: 0h")->keep_failed_workspaces, 0ms);
  EXPECT_NE(ErrorOf("keep_failed_workspaces: 10").find("keep_failed_workspaces"), std::string::npos);
  EXPECT_NE(ErrorOf("keep_failed_workspaces: 0x").find("keep_failed_workspaces"), std::string::npos);
  EXPECT_NE(ErrorOf("max_runs: 0").find("max_runs"), std::string::npos);
  EXPECT_NE(ErrorOf("step_default_cpus: lots").find("step_default_cpus"), std::string::npos);
  EXPECT_NE(ErrorOf("step_max_pids: -1").find("step_max_pids"), std::string::npos);
  EXPECT_NE(ErrorOf("step_log_max_bytes: 0").find("step_log_max_bytes"), std::string::npos);
  DaemonArgs a = Args({"--max-runs", "7", "--step-max-cpus", "1.5", "--keep-failed-workspaces", "2h"});
  ASSERT_FALSE(a.exit_code) << a.output;
  EXPECT_EQ(a.config.max_runs, 7);
  EXPECT_EQ(a.config.step_max_cpus, 1500);
  EXPECT_EQ(a.config.keep_failed_workspaces, 2h);
  EXPECT_EQ(RunsDir(d), "/var/lib/slipway/runs");
  EXPECT_EQ(MirrorsDir(d), "/var/lib/slipway/repos");
  EXPECT_EQ(SecretKeyPath(d), "/var/lib/slipway/secrets.key");
  EXPECT_EQ(SshDir(d), "/run/slipway/ssh");
}

TEST(DaemonConfigTest, UnknownKeyIsAnErrorNamingKeyFileAndLine) {
  std::string m = ErrorOf("listen: 127.0.0.1:1\nmax_runing: 3\n");
  EXPECT_NE(m.find("max_runing"), std::string::npos) << m;
  EXPECT_NE(m.find("test.yaml:2"), std::string::npos) << m;

  TempDir dir;
  std::string path = dir.Write("bad.yaml", "colour: blue\n");
  Result<DaemonConfig> r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("colour"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
}

TEST(DaemonConfigTest, RepeatedKeyIsAnError) {
  std::string m = ErrorOf("max_running: 3\nmax_running: 4\n");
  EXPECT_NE(m.find("max_running"), std::string::npos) << m;
}

TEST(DaemonConfigTest, WrongTypesNameTheKey) {
  struct Case {
    const char* yaml;
    const char* key;
  } cases[] = {
      {"max_running: abc", "max_running"},
      {"max_running: 2.5", "max_running"},
      {"max_running: [1]", "max_running"},
      {"max_queued: {a: 1}", "max_queued"},
      {"api_threads: \"\"", "api_threads"},
      {"api_threads:", "api_threads"},
      {"listen: [127.0.0.1:80]", "listen"},
      {"data_dir: {a: b}", "data_dir"},
      {"insecure_registries: localhost:5000", "insecure_registries"},
      {"insecure_registries: [[a]]", "insecure_registries"},
      {"log_level: 3", "log_level"},
  };
  for (const Case& c : cases) {
    std::string m = ErrorOf(c.yaml);
    EXPECT_NE(m.find(c.key), std::string::npos) << c.yaml << " -> " << m;
  }
}

TEST(DaemonConfigTest, RangesAreChecked) {
  for (const char* yaml : {"max_running: 0", "max_running: -1", "max_queued: -1", "api_threads: 0",
                           "api_threads: 65", "max_running: 99999999999", "log_level: verbose",
                           "data_dir: \"\"", "state_dir:", "cgroup_parent: \"\""}) {
    ErrorOf(yaml);
  }
  EXPECT_TRUE(Parse("api_threads: 1").ok());
  EXPECT_TRUE(Parse("max_running: 1").ok());
}

TEST(DaemonConfigTest, SyntaxErrorIsAStatusNotAnException) {
  std::string m = ErrorOf("max_running: [1, 2\n");
  EXPECT_NE(m.find("test.yaml"), std::string::npos) << m;
  ErrorOf("- a\n- b\n");  // a list, not a mapping
  ErrorOf("just words");
}

TEST(DaemonConfigTest, MissingFileIsNotFound) {
  Result<DaemonConfig> r = LoadConfigFile("/nonexistent/slipway.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST(DaemonConfigTest, ListenAddresses) {
  struct Good {
    const char* text;
    const char* host;
    int port;
  } good[] = {{"127.0.0.1:7780", "127.0.0.1", 7780},
              {"0.0.0.0:1", "0.0.0.0", 1},
              {"localhost:65535", "localhost", 65535},
              {"[::1]:80", "::1", 80},
              {"[::]:8080", "::", 8080}};
  for (const Good& g : good) {
    Result<ListenAddress> a = ParseListenAddress(g.text);
    ASSERT_TRUE(a.ok()) << g.text << ": " << a.status().ToString();
    EXPECT_EQ(a->host, g.host);
    EXPECT_EQ(a->port, g.port);
  }
  for (const char* bad :
       {"", "127.0.0.1", ":7780", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:80x", "::1:80", "[zz]:80", "[::1]", "a b:80", "host/x:80"}) {
    Result<ListenAddress> a = ParseListenAddress(bad);
    EXPECT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument) << bad;
  }
  std::string m = ErrorOf("listen: localhost");
  EXPECT_NE(m.find("listen"), std::string::npos) << m;
}

TEST(DaemonArgsTest, NoArgumentsMeansDefaults) {
  DaemonArgs a = Args({});
  ASSERT_FALSE(a.exit_code.has_value()) << a.output;
  EXPECT_TRUE(a.config == DaemonConfig{});
}

TEST(DaemonArgsTest, EveryFlagSetsItsValue) {
  // The "--flag=value" spelling; other tests use "--flag value".
  DaemonArgs a = Args({"--listen=0.0.0.0:9000",
                       "--data-dir=/d",
                       "--state-dir=/s",
                       "--cgroup-parent=ci",
                       "--token-file=/t",
                       "--log-file=/l",
                       "--log-level=warn",
                       "--max-running=3",
                       "--max-queued=7",
                       "--api-threads=2",
                       "--max-body-size=64k",
                       "--shutdown-timeout=3s",
                       "--monitor-binary=/m",
                       "--hello-world-archive=/h.tar",
                       "--registry-auth=/r",
                       "--insecure-registry=a:1",
                       "--insecure-registry=b:2",
                       "--max-layer-bytes=2g",
                       "--build-cache-max-bytes=1g",
                       "--build-allow-host-network=true",
                       "--build-memory-bytes=512m",
                       "--build-pids-limit=100"});
  ASSERT_FALSE(a.exit_code.has_value()) << a.output;
  DaemonConfig want;
  want.listen = "0.0.0.0:9000";
  want.data_dir = "/d";
  want.state_dir = "/s";
  want.cgroup_parent = "ci";
  want.token_file = "/t";
  want.log_file = "/l";
  want.log_level = "warn";
  want.max_running = 3;
  want.max_queued = 7;
  want.api_threads = 2;
  want.max_body_bytes = 64 * 1024;
  want.shutdown_timeout = 3s;
  want.monitor_binary = "/m";
  want.hello_world_archive = "/h.tar";
  want.registry_auth = "/r";
  want.insecure_registries = {"a:1", "b:2"};
  want.max_layer_bytes = int64_t{2} << 30;
  want.build_cache_max_bytes = int64_t{1} << 30;
  want.build_allow_host_network = true;
  want.build_memory_bytes = 512 << 20;
  want.build_pids_limit = 100;
  EXPECT_TRUE(a.config == want);
}

TEST(DaemonArgsTest, FlagsOverrideTheFile) {
  TempDir dir;
  std::string path = dir.Write("slipway.yaml",
                               "listen: 0.0.0.0:9000\nmax_running: 3\napi_threads: 2\n"
                               "insecure_registries: [old:5000]\n");
  DaemonArgs a = Args({"--max-running", "5", "--config", path, "--insecure-registry", "new:5000"});
  ASSERT_FALSE(a.exit_code.has_value()) << a.output;
  EXPECT_EQ(a.config.max_running, 5);          // flag, even though it came before --config
  EXPECT_EQ(a.config.listen, "0.0.0.0:9000");  // file
  EXPECT_EQ(a.config.api_threads, 2);          // file
  EXPECT_EQ(a.config.max_queued, 10000);       // default
  EXPECT_EQ(a.config.insecure_registries, std::vector<std::string>{"new:5000"});

  DaemonArgs b = Args({"--config", path});
  ASSERT_FALSE(b.exit_code.has_value()) << b.output;
  EXPECT_EQ(b.config.insecure_registries, std::vector<std::string>{"old:5000"});
}

TEST(DaemonArgsTest, HelpExitsZeroWithUsage) {
  for (const char* flag : {"--help", "-h"}) {
    DaemonArgs a = Args({flag});
    ASSERT_TRUE(a.exit_code.has_value());
    EXPECT_EQ(*a.exit_code, 0);
    for (const char* want :
         {"--config", "--listen", "--max-body-size", "--insecure-registry", "127.0.0.1:7780"}) {
      EXPECT_NE(a.output.find(want), std::string::npos) << want << " missing from:\n" << a.output;
    }
  }
}

TEST(DaemonArgsTest, ErrorsExitTwo) {
  TempDir dir;
  std::string bad_file = dir.Write("bad.yaml", "max_running: none\n");
  struct Case {
    std::vector<std::string> args;
    std::string want;  // in the message
  } cases[] = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--api-threads", "100"}, "--api-threads"},
      {{"--listen", "nowhere"}, "--listen"},
      {{"--shutdown-timeout", "10"}, "--shutdown-timeout"},
      {{"--max-body-size", "big"}, "--max-body-size"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--config", "/nonexistent/slipway.yaml"}, "/nonexistent/slipway.yaml"},
      {{"--config", bad_file}, "max_running"},
      {{"--max-running"}, "--max-running"},
      {{"stray"}, "stray"},
  };
  for (const Case& c : cases) {
    DaemonArgs a = Args(c.args);
    ASSERT_TRUE(a.exit_code.has_value()) << c.args[0];
    EXPECT_EQ(*a.exit_code, 2) << c.args[0];
    EXPECT_EQ(a.output.rfind("slipwayd: ", 0), 0u) << a.output;
    EXPECT_NE(a.output.find(c.want), std::string::npos) << a.output;
  }
}

TEST(DaemonConfigTest, DerivedPaths) {
  DaemonConfig c;
  c.data_dir = "/data";
  EXPECT_EQ(TokenPath(c), "/data/control.token");
  c.token_file = "/etc/slipway/token";
  EXPECT_EQ(TokenPath(c), "/etc/slipway/token");

  EXPECT_EQ(MonitorBinaryPath(c, "/usr/local/bin/slipwayd"), "/usr/local/bin/slipway-monitor");
  c.monitor_binary = "/opt/slipway-monitor";
  EXPECT_EQ(MonitorBinaryPath(c, "/usr/local/bin/slipwayd"), "/opt/slipway-monitor");
  c.monitor_binary.clear();
  {
    // The package's layout: /usr/sbin/slipwayd, /usr/libexec/slipway/slipway-monitor.
    TempDir usr;
    ASSERT_EQ(::mkdir((usr.path() + "/sbin").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((usr.path() + "/libexec").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((usr.path() + "/libexec/slipway").c_str(), 0755), 0);
    const std::string slipwayd = usr.path() + "/sbin/slipwayd";
    // Neither exists: the sibling is named (the error says where it looked first).
    EXPECT_EQ(MonitorBinaryPath(c, slipwayd), usr.path() + "/sbin/slipway-monitor");
    const std::string libexec = usr.path() + "/libexec/slipway/slipway-monitor";
    { std::ofstream(libexec) << "#!/bin/sh\n"; }
    ASSERT_EQ(::chmod(libexec.c_str(), 0755), 0);
    EXPECT_EQ(MonitorBinaryPath(c, slipwayd), usr.path() + "/sbin/../libexec/slipway/slipway-monitor");
    // A sibling, when there is one, comes first (bazel-bin and tools/serve.sh's layout).
    const std::string sibling = usr.path() + "/sbin/slipway-monitor";
    { std::ofstream(sibling) << "#!/bin/sh\n"; }
    ASSERT_EQ(::chmod(sibling.c_str(), 0755), 0);
    EXPECT_EQ(MonitorBinaryPath(c, slipwayd), sibling);
  }
  EXPECT_EQ(HelloWorldArchivePath(c, "/usr/sbin/slipwayd"), "/usr/sbin/../share/slipway/hello-world.tar");
  c.hello_world_archive = "/srv/hello.tar";
  EXPECT_EQ(HelloWorldArchivePath(c, "/usr/sbin/slipwayd"), "/srv/hello.tar");

  TempDir home;
  const char* old_home = std::getenv("HOME");
  std::string saved = old_home ? old_home : "";
  ::setenv("HOME", home.path().c_str(), 1);
  EXPECT_EQ(RegistryAuthPath(c), "");  // no ~/.docker/config.json: anonymous
  std::filesystem::create_directories(home.path() + "/.docker");
  std::string creds = home.Write(".docker/config.json", "{}");
  EXPECT_EQ(RegistryAuthPath(c), creds);
  c.registry_auth = "/etc/slipway/auth.json";
  EXPECT_EQ(RegistryAuthPath(c), "/etc/slipway/auth.json");
  if (old_home) {
    ::setenv("HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("HOME");
  }
}

}  // namespace
}  // namespace slipway::daemon

// slipwayd's configuration: built-in defaults, then a YAML file (--config),
// then command-line flags, each overriding the one before.
//
// config/slipway.yaml lists every key with its default and what it means; a
// test loads it and compares it with DaemonConfig{}, so the two cannot drift.
// Keys and flags are the same names (max_running, --max-running), except
// max_body_bytes (--max-body-size) and insecure_registries
// (--insecure-registry, repeatable).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"

namespace slipway::daemon {

struct DaemonConfig {
  std::string listen = "127.0.0.1:7780";  // ADDR:PORT of the REST API
  std::string data_dir = "/var/lib/slipway";
  std::string state_dir = "/run/slipway";
  std::string cgroup_parent = "slipway";
  std::string token_file;          // empty: <data_dir>/control.token (TokenPath)
  std::string log_file;            // empty: stderr
  std::string log_level = "info";  // debug, info, warn or error
  int max_running = 8;             // sandboxes running at once
  int max_queued = 10000;          // start requests waiting for a slot
  int api_threads = 4;
  int64_t max_body_bytes = 1 << 20;
  // Limits of the API's connections (docs/api.md, "Connections and limits").
  int api_max_connections = 4096;
  int64_t api_max_head_bytes = 64 << 10;
  std::chrono::milliseconds api_header_timeout{10'000};
  std::chrono::milliseconds api_body_timeout{30'000};
  std::chrono::milliseconds api_idle_timeout{60'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::string monitor_binary;  // empty: slipway-monitor next to slipwayd (MonitorBinaryPath)
  // An OCI archive imported at start-up as hello-world when the store has no
  // such image; empty: <slipwayd's dir>/../share/slipway/hello-world.tar
  // (the package's /usr/share/slipway/hello-world.tar). A path that does not
  // exist imports nothing.
  std::string hello_world_archive;
  std::string registry_auth;     // empty: ~/.docker/config.json if it exists (RegistryAuthPath)
  std::string signing_key_path;  // empty: <data_dir>/keys/provenance.pem (SigningKeyPath)
  std::vector<std::string> insecure_registries;  // host:port reached over plain http
  // A layer (or an ADDed archive) that expands beyond this is refused: a
  // small blob can be a decompression bomb. 0: no cap.
  int64_t max_layer_bytes = int64_t{16} << 30;
  int64_t build_cache_max_bytes = int64_t{10} << 30;  // 0: no limit
  // RUN --network=host reaches the host's loopback services: off unless the
  // operator allows it, and then only for builds that ask (--allow network.host).
  bool build_allow_host_network = false;
  // Limits of each build step's sandbox (0: none).
  int64_t build_memory_bytes = 0;
  int build_pids_limit = 4096;

  // Pipelines (docs/pipelines.md). Runs at once; more wait queued.
  int max_runs = 4;
  // A step's stored log is cut beyond this (the log says so).
  int64_t step_log_max_bytes = int64_t{8} << 20;
  // How long the workspace of a run that did not succeed is kept (0: removed
  // at its end like the others).
  std::chrono::milliseconds keep_failed_workspaces{0};
  // Runs kept per repository; older ended ones are pruned (0: none pruned
  // automatically; `slipway pipeline prune` still works).
  int keep_runs = 0;
  // A JUnit report file (`reports:` of a pipeline) larger than this is not
  // read; the run gets a warning naming it (docs/tests.md).
  int64_t reports_max_bytes = int64_t{64} << 20;
  // Limits of steps that set none and whose repository sets none (0: none).
  std::chrono::milliseconds step_default_timeout{0};
  int64_t step_default_memory = 0;  // bytes
  int64_t step_default_cpus = 0;    // millicpus
  int64_t step_default_pids = 0;
  // The most any step may ask for (0: no maximum).
  std::chrono::milliseconds step_max_timeout{0};
  int64_t step_max_memory = 0;
  int64_t step_max_cpus = 0;
  int64_t step_max_pids = 0;

  // Webhooks (docs/webhooks.md). Where forges deliver: "" serves /hooks/* on
  // `listen` (one port); an ADDR:PORT of its own serves only /hooks/* there.
  std::string webhook_listen;
  int64_t webhook_max_body_bytes = int64_t{25} << 20;  // GitHub's own cap
  // How long a delivery id is remembered, so that a replay runs nothing.
  std::chrono::milliseconds webhook_delivery_keep{std::chrono::hours(24 * 7)};
  // The base URL forges and users reach slipwayd at: webhook URLs and
  // commit statuses' target URLs are made from it. "": derived (PublicUrl).
  std::string public_url;
  // How long a commit status a forge refuses (or does not answer) is retried.
  std::chrono::milliseconds status_retry_for{std::chrono::minutes(10)};

  // Promotion (docs/promotion.md): a push the registry failed (down, a
  // timeout, a server error) is tried again this many times, waiting
  // promotion_backoff first and twice as long each next time, at most
  // promotion_max_backoff; then `slipway pipeline promote RUN` retries.
  int promotion_retries = 3;
  std::chrono::milliseconds promotion_backoff{5'000};
  std::chrono::milliseconds promotion_max_backoff{60'000};

  // The web dashboard (docs/dashboard.md): whether /ui/ and /badge/ are
  // served, and whether anyone reaching the listener may read (never operate).
  bool dashboard = true;
  bool dashboard_public_read = false;

  bool operator==(const DaemonConfig&) const = default;
};

// Reads a YAML mapping of the keys above, on top of the defaults. Strict: an
// unknown or repeated key, a value of the wrong type or out of range is
// kInvalidArgument naming the file, the line and the key. Sizes take a
// number of bytes or a unit ("1m"); durations take a unit ("10s", "500ms").
Result<DaemonConfig> LoadConfigFile(const std::string& path);
// The same, from text; `source` names it in errors.
Result<DaemonConfig> ParseConfigYaml(const std::string& text, const std::string& source);

// Every key a config file may hold, in the order of config/slipway.yaml.
std::vector<std::string> ConfigKeys();

// The parts of `listen`: host (a name, an IPv4 address or a bracketed IPv6
// address, brackets removed) and port 1..65535.
struct ListenAddress {
  std::string host;
  int port = 0;
};
Result<ListenAddress> ParseListenAddress(const std::string& text);

// What main does with its command line: run with `config`, or, when
// `exit_code` is set, print `output` (to stdout if the code is 0: --help; to
// stderr otherwise: a usage or configuration error, code 2) and exit.
struct DaemonArgs {
  DaemonConfig config;
  std::optional<int> exit_code;
  std::string output;
};
// `slipwayd [--config FILE] [--listen ADDR:PORT] [--data-dir DIR] ...`.
// --config is loaded first, wherever it stands; the other flags override
// what it sets. A flag given twice is an error, except --insecure-registry,
// whose values replace the file's list.
DaemonArgs ParseDaemonArgs(int argc, const char* const* argv);

// Paths that default to something derived from other values.
std::string TokenPath(const DaemonConfig& config);     // token_file, or <data_dir>/control.token
std::string DatabasePath(const DaemonConfig& config);  // <data_dir>/slipway.db
// Scratch space and the layer cache of image builds: <data_dir>/build (on the
// data directory's filesystem, which can hold overlay upper dirs).
std::string BuildDir(const DaemonConfig& config);
// Pipelines: runs' workspaces and logs (<data_dir>/runs), repositories'
// bare mirrors (<data_dir>/repos), the key sealing their secrets
// (<data_dir>/secrets.key) and the ssh keys of fetches, written only while
// one runs (<state_dir>/ssh: tmpfs, gone at reboot).
std::string RunsDir(const DaemonConfig& config);
std::string MirrorsDir(const DaemonConfig& config);
std::string SecretKeyPath(const DaemonConfig& config);
std::string SshDir(const DaemonConfig& config);
// The Ed25519 key signing promotions' provenance: signing_key_path, or
// <data_dir>/keys/provenance.pem.
std::string SigningKeyPath(const DaemonConfig& config);
// monitor_binary, or slipway-monitor in the directory of `self_exe` (the path
// of slipwayd itself, from readlink /proc/self/exe), or, if that is not an
// executable and this is, <that dir>/../libexec/slipway/slipway-monitor (the
// package installs /usr/sbin/slipwayd and /usr/libexec/slipway/slipway-monitor).
std::string MonitorBinaryPath(const DaemonConfig& config, const std::string& self_exe);
// hello_world_archive, or <dir of self_exe>/../share/slipway/hello-world.tar.
std::string HelloWorldArchivePath(const DaemonConfig& config, const std::string& self_exe);
// registry_auth, or $HOME/.docker/config.json if it is readable, or "" (no
// credentials).
std::string RegistryAuthPath(const DaemonConfig& config);
// public_url, or http://<webhook_listen, or listen> (an unspecified host,
// 0.0.0.0 or [::], replaced by this machine's hostname). No trailing "/".
std::string PublicUrl(const DaemonConfig& config);

}  // namespace slipway::daemon

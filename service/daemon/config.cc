#include "service/daemon/config.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>

#include "engine/base/database.h"
#include "engine/base/fs.h"
#include "engine/base/self_exe.h"
#include "engine/base/units.h"

namespace slipway::daemon {

namespace {

// One configuration value: its YAML key, its flag, and how to set it from
// text. Both the file and the flags go through `set`, so a value means the
// same and is checked the same wherever it comes from.
struct Field {
  const char* key;
  const char* flag;
  const char* type;  // for --help
  const char* help;
  Status (*set)(DaemonConfig&, const std::string&);  // appends for the list field
  std::string (*get)(const DaemonConfig&);           // the default shown in --help
  bool list = false;
};

template <std::string DaemonConfig::*M>
Status SetString(DaemonConfig& c, const std::string& v) {
  c.*M = v;
  return Status::Ok();
}

template <std::string DaemonConfig::*M>
Status SetNonEmpty(DaemonConfig& c, const std::string& v) {
  if (v.empty()) return InvalidArgument("must not be empty");
  c.*M = v;
  return Status::Ok();
}

template <std::string DaemonConfig::*M>
std::string GetString(const DaemonConfig& c) {
  return c.*M;
}

template <int DaemonConfig::*M, int kMin, int kMax>
Status SetInt(DaemonConfig& c, const std::string& v) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgument("want an integer, got \"" + v + "\"");
  }
  if (n < kMin || n > kMax) {
    std::string range = kMax == std::numeric_limits<int>::max()
                            ? "at least " + std::to_string(kMin)
                            : std::to_string(kMin) + " to " + std::to_string(kMax);
    return InvalidArgument(v + " is out of range: want " + range);
  }
  c.*M = n;
  return Status::Ok();
}

template <int DaemonConfig::*M>
std::string GetInt(const DaemonConfig& c) {
  return std::to_string(c.*M);
}

Status SetListen(DaemonConfig& c, const std::string& v) {
  SLIPWAY_RETURN_IF_ERROR(ParseListenAddress(v).status());
  c.listen = v;
  return Status::Ok();
}

Status SetWebhookListen(DaemonConfig& c, const std::string& v) {
  if (!v.empty()) SLIPWAY_RETURN_IF_ERROR(ParseListenAddress(v).status());
  c.webhook_listen = v;
  return Status::Ok();
}

// An absolute http(s) URL without a query or fragment; a trailing "/" is
// dropped ("https://ci.example.com/" -> "https://ci.example.com").
Status SetPublicUrl(DaemonConfig& c, const std::string& v) {
  std::string url = v;
  while (url.ends_with("/")) url.pop_back();
  if (!url.empty()) {
    const bool http = url.starts_with("http://"), https = url.starts_with("https://");
    const size_t host = http ? 7 : 8;
    if ((!http && !https) || url.size() <= host || url.find_first_of("?# \t\r\n") != std::string::npos) {
      return InvalidArgument("want an http:// or https:// URL such as https://ci.example.com, got \"" + v +
                             "\"");
    }
  }
  c.public_url = url;
  return Status::Ok();
}

Status SetLogLevel(DaemonConfig& c, const std::string& v) {
  if (v != "debug" && v != "info" && v != "warn" && v != "error") {
    return InvalidArgument("want debug, info, warn or error, got \"" + v + "\"");
  }
  c.log_level = v;
  return Status::Ok();
}

// `zero_is_no_limit`: "0" is accepted and means no limit (ParseBytes wants
// a positive size).
template <int64_t DaemonConfig::*M, bool zero_is_no_limit>
Status SetBytes(DaemonConfig& c, const std::string& v) {
  if (zero_is_no_limit && v == "0") {
    c.*M = 0;
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(c.*M, ParseBytes(v));
  return Status::Ok();
}

// "1m" rather than "1048576" in --help, in the unit a user would write.
template <int64_t DaemonConfig::*M>
std::string GetBytes(const DaemonConfig& c) {
  int64_t b = c.*M;
  if (b == 0) return "0";
  if (b % (int64_t{1} << 30) == 0) return std::to_string(b >> 30) + "g";
  if (b % (1 << 20) == 0) return std::to_string(b >> 20) + "m";
  if (b % (1 << 10) == 0) return std::to_string(b >> 10) + "k";
  return std::to_string(b);
}

// "0", "0s", "0ms", "00m": zero in any unit (ParseDuration wants more).
bool IsZeroDuration(const std::string& v) {
  size_t digits = v.find_first_not_of('0');
  if (digits == 0) return false;
  std::string unit = digits == std::string::npos ? "" : v.substr(digits);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h";
}

template <std::chrono::milliseconds DaemonConfig::*M, bool kZeroAllowed>
Status SetDuration(DaemonConfig& c, const std::string& v) {
  if (kZeroAllowed && IsZeroDuration(v)) {
    c.*M = std::chrono::milliseconds(0);
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::chrono::milliseconds d, ParseDuration(v));
  if (!kZeroAllowed && d.count() <= 0) return InvalidArgument("must be more than 0, not \"" + v + "\"");
  c.*M = d;
  return Status::Ok();
}

template <std::chrono::milliseconds DaemonConfig::*M>
std::string GetDuration(const DaemonConfig& c) {
  int64_t ms = (c.*M).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// CPUs as `docker run --cpus` ("0.5", "2"), kept in millicpus; "0": none.
template <int64_t DaemonConfig::*M>
Status SetCpus(DaemonConfig& c, const std::string& v) {
  if (v == "0") {
    c.*M = 0;
    return Status::Ok();
  }
  SLIPWAY_ASSIGN_OR_RETURN(c.*M, ParseCpus(v));
  return Status::Ok();
}

template <int64_t DaemonConfig::*M>
std::string GetCpus(const DaemonConfig& c) {
  int64_t m = c.*M;
  if (m % 1000 == 0) return std::to_string(m / 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(m) / 1000);
  return buf;
}

template <int64_t DaemonConfig::*M, int64_t kMin, int64_t kMax>
Status SetInt64(DaemonConfig& c, const std::string& v) {
  std::optional<int64_t> n = ParseInt(v);
  if (!n || v[0] == '+') return InvalidArgument("want an integer, got \"" + v + "\"");
  if (*n < kMin || *n > kMax) {
    return InvalidArgument(v + " is out of range: want " + std::to_string(kMin) + " to " +
                           std::to_string(kMax));
  }
  c.*M = *n;
  return Status::Ok();
}

template <int64_t DaemonConfig::*M>
std::string GetInt64(const DaemonConfig& c) {
  return std::to_string(c.*M);
}

template <bool DaemonConfig::*M>
Status SetBool(DaemonConfig& c, const std::string& v) {
  if (v != "true" && v != "false") return InvalidArgument("want true or false, not \"" + v + "\"");
  c.*M = v == "true";
  return Status::Ok();
}

template <bool DaemonConfig::*M>
std::string GetBool(const DaemonConfig& c) {
  return c.*M ? "true" : "false";
}

Status AddInsecureRegistry(DaemonConfig& c, const std::string& v) {
  if (v.empty()) return InvalidArgument("a registry must not be empty");
  c.insecure_registries.push_back(v);
  return Status::Ok();
}

std::string GetNothing(const DaemonConfig&) {
  return "";
}

constexpr int kIntMax = std::numeric_limits<int>::max();
using C = DaemonConfig;

const std::array<Field, 51> kFields = {{
    {"listen", "--listen", "ADDR:PORT", "Address and port of the REST API", SetListen, GetString<&C::listen>},
    {"data_dir", "--data-dir", "DIR", "Images, the database and the control token", SetNonEmpty<&C::data_dir>,
     GetString<&C::data_dir>},
    {"state_dir", "--state-dir", "DIR", "Runtime state of running sandboxes (tmpfs)",
     SetNonEmpty<&C::state_dir>, GetString<&C::state_dir>},
    {"cgroup_parent", "--cgroup-parent", "NAME", "Parent cgroup of every sandbox",
     SetNonEmpty<&C::cgroup_parent>, GetString<&C::cgroup_parent>},
    {"token_file", "--token-file", "FILE", "Control token file (default <data-dir>/control.token)",
     SetString<&C::token_file>, GetString<&C::token_file>},
    {"log_file", "--log-file", "FILE", "Event log, one JSON object a line (default stderr)",
     SetString<&C::log_file>, GetString<&C::log_file>},
    {"log_level", "--log-level", "LEVEL", "Least severe event logged: debug, info, warn or error",
     SetLogLevel, GetString<&C::log_level>},
    {"max_running", "--max-running", "N", "Sandboxes running at once; others wait in the queue",
     SetInt<&C::max_running, 1, kIntMax>, GetInt<&C::max_running>},
    {"max_queued", "--max-queued", "N", "Start requests waiting for a slot before refusing more",
     SetInt<&C::max_queued, 0, kIntMax>, GetInt<&C::max_queued>},
    {"api_threads", "--api-threads", "N", "Threads serving the REST API (1 to 64)",
     SetInt<&C::api_threads, 1, 64>, GetInt<&C::api_threads>},
    {"max_body_bytes", "--max-body-size", "SIZE", "Largest request body (e.g. 1m)",
     SetBytes<&C::max_body_bytes, false>, GetBytes<&C::max_body_bytes>},
    {"api_max_connections", "--api-max-connections", "N",
     "API connections open at once; the longest quiet one is closed to make room",
     SetInt<&C::api_max_connections, 1, kIntMax>, GetInt<&C::api_max_connections>},
    {"api_max_head_bytes", "--api-max-head-bytes", "SIZE", "Largest request line and headers (1k to 1g)",
     SetBytes<&C::api_max_head_bytes, false>, GetBytes<&C::api_max_head_bytes>},
    {"api_header_timeout", "--api-header-timeout", "DURATION",
     "Time for a request line and headers to arrive (408 after)", SetDuration<&C::api_header_timeout, false>,
     GetDuration<&C::api_header_timeout>},
    {"api_body_timeout", "--api-body-timeout", "DURATION", "Time for a request body to arrive (408 after)",
     SetDuration<&C::api_body_timeout, false>, GetDuration<&C::api_body_timeout>},
    {"api_idle_timeout", "--api-idle-timeout", "DURATION",
     "How long a kept-alive connection may wait for a request", SetDuration<&C::api_idle_timeout, false>,
     GetDuration<&C::api_idle_timeout>},
    {"shutdown_timeout", "--shutdown-timeout", "DURATION",
     "How long shutdown waits for running sandboxes (e.g. 10s)", SetDuration<&C::shutdown_timeout, true>,
     GetDuration<&C::shutdown_timeout>},
    {"monitor_binary", "--monitor-binary", "FILE", "slipway-monitor (default: next to slipwayd)",
     SetString<&C::monitor_binary>, GetString<&C::monitor_binary>},
    {"hello_world_archive", "--hello-world-archive", "FILE",
     "OCI archive imported as hello-world at start-up if the store lacks it (default: "
     "../share/slipway/hello-world.tar from slipwayd's directory)",
     SetString<&C::hello_world_archive>, GetString<&C::hello_world_archive>},
    {"registry_auth", "--registry-auth", "FILE",
     "Registry credentials, Docker's config.json format (default ~/.docker/config.json)",
     SetString<&C::registry_auth>, GetString<&C::registry_auth>},
    {"signing_key_path", "--signing-key", "FILE",
     "Ed25519 key signing promotions' provenance (default <data_dir>/keys/provenance.pem)",
     SetString<&C::signing_key_path>, GetString<&C::signing_key_path>},
    {"insecure_registries", "--insecure-registry", "HOST:PORT",
     "A registry reached over plain http; repeat for more (replaces the file's list)", AddInsecureRegistry,
     GetNothing, /*list=*/true},
    {"max_layer_bytes", "--max-layer-bytes", "SIZE",
     "Largest uncompressed size of a layer or an ADDed archive (0: no cap)",
     SetBytes<&C::max_layer_bytes, true>, GetBytes<&C::max_layer_bytes>},
    {"build_cache_max_bytes", "--build-cache-max-bytes", "SIZE",
     "Size the build cache is trimmed to after each build, least recently used first (0: no limit)",
     SetBytes<&C::build_cache_max_bytes, true>, GetBytes<&C::build_cache_max_bytes>},
    {"build_allow_host_network", "--build-allow-host-network", "true|false",
     "Whether builds may ask for RUN --network=host (slipway build --allow network.host)",
     SetBool<&C::build_allow_host_network>, GetBool<&C::build_allow_host_network>},
    {"build_memory_bytes", "--build-memory-bytes", "SIZE", "Memory limit of each build step (0: none)",
     SetBytes<&C::build_memory_bytes, true>, GetBytes<&C::build_memory_bytes>},
    {"build_pids_limit", "--build-pids-limit", "N", "Processes each build step may have (0: no limit)",
     SetInt<&C::build_pids_limit, 0, kIntMax>, GetInt<&C::build_pids_limit>},
    {"max_runs", "--max-runs", "N", "Pipeline runs at once; more wait queued",
     SetInt<&C::max_runs, 1, kIntMax>, GetInt<&C::max_runs>},
    {"step_log_max_bytes", "--step-log-max-bytes", "SIZE", "A step's stored log is cut beyond this size",
     SetBytes<&C::step_log_max_bytes, false>, GetBytes<&C::step_log_max_bytes>},
    {"keep_failed_workspaces", "--keep-failed-workspaces", "DURATION",
     "How long the workspace of a run that did not succeed is kept (0: removed at once)",
     SetDuration<&C::keep_failed_workspaces, true>, GetDuration<&C::keep_failed_workspaces>},
    {"keep_runs", "--keep-runs", "N", "Runs kept per repository, older ended ones pruned (0: keep all)",
     SetInt<&C::keep_runs, 0, kIntMax>, GetInt<&C::keep_runs>},
    {"reports_max_bytes", "--reports-max-bytes", "SIZE",
     "A run's JUnit report larger than this is not read (the run gets a warning)",
     SetBytes<&C::reports_max_bytes, false>, GetBytes<&C::reports_max_bytes>},
    {"step_default_timeout", "--step-default-timeout", "DURATION",
     "Timeout of steps that set none, nor their repository (0: none)",
     SetDuration<&C::step_default_timeout, true>, GetDuration<&C::step_default_timeout>},
    {"step_default_memory", "--step-default-memory", "SIZE", "Memory limit of steps that set none (0: none)",
     SetBytes<&C::step_default_memory, true>, GetBytes<&C::step_default_memory>},
    {"step_default_cpus", "--step-default-cpus", "CPUS",
     "CPUs of steps that set none, e.g. 1.5 (0: no limit)", SetCpus<&C::step_default_cpus>,
     GetCpus<&C::step_default_cpus>},
    {"step_default_pids", "--step-default-pids", "N", "Processes of steps that set none (0: no limit)",
     SetInt64<&C::step_default_pids, 0, int64_t{1} << 22>, GetInt64<&C::step_default_pids>},
    {"step_max_timeout", "--step-max-timeout", "DURATION", "The longest timeout a step may ask for (0: any)",
     SetDuration<&C::step_max_timeout, true>, GetDuration<&C::step_max_timeout>},
    {"step_max_memory", "--step-max-memory", "SIZE", "The most memory a step may ask for (0: any)",
     SetBytes<&C::step_max_memory, true>, GetBytes<&C::step_max_memory>},
    {"step_max_cpus", "--step-max-cpus", "CPUS", "The most CPUs a step may ask for (0: any)",
     SetCpus<&C::step_max_cpus>, GetCpus<&C::step_max_cpus>},
    {"step_max_pids", "--step-max-pids", "N", "The most processes a step may ask for (0: any)",
     SetInt64<&C::step_max_pids, 0, int64_t{1} << 22>, GetInt64<&C::step_max_pids>},
    {"webhook_listen", "--webhook-listen", "ADDR:PORT",
     "Where forges deliver webhooks, if not on --listen (that listener then serves only /hooks/*)",
     SetWebhookListen, GetString<&C::webhook_listen>},
    {"webhook_max_body_bytes", "--webhook-max-body-bytes", "SIZE", "Largest webhook delivery (413 beyond)",
     SetBytes<&C::webhook_max_body_bytes, false>, GetBytes<&C::webhook_max_body_bytes>},
    {"webhook_delivery_keep", "--webhook-delivery-keep", "DURATION",
     "How long a delivery id is remembered, so that a replay runs nothing",
     SetDuration<&C::webhook_delivery_keep, false>, GetDuration<&C::webhook_delivery_keep>},
    {"public_url", "--public-url", "URL",
     "Base URL forges and users reach slipwayd at (default http://<webhook-listen or listen>)", SetPublicUrl,
     GetString<&C::public_url>},
    {"status_retry_for", "--status-retry-for", "DURATION",
     "How long a commit status the forge refuses is retried, with backoff",
     SetDuration<&C::status_retry_for, false>, GetDuration<&C::status_retry_for>},
    {"promotion_retries", "--promotion-retries", "N",
     "How often a promotion the registry failed (down, timeout, server error) is tried again",
     SetInt<&C::promotion_retries, 0, 100>, GetInt<&C::promotion_retries>},
    {"promotion_backoff", "--promotion-backoff", "DURATION",
     "The wait before a promotion's first retry; it doubles for each next one",
     SetDuration<&C::promotion_backoff, false>, GetDuration<&C::promotion_backoff>},
    {"promotion_max_backoff", "--promotion-max-backoff", "DURATION",
     "The longest wait between promotion retries", SetDuration<&C::promotion_max_backoff, false>,
     GetDuration<&C::promotion_max_backoff>},
    {"sandbox_pool_size", "--sandbox-pool-size", "N",
     "Sandboxes prepared ahead (monitor running, cgroups and namespaces made) for warm starts; 0: none, "
     "and no pipeline step staged ahead",
     SetInt<&C::sandbox_pool_size, 0, 64>, GetInt<&C::sandbox_pool_size>},
    {"dashboard", "--dashboard", "true|false", "Serve the web dashboard (/ui/) and status badges (/badge/)",
     SetBool<&C::dashboard>, GetBool<&C::dashboard>},
    {"dashboard_public_read", "--dashboard-public-read", "true|false",
     "Let anyone who reaches the listener read runs, logs and tests (never cancel, re-run or promote)",
     SetBool<&C::dashboard_public_read>, GetBool<&C::dashboard_public_read>},
}};

const Field* FindField(const std::string& key) {
  for (const Field& f : kFields) {
    if (key == f.key) return &f;
  }
  return nullptr;
}

const char* NodeKind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "a single value";
  }
}

// A null value ("key:" with nothing after it) reads as "" for a single
// value and as an empty list.
Status SetFromNode(DaemonConfig& c, const Field& f, const YAML::Node& value) {
  if (value.IsNull()) return f.list ? Status::Ok() : f.set(c, "");
  if (!f.list) {
    if (!value.IsScalar()) return InvalidArgument(std::string("want a single value, got ") + NodeKind(value));
    return f.set(c, value.Scalar());
  }
  if (!value.IsSequence()) return InvalidArgument(std::string("want a list, got ") + NodeKind(value));
  for (const YAML::Node& item : value) {
    if (!item.IsScalar())
      return InvalidArgument(std::string("want a list of strings, got ") + NodeKind(item));
    SLIPWAY_RETURN_IF_ERROR(f.set(c, item.Scalar()));
  }
  return Status::Ok();
}

Status ApplyYaml(DaemonConfig& c, const YAML::Node& root, const std::string& source) {
  if (root.IsNull()) return Status::Ok();  // an empty file: all defaults
  if (!root.IsMap()) return InvalidArgument(source + ": want a mapping of keys to values");
  std::set<std::string> seen;
  for (const auto& entry : root) {
    std::string where = source + ":" + std::to_string(entry.first.Mark().line + 1);
    if (!entry.first.IsScalar()) return InvalidArgument(where + ": a key must be a single word");
    const std::string& key = entry.first.Scalar();
    const Field* field = FindField(key);
    if (field == nullptr) return InvalidArgument(where + ": unknown key \"" + key + "\"");
    if (!seen.insert(key).second) return InvalidArgument(where + ": key \"" + key + "\" is repeated");
    SLIPWAY_RETURN_IF_ERROR(SetFromNode(c, *field, entry.second).Wrap(where + ": " + key));
  }
  return Status::Ok();
}

DaemonArgs Exit(int code, std::string output) {
  DaemonArgs a;
  a.exit_code = code;
  a.output = std::move(output);
  return a;
}

DaemonArgs UsageError(const std::string& message) {
  return Exit(2, "slipwayd: " + message + " (see \"slipwayd --help\")\n");
}

}  // namespace

Result<DaemonConfig> ParseConfigYaml(const std::string& text, const std::string& source) {
  DaemonConfig c;
  try {
    SLIPWAY_RETURN_IF_ERROR(ApplyYaml(c, YAML::Load(text), source));
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax errors by throwing; they stop here.
    return InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return c;
}

Result<DaemonConfig> LoadConfigFile(const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseConfigYaml(text, path);
}

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> keys;
  for (const Field& f : kFields) keys.push_back(f.key);
  return keys;
}

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid address \"" + text + "\": " + why +
                           " (want ADDR:PORT, e.g. 127.0.0.1:7780 or [::1]:7780)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  ListenAddress a;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    a.host = host.substr(1, host.size() - 2);
    in6_addr addr;
    if (::inet_pton(AF_INET6, a.host.c_str(), &addr) != 1) return bad("not an IPv6 address");
  } else {
    if (host.empty()) return bad("no host");
    for (char ch : host) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') {
        return bad("not a host name or IPv4 address (an IPv6 address goes in brackets)");
      }
    }
    a.host = host;
  }
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || a.port < 1 || a.port > 65535) {
    return bad("port must be 1 to 65535");
  }
  return a;
}

DaemonArgs ParseDaemonArgs(int argc, const char* const* argv) {
  CLI::App app{"slipwayd: the Slipway daemon and its REST API", "slipwayd"};
  std::string config_path;
  app.add_option("--config", config_path,
                 "YAML configuration file (see config/slipway.yaml); flags override it")
      ->type_name("FILE");
  const DaemonConfig defaults;
  // Flags are collected as text first: the file they override is only read
  // once the whole command line has been parsed.
  std::vector<std::string> scalars(kFields.size());
  std::vector<std::string> registries;
  for (size_t i = 0; i < kFields.size(); ++i) {
    const Field& f = kFields[i];
    CLI::Option* opt = f.list ? app.add_option(f.flag, registries, f.help)->allow_extra_args(false)
                              : app.add_option(f.flag, scalars[i], f.help);
    opt->type_name(f.type);
    if (std::string d = f.get(defaults); !d.empty()) opt->default_str(d);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Exit(0, app.help());
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }

  DaemonArgs args;
  if (app.count("--config") > 0) {
    Result<DaemonConfig> loaded = LoadConfigFile(config_path);
    if (!loaded.ok()) return Exit(2, "slipwayd: " + loaded.status().message() + "\n");
    args.config = std::move(loaded).value();
  }
  for (size_t i = 0; i < kFields.size(); ++i) {
    const Field& f = kFields[i];
    if (app.count(f.flag) == 0) continue;
    Status st;
    if (f.list) {
      args.config.insecure_registries.clear();
      for (const std::string& r : registries) {
        st = f.set(args.config, r);
        if (!st.ok()) break;
      }
    } else {
      st = f.set(args.config, scalars[i]);
    }
    if (!st.ok()) return UsageError(st.Wrap(f.flag).message());
  }
  return args;
}

std::string TokenPath(const DaemonConfig& c) {
  return c.token_file.empty() ? c.data_dir + "/control.token" : c.token_file;
}

std::string DatabasePath(const DaemonConfig& c) {
  return c.data_dir + "/" + kDatabaseFileName;
}

std::string BuildDir(const DaemonConfig& c) {
  return c.data_dir + "/build";
}

std::string RunsDir(const DaemonConfig& c) {
  return c.data_dir + "/runs";
}

std::string MirrorsDir(const DaemonConfig& c) {
  return c.data_dir + "/repos";
}

std::string SecretKeyPath(const DaemonConfig& c) {
  return c.data_dir + "/secrets.key";
}

std::string SigningKeyPath(const DaemonConfig& c) {
  return c.signing_key_path.empty() ? c.data_dir + "/keys/provenance.pem" : c.signing_key_path;
}

std::string SshDir(const DaemonConfig& c) {
  return c.state_dir + "/ssh";
}

namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

std::string MonitorBinaryPath(const DaemonConfig& c, const std::string& self_exe) {
  if (!c.monitor_binary.empty()) return c.monitor_binary;
  return HelperProgramPath(self_exe, "slipway-monitor");
}

std::string HelloWorldArchivePath(const DaemonConfig& c, const std::string& self_exe) {
  if (!c.hello_world_archive.empty()) return c.hello_world_archive;
  return DirOf(self_exe) + "/../share/slipway/hello-world.tar";
}

std::string RegistryAuthPath(const DaemonConfig& c) {
  if (!c.registry_auth.empty()) return c.registry_auth;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  std::string path = std::string(home) + "/.docker/config.json";
  return ::access(path.c_str(), R_OK) == 0 ? path : "";
}

}  // namespace slipway::daemon

namespace slipway::daemon {

std::string PublicUrl(const DaemonConfig& c) {
  if (!c.public_url.empty()) return c.public_url;
  const std::string& listen = c.webhook_listen.empty() ? c.listen : c.webhook_listen;
  auto address = ParseListenAddress(listen);
  if (!address.ok()) return "http://" + listen;
  std::string host = address->host;
  if (host == "0.0.0.0" || host == "::") {
    // Listening everywhere: the machine's name is what others reach it by.
    char name[256] = {};
    host = ::gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
  } else if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  return "http://" + host + ":" + std::to_string(address->port);
}

}  // namespace slipway::daemon

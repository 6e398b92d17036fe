// The OCI image configuration: what `slipway run IMAGE` honours (Entrypoint,
// Cmd, Env, WorkingDir, User, StopSignal) and the layer diff_ids that
// identify the image's filesystem. The fields Docker adds to the OCI ones
// (Healthcheck, OnBuild, Shell) are kept too, so that an image built FROM
// another keeps them and ONBUILD triggers run, as with docker build.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/oci/digest.h"

namespace slipway {

struct HistoryEntry {
  std::string created;  // RFC 3339
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

// Docker's HEALTHCHECK: durations in nanoseconds, 0 meaning "inherit".
struct Healthcheck {
  std::vector<std::string> test;  // {"NONE"}, {"CMD", argv...} or {"CMD-SHELL", line}
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int64_t start_interval_ns = 0;
  int retries = 0;

  bool operator==(const Healthcheck&) const = default;
};

struct ImageConfig {
  std::string architecture = "amd64";
  std::string os = "linux";
  std::string created;  // RFC 3339, may be empty
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
  std::vector<std::string> volumes;        // "/data"; a set (written sorted)
  std::string stop_signal;                 // "SIGQUIT", "9", ...; empty: SIGTERM
  std::vector<std::string> shell;          // SHELL; empty: {"/bin/sh", "-c"}
  std::vector<std::string> on_build;       // ONBUILD triggers, as written
  std::optional<Healthcheck> healthcheck;
  std::vector<Digest> diff_ids;
  std::vector<HistoryEntry> history;

  // Strict on what Slipway relies on (rootfs.diff_ids), lenient on the rest:
  // unknown fields are ignored, as every runtime does.
  static Result<ImageConfig> Parse(const std::string& json);
  // Canonical JSON: the bytes whose sha256 is the image id.
  std::string ToJson() const;

  // The command to run: Entrypoint + (args if given, else Cmd), as Docker.
  std::vector<std::string> Command(const std::vector<std::string>& args) const;
};

}  // namespace slipway

// The create request: what a client asks for in POST /api/v1/containers
// (docs/api.md), and its one JSON codec. The CLI encodes it, slipwayd decodes
// it; no other code writes this JSON by hand.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/runtime/cgroup.h"

namespace slipway {

// What a client asks for in POST /api/v1/containers (docs/api.md). Decoding
// is strict: unknown fields, wrong types and out-of-range values are errors.
struct CreateRequest {
  std::string name;                                    // optional; unique among containers until removed
  std::string image;                                   // an image reference or id...
  std::string rootfs;                                  // ...or an absolute directory on the host; exactly one
  std::optional<std::vector<std::string>> entrypoint;  // overrides the image's
  std::vector<std::string> command;                    // overrides the image's Cmd
  std::vector<std::string> env;                        // KEY=VALUE
  std::string workdir, user, hostname;
  CgroupLimits limits;  // memory_bytes, memory_swap_bytes, cpu_millis, pids_limit
  int64_t storage_bytes = 0;
  int64_t timeout_ms = 0;
  std::string network = "none";    // "none", "host" or "container:NAME"
  std::vector<std::string> binds;  // "HOST:CTR[:ro|rw]"
  std::vector<std::string> cap_add, cap_drop;
  bool auto_remove = false;  // remove once ended (Docker's --rm)
  // What `stop` sends first ("SIGQUIT", "9"...). Empty in a request: the
  // image's StopSignal, else SIGTERM; Create() stores what it resolved to.
  std::string stop_signal;

  // Every field, in the documented order: what the CLI sends, and the
  // "request" of a container's JSON.
  nlohmann::ordered_json ToJsonValue() const;
  std::string ToJson() const;
  static Result<CreateRequest> FromJson(const std::string& text);
};

}  // namespace slipway

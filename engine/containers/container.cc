#include "engine/containers/container.h"

#include <time.h>

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "engine/base/time_json.h"

namespace slipway {

namespace {

using json = nlohmann::json;
// Output keeps the documented field order, which a client reading by eye expects.
using ordered_json = nlohmann::ordered_json;

constexpr ContainerState kAllStates[] = {
    ContainerState::kCreated, ContainerState::kQueued, ContainerState::kStarting, ContainerState::kRunning,
    ContainerState::kExited,  ContainerState::kFailed, ContainerState::kLost,
};

// dump() throws on ill-formed UTF-8 (a path or argument from an image may
// hold any bytes); replacing it keeps ToJson() from throwing.
std::string Dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

const char* ContainerStateName(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated: return "created";
    case ContainerState::kQueued: return "queued";
    case ContainerState::kStarting: return "starting";
    case ContainerState::kRunning: return "running";
    case ContainerState::kExited: return "exited";
    case ContainerState::kFailed: return "failed";
    case ContainerState::kLost: return "lost";
  }
  return "unknown";
}

Result<ContainerState> ParseContainerState(const std::string& name) {
  for (ContainerState s : kAllStates) {
    if (name == ContainerStateName(s)) return s;
  }
  return InvalidArgument("unknown container state \"" + name + "\"");
}

bool IsFinal(ContainerState state) {
  return state == ContainerState::kExited || state == ContainerState::kFailed ||
         state == ContainerState::kLost;
}

std::string Container::ToJson() const {
  ordered_json j;
  j["id"] = id;
  j["name"] = name;
  j["state"] = ContainerStateName(state);
  j["image"] = request.image;
  j["image_id"] = image_id;
  j["rootfs"] = request.rootfs;
  j["command"] = spec.argv;
  j["created_at"] = Rfc3339Millis(created_unix_ms);
  j["started_at"] = Rfc3339Millis(started_unix_ms);
  j["finished_at"] = Rfc3339Millis(finished_unix_ms);
  j["pid"] = state == ContainerState::kRunning ? static_cast<int64_t>(pid) : 0;
  j["exit_code"] = result ? ordered_json(result->exit_code) : ordered_json(nullptr);
  j["result"] = result ? result->ToJsonValue() : ordered_json(nullptr);
  j["error"] = error;
  j["auto_remove"] = request.auto_remove;
  j["labels"] = labels;
  j["request"] = request.ToJsonValue();
  return Dump(j);
}

}  // namespace slipway

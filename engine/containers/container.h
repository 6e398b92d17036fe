// A container: the record of one sandbox the engine was asked to run, from
// creation to removal, whoever asked (an API client, a build's RUN step).
// Plain data; ContainerStore keeps it in SQLite and ContainerService moves
// it through its states.
//
//   created --start--> queued --slot free--> starting --> running --> exited
//                        |                      |            |
//                        +--stop--> exited      +--> failed  +--> lost
//
//   created   recorded, not asked to run yet
//   queued    asked to run, waiting for a free slot (the concurrency limit)
//   starting  its monitor is being spawned
//   running   its command runs
//   exited    it ended and its result is recorded (exit code, signal, OOM...)
//   failed    it could not be started (error says why); it never ran
//   lost      slipwayd lost track of it (its monitor died, or slipwayd was
//             killed while starting it); whatever it held was removed
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/containers/create_request.h"
#include "engine/runtime/sandbox.h"
#include "engine/runtime/spec.h"

namespace slipway {

enum class ContainerState { kCreated, kQueued, kStarting, kRunning, kExited, kFailed, kLost };

const char* ContainerStateName(ContainerState state);  // "created", "queued", ...
Result<ContainerState> ParseContainerState(const std::string& name);
// exited, failed and lost: nothing more will happen to it.
bool IsFinal(ContainerState state);

struct Container {
  std::string id;    // 32 lowercase hex digits; also the sandbox's name
  std::string name;  // may be empty
  CreateRequest request;
  std::string image_id;  // "sha256:..." when made from an image
  SandboxSpec spec;      // resolved at creation: lower dirs, argv, user...
  ContainerState state = ContainerState::kCreated;
  std::string sandbox_id;  // the runtime's id, once started
  pid_t pid = 0;           // the sandbox's init on the host, while running
  int64_t created_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;
  std::optional<SandboxResult> result;  // when exited
  std::string error;                    // why it failed or was lost
  // Set by the engine's own callers, not by API clients: what made it
  // ("slipway.build" for a build's RUN step).
  std::map<std::string, std::string> labels;
  // Its caller lives inside this process and waits for it (a build step):
  // after a restart nobody does, so Reconcile() stops and removes it rather
  // than adopting it.
  bool ends_with_caller = false;

  // The API's JSON form (docs/api.md, "Container object").
  std::string ToJson() const;
};

}  // namespace slipway

// From a client's create request to the sandbox spec the runtime runs:
// resolves the image (its layers, command, environment, working directory and
// user) and checks everything that can be checked before anything exists.
#pragma once

#include <string>

#include "engine/base/status.h"
#include "engine/image/image_store.h"
#include "engine/containers/container.h"
#include "engine/runtime/spec.h"

namespace slipway {

struct BuiltSpec {
  SandboxSpec spec;
  std::string image_id;     // empty for a rootfs directory
  std::string stop_signal;  // the request's, else the image's StopSignal, else "SIGTERM"
};

// `request.network` "container:NAME" is not resolved here (the caller knows
// containers); spec.network_peer is left as NAME. kNotFound if the image is
// not in the store, kInvalidArgument for anything else wrong.
Result<BuiltSpec> BuildSandboxSpec(const CreateRequest& request, const ImageStore& images);

// Runs the spec as `user` (Docker's USER[:GROUP], names or ids; empty is
// root), resolved in the image's own /etc/passwd and /etc/group under
// spec->lower_dirs, and sets HOME from its passwd entry unless spec->env has
// one. (Without either, the runtime's default applies: /root for uid 0, else
// /.) Every container's spec, a build step's too, gets its user here.
Status ApplyUser(const std::string& user, SandboxSpec* spec);

// Docker's rules for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters.
Status CheckContainerName(const std::string& name);

}  // namespace slipway

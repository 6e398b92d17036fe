// SandboxSpec as JSON, every field of it: how a spec travels to
// slipway-monitor and is kept in a container's record. Decoding is strict:
// an unknown key or a value of the wrong type or range is an error (a
// misspelt limit must not silently become "no limit"); a missing key keeps
// SandboxSpec's default.
#pragma once

#include <string>

#include "engine/base/status.h"
#include "engine/runtime/spec.h"

namespace slipway {

std::string SpecToJson(const SandboxSpec& spec);
Result<SandboxSpec> SpecFromJson(const std::string& text);

}  // namespace slipway

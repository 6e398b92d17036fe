// Times in Slipway's JSON answers: RFC 3339 with milliseconds, null when the
// moment has not happened (0). One definition for every API object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "engine/base/status.h"

namespace slipway {

// "2026-11-29T08:55:01.123Z"; null for 0 (unknown, or not yet).
nlohmann::ordered_json Rfc3339Millis(int64_t unix_ms);

// The inverse: null -> 0, a string -> ParseRfc3339Millis; anything else is
// kInvalidArgument.
Result<int64_t> Rfc3339MillisFromJson(const nlohmann::ordered_json& value);

}  // namespace slipway

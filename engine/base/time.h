// Wall-clock times as Slipway records and prints them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

// Milliseconds since the Unix epoch, now.
int64_t NowUnixMs();

// RFC 3339 in UTC with milliseconds: "2026-11-29T08:55:01.123Z".
std::string FormatRfc3339Millis(int64_t unix_ms);

// The inverse, strictly: "YYYY-MM-DDTHH:MM:SS[.fraction]Z" with every field
// in range (UTC only: an offset is refused); the fraction is cut to
// milliseconds. kInvalidArgument naming the text otherwise.
Result<int64_t> ParseRfc3339Millis(std::string_view text);

}  // namespace slipway

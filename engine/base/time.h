// Wall-clock times as Slipway records and prints them.
#pragma once

#include <cstdint>
#include <string>

namespace slipway {

// Milliseconds since the Unix epoch, now.
int64_t NowUnixMs();

// RFC 3339 in UTC with milliseconds: "2026-11-29T08:55:01.123Z".
std::string FormatRfc3339Millis(int64_t unix_ms);

}  // namespace slipway

// Wall-clock times as Slipway records and prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace slipway {

// Milliseconds since the Unix epoch, now.
int64_t NowUnixMs();

// RFC 3339 in UTC with milliseconds: "2026-11-29T08:55:01.123Z".
std::string FormatRfc3339Millis(int64_t unix_ms);

// RFC 3339 -> Unix ms: "2026-11-29T08:55:01Z", "...01.123Z" (a fraction of
// any length, cut to milliseconds), "...01+02:00"; 't' and 'z' as well.
// Nothing before or after it; nullopt if it does not parse or names no
// real date and time.
std::optional<int64_t> ParseRfc3339(std::string_view text);

}  // namespace slipway

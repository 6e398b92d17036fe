// Parsing of user-facing quantities, with Docker's spellings.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

// A whole decimal number, sign allowed, nothing else around it.
std::optional<int64_t> ParseInt(std::string_view text);
// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3": a signal as `docker kill
// --signal` and Dockerfile STOPSIGNAL take it; numbers 1 to 64.
Result<int> ParseSignal(std::string_view text);
// "64m", "1g", "512k", "100b", "1048576": binary units, as `docker run --memory`.
Result<int64_t> ParseBytes(std::string_view text);
// "30s", "500ms", "2m", "1h", "1m30s": as Go's time.ParseDuration, positive only.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "0.5", "2": CPUs as `docker run --cpus`, returned in millicpus (500, 2000).
Result<int64_t> ParseCpus(std::string_view text);

}  // namespace slipway

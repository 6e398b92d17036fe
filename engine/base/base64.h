// Base64 (RFC 4648, standard alphabet): registry credentials, ssh host keys,
// signatures and payloads of DSSE envelopes all use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway {

// With '=' padding.
std::string Base64Encode(std::string_view data);
// Standard alphabet, padding optional; nullopt on any other character
// (whitespace included) or an impossible length.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace slipway

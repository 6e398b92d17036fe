// ASCII case mapping for protocol and syntax words (URL schemes, HTTP auth
// parameters, Dockerfile keywords, capability names). Bytes outside A-Z/a-z
// stay as they are, whatever the C locale says.
#pragma once

#include <string>
#include <string_view>

namespace slipway {

std::string Lower(std::string_view s);
std::string Upper(std::string_view s);

}  // namespace slipway

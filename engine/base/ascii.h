// ASCII case mapping for protocol and syntax words (URL schemes, HTTP auth
// parameters, Dockerfile keywords, capability names). Bytes outside A-Z/a-z
// stay as they are, whatever the C locale says.
#pragma once

#include <string>
#include <string_view>

namespace slipway {

std::string Lower(std::string_view s);
std::string Upper(std::string_view s);

// Whether `s` holds a control character: C0 (below 0x20), DEL, or a C1
// control written in UTF-8 (U+0080..U+009F, "\xC2\x80".."\xC2\x9F").
// Names, paths, URLs and query values with these end up in logs, terminals
// and file names, so every check of client input uses this one rule.
bool HasControlChar(std::string_view s);

// Lowercase hex digits of `bytes` (digests, random ids).
std::string HexEncode(std::string_view bytes);
// Whether `s` is non-empty and all lowercase hex digits (an id or its prefix).
bool IsLowerHex(std::string_view s);

}  // namespace slipway

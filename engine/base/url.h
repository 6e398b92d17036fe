// Percent-encoding (RFC 3986, section 2.1) for URL path segments and query
// strings: the CLI and the registry client encode, slipwayd decodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace slipway {

// Every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX with
// uppercase hex, so the result is safe as a path segment or a query value.
std::string PercentEncode(std::string_view text);

// Decodes %XX escapes (hex in either case) and, with `plus_is_space`, '+'
// as a space (query strings). nullopt for a truncated escape or one that is
// not two hex digits. The result may hold any byte, NUL and control
// characters included: a caller that wants text checks for them.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace slipway

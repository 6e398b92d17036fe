// The control token: the shared secret every /api/v1/ request carries as
// `Authorization: Bearer TOKEN` (docs/api.md, "Authentication").
//
// Whoever holds it can run sandboxes with any host directory bound in, so it
// is as powerful as root: the file is created mode 0600 and an existing file
// that group or others could read is refused rather than trusted.
#pragma once

#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::daemon {

// Reads the token at `path`, or creates it: 32 random bytes (getrandom) as 64
// hex digits, written to a temp file (O_CREAT|O_EXCL, mode 0600), fsync'd and
// renamed into place without replacing a file another process created
// meanwhile (then that one's token is used). A missing parent directory is
// created mode 0700.
//
// Errors: kPermissionDenied if the file is readable or writable by group or
// others, or owned by another user; kInvalidArgument if it is not a regular
// file (a symlink included) or holds no usable token (fewer than 16
// printable, non-space ASCII characters, surrounding whitespace ignored).
Result<std::string> LoadOrCreateToken(const std::string& path);

// Whether `header_value` (an Authorization header's value) is
// "Bearer <expected>". The scheme is case-insensitive (RFC 7235); the token
// is compared in time that depends only on expected's length, so that the
// comparison leaks nothing about how much of a guess was right. An empty
// `expected` matches nothing.
bool TokenMatches(std::string_view expected, std::string_view header_value);

}  // namespace slipway::daemon

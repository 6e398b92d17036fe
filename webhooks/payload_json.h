// (internal) A hostile delivery body as JSON: parsed with a bound on its
// nesting, and read field by field with each field's type, length and form
// checked. Errors name the field's path ("pull_request.head.sha") and never
// echo its value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway::webhooks::internal {

// Deeper nesting is refused before nlohmann parses anything (its parser
// and a json's destructor would otherwise go as deep as the body does).
// The forges' payloads nest at most 5 or 6 levels.
inline constexpr int kMaxDepth = 32;

// Bounds on what a field may hold, in bytes.
inline constexpr size_t kMaxNameBytes = 512;         // full names, user names, e-mail addresses
inline constexpr size_t kMaxUrlBytes = 2048;         // clone and web URLs
inline constexpr size_t kMaxRefBytes = 255;          // refs: longer ones are no branch we run
inline constexpr size_t kMaxMessageBytes = 1 << 20;  // a commit message as sent (only its first line is kept)
inline constexpr size_t kMaxIdBytes = 128;           // delivery ids

// The body as a JSON object. kInvalidArgument for anything else: not JSON,
// a raw NUL byte anywhere, invalid UTF-8, nesting deeper than kMaxDepth, a top level that is not an
// object.
Result<nlohmann::json> ParseBody(std::string_view body);

// A field's path from the top: {"pull_request", "head", "sha"}. Owning,
// so that lists of paths (a repository's URLs) can be kept in constants.
using Path = std::vector<const char*>;

// "a.b.c"
std::string PathName(const Path& path);

// The value at `path`, or nullptr where a member is missing, null, or an
// enclosing value is not an object.
const nlohmann::json* Find(const nlohmann::json& root, const Path& path);

// A string at `path`, at most `max_bytes` long, with no control character.
// Required: missing or null is an error. Optional: missing or null is "".
// Either way a value of another type is an error.
Result<std::string> RequiredString(const nlohmann::json& root, const Path& path, size_t max_bytes);
Result<std::string> OptionalString(const nlohmann::json& root, const Path& path, size_t max_bytes);

// Free text (a commit message, a person's name): any length up to
// `max_bytes`, control characters allowed (the caller reduces it to one
// line). Missing or null is "".
Result<std::string> OptionalText(const nlohmann::json& root, const Path& path, size_t max_bytes);

// A boolean; missing or null is false.
Result<bool> OptionalBool(const nlohmann::json& root, const Path& path);

// A positive integer up to 2^53 (what every JSON reader keeps exact).
// Required. Some forges send ids as strings of digits: accepted too.
Result<int64_t> RequiredId(const nlohmann::json& root, const Path& path);

// Whether the field is present and not null.
bool Present(const nlohmann::json& root, const Path& path);

}  // namespace slipway::webhooks::internal

// (internal to :test_report) UTF-8 as reports and workspace names need it:
// both come from the pusher and end up in SQLite, JSON and terminals.
#pragma once

#include <cstddef>
#include <string_view>

namespace slipway::pipelines {

// The length of the well-formed UTF-8 sequence at s[i] (1 to 4; no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is
// none there.
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace slipway::pipelines

// The dashboard's files (docs/dashboard.md), compiled into slipwayd:
// index.html, style.css, the page's ES modules, and Debian's ansi_up and
// chart.js, turned into C++ at build time by embed_assets.py (BUILD.bazel).
// Nothing is read from disk at run time.
#pragma once

#include <span>
#include <string_view>

namespace slipway::daemon::dashboard {

struct Asset {
  std::string_view name;          // under /ui/assets/: "app.js", "chunks/helpers.segment.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // strong, quoted: "\"<sha-256 prefix>\""
  std::string_view body;
};

// Every asset, ordered by name.
std::span<const Asset> Assets();

// The asset called `name`, or nullptr. Only exact names match, so no path
// a client makes up ("../", "%2e") can reach anything else.
const Asset* FindAsset(std::string_view name);

}  // namespace slipway::daemon::dashboard

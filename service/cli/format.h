// How the CLI shows things: Docker's tables, sizes and relative times.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::cli {

// Columns padded to their widest cell, three spaces apart, as Docker's
// tables; printed to stdout.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Docker's HumanDuration: "Less than a second", "3 seconds", "About a
// minute", "5 minutes", "About an hour", "3 hours", "2 days", "3 weeks"...
std::string HumanDuration(int64_t ms);
// Decimal units with 3 significant digits, as `docker images`: "1.19MB".
std::string HumanSize(int64_t bytes);
// Binary units, as `docker stats`: "48.2MiB".
std::string HumanBytes(int64_t bytes);

// "2026-11-29T08:55:01.123Z" (RFC 3339, UTC, optional fraction) -> Unix ms;
// 0 if it does not parse (ParseRfc3339Millis, for a table cell).
int64_t ParseTimestamp(std::string_view text);

// "5d0f3b9e6c1a4e2f..." -> "5d0f3b9e6c1a"; "sha256:6f1c..." -> "6f1c...", 12 digits.
std::string ShortId(std::string_view id);
// Cut to `width` characters with a trailing "…" when longer.
std::string Truncate(const std::string& text, size_t width);

}  // namespace slipway::cli

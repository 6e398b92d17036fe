#include "service/cli/format.h"

#include <algorithm>
#include <cstdio>

#include "engine/base/time.h"

namespace slipway::cli {

namespace {

// Characters, not bytes, so that a UTF-8 cell does not throw a column off.
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string ScaledSize(double size, double base, const char* const* units, int count, int precision) {
  int i = 0;
  while (size >= base && i < count - 1) {
    size /= base;
    ++i;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g%s", precision, size, units[i]);
  return buf;
}

}  // namespace

void Table::Print() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell
    out += line + "\n";
  }
  std::fputs(out.c_str(), stdout);
}

std::string HumanDuration(int64_t ms) {
  int64_t seconds = ms / 1000, minutes = seconds / 60, hours = (ms + 1'800'000) / 3'600'000;
  auto n = [](int64_t v, const char* unit) { return std::to_string(v) + " " + unit; };
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return n(seconds, "seconds");
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return n(minutes, "minutes");
  if (hours == 1) return "About an hour";
  if (hours < 48) return n(hours, "hours");
  if (hours < 24 * 7 * 2) return n(hours / 24, "days");
  if (hours < 24 * 30 * 2) return n(hours / 24 / 7, "weeks");
  if (hours < 24 * 365 * 2) return n(hours / 24 / 30, "months");
  return n(ms / 3'600'000 / 24 / 365, "years");
}

std::string HumanSize(int64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  return ScaledSize(static_cast<double>(bytes), 1000.0, kUnits, 6, 3);
}

std::string HumanBytes(int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  return ScaledSize(static_cast<double>(bytes), 1024.0, kUnits, 6, 4);
}

int64_t ParseTimestamp(std::string_view text) {
  auto t = ParseRfc3339Millis(text);
  return t.ok() ? *t : 0;
}

std::string ShortId(std::string_view id) {
  if (size_t colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
  return std::string(id.substr(0, 12));
}

std::string Truncate(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width) return text;
  size_t chars = 0, i = 0;
  for (; i < text.size(); ++i) {
    bool starts_char = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts_char && chars++ == width - 1) break;
  }
  return text.substr(0, i) + "…";
}

}  // namespace slipway::cli

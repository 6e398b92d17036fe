#include "engine/base/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace slipway {

namespace {

// The `n` digits at text[*i], advancing *i; false if any is not a digit.
bool Digits(std::string_view text, size_t* i, int n, int* out) {
  if (*i + n > text.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = text[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool Expect(std::string_view text, size_t* i, char c) {
  if (*i >= text.size() || text[*i] != c) return false;
  ++*i;
  return true;
}

}  // namespace

int64_t NowUnixMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339Millis(int64_t unix_ms) {
  int64_t ms = unix_ms % 1000, secs = unix_ms / 1000;
  if (ms < 0) {  // floor, not truncation, before 1970
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  if (!::gmtime_r(&t, &tm)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

Result<int64_t> ParseRfc3339Millis(std::string_view text) {
  size_t i = 0;
  int year, month, day, hour, minute, second;
  bool ok = Digits(text, &i, 4, &year) && Expect(text, &i, '-') && Digits(text, &i, 2, &month) &&
            Expect(text, &i, '-') && Digits(text, &i, 2, &day) && Expect(text, &i, 'T') &&
            Digits(text, &i, 2, &hour) && Expect(text, &i, ':') && Digits(text, &i, 2, &minute) &&
            Expect(text, &i, ':') && Digits(text, &i, 2, &second);
  int64_t ms = 0;
  if (ok && i < text.size() && text[i] == '.') {
    ++i;
    int digits = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');
    }
    ok = digits > 0;
    for (; digits < 3; ++digits) ms *= 10;
  }
  ok = ok && Expect(text, &i, 'Z') && i == text.size();
  // Ranges first: timegm() would silently carry "13-40" into the next year.
  ok = ok && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
  if (!ok) return InvalidArgument("\"" + std::string(text) + "\" is not an RFC 3339 UTC time");
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  // timegm normalizes Feb 30 to Mar 2: a date that does not round-trip does not exist.
  time_t t = ::timegm(&tm);
  if (tm.tm_mday != day || tm.tm_mon != month - 1) {
    return InvalidArgument("\"" + std::string(text) + "\" is not an RFC 3339 UTC time");
  }
  return static_cast<int64_t>(t) * 1000 + ms;
}

}  // namespace slipway

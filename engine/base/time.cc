#include "engine/base/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace slipway {

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

namespace {

// `n` decimal digits at `*at`, advancing it; -1 if they are not there.
int Digits(std::string_view s, size_t* at, int n) {
  if (*at + n > s.size()) return -1;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*at + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *at += n;
  return v;
}

bool Expect(std::string_view s, size_t* at, char c) {
  if (*at >= s.size() || s[*at] != c) return false;
  ++*at;
  return true;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  size_t at = 0;
  int year = Digits(s, &at, 4);
  if (year < 0 || !Expect(s, &at, '-')) return std::nullopt;
  int month = Digits(s, &at, 2);
  if (month < 1 || month > 12 || !Expect(s, &at, '-')) return std::nullopt;
  int day = Digits(s, &at, 2);
  if (day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  if (!Expect(s, &at, 'T') && !Expect(s, &at, 't')) return std::nullopt;
  int hour = Digits(s, &at, 2);
  if (hour < 0 || hour > 23 || !Expect(s, &at, ':')) return std::nullopt;
  int minute = Digits(s, &at, 2);
  if (minute < 0 || minute > 59 || !Expect(s, &at, ':')) return std::nullopt;
  int second = Digits(s, &at, 2);
  if (second < 0 || second > 60) return std::nullopt;  // 60: a leap second, read as :59 + 1
  int64_t ms = 0;
  if (Expect(s, &at, '.')) {
    int digits = 0;
    for (; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, ++digits) {
      if (digits < 3) ms = ms * 10 + (s[at] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  int64_t offset_minutes = 0;
  if (!Expect(s, &at, 'Z') && !Expect(s, &at, 'z')) {
    if (at >= s.size() || (s[at] != '+' && s[at] != '-')) return std::nullopt;
    int sign = s[at++] == '-' ? -1 : 1;
    int oh = Digits(s, &at, 2);
    if (oh < 0 || oh > 23 || !Expect(s, &at, ':')) return std::nullopt;
    int om = Digits(s, &at, 2);
    if (om < 0 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  }
  if (at != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  int64_t secs = static_cast<int64_t>(::timegm(&tm)) - offset_minutes * 60;
  return secs * 1000 + ms;
}

}  // namespace slipway

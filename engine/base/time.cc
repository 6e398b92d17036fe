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

}  // namespace slipway

#include "engine/base/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <limits>
#include <string>

#include "engine/base/ascii.h"

namespace slipway {

namespace {
// Splits "64m" into the number 64 and the suffix "m".
bool SplitNumber(std::string_view text, double* number, std::string_view* suffix) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  *number = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(*number)) return false;
  *suffix = text.substr(i);
  return true;
}
}  // namespace

Result<int64_t> ParseBytes(std::string_view text) {
  double n;
  std::string_view suffix;
  auto bad = [&] {
    return InvalidArgument("invalid size \"" + std::string(text) +
                           "\": want a number with an optional unit b, k, m or g (e.g. 64m)");
  };
  if (!SplitNumber(text, &n, &suffix)) return bad();
  double mult;
  std::string s = Lower(suffix);
  if (s.empty() || s == "b")
    mult = 1;
  else if (s == "k" || s == "kb" || s == "kib")
    mult = 1024.0;
  else if (s == "m" || s == "mb" || s == "mib")
    mult = 1024.0 * 1024;
  else if (s == "g" || s == "gb" || s == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (s == "t" || s == "tb" || s == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return bad();
  double bytes = n * mult;
  if (bytes < 1 || bytes > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) return bad();
  return static_cast<int64_t>(bytes);
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("invalid duration \"" + std::string(text) +
                           "\": want e.g. 30s, 500ms, 2m or 1h30m");
  };
  if (text.empty()) return bad();
  double total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double n;
    std::string_view suffix;
    if (!SplitNumber(rest, &n, &suffix)) return bad();
    size_t unit_len = 0;
    while (unit_len < suffix.size() && std::isalpha(static_cast<unsigned char>(suffix[unit_len]))) ++unit_len;
    std::string_view unit = suffix.substr(0, unit_len);
    if (unit == "ms")
      total_ms += n;
    else if (unit == "s")
      total_ms += n * 1000;
    else if (unit == "m")
      total_ms += n * 60'000;
    else if (unit == "h")
      total_ms += n * 3'600'000;
    else
      return bad();
    rest = suffix.substr(unit_len);
  }
  if (total_ms < 1 || total_ms > 1e12) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

Result<int64_t> ParseCpus(std::string_view text) {
  double n;
  std::string_view suffix;
  if (!SplitNumber(text, &n, &suffix) || !suffix.empty() || n < 0.01 || n > 1024) {
    return InvalidArgument("invalid --cpus \"" + std::string(text) +
                           "\": want a decimal number of CPUs, at least 0.01 (e.g. 0.5)");
  }
  return static_cast<int64_t>(std::llround(n * 1000));
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Result<int> ParseSignal(std::string_view text) {
  static const std::pair<const char*, int> kNames[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},   {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},       {"FPE", SIGFPE},   {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CLD", SIGCHLD},  {"CONT", SIGCONT},
      {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},
      {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
      {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
  };
  const Status bad =
      InvalidArgument("invalid signal \"" + std::string(text) + "\": a name such as TERM or SIGTERM, or 1 to 64");
  if (auto number = ParseInt(text)) {
    if (*number < 1 || *number > 64) return bad;
    return static_cast<int>(*number);
  }
  std::string name = Upper(text);
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (const auto& [n, number] : kNames) {
    if (name == n) return number;
  }
  int base = name.starts_with("RTMIN") ? SIGRTMIN : name.starts_with("RTMAX") ? SIGRTMAX : 0;
  if (base == 0) return bad;
  std::string_view rest = std::string_view(name).substr(5);
  if (rest.empty()) return base;
  auto offset = ParseInt(rest.substr(1));
  if (!offset || *offset < 0) return bad;
  int signal = rest[0] == '+'   ? base + static_cast<int>(*offset)
               : rest[0] == '-' ? base - static_cast<int>(*offset)
                                : 0;
  if (signal < SIGRTMIN || signal > SIGRTMAX) return bad;
  return signal;
}

}  // namespace slipway

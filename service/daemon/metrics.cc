#include "service/daemon/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

namespace slipway::daemon {

namespace {

// Shortest text that reads back as the same double, in %g style ("0.0005",
// "2.5", "10"), with Prometheus' spellings of infinities and NaN.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

// Label values escape backslash, double quote and newline; help texts
// escape backslash and newline.
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && quote) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// `{a="x",b="y"}`, plus an extra label (le) when `extra_name` is not empty;
// nothing at all without labels.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  *out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) *out += ',';
    *out += names[i];
    *out += "=\"";
    AppendEscaped(out, values[i], true);
    *out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) *out += ',';
    *out += extra_name;
    *out += "=\"";
    AppendEscaped(out, extra_value, true);
    *out += '"';
  }
  *out += '}';
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const std::string& value) {
  *out += name;
  *out += suffix;
  *out += ' ';
  *out += value;
  *out += '\n';
}

// A wrong number of label values is a programming error; in a release build
// the series is still recorded, padded or cut to fit, rather than crash.
std::vector<std::string> Fit(std::vector<std::string> values, size_t n) {
  assert(values.size() == n);
  values.resize(n);
  return values;
}

}  // namespace

void Metric::AppendHeader(std::string* out, const char* type) const {
  *out += "# HELP " + name_ + " ";
  AppendEscaped(out, help_, false);
  *out += "\n# TYPE " + name_ + " " + type + "\n";
}

void Counter::AppendTo(std::string* out) const {
  AppendHeader(out, "counter");
  AppendSample(out, name(), "", std::to_string(value()));
}

void Gauge::AppendTo(std::string* out) const {
  AppendHeader(out, "gauge");
  AppendSample(out, name(), "", std::to_string(value()));
}

CounterVec::CounterVec(std::string name, std::string help, std::vector<std::string> label_names)
    : Metric(std::move(name), std::move(help)), label_names_(std::move(label_names)) {}

void CounterVec::Inc(const std::vector<std::string>& label_values, uint64_t n) {
  std::vector<std::string> key = Fit(label_values, label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  values_[std::move(key)] += n;
}

uint64_t CounterVec::value(const std::vector<std::string>& label_values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second;
}

void CounterVec::AppendTo(std::string* out) const {
  AppendHeader(out, "counter");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, v] : values_) {
    std::string series = name();
    AppendLabels(&series, label_names_, labels);
    AppendSample(out, series, "", std::to_string(v));
  }
}

HistogramVec::HistogramVec(std::string name, std::string help, std::vector<std::string> label_names,
                           std::vector<double> upper_bounds)
    : Metric(std::move(name), std::move(help)),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  assert(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()));
}

void HistogramVec::Observe(const std::vector<std::string>& label_values, double value) {
  if (std::isnan(value)) return;
  size_t bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  std::vector<std::string> key = Fit(label_values, label_names_.size());
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[std::move(key)];
  if (s.counts.empty()) s.counts.resize(upper_bounds_.size() + 1);
  s.counts[bucket]++;
  s.sum += value;
}

uint64_t HistogramVec::count(const std::vector<std::string>& label_values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(label_values);
  if (it == series_.end()) return 0;
  uint64_t n = 0;
  for (uint64_t c : it->second.counts) n += c;
  return n;
}

void HistogramVec::AppendTo(std::string* out) const {
  AppendHeader(out, "histogram");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, s] : series_) {
    std::string bucket_name = name() + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.counts.size(); ++i) {
      cumulative += s.counts[i];
      std::string le = i < upper_bounds_.size() ? FormatDouble(upper_bounds_[i]) : "+Inf";
      std::string series = bucket_name;
      AppendLabels(&series, label_names_, labels, "le", le);
      AppendSample(out, series, "", std::to_string(cumulative));
    }
    std::string suffix_labels;
    AppendLabels(&suffix_labels, label_names_, labels);
    AppendSample(out, name() + "_sum", suffix_labels, FormatDouble(s.sum));
    // The +Inf bucket's count, so that the two always agree.
    AppendSample(out, name() + "_count", suffix_labels, std::to_string(cumulative));
  }
}

const std::vector<double>& RequestDurationBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

Metrics::Metrics()
    : sandboxes_running("slipway_sandboxes_running", "Sandboxes whose command is running."),
      sandboxes_queued("slipway_sandboxes_queued", "Sandboxes waiting for a free slot (max_running)."),
      sandboxes_started("slipway_sandboxes_started_total", "Sandboxes started."),
      sandboxes_exited("slipway_sandboxes_exited_total", "Sandboxes that ran and ended."),
      sandboxes_failed("slipway_sandboxes_failed_total", "Sandboxes that could not be started."),
      sandboxes_oom_killed("slipway_sandboxes_oom_killed_total",
                           "Sandboxes in which the kernel's OOM killer killed a process."),
      registry_bytes_pulled("slipway_registry_bytes_pulled_total", "Bytes of blobs pulled from registries."),
      registry_bytes_pushed("slipway_registry_bytes_pushed_total", "Bytes of blobs pushed to registries."),
      api_requests("slipway_api_requests_total", "API requests, by method, route template and status code.",
                   {"method", "route", "code"}),
      api_request_duration("slipway_api_request_duration_seconds",
                           "API request latency in seconds, by method and route template.",
                           {"method", "route"}, RequestDurationBuckets()),
      api_connections("slipway_api_connections", "Open connections to the API."),
      api_connections_accepted("slipway_api_connections_accepted_total",
                               "API connections taken in (a client that keeps its connection makes one for "
                               "many requests)."),
      api_connections_closed("slipway_api_connections_closed_total",
                             "API connections slipwayd closed, by reason: evicted (to make room), idle, "
                             "refused (after an error answer), over_limit (refused at accept).",
                             {"reason"}) {}

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int code, double seconds) {
  std::string m(method), r(route);
  api_requests.Inc({m, r, std::to_string(code)});
  api_request_duration.Observe({m, r}, seconds);
}

std::string Metrics::Render() const {
  std::string out;
  const Metric* all[] = {&sandboxes_running,     &sandboxes_queued,     &sandboxes_started,
                         &sandboxes_exited,      &sandboxes_failed,     &sandboxes_oom_killed,
                         &api_requests,          &api_request_duration, &registry_bytes_pulled,
                         &registry_bytes_pushed, &api_connections,      &api_connections_accepted,
                         &api_connections_closed};
  for (const Metric* m : all) m->AppendTo(&out);
  return out;
}

}  // namespace slipway::daemon

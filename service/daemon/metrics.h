// slipwayd's metrics, served at GET /metrics in Prometheus' text format
// (version 0.0.4). No client library: four small metric types and the
// fixed set Slipway exports.
//
// Thread-safe. Unlabelled counters and gauges are single atomics; labelled
// families take a mutex to find their series (one map lookup per request).
// Every label value set is kept until the process ends, so label values must
// come from a small set: a route template such as "/api/v1/containers/:id",
// never a raw path.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::daemon {

// The Content-Type of Metrics::Render()'s output.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// One metric family: a name, a help text, and its samples in text format.
class Metric {
 public:
  Metric(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  virtual ~Metric() = default;
  Metric(const Metric&) = delete;
  Metric& operator=(const Metric&) = delete;

  const std::string& name() const { return name_; }
  // Appends "# HELP", "# TYPE" and every sample line to `out`.
  virtual void AppendTo(std::string* out) const = 0;

 protected:
  void AppendHeader(std::string* out, const char* type) const;

 private:
  const std::string name_;
  const std::string help_;
};

class Counter : public Metric {
 public:
  using Metric::Metric;
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }
  void AppendTo(std::string* out) const override;

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge : public Metric {
 public:
  using Metric::Metric;
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  void AppendTo(std::string* out) const override;

 private:
  std::atomic<int64_t> value_{0};
};

// Counters told apart by labels. Label values are given in the order of the
// label names; a series appears once it is first incremented.
class CounterVec : public Metric {
 public:
  CounterVec(std::string name, std::string help, std::vector<std::string> label_names);
  void Inc(const std::vector<std::string>& label_values, uint64_t n = 1);
  uint64_t value(const std::vector<std::string>& label_values) const;  // 0 if never incremented
  void AppendTo(std::string* out) const override;

 private:
  const std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, uint64_t> values_;
};

// Histograms told apart by labels, all with the same buckets. `upper_bounds`
// are ascending; the +Inf bucket is implicit. An observation counts in every
// bucket whose bound is >= it (Prometheus' "le").
class HistogramVec : public Metric {
 public:
  HistogramVec(std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> upper_bounds);
  void Observe(const std::vector<std::string>& label_values, double value);  // NaN is ignored
  uint64_t count(const std::vector<std::string>& label_values) const;
  void AppendTo(std::string* out) const override;

 private:
  struct Series {
    std::vector<uint64_t> counts;  // per bucket, not cumulative; the last is +Inf
    double sum = 0;
  };
  const std::vector<std::string> label_names_;
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
};

// Seconds, from half a millisecond (a cached GET) to ten seconds (a
// request waiting for a container to stop).
const std::vector<double>& RequestDurationBuckets();

// Everything slipwayd exports.
class Metrics {
 public:
  Metrics();

  Gauge sandboxes_running;  // running now
  Gauge sandboxes_queued;   // waiting for a slot
  Counter sandboxes_started;
  Counter sandboxes_exited;
  Counter sandboxes_failed;  // could not be started
  Counter sandboxes_oom_killed;
  Counter registry_bytes_pulled;
  Counter registry_bytes_pushed;
  CounterVec api_requests;            // {method, route, code}
  HistogramVec api_request_duration;  // {method, route}, seconds
  Gauge api_connections;              // open now
  Counter api_connections_accepted;   // taken in (one per client connection, not per request)
  CounterVec api_connections_closed;  // {reason}: closed by slipwayd

  // One finished API request. `route` is the route template that matched
  // ("/api/v1/containers/:id"), or a fixed word for none: "unmatched",
  // and "unauthenticated" for every request refused for want of the token
  // (which must not learn which routes exist).
  void ObserveRequest(std::string_view method, std::string_view route, int code, double seconds);

  // Every metric, in text format, ending in a newline.
  std::string Render() const;
};

}  // namespace slipway::daemon

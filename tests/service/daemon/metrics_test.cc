#include "service/daemon/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

namespace slipway::daemon {
namespace {

// A strict reader of the Prometheus text format (0.0.4), standing in for
// promtool: every line must be a HELP, a TYPE or a sample of the family
// declared just before it.
using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;  // with _bucket, _sum or _count for histograms
  Labels labels;
  double value = 0;
};

struct Family {
  std::string help, type;
  std::vector<Sample> samples;
};

bool ValidName(const std::string& s) {
  return std::regex_match(s, std::regex("[a-zA-Z_:][a-zA-Z0-9_:]*"));
}

double ParseValue(const std::string& s) {
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  EXPECT_TRUE(!s.empty() && end == s.c_str() + s.size()) << "bad value \"" << s << "\"";
  return v;
}

// `a="x",b="y\"z"}` starting after the "{"; returns the index after "}".
size_t ParseLabels(const std::string& line, size_t i, Labels* labels) {
  while (line.at(i) != '}') {
    size_t eq = line.find('=', i);
    std::string name = line.substr(i, eq - i);
    EXPECT_TRUE(ValidName(name)) << line;
    EXPECT_EQ(line.at(eq + 1), '"') << line;
    std::string value;
    for (i = eq + 2; line.at(i) != '"'; ++i) {
      if (line[i] != '\\') {
        value += line[i];
        continue;
      }
      char next = line.at(++i);
      EXPECT_TRUE(next == '\\' || next == '"' || next == 'n') << "bad escape in " << line;
      value += next == 'n' ? '\n' : next;
    }
    EXPECT_TRUE(labels->emplace(name, value).second) << "repeated label in " << line;
    ++i;  // the closing quote
    if (line.at(i) == ',') ++i;
  }
  return i + 1;
}

std::string Unescape(const std::string& help) {
  std::string out;
  for (size_t i = 0; i < help.size(); ++i) {
    if (help[i] == '\\' && i + 1 < help.size()) {
      ++i;
      out += help[i] == 'n' ? '\n' : help[i];
    } else {
      out += help[i];
    }
  }
  return out;
}

// Whether sample `name` belongs to family `family` of type `type`.
bool BelongsTo(const std::string& name, const std::string& family, const std::string& type) {
  if (type != "histogram") return name == family;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    if (name == family + suffix) return true;
  }
  return false;
}

std::map<std::string, Family> ParseExposition(const std::string& text) {
  std::map<std::string, Family> families;
  EXPECT_TRUE(!text.empty() && text.back() == '\n');
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "empty line";
    if (line.rfind("# HELP ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      current = line.substr(7, sp - 7);
      EXPECT_TRUE(ValidName(current)) << line;
      EXPECT_EQ(families.count(current), 0u) << "family twice: " << current;
      families[current].help = Unescape(line.substr(sp + 1));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      EXPECT_EQ(line.substr(7, sp - 7), current) << "TYPE for another family: " << line;
      std::string type = line.substr(sp + 1);
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      families[current].type = type;
    } else {
      EXPECT_NE(line[0], '#') << line;
      Sample s;
      size_t i = line.find_first_of("{ ");
      s.name = line.substr(0, i);
      if (line.at(i) == '{') i = ParseLabels(line, i + 1, &s.labels);
      EXPECT_EQ(line.at(i), ' ') << line;
      s.value = ParseValue(line.substr(i + 1));
      EXPECT_FALSE(families[current].type.empty()) << "sample before TYPE: " << line;
      EXPECT_TRUE(BelongsTo(s.name, current, families[current].type)) << line << " in " << current;
      families[current].samples.push_back(s);
    }
  }
  return families;
}

// Checks one histogram family's series as Prometheus requires: buckets in
// ascending le, cumulative, ending in +Inf, which equals _count.
void CheckHistogram(const Family& f, const std::string& name) {
  std::map<Labels, std::vector<std::pair<double, double>>> buckets;  // series -> (le, count)
  std::map<Labels, double> counts;
  for (const Sample& s : f.samples) {
    Labels series = s.labels;
    if (s.name == name + "_bucket") {
      ASSERT_EQ(series.count("le"), 1u);
      double le = ParseValue(series["le"]);
      series.erase("le");
      buckets[series].push_back({le, s.value});
    } else if (s.name == name + "_count") {
      counts[series] = s.value;
    }
  }
  for (const auto& [series, bs] : buckets) {
    for (size_t i = 1; i < bs.size(); ++i) {
      EXPECT_LT(bs[i - 1].first, bs[i].first) << "le not ascending";
      EXPECT_LE(bs[i - 1].second, bs[i].second) << "buckets not cumulative";
    }
    EXPECT_TRUE(std::isinf(bs.back().first)) << "no +Inf bucket";
    EXPECT_EQ(bs.back().second, counts.at(series)) << "+Inf bucket differs from _count";
  }
}

const Sample* Find(const Family& f, const std::string& name, const Labels& labels) {
  for (const Sample& s : f.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(MetricsTest, EveryFamilyIsRenderedFromTheStart) {
  Metrics m;
  std::map<std::string, Family> fs = ParseExposition(m.Render());
  std::map<std::string, std::string> want = {
      {"slipway_sandboxes_running", "gauge"},
      {"slipway_sandboxes_queued", "gauge"},
      {"slipway_sandboxes_started_total", "counter"},
      {"slipway_sandboxes_exited_total", "counter"},
      {"slipway_sandboxes_failed_total", "counter"},
      {"slipway_sandboxes_oom_killed_total", "counter"},
      {"slipway_registry_bytes_pulled_total", "counter"},
      {"slipway_registry_bytes_pushed_total", "counter"},
      {"slipway_api_requests_total", "counter"},
      {"slipway_api_request_duration_seconds", "histogram"},
      {"slipway_api_connections", "gauge"},
      {"slipway_api_connections_accepted_total", "counter"},
      {"slipway_api_connections_closed_total", "counter"},
  };
  ASSERT_EQ(fs.size(), want.size());
  for (const auto& [name, type] : want) {
    ASSERT_EQ(fs.count(name), 1u) << name;
    EXPECT_EQ(fs[name].type, type) << name;
    EXPECT_FALSE(fs[name].help.empty()) << name;
  }
  // Unlabelled metrics start at 0; labelled families have no series yet.
  ASSERT_EQ(fs["slipway_sandboxes_running"].samples.size(), 1u);
  EXPECT_EQ(fs["slipway_sandboxes_running"].samples[0].value, 0);
  EXPECT_TRUE(fs["slipway_api_requests_total"].samples.empty());
}

TEST(MetricsTest, CountersAndGauges) {
  Metrics m;
  m.sandboxes_running.Set(3);
  m.sandboxes_running.Add(-1);
  m.sandboxes_queued.Set(7);
  m.sandboxes_started.Inc();
  m.sandboxes_started.Inc();
  m.sandboxes_failed.Inc();
  m.sandboxes_exited.Inc();
  m.sandboxes_oom_killed.Inc();
  m.registry_bytes_pulled.Inc(int64_t{5} << 30);  // above 2^32: no truncation
  m.registry_bytes_pushed.Inc(1234);
  std::map<std::string, Family> fs = ParseExposition(m.Render());
  auto value = [&](const std::string& name) { return fs[name].samples.at(0).value; };
  EXPECT_EQ(value("slipway_sandboxes_running"), 2);
  EXPECT_EQ(value("slipway_sandboxes_queued"), 7);
  EXPECT_EQ(value("slipway_sandboxes_started_total"), 2);
  EXPECT_EQ(value("slipway_sandboxes_failed_total"), 1);
  EXPECT_EQ(value("slipway_sandboxes_exited_total"), 1);
  EXPECT_EQ(value("slipway_sandboxes_oom_killed_total"), 1);
  EXPECT_EQ(value("slipway_registry_bytes_pulled_total"), 5.0 * (1 << 30));
  EXPECT_EQ(value("slipway_registry_bytes_pushed_total"), 1234);
  EXPECT_NE(m.Render().find("\nslipway_registry_bytes_pulled_total 5368709120\n"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Metrics m;
  const std::string route = "/api/v1/containers/:id";
  for (double s : {0.0003, 0.003, 0.005, 0.7, 20.0}) m.ObserveRequest("GET", route, 200, s);
  m.ObserveRequest("DELETE", route, 404, 0.002);
  std::string text = m.Render();
  std::map<std::string, Family> fs = ParseExposition(text);
  const Family& h = fs["slipway_api_request_duration_seconds"];
  CheckHistogram(h, "slipway_api_request_duration_seconds");

  std::map<std::string, double> want = {{"0.0005", 1}, {"0.001", 1}, {"0.0025", 1}, {"0.005", 3},
                                        {"0.01", 3},   {"0.025", 3}, {"0.05", 3},   {"0.1", 3},
                                        {"0.25", 3},   {"0.5", 3},   {"1", 4},      {"2.5", 4},
                                        {"5", 4},      {"10", 4},    {"+Inf", 5}};
  for (const auto& [le, count] : want) {
    const Sample* s = Find(h, "slipway_api_request_duration_seconds_bucket",
                           {{"method", "GET"}, {"route", route}, {"le", le}});
    ASSERT_NE(s, nullptr) << "no bucket le=\"" << le << "\"";
    EXPECT_EQ(s->value, count) << "le=" << le;
  }
  Labels get = {{"method", "GET"}, {"route", route}};
  EXPECT_EQ(Find(h, "slipway_api_request_duration_seconds_count", get)->value, 5);
  EXPECT_NEAR(Find(h, "slipway_api_request_duration_seconds_sum", get)->value, 20.7083, 1e-9);
  EXPECT_EQ(m.api_request_duration.count({"GET", route}), 5u);
  EXPECT_EQ(m.api_request_duration.count({"DELETE", route}), 1u);
  EXPECT_EQ(m.api_request_duration.count({"PUT", route}), 0u);
  // 15 buckets + sum + count for each of the two series.
  EXPECT_EQ(h.samples.size(), 2u * 17u);

  const Family& r = fs["slipway_api_requests_total"];
  EXPECT_EQ(
      Find(r, "slipway_api_requests_total", {{"method", "GET"}, {"route", route}, {"code", "200"}})->value,
      5);
  EXPECT_EQ(
      Find(r, "slipway_api_requests_total", {{"method", "DELETE"}, {"route", route}, {"code", "404"}})->value,
      1);
  EXPECT_EQ(m.api_requests.value({"GET", route, "200"}), 5u);
  // The exact spelling Prometheus' own clients use.
  EXPECT_NE(text.find("slipway_api_request_duration_seconds_bucket{method=\"GET\",route=\"" + route +
                      "\",le=\"0.0005\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m;
  const std::string odd = "/a\"b\\c\nd";
  m.ObserveRequest("GET", odd, 500, 0.01);
  std::string text = m.Render();
  EXPECT_NE(text.find("route=\"/a\\\"b\\\\c\\nd\""), std::string::npos) << text;
  std::map<std::string, Family> fs = ParseExposition(text);
  const Sample* s = Find(fs["slipway_api_requests_total"], "slipway_api_requests_total",
                         {{"method", "GET"}, {"route", odd}, {"code", "500"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 1);
  CheckHistogram(fs["slipway_api_request_duration_seconds"], "slipway_api_request_duration_seconds");
}

TEST(MetricsTest, HelpIsEscapedAndGenericTypesRender) {
  Counter c("test_total", "back\\slash and\nnewline");
  c.Inc(3);
  HistogramVec h("test_seconds", "h", {}, {1, 2});
  h.Observe({}, 1.0);  // on a bound: counts in le="1"
  h.Observe({}, NAN);  // ignored
  std::string text;
  c.AppendTo(&text);
  h.AppendTo(&text);
  EXPECT_NE(text.find("# HELP test_total back\\\\slash and\\nnewline\n"), std::string::npos) << text;
  std::map<std::string, Family> fs = ParseExposition(text);
  EXPECT_EQ(fs["test_total"].help, "back\\slash and\nnewline");
  EXPECT_EQ(Find(fs["test_seconds"], "test_seconds_bucket", {{"le", "1"}})->value, 1);
  EXPECT_EQ(Find(fs["test_seconds"], "test_seconds_bucket", {{"le", "+Inf"}})->value, 1);
  EXPECT_EQ(Find(fs["test_seconds"], "test_seconds_count", {})->value, 1);
  EXPECT_EQ(Find(fs["test_seconds"], "test_seconds_sum", {})->value, 1);
  CheckHistogram(fs["test_seconds"], "test_seconds");
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        m.sandboxes_started.Inc();
        m.sandboxes_running.Add(1);
        m.ObserveRequest("GET", t % 2 ? "/a" : "/b", 200, 0.001 * (i % 100));
        if (i % 100 == 0) ParseExposition(m.Render());  // scrapes while writers run
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(m.sandboxes_started.value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.sandboxes_running.value(), int64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.api_requests.value({"GET", "/a", "200"}) + m.api_requests.value({"GET", "/b", "200"}),
            uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(m.api_request_duration.count({"GET", "/a"}), uint64_t{kThreads / 2} * kPerThread);
  std::map<std::string, Family> fs = ParseExposition(m.Render());
  CheckHistogram(fs["slipway_api_request_duration_seconds"], "slipway_api_request_duration_seconds");
}

TEST(MetricsTest, ContentType) {
  EXPECT_STREQ(kMetricsContentType, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace slipway::daemon

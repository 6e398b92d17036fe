// Reading a run's JUnit reports: a 10,000-case report parsed in memory
// (ParseJUnitXml: the markup scan, pugixml, the walk, capping), and the
// same report found and read from a workspace (CollectReports). The target
// is under 100 ms for the 10,000 cases (docs/performance.md, "Test
// results").
//
//   bazel run -c opt //bench/pipelines:test_report_bench
//
// Works in a temp dir under $TMPDIR (default /tmp); needs no privileges.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "pipelines/test_report.h"

namespace slipway::pipelines {
namespace {

// A report as a large Java or Go project writes one: `cases` cases in suites
// of 100, one in 20 failing with a message and a stack trace, one in 50
// skipped, one in 10 with captured output; times with three decimals.
std::string MakeReport(int cases) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"all\">\n";
  for (int i = 0; i < cases; ++i) {
    std::string suite = "com.example.module" + std::to_string(i / 100) + ".ServiceTest";
    if (i % 100 == 0) {
      if (i) xml += "  </testsuite>\n";
      xml += "  <testsuite name=\"" + suite + "\" tests=\"100\" time=\"1.234\">\n";
    }
    xml += "    <testcase name=\"handlesCase" + std::to_string(i) + "\" classname=\"" + suite +
           "\" time=\"0." + std::to_string(100 + i % 900) + "\"";
    if (i % 20 == 7) {
      xml += ">\n      <failure message=\"expected: &lt;" + std::to_string(i) +
             "&gt; but was: &lt;0&gt;\" type=\"org.opentest4j.AssertionFailedError\"><![CDATA[";
      xml += "org.opentest4j.AssertionFailedError: expected: <" + std::to_string(i) + "> but was: <0>\n";
      for (int f = 0; f < 8; ++f) {
        xml += "\tat " + suite + ".handlesCase" + std::to_string(i) +
               "(ServiceTest.java:" + std::to_string(f * 7) + ")\n";
      }
      xml += "]]></failure>\n    </testcase>\n";
    } else if (i % 50 == 3) {
      xml += ">\n      <skipped message=\"not on CI\"/>\n    </testcase>\n";
    } else if (i % 10 == 5) {
      xml +=
          ">\n      <system-out><![CDATA[connecting to localhost:5432\nmigrated 12 tables\n]]></system-out>\n"
          "    </testcase>\n";
    } else {
      xml += "/>\n";
    }
  }
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

void BM_ParseJUnitXml(benchmark::State& state) {
  const std::string xml = MakeReport(static_cast<int>(state.range(0)));
  ReportLimits limits;
  for (auto _ : state) {
    auto cases = ParseJUnitXml(xml, limits);
    if (!cases.ok()) state.SkipWithError(cases.status().message().c_str());
    if (cases.ok() && cases->size() != static_cast<size_t>(state.range(0))) state.SkipWithError("case count");
    benchmark::DoNotOptimize(cases);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(xml.size()));
  state.counters["report_bytes"] = static_cast<double>(xml.size());
}
BENCHMARK(BM_ParseJUnitXml)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_CollectReports(benchmark::State& state) {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/test-report-bench-XXXXXX";
  if (!::mkdtemp(dir.data())) {
    state.SkipWithError("mkdtemp");
    return;
  }
  std::filesystem::create_directories(dir + "/build/test-results");
  std::ofstream(dir + "/build/test-results/TEST-all.xml") << MakeReport(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    CollectedReports reports = CollectReports(dir, {"build/**/TEST-*.xml"}, ReportLimits{});
    if (reports.cases.size() != static_cast<size_t>(state.range(0))) state.SkipWithError("case count");
    benchmark::DoNotOptimize(reports);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CollectReports)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace slipway::pipelines

BENCHMARK_MAIN();

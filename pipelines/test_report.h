// Test results: the test cases a run's JUnit XML reports hold, read as
// hostile input (docs/tests.md).
//
// A report comes from a step, so from whoever pushed: it is read capped
// (ReportLimits), parsed by pugixml without entities or DTDs, its depth and
// case count bounded, and every string stored capped. A report that cannot
// be read becomes a warning naming the file; it never fails the run by
// itself. The dialects read: Maven Surefire, pytest --junitxml,
// go-junit-report and gotestsum, jest-junit, GoogleTest --gtest_output=xml,
// ctest --output-junit; a <testsuites> root or a bare <testsuite>, suites
// nested in suites.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "pipelines/run_record.h"

namespace slipway::pipelines {

enum class TestStatus { kPassed, kFailed, kError, kSkipped };
const char* TestStatusName(TestStatus status);  // "passed", "failed", "error", "skipped"
std::optional<TestStatus> ParseTestStatus(std::string_view name);

// One <testcase>. A test's identity within its repository is (suite,
// class_name, name).
struct TestCase {
  std::string suite;       // the enclosing <testsuite>'s name; nested: "outer/inner"
  std::string class_name;  // `classname` ("" if absent)
  std::string name;
  TestStatus status = TestStatus::kPassed;
  int64_t duration_us = 0;   // `time` in seconds, decimals kept; 0 if absent or unreadable
  std::string message;       // of <failure>, <error> or <skipped>: its `message`
  std::string type;          // its `type`
  std::string details;       // its text (a stack trace), capped
  std::string system_out;    // <system-out> of the case (else of its suite if it failed), capped
  std::string system_err;
  std::string file;          // `file` where given
  int64_t line = 0;          // `line` where given, else 0
  std::string report;        // the workspace-relative file it came from (CollectReports)
  std::string step;          // the step that wrote that file ("" if unknown); set by the caller
};

struct ReportLimits {
  int64_t max_file_bytes = int64_t{64} << 20;  // config: reports_max_bytes
  int max_depth = 64;                          // element nesting
  size_t max_cases = 200'000;                  // per run, all files together
  size_t max_text_bytes = 64 << 10;            // system-out, system-err, details, each
  size_t max_message_bytes = 4 << 10;          // message, type, names
  // Every string of every case together (a suite's name and output are
  // copied into its cases): what one document, or one run's reports, may
  // make of a small input.
  size_t max_total_bytes = size_t{128} << 20;
};

TestCounts CountCases(const std::vector<TestCase>& cases);

// Parses one JUnit XML document. kInvalidArgument saying what is wrong (not
// XML, no <testsuite>/<testsuites> root, too deep, too many cases, a DTD or
// entity declaration); never throws, never reads beyond `xml`.
Result<std::vector<TestCase>> ParseJUnitXml(std::string_view xml, const ReportLimits& limits);

// The reports of one run, read after its steps ended.
struct CollectedReports {
  std::vector<TestCase> cases;        // of every file that parsed, in file order
  std::vector<std::string> files;     // the workspace-relative paths read, sorted
  std::vector<std::string> warnings;  // "reports/x.xml: not XML (...)", one per problem
};

// Reads the files below `workspace` that `globs` match (workspace-relative:
// `*`, `?`, `[...]` within one path component, `**` across components).
// Every path is resolved inside the workspace (openat2 RESOLVE_IN_ROOT, no
// symlink followed out of it); only regular files are read, each at most
// limits.max_file_bytes. A glob that matches nothing is a warning; so is
// every file that cannot be read or parsed. Never fails: what cannot be
// read is a warning. Each case's `report` names its file; `step` is left
// for the caller, which knows which step wrote what.
CollectedReports CollectReports(const std::string& workspace, const std::vector<std::string>& globs,
                                const ReportLimits& limits);

}  // namespace slipway::pipelines

// ParseJUnitXml on the reports real tools write (tests/pipelines/testdata/
// junit/, README.md there says which the tool itself wrote), and on what an
// attacker would write instead.
#include "pipelines/test_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

namespace slipway::pipelines {
namespace {

std::string Sample(const std::string& name) {
  std::string path = "tests/pipelines/testdata/junit/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<TestCase> ParseOk(const std::string& xml, const ReportLimits& limits = {}) {
  auto cases = ParseJUnitXml(xml, limits);
  EXPECT_TRUE(cases.ok()) << cases.status().ToString();
  return cases.ok() ? *cases : std::vector<TestCase>{};
}

std::string ParseError(const std::string& xml, const ReportLimits& limits = {}) {
  auto cases = ParseJUnitXml(xml, limits);
  EXPECT_FALSE(cases.ok()) << "parsed " << cases->size() << " cases";
  if (cases.ok()) return "";
  EXPECT_EQ(cases.status().code(), Code::kInvalidArgument) << cases.status().ToString();
  return cases.status().message();
}

const TestCase& Find(const std::vector<TestCase>& cases, const std::string& name) {
  for (const TestCase& c : cases) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no case " << name;
  static const TestCase kNone;
  return kNone;
}

void ExpectCounts(const std::vector<TestCase>& cases, int64_t total, int64_t passed, int64_t failed,
                  int64_t errors, int64_t skipped) {
  TestCounts n = CountCases(cases);
  EXPECT_EQ(n.total, total);
  EXPECT_EQ(n.passed, passed);
  EXPECT_EQ(n.failed, failed);
  EXPECT_EQ(n.errors, errors);
  EXPECT_EQ(n.skipped, skipped);
}

TEST(TestStatusTest, NamesRoundTrip) {
  for (TestStatus s : {TestStatus::kPassed, TestStatus::kFailed, TestStatus::kError, TestStatus::kSkipped}) {
    EXPECT_EQ(ParseTestStatus(TestStatusName(s)), s);
  }
  EXPECT_EQ(ParseTestStatus("Passed"), std::nullopt);
  EXPECT_EQ(ParseTestStatus(""), std::nullopt);
}

// Written by GoogleTest 1.12 itself (--gtest_output=xml).
TEST(JUnitDialectTest, GoogleTest) {
  auto cases = ParseOk(Sample("gtest.xml"));
  ExpectCounts(cases, 7, 2, 3, 0, 2);
  const TestCase& sub = Find(cases, "Subtracts");
  EXPECT_EQ(sub.suite, "Arithmetic");
  EXPECT_EQ(sub.class_name, "Arithmetic");
  EXPECT_EQ(sub.status, TestStatus::kFailed);
  EXPECT_EQ(sub.file, "gtest_sample.cc");
  EXPECT_EQ(sub.line, 7);
  EXPECT_EQ(
      sub.message,
      "gtest_sample.cc:7\nExpected equality of these values:\n  5 - 3\n    Which is: 2\n  3\noff by one");
  EXPECT_NE(sub.details.find("off by one"), std::string::npos);
  // GTEST_SKIP: a <skipped> child and result="skipped".
  const TestCase& skip = Find(cases, "SkipsOnThisMachine");
  EXPECT_EQ(skip.status, TestStatus::kSkipped);
  EXPECT_EQ(skip.message, "gtest_sample.cc:9\nneeds a GPU");
  // DISABLED_: status="notrun" result="suppressed", no child.
  EXPECT_EQ(Find(cases, "DISABLED_Divides").status, TestStatus::kSkipped);
  // "]]>" in the text: GoogleTest splits the CDATA section around it.
  const TestCase& cdata = Find(cases, "FailsWithCdataEnd");
  EXPECT_NE(cdata.details.find("std::string(\"a]]>b<c>&\")"), std::string::npos) << cdata.details;
  EXPECT_EQ(Find(cases, "IsEven/1").suite, "Numbers/Param");
  EXPECT_EQ(Find(cases, "IsEven/1").status, TestStatus::kFailed);
  EXPECT_EQ(Find(cases, "Adds").status, TestStatus::kPassed);
}

// Written by pytest 7.2 itself (--junitxml, junit_logging=all).
TEST(JUnitDialectTest, Pytest) {
  auto cases = ParseOk(Sample("pytest.xml"));
  ExpectCounts(cases, 8, 3, 2, 1, 2);
  const TestCase& sub = Find(cases, "test_subtracts");
  EXPECT_EQ(sub.suite, "pytest");
  EXPECT_EQ(sub.class_name, "test_pytest_sample");
  EXPECT_EQ(sub.message, "assert (5 - 3) == 3");
  EXPECT_NE(sub.details.find("test_pytest_sample.py:15: AssertionError"), std::string::npos);
  EXPECT_NE(sub.system_out.find("computing 5 - 3"), std::string::npos);
  EXPECT_NE(sub.system_err.find("to stderr"), std::string::npos);
  EXPECT_GT(sub.duration_us, 0);
  const TestCase& fixture = Find(cases, "test_uses_broken_fixture");
  EXPECT_EQ(fixture.status, TestStatus::kError);
  EXPECT_EQ(fixture.message, "failed on setup with \"RuntimeError: database unavailable\"");
  const TestCase& skipped = Find(cases, "test_skipped");
  EXPECT_EQ(skipped.status, TestStatus::kSkipped);
  EXPECT_EQ(skipped.message, "needs a GPU");
  EXPECT_EQ(skipped.type, "pytest.skip");
  EXPECT_EQ(Find(cases, "test_expected_failure").type, "pytest.xfail");
  EXPECT_EQ(Find(cases, "test_even[3]").status, TestStatus::kFailed);
  EXPECT_EQ(Find(cases, "test_in_class").class_name, "test_pytest_sample.TestGroup");
}

// Written by ctest 3.25 itself (--output-junit): a bare <testsuite>.
TEST(JUnitDialectTest, Ctest) {
  auto cases = ParseOk(Sample("ctest.xml"));
  ExpectCounts(cases, 6, 2, 1, 0, 3);
  EXPECT_EQ(Find(cases, "passes").suite, "(empty)");
  EXPECT_EQ(Find(cases, "passes").system_out, "all good\n");
  EXPECT_EQ(Find(cases, "fails").status, TestStatus::kFailed);
  EXPECT_EQ(Find(cases, "fails").system_out, "expected 3, got 2\n");
  EXPECT_EQ(Find(cases, "skips").message, "SKIP_RETURN_CODE=77");
  // DISABLED: status="disabled" and no <skipped>.
  EXPECT_EQ(Find(cases, "disabled").status, TestStatus::kSkipped);
  EXPECT_EQ(Find(cases, "missing").message, "Unable to find executable");
  EXPECT_EQ(Find(cases, "slow").duration_us, 309805);
}

// Transcribed from Surefire's 3.0 schema and its rerun elements.
TEST(JUnitDialectTest, MavenSurefire) {
  auto cases = ParseOk(Sample("surefire.xml"));
  ExpectCounts(cases, 7, 2, 2, 1, 2);
  const TestCase& divides = Find(cases, "divides");
  EXPECT_EQ(divides.suite, "com.example.CalculatorTest");
  EXPECT_EQ(divides.message, "expected: <2> but was: <3>");
  EXPECT_EQ(divides.type, "org.opentest4j.AssertionFailedError");
  EXPECT_EQ(divides.duration_us, 12000);
  EXPECT_EQ(divides.system_out, "dividing 6 by 2\n");
  const TestCase& db = Find(cases, "connectsToDatabase");
  EXPECT_EQ(db.status, TestStatus::kError);
  EXPECT_EQ(db.type, "java.net.ConnectException");
  EXPECT_EQ(db.system_err, "WARN pool: retrying in 500 ms\n");
  EXPECT_EQ(db.duration_us, 1503000);
  EXPECT_EQ(Find(cases, "multipliesLargeNumbers").message, "not on CI");
  EXPECT_EQ(Find(cases, "legacyRounding").status, TestStatus::kSkipped);
  EXPECT_EQ(Find(cases, "legacyRounding").message, "");
  // Passed on a rerun: passed, and its flaky attempt's output is not its own.
  EXPECT_EQ(Find(cases, "parsesInput").status, TestStatus::kPassed);
  EXPECT_EQ(Find(cases, "parsesInput").system_out, "");
  EXPECT_EQ(Find(cases, "formatsCurrency").message,
            "expected: <\xE2\x82\xAC"
            "1.00> but was: <EUR 1.00>");
}

// Transcribed from go-junit-report v2's writer and test data.
TEST(JUnitDialectTest, GoJunitReport) {
  auto cases = ParseOk(Sample("go-junit-report.xml"));
  ExpectCounts(cases, 6, 2, 2, 1, 1);
  const TestCase& discount = Find(cases, "TestTotal/with_discount");
  EXPECT_EQ(discount.suite, "example.com/shop/cart");
  EXPECT_EQ(discount.message, "Failed");
  EXPECT_EQ(discount.details, "    cart_test.go:42: total = 90, want 85");
  EXPECT_EQ(discount.duration_us, 10000);
  // A failed case without output of its own gets its package's.
  EXPECT_NE(discount.system_out.find("pkg: example.com/shop/cart"), std::string::npos);
  EXPECT_EQ(Find(cases, "TestAdd").system_out, "") << "a passed case does not";
  const TestCase& panic = Find(cases, "Failure");
  EXPECT_EQ(panic.status, TestStatus::kError);
  EXPECT_EQ(panic.message, "Runtime error");
  EXPECT_NE(panic.system_out.find("exit status 2"), std::string::npos);
  EXPECT_EQ(Find(cases, "TestCheckoutIntegration").message, "Skipped");
}

// Transcribed from gotestsum's golden files.
TEST(JUnitDialectTest, Gotestsum) {
  auto cases = ParseOk(Sample("gotestsum.xml"));
  ExpectCounts(cases, 6, 3, 2, 0, 1);
  const TestCase& main = Find(cases, "TestMain");
  EXPECT_EQ(main.class_name, "");
  EXPECT_EQ(main.suite, "example.com/shop/cmd/shopd");
  EXPECT_EQ(main.details, "FAIL\texample.com/shop/cmd/shopd [build failed]\n");
  const TestCase& sync = Find(cases, "TestSync");
  EXPECT_EQ(sync.status, TestStatus::kSkipped);
  EXPECT_EQ(sync.duration_us, 400000);
  EXPECT_NE(sync.message.find("needs a warehouse API"), std::string::npos);
}

// Transcribed from jest-junit's README and writer (file attribute on).
TEST(JUnitDialectTest, JestJunit) {
  auto cases = ParseOk(Sample("jest-junit.xml"));
  ExpectCounts(cases, 6, 3, 2, 0, 1);
  const TestCase& totals = Find(cases, "cart totals \xE2\x80\xBA with a discount");
  EXPECT_EQ(totals.suite, "cart");
  EXPECT_EQ(totals.file, "src/__tests__/cart.test.js");
  // No message attribute: the first line of the text stands for it.
  EXPECT_EQ(totals.message, "Error: expect(received).toBe(expected) // Object.is equality");
  EXPECT_NE(totals.details.find("Received: 90"), std::string::npos);
  // The suite's console output goes to its failed cases.
  EXPECT_NE(totals.system_out.find("loading fixtures"), std::string::npos);
  // Two <failure>s: the first decides.
  const TestCase& charge = Find(cases, "payment charges a card");
  EXPECT_EQ(charge.status, TestStatus::kFailed);
  EXPECT_EQ(charge.message, "thrown: \"Exceeded timeout of 1000 ms for a test.");
  EXPECT_EQ(charge.duration_us, 1002000);
  EXPECT_EQ(Find(cases, "cart checks out against the API").status, TestStatus::kSkipped);
}

TEST(JUnitShapeTest, NestedSuitesJoinTheirNames) {
  auto cases = ParseOk(R"(<testsuites><testsuite name="outer"><testsuite name="inner">
    <testcase name="a"/></testsuite><testsuite><testcase name="b"/></testsuite>
    <testcase name="c"/></testsuite><testcase name="loose"/></testsuites>)");
  ASSERT_EQ(cases.size(), 4u);
  EXPECT_EQ(Find(cases, "a").suite, "outer/inner");
  EXPECT_EQ(Find(cases, "b").suite, "outer");
  EXPECT_EQ(Find(cases, "c").suite, "outer");
  EXPECT_EQ(Find(cases, "loose").suite, "");
}

TEST(JUnitShapeTest, EmptySuitesAreNoCases) {
  EXPECT_TRUE(ParseOk("<testsuites/>").empty());
  EXPECT_TRUE(ParseOk("<testsuite name='x' tests='0'></testsuite>").empty());
}

TEST(JUnitShapeTest, TimesAsToolsWriteThem) {
  auto time = [](const std::string& t) {
    auto cases = ParseOk("<testsuite><testcase name='x' time='" + t + "'/></testsuite>");
    return cases.empty() ? -1 : cases[0].duration_us;
  };
  EXPECT_EQ(time("0.001"), 1000);
  EXPECT_EQ(time("12"), 12000000);
  EXPECT_EQ(time(" 1.5 "), 1500000);
  EXPECT_EQ(time("0.440700000"), 440700);
  EXPECT_EQ(time("1,234.5"), 1234500000);  // old Surefire, digit grouping
  EXPECT_EQ(time("1,234"), 1234000000);
  EXPECT_EQ(time("0,25"), 250000);  // decimal comma
  EXPECT_EQ(time("1e-3"), 1000);
  for (const char* junk :
       {"", "abc", "-1", "nan", "inf", "1.2.3", "1,2,3", "1e300", "0x10", "12s", "1,2.3,4", "1,234.5,6"}) {
    EXPECT_EQ(time(junk), 0) << junk;
  }
  auto cases = ParseOk("<testsuite><testcase name='x'/></testsuite>");
  EXPECT_EQ(cases[0].duration_us, 0);
}

TEST(JUnitShapeTest, SkippedByAttribute) {
  auto cases =
      ParseOk(R"(<testsuite><testcase name="a" status="notrun"/><testcase name="b" status="disabled"/>
    <testcase name="c" result="skipped"/><testcase name="d" result="suppressed"/><testcase name="e" status="skipped"/>
    <testcase name="f" status="run" result="completed"/><testcase name="g" status="notrun"><failure/></testcase>
    </testsuite>)");
  ExpectCounts(cases, 7, 1, 1, 0, 5);
  EXPECT_EQ(Find(cases, "f").status, TestStatus::kPassed);
  EXPECT_EQ(Find(cases, "g").status, TestStatus::kFailed) << "a <failure> says more than an attribute";
}

TEST(JUnitShapeTest, FileAndLine) {
  auto cases = ParseOk(R"(<testsuite><testcase name="a" file="a.cc" line="12"/>
    <testcase name="b" line="-3"/><testcase name="c" line="x"/></testsuite>)");
  EXPECT_EQ(Find(cases, "a").file, "a.cc");
  EXPECT_EQ(Find(cases, "a").line, 12);
  EXPECT_EQ(Find(cases, "b").line, 0);
  EXPECT_EQ(Find(cases, "c").line, 0);
}

TEST(JUnitShapeTest, OutcomeWithoutMessage) {
  auto cases = ParseOk(R"(<testsuite><testcase name="f"><failure/></testcase>
    <testcase name="e"><error type="Boom"/></testcase><testcase name="s"><skipped/></testcase>
    <testcase name="fe"><failure message="first"/><error message="teardown"/></testcase>
    <testcase name="sf"><skipped/><failure message="after all"/></testcase></testsuite>)");
  EXPECT_EQ(Find(cases, "f").status, TestStatus::kFailed);
  EXPECT_EQ(Find(cases, "f").message, "");
  EXPECT_EQ(Find(cases, "e").status, TestStatus::kError);
  EXPECT_EQ(Find(cases, "e").type, "Boom");
  EXPECT_EQ(Find(cases, "s").status, TestStatus::kSkipped);
  EXPECT_EQ(Find(cases, "fe").status, TestStatus::kFailed);
  EXPECT_EQ(Find(cases, "fe").message, "first");
  EXPECT_EQ(Find(cases, "sf").status, TestStatus::kFailed);
}

TEST(JUnitShapeTest, TextIsCappedAndValidUtf8) {
  ReportLimits limits;
  limits.max_text_bytes = 100;
  limits.max_message_bytes = 10;
  std::string big(5000, 'x');
  auto cases =
      ParseOk("<testsuite name='" + std::string(50, 's') + "'><testcase name='" + std::string(50, 'n') +
                  "'><failure message='" + big + "'>" + big + "</failure><system-out>" + big +
                  "</system-out><system-err>\xFF\xFE ok</system-err></testcase></testsuite>",
              limits);
  ASSERT_EQ(cases.size(), 1u);
  const TestCase& c = cases[0];
  EXPECT_LE(c.suite.size(), 10u);
  EXPECT_LE(c.name.size(), 10u);
  EXPECT_LE(c.message.size(), 10u);
  EXPECT_LE(c.details.size(), 100u);
  EXPECT_LE(c.system_out.size(), 100u);
  EXPECT_EQ(c.details.substr(c.details.size() - 3), "\xE2\x80\xA6") << "the cut is marked";
  EXPECT_EQ(c.system_err, "\xEF\xBF\xBD\xEF\xBF\xBD ok") << "bytes that are not UTF-8 are replaced";
  // A multi-byte character is never split by the cap.
  limits.max_message_bytes = 5;
  auto euro =
      ParseOk("<testsuite><testcase name='\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC'/></testsuite>", limits);
  EXPECT_EQ(euro[0].name, "\xE2\x80\xA6");
  auto fits = ParseOk("<testsuite><testcase name='ab\xE2\x82\xAC'/></testsuite>", limits);
  EXPECT_EQ(fits[0].name, "ab\xE2\x82\xAC") << "exactly at the cap: nothing cut";
}

TEST(JUnitShapeTest, Utf8BomIsAccepted) {
  auto cases = ParseOk("\xEF\xBB\xBF<?xml version='1.0'?><testsuite><testcase name='x'/></testsuite>");
  EXPECT_EQ(cases.size(), 1u);
}

TEST(JUnitRefusalTest, NotJUnit) {
  EXPECT_EQ(ParseError(""), "empty");
  EXPECT_EQ(ParseError(" \n\t"), "empty");
  EXPECT_EQ(ParseError(std::string(100, '\0')).rfind("not XML", 0), 0u) << "NUL bytes are not blank";
  EXPECT_EQ(ParseError("<html><body/></html>"), "the root element is not <testsuites> or <testsuite>");
  EXPECT_EQ(ParseError("just text"), "not XML (No document element found at offset 9)");
  std::string truncated = Sample("pytest.xml").substr(0, 300);
  EXPECT_EQ(ParseError(truncated).rfind("not XML (", 0), 0u);
}

TEST(JUnitRefusalTest, NothingBeyondTheViewIsRead) {
  const std::string buffer = "<testsuite><testcase name='a'/></testsuite><testcase name='beyond'/>";
  std::string_view cut(buffer.data(), buffer.find("</testsuite>"));
  EXPECT_EQ(ParseError(std::string(cut)), ParseJUnitXml(cut, {}).status().message());
  auto whole = ParseJUnitXml(std::string_view(buffer.data(), buffer.find("<testcase name='beyond'")), {});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->size(), 1u);
}

TEST(JUnitRefusalTest, BinaryJunk) {
  std::mt19937 rng(7);
  std::string junk(1 << 16, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  std::string why = ParseError(junk);
  EXPECT_FALSE(why.empty());
  EXPECT_LT(why.size(), 200u) << "the message names the problem, never the content";
  EXPECT_EQ(ParseError(std::string("\x7F"
                                   "ELF\x02\x01\x01",
                                   7) +
                       std::string(1000, '\0'))
                .rfind("not XML", 0),
            0u);
}

TEST(JUnitRefusalTest, Utf16IsNotRead) {
  std::string utf16 = "\xFF\xFE";
  for (char c : std::string("<testsuite><testcase name='x'/></testsuite>")) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  EXPECT_NE(ParseError(utf16).find("UTF-16"), std::string::npos);
  EXPECT_NE(ParseError(utf16.substr(2)).find("UTF-16"), std::string::npos) << "without a BOM";
}

TEST(JUnitHostileTest, BillionLaughs) {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    xml += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) xml += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    xml += "\">\n";
  }
  xml += "]>\n<testsuite name=\"&lol9;\"><testcase name=\"&lol9;\"/></testsuite>";
  EXPECT_NE(ParseError(xml).find("DTD"), std::string::npos);
}

TEST(JUnitHostileTest, ExternalEntityIsNeverRead) {
  std::string xxe = R"(<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <testsuite><testcase name="&xxe;"><failure message="&xxe;">&xxe;</failure></testcase></testsuite>)";
  EXPECT_NE(ParseError(xxe).find("DTD"), std::string::npos);
  // Any DOCTYPE at all, even one that declares nothing.
  EXPECT_NE(ParseError("<!DOCTYPE testsuite><testsuite/>").find("DTD"), std::string::npos);
  EXPECT_NE(ParseError("<testsuite><!ENTITY x 'y'></testsuite>").find("DTD"), std::string::npos);
  // An entity never declared stays as written: nothing is looked up.
  auto cases =
      ParseOk(R"(<testsuite><testcase name="&xxe;"><failure>&xxe;</failure></testcase></testsuite>)");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].name, "&xxe;");
  EXPECT_EQ(cases[0].details.find("root:"), std::string::npos);
}

TEST(JUnitHostileTest, MarkupInsideCommentsAndCdataIsNotMarkup) {
  // "<!DOCTYPE" inside a comment or CDATA is text, and "</" inside an
  // attribute value closes nothing.
  auto cases = ParseOk(R"(<testsuite><!-- <!DOCTYPE x> --><testcase name="a</b>"><failure>
    <![CDATA[<!DOCTYPE y [<!ENTITY z "z">]>]]></failure></testcase></testsuite>)");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].name, "a</b>");
  EXPECT_NE(cases[0].details.find("<!DOCTYPE y"), std::string::npos);
}

TEST(JUnitHostileTest, TenMegabytesOfNesting) {
  std::string deep;
  deep.reserve(10 << 20);
  while (deep.size() < (10u << 20) / 2) deep += "<testsuite>";
  std::string tail;
  EXPECT_NE(ParseError(deep).find("nested deeper than 64"), std::string::npos);
  // The same once closed, so that it is well-formed XML.
  std::string closed = deep;
  for (size_t i = 0; i < deep.size() / 11; ++i) closed += "</testsuite>";
  EXPECT_NE(ParseError(closed).find("nested deeper than 64"), std::string::npos);
  // Nesting hidden in attribute quotes does not count, nesting after does.
  std::string quoted = "<testsuite name='";
  for (int i = 0; i < 100; ++i) quoted += "<a>";
  quoted += "'>";
  for (int i = 0; i < 100; ++i) quoted += "<b>";
  EXPECT_NE(ParseError(quoted).find("nested deeper"), std::string::npos);
}

TEST(JUnitHostileTest, DepthAtTheLimitIsRead) {
  ReportLimits limits;
  limits.max_depth = 4;
  auto cases = ParseOk(
      "<testsuites><testsuite><testcase name='x'><failure/></testcase></testsuite></testsuites>", limits);
  EXPECT_EQ(cases.size(), 1u);
  ParseError(
      "<testsuites><testsuite><testcase name='x'><failure><b/></failure></testcase></testsuite></testsuites>",
      limits);
}

TEST(JUnitHostileTest, TooManyCases) {
  ReportLimits limits;
  limits.max_cases = 100;
  std::string xml = "<testsuite>";
  for (int i = 0; i < 100; ++i) xml += "<testcase name='t" + std::to_string(i) + "'/>";
  EXPECT_EQ(ParseOk(xml + "</testsuite>", limits).size(), 100u);
  xml += "<testcase name='one more'/></testsuite>";
  EXPECT_EQ(ParseError(xml, limits), "more than 100 test cases");
}

// pugixml's nodes are ten times the size of "<a/>": the element and
// attribute count is bounded before it allocates any.
TEST(JUnitHostileTest, TinyElementsAndAttributesAreCounted) {
  ReportLimits limits;
  limits.max_cases = 100;  // 16 * 100 + 100,000 items
  std::string many = "<testsuite>";
  for (int i = 0; i < 101'600; ++i) many += "<a/>";
  EXPECT_EQ(ParseError(many + "</testsuite>", limits), "more than 101600 elements and attributes");
  std::string attributes = "<testsuite><testcase name='x' ";
  for (int i = 0; i < 101'600; ++i) attributes += "a" + std::to_string(i) + "='' ";
  EXPECT_EQ(ParseError(attributes + "/></testsuite>", limits), "more than 101600 elements and attributes");
  // Quoted "=" are not attributes.
  EXPECT_EQ(
      ParseOk("<testsuite><testcase name='" + std::string(200'000, '=') + "'/></testsuite>", limits).size(),
      1u);
}

// A suite's name and output are copied into its cases: a small document
// must not become a large one.
TEST(JUnitHostileTest, CopiesAreBudgeted) {
  ReportLimits limits;
  limits.max_total_bytes = 1 << 20;
  std::string xml = "<testsuite name='" + std::string(4000, 's') + "'><system-out>" +
                    std::string(60000, 'o') + "</system-out>";
  for (int i = 0; i < 2000; ++i) xml += "<testcase name='t'><failure/></testcase>";
  xml += "</testsuite>";
  EXPECT_LT(xml.size(), 200000u);
  EXPECT_NE(ParseError(xml, limits).find("bytes of names and text"), std::string::npos);
}

// Random damage to every sample: never a crash, never more out than the
// limits allow.
TEST(JUnitFuzzTest, MutatedSamplesNeverCrash) {
  std::mt19937 rng(20261207);
  ReportLimits limits;
  limits.max_text_bytes = 1000;
  limits.max_message_bytes = 100;
  static const char* kTokens[] = {
      "<",           ">",    "</",    "/>",       "<!", "<![CDATA[", "]]>",         "<!--",
      "-->",         "&",    "&#x0;", "&#xD800;", "\"", "'",         "<testsuite>", "<testcase name='z'>",
      "</testcase>", "\xFF", "\xC2"};
  int parsed = 0;
  for (const char* name : {"gtest.xml", "pytest.xml", "ctest.xml", "surefire.xml", "go-junit-report.xml",
                           "gotestsum.xml", "jest-junit.xml"}) {
    const std::string sample = Sample(name);
    for (int round = 0; round < 300; ++round) {
      std::string xml = sample;
      int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits && !xml.empty(); ++e) {
        size_t at = rng() % xml.size();
        switch (rng() % 4) {
          case 0: xml[at] = static_cast<char>(rng()); break;
          case 1: xml.erase(at, 1 + rng() % 32); break;
          case 2: xml.insert(at, kTokens[rng() % (sizeof kTokens / sizeof *kTokens)]); break;
          case 3: xml.insert(at, xml.substr(rng() % xml.size(), rng() % 200)); break;
        }
      }
      auto cases = ParseJUnitXml(xml, limits);
      if (!cases.ok()) {
        EXPECT_EQ(cases.status().code(), Code::kInvalidArgument) << cases.status().ToString();
        EXPECT_LT(cases.status().message().size(), 200u);
        continue;
      }
      ++parsed;
      EXPECT_LE(cases->size(), 64u);
      for (const TestCase& c : *cases) {
        EXPECT_LE(c.name.size(), 100u);
        EXPECT_LE(c.suite.size(), 100u);
        EXPECT_LE(c.message.size(), 100u);
        EXPECT_LE(c.details.size(), 1000u);
        EXPECT_LE(c.system_out.size(), 1000u);
        EXPECT_LE(c.system_err.size(), 1000u);
      }
    }
  }
  // Most mutations leave something readable: the test reaches the walk.
  EXPECT_GT(parsed, 100);
}

}  // namespace
}  // namespace slipway::pipelines

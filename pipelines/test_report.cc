// JUnit XML, as the tools that write it write it (docs/tests.md, "Reports").
//
// The document is hostile: before pugixml sees it, a linear scan refuses
// any DTD (no entity can be declared, so none can expand: no billion laughs,
// no external entity), any nesting deeper than the limit, so neither the
// parser nor the walk below can be made to go deep, and more elements and
// attributes than pugixml should allocate nodes for. pugixml is given the
// bytes as UTF-8 (never converted from another encoding the scan did not
// see), without DOCTYPE, PI or comment nodes. Every string kept is made
// valid UTF-8 and capped, and all of them together are held to a budget,
// since a suite's name and output are copied into each of its cases.
#include "pipelines/test_report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <pugixml.hpp>

#include "pipelines/utf8.h"

namespace slipway::pipelines {

const char* TestStatusName(TestStatus status) {
  switch (status) {
    case TestStatus::kPassed: return "passed";
    case TestStatus::kFailed: return "failed";
    case TestStatus::kError: return "error";
    case TestStatus::kSkipped: return "skipped";
  }
  return "passed";
}

std::optional<TestStatus> ParseTestStatus(std::string_view name) {
  if (name == "passed") return TestStatus::kPassed;
  if (name == "failed") return TestStatus::kFailed;
  if (name == "error") return TestStatus::kError;
  if (name == "skipped") return TestStatus::kSkipped;
  return std::nullopt;
}

TestCounts CountCases(const std::vector<TestCase>& cases) {
  TestCounts counts;
  for (const TestCase& c : cases) {
    ++counts.total;
    switch (c.status) {
      case TestStatus::kPassed: ++counts.passed; break;
      case TestStatus::kFailed: ++counts.failed; break;
      case TestStatus::kError: ++counts.errors; break;
      case TestStatus::kSkipped: ++counts.skipped; break;
    }
  }
  return counts;
}

namespace {

// Past this, the walk's recursion (one frame per suite) is not to be
// trusted to any limit a caller sets.
constexpr int kMaxDepthCeiling = 1024;

// `in` as valid UTF-8 (each byte that is not becomes U+FFFD) in at most
// `cap` bytes; what is cut is marked with "…", so a reader knows.
std::string Capped(std::string_view in, size_t cap) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  // Most names and messages are short ASCII: copied as they are.
  if (in.size() <= cap &&
      std::all_of(in.begin(), in.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    return std::string(in);
  }
  std::string out;
  out.reserve(std::min(in.size(), cap));
  size_t room = cap >= kEllipsis.size() ? cap - kEllipsis.size() : 0;
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    std::string_view piece = n ? in.substr(i, n) : kReplacement;
    i += n ? n : 1;
    if (out.size() + piece.size() > room) {
      // It may still all fit without the mark.
      size_t rest = piece.size();
      for (size_t j = i; j < in.size() && out.size() + rest <= cap;) {
        size_t m = Utf8SequenceLength(in, j);
        rest += m ? m : kReplacement.size();
        j += m ? m : 1;
      }
      if (out.size() + rest <= cap) {
        out.append(piece);
        continue;
      }
      if (cap >= kEllipsis.size()) out.append(kEllipsis);
      return out;
    }
    out.append(piece);
  }
  return out;
}

bool IsXmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsXmlSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsXmlSpace(s.back())) s.remove_suffix(1);
  return s;
}

// `time` in seconds ("0.123", "12", "1,234.5" as old Surefire wrote it
// with digit grouping, "0,5" with a decimal comma) as microseconds; 0 if
// missing, negative, not a number or beyond any real run.
int64_t ParseDurationUs(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return 0;
  std::string s(text);
  if (s.find(',') != std::string::npos) {
    // "1,234" and "1,234.5" are grouped digits, "0,5" a decimal comma;
    // anything else with a comma is not a time.
    std::string_view whole = std::string_view(s).substr(0, s.find('.'));
    bool grouped =
        whole.find(',') > 0 && whole.find(',') <= 3 && s.find(',', whole.size()) == std::string::npos;
    for (size_t at = whole.find(','); grouped && at != std::string_view::npos; at = whole.find(',', at + 1)) {
      size_t next = whole.find(',', at + 1);
      grouped = (next == std::string_view::npos ? whole.size() : next) - at - 1 == 3;
    }
    if (grouped) {
      s.erase(std::remove(s.begin(), s.end(), ','), s.end());
    } else if (s.find(',') == s.rfind(',') && s.find('.') == std::string::npos) {
      s[s.find(',')] = '.';
    } else {
      return 0;
    }
  }
  double seconds = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (ec != std::errc() || end != s.data() + s.size()) return 0;
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return 0;
  return std::llround(seconds * 1e6);
}

int64_t ParseLine(std::string_view text) {
  text = Trim(text);
  int64_t line = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), line);
  if (ec != std::errc() || end != text.data() + text.size() || line < 0) return 0;
  return line;
}

bool StartsWith(std::string_view s, size_t at, std::string_view prefix) {
  return s.size() - at >= prefix.size() && s.compare(at, prefix.size(), prefix) == 0;
}

// The linear scan before pugixml: tags, comments, CDATA and processing
// instructions delimited as pugixml delimits them, so that the depth
// counted here is never less than the depth pugixml would build (where the
// two could differ, the document is malformed and pugixml stops there).
// Any other "<!" (DOCTYPE, and ENTITY, ELEMENT, ATTLIST inside one) is
// refused outright.
// The scan also bounds what pugixml would allocate: each element and
// attribute becomes a node of some 40 bytes, from as little as 4 bytes of
// input ("<a/>"), so `max_items` elements and attributes together are
// allowed. `elements` receives the number of start tags, a bound on the
// cases.
Status ScanMarkup(std::string_view xml, int max_depth, size_t max_items, size_t* elements) {
  size_t items = 0;
  // A UTF-16 or UTF-32 document would be converted by pugixml behind this
  // scan's back; the tools write UTF-8.
  if (StartsWith(xml, 0, "\xFE\xFF") || StartsWith(xml, 0, "\xFF\xFE") ||
      (xml.size() >= 2 && (xml[0] == '\0' || xml[1] == '\0'))) {
    return InvalidArgument("not XML in UTF-8 (UTF-16 or UTF-32 is not read)");
  }
  int depth = 0;
  size_t i = 0;
  while (i < xml.size()) {
    size_t lt = xml.find('<', i);
    if (lt == std::string_view::npos) break;
    auto skip_past = [&](size_t from, std::string_view end) {
      size_t at = xml.find(end, from);
      return at == std::string_view::npos ? xml.size() : at + end.size();
    };
    if (StartsWith(xml, lt, "<!--")) {
      i = skip_past(lt + 4, "-->");
    } else if (StartsWith(xml, lt, "<![CDATA[")) {
      i = skip_past(lt + 9, "]]>");
    } else if (StartsWith(xml, lt, "<?")) {
      i = skip_past(lt + 2, "?>");
    } else if (StartsWith(xml, lt, "<!")) {
      return InvalidArgument("a DTD or entity declaration (\"<!\" at offset " + std::to_string(lt) +
                             ") is not accepted");
    } else if (StartsWith(xml, lt, "</")) {
      if (depth > 0) --depth;
      i = skip_past(lt + 2, ">");
    } else {
      // A start tag: up to its '>', which may appear inside a quoted
      // attribute value.
      size_t k = lt + 1;
      char quote = 0;
      for (; k < xml.size(); ++k) {
        char c = xml[k];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (c == '=') {
          ++items;
        } else if (c == '>') {
          break;
        }
      }
      if (depth + 1 > max_depth) {
        return InvalidArgument("elements nested deeper than " + std::to_string(max_depth) + " (at offset " +
                               std::to_string(lt) + ")");
      }
      ++*elements;
      if (++items > max_items) {
        return InvalidArgument("more than " + std::to_string(max_items) + " elements and attributes");
      }
      bool empty_element = k < xml.size() && xml[k - 1] == '/';
      if (!empty_element) ++depth;
      i = k + 1;
    }
  }
  return Status::Ok();
}

// Appends the text of an element (its PCDATA and CDATA children, which
// GoogleTest splits around "]]>") to `raw`, no further than a few bytes
// past `cap`: enough for Capped to see that something was cut.
void AppendText(pugi::xml_node node, size_t cap, std::string* raw) {
  for (pugi::xml_node child = node.first_child(); child && raw->size() <= cap; child = child.next_sibling()) {
    if (child.type() != pugi::node_pcdata && child.type() != pugi::node_cdata) continue;
    raw->append(std::string_view(child.value()).substr(0, cap + 4 - raw->size()));
  }
}

std::string ElementText(pugi::xml_node node, size_t cap) {
  std::string raw;
  AppendText(node, cap, &raw);
  return Capped(raw, cap);
}

// The text of every child named `name`, one after the other: pytest may
// write a case's <system-out> twice.
std::string ChildrenText(pugi::xml_node node, const char* name, size_t cap) {
  std::string raw;
  for (pugi::xml_node child = node.child(name); child && raw.size() <= cap;
       child = child.next_sibling(name)) {
    AppendText(child, cap, &raw);
  }
  return Capped(raw, cap);
}

std::string Attribute(pugi::xml_node node, const char* name, size_t cap) {
  return Capped(node.attribute(name).value(), cap);
}

// The first non-blank line of `text`: a message for tools that write none
// but the failure's text (jest-junit, go-junit-report's "Failed").
std::string FirstLine(std::string_view text, size_t cap) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    if (!line.empty()) return Capped(line, cap);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return "";
}

class JUnitReader {
 public:
  JUnitReader(const ReportLimits& limits, size_t expected_cases) : limits_(limits) {
    cases_.reserve(expected_cases);
  }

  Status ReadRoot(pugi::xml_node root) {
    std::string_view name = root.name();
    if (name == "testsuite") return ReadSuite(root, "", 1);
    if (name == "testsuites") return ReadChildren(root, "", nullptr, 1);
    return InvalidArgument("the root element is not <testsuites> or <testsuite>");
  }

  std::vector<TestCase> Take() { return std::move(cases_); }

 private:
  // A suite's output, for its failed cases that have none of their own.
  struct SuiteOutput {
    std::string out, err;
  };

  Status ReadSuite(pugi::xml_node suite, const std::string& parent, int depth) {
    std::string name = Attribute(suite, "name", limits_.max_message_bytes);
    std::string path = parent.empty() ? name : name.empty() ? parent : parent + "/" + name;
    if (path.size() > limits_.max_message_bytes) path = Capped(path, limits_.max_message_bytes);
    SuiteOutput output{ChildrenText(suite, "system-out", limits_.max_text_bytes),
                       ChildrenText(suite, "system-err", limits_.max_text_bytes)};
    return ReadChildren(suite, path, &output, depth);
  }

  Status ReadChildren(pugi::xml_node parent, const std::string& path, const SuiteOutput* output, int depth) {
    if (depth > kMaxDepthCeiling) return InvalidArgument("suites nested too deep");
    for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
      if (child.type() != pugi::node_element) continue;
      std::string_view name = child.name();
      if (name == "testsuite") {
        SLIPWAY_RETURN_IF_ERROR(ReadSuite(child, path, depth + 1));
      } else if (name == "testsuites") {
        // Some aggregators wrap groups of suites again.
        SLIPWAY_RETURN_IF_ERROR(ReadChildren(child, path, output, depth + 1));
      } else if (name == "testcase") {
        SLIPWAY_RETURN_IF_ERROR(ReadCase(child, path, output));
      }
      // <properties>, <system-out> of the suite (read above) and elements
      // of other dialects are not test cases.
    }
    return Status::Ok();
  }

  Status ReadCase(pugi::xml_node node, const std::string& suite, const SuiteOutput* output) {
    if (cases_.size() >= limits_.max_cases) {
      return InvalidArgument("more than " + std::to_string(limits_.max_cases) + " test cases");
    }
    const size_t short_cap = limits_.max_message_bytes, long_cap = limits_.max_text_bytes;
    TestCase c;
    c.suite = suite;
    c.class_name = Attribute(node, "classname", short_cap);
    c.name = Attribute(node, "name", short_cap);
    c.duration_us = ParseDurationUs(node.attribute("time").value());
    c.file = Attribute(node, "file", short_cap);
    c.line = ParseLine(node.attribute("line").value());

    // The result: the first <failure> or <error> decides (pytest may add
    // an <error> for a teardown after a <failure>); else <skipped>. Maven's
    // reruns (<flakyFailure>, <rerunFailure>...) do not change it.
    pugi::xml_node outcome;
    for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
      std::string_view name = child.name();
      if (name == "failure" || name == "error") {
        c.status = name == "failure" ? TestStatus::kFailed : TestStatus::kError;
        outcome = child;
        break;
      }
      if (name == "skipped" && !outcome) {
        c.status = TestStatus::kSkipped;
        outcome = child;
      }
    }
    if (!outcome) {
      // GoogleTest marks a test it did not run (DISABLED_, filtered) as
      // status="notrun" result="suppressed" with no child, as does ctest
      // status="notrun"/"disabled"; GoogleTest's GTEST_SKIP is
      // result="skipped" (it adds a <skipped> child too).
      for (const char* attribute : {"status", "result"}) {
        std::string_view value = node.attribute(attribute).value();
        if (value == "notrun" || value == "disabled" || value == "skipped" || value == "suppressed") {
          c.status = TestStatus::kSkipped;
        }
      }
    } else {
      c.message = Attribute(outcome, "message", short_cap);
      c.type = Attribute(outcome, "type", short_cap);
      c.details = ElementText(outcome, long_cap);
      if (c.message.empty()) c.message = FirstLine(c.details, short_cap);
    }

    c.system_out = ChildrenText(node, "system-out", long_cap);
    c.system_err = ChildrenText(node, "system-err", long_cap);
    bool failed = c.status == TestStatus::kFailed || c.status == TestStatus::kError;
    if (failed && output) {
      if (!node.child("system-out")) c.system_out = output->out;
      if (!node.child("system-err")) c.system_err = output->err;
    }

    total_bytes_ += c.suite.size() + c.class_name.size() + c.name.size() + c.message.size() + c.type.size() +
                    c.details.size() + c.system_out.size() + c.system_err.size() + c.file.size();
    if (total_bytes_ > limits_.max_total_bytes) {
      return InvalidArgument("its test cases take more than " + std::to_string(limits_.max_total_bytes) +
                             " bytes of names and text");
    }
    cases_.push_back(std::move(c));
    return Status::Ok();
  }

  const ReportLimits& limits_;
  std::vector<TestCase> cases_;
  size_t total_bytes_ = 0;
};

Result<std::vector<TestCase>> Parse(std::string_view xml, const ReportLimits& limits) {
  if (Trim(xml).empty()) return InvalidArgument("empty");
  int max_depth = std::clamp(limits.max_depth, 1, kMaxDepthCeiling);
  // Room for each case's own elements and attributes (GoogleTest writes
  // eight attributes on a case), and for the properties Surefire writes per
  // suite.
  size_t max_items =
      limits.max_cases > (SIZE_MAX - 100'000) / 16 ? SIZE_MAX : limits.max_cases * 16 + 100'000;
  size_t elements = 0;
  SLIPWAY_RETURN_IF_ERROR(ScanMarkup(xml, max_depth, max_items, &elements));

  pugi::xml_document doc;
  // parse_default without DOCTYPE, PI or comment nodes (none is asked
  // for): CDATA, the five predefined entities and character references
  // only; an undeclared "&name;" stays as it is written.
  pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return InvalidArgument(std::string("not XML (") + parsed.description() + " at offset " +
                           std::to_string(parsed.offset) + ")");
  }
  pugi::xml_node root = doc.document_element();
  if (!root) return InvalidArgument("not XML (no root element)");
  JUnitReader reader(limits, std::min(elements, limits.max_cases));
  SLIPWAY_RETURN_IF_ERROR(reader.ReadRoot(root));
  return reader.Take();
}

}  // namespace

Result<std::vector<TestCase>> ParseJUnitXml(std::string_view xml, const ReportLimits& limits) {
  try {
    return Parse(xml, limits);
  } catch (const std::bad_alloc&) {
    return Status(Code::kResourceExhausted, "out of memory while reading the report");
  } catch (const std::exception& e) {
    return Internal(std::string("reading the report: ") + e.what());
  }
}

}  // namespace slipway::pipelines

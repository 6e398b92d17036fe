// The pipeline file as an attacker writes it: it comes from any push. Each
// input must be refused with an error that says why, at a place in the file,
// without expanding, recursing or allocating without bound.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "pipelines/pipeline_file.h"
#include "tests/pipelines/example.h"

namespace slipway::pipelines {
namespace {

std::vector<FileError> ErrorsOf(const std::string& text) {
  std::vector<FileError> errors;
  Result<Pipeline> p = ParsePipelineFile(text, &errors);
  EXPECT_EQ(p.ok(), errors.empty());
  for (const FileError& e : errors) {
    EXPECT_GE(e.at.line, 1) << e.ToString();
    EXPECT_GE(e.at.column, 1) << e.ToString();
  }
  return errors;
}

std::string All(const std::vector<FileError>& errors) {
  std::string all;
  for (const FileError& e : errors) all += e.ToString() + "\n";
  return all;
}

// The first error is at `line`:`column` and contains `part`.
void ExpectFirstError(const std::string& text, int line, int column, const std::string& part) {
  std::vector<FileError> errors = ErrorsOf(text);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].at, (SourceLocation{line, column})) << All(errors);
  EXPECT_NE(errors[0].message.find(part), std::string::npos) << All(errors);
}

const std::string kStep = "steps:\n  - name: a\n    image: busybox\n    commands: [true]\n";

TEST(HostileInputTest, FileLargerThanTheCapIsNotParsed) {
  // Padding with a comment keeps the text valid YAML: only its size is wrong.
  std::string at_cap = kStep + "#";
  at_cap.resize(kMaxPipelineFileBytes, 'x');
  EXPECT_TRUE(ErrorsOf(at_cap).empty()) << "a file of exactly the cap is read";
  std::string over = at_cap + "x";
  std::vector<FileError> errors = ErrorsOf(over);
  ASSERT_EQ(errors.size(), 1u) << All(errors);
  EXPECT_EQ(errors[0].ToString(), "1:1: the file is larger than 1048576 bytes");
}

TEST(HostileInputTest, DeepNestingStopsAtTheBound) {
  // Refused at the 33rd bracket, before yaml-cpp recurses deep.
  ExpectFirstError(std::string(50000, '[') + std::string(50000, ']'), 1, 33, "nested deeper than 32 levels");
  // Unclosed, each "[" may start a key too: yaml-cpp reports a mapping and a
  // list per bracket, so the 33rd collection is at the 17th.
  ExpectFirstError(std::string(100000, '['), 1, 17, "nested deeper than 32 levels");
  std::string maps = "steps:\n";
  for (int i = 0; i < 40; ++i) maps += std::string(2 * i + 2, ' ') + "k:\n";
  std::vector<FileError> errors = ErrorsOf(maps);
  ASSERT_EQ(errors.size(), 1u) << All(errors);
  EXPECT_NE(errors[0].message.find("nested deeper than 32 levels"), std::string::npos);
  // 32 levels are read (and then refused by the schema only).
  std::string flow = "steps: " + std::string(31, '[') + std::string(31, ']') + "\n";
  EXPECT_EQ(ErrorsOf(flow)[0].message.find("nested"), std::string::npos) << All(ErrorsOf(flow));
}

TEST(HostileInputTest, BillionLaughsIsRefusedNotExpanded) {
  // Ten levels of ten aliases each: 10^10 nodes if expanded.
  std::string bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  bomb += kStep;
  std::vector<FileError> errors = ErrorsOf(bomb);
  ASSERT_EQ(errors.size(), 1u) << All(errors);
  EXPECT_NE(errors[0].message.find("more than 100000 YAML nodes (counting every node an alias copies)"),
            std::string::npos)
      << All(errors);
}

TEST(HostileInputTest, AliasCopyingBigScalarsIsBounded) {
  // Few nodes, many bytes: a 600 KiB string named 20 times is 12 MiB.
  std::string text = "big: &big " + std::string(600 * 1024, 'x') + "\ncopies: [";
  for (int i = 0; i < 20; ++i) text += (i ? ", " : "") + std::string("*big");
  text += "]\n" + kStep;
  std::vector<FileError> errors = ErrorsOf(text);
  ASSERT_EQ(errors.size(), 1u) << All(errors).substr(0, 300);
  EXPECT_NE(errors[0].message.find("aliases copy more than 4194304 bytes"), std::string::npos);
}

TEST(HostileInputTest, AliasInsideItsOwnNodeIsRefused) {
  // yaml-cpp's own tree would hold a cycle here, and a walk over it never ends.
  ExpectFirstError("a: &a [*a]\n" + kStep, 1, 8, "an alias inside the node it names");
  ExpectFirstError("a: &a {b: *a}\n" + kStep, 1, 11, "an alias inside the node it names");
}

TEST(HostileInputTest, ModestAliasesWork) {
  Result<Pipeline> p = ParsePipelineFile(
      "steps:\n"
      "  - name: a\n"
      "    image: busybox\n"
      "    commands: &cmds [\"make\", \"make check\"]\n"
      "  - name: b\n"
      "    image: busybox\n"
      "    commands: *cmds\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[1].commands, (std::vector<std::string>{"make", "make check"}));
}

TEST(HostileInputTest, MergeKeysAreRefused) {
  ExpectFirstError(
      "steps:\n"
      "  - &base\n"
      "    name: a\n"
      "    image: busybox\n"
      "    commands: [true]\n"
      "  - <<: *base\n"
      "    name: b\n",
      6, 5, "merge keys (<<) are not supported");
}

TEST(HostileInputTest, DuplicateKeysAreRefused) {
  // yaml-cpp keeps the last silently; a reviewer reads the first. Neither wins.
  std::vector<FileError> errors = ErrorsOf(kStep + "steps: []\n");
  ASSERT_EQ(errors.size(), 1u) << All(errors);
  EXPECT_EQ(errors[0].ToString(), "5:1: duplicate key \"steps\" (first at line 1)");
  errors = ErrorsOf(kStep + "    commands: [\"rm -rf /\"]\n");
  ASSERT_EQ(errors.size(), 1u) << All(errors);
  EXPECT_EQ(errors[0].ToString(), "5:5: duplicate key \"commands\" (first at line 4)");
  // Quoting does not make another key.
  ExpectFirstError(kStep + "\"steps\": []\n", 5, 1, "duplicate key \"steps\"");
}

TEST(HostileInputTest, TabsIndentingAreNamed) {
  std::vector<FileError> errors = ErrorsOf("steps:\n  - name: a\n\timage: busybox\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].ToString(), "3:1: a tab indents this line: YAML indents with spaces") << All(errors);
  // A tab inside a value is just a character.
  Result<Pipeline> p = ParsePipelineFile(kStep + "    env: {A: \"x\ty\"}\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[0].env.at("A"), "x\ty");
}

TEST(HostileInputTest, BinaryIsRefusedAtTheFirstBadByte) {
  ExpectFirstError(kStep + "    env: {A: \"x\x01y\"}\n", 5, 16, "a control character");
  ExpectFirstError(std::string("steps:\0\n", 8), 1, 7, "a control character");
  ExpectFirstError("steps:\n  - name: \xff\n", 2, 11, "not UTF-8");
  ExpectFirstError("steps:\n  - name: \xc0\xaf\n", 2, 11, "not UTF-8");      // overlong "/"
  ExpectFirstError("steps:\n  - name: \xed\xa0\x80\n", 2, 11, "not UTF-8");  // a surrogate
  ExpectFirstError("steps:\n  - name: \xe2\x82\n", 2, 11, "not UTF-8");      // cut short
  ExpectFirstError(std::string("\xff\xfes\0t\0", 6), 1, 1, "not UTF-8");     // UTF-16
  // Well-formed UTF-8 is text, wherever it is.
  Result<Pipeline> p = ParsePipelineFile("\xef\xbb\xbf" + kStep +
                                         "    env: {GREETING: \"gr\xc3\xbc\xc3\x9f"
                                         " dich\"}\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[0].env.at("GREETING"),
            "gr\xc3\xbc\xc3\x9f"
            " dich");

  std::mt19937 random(12);
  for (int i = 0; i < 200; ++i) {
    std::string garbage(1 + random() % 4096, '\0');
    for (char& c : garbage) c = static_cast<char>(random());
    EXPECT_FALSE(ErrorsOf(garbage).empty());
  }
}

TEST(HostileInputTest, NulInAnEscapeIsRefused) {
  ExpectFirstError(kStep + "    env: {A: \"x\\0y\"}\n", 5, 14, "a NUL character");
}

TEST(HostileInputTest, OneDocumentOnly) {
  ExpectFirstError(kStep + "---\n" + kStep, 5, 1, "a second YAML document");
}

TEST(HostileInputTest, TagsOtherThanStrAreRefused) {
  ExpectFirstError(kStep + "    pids: !!int 5\n", 5, 11,
                   "the tag \"tag:yaml.org,2002:int\" is not supported");
  ExpectFirstError(kStep + "    env: !custom {A: b}\n", 5, 10, "the tag \"!custom\" is not supported");
  // !!str makes a string of what looks like a number, as quotes do.
  ExpectFirstError(kStep + "    pids: !!str 5\n", 5, 11, "got the quoted string \"5\"");
}

TEST(HostileInputTest, KeysMustBeStrings) {
  ExpectFirstError(kStep + "? [a, b]\n: c\n", 5, 3, "a key must be a string, not a list");
}

// Mutations of the issue's example, as a fuzzer makes them: every variant
// is either a pipeline or a list of errors with places; none may crash,
// throw or hang the test.
TEST(HostileInputTest, MutatedExamplesNeverCrash) {
  const std::string example = testing::kIssueExample;
  const std::string specials = "[]{}:,-?&*!|>'\"%@`#\t\n \\~";
  std::mt19937 random(2026);
  auto pick = [&](size_t n) { return n == 0 ? 0 : random() % n; };
  int parsed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = example;
    int edits = 1 + pick(8);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t at = pick(text.size());
      switch (pick(7)) {
        case 0: text[at] = specials[pick(specials.size())]; break;
        case 1: text.insert(at, 1, specials[pick(specials.size())]); break;
        case 2: text.erase(at, 1 + pick(16)); break;
        case 3: text[at] = static_cast<char>(random()); break;
        case 4: text.resize(at); break;
        case 5: {  // a line again, somewhere else
          size_t start = text.rfind('\n', at);
          start = start == std::string::npos ? 0 : start + 1;
          size_t end = text.find('\n', at);
          std::string line =
              text.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
          text.insert(pick(text.size()), line);
          break;
        }
        case 6: text.insert(at, std::string(1 + pick(40), specials[pick(specials.size())])); break;
      }
    }
    std::vector<FileError> errors;
    Result<Pipeline> p = ParsePipelineFile(text, &errors);
    ASSERT_EQ(p.ok(), errors.empty()) << text;
    (p.ok() ? parsed : refused)++;
    for (const FileError& e : errors) {
      ASSERT_GE(e.at.line, 1) << text;
      ASSERT_GE(e.at.column, 1) << text;
      ASSERT_FALSE(e.message.empty()) << text;
    }
    if (p.ok()) {
      ASSERT_EQ(ExecutionOrder(*p).size(), p->steps.size()) << text;  // no cycle got through
    }
  }
  // Both ways were taken: the mutations reach the schema, not only the syntax.
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace slipway::pipelines

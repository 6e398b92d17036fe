// The pipeline file reader: the issue's example field by field, then one
// test per kind of error, each at its exact line and column (1-based, the
// column in bytes), and several errors reported together.
#include "pipelines/pipeline_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/pipelines/example.h"

namespace slipway::pipelines {
namespace {

using std::chrono::milliseconds;

std::vector<FileError> ErrorsOf(const std::string& text) {
  std::vector<FileError> errors;
  Result<Pipeline> p = ParsePipelineFile(text, &errors);
  EXPECT_EQ(p.ok(), errors.empty()) << p.status().message();
  return errors;
}

// Exactly one error, at `line`:`column`, whose message contains `part`.
void ExpectOneError(const std::string& text, int line, int column, const std::string& part) {
  std::vector<FileError> errors = ErrorsOf(text);
  ASSERT_EQ(errors.size(), 1u) << [&] {
    std::string all;
    for (const FileError& e : errors) all += e.ToString() + "\n";
    return all;
  }();
  EXPECT_EQ(errors[0].at, (SourceLocation{line, column})) << errors[0].ToString();
  EXPECT_NE(errors[0].message.find(part), std::string::npos) << errors[0].ToString();
}

// `text` with the first `from` replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

// One step `a` with an image; `extra` lines go into it, indented.
std::string OneStep(const std::string& extra) {
  return "steps:\n"
         "  - name: a\n"
         "    image: busybox\n"
         "    commands: [true]\n" +
         extra;
}

TEST(PipelineFileTest, IssueExampleParsesWithEveryField) {
  Result<Pipeline> parsed = ParsePipelineFile(testing::kIssueExample);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const Pipeline& p = *parsed;

  ASSERT_TRUE(p.build.has_value());
  EXPECT_EQ(p.build->dockerfile, "Dockerfile");
  EXPECT_EQ(p.build->context, ".");
  EXPECT_EQ(p.build->args, (std::map<std::string, std::string>{{"VERSION", "1"}}));

  ASSERT_EQ(p.services.size(), 1u);
  const Service& db = p.services[0];
  EXPECT_EQ(db.at, (SourceLocation{6, 5}));
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.image, "postgres-like:1");
  EXPECT_EQ(db.commands, std::vector<std::string>{"start-db --port 5432"});
  EXPECT_EQ(db.env, (std::map<std::string, std::string>{{"MODE", "test"}}));
  ASSERT_TRUE(db.ready.has_value());
  EXPECT_EQ(db.ready->tcp_port, 5432);
  EXPECT_EQ(db.ready->command, "");
  EXPECT_EQ(db.ready->timeout, milliseconds(30'000));

  ASSERT_EQ(p.steps.size(), 2u);
  const Step& unit = p.steps[0];
  EXPECT_EQ(unit.at, (SourceLocation{12, 5}));
  EXPECT_EQ(unit.name, "unit");
  EXPECT_EQ(unit.image, "app:1");
  EXPECT_EQ(unit.commands, std::vector<std::string>{"make test"});
  EXPECT_EQ(unit.env, (std::map<std::string, std::string>{{"CI", "true"}}));
  EXPECT_EQ(unit.secrets, std::vector<std::string>{"NPM_TOKEN"});
  EXPECT_EQ(unit.timeout, milliseconds(10 * 60'000));
  EXPECT_EQ(unit.memory_bytes, 512 << 20);
  EXPECT_EQ(unit.millicpus, 1000);
  EXPECT_EQ(unit.pids, 256);
  EXPECT_FALSE(unit.depends_on.has_value());
  EXPECT_TRUE(unit.needs.empty());
  EXPECT_TRUE(unit.when.branches.empty());
  EXPECT_TRUE(unit.when.tags.empty());
  EXPECT_TRUE(unit.when.events.empty());

  const Step& lint = p.steps[1];
  EXPECT_EQ(lint.at, (SourceLocation{21, 5}));
  EXPECT_EQ(lint.name, "lint");
  EXPECT_EQ(lint.image, "");  // the image `build` makes
  EXPECT_EQ(lint.commands, std::vector<std::string>{"make lint"});
  EXPECT_TRUE(lint.env.empty());
  EXPECT_TRUE(lint.secrets.empty());
  EXPECT_FALSE(lint.timeout || lint.memory_bytes || lint.millicpus || lint.pids);
  ASSERT_TRUE(lint.depends_on.has_value());
  EXPECT_TRUE(lint.depends_on->empty());
  EXPECT_TRUE(lint.needs.empty());  // in parallel with unit
  EXPECT_EQ(lint.when.branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(lint.when.events, (std::vector<Event>{Event::kPush, Event::kTag, Event::kManual}));

  EXPECT_EQ(p.reports, std::vector<std::string>{"out/junit.xml"});
  ASSERT_TRUE(p.promote.has_value());
  EXPECT_EQ(p.promote->to, "127.0.0.1:5000/team/app");
  EXPECT_EQ(p.promote->tags, (std::vector<std::string>{"{sha}", "{branch}", "latest"}));
  EXPECT_EQ(p.promote->branches, std::vector<std::string>{"main"});

  EXPECT_EQ(ExecutionOrder(p), (std::vector<size_t>{0, 1}));
}

TEST(PipelineFileTest, WindowsLineEndings) {
  std::string crlf;
  for (char c : std::string(testing::kIssueExample))
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  Result<Pipeline> p = ParsePipelineFile(crlf);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[1].when.branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(p->steps[1].at, (SourceLocation{21, 5}));
  ExpectOneError("steps:\r\n  - name: a\r\n    image: busybox\r\n    commands: [true]\r\n    pids: 0\r\n", 5,
                 11, "steps[0].pids:");
}

TEST(PipelineFileTest, ReadyByCommandAndDefaults) {
  Result<Pipeline> p = ParsePipelineFile(
      "build: {}\n"
      "services:\n"
      "  - name: web\n"
      "    ready: {command: \"wget -q localhost\"}\n"
      "steps:\n"
      "  - name: a\n"
      "    commands: [\"true\"]\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->build->dockerfile, "Dockerfile");
  EXPECT_EQ(p->build->context, ".");
  EXPECT_EQ(p->services[0].image, "");
  EXPECT_TRUE(p->services[0].commands.empty());
  EXPECT_FALSE(p->services[0].ready->tcp_port.has_value());
  EXPECT_EQ(p->services[0].ready->command, "wget -q localhost");
  EXPECT_EQ(p->services[0].ready->timeout, milliseconds(30'000));
}

TEST(PipelineFileTest, ScalarsAreTakenAsWritten) {
  // No YAML 1.1 conversions: `on` stays "on", 010 stays "010".
  Result<Pipeline> p = ParsePipelineFile(OneStep("    env: {A: on, B: 010, C: 1.50, D: true}\n"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[0].env,
            (std::map<std::string, std::string>{{"A", "on"}, {"B", "010"}, {"C", "1.50"}, {"D", "true"}}));
}

TEST(PipelineFileTest, UnknownKey) {
  ExpectOneError(OneStep("    memroy: 1m\n"), 5, 5, "steps[0]: unknown key \"memroy\" (known: name, image,");
  ExpectOneError("stages: []\n" + OneStep(""), 1, 1, "unknown key \"stages\"");
  ExpectOneError(OneStep("    when: {branches: [main]}\n"), 5, 12, "steps[0].when: unknown key \"branches\"");
}

TEST(PipelineFileTest, WrongTypes) {
  ExpectOneError("steps:\n  - name: a\n    image: busybox\n    commands: make\n", 4, 15,
                 "steps[0].commands: want a list of strings, got a string");
  ExpectOneError(OneStep("    env: [A=1]\n"), 5, 10,
                 "steps[0].env: want a mapping of names to strings, got a list");
  ExpectOneError(OneStep("    env: {A: [1]}\n"), 5, 14, "steps[0].env.A: want a string, got a list");
  ExpectOneError("steps: {a: 1}\n", 1, 8, "steps: want a list of steps, got a mapping");
  ExpectOneError("- a\n", 1, 1, "want a mapping, got a list");
  // A key with nothing after it is null, placed at the key.
  ExpectOneError(OneStep("    secrets:\n"), 5, 5, "steps[0].secrets: want a list of strings, got nothing");
  ExpectOneError(Replace(OneStep("    image: {name: x}\n"), "    image: busybox\n", ""), 4, 12,
                 "steps[0].image: want a string, got a mapping");
}

TEST(PipelineFileTest, BadSizes) {
  ExpectOneError(OneStep("    memory: 512x\n"), 5, 13, "steps[0].memory: invalid size \"512x\"");
  ExpectOneError(OneStep("    memory: -1m\n"), 5, 13, "invalid size \"-1m\"");
  ExpectOneError(OneStep("    memory: 0\n"), 5, 13, "invalid size \"0\"");
  ExpectOneError(OneStep("    memory: [1m]\n"), 5, 13,
                 "steps[0].memory: want a size (e.g. 512m), got a list");
}

TEST(PipelineFileTest, BadDurations) {
  ExpectOneError(OneStep("    timeout: 10\n"), 5, 14, "steps[0].timeout: invalid duration \"10\"");
  ExpectOneError(OneStep("    timeout: 10 minutes\n"), 5, 14, "invalid duration \"10 minutes\"");
  ExpectOneError(OneStep("    timeout: 0s\n"), 5, 14, "invalid duration \"0s\"");
  ExpectOneError(
      "services:\n  - name: db\n    image: busybox\n    ready: {tcp: 1, timeout: soon}\n" + OneStep(""), 4,
      30, "services[0].ready.timeout: invalid duration \"soon\"");
}

TEST(PipelineFileTest, BadCpus) {
  ExpectOneError(OneStep("    cpus: 0\n"), 5, 11, "steps[0].cpus: want a number of CPUs, at least 0.01");
  ExpectOneError(OneStep("    cpus: two\n"), 5, 11, "got \"two\"");
  ExpectOneError(OneStep("    cpus: \"1\"\n"), 5, 11, "got \"1\"");  // a string, not a number
  Result<Pipeline> half = ParsePipelineFile(OneStep("    cpus: 0.5\n"));
  ASSERT_TRUE(half.ok()) << half.status().message();
  EXPECT_EQ(half->steps[0].millicpus, 500);
}

TEST(PipelineFileTest, BadPids) {
  ExpectOneError(OneStep("    pids: 0\n"), 5, 11,
                 "steps[0].pids: want a whole number from 1 to 4194304, got \"0\"");
  ExpectOneError(OneStep("    pids: -5\n"), 5, 11, "got \"-5\"");
  ExpectOneError(OneStep("    pids: 2.5\n"), 5, 11, "got \"2.5\"");
  ExpectOneError(OneStep("    pids: 99999999999999999999\n"), 5, 11, "from 1 to 4194304");
  ExpectOneError(OneStep("    pids: \"256\"\n"), 5, 11, "got the quoted string \"256\"");
}

TEST(PipelineFileTest, DuplicateNames) {
  ExpectOneError(OneStep("  - name: a\n    image: busybox\n    commands: [true]\n"), 5, 11,
                 "steps[1].name: \"a\" is taken by steps[0]");
  ExpectOneError("services:\n  - name: a\n    image: busybox\n" + OneStep(""), 5, 11,
                 "steps[0].name: \"a\" is taken by services[0]");
  ExpectOneError(OneStep("  - name: \"b c\"\n    image: busybox\n    commands: [true]\n"), 5, 11,
                 "steps[1].name: \"b c\" is not a name");
}

TEST(PipelineFileTest, NamesAreAtMost63Characters) {
  std::string name63 = "a" + std::string(61, 'b') + "-";
  EXPECT_TRUE(ParsePipelineFile(Replace(OneStep(""), "name: a", "name: " + name63)).ok());
  ExpectOneError(Replace(OneStep(""), "name: a", "name: " + name63 + "c"), 2, 11, "is not a name");
  ExpectOneError(Replace(OneStep(""), "name: a", "name: -a"), 2, 11, "steps[0].name: \"-a\" is not a name");
}

TEST(PipelineFileTest, MissingKeys) {
  ExpectOneError("steps:\n  - name: a\n    image: busybox\n", 2, 5, "steps[0]: missing key \"commands\"");
  ExpectOneError("steps:\n  - image: busybox\n    commands: [true]\n", 2, 5,
                 "steps[0]: missing key \"name\"");
  ExpectOneError(Replace(OneStep("    commands: []\n"), "    commands: [true]\n", ""), 4, 15,
                 "steps[0].commands: want at least one command");
  ExpectOneError("build: {}\n", 1, 1, "missing key \"steps\"");
  ExpectOneError("steps: []\n", 1, 8, "steps: want at least one step");
  ExpectOneError("", 1, 1, "the file is empty");
  ExpectOneError("# nothing but a comment\n", 1, 1, "the file is empty");
  ExpectOneError("steps:\n  - name: a\n    commands: [true]\n", 2, 5,
                 "steps[0]: no \"image\", and no \"build\" to take the image from");
}

TEST(PipelineFileTest, ReadyNeedsExactlyOneCheck) {
  const std::string service = "services:\n  - name: db\n    image: busybox\n";
  ExpectOneError(service + "    ready: {timeout: 5s}\n" + OneStep(""), 4, 12,
                 "services[0].ready: want exactly one of \"tcp\" (a port) and \"command\"");
  ExpectOneError(service + "    ready: {tcp: 5432, command: x}\n" + OneStep(""), 4, 12,
                 "want exactly one of");
  ExpectOneError(service + "    ready: {tcp: 70000}\n" + OneStep(""), 4, 18,
                 "services[0].ready.tcp: want a whole number from 1 to 65535");
}

TEST(PipelineFileTest, BadWhen) {
  ExpectOneError(OneStep("    when: {event: [push, pull]}\n"), 5, 26,
                 "steps[0].when.event[1]: unknown event \"pull\" (known: push, tag, pull_request, manual)");
  ExpectOneError(OneStep("    when: {branch: main}\n"), 5, 20,
                 "steps[0].when.branch: want a list of strings");
  ExpectOneError(OneStep("    when: push\n"), 5, 11, "steps[0].when: want a mapping, got a string");
}

TEST(PipelineFileTest, DependsOnUnknownNames) {
  ExpectOneError(OneStep("    depends_on: [b]\n"), 5, 18, "steps[0].depends_on[0]: no step is named \"b\"");
  ExpectOneError("services:\n  - name: db\n    image: busybox\n" + OneStep("    depends_on: [db]\n"), 8, 18,
                 "\"db\" is a service: every step waits for every service to be ready");
}

TEST(PipelineFileTest, CycleNamesItsSteps) {
  const std::string text =
      "steps:\n"
      "  - name: a\n"
      "    image: busybox\n"
      "    commands: [true]\n"
      "    depends_on: [c]\n"
      "  - name: b\n"
      "    image: busybox\n"
      "    commands: [true]\n"
      "  - name: c\n"
      "    image: busybox\n"
      "    commands: [true]\n";
  // a waits for c (depends_on), c for b, b for a (the step before each).
  ExpectOneError(text, 5, 17, "steps[0].depends_on: a cycle: a -> c -> b -> a");
  ExpectOneError(OneStep("    depends_on: [a]\n"), 5, 17, "a cycle: a -> a");
}

TEST(PipelineFileTest, Images) {
  ExpectOneError(Replace(OneStep(""), "busybox", "Busy Box"), 3, 12, "steps[0].image:");
  ExpectOneError(OneStep("promote: {to: \"127.0.0.1:5000/team/app:1\", tags: [latest], image: busybox}\n"), 5,
                 15, "promote.to: want a repository without tag or digest");
  ExpectOneError(OneStep("promote: {to: reg/app, tags: [\"v{version}\"], image: busybox}\n"), 5, 31,
                 "promote.tags[0]: \"v{version}\" is not a tag: unknown placeholder {version}");
  ExpectOneError(OneStep("promote: {to: reg/app, image: busybox}\n"), 5, 10, "promote: missing key \"tags\"");
}

// `promote` (docs/promotion.md): every key, then each error at its place.
TEST(PipelineFileTest, PromoteReadsEveryKey) {
  Result<Pipeline> p =
      ParsePipelineFile(OneStep("promote:\n"
                                "  to: 127.0.0.1:5000/team/app\n"
                                "  image: busybox\n"
                                "  tags: [\"{sha}\", \"v-{short_sha}\", \"{branch}\", \"{tag}\", latest]\n"
                                "  immutable: [\"{sha}\"]\n"
                                "  branches: [main, \"release/*\"]\n"
                                "  tags_match: [\"v*\"]\n"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(p->promote);
  EXPECT_EQ(p->promote->at, (SourceLocation{6, 3}));
  EXPECT_EQ(p->promote->to, "127.0.0.1:5000/team/app");
  EXPECT_EQ(p->promote->image, "busybox");
  EXPECT_EQ(p->promote->tags,
            (std::vector<std::string>{"{sha}", "v-{short_sha}", "{branch}", "{tag}", "latest"}));
  EXPECT_EQ(p->promote->immutable, std::vector<std::string>{"{sha}"});
  EXPECT_EQ(p->promote->branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(p->promote->tags_match, std::vector<std::string>{"v*"});
}

TEST(PipelineFileTest, PromoteErrors) {
  const std::string head = "promote:\n  to: reg/app\n  image: busybox\n";
  // Tag templates: placeholders, literal text, where a tag may start, twice.
  ExpectOneError(OneStep(head + "  tags: [\"{sha\"]\n"), 8, 10,
                 "promote.tags[0]: \"{sha\" is not a tag: a '{' without its '}'");
  ExpectOneError(OneStep(head + "  tags: [\"a}b\"]\n"), 8, 10, "a '}' without its '{'");
  ExpectOneError(OneStep(head + "  tags: [\"{Sha}\"]\n"), 8, 10, "unknown placeholder {Sha}");
  ExpectOneError(OneStep(head + "  tags: [\"v/{sha}\"]\n"), 8, 10, "a tag holds only A-Z a-z 0-9 _ . -");
  ExpectOneError(OneStep(head + "  tags: [\"-{sha}\"]\n"), 8, 10, "does not start with '.' or '-'");
  ExpectOneError(OneStep(head + "  tags: [\"" + std::string(129, 'a') + "\"]\n"), 8, 10, "longer than a tag");
  ExpectOneError(OneStep(head + "  tags: [a, b, a]\n"), 8, 16, "promote.tags[2]: \"a\" is listed twice");
  ExpectOneError(OneStep(head + "  tags: []\n"), 8, 9, "promote.tags: want at least one tag");
  ExpectOneError(OneStep(head + "  tags: latest\n"), 8, 9, "promote.tags: want a list of strings");
  // immutable names tags as they are written.
  ExpectOneError(OneStep(head + "  tags: [\"{sha}\"]\n  immutable: [\"{short_sha}\"]\n"), 9, 15,
                 "promote.immutable[0]: \"{short_sha}\" is not one of promote.tags");
  // Globs fnmatch would take literally.
  ExpectOneError(OneStep(head + "  tags: [x]\n  branches: [\"rel[ease\"]\n"), 9, 14,
                 "promote.branches[0]: \"rel[ease\": '[' without its ']'");
  ExpectOneError(OneStep(head + "  tags: [x]\n  tags_match: [\"v\\\\\"]\n"), 9, 16, "promote.tags_match[0]:");
  // Unknown keys, and the image: one the steps use, or build's.
  ExpectOneError(OneStep(head + "  tags: [x]\n  branch: [main]\n"), 9, 3, "promote: unknown key \"branch\"");
  ExpectOneError(OneStep("promote: {to: reg/app, tags: [x], image: alpine}\n"), 5, 42,
                 "promote.image: \"alpine\" is not the image of any step or service");
  ExpectOneError(OneStep("promote: {to: reg/app, tags: [x]}\n"), 5, 10,
                 "promote: no \"image\", and no \"build\" to take the image from");
  EXPECT_TRUE(ErrorsOf("build: {}\n" + OneStep("promote: {to: reg/app, tags: [x]}\n")).empty());
  ExpectOneError(OneStep("promote: {to: \"Reg/App\", tags: [x], image: busybox}\n"), 5, 15, "promote.to:");
}

TEST(PipelineFileTest, PathsStayInsideTheWorkspace) {
  ExpectOneError(OneStep("reports: [/etc/shadow]\n"), 5, 11,
                 "reports[0]: \"/etc/shadow\": want a relative path");
  ExpectOneError(OneStep("reports: [out/../../x]\n"), 5, 11, "reports[0]:");
  ExpectOneError("build: {context: ..}\n" + OneStep(""), 1, 18, "build.context:");
  ExpectOneError("build: {dockerfile: /Dockerfile}\n" + OneStep(""), 1, 21, "build.dockerfile:");
}

TEST(PipelineFileTest, Reports) {
  auto p =
      ParsePipelineFile(OneStep("    reports: [\"build/test-results/**/*.xml\"]\n"
                                "reports: [out/junit.xml]\nreports_fail_run: true\n"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->steps[0].reports, std::vector<std::string>{"build/test-results/**/*.xml"});
  EXPECT_EQ(p->reports, std::vector<std::string>{"out/junit.xml"});
  EXPECT_TRUE(p->reports_fail_run);
  auto off = ParsePipelineFile(OneStep("reports_fail_run: false\n"));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->reports_fail_run);
  EXPECT_FALSE(ParsePipelineFile(OneStep(""))->reports_fail_run);
  ExpectOneError(OneStep("reports_fail_run: yes\n"), 5, 19,
                 "reports_fail_run: want true or false, got \"yes\"");
  ExpectOneError(OneStep("reports_fail_run: \"true\"\n"), 5, 19, "the quoted string");
  ExpectOneError(OneStep("reports_fail_run: [true]\n"), 5, 19, "reports_fail_run: want true or false");
  ExpectOneError(OneStep("    reports: [../x.xml]\n"), 5, 15, "steps[0].reports[0]:");
  ExpectOneError(OneStep("    reports: out.xml\n"), 5, 14, "steps[0].reports: want a list of paths");
}

TEST(PipelineFileTest, Variables) {
  ExpectOneError(OneStep("    env: {1A: x}\n"), 5, 11, "steps[0].env: \"1A\" is not a variable name");
  ExpectOneError(OneStep("    env: {SLIPWAY_COMMIT: x}\n"), 5, 11, "\"SLIPWAY_COMMIT\" is reserved");
  ExpectOneError(OneStep("    secrets: [SLIPWAY_RUN_ID]\n"), 5, 15,
                 "steps[0].secrets[0]: \"SLIPWAY_RUN_ID\" is reserved");
  ExpectOneError(OneStep("    env: {TOKEN: x}\n    secrets: [TOKEN]\n"), 6, 15,
                 "steps[0].secrets[0]: \"TOKEN\" is also set in env");
}

TEST(PipelineFileTest, SyntaxErrorIsOneErrorWhereYamlCppStopped) {
  ExpectOneError("steps:\n  - name: a\n    commands: [true\n", 4, 1,
                 "invalid YAML: end of sequence flow not found");
}

TEST(PipelineFileTest, EveryErrorIsReportedInFileOrder) {
  const std::string text =
      "steps:\n"
      "  - name: a\n"
      "    image: busybox\n"
      "    commands: [true]\n"
      "    memory: lots\n"
      "    pids: 0\n"
      "  - name: a\n"
      "    image: busybox\n"
      "    depends_on: [zz]\n"
      "    when: {event: [nightly]}\n";
  std::vector<FileError> errors;
  Result<Pipeline> p = ParsePipelineFile(text, &errors);
  ASSERT_FALSE(p.ok());
  std::vector<std::string> got;
  for (const FileError& e : errors) got.push_back(e.ToString());
  std::vector<std::string> want = {
      "5:13: steps[0].memory: invalid size \"lots\": want a number with an optional unit b, k, m or g (e.g. "
      "64m)",
      "6:11: steps[0].pids: want a whole number from 1 to 4194304, got \"0\"",
      "7:5: steps[1]: missing key \"commands\"",
      "7:11: steps[1].name: \"a\" is taken by steps[0]",
      "9:18: steps[1].depends_on[0]: no step is named \"zz\"",
      "10:20: steps[1].when.event[0]: unknown event \"nightly\" (known: push, tag, pull_request, manual)",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
  std::string joined;
  for (const std::string& line : want) joined += (joined.empty() ? "" : "\n") + line;
  EXPECT_EQ(p.status().message(), joined);
}

TEST(PipelineFileTest, ErrorsAreCappedAndLongTextIsCut) {
  // 150 unknown keys of 500 bytes, with an "\xc3\xa9" across the 64th byte:
  // the cut goes before it. (YAML keys without "?" stop at 1024 bytes.)
  std::string text = OneStep("");
  for (int i = 0; i < 150; ++i) {
    text += "    k" + std::to_string(1000 + i) + std::string(58, 'x') + "\xc3\xa9" + std::string(435, 'y') +
            ": 1\n";
  }
  std::vector<FileError> errors = ErrorsOf(text);
  ASSERT_EQ(errors.size(), 101u);
  EXPECT_EQ(errors[0].ToString(), "5:5: steps[0]: unknown key \"k1000" + std::string(58, 'x') +
                                      "...\" (known: name, image, commands, env, secrets, timeout, memory, "
                                      "cpus, pids, depends_on, when, reports)");
  EXPECT_EQ(errors[100].ToString(), "105:5: and 50 more errors");
}

}  // namespace
}  // namespace slipway::pipelines

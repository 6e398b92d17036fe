// CollectReports on a real workspace directory, laid out as a step that
// wants to read what it should not would lay it out.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "engine/base/fs.h"
#include "pipelines/test_report.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;

std::string Report(const std::string& name, const std::string& status = "") {
  return "<testsuite name='s'><testcase classname='c' name='" + name + "'>" + status +
         "</testcase></testsuite>";
}

class CollectReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = testing::MakeTempDir("collect-reports");
    ws_ = base_ + "/ws";
    fs::create_directories(ws_);
  }
  void TearDown() override { fs::remove_all(base_); }

  // Writes `data` at `rel` below the workspace, making its directories.
  void Write(const std::string& rel, const std::string& data) {
    fs::path p = fs::path(ws_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
  void Symlink(const std::string& target, const std::string& rel) {
    fs::path p = fs::path(ws_) / rel;
    fs::create_directories(p.parent_path());
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }

  CollectedReports Collect(const std::vector<std::string>& globs, const ReportLimits& limits = {}) {
    return CollectReports(ws_, globs, limits);
  }

  static std::vector<std::string> Names(const CollectedReports& r) {
    std::vector<std::string> names;
    for (const TestCase& c : r.cases) names.push_back(c.report + ":" + c.name);
    return names;
  }
  static bool HasWarning(const CollectedReports& r, const std::string& warning) {
    return std::find(r.warnings.begin(), r.warnings.end(), warning) != r.warnings.end();
  }
  static std::string All(const CollectedReports& r) {
    std::string all;
    for (const std::string& w : r.warnings) all += w + "\n";
    return all;
  }

  std::string base_, ws_;
};

TEST_F(CollectReportsTest, GlobsWithinAndAcrossDirectories) {
  Write("reports/a.xml", Report("a"));
  Write("reports/b.xml", Report("b", "<failure message='no'/>"));
  Write("reports/notes.txt", "not a report");
  Write("reports/sub/c.xml", Report("c"));
  Write("reports/sub/deeper/d.xml", Report("d"));
  Write("build/test-results/test/TEST-com.example.E.xml", Report("e"));
  Write("x1.xml", Report("x1"));
  Write("x2.xml", Report("x2"));
  Write("xa.xml", Report("xa"));

  auto one = Collect({"reports/*.xml"});
  EXPECT_EQ(one.files, (std::vector<std::string>{"reports/a.xml", "reports/b.xml"}));
  EXPECT_EQ(Names(one), (std::vector<std::string>{"reports/a.xml:a", "reports/b.xml:b"}));
  EXPECT_TRUE(one.warnings.empty()) << All(one);
  EXPECT_EQ(one.cases[1].status, TestStatus::kFailed);
  EXPECT_EQ(one.cases[0].step, "") << "the caller sets the step";

  auto deep = Collect({"reports/**/*.xml"});
  EXPECT_EQ(deep.files, (std::vector<std::string>{"reports/a.xml", "reports/b.xml", "reports/sub/c.xml",
                                                  "reports/sub/deeper/d.xml"}));
  auto any = Collect({"**/TEST-*.xml"});
  EXPECT_EQ(any.files, std::vector<std::string>{"build/test-results/test/TEST-com.example.E.xml"});
  auto trailing = Collect({"reports/sub/**"});
  EXPECT_EQ(trailing.files, (std::vector<std::string>{"reports/sub/c.xml", "reports/sub/deeper/d.xml"}));
  auto chars = Collect({"x?.xml"});
  EXPECT_EQ(chars.files, (std::vector<std::string>{"x1.xml", "x2.xml", "xa.xml"}));
  auto set = Collect({"x[0-9].xml", "./reports/a.xml"});
  EXPECT_EQ(set.files, (std::vector<std::string>{"reports/a.xml", "x1.xml", "x2.xml"}));
  auto negated = Collect({"x[!0-9].xml"});
  EXPECT_EQ(negated.files, std::vector<std::string>{"xa.xml"});
}

TEST_F(CollectReportsTest, AFileMatchedTwiceIsReadOnce) {
  Write("reports/a.xml", Report("a"));
  auto r = Collect({"reports/*.xml", "**/a.xml", "reports/a.xml"});
  EXPECT_EQ(r.files, std::vector<std::string>{"reports/a.xml"});
  EXPECT_EQ(r.cases.size(), 1u);
  EXPECT_TRUE(r.warnings.empty()) << All(r);
}

TEST_F(CollectReportsTest, MissingEmptyAndNotXml) {
  Write("reports/empty.xml", "");
  Write("reports/junk.xml", "SECRET-CONTENT <<<< not xml \x01\x02");
  Write("reports/html.xml", "<html><title>SECRET-CONTENT</title></html>");
  Write("reports/good.xml", Report("good"));
  auto r = Collect({"reports/*.xml", "missing/*.xml"});
  EXPECT_EQ(Names(r), std::vector<std::string>{"reports/good.xml:good"});
  EXPECT_TRUE(HasWarning(r, "missing/*.xml: matched no file")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/empty.xml: empty")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/html.xml: the root element is not <testsuites> or <testsuite>"))
      << All(r);
  bool junk = false;
  for (const std::string& w : r.warnings) {
    if (w.rfind("reports/junk.xml: not XML (", 0) == 0 && w.find(" at offset ") != std::string::npos)
      junk = true;
    EXPECT_EQ(w.find("SECRET-CONTENT"), std::string::npos) << "a warning never shows the content: " << w;
  }
  EXPECT_TRUE(junk) << All(r);
  EXPECT_EQ(r.files.size(), 4u) << "every file read is listed, parsed or not";
}

TEST_F(CollectReportsTest, GlobsThatLeaveTheWorkspace) {
  std::ofstream(base_ + "/outside.xml") << Report("outside");
  auto r = Collect({"/etc/passwd", "../outside.xml", "reports/../../outside.xml", "", "."});
  EXPECT_TRUE(r.cases.empty());
  EXPECT_TRUE(r.files.empty());
  EXPECT_TRUE(HasWarning(r, "/etc/passwd: an absolute path; globs are relative to the workspace")) << All(r);
  EXPECT_TRUE(HasWarning(r, "../outside.xml: \"..\" leads out of the workspace")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/../../outside.xml: \"..\" leads out of the workspace")) << All(r);
  EXPECT_TRUE(HasWarning(r, ": an empty glob")) << All(r);
  EXPECT_TRUE(HasWarning(r, ".: names no file")) << All(r);
}

// The attack: a step leaves a symlink where the report should be, pointing
// at a host file (absolute or by ".."), or a directory symlink.
TEST_F(CollectReportsTest, SymlinksAreNeverFollowed) {
  std::ofstream(base_ + "/outside.xml") << Report("outside-secret");
  fs::create_directories(base_ + "/outdir");
  std::ofstream(base_ + "/outdir/r.xml") << Report("outdir-secret");
  Symlink("/etc/passwd", "reports/passwd.xml");
  Symlink(base_ + "/outside.xml", "reports/abs.xml");
  Symlink("../../outside.xml", "reports/rel.xml");
  Symlink("/dev/zero", "reports/zero.xml");
  Symlink(base_ + "/outdir", "reports/linkdir");
  Symlink("good.xml", "reports/inside.xml");
  Write("reports/good.xml", Report("good"));

  auto r = Collect({"reports/*.xml", "reports/linkdir/*.xml", "reports/**/r.xml"});
  EXPECT_EQ(Names(r), std::vector<std::string>{"reports/good.xml:good"});
  EXPECT_EQ(r.files, std::vector<std::string>{"reports/good.xml"});
  for (const char* link : {"passwd", "abs", "rel", "zero", "inside"}) {
    EXPECT_TRUE(HasWarning(r, std::string("reports/") + link + ".xml: a symbolic link, not followed"))
        << All(r);
  }
  EXPECT_TRUE(HasWarning(r, "reports/linkdir: a symbolic link, not followed")) << All(r);
  for (const std::string& w : r.warnings) EXPECT_EQ(w.find("root:"), std::string::npos) << w;
}

TEST_F(CollectReportsTest, TheWorkspaceItselfMayBeReachedThroughASymlink) {
  // slipwayd's own path to the workspace is trusted; only what is inside is not.
  Write("reports/a.xml", Report("a"));
  ASSERT_EQ(::symlink(ws_.c_str(), (base_ + "/wslink").c_str()), 0);
  auto r = CollectReports(base_ + "/wslink", {"reports/*.xml"}, {});
  EXPECT_EQ(r.files, std::vector<std::string>{"reports/a.xml"});
}

// The walk saw a regular file; by the time it is opened, a process still
// around has swapped in a FIFO or a symlink to a host file. The open itself
// must refuse both (O_NONBLOCK, RESOLVE_NO_SYMLINKS), or the read would hang
// or leak. Whether a given round hits the window is chance, but over 10,000
// rounds some do: with either flag taken out of ReadReport, this test hung
// or read the secret in every one of several tries.
TEST_F(CollectReportsTest, SwapsBetweenWalkAndOpen) {
  std::ofstream(base_ + "/secret.xml") << Report("outside-secret");
  fs::create_directories(ws_ + "/reports");
  Write("reports/r.xml", Report("r"));
  ASSERT_EQ(::mkfifo((ws_ + "/reports/.fifo").c_str(), 0644), 0);
  ASSERT_EQ(::symlink((base_ + "/secret.xml").c_str(), (ws_ + "/reports/.link").c_str()), 0);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const std::string target = ws_ + "/reports/r.xml";
    for (unsigned i = 0; !stop; ++i) {
      std::string other = ws_ + (i % 2 ? "/reports/.fifo" : "/reports/.link");
      // Swap in, then back: r.xml is the regular file half of the time.
      ::renameat2(AT_FDCWD, target.c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE);
      ::renameat2(AT_FDCWD, target.c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE);
    }
  });
  std::set<std::string> seen;
  for (int round = 0; round < 10000; ++round) {
    auto r = Collect({"reports/r.xml"});
    for (const TestCase& c : r.cases) EXPECT_EQ(c.name, "r");
    for (const std::string& w : r.warnings) seen.insert(w);
  }
  stop = true;
  swapper.join();
  for (const std::string& w : seen) {
    EXPECT_TRUE(w == "reports/r.xml: not a regular file" ||
                w == "reports/r.xml: a symbolic link, not followed")
        << w;
  }
}

TEST_F(CollectReportsTest, FifoDoesNotBlockAndDevicesAreNotRead) {
  fs::create_directories(ws_ + "/reports");
  ASSERT_EQ(::mkfifo((ws_ + "/reports/fifo.xml").c_str(), 0644), 0);
  // A character device (as root, the test can make one; a sandboxed step
  // cannot, but the reader does not rely on that).
  bool device = ::mknod((ws_ + "/reports/zero.xml").c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0;
  fs::create_directories(ws_ + "/reports/dir.xml");
  Write("reports/good.xml", Report("good"));
  auto r = Collect({"reports/*.xml"});
  EXPECT_EQ(r.files, std::vector<std::string>{"reports/good.xml"});
  EXPECT_TRUE(HasWarning(r, "reports/fifo.xml: not a regular file")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/dir.xml: a directory, not a report")) << All(r);
  if (device) EXPECT_TRUE(HasWarning(r, "reports/zero.xml: not a regular file")) << All(r);
}

TEST_F(CollectReportsTest, FilesOverTheCap) {
  ReportLimits limits;
  limits.max_file_bytes = 1000;
  std::string just = Report("just");
  just.resize(1000, ' ');
  Write("reports/just.xml", just);
  Write("reports/big.xml", Report("big") + std::string(4000, ' '));
  auto r = Collect({"reports/*.xml"}, limits);
  EXPECT_EQ(Names(r), std::vector<std::string>{"reports/just.xml:just"});
  EXPECT_TRUE(HasWarning(r, "reports/big.xml: " + std::to_string(Report("big").size() + 4000) +
                                " bytes; at most 1000 are read (reports_max_bytes)"))
      << All(r);
  // A sparse file of 16 GiB: refused by its size, not read.
  {
    int fd = ::open((ws_ + "/reports/huge.xml").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, int64_t{16} << 30), 0);
    ::close(fd);
  }
  auto huge = Collect({"reports/huge.xml"});
  EXPECT_TRUE(
      HasWarning(huge, "reports/huge.xml: 17179869184 bytes; at most 67108864 are read (reports_max_bytes)"))
      << All(huge);
}

TEST_F(CollectReportsTest, CaseLimitIsForTheWholeRun) {
  ReportLimits limits;
  limits.max_cases = 10;
  std::string six = "<testsuite>";
  for (int i = 0; i < 6; ++i) six += "<testcase name='t" + std::to_string(i) + "'/>";
  six += "</testsuite>";
  Write("reports/a.xml", six);
  Write("reports/b.xml", six);
  auto r = Collect({"reports/*.xml"}, limits);
  EXPECT_EQ(r.cases.size(), 6u);
  EXPECT_TRUE(HasWarning(r, "reports/b.xml: more than 4 test cases")) << All(r);
}

TEST_F(CollectReportsTest, ARunReadsAtMostFourCapsInAll) {
  ReportLimits limits;
  limits.max_file_bytes = 1000;
  for (int i = 1; i <= 5; ++i) {
    std::string report = Report("t" + std::to_string(i));
    report.resize(900, ' ');
    Write("reports/r" + std::to_string(i) + ".xml", report);
  }
  auto r = Collect({"reports/*.xml"}, limits);
  EXPECT_EQ(r.cases.size(), 4u);
  EXPECT_TRUE(HasWarning(r,
                         "reports/r5.xml: 900 bytes; at most 400 are read (what the run's earlier reports "
                         "left of 4 x reports_max_bytes)"))
      << All(r);
}

TEST_F(CollectReportsTest, LongNamesAndGlobs) {
  std::string dir = std::string(100, 'a') + "/" + std::string(100, 'b') + "/" + std::string(100, 'c');
  Write(dir + "/report.xml", Report("long"));
  auto r = Collect({dir + "/*.xml"});
  EXPECT_EQ(r.files, std::vector<std::string>{dir + "/report.xml"});
  EXPECT_TRUE(r.warnings.empty()) << All(r);
  // Past 1,024 bytes a path is not read, and a warning shows only its start.
  std::string longer;
  for (int i = 0; i < 6; ++i) longer += std::string(200, 'd' + i) + "/";
  Write(longer + "x.xml", Report("longer"));
  auto l = Collect({"**/x.xml"});
  EXPECT_TRUE(l.files.empty());
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_EQ(l.warnings[0], std::string(200, 'd') + "\xE2\x80\xA6: a path longer than 1024 bytes");
}

TEST_F(CollectReportsTest, NamesAreShownEscaped) {
  Write("reports/a\nb\x1b[31m.xml", Report("x"));
  Write("reports/\xff.xml", Report("y"));
  Write("reports/caf\xC3\xA9.xml", Report("z"));
  Write("reports/over\xC0\xAFlong.xml", Report("o"));
  Write("reports/sur\xED\xA0\x80.xml", Report("s"));
  Write("reports/c1\xC2\x9B.xml", Report("c"));
  auto r = Collect({"reports/*.xml"});
  EXPECT_EQ(Names(r), std::vector<std::string>{"reports/caf\xC3\xA9.xml:z"});
  EXPECT_TRUE(HasWarning(r, "reports/a\\x0ab\\x1b[31m.xml: a name that is not printable UTF-8")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/\\xff.xml: a name that is not printable UTF-8")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/over\\xc0\\xaflong.xml: a name that is not printable UTF-8")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/sur\\xed\\xa0\\x80.xml: a name that is not printable UTF-8")) << All(r);
  EXPECT_TRUE(HasWarning(r, "reports/c1\\xc2\\x9b.xml: a name that is not printable UTF-8")) << All(r);
}

TEST_F(CollectReportsTest, WarningsAreBounded) {
  for (int i = 0; i < 150; ++i) Write("reports/e" + std::to_string(1000 + i) + ".xml", "");
  auto r = Collect({"reports/*.xml"});
  ASSERT_EQ(r.warnings.size(), 100u);
  EXPECT_EQ(r.warnings.front(), "reports/e1000.xml: empty");
  EXPECT_EQ(r.warnings.back(), "reports: 51 more warnings");
}

TEST_F(CollectReportsTest, DeepDirectoriesAreNotSearched) {
  std::string rel = "d";
  for (int i = 0; i < 40; ++i) rel += "/d";
  Write(rel + "/deep.xml", Report("deep"));
  Write("d/shallow.xml", Report("shallow"));
  auto r = Collect({"**/*.xml"});
  EXPECT_EQ(r.files, std::vector<std::string>{"d/shallow.xml"});
  EXPECT_TRUE(HasWarning(r, "reports: directories deeper than 32 were not searched")) << All(r);
}

TEST_F(CollectReportsTest, ManyStarStarsStayBounded) {
  // Each "**" may match any number of directories: the walk is bounded by
  // the entries it visits, not by the glob's shape.
  std::string rel;
  for (int i = 0; i < 12; ++i) rel += "a/";
  Write(rel + "x.xml", Report("x"));
  std::string glob;
  for (int i = 0; i < 12; ++i) glob += "**/a/";
  auto r = Collect({glob + "**/*.xml", "**/**/**/**/x.xml"});
  EXPECT_EQ(r.files, std::vector<std::string>{rel + "x.xml"});
}

TEST_F(CollectReportsTest, WorkspaceThatIsNotThere) {
  auto r = CollectReports(base_ + "/nope", {"*.xml"}, {});
  EXPECT_TRUE(r.cases.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "reports: open the workspace: No such file or directory");
}

}  // namespace
}  // namespace slipway::pipelines

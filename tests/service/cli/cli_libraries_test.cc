// What the `slipway` binary loads (issue 17): the commands that are only
// requests to slipwayd (run, ps, logs, version, help) must not load the
// libraries of the heavy verbs (OpenSSL, cpp-httplib, yaml-cpp, libgit2,
// libarchive, SQLite). Checked on the real binary, as the dynamic loader
// reports it (LD_DEBUG=files) for commands that end, and in /proc/PID/maps
// of a `slipway logs -f` that waits for output. The heavy verbs run in
// slipway-tools, which slipway execs: `pipeline lint` and `verify` must
// still work from the built tree and from the package's layout
// (/usr/bin/slipway, /usr/libexec/slipway/slipway-tools), and fail clearly
// when slipway-tools is missing.
//
// Arguments: slipwayd, slipway-monitor, slipway (daemon_fixture.h), then
// slipway-tools.
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {

std::string g_tools;

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Sonames, or their prefixes, that only the heavy verbs may load.
const char* const kHeavy[] = {"libssl.",     "libcrypto.",  "libcpp-httplib.", "libyaml-cpp.", "libgit2.",
                              "libarchive.", "libsqlite3.", "libSQLiteCpp.",   "libz.",        "libbrotli"};

// The heavy libraries among `objects` (paths or sonames).
std::set<std::string> HeavyAmong(const std::set<std::string>& objects) {
  std::set<std::string> found;
  for (const std::string& o : objects) {
    std::string base = fs::path(o).filename();
    for (const char* h : kHeavy) {
      if (base.starts_with(h)) found.insert(base);
    }
  }
  return found;
}

// The shared objects the dynamic loader reported loading, from LD_DEBUG=files
// output ("     1234:\tfile=libc.so.6 [0];  needed by ..." and "... dynamically
// loaded by ..." for dlopen).
std::set<std::string> LoadedObjects(const std::string& ld_debug) {
  std::set<std::string> out;
  std::istringstream lines(ld_debug);
  for (std::string line; std::getline(lines, line);) {
    size_t at = line.find("file=");
    if (at == std::string::npos) continue;
    size_t end = line.find_first_of(" \t", at);
    out.insert(line.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5));
  }
  return out;
}

// The files mapped into process `pid`, from /proc/PID/maps.
std::set<std::string> MappedFiles(pid_t pid) {
  std::set<std::string> out;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);) {
    size_t slash = line.find('/');
    if (slash != std::string::npos) out.insert(line.substr(slash));
  }
  return out;
}

// Whether `pid` has a TCP connection open (its request to slipwayd).
bool HasSocket(pid_t pid) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code lec;
    if (fs::read_symlink(e.path(), lec).string().starts_with("socket:")) return true;
  }
  return false;
}

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : " ") + x;
  return out;
}

class CliLibrariesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = StartDaemon().release(); }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(daemon_, nullptr) << "slipwayd did not start"; }
  void TearDown() override {
    if (daemon_ != nullptr) daemon_->RemoveAll();
    if (!scratch_.empty()) fs::remove_all(scratch_);
  }

  // `slipway ARGS...` with the loader's report; the objects it loaded.
  std::set<std::string> LoadedBy(const std::vector<std::string>& args, int want_code = 0) {
    Outcome o = daemon_->Cli(args, {"LD_DEBUG=files"});
    EXPECT_EQ(o.code, want_code) << o;
    std::set<std::string> loaded = LoadedObjects(o.err);
    EXPECT_TRUE(loaded.count("libc.so.6")) << "no loader report? " << o;
    return loaded;
  }

  // A pipeline file with an error, for `pipeline lint`.
  std::string BadPipelineFile() {
    if (scratch_.empty()) scratch_ = MakeTempDir("cli-libs");
    std::string path = scratch_ + "/.slipway.yml";
    std::ofstream(path) << "steps:\n  a: {run: x}\n";
    return path;
  }

  static DaemonUnderTest* daemon_;
  std::string scratch_;
};

DaemonUnderTest* CliLibrariesTest::daemon_ = nullptr;

TEST_F(CliLibrariesTest, RequestOnlyCommandsLoadNoHeavyLibrary) {
  const std::vector<std::vector<std::string>> commands = {
      {"--help"},
      {"version"},
      {"ps", "-a"},
      {"run", "--rm", "--rootfs", BusyboxRootfs(), "true"},
      {"run", "--name", "kept", "--rootfs", BusyboxRootfs(), "echo", "hi"},
      {"logs", "kept"},
      {"rm", "kept"},
  };
  for (const auto& args : commands) {
    std::set<std::string> loaded = LoadedBy(args);
    EXPECT_EQ(Join(HeavyAmong(loaded)), "") << args[0] << " loaded: " << Join(loaded);
  }
}

// The detector itself: `pipeline lint` does load yaml-cpp (in slipway-tools,
// after the exec), and LD_DEBUG reports it.
TEST_F(CliLibrariesTest, LintLoadsYamlCppInSlipwayTools) {
  std::set<std::string> loaded = LoadedBy({"pipeline", "lint", BadPipelineFile()}, 1);
  EXPECT_TRUE(HeavyAmong(loaded).count("libyaml-cpp.so.0.7")) << Join(loaded);
}

TEST_F(CliLibrariesTest, WaitingLogsFollowerMapsNoHeavyLibrary) {
  Outcome run = daemon_->Cli({"run", "-d", "--name", "waits", "--rootfs", BusyboxRootfs(), "sleep", "100"});
  ASSERT_EQ(run.code, 0) << run;
  Child follower = daemon_->SpawnCli({"logs", "-f", "waits"});
  // Connected, and so past its start: what it maps now is all it will.
  for (auto until = std::chrono::steady_clock::now() + seconds(20);
       !HasSocket(follower.pid) && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(HasSocket(follower.pid)) << "slipway logs -f never connected";
  std::this_thread::sleep_for(milliseconds(100));
  std::set<std::string> mapped = MappedFiles(follower.pid);
  bool has_libc = false;
  for (const std::string& m : mapped) has_libc |= fs::path(m).filename().string().starts_with("libc.so");
  EXPECT_TRUE(has_libc) << "not the follower's maps? " << Join(mapped);
  EXPECT_EQ(Join(HeavyAmong(mapped)), "") << Join(mapped);

  EXPECT_EQ(daemon_->Cli({"rm", "-f", "waits"}).code, 0);
  Outcome followed = Finish(follower, seconds(20));
  EXPECT_FALSE(followed.hung) << followed;
}

// --- The heavy verbs, through slipway-tools ----------------------------------

// slipway and slipway-tools copied into a fresh tree: `bin` alone, or with
// the package's layout, usr/bin and usr/libexec/slipway.
std::string Install(const std::string& root, bool with_tools) {
  fs::create_directories(root + "/usr/bin");
  fs::copy_file(Binaries().cli, root + "/usr/bin/slipway");
  if (with_tools) {
    fs::create_directories(root + "/usr/libexec/slipway");
    fs::copy_file(g_tools, root + "/usr/libexec/slipway/slipway-tools");
  }
  return root + "/usr/bin/slipway";
}

TEST_F(CliLibrariesTest, LintWorksFromThePackageLayout) {
  std::string file = BadPipelineFile();
  std::string slipway = Install(scratch_ + "/root", true);
  Outcome o = Execute({slipway, "pipeline", "lint", file});
  EXPECT_EQ(o.code, 1) << o;
  EXPECT_EQ(o.out, file + ":2:3: steps: want a list of steps, got a mapping\n") << o;
  // Flags are slipway's own: a usage error never needs slipway-tools.
  Outcome usage = Execute({slipway, "pipeline", "lint"});
  EXPECT_EQ(usage.code, 125) << usage;
}

TEST_F(CliLibrariesTest, MissingToolsIsNamed) {
  std::string file = BadPipelineFile();
  std::string slipway = Install(scratch_ + "/alone", false);
  Outcome o = Execute({slipway, "pipeline", "lint", file});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "slipway-tools")) << o;
  EXPECT_EQ(o.out, "");
  // The request-only commands do not care.
  Outcome version = Execute({slipway, "version"}, daemon_->Env());
  EXPECT_EQ(version.code, 0) << version;
  Outcome verify = Execute({slipway, "verify", "localhost:1/x@sha256:" + std::string(64, 'a'), "--key", file},
                           daemon_->Env());
  EXPECT_EQ(verify.code, 125) << verify;
  EXPECT_TRUE(Contains(verify.err, "slipway-tools")) << verify;
}

// `slipway verify` runs in slipway-tools: it gets as far as the registry
// (nobody listens on port 1) with the arguments slipway got.
TEST_F(CliLibrariesTest, VerifyIsHandedToSlipwayToolsWithTheSameArguments) {
  std::string key = BadPipelineFile();  // any readable file: the registry fails first
  Outcome o = daemon_->Cli({"verify", "--key", key, "127.0.0.1:1/app@sha256:" + std::string(64, 'b')});
  EXPECT_EQ(o.code, 125) << o;
  EXPECT_TRUE(Contains(o.err, "127.0.0.1:1")) << o;
  EXPECT_FALSE(Contains(o.err, "slipway-tools")) << o;
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s SLIPWAYD MONITOR SLIPWAY SLIPWAY_TOOLS\n", argv[0]);
    return 2;
  }
  if (!slipway::testing::InitDaemonBinaries(argc, argv)) return 2;
  char resolved[PATH_MAX];
  if (!::realpath(argv[4], resolved)) return 2;
  slipway::testing::g_tools = resolved;
  return RUN_ALL_TESTS();
}

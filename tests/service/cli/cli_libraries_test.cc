// What the `slipway` binary loads (issue 17): the commands that are only
// requests to slipwayd (run, ps, logs, version, help) must not load the
// libraries of the heavy verbs (OpenSSL, cpp-httplib, yaml-cpp, libgit2,
// libarchive, SQLite). slipway is a static PIE: it loads no shared object
// at all, which is checked on the real binary (its ELF headers name no
// interpreter and no needed library, its symbols none of the heavy
// libraries'), under the dynamic loader's report (LD_DEBUG=files) for
// commands that end, and in /proc/PID/maps of a `slipway logs -f` that
// waits for output. The heavy verbs run in slipway-tools, which slipway
// execs: `pipeline lint` and `verify` must still work from the built tree
// and from the package's layout (/usr/bin/slipway,
// /usr/libexec/slipway/slipway-tools), and fail clearly when slipway-tools
// is missing.
//
// Arguments: slipwayd, slipway-monitor, slipway (daemon_fixture.h), then
// slipway-tools.
#include <elf.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
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
// Symbol prefixes of the same libraries, for what a static link pulled in.
const char* const kHeavySymbols[] = {"SSL_",         "EVP_",          "sqlite3_", "archive_read_", "git_libgit2",
                                     "_ZN4YAML",     "_ZN7httplib",   "inflate",  "BrotliDecoder", "_ZN7SQLite"};

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

// What an executable's ELF headers say it needs at run time, and the
// symbols it holds (its .symtab: the binaries are not stripped).
struct ElfFacts {
  bool interpreter = false;           // PT_INTERP: the dynamic loader runs first
  std::set<std::string> needed;       // DT_NEEDED sonames
  std::set<std::string> symbols;      // .symtab names
};

// Parses `path` (a 64-bit little-endian ELF file, as everything built here).
ElfFacts ReadElf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ElfFacts facts;
  auto fits = [&](uint64_t off, uint64_t len) { return off <= bytes.size() && len <= bytes.size() - off; };
  Elf64_Ehdr eh;
  if (!fits(0, sizeof eh)) return facts;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return facts;
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (size_t i = 0; i < sections.size(); ++i) {
    if (!fits(eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr))) return facts;
    std::memcpy(&sections[i], bytes.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof(Elf64_Shdr));
  }
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!fits(eh.e_phoff + i * sizeof ph, sizeof ph)) return facts;
    std::memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    facts.interpreter |= ph.p_type == PT_INTERP;
  }
  // A section's string, or "" when out of bounds.
  auto str = [&](const Elf64_Shdr& strtab, uint64_t at) -> std::string {
    if (at >= strtab.sh_size || !fits(strtab.sh_offset, strtab.sh_size)) return "";
    const char* p = bytes.data() + strtab.sh_offset + at;
    return std::string(p, strnlen(p, strtab.sh_size - at));
  };
  for (const Elf64_Shdr& sh : sections) {
    if (sh.sh_link >= sections.size() || !fits(sh.sh_offset, sh.sh_size)) continue;
    const Elf64_Shdr& strtab = sections[sh.sh_link];
    if (sh.sh_type == SHT_DYNAMIC) {
      for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= sh.sh_size; off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        std::memcpy(&d, bytes.data() + sh.sh_offset + off, sizeof d);
        if (d.d_tag == DT_NEEDED) facts.needed.insert(str(strtab, d.d_un.d_val));
      }
    }
    if (sh.sh_type == SHT_SYMTAB) {
      for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, bytes.data() + sh.sh_offset + off, sizeof sym);
        if (std::string name = str(strtab, sym.st_name); !name.empty()) facts.symbols.insert(name);
      }
    }
  }
  return facts;
}

// The symbols among `symbols` that come from a heavy library.
std::set<std::string> HeavySymbolsAmong(const std::set<std::string>& symbols) {
  std::set<std::string> found;
  for (const std::string& s : symbols) {
    for (const char* h : kHeavySymbols) {
      if (s.starts_with(h)) found.insert(s);
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
    return LoadedObjects(o.err);
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

// Static: no loader, no shared object, and none of the heavy libraries
// linked in. slipway-tools, the detector's control, needs them.
TEST_F(CliLibrariesTest, SlipwayIsStaticWithoutTheHeavyLibraries) {
  ElfFacts cli = ReadElf(Binaries().cli);
  EXPECT_FALSE(cli.interpreter);
  EXPECT_EQ(Join(cli.needed), "");
  ASSERT_TRUE(cli.symbols.count("main")) << "no symbol table read from " << Binaries().cli;
  EXPECT_EQ(Join(HeavySymbolsAmong(cli.symbols)), "");

  ElfFacts tools = ReadElf(g_tools);
  EXPECT_TRUE(tools.interpreter);
  EXPECT_TRUE(HeavyAmong(tools.needed).count("libyaml-cpp.so.0.7")) << Join(tools.needed);
  EXPECT_NE(Join(HeavySymbolsAmong(tools.symbols)), "");  // cpp-httplib's, for `verify`
}

// The request-only commands work, and no dynamic loader ever runs for them
// (it would report what it loads: LintLoadsYamlCppInSlipwayTools).
TEST_F(CliLibrariesTest, RequestOnlyCommandsLoadNothing) {
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
    EXPECT_EQ(Join(loaded), "") << args[0];
  }
}

// The detector itself: `pipeline lint` does load yaml-cpp (in slipway-tools,
// after the exec), and LD_DEBUG reports it.
TEST_F(CliLibrariesTest, LintLoadsYamlCppInSlipwayTools) {
  std::set<std::string> loaded = LoadedBy({"pipeline", "lint", BadPipelineFile()}, 1);
  EXPECT_TRUE(HeavyAmong(loaded).count("libyaml-cpp.so.0.7")) << Join(loaded);
}

TEST_F(CliLibrariesTest, WaitingLogsFollowerMapsNoSharedObject) {
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
  bool has_self = false, has_shared = false;
  for (const std::string& m : mapped) {
    has_self |= fs::path(m).filename() == "slipway";
    has_shared |= fs::path(m).filename().string().find(".so") != std::string::npos;
  }
  EXPECT_TRUE(has_self) << "not the follower's maps? " << Join(mapped);
  EXPECT_FALSE(has_shared) << Join(mapped);

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

// The Debian package as built by //packaging:deb, checked with dpkg itself:
// - control fields, conffiles, maintainer scripts, every file's mode and
//   owner (what lintian would look at; lintian is not installed here);
// - Depends names the package of every shared library the binaries link
//   (readelf NEEDED, then dpkg -S: independent of dpkg-shlibdeps);
// - installed into a throwaway root (dpkg --root DIR
//   --force-script-chrootless, whose dpkg database is a copy of this
//   machine's, so Depends must be satisfiable on this Debian 12): postinst
//   makes /var/lib/slipway 0700 and a 0600 token and touches no service;
//   the installed slipwayd, started as the unit's ExecStart says, finds its
//   monitor in /usr/libexec/slipway and imports /usr/share/slipway's
//   hello-world, which the installed slipway runs (and `pipeline lint`
//   through /usr/libexec/slipway/slipway-tools); an upgrade to a rebuilt
//   package keeps the image, a container record, the token and an edited
//   conffile; remove keeps /var/lib/slipway, purge removes it;
// - lintian reports no error;
// - systemd-analyze verify on the installed unit, and on a broken copy of
//   it (the check can fail).
//
// Arguments: slipwayd, slipway-monitor, slipway (daemon_fixture.h: unused
// here but by the fixture's contract), then the .deb, config/slipway.yaml
// and the version.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/subprocess.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

using nlohmann::json;

std::string g_deb, g_conf, g_version;

// Bazel's PATH lacks the sbin directories dpkg needs (ldconfig,
// start-stop-daemon), as a root login's would have them.
Outcome Sh(const std::string& command) {
  return Execute({"/bin/sh", "-c", command},
                 {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
                 std::chrono::seconds(300));
}

std::string Q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(DebTest, ControlFieldsConffilesAndScripts) {
  Outcome fields = Sh("dpkg-deb -f " + Q(g_deb) + " Package Version Architecture Section");
  ASSERT_EQ(fields.code, 0) << fields;
  EXPECT_EQ(fields.out,
            "Package: slipway\nVersion: " + g_version + "\nArchitecture: amd64\nSection: admin\n");
  EXPECT_NE(g_deb.find("slipway_" + g_version + "_amd64.deb"), std::string::npos) << g_deb;

  std::string control = MakeTempDir("deb-control");
  ASSERT_EQ(Sh("dpkg-deb -e " + Q(g_deb) + " " + Q(control + "/DEBIAN")).code, 0);
  EXPECT_EQ(ReadFileOrEmpty(control + "/DEBIAN/conffiles"), "/etc/slipway/slipway.yaml\n");
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    std::string path = control + "/DEBIAN/" + script;
    EXPECT_EQ(ModeOf(path), 0755u) << script;
    EXPECT_EQ(ReadFileOrEmpty(path).rfind("#!/bin/sh\n", 0), 0u) << script;
    Outcome syntax = Sh("sh -n " + Q(path));
    EXPECT_EQ(syntax.code, 0) << script << ": " << syntax;
  }
  fs::remove_all(control);
}

TEST(DebTest, EveryFileWithItsModeAndOwner) {
  Outcome list = Sh("dpkg-deb -c " + Q(g_deb));
  ASSERT_EQ(list.code, 0) << list;
  std::map<std::string, std::string> files;  // path -> "mode owner"
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string mode, owner, size, date, time, path;
    f >> mode >> owner >> size >> date >> time >> path;
    EXPECT_EQ(owner, "root/root") << line;
    if (mode[0] == 'd') {
      EXPECT_EQ(mode, "drwxr-xr-x") << line;
      continue;
    }
    files[path] = mode;
  }
  const std::map<std::string, std::string> want = {
      {"./usr/bin/slipway", "-rwxr-xr-x"},
      {"./usr/sbin/slipwayd", "-rwxr-xr-x"},
      {"./usr/libexec/slipway/slipway-monitor", "-rwxr-xr-x"},
      {"./usr/libexec/slipway/slipway-tools", "-rwxr-xr-x"},
      {"./lib/systemd/system/slipway.service", "-rw-r--r--"},
      {"./etc/slipway/slipway.yaml", "-rw-r--r--"},
      {"./usr/share/slipway/hello-world.tar", "-rw-r--r--"},
      {"./usr/share/bash-completion/completions/slipway", "-rw-r--r--"},
      {"./usr/share/man/man1/slipway.1.gz", "-rw-r--r--"},
      {"./usr/share/man/man8/slipwayd.8.gz", "-rw-r--r--"},
      {"./usr/share/doc/slipway/copyright", "-rw-r--r--"},
      {"./usr/share/doc/slipway/changelog.gz", "-rw-r--r--"},
      {"./usr/share/lintian/overrides/slipway", "-rw-r--r--"},
      {"./usr/share/doc/slipway/README.md", "-rw-r--r--"},
      {"./usr/share/doc/slipway/install.md", "-rw-r--r--"},
      {"./usr/share/doc/slipway/cli.md", "-rw-r--r--"},
      {"./usr/share/doc/slipway/api.md", "-rw-r--r--"},
      {"./usr/share/doc/slipway/pipelines.md", "-rw-r--r--"},
  };
  EXPECT_EQ(files, want);

  std::string root = MakeTempDir("deb-x");
  ASSERT_EQ(Sh("dpkg-deb -x " + Q(g_deb) + " " + Q(root)).code, 0);
  EXPECT_EQ(ReadFileOrEmpty(root + "/etc/slipway/slipway.yaml"), ReadFileOrEmpty(g_conf))
      << "the conffile is config/slipway.yaml";
  // The completion script is bash, and completes what the CLI has.
  Outcome completion = Sh("bash -c " + Q(". " + root +
                                         "/usr/share/bash-completion/completions/slipway; "
                                         "COMP_WORDS=(slipway pipeline l); COMP_CWORD=2; _slipway; "
                                         "echo \"${COMPREPLY[*]}\""));
  EXPECT_EQ(completion.code, 0) << completion;
  EXPECT_EQ(completion.out, "lint ls logs\n") << completion;
  Outcome man = Sh("zcat " + Q(root + "/usr/share/man/man1/slipway.1.gz") + " | grep -c '^.SS slipway '");
  EXPECT_GT(std::stoi(man.out.empty() ? "0" : man.out), 20) << "a section per command: " << man;
  fs::remove_all(root);
}

TEST(DebTest, DependsNamesThePackageOfEveryLinkedLibrary) {
  std::string root = MakeTempDir("deb-deps");
  ASSERT_EQ(Sh("dpkg-deb -x " + Q(g_deb) + " " + Q(root)).code, 0);
  Outcome depends = Sh("dpkg-deb -f " + Q(g_deb) + " Depends");
  ASSERT_EQ(depends.code, 0) << depends;
  std::set<std::string> listed;
  std::regex name(R"((?:^|, )([a-z0-9][a-z0-9+.-]+))");
  for (auto it = std::sregex_iterator(depends.out.begin(), depends.out.end(), name);
       it != std::sregex_iterator(); ++it)
    listed.insert((*it)[1]);
  for (const std::string& dep : listed) EXPECT_FALSE(dep.ends_with("-dev")) << dep;

  std::set<std::string> needed_packages;
  for (const char* bin : {"/usr/bin/slipway", "/usr/sbin/slipwayd", "/usr/libexec/slipway/slipway-monitor",
                          "/usr/libexec/slipway/slipway-tools"}) {
    Outcome needed = Sh("readelf -d " + Q(root + bin) + " | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'");
    ASSERT_EQ(needed.code, 0) << needed;
    std::istringstream libs(needed.out);
    for (std::string lib; std::getline(libs, lib);) {
      // The package holding the library this machine resolves it to.
      // With merged /usr, dpkg may know the file under /usr/lib or /lib.
      Outcome owner =
          Sh("real=$(readlink -f \"$(ldconfig -p | sed -n 's/^\\t" + lib +
             " (libc6,x86-64) => //p' | head -1)\") && "
             "{ dpkg -S \"$real\" 2>/dev/null || dpkg -S \"${real#/usr}\"; } | cut -d: -f1 | head -1");
      ASSERT_EQ(owner.code, 0) << lib << ": " << owner;
      std::string package = owner.out.substr(0, owner.out.find('\n'));
      ASSERT_FALSE(package.empty()) << lib;
      needed_packages.insert(package);
      EXPECT_TRUE(listed.count(package)) << bin << " links " << lib << " from " << package
                                         << ", which Depends does not name: " << depends.out;
    }
  }
  EXPECT_GE(needed_packages.size(), 8u);
  fs::remove_all(root);
}

// Warnings remain: the maintainer scripts call systemctl themselves (no
// debhelper snippets), guarded by /run/systemd/system and $DPKG_ROOT.
TEST(DebTest, LintianFindsNoErrors) {
  Outcome lintian = Sh("lintian --no-cfg --fail-on error " + Q(g_deb) + " 2>&1");
  EXPECT_EQ(lintian.code, 0) << lintian;
  EXPECT_EQ(lintian.out.find("\nE: "), std::string::npos) << lintian.out;
  EXPECT_EQ(lintian.out.rfind("E: ", 0), std::string::npos) << lintian.out;
}

// A root to install into: its dpkg database a copy of this machine's.
class ThrowawayRoot {
 public:
  ThrowawayRoot() : dir_(MakeTempDir("deb-root")) {
    fs::create_directories(dir_ + "/var/lib/dpkg/info");
    fs::create_directories(dir_ + "/var/lib/dpkg/updates");
    fs::create_directories(dir_ + "/var/log");
    fs::copy_file("/var/lib/dpkg/status", dir_ + "/var/lib/dpkg/status");
  }
  ~ThrowawayRoot() { fs::remove_all(dir_); }
  const std::string& dir() const { return dir_; }
  std::string operator/(const std::string& path) const { return dir_ + path; }

  Outcome Dpkg(const std::string& args) const {
    return Sh("dpkg --root=" + Q(dir_) + " --force-script-chrootless " + args);
  }

 private:
  std::string dir_;
};

// The package with another version, as a rebuild would be.
std::string Rebuilt(const std::string& dir, const std::string& version) {
  std::string tree = dir + "/tree", out = dir + "/slipway_" + version + "_amd64.deb";
  Outcome o = Sh("dpkg-deb -R " + Q(g_deb) + " " + Q(tree) +
                 " && sed -i 's/^Version: .*/Version: " + version + "/' " + Q(tree + "/DEBIAN/control") +
                 " && dpkg-deb --root-owner-group -b " + Q(tree) + " " + Q(out) + " >/dev/null");
  EXPECT_EQ(o.code, 0) << o;
  return out;
}

TEST(DebTest, InstallRunUpgradeRemovePurgeInAThrowawayRoot) {
  ThrowawayRoot root;
  Outcome install = root.Dpkg("-i " + Q(g_deb));
  ASSERT_EQ(install.code, 0) << "Depends must be satisfiable on this machine: " << install;
  EXPECT_NE(install.err.find("no service touched"), std::string::npos) << install;
  EXPECT_FALSE(fs::exists(root / "/etc/systemd/system/multi-user.target.wants/slipway.service"));

  // postinst: the data directory and token, with slipwayd's modes.
  struct stat st;
  ASSERT_EQ(::stat((root / "/var/lib/slipway").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 0u);
  const std::string token_path = root / "/var/lib/slipway/control.token";
  EXPECT_EQ(ModeOf(token_path), 0600u);
  const std::string token = ReadFileOrEmpty(token_path);
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{64}"))) << token;

  // The installed slipwayd, as ExecStart runs it (the conffile), with
  // this test's port, state dir and cgroup parent on top; no
  // --monitor-binary and no --hello-world-archive: it finds both where the
  // package put them.
  const std::string conffile = root / "/etc/slipway/slipway.yaml";
  std::string container;
  {
    DaemonUnderTest daemon({"--config", conffile},
                           {root / "/usr/sbin/slipwayd", "", root / "/usr/bin/slipway"});
    daemon.set_data_dir(root / "/var/lib/slipway");
    ASSERT_TRUE(daemon.Start());
    EXPECT_EQ(daemon.Token(), token) << "slipwayd uses the token postinst made";
    EXPECT_NE(daemon.Log().find("image.hello_world_imported"), std::string::npos) << daemon.Log();
    Outcome hello = daemon.Cli({"run", "--rm", "hello-world"});
    EXPECT_EQ(hello.code, 0) << hello << daemon.Log();
    EXPECT_NE(hello.out.find("Hello from Slipway!"), std::string::npos) << hello;
    Outcome info = daemon.Cli({"info"});
    EXPECT_EQ(info.code, 0) << info;
    EXPECT_NE(info.out.find(" Server Version: " + g_version + "\n"), std::string::npos) << info;
    // The installed slipway hands `pipeline lint` to /usr/libexec/slipway/slipway-tools.
    const std::string pipeline_file = root / "/pipeline.yml";
    std::ofstream(pipeline_file) << "steps:\n  a: {run: x}\n";
    Outcome lint = daemon.Cli({"pipeline", "lint", pipeline_file});
    EXPECT_EQ(lint.code, 1) << lint;
    EXPECT_EQ(lint.out, pipeline_file + ":2:3: steps: want a list of steps, got a mapping\n") << lint;
    Outcome created = daemon.Cli({"create", "--name", "kept", "hello-world"});
    ASSERT_EQ(created.code, 0) << created;
    container = created.out.substr(0, created.out.find('\n'));
    EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();

    // An administrator's edit, then an upgrade to a rebuilt package.
    { std::ofstream(conffile, std::ios::app) << "# edited by the administrator\n"; }
    std::string scratch = MakeTempDir("deb-upgrade");
    Outcome upgrade = root.Dpkg("-i " + Q(Rebuilt(scratch, g_version + "+upgrade1")));
    fs::remove_all(scratch);
    ASSERT_EQ(upgrade.code, 0) << upgrade;
    EXPECT_NE(ReadFileOrEmpty(conffile).find("# edited by the administrator\n"), std::string::npos);
    EXPECT_EQ(ReadFileOrEmpty(token_path), token);
    Outcome status = root.Dpkg("-s slipway");
    EXPECT_NE(status.out.find("Version: " + g_version + "+upgrade1"), std::string::npos) << status;

    ASSERT_TRUE(daemon.Restart());
    json kept = daemon.Inspect("kept");
    EXPECT_EQ(kept.value("id", ""), container) << kept.dump();
    EXPECT_EQ(kept.value("state", ""), "created") << kept.dump();
    EXPECT_EQ(daemon.Api().Get("/api/v1/images/inspect?ref=hello-world").status, 200);
    size_t imports = 0;
    for (size_t p = daemon.Log().find("image.hello_world_imported"); p != std::string::npos;
         p = daemon.Log().find("image.hello_world_imported", p + 1))
      ++imports;
    EXPECT_EQ(imports, 1u) << "the upgrade kept the image";
    daemon.RemoveAll();
    EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
  }

  // systemd-analyze verify, offline: the installed unit in this root, with
  // this machine's own units (its dependencies) and /bin/kill (ExecReload).
  Outcome copy = Sh("cp -an /lib/systemd/system/. " + Q(root / "/lib/systemd/system/") + " && mkdir -p " +
                    Q(root / "/bin") + " && cp /bin/kill " + Q(root / "/bin/kill"));
  ASSERT_EQ(copy.code, 0) << copy;
  Outcome verify = Sh("systemd-analyze verify --man=no --root=" + Q(root.dir()) +
                      " /lib/systemd/system/slipway.service 2>&1");
  EXPECT_EQ(verify.code, 0) << verify;
  EXPECT_EQ(verify.out, "") << "warnings: " << verify.out;
  // The check can fail: a typo in the unit is reported.
  const std::string unit = root / "/lib/systemd/system/slipway.service";
  const std::string good = ReadFileOrEmpty(unit);
  std::ofstream(unit) << std::regex_replace(good, std::regex("KillMode=process"), "KillMode=proces");
  Outcome broken = Sh("systemd-analyze verify --man=no --root=" + Q(root.dir()) +
                      " /lib/systemd/system/slipway.service 2>&1");
  EXPECT_NE(broken.out.find("Failed to parse kill mode"), std::string::npos) << broken;
  std::ofstream(unit) << good;

  // remove keeps the data and the conffile; purge removes both.
  Outcome remove = root.Dpkg("-r slipway");
  ASSERT_EQ(remove.code, 0) << remove;
  EXPECT_FALSE(fs::exists(root / "/usr/sbin/slipwayd"));
  EXPECT_EQ(ReadFileOrEmpty(token_path), token);
  EXPECT_TRUE(fs::exists(root / "/var/lib/slipway/slipway.db"));
  EXPECT_TRUE(fs::exists(conffile));
  Outcome purge = root.Dpkg("-P slipway");
  ASSERT_EQ(purge.code, 0) << purge;
  EXPECT_FALSE(fs::exists(root / "/var/lib/slipway"));
  EXPECT_FALSE(fs::exists(root / "/etc/slipway"));
  EXPECT_NE(root.Dpkg("-s slipway").code, 0) << "purged: dpkg knows it no more";
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s SLIPWAYD MONITOR SLIPWAY DEB CONF VERSION\n", argv[0]);
    return 2;
  }
  if (!slipway::testing::InitDaemonBinaries(argc, argv)) return 2;
  slipway::testing::g_deb = std::filesystem::absolute(argv[4]);
  slipway::testing::g_conf = std::filesystem::absolute(argv[5]);
  slipway::testing::g_version = argv[6];
  return RUN_ALL_TESTS();
}

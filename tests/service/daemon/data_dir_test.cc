// slipwayd's data and state directories as a local non-root user would try
// them: started on directories left open (0777), slipwayd closes them
// (0700) and keeps its database (which holds every container's environment)
// and its -wal and -shm owner-only (0600), also when an older slipwayd left
// them wider; a directory another user owns is refused.
//
// The binaries are the first arguments (see BUILD.bazel): slipwayd,
// slipway-monitor, slipway.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

uid_t Nobody() {
  const passwd* pw = ::getpwnam("nobody");
  return pw != nullptr ? pw->pw_uid : 65534;
}

mode_t Mode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Whether user nobody can open `name` below `base` for reading: tried in a
// forked child that drops to nobody's uid and gid, as a local user would
// try it. The child opens `base` while still root: the test's scratch
// directory lies below a private one (/root), where slipwayd's data
// directory would be reachable by all in production (/var/lib/slipway), so
// only the modes from `base` down are tested.
bool NobodyCanRead(const std::string& base, const std::string& name) {
  uid_t nobody = Nobody();
  pid_t pid = ::fork();
  if (pid == 0) {
    int dir = ::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) ::_exit(2);
    if (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 || ::setuid(nobody) != 0) ::_exit(2);
    int fd = ::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC);
    ::_exit(fd >= 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 2) << "could not become nobody below " << base;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The data directory's parent (the fixture's scratch directory, opened to
// others here) and the paths below it.
std::string Base(const DaemonUnderTest& d) {
  return fs::path(d.data_dir()).parent_path().string();
}
std::string InData(const std::string& name) {
  return "data/" + name;
}

// Opens the data and state directories (and the data directory's parent)
// to others, as a careless install would, and proves that nobody can then
// read a file planted in the data directory.
void OpenTheWayTo(const DaemonUnderTest& d) {
  ASSERT_EQ(fs::path(d.data_dir()).filename(), "data");
  ASSERT_EQ(::chmod(Base(d).c_str(), 0755), 0);
  ASSERT_EQ(::chmod(d.data_dir().c_str(), 0777), 0);
  ASSERT_EQ(::chmod(d.state_dir().c_str(), 0777), 0);
  std::string planted = d.data_dir() + "/planted";
  std::ofstream(planted) << "x";
  ASSERT_EQ(::chmod(planted.c_str(), 0644), 0);
  ASSERT_TRUE(NobodyCanRead(Base(d), InData("planted"))) << "this test would prove nothing";
  ASSERT_TRUE(NobodyCanRead(d.state_dir(), "."));
  // An open directory is narrowed only if it is slipwayd's (empty, or used
  // by it before): the planted file goes, to come back once it runs.
  if (!fs::exists(d.data_dir() + "/slipwayd.lock")) fs::remove(planted);
}

// A file anyone could read were the directory open.
void Plant(const DaemonUnderTest& d) {
  std::string planted = d.data_dir() + "/planted";
  std::ofstream(planted) << "x";
  ASSERT_EQ(::chmod(planted.c_str(), 0644), 0);
}

void ExpectPrivate(const DaemonUnderTest& d) {
  std::string db = d.data_dir() + "/slipway.db";
  EXPECT_EQ(Mode(d.data_dir()), 0700u);
  EXPECT_EQ(Mode(d.state_dir()), 0700u);
  EXPECT_EQ(Mode(db), 0600u);
  for (const char* suffix : {"-wal", "-shm"}) {
    if (fs::exists(db + suffix)) EXPECT_EQ(Mode(db + suffix), 0600u) << suffix;
  }
  EXPECT_FALSE(NobodyCanRead(Base(d), InData("slipway.db")));
  EXPECT_FALSE(NobodyCanRead(Base(d), InData("slipway.db-wal")));
  EXPECT_FALSE(NobodyCanRead(Base(d), InData("planted")));
  EXPECT_FALSE(NobodyCanRead(Base(d), InData("control.token")));
  EXPECT_FALSE(NobodyCanRead(d.state_dir(), "."));
}

TEST(DataDirTest, OpenDirectoriesAreClosedAndTheDatabaseIsOwnerOnly) {
  DaemonUnderTest d;
  OpenTheWayTo(d);
  ASSERT_TRUE(d.Start());
  Plant(d);
  d.ImportBusybox("busybox");
  std::string id =
      d.Create({{"image", "busybox"}, {"command", {"true"}}, {"env", {"SECRET=issue-11-finding-8"}}});
  ASSERT_FALSE(id.empty());
  ExpectPrivate(d);
  EXPECT_NE(d.Log().find("dir.made_private"), std::string::npos) << "the tightening is not logged";
  // The database (or its -wal) does hold the value: what keeps it is the mode.
  std::string db = d.data_dir() + "/slipway.db";
  std::string contents;
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(db + suffix, std::ios::binary);
    contents += std::string(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_NE(contents.find("issue-11-finding-8"), std::string::npos);
}

TEST(DataDirTest, ADatabaseLeftReadableByAnOlderSlipwaydIsNarrowed) {
  DaemonUnderTest d;
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(d.Terminate(), 0);
  OpenTheWayTo(d);
  std::string db = d.data_dir() + "/slipway.db";
  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  ASSERT_TRUE(NobodyCanRead(Base(d), InData("slipway.db")));
  ASSERT_TRUE(d.Restart());
  ExpectPrivate(d);
}

// A mistyped data_dir (say /var/lib) must not be closed to everyone else:
// an open directory holding files slipwayd did not make is refused, as is.
TEST(DataDirTest, AnOpenDirectoryThatIsNotSlipwaydsIsRefusedNotNarrowed) {
  DaemonUnderTest d;
  OpenTheWayTo(d);
  Plant(d);
  auto started = d.Start();
  EXPECT_FALSE(started);
  EXPECT_NE(d.Log().find("is open to other users (mode 0777) and holds files slipwayd did not make"),
            std::string::npos)
      << d.Log();
  EXPECT_EQ(Mode(d.data_dir()), 0777u);
  EXPECT_FALSE(fs::exists(d.data_dir() + "/slipway.db"));
}

TEST(DataDirTest, ADataDirectoryOwnedByAnotherUserIsRefused) {
  DaemonUnderTest d;
  ASSERT_EQ(::chown(d.data_dir().c_str(), Nobody(), Nobody()), 0);
  auto started = d.Start();
  EXPECT_FALSE(started);
  EXPECT_NE(d.Log().find("owned by uid " + std::to_string(Nobody())), std::string::npos) << d.Log();
  EXPECT_FALSE(fs::exists(d.data_dir() + "/slipway.db"));
  ASSERT_EQ(::chown(d.data_dir().c_str(), 0, 0), 0);
}

}  // namespace
}  // namespace slipway::testing

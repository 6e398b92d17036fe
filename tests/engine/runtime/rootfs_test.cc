// The sandbox's root filesystem as an attacker inside it finds it: read-only
// volumes stay read-only below every mount they contain, and the overlay
// root's directory entries agree with stat.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "engine/base/fs.h"
#include "tests/engine/runtime/sandbox_test_util.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

std::string g_inode_check;  // absolute path of inode-check, from argv[1]

using RootfsTest = SandboxTest;

TEST_F(RootfsTest, ReadOnlyVolumesAreReadOnlyBelowEveryMountTheyContain) {
  // Issue 11's probe: -v /:/host:ro, then writes where the host has another
  // mount below the bind's source (a tmpfs, /proc, the cgroup hierarchies).
  std::string vol = MakeTempDir("slipway-ro");
  std::string sub = vol + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m"), 0) << ::strerror(errno);
  std::ofstream(sub + "/seen") << "below\n";
  std::string cgroups = fs::exists("/sys/fs/cgroup/pids") ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup";
  std::string probe = cgroups + "/slipway-ro-probe-" + std::to_string(::getpid());
  Snapshot before = Take();

  std::string script =
      "cat /vol/sub/seen; "
      "touch /vol/x; echo top=$?; "
      "touch /vol/sub/x; echo tmpfs=$?; ";
  script += "touch /host" + sub + "/y; echo host_tmpfs=$?; ";
  script += "mkdir /host" + probe + "; echo cgroup=$?; ";
  script += "printf probe > /host/proc/self/comm; echo proc=$?";
  SandboxSpec spec = Spec({"sh", "-c", script});
  spec.binds = {{vol, "/vol", true}, {"/", "/host", true}};
  Outcome o = Run(spec);
  EXPECT_EQ(o.result.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "below\ntop=1\ntmpfs=1\nhost_tmpfs=1\ncgroup=1\nproc=1\n") << o.err;
  EXPECT_NE(o.err.find("Read-only file system"), std::string::npos) << o.err;

  EXPECT_FALSE(fs::exists(vol + "/x"));
  EXPECT_FALSE(fs::exists(sub + "/x"));
  EXPECT_FALSE(fs::exists(sub + "/y"));
  bool made_cgroup = fs::exists(probe);
  if (made_cgroup) (void)::rmdir(probe.c_str());
  EXPECT_FALSE(made_cgroup) << "the sandbox created a cgroup on the host";
  // Read-only only for the sandbox: the host's own mount stays writable.
  std::ofstream(sub + "/after") << "host\n";
  EXPECT_TRUE(fs::exists(sub + "/after"));
  EXPECT_EQ(Take(), before);

  ASSERT_EQ(::umount2(sub.c_str(), 0), 0) << ::strerror(errno);
  (void)RemoveTree(vol);
}

TEST_F(RootfsTest, WritableVolumesKeepTheirSubmountsWritable) {
  // The recursive read-only flag is for ":ro" only.
  std::string vol = MakeTempDir("slipway-rw");
  std::string sub = vol + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m"), 0) << ::strerror(errno);
  SandboxSpec spec = Spec({"sh", "-c", "echo w > /vol/sub/x; echo rc=$?"});
  spec.binds = {{vol, "/vol", false}};
  Outcome o = Run(spec);
  EXPECT_EQ(o.out, "rc=0\n") << o.err;
  EXPECT_TRUE(fs::exists(sub + "/x"));
  ASSERT_EQ(::umount2(sub.c_str(), 0), 0) << ::strerror(errno);
  (void)RemoveTree(vol);
}

// d_ino must equal st_ino for / (lower-only, copied-up and new entries),
// /etc (copied up for the generated files), /bin (lower only) and a
// directory the command made, with the writable layer on a tmpfs and, as
// image builds use it, in a directory of the data filesystem.
TEST_F(RootfsTest, DirectoryEntriesAgreeWithStatOnTheOverlay) {
  ASSERT_FALSE(g_inode_check.empty());
  for (bool persistent_upper : {false, true}) {
    SCOPED_TRACE(persistent_upper ? "upper directory of the caller" : "tmpfs writable layer");
    std::string upper = persistent_upper ? MakeTempDir("slipway-upper") : "";
    SandboxSpec spec = Spec({"sh", "-c",
                             "mkdir /made && touch /made/f /new /etc/changed && "
                             "/check/inode-check / /etc /bin /made"});
    spec.upper_dir = upper;
    spec.binds = {{g_inode_check, "/check/inode-check", true}};
    Outcome o = Run(spec);
    EXPECT_EQ(o.result.exit_code, 0) << o.out << o.err;
    EXPECT_EQ(o.out, "");
    if (!upper.empty()) (void)RemoveTree(upper);
  }
}

}  // namespace
}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  slipway::testing::g_inode_check =
      slipway::testing::BinaryUnderTest(argc, argv, "tests/engine/runtime/inode-check");
  if (slipway::testing::g_inode_check.empty()) {
    std::cerr << "inode-check not found (give its path as the first argument)\n";
    return 1;
  }
  return RUN_ALL_TESTS();
}

// SandboxSpec::upper_dir: the writable layer lands in a caller's directory
// and outlives the sandbox, holding exactly the command's changes in
// overlayfs' format, while nothing stays mounted on the host.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "engine/base/fs.h"
#include "tests/engine/runtime/sandbox_test_util.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class UpperDirTest : public SandboxTest {
 protected:
  void TearDown() override {
    for (const std::string& dir : scratch_) (void)RemoveTree(dir);
    SandboxTest::TearDown();
  }

  // A scratch directory removed after the test.
  std::string Scratch(const std::string& prefix) {
    scratch_.push_back(MakeTempDir(prefix));
    return scratch_.back();
  }

  // An image layer with a populated /data, to be replaced (an opaque dir).
  std::string DataLayer() {
    std::string layer = Scratch("slipway-layer");
    fs::create_directories(layer + "/data/sub");
    std::ofstream(layer + "/data/a") << "a\n";
    std::ofstream(layer + "/data/sub/b") << "b\n";
    return layer;
  }

  std::vector<std::string> scratch_;
};

// The paths below `dir`, relative to it.
std::vector<std::string> RelativeTree(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& path : ListTree(dir)) out.push_back(path.substr(dir.size() + 1));
  return out;
}

std::vector<std::string> SortedNames(const std::string& dir) {
  std::vector<std::string> names = ListDir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string Contents(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : text.status().ToString();
}

bool IsWhiteout(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::string Xattr(const std::string& path, const char* name) {
  char value[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, value, sizeof value);
  return n < 0 ? "" : std::string(value, static_cast<size_t>(n));
}

// Every "path: xattr" below `dir` whose name is trusted.overlay.redirect or
// .metacopy: what a layer writer cannot express.
std::vector<std::string> RedirectsAndMetacopies(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& path : ListTree(dir)) {
    char names[4096];
    ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(::strlen(names + i)) + 1) {
      std::string name = names + i;
      if (name == "trusted.overlay.redirect" || name == "trusted.overlay.metacopy")
        out.push_back(path + ": " + name);
    }
  }
  return out;
}

TEST_F(UpperDirTest, UpperHoldsExactlyTheChangesAndNothingStaysMounted) {
  std::string layer = DataLayer();
  std::string upper = Scratch("slipway-upper");
  std::string vol = Scratch("slipway-vol");
  auto rootfs_before = TreeFingerprint(BusyboxRootfs());
  auto layer_before = TreeFingerprint(layer);
  Snapshot before = Take();

  // /mnt/vol, /etc/hosts, /etc/hostname and /etc/resolv.conf are mount
  // points the root lacks: the runtime makes them, but not in the upper.
  SandboxSpec spec =
      Spec({"sh", "-c",
            "echo hi > /new && rm /bin/ls && rm -rf /data && mkdir /data && echo c > /data/c &&"
            "mv /home/tester /home/moved && cat /etc/hostname /mnt/vol/v && echo done"});
  spec.lower_dirs = {layer, BusyboxRootfs()};
  spec.upper_dir = upper;
  spec.hostname = "builder";
  spec.binds = {{vol, "/mnt/vol", true}};
  std::ofstream(vol + "/v") << "vol\n";
  Outcome o = Run(spec);
  EXPECT_EQ(o.result.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "builder\nvol\ndone\n") << o.err;

  EXPECT_EQ(Take(), before);  // no mount, cgroup or state left
  EXPECT_EQ(SortedNames(upper), std::vector<std::string>{"upper"}) << "work/ is removed at tear-down";
  std::string u = upper + "/upper";
  EXPECT_EQ(RelativeTree(u), (std::vector<std::string>{"bin", "bin/ls", "data", "data/c", "home",
                                                       "home/moved", "home/tester", "new"}));
  EXPECT_EQ(Contents(u + "/new"), "hi\n");
  EXPECT_TRUE(IsWhiteout(u + "/bin/ls"));
  EXPECT_EQ(Xattr(u + "/data", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(Contents(u + "/data/c"), "c\n");
  // Renaming a lower directory copied it (redirect_dir=off): a new
  // directory and a whiteout, no redirect xattr.
  EXPECT_TRUE(IsWhiteout(u + "/home/tester"));
  EXPECT_TRUE(fs::is_directory(u + "/home/moved"));
  EXPECT_TRUE(RedirectsAndMetacopies(u).empty());
  struct stat st;
  ASSERT_EQ(::stat(u.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(TreeFingerprint(BusyboxRootfs()), rootfs_before);
  EXPECT_EQ(TreeFingerprint(layer), layer_before);
}

TEST_F(UpperDirTest, TheUpperIsAUsableLayer) {
  std::string layer = DataLayer();
  std::string upper = Scratch("slipway-upper");
  SandboxSpec step = Spec({"sh", "-c", "echo hi > /new && rm /bin/ls && rm -rf /data && mkdir /data"});
  step.lower_dirs = {layer, BusyboxRootfs()};
  step.upper_dir = upper;
  ASSERT_EQ(Run(step).result.exit_code, 0);

  // The next step runs on it as its topmost layer, as a build's next RUN would.
  SandboxSpec next = Spec({"sh", "-c", "cat /new; ls /data | wc -l; test -e /bin/ls || echo no-ls"});
  next.lower_dirs = {upper + "/upper", layer, BusyboxRootfs()};
  Outcome o = Run(next);
  EXPECT_EQ(o.out, "hi\n0\nno-ls\n") << o.err;
}

TEST_F(UpperDirTest, UpperModeDoesNotDependOnTheUmask) {
  std::string upper = Scratch("slipway-upper");
  SandboxSpec spec = Spec({"sh", "-c", "ls / > /dev/null && echo ok"});
  spec.uid = spec.gid = 1000;
  spec.upper_dir = upper;
  mode_t saved = ::umask(077);
  Outcome o = Run(spec);
  ::umask(saved);
  EXPECT_EQ(o.out, "ok\n") << o.err;
}

TEST_F(UpperDirTest, ADroppedSandboxKeepsItsChangesSoFar) {
  std::string upper = Scratch("slipway-upper");
  Snapshot before = Take();
  SandboxSpec spec = Spec({"sh", "-c", "echo partial > /f; sleep 100"});
  spec.upper_dir = upper;
  {
    auto sb = runtime_->Start(spec);
    ASSERT_TRUE(sb.ok()) << sb.status().message();
    for (int i = 0; i < 500 && !PathExists(upper + "/upper/f"); ++i)
      std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(SortedNames(upper), std::vector<std::string>{"upper"});
  EXPECT_EQ(RelativeTree(upper + "/upper"), std::vector<std::string>{"f"});
}

TEST_F(UpperDirTest, AFailedStartLeavesTheDirectoryEmpty) {
  // A directory cannot be bound onto a file: set-up fails in the child,
  // after upper/ and work/ were made.
  std::string upper = Scratch("slipway-upper");
  std::string vol = Scratch("slipway-vol");
  Snapshot before = Take();
  SandboxSpec spec = Spec({"true"});
  spec.upper_dir = upper;
  spec.binds = {{vol, "/etc/passwd", false}};
  auto sb = runtime_->Start(spec);
  ASSERT_FALSE(sb.ok());
  EXPECT_NE(sb.status().message().find("/etc/passwd"), std::string::npos) << sb.status().message();
  EXPECT_TRUE(fs::is_empty(upper));
  EXPECT_EQ(Take(), before);
}

TEST_F(UpperDirTest, BadUpperDirsAreRefusedBeforeAnythingIsCreated) {
  std::string full = Scratch("slipway-upper");
  std::ofstream(full + "/leftover") << "x";
  std::string shared = Scratch("slipway-upper");
  ::chmod(shared.c_str(), 0770);
  std::string sized = Scratch("slipway-upper");
  struct Case {
    std::string dir;
    int64_t storage_bytes;
    std::string says;
  };
  const Case cases[] = {
      {"relative/dir", 0, "must be an absolute path"},
      {"/nonexistent/upper", 0, "/nonexistent/upper: No such file"},
      {"/etc/passwd", 0, "is not a directory"},
      {full, 0, "is not empty"},
      {shared, 0, "writable by nobody else"},
      {sized, 64 << 20, "--storage-size cannot be combined with an upper directory"},
  };
  Snapshot before = Take();
  for (const Case& c : cases) {
    SandboxSpec spec = Spec({"true"});
    spec.upper_dir = c.dir;
    spec.storage_bytes = c.storage_bytes;
    auto sb = runtime_->Start(spec);
    ASSERT_FALSE(sb.ok()) << c.dir;
    EXPECT_NE(sb.status().message().find(c.says), std::string::npos) << sb.status().message();
  }
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(SortedNames(full), std::vector<std::string>{"leftover"});
  EXPECT_TRUE(fs::is_empty(shared));
  EXPECT_TRUE(fs::is_empty(sized));
}

// Runs `body` in a child process with a private mount namespace, so that
// whatever it mounts never reaches the host; returns what it wrote.
std::string InPrivateMountNamespace(const std::function<std::string()>& body) {
  int out[2];
  if (::pipe(out) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    std::string text =
        ::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0
            ? body()
            : std::string("unshare failed: ") + std::strerror(errno);
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  ::waitpid(pid, nullptr, 0);
  return text;
}

TEST_F(UpperDirTest, AnUpperOnOverlayfsIsRefused) {
  std::string base = Scratch("slipway-ovl");
  for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directory(base + "/" + d);
  Snapshot before = Take();
  std::string said = InPrivateMountNamespace([&] {
    std::string options = "lowerdir=" + base + "/lower,upperdir=" + base + "/upper,workdir=" + base + "/work";
    std::string merged = base + "/merged";
    if (::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0)
      return std::string("mount overlay: ") + std::strerror(errno);
    std::string dir = merged + "/step";
    if (::mkdir(dir.c_str(), 0700) != 0) return std::string("mkdir: ") + std::strerror(errno);
    SandboxSpec spec = Spec({"true"});
    spec.upper_dir = dir;
    return ValidateSpec(spec).ToString();
  });
  EXPECT_NE(said.find("is on an overlay filesystem"), std::string::npos) << said;
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace slipway::testing

// Runs against the machine's real cgroups (needs root). Every test uses its own
// parent, "slipway-test-<random>", and removes it afterwards.
#include "engine/runtime/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "gtest/gtest.h"

namespace slipway {
namespace {

constexpr int64_t kMiB = 1 << 20;

std::string Read(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return "<" + text.status().message() + ">";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Dirname(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

bool IsCgroup2(const std::string& path) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

// What the layout should be, judged from statfs instead of mountinfo.
CgroupLayout ExpectedLayout() {
  if (IsCgroup2("/sys/fs/cgroup")) return CgroupLayout::kV2;
  return IsCgroup2("/sys/fs/cgroup/unified") ? CgroupLayout::kHybrid : CgroupLayout::kV1;
}

// Forks a child that joins `cg` the way the sandbox's child does, then runs
// `body` and _exits with its result (120 if joining failed).
pid_t ForkInto(const Cgroup& cg, const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  for (int fd : cg.procs_fds()) {
    if (::write(fd, "0", 1) != 1) ::_exit(120);
  }
  ::_exit(body());
}

int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read_end.reset(fds[0]);
      write_end.reset(fds[1]);
    }
  }
  UniqueFd read_end, write_end;
};

[[noreturn]] int SleepForever() {
  for (;;) ::pause();
}

// Whether a /proc/<pid>/cgroup controller list like "cpu,cpuacct" names `c`
// ("" is the cgroup2 line).
bool Names(const std::string& controllers, const std::string& c) {
  if (c.empty()) return controllers.empty();
  return ("," + controllers + ",").find("," + c + ",") != std::string::npos;
}

// A child that joins `cg` and sleeps until killed. Returns once it has joined
// (or failed to, which its wait status then shows).
pid_t ForkSleeper(const Cgroup& cg) {
  Pipe ready;
  pid_t pid = ForkInto(cg, [&] {
    char c = 'r';
    if (::write(ready.write_end.get(), &c, 1) != 1) return 1;
    return SleepForever();
  });
  ready.write_end.reset();
  char c;
  if (pid > 0) (void)::read(ready.read_end.get(), &c, 1);
  return pid;
}

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    parent_ = "slipway-test-" + RandomHex(4);
    Result<CgroupDriver> driver = CgroupDriver::Detect(parent_);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    driver_.emplace(std::move(*driver));
  }

  void TearDown() override {
    if (!driver_) return;
    for (const std::string& name : driver_->List()) {
      EXPECT_TRUE(driver_->Remove(name).ok()) << name;
    }
    for (const std::string& path : driver_->PathsFor("x")) {
      std::string parent = Dirname(path);
      EXPECT_TRUE(::rmdir(parent.c_str()) == 0 || errno == ENOENT) << "rmdir " << parent << ": " << errno;
    }
  }

  std::unique_ptr<Cgroup> MustCreate(const std::string& name, const CgroupLimits& limits) {
    Result<std::unique_ptr<Cgroup>> cg = driver_->Create(name, limits);
    EXPECT_TRUE(cg.ok()) << cg.status().ToString();
    return cg.ok() ? std::move(*cg) : nullptr;
  }

  // The directory of `name` in the hierarchy mounted at /sys/fs/cgroup/<mount>.
  std::string Dir(const std::string& mount, const std::string& name) {
    return "/sys/fs/cgroup/" + mount + "/" + parent_ + "/" + name;
  }

  void ExpectNothingLeft(const std::string& name) {
    for (const std::string& path : driver_->PathsFor(name)) EXPECT_FALSE(PathExists(path)) << path;
    EXPECT_TRUE(driver_->List().empty());
  }

  void ExpectDevicesRestricted(bool force_bpf);

  std::string parent_;
  std::optional<CgroupDriver> driver_;
};

// --- Detection ---------------------------------------------------------------

TEST_F(CgroupTest, DetectMatchesMountedLayout) {
  EXPECT_EQ(CgroupLayoutName(driver_->layout()), std::string(CgroupLayoutName(ExpectedLayout())));
}

TEST_F(CgroupTest, HybridUsesOnlySlipwayHierarchies) {
  if (ExpectedLayout() != CgroupLayout::kHybrid) GTEST_SKIP() << "not a hybrid machine";
  EXPECT_EQ(driver_->layout(), CgroupLayout::kHybrid);
  std::vector<std::string> want;
  for (const char* h : {"cpu", "cpuacct", "memory", "devices", "pids", "unified"})
    want.push_back(Dir(h, "x"));
  std::vector<std::string> got = driver_->PathsFor("x");
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

TEST(CgroupDriverMountinfoTest, V1WithCoMountedAndDuplicateHierarchies) {
  const char* mountinfo =
      "20 1 0:19 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
      "25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw shared:7 - cgroup cgroup rw,cpu,cpuacct\n"
      "26 20 0:23 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n"
      "27 20 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "28 20 0:25 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
      "29 20 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
      "30 20 0:27 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
      "31 20 0:28 / /sys/fs/cgroup/blkio,freezer rw - cgroup cgroup rw,blkio,freezer\n"
      "40 1 0:26 / /mnt/other\\040pids rw - cgroup cgroup rw,pids\n";
  Result<CgroupDriver> d = CgroupDriver::FromMountinfo(mountinfo, "p");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->layout(), CgroupLayout::kV1);
  EXPECT_EQ(d->PathsFor("x"), (std::vector<std::string>{
                                  "/sys/fs/cgroup/cpu,cpuacct/p/x",
                                  "/sys/fs/cgroup/memory/p/x",
                                  "/sys/fs/cgroup/pids/p/x",
                                  "/sys/fs/cgroup/devices/p/x",
                              }));
  // The order is Slipway's, not the mounts'; blkio and freezer are not used.
  EXPECT_EQ(d->Controllers(), (std::vector<std::string>{"memory", "cpu", "cpuacct", "pids", "devices"}));
}

TEST(CgroupDriverMountinfoTest, HybridAddsUnifiedMountLast) {
  const char* mountinfo =
      "26 20 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "41 20 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
  Result<CgroupDriver> d = CgroupDriver::FromMountinfo(mountinfo, "p");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->layout(), CgroupLayout::kHybrid);
  EXPECT_EQ(d->PathsFor("x"),
            (std::vector<std::string>{"/sys/fs/cgroup/memory/p/x", "/sys/fs/cgroup/unified/p/x"}));
  // The cgroup2 mount of a hybrid machine has no controllers to offer.
  EXPECT_EQ(d->Controllers(), (std::vector<std::string>{"memory"}));
}

TEST(CgroupDriverMountinfoTest, PureV2WithEscapedMountPoint) {
  const char* mountinfo =
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "30 27 0:26 / /weird\\040dir rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
      "31 27 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
  Result<CgroupDriver> d = CgroupDriver::FromMountinfo(mountinfo, "p");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->layout(), CgroupLayout::kV2);
  EXPECT_EQ(d->PathsFor("x"), (std::vector<std::string>{"/weird dir/p/x"}));
  // No /weird dir/cgroup.controllers to read: only the BPF devices rule is certain.
  EXPECT_EQ(d->Controllers(), (std::vector<std::string>{"devices"}));
}

TEST(CgroupDriverMountinfoTest, RejectsMissingCgroupsAndBadParent) {
  Result<CgroupDriver> none = CgroupDriver::FromMountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n", "p");
  EXPECT_EQ(none.status().code(), Code::kFailedPrecondition);
  const char* v2 = "30 27 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  for (const char* parent : {"", "a/b", "..", ".hidden"}) {
    EXPECT_EQ(CgroupDriver::FromMountinfo(v2, parent).status().code(), Code::kInvalidArgument) << parent;
  }
}

// --- Create and limits ---------------------------------------------------------

TEST_F(CgroupTest, CreateWritesLimitsEverywhere) {
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  limits.cpu_millis = 500;
  limits.cpu_period_us = 50000;
  limits.pids_max = 10;
  std::unique_ptr<Cgroup> cg = MustCreate("limits", limits);
  ASSERT_NE(cg, nullptr);

  std::vector<std::string> paths = driver_->PathsFor("limits");
  for (const std::string& path : paths) EXPECT_TRUE(PathExists(path + "/cgroup.procs")) << path;
  EXPECT_EQ(cg->procs_fds().size(), paths.size());
  for (int fd : cg->procs_fds()) EXPECT_GE(fd, 0);

  if (driver_->layout() == CgroupLayout::kV2) {
    std::string dir = paths[0];
    EXPECT_EQ(Read(dir + "/memory.max"), "67108864");
    if (PathExists(dir + "/memory.swap.max")) {
      EXPECT_EQ(Read(dir + "/memory.swap.max"), "0");
    }
    EXPECT_EQ(Read(dir + "/cpu.max"), "25000 50000");
    EXPECT_EQ(Read(dir + "/pids.max"), "10");
  } else {
    std::string memory = Dir("memory", "limits");
    EXPECT_EQ(Read(memory + "/memory.limit_in_bytes"), "67108864");
    if (PathExists(memory + "/memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(Read(memory + "/memory.memsw.limit_in_bytes"), "67108864");
    }
    EXPECT_EQ(Read(memory + "/memory.swappiness"), "0");
    EXPECT_EQ(Read(Dir("cpu", "limits") + "/cpu.cfs_period_us"), "50000");
    EXPECT_EQ(Read(Dir("cpu", "limits") + "/cpu.cfs_quota_us"), "25000");
    EXPECT_EQ(Read(Dir("pids", "limits") + "/pids.max"), "10");
    EXPECT_EQ(Read(Dir("devices", "limits") + "/devices.list"),
              "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n"
              "c 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm");
  }
  if (driver_->layout() != CgroupLayout::kV1) {
    struct stat st;
    ASSERT_EQ(::fstat(cg->unified_dir_fd(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
}

TEST_F(CgroupTest, ZeroMeansNoLimit) {
  CgroupLimits limits;
  limits.restrict_devices = false;
  std::unique_ptr<Cgroup> cg = MustCreate("nolimits", limits);
  ASSERT_NE(cg, nullptr);
  if (driver_->layout() == CgroupLayout::kV2) {
    std::string dir = driver_->PathsFor("nolimits")[0];
    EXPECT_EQ(Read(dir + "/memory.max"), "max");
    EXPECT_EQ(Read(dir + "/pids.max"), "max");
    EXPECT_EQ(Read(dir + "/cpu.max").substr(0, 4), "max ");
  } else {
    EXPECT_EQ(Read(Dir("memory", "nolimits") + "/memory.limit_in_bytes"), "9223372036854771712");
    EXPECT_EQ(Read(Dir("pids", "nolimits") + "/pids.max"), "max");
    EXPECT_EQ(Read(Dir("cpu", "nolimits") + "/cpu.cfs_quota_us"), "-1");
    EXPECT_EQ(Read(Dir("devices", "nolimits") + "/devices.list"), "a *:* rwm");
  }
}

TEST_F(CgroupTest, SwapLimits) {
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;
  limits.memory_swap_bytes = 96 * kMiB;
  std::unique_ptr<Cgroup> some = MustCreate("someswap", limits);
  limits.memory_swap_bytes = -1;
  std::unique_ptr<Cgroup> unlimited = MustCreate("anyswap", limits);
  ASSERT_NE(some, nullptr);
  ASSERT_NE(unlimited, nullptr);
  if (driver_->layout() == CgroupLayout::kV2) {
    std::string file = "/memory.swap.max";
    if (!PathExists(driver_->PathsFor("someswap")[0] + file)) GTEST_SKIP() << "no swap accounting";
    EXPECT_EQ(Read(driver_->PathsFor("someswap")[0] + file), std::to_string(32 * kMiB));
    EXPECT_EQ(Read(driver_->PathsFor("anyswap")[0] + file), "max");
  } else {
    std::string file = "/memory.memsw.limit_in_bytes";
    if (!PathExists(Dir("memory", "someswap") + file)) GTEST_SKIP() << "no swap accounting";
    EXPECT_EQ(Read(Dir("memory", "someswap") + file), std::to_string(96 * kMiB));
    EXPECT_EQ(Read(Dir("memory", "anyswap") + file), "9223372036854771712");
    EXPECT_NE(Read(Dir("memory", "anyswap") + "/memory.swappiness"), "0");
  }
}

// --- Membership and enforcement ------------------------------------------------

TEST_F(CgroupTest, ChildJoinsEveryHierarchy) {
  std::unique_ptr<Cgroup> cg = MustCreate("join", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  Pipe joined, release;
  pid_t pid = ForkInto(*cg, [&] {
    release.write_end.reset();
    char c = 'j';
    if (::write(joined.write_end.get(), &c, 1) != 1) return 1;
    (void)::read(release.read_end.get(), &c, 1);  // until the parent closes it
    return 0;
  });
  ASSERT_GT(pid, 0);
  joined.write_end.reset();
  char c;
  ASSERT_EQ(::read(joined.read_end.get(), &c, 1), 1) << "child did not join";

  // Every hierarchy Slipway uses lists the child at <parent>/join.
  std::string want = "/" + parent_ + "/join";
  std::string proc_cgroup = Read("/proc/" + std::to_string(pid) + "/cgroup");
  int matched = 0;
  for (const std::string& dir : driver_->PathsFor("join")) {
    EXPECT_EQ(Read(dir + "/cgroup.procs"), std::to_string(pid)) << dir;
  }
  std::istringstream lines(proc_cgroup);
  for (std::string line; std::getline(lines, line);) {
    // "4:memory:/path" or "0::/path"
    size_t first = line.find(':'), second = line.find(':', first + 1);
    std::string controllers = line.substr(first + 1, second - first - 1);
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "devices", ""}) {
      if (!Names(controllers, c)) continue;
      EXPECT_EQ(line.substr(second + 1), want) << line;
      ++matched;
      break;
    }
  }
  EXPECT_EQ(matched, static_cast<int>(driver_->PathsFor("join").size())) << proc_cgroup;

  release.write_end.reset();
  int status = Wait(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(CgroupTest, MemoryLimitOomKills) {
  CgroupLimits limits;
  limits.memory_bytes = 32 * kMiB;
  std::unique_ptr<Cgroup> cg = MustCreate("oom", limits);
  ASSERT_NE(cg, nullptr);
  pid_t pid = ForkInto(*cg, [] {
    size_t size = 200 * kMiB;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return 2;
    volatile char* bytes = static_cast<char*>(mem);
    for (size_t i = 0; i < size; i += 4096) bytes[i] = 1;
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status = Wait(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;

  Result<CgroupStats> stats = cg->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GE(stats->oom_kills, 1);
  EXPECT_GT(stats->memory_peak_bytes, 0);
  EXPECT_LE(stats->memory_peak_bytes, 32 * kMiB);
}

TEST_F(CgroupTest, PidsLimitStopsForks) {
  CgroupLimits limits;
  limits.pids_max = 5;
  std::unique_ptr<Cgroup> cg = MustCreate("pids", limits);
  ASSERT_NE(cg, nullptr);
  // The child forks until fork fails and exits with how many it got (itself
  // counts as one of the 5), 200 if none failed, 201 on an errno but EAGAIN.
  pid_t pid = ForkInto(*cg, [] {
    Pipe hold;
    int forked = 0, error = 0;
    for (int i = 0; i < 20; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        hold.write_end.reset();
        char c;
        (void)::read(hold.read_end.get(), &c, 1);
        ::_exit(0);
      }
      if (p < 0) {
        error = errno;
        break;
      }
      ++forked;
    }
    hold.write_end.reset();
    while (::wait(nullptr) > 0) {
    }
    if (error == 0) return 200;
    return error == EAGAIN ? forked : 201;
  });
  ASSERT_GT(pid, 0);
  int status = Wait(pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 4);
}

struct DeviceNode {
  const char* name;
  mode_t type;
  unsigned major, minor;
};

void CgroupTest::ExpectDevicesRestricted(bool force_bpf) {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/devices-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const DeviceNode nodes[] = {
      {"null", S_IFCHR, 1, 3}, {"mem", S_IFCHR, 1, 1},   {"kmsg", S_IFCHR, 1, 11},
      {"loop", S_IFBLK, 7, 0}, {"pts", S_IFCHR, 136, 9},
  };
  for (const DeviceNode& n : nodes) {
    std::string path = dir + "/" + n.name;
    ASSERT_EQ(::mknod(path.c_str(), n.type | 0600, makedev(n.major, n.minor)), 0) << path;
  }
  // Outside the cgroup, root may open what the child must not.
  for (const char* name : {"kmsg", "loop"}) {
    UniqueFd fd(::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid()) << name << ": " << errno;
  }

  driver_->set_force_bpf_devices(force_bpf);
  std::unique_ptr<Cgroup> cg = MustCreate("devices", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  auto opens = [&](const std::string& path, int flags) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    return fd.valid() ? 0 : errno;
  };
  struct Check {
    const char* what;
    std::function<bool()> ok;
  };
  const std::vector<Check> checks = {
      {"open /dev/null", [&] { return opens("/dev/null", O_RDWR) == 0; }},
      {"open c 1:3 (null)", [&] { return opens(dir + "/null", O_RDWR) == 0; }},
      {"open c 136:9 (pts) not denied", [&] { return opens(dir + "/pts", O_RDWR) != EPERM; }},
      {"open c 1:1 (mem) denied", [&] { return opens(dir + "/mem", O_RDONLY) == EPERM; }},
      {"open c 1:11 (kmsg) denied", [&] { return opens(dir + "/kmsg", O_RDONLY) == EPERM; }},
      {"open /dev/kmsg denied", [&] { return opens("/dev/kmsg", O_RDONLY) == EPERM; }},
      {"open b 7:0 (loop) denied", [&] { return opens(dir + "/loop", O_RDONLY) == EPERM; }},
      {"mknod c 1:1 allowed",
       [&] { return ::mknod((dir + "/mem2").c_str(), S_IFCHR | 0600, makedev(1, 1)) == 0; }},
      {"open new c 1:1 denied", [&] { return opens(dir + "/mem2", O_WRONLY) == EPERM; }},
      {"mknod b 7:1 allowed",
       [&] { return ::mknod((dir + "/loop2").c_str(), S_IFBLK | 0600, makedev(7, 1)) == 0; }},
  };
  pid_t pid = ForkInto(*cg, [&] {
    for (size_t i = 0; i < checks.size(); ++i) {
      if (!checks[i].ok()) return static_cast<int>(i + 1);
    }
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status = Wait(pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  int failed = WEXITSTATUS(status);
  EXPECT_EQ(failed, 0) << (failed > 0 && failed <= static_cast<int>(checks.size()) ? checks[failed - 1].what
                                                                                   : "child could not join");
  EXPECT_TRUE(RemoveTree(dir).ok());
}

TEST_F(CgroupTest, DevicesV1) {
  if (driver_->layout() == CgroupLayout::kV2) GTEST_SKIP() << "no v1 devices controller";
  ExpectDevicesRestricted(false);
}

TEST_F(CgroupTest, DevicesBpf) {
  if (driver_->layout() == CgroupLayout::kV1) GTEST_SKIP() << "no cgroup2 mount";
  ExpectDevicesRestricted(true);
}

TEST_F(CgroupTest, DevicesUnrestrictedWhenNotAsked) {
  driver_->set_force_bpf_devices(true);
  CgroupLimits limits;
  limits.restrict_devices = false;
  std::unique_ptr<Cgroup> cg = MustCreate("alldevices", limits);
  ASSERT_NE(cg, nullptr);
  pid_t pid = ForkInto(*cg, [] {
    UniqueFd fd(::open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
    return fd.valid() ? 0 : 1;
  });
  ASSERT_GT(pid, 0);
  int status = Wait(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// A prepared sandbox's cgroup is made with the devices restricted; Limit()
// at hand-over lifts that for a spec that does not want it, and puts it
// back for one that does. Both device mechanisms where this host has them.
TEST_F(CgroupTest, LimitLiftsOrRestoresTheDeviceRestriction) {
  std::vector<bool> mechanisms;  // force_bpf
  if (driver_->layout() != CgroupLayout::kV2) mechanisms.push_back(false);
  if (driver_->layout() != CgroupLayout::kV1) mechanisms.push_back(true);
  auto kmsg_opens = [&](const Cgroup& cg) {
    pid_t pid = ForkInto(cg, [] {
      UniqueFd fd(::open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
      return fd.valid() ? 0 : (errno == EPERM ? 1 : 2);
    });
    int status = Wait(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  for (bool bpf : mechanisms) {
    SCOPED_TRACE(bpf ? "BPF program" : "v1 devices controller");
    driver_->set_force_bpf_devices(bpf);
    std::unique_ptr<Cgroup> cg = MustCreate(bpf ? "liftbpf" : "liftv1", CgroupLimits{});
    ASSERT_NE(cg, nullptr);
    EXPECT_EQ(kmsg_opens(*cg), 1) << "restricted as made";
    CgroupLimits open;
    open.restrict_devices = false;
    ASSERT_TRUE(driver_->Limit(*cg, open).ok());
    EXPECT_EQ(kmsg_opens(*cg), 0) << "lifted";
    ASSERT_TRUE(driver_->Limit(*cg, CgroupLimits{}).ok());
    EXPECT_EQ(kmsg_opens(*cg), 1) << "restricted again";
    EXPECT_TRUE(cg->Destroy().ok());
  }
}

// --- Stats, kill, destroy ------------------------------------------------------

TEST_F(CgroupTest, StatsCountCpuUsage) {
  std::unique_ptr<Cgroup> cg = MustCreate("busy", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  pid_t pid = ForkInto(*cg, [] {
    timespec ts{};
    do ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    while (ts.tv_sec == 0 && ts.tv_nsec < 150'000'000);
    return 0;
  });
  ASSERT_GT(pid, 0);
  int status = Wait(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  Result<CgroupStats> stats = cg->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GE(stats->cpu_usage_ns, 100'000'000);
  EXPECT_EQ(stats->oom_kills, 0);
}

TEST_F(CgroupTest, KillAllKillsChildAndGrandchild) {
  std::unique_ptr<Cgroup> cg = MustCreate("kill", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  Pipe ready;
  pid_t pid = ForkInto(*cg, [&] {
    if (::fork() == 0) SleepForever();
    char c = 'r';
    if (::write(ready.write_end.get(), &c, 1) != 1) return 1;
    return SleepForever();
  });
  ASSERT_GT(pid, 0);
  ready.write_end.reset();
  char c;
  ASSERT_EQ(::read(ready.read_end.get(), &c, 1), 1);
  std::string procs = Read(driver_->PathsFor("kill")[0] + "/cgroup.procs");
  EXPECT_EQ(std::count(procs.begin(), procs.end(), '\n'), 1) << procs;  // two pids

  Status st = cg->KillAll();
  EXPECT_TRUE(st.ok()) << st.ToString();
  int status = Wait(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  for (const std::string& dir : driver_->PathsFor("kill")) EXPECT_EQ(Read(dir + "/cgroup.procs"), "") << dir;
}

TEST_F(CgroupTest, DestroyRemovesEverythingAndIsIdempotent) {
  std::unique_ptr<Cgroup> cg = MustCreate("gone", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  EXPECT_EQ(driver_->List(), std::vector<std::string>{"gone"});
  pid_t pid = ForkSleeper(*cg);
  ASSERT_GT(pid, 0);

  Status st = cg->Destroy();
  EXPECT_TRUE(st.ok()) << st.ToString();
  int status = Wait(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ExpectNothingLeft("gone");
  EXPECT_TRUE(cg->Destroy().ok());
}

TEST_F(CgroupTest, RemoveByName) {
  std::unique_ptr<Cgroup> cg = MustCreate("stale", CgroupLimits{});
  ASSERT_NE(cg, nullptr);
  pid_t pid = ForkSleeper(*cg);
  ASSERT_GT(pid, 0);
  Status st = driver_->Remove("stale");
  EXPECT_TRUE(st.ok()) << st.ToString();
  int status = Wait(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ExpectNothingLeft("stale");
  EXPECT_TRUE(driver_->Remove("stale").ok());  // missing is fine
  EXPECT_TRUE(cg->Destroy().ok());
}

// The v2 code paths (cpu.stat, cgroup.kill, BPF devices, no v1 dirs) on
// whatever cgroup2 mount this machine has, by hiding the v1 hierarchies.
TEST_F(CgroupTest, V2CodePathsOnUnifiedMount) {
  std::string v2_only;
  std::istringstream lines(Read("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" - cgroup2 ") != std::string::npos) v2_only += line + "\n";
  }
  if (v2_only.empty()) GTEST_SKIP() << "no cgroup2 mount";
  Result<CgroupDriver> v2 = CgroupDriver::FromMountinfo(v2_only, parent_);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  ASSERT_EQ(v2->layout(), CgroupLayout::kV2);
  ASSERT_EQ(v2->PathsFor("v2").size(), 1u);

  Result<std::unique_ptr<Cgroup>> cg = v2->Create("v2", CgroupLimits{});  // devices restricted
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  ASSERT_EQ((*cg)->procs_fds().size(), 1u);
  pid_t busy = ForkInto(**cg, [] {
    timespec ts{};
    do ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    while (ts.tv_sec == 0 && ts.tv_nsec < 50'000'000);
    UniqueFd kmsg(::open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
    return !kmsg.valid() && errno == EPERM ? 0 : 1;
  });
  ASSERT_GT(busy, 0);
  int status = Wait(busy);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "kmsg not denied: " << status;
  Result<CgroupStats> stats = (*cg)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GE(stats->cpu_usage_ns, 30'000'000);

  pid_t sleeper = ForkSleeper(**cg);
  ASSERT_GT(sleeper, 0);
  Status st = (*cg)->KillAll();
  EXPECT_TRUE(st.ok()) << st.ToString();
  status = Wait(sleeper);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE((*cg)->Destroy().ok());
  EXPECT_FALSE(PathExists(v2->PathsFor("v2")[0]));
}

// --- Failures leave nothing behind ---------------------------------------------

TEST_F(CgroupTest, CreateRejectsBadNames) {
  for (const char* name : {"", "a/b", "..", ".", "../../escape", "x\n"}) {
    Result<std::unique_ptr<Cgroup>> cg = driver_->Create(name, CgroupLimits{});
    EXPECT_EQ(cg.status().code(), Code::kInvalidArgument) << name;
  }
  EXPECT_FALSE(PathExists(driver_->PathsFor("a")[0]));
  ExpectNothingLeft("a");
}

TEST_F(CgroupTest, CreateRejectsBadLimits) {
  CgroupLimits negative;
  negative.memory_bytes = -1;
  EXPECT_EQ(driver_->Create("bad", negative).status().code(), Code::kInvalidArgument);
  CgroupLimits swap_below_memory;
  swap_below_memory.memory_bytes = 64 * kMiB;
  swap_below_memory.memory_swap_bytes = 32 * kMiB;
  EXPECT_EQ(driver_->Create("bad", swap_below_memory).status().code(), Code::kInvalidArgument);
  ExpectNothingLeft("bad");
}

TEST_F(CgroupTest, KernelRejectedValueCleansUp) {
  CgroupLimits limits;
  limits.memory_bytes = 64 * kMiB;  // written before the bad value
  limits.cpu_millis = 1000;
  limits.pids_max = int64_t{1} << 40;
  Result<std::unique_ptr<Cgroup>> cg = driver_->Create("absurd", limits);
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.status().code(), Code::kInvalidArgument) << cg.status().ToString();
  std::string dir =
      driver_->layout() == CgroupLayout::kV2 ? driver_->PathsFor("absurd")[0] : Dir("pids", "absurd");
  EXPECT_NE(cg.status().message().find("write " + dir + "/pids.max = 1099511627776: Invalid argument"),
            std::string::npos)
      << cg.status().ToString();
  ExpectNothingLeft("absurd");
}

TEST_F(CgroupTest, CreateExistingNameKeepsTheOriginal) {
  std::unique_ptr<Cgroup> first = MustCreate("dup", CgroupLimits{});
  ASSERT_NE(first, nullptr);
  pid_t pid = ForkSleeper(*first);
  ASSERT_GT(pid, 0);

  Result<std::unique_ptr<Cgroup>> second = driver_->Create("dup", CgroupLimits{});
  EXPECT_EQ(second.status().code(), Code::kAlreadyExists) << second.status().ToString();
  // The failed Create's cleanup must neither remove nor kill the original.
  for (const std::string& path : driver_->PathsFor("dup")) EXPECT_TRUE(PathExists(path)) << path;
  ::usleep(100'000);  // a SIGKILLed sleeper would be gone by now
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the original's process died: " << status;

  EXPECT_TRUE(first->Destroy().ok());
  status = Wait(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ExpectNothingLeft("dup");
}

}  // namespace
}  // namespace slipway

// Drops capabilities in fork()ed children (the test runs as root) and checks
// the result in /proc/self/status and by what the kernel then refuses.

#include "engine/runtime/capabilities.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/child_process.h"

namespace slipway {
namespace {

using testing::ChildResult;
using testing::Describe;
using testing::RunInChild;

constexpr CapabilityMask kDockerDefaultMask = 0x00000000a80425fb;
constexpr uid_t kUser = 1000;

std::string Hex(CapabilityMask m) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(m));
  return buf;
}

// The "CapXxx:" line of /proc/self/status; all ones if missing, which no
// test expects.
CapabilityMask StatusCaps(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size()), nullptr, 16);
  }
  return ~CapabilityMask{0};
}

// Collects failed expectations inside a child, where gtest cannot report.
class Checks {
 public:
  void Zero(const std::string& what, int rc) {
    if (rc != 0) Add(what + ": " + std::strerror(rc < 0 ? -rc : errno));
  }
  void Fails(const std::string& what, long rc, int want_errno) {
    int err = errno;
    if (rc == -1 && err == want_errno) return;
    Add(what + ": want " + std::strerror(want_errno) + ", got rc " + std::to_string(rc) +
        (rc == -1 ? std::string(" ") + std::strerror(err) : ""));
  }
  void Caps(const std::string& field, CapabilityMask want) {
    CapabilityMask got = StatusCaps(field);
    if (got != want) Add(field + " = " + Hex(got) + ", want " + Hex(want));
  }
  void Add(const std::string& failure) { report_ += failure + "\n"; }
  const std::string& report() const { return report_; }

 private:
  std::string report_;
};

int Capset(CapabilityMask effective, CapabilityMask permitted, CapabilityMask inheritable) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  return static_cast<int>(syscall(SYS_capset, &header, data));
}

// Puts CAP_CHOWN in the ambient set, which only PR_CAP_AMBIENT_CLEAR_ALL (or
// losing the capability) removes, so SetCapabilities has to clear it.
std::string RaiseAmbientChown() {
  CapabilityMask permitted = StatusCaps("CapPrm");
  if (Capset(permitted, permitted, permitted) != 0) return std::string("capset: ") + strerror(errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0) != 0) {
    return std::string("PR_CAP_AMBIENT_RAISE: ") + strerror(errno);
  }
  if (StatusCaps("CapAmb") == 0) return "CapAmb still empty after PR_CAP_AMBIENT_RAISE";
  return "";
}

// A root-owned temp file, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const char* dir) {
    std::string tmpl = std::string(dir) + "/slipway-caps-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) return;
    close(fd);
    path_ = tmpl;
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CapabilitiesTest, DefaultsAreDockers) {
  EXPECT_EQ(DefaultCapabilities(), kDockerDefaultMask);
  EXPECT_EQ(CapabilityNames(DefaultCapabilities()),
            "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_SETPCAP,"
            "CAP_NET_BIND_SERVICE,CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP");
}

TEST(CapabilitiesTest, ParsesEverySpelling) {
  for (const char* name : {"CAP_NET_ADMIN", "NET_ADMIN", "net_admin", "cap_net_admin", "Cap_Net_Admin"}) {
    auto mask = ParseCapability(name);
    ASSERT_TRUE(mask.ok()) << name << ": " << mask.status().ToString();
    EXPECT_EQ(*mask, CapabilityMask{1} << CAP_NET_ADMIN) << name;
  }
  auto last = ParseCapability("checkpoint_restore");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, CapabilityMask{1} << 40);
}

TEST(CapabilitiesTest, NamesRoundTrip) {
  for (int bit = 0; bit <= 40; ++bit) {
    const CapabilityMask mask = CapabilityMask{1} << bit;
    std::string name = CapabilityNames(mask);
    ASSERT_EQ(name.find(','), std::string::npos) << name;
    auto parsed = ParseCapability(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, mask) << name;
  }
  EXPECT_EQ(CapabilityNames(0), "");
  EXPECT_EQ(CapabilityNames(CapabilityMask{1} << 63), "CAP_63");
}

TEST(CapabilitiesTest, RejectsUnknownNames) {
  for (const char* name : {"CAP_FOO", "", "CAP_", "NET ADMIN", "CAP_NET_ADMIN,CAP_KILL", "40"}) {
    auto mask = ParseCapability(name);
    ASSERT_FALSE(mask.ok()) << name;
    EXPECT_EQ(mask.status().code(), Code::kInvalidArgument) << name;
    EXPECT_NE(mask.status().message().find(std::string("\"") + name + "\""), std::string::npos)
        << mask.status().message();
  }
}

TEST(CapabilitiesTest, AllIsEveryCapabilityOfTheKernel) {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = -1;
  in >> last;
  ASSERT_GE(last, 0);
  auto all = ParseCapability("ALL");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, last >= 63 ? ~CapabilityMask{0} : (CapabilityMask{1} << (last + 1)) - 1);
  auto cap_all = ParseCapability("cap_all");
  ASSERT_TRUE(cap_all.ok());
  EXPECT_EQ(*cap_all, *all);
}

TEST(CapabilitiesTest, RootKeepsExactlyTheDefaults) {
  TempFile file("/tmp");
  ASSERT_FALSE(file.path().empty());
  char dir_tmpl[] = "/tmp/slipway-caps-mnt-XXXXXX";
  ASSERT_NE(mkdtemp(dir_tmpl), nullptr);
  const std::string dir = dir_tmpl;
  ChildResult r = RunInChild([&] {
    // A private mount namespace, so the mount below cannot leak even if
    // CAP_SYS_ADMIN were wrongly kept.
    if (unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + strerror(errno);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("make / private: ") + strerror(errno);
    }
    if (std::string err = RaiseAmbientChown(); !err.empty()) return err;
    Checks c;
    c.Zero("DropBoundingSet", DropBoundingSet(DefaultCapabilities()));
    c.Zero("SetCapabilities", SetCapabilities(DefaultCapabilities(), /*root_user=*/true));
    c.Caps("CapBnd", kDockerDefaultMask);
    c.Caps("CapEff", kDockerDefaultMask);
    c.Caps("CapPrm", kDockerDefaultMask);
    c.Caps("CapInh", 0);  // empty, as Docker since CVE-2022-24769
    c.Caps("CapAmb", 0);
    c.Fails("mount tmpfs without CAP_SYS_ADMIN", mount("slipway", dir.c_str(), "tmpfs", 0, nullptr), EPERM);
    c.Zero("chown with CAP_CHOWN", chown(file.path().c_str(), kUser, kUser));
    return c.report();
  });
  rmdir(dir.c_str());
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(CapabilitiesTest, NonRootKeepsOnlyTheBoundingSet) {
  TempFile file("/tmp");
  ASSERT_FALSE(file.path().empty());
  ChildResult r = RunInChild([&] {
    if (std::string err = RaiseAmbientChown(); !err.empty()) return err;
    Checks c;
    c.Zero("DropBoundingSet", DropBoundingSet(DefaultCapabilities()));
    // runc's order; KEEPCAPS keeps the permitted set through the uid change.
    c.Zero("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    c.Zero("setgroups", setgroups(0, nullptr));
    c.Zero("setresgid", setresgid(kUser, kUser, kUser));
    c.Zero("setresuid", setresuid(kUser, kUser, kUser));
    c.Zero("PR_SET_KEEPCAPS 0", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
    if (StatusCaps("CapPrm") == 0) c.Add("precondition: KEEPCAPS should have kept CapPrm");
    c.Zero("SetCapabilities", SetCapabilities(DefaultCapabilities(), /*root_user=*/false));
    c.Caps("CapBnd", kDockerDefaultMask);
    c.Caps("CapEff", 0);
    c.Caps("CapPrm", 0);
    c.Caps("CapInh", 0);
    c.Caps("CapAmb", 0);
    c.Fails("chown of a root-owned file", chown(file.path().c_str(), kUser, kUser), EPERM);
    const CapabilityMask chown_bit = CapabilityMask{1} << CAP_CHOWN;
    c.Fails("capset raising CAP_CHOWN", Capset(chown_bit, chown_bit, 0), EPERM);
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(CapabilitiesTest, DropBoundingSetKeepsWhatItIsTold) {
  ChildResult r = RunInChild([] {
    Checks c;
    const CapabilityMask before = StatusCaps("CapBnd");
    // Bits past the kernel's last capability are ignored, not an error.
    c.Zero("DropBoundingSet(everything)", DropBoundingSet(~CapabilityMask{0}));
    c.Caps("CapBnd", before);
    const CapabilityMask keep = before & ((CapabilityMask{1} << CAP_KILL) | (CapabilityMask{1} << 40));
    c.Zero("DropBoundingSet(KILL, CHECKPOINT_RESTORE)", DropBoundingSet(keep));
    c.Caps("CapBnd", keep);
    c.Zero("DropBoundingSet(nothing)", DropBoundingSet(0));
    c.Caps("CapBnd", 0);
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

TEST(CapabilitiesTest, SetCapabilitiesIgnoresBitsPastTheKernelsLast) {
  ChildResult r = RunInChild([] {
    Checks c;
    const CapabilityMask keep = DefaultCapabilities() | (CapabilityMask{1} << 63);
    c.Zero("SetCapabilities", SetCapabilities(keep, /*root_user=*/true));
    c.Caps("CapEff", DefaultCapabilities());
    return c.report();
  });
  EXPECT_TRUE(r.ExitedZero()) << Describe(r);
}

}  // namespace
}  // namespace slipway

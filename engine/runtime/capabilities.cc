#include "engine/runtime/capabilities.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iterator>

#include "engine/base/ascii.h"

namespace slipway {
namespace {

struct CapabilityName {
  int bit;
  std::string_view name;  // without the CAP_ prefix
};

// Indexed by capability number; the CAP_* constants make the order checked.
constexpr CapabilityName kCapabilities[] = {
    {CAP_CHOWN, "CHOWN"},
    {CAP_DAC_OVERRIDE, "DAC_OVERRIDE"},
    {CAP_DAC_READ_SEARCH, "DAC_READ_SEARCH"},
    {CAP_FOWNER, "FOWNER"},
    {CAP_FSETID, "FSETID"},
    {CAP_KILL, "KILL"},
    {CAP_SETGID, "SETGID"},
    {CAP_SETUID, "SETUID"},
    {CAP_SETPCAP, "SETPCAP"},
    {CAP_LINUX_IMMUTABLE, "LINUX_IMMUTABLE"},
    {CAP_NET_BIND_SERVICE, "NET_BIND_SERVICE"},
    {CAP_NET_BROADCAST, "NET_BROADCAST"},
    {CAP_NET_ADMIN, "NET_ADMIN"},
    {CAP_NET_RAW, "NET_RAW"},
    {CAP_IPC_LOCK, "IPC_LOCK"},
    {CAP_IPC_OWNER, "IPC_OWNER"},
    {CAP_SYS_MODULE, "SYS_MODULE"},
    {CAP_SYS_RAWIO, "SYS_RAWIO"},
    {CAP_SYS_CHROOT, "SYS_CHROOT"},
    {CAP_SYS_PTRACE, "SYS_PTRACE"},
    {CAP_SYS_PACCT, "SYS_PACCT"},
    {CAP_SYS_ADMIN, "SYS_ADMIN"},
    {CAP_SYS_BOOT, "SYS_BOOT"},
    {CAP_SYS_NICE, "SYS_NICE"},
    {CAP_SYS_RESOURCE, "SYS_RESOURCE"},
    {CAP_SYS_TIME, "SYS_TIME"},
    {CAP_SYS_TTY_CONFIG, "SYS_TTY_CONFIG"},
    {CAP_MKNOD, "MKNOD"},
    {CAP_LEASE, "LEASE"},
    {CAP_AUDIT_WRITE, "AUDIT_WRITE"},
    {CAP_AUDIT_CONTROL, "AUDIT_CONTROL"},
    {CAP_SETFCAP, "SETFCAP"},
    {CAP_MAC_OVERRIDE, "MAC_OVERRIDE"},
    {CAP_MAC_ADMIN, "MAC_ADMIN"},
    {CAP_SYSLOG, "SYSLOG"},
    {CAP_WAKE_ALARM, "WAKE_ALARM"},
    {CAP_BLOCK_SUSPEND, "BLOCK_SUSPEND"},
    {CAP_AUDIT_READ, "AUDIT_READ"},
    {CAP_PERFMON, "PERFMON"},
    {CAP_BPF, "BPF"},
    {CAP_CHECKPOINT_RESTORE, "CHECKPOINT_RESTORE"},
};

constexpr bool IndexedByBit() {
  for (size_t i = 0; i < std::size(kCapabilities); ++i) {
    if (kCapabilities[i].bit != static_cast<int>(i)) return false;
  }
  return true;
}
static_assert(IndexedByBit());

constexpr int kMaxBit = 63;  // CapabilityMask has 64 bits
constexpr int kLastKnownCap = static_cast<int>(std::size(kCapabilities)) - 1;

constexpr CapabilityMask Bit(int cap) {
  return CapabilityMask{1} << cap;
}

constexpr CapabilityMask kDefaultCapabilities =
    Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) | Bit(CAP_FSETID) | Bit(CAP_FOWNER) | Bit(CAP_MKNOD) |
    Bit(CAP_NET_RAW) | Bit(CAP_SETGID) | Bit(CAP_SETUID) | Bit(CAP_SETFCAP) | Bit(CAP_SETPCAP) |
    Bit(CAP_NET_BIND_SERVICE) | Bit(CAP_SYS_CHROOT) | Bit(CAP_KILL) | Bit(CAP_AUDIT_WRITE);
// The CapBnd Docker containers show.
static_assert(kDefaultCapabilities == 0xa80425fb);

// The kernel's highest capability number. Probed with PR_CAPBSET_READ
// (EINVAL past the last one) rather than read from
// /proc/sys/kernel/cap_last_cap: no allocation and no dependency on /proc.
int LastCap() {
  if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) < 0) return kLastKnownCap;  // e.g. prctl filtered
  int cap = 0;
  while (cap < kMaxBit && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) ++cap;
  return cap;
}

CapabilityMask AllCapabilities() {
  int last = LastCap();
  return last >= kMaxBit ? ~CapabilityMask{0} : Bit(last + 1) - 1;
}

}  // namespace

CapabilityMask DefaultCapabilities() {
  return kDefaultCapabilities;
}

Result<CapabilityMask> ParseCapability(std::string_view name) {
  std::string upper = Upper(name);
  std::string_view bare = upper;
  if (bare.substr(0, 4) == "CAP_") bare.remove_prefix(4);
  if (bare == "ALL") return AllCapabilities();
  for (const CapabilityName& cap : kCapabilities) {
    if (cap.name == bare) return Bit(cap.bit);
  }
  return InvalidArgument("unknown capability \"" + std::string(name) + "\"");
}

std::string CapabilityNames(CapabilityMask mask) {
  std::string out;
  for (int bit = 0; bit <= kMaxBit; ++bit) {
    if ((mask & Bit(bit)) == 0) continue;
    if (!out.empty()) out += ',';
    out += "CAP_";
    // A bit newer than this table is named by its number.
    out += bit <= kLastKnownCap ? std::string(kCapabilities[bit].name) : std::to_string(bit);
  }
  return out;
}

int DropBoundingSet(CapabilityMask keep) {
  for (int cap = 0; cap <= kMaxBit; ++cap) {
    if ((keep & Bit(cap)) != 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
    // EINVAL: past the kernel's last capability, so nothing left to drop.
    if (errno == EINVAL && cap > 0) return 0;
    return -errno;
  }
  return 0;
}

int SetCapabilities(CapabilityMask keep, bool root_user) {
  // Ambient capabilities would survive execve even for a non-root user.
  // EINVAL: a kernel older than 4.3, which has no ambient set.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  const CapabilityMask caps = root_user ? keep : 0;
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // the calling thread
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    const auto word = static_cast<uint32_t>(caps >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    // Inheritable stays empty, as in Docker since CVE-2022-24769: with it set,
    // a file's inheritable caps could be gained across exec by a non-root user.
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) return -errno;
  return 0;
}

}  // namespace slipway

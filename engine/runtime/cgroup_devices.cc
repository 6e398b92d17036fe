#include "engine/runtime/cgroup_devices.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace slipway {

namespace {

struct DeviceRule {
  char type;      // 'c' or 'b'
  int64_t major;  // -1: any
  int64_t minor;  // -1: any
  const char* access;
};

// Docker's default: mknod anything, open only these.
constexpr DeviceRule kAllowedDevices[] = {
    {'c', -1, -1, "m"},     // mknod any character device
    {'b', -1, -1, "m"},     // mknod any block device
    {'c', 1, 3, "rwm"},     // null
    {'c', 1, 5, "rwm"},     // zero
    {'c', 1, 7, "rwm"},     // full
    {'c', 1, 8, "rwm"},     // random
    {'c', 1, 9, "rwm"},     // urandom
    {'c', 5, 0, "rwm"},     // tty
    {'c', 5, 1, "rwm"},     // console
    {'c', 5, 2, "rwm"},     // ptmx
    {'c', 136, -1, "rwm"},  // pts
};

std::string V1Rule(const DeviceRule& r) {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + r.access;
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0xf;
  insn.src_reg = src & 0xf;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

bpf_insn LoadCtxWord(uint8_t dst, size_t offset) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, static_cast<int16_t>(offset), 0);
}
bpf_insn JumpIfNe(uint8_t reg, int32_t imm) {
  return Insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, 0, imm);
}
bpf_insn Return(int32_t value) {
  return Insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value);
}
bpf_insn Exit() {
  return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

uint32_t AccessBits(const char* access) {
  uint32_t bits = 0;
  for (const char* c = access; *c; ++c) {
    if (*c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    if (*c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (*c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
  }
  return bits;
}

// One rule, with R2 = type, R3 = requested access, R4 = major, R5 = minor:
// every check that fails jumps to the next rule; passing all returns 1.
void AppendRule(const DeviceRule& rule, std::vector<bpf_insn>& prog) {
  std::vector<bpf_insn> block;
  block.push_back(JumpIfNe(BPF_REG_2, rule.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
  uint32_t allowed = AccessBits(rule.access);
  if (allowed != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
    // Requested access must be a subset: (access & allowed) == access.
    block.push_back(Insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
    block.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, static_cast<int32_t>(allowed)));
    block.push_back(Insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
  }
  if (rule.major >= 0) block.push_back(JumpIfNe(BPF_REG_4, static_cast<int32_t>(rule.major)));
  if (rule.minor >= 0) block.push_back(JumpIfNe(BPF_REG_5, static_cast<int32_t>(rule.minor)));
  block.push_back(Return(1));
  block.push_back(Exit());
  for (size_t i = 0; i < block.size(); ++i) {
    if (BPF_CLASS(block[i].code) == BPF_JMP && BPF_OP(block[i].code) == BPF_JNE)
      block[i].off = static_cast<int16_t>(block.size() - i - 1);
  }
  prog.insert(prog.end(), block.begin(), block.end());
}

// The same rules as kAllowedDevices, in the shape runc and crun generate.
std::vector<bpf_insn> DeviceFilterProgram() {
  std::vector<bpf_insn> prog = {
      LoadCtxWord(BPF_REG_2, offsetof(bpf_cgroup_dev_ctx, access_type)),
      Insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),
      LoadCtxWord(BPF_REG_3, offsetof(bpf_cgroup_dev_ctx, access_type)),
      Insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),
      LoadCtxWord(BPF_REG_4, offsetof(bpf_cgroup_dev_ctx, major)),
      LoadCtxWord(BPF_REG_5, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  for (const DeviceRule& rule : kAllowedDevices) AppendRule(rule, prog);
  prog.push_back(Return(0));
  prog.push_back(Exit());
  return prog;
}

int Bpf(int cmd, bpf_attr& attr) {
  return static_cast<int>(::syscall(SYS_bpf, cmd, &attr, sizeof attr));
}

uint64_t Ptr(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

}  // namespace

std::vector<std::string> V1DeviceAllowLines() {
  std::vector<std::string> lines;
  for (const DeviceRule& rule : kAllowedDevices) lines.push_back(V1Rule(rule));
  return lines;
}

Result<UniqueFd> LoadDeviceProgram() {
  std::vector<bpf_insn> prog = DeviceFilterProgram();
  static const char kLicense[] = "Apache-2.0";
  std::string log(64 * 1024, '\0');
  // Load without a log first: a verbose log that overflows fails the load.
  for (uint32_t log_level : {0u, 1u}) {
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = Ptr(prog.data());
    attr.insn_cnt = static_cast<uint32_t>(prog.size());
    attr.license = Ptr(kLicense);
    if (log_level > 0) {
      attr.log_level = log_level;
      attr.log_buf = Ptr(log.data());
      attr.log_size = static_cast<uint32_t>(log.size());
    }
    int fd = Bpf(BPF_PROG_LOAD, attr);
    if (fd >= 0) return UniqueFd(fd);
    if (errno == EPERM || errno == ENOSYS) break;  // no verifier log to add
  }
  Status st = ErrnoStatus("load BPF device cgroup program");
  log.resize(std::strlen(log.c_str()));
  if (log.size() > 2000) log = "..." + log.substr(log.size() - 2000);
  return log.empty() ? st : Status(st.code(), st.message() + "; verifier: " + log);
}

Status AttachDeviceProgram(int cgroup_fd, int prog_fd, const std::string& dir) {
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  // Like runc: programs below ours may add restrictions, never lift them.
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, attr) != 0) return ErrnoStatus("attach BPF device program to " + dir);
  return Status::Ok();
}

Status DetachDeviceProgram(int cgroup_fd, int prog_fd, const std::string& dir) {
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (Bpf(BPF_PROG_DETACH, attr) != 0) return ErrnoStatus("detach BPF device program from " + dir);
  return Status::Ok();
}

}  // namespace slipway

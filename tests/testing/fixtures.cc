#include "tests/testing/fixtures.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace slipway::testing {

namespace fs = std::filesystem;

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int RunShell(const std::string& command, std::string* output) {
  std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  std::string out;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl);
  return tmpl;
}

static std::string BuildBusyboxRootfs() {
  std::string root = MakeTempDir("slipway-busybox");
  for (const char* d :
       {"bin", "etc", "proc", "sys", "dev", "root", "tmp", "home/tester", "usr/bin", "usr/sbin", "sbin"}) {
    fs::create_directories(root + "/" + d);
  }
  ::chmod((root + "/tmp").c_str(), 01777);
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  std::string list;
  if (RunShell("/bin/busybox --list", &list) != 0) throw std::runtime_error("busybox --list failed");
  std::istringstream in(list);
  std::string applet;
  while (std::getline(in, applet)) {
    if (applet.empty() || applet == "busybox") continue;
    fs::create_symlink("busybox", root + "/bin/" + applet);
  }
  std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                         "tester:x:1000:1000:tester:/home/tester:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
  std::ofstream(root + "/etc/group") << "root:x:0:\ntester:x:1000:\nwheel:x:10:tester\nnogroup:x:65534:\n";
  ::chown((root + "/home/tester").c_str(), 1000, 1000);
  return root;
}

const std::string& BusyboxRootfs() {
  static const std::string root = BuildBusyboxRootfs();
  return root;
}

std::vector<std::string> MountPoints() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    out.push_back(point);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> CgroupTree(const std::string& parent) {
  std::vector<std::string> out;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
    fs::path p = h.path() / parent;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(p, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec)) out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> ListTree(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> FilesContaining(const std::string& dir, const std::string& bytes) {
  std::vector<std::string> out;
  for (const std::string& path : ListTree(dir)) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error("read " + path);
    if (data.find(bytes) != std::string::npos) out.push_back(path);
  }
  return out;
}

std::vector<std::string> TreeFingerprint(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& path : ListTree(dir)) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    std::ostringstream line;
    line << path << " " << std::oct << st.st_mode << std::dec << " " << st.st_uid << " " << st.st_gid << " "
         << st.st_size << " " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
    out.push_back(line.str());
  }
  return out;
}

std::string BinaryUnderTest(int argc, char** argv, const std::string& runfiles_path) {
  std::string path;
  if (argc > 1) {
    path = argv[1];
  } else if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    const char* ws = std::getenv("TEST_WORKSPACE");
    path = std::string(srcdir) + "/" + (ws ? ws : "slipway") + "/" + runfiles_path;
  }
  char resolved[PATH_MAX];
  if (path.empty() || !::realpath(path.c_str(), resolved)) return "";
  return resolved;
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace slipway::testing

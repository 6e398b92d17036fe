#include "engine/runtime/network_files.h"

#include "engine/base/fs.h"

namespace slipway {

namespace {

// /etc/resolv.conf for a sandbox in a network namespace of its own (or of
// its peer's): the host's, minus loopback name servers, which cannot be
// reached from there.
std::string SandboxResolvConf() {
  auto host = ReadFile("/etc/resolv.conf");
  std::string out;
  if (!host.ok()) return out;
  size_t pos = 0;
  while (pos < host->size()) {
    size_t end = host->find('\n', pos);
    if (end == std::string::npos) end = host->size();
    std::string line = host->substr(pos, end - pos);
    pos = end + 1;
    bool loopback = line.starts_with("nameserver") &&
                    (line.find(" 127.") != std::string::npos || line.find(" ::1") != std::string::npos);
    if (!loopback) out += line + "\n";
  }
  return out;
}

// /etc/hosts for a sandbox in a network namespace of its own (or of its
// peer's), as Docker writes it: loopback names and the hostname.
std::string SandboxHosts(const std::string& hostname) {
  return "127.0.0.1\tlocalhost " + hostname +
         "\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
         "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
}

// The host's `path`, or "" if the host has none (as the host itself then
// resolves without one).
Result<std::string> HostFileOrEmpty(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok() && text.status().code() == Code::kNotFound) return std::string();
  return text;
}

}  // namespace

// /etc/hosts and /etc/resolv.conf for a sandbox on `mode`'s network. In the
// host's namespace the host's files describe that very network, loopback name
// servers included, so they are copied as they are (Docker does the same).
// The hostname is the sandbox's own (Docker's would be the host's), so one
// line maps it to loopback: programs that resolve their own name work.
Result<NetworkFiles> NetworkFilesFor(NetworkMode mode, const std::string& hostname) {
  if (mode != NetworkMode::kHost) return NetworkFiles{SandboxHosts(hostname), SandboxResolvConf()};
  NetworkFiles files;
  SLIPWAY_ASSIGN_OR_RETURN(files.hosts, HostFileOrEmpty("/etc/hosts"));
  if (!files.hosts.empty() && files.hosts.back() != '\n') files.hosts += '\n';
  files.hosts += "127.0.1.1\t" + hostname + "\n";
  SLIPWAY_ASSIGN_OR_RETURN(files.resolv, HostFileOrEmpty("/etc/resolv.conf"));
  return files;
}

}  // namespace slipway

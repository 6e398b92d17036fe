// Shared test fixtures: a busybox root filesystem built from Debian's
// busybox-static, scratch directories, and snapshots of machine state used to
// prove that a sandbox left nothing behind.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace slipway::testing {

// A root filesystem with /bin/busybox and a symlink per applet, /etc/passwd
// (root, tester 1000, nobody) and /etc/group. Built once per test process.
const std::string& BusyboxRootfs();

// A fresh empty directory under $TEST_TMPDIR (or /tmp), removed by the caller.
std::string MakeTempDir(const std::string& prefix);

// Every mount point in the host's mount namespace.
std::vector<std::string> MountPoints();
// Every directory below <hierarchy>/<parent> in every cgroup hierarchy.
std::vector<std::string> CgroupTree(const std::string& parent);
// The bytes of the file at `path`; "" if it cannot be read (a log not
// written yet).
std::string ReadFileOrEmpty(const std::string& path);
// Every path below `dir` (recursive), sorted.
std::vector<std::string> ListTree(const std::string& dir);
// Every regular file below `dir` (recursive, symlinks not followed) whose
// bytes contain `bytes`: where a secret must not be.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& bytes);
// "path mode uid gid size mtime" for every entry below `dir`: equal before and
// after means the tree was not modified.
std::vector<std::string> TreeFingerprint(const std::string& dir);

// The absolute path of a binary a test runs: argv[1] (a BUILD file passes
// `$(location ...)`), else `runfiles_path` below the test's runfiles. Empty
// if neither exists.
std::string BinaryUnderTest(int argc, char** argv, const std::string& runfiles_path);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick),
// for a server a test starts; throws if none can be found.
int FreeLoopbackPort();

// Polls `done` every 10 ms until it holds (true) or `timeout` passes (false).
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Runs `command` with /bin/sh, returns its exit status and fills `output` with
// stdout and stderr.
int RunShell(const std::string& command, std::string* output);

}  // namespace slipway::testing

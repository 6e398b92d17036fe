// Runs a piece of test code in a fork()ed child, for what must not touch
// the test process itself (installing a seccomp filter, dropping
// capabilities, changing uid). The child reports failures as text.
#pragma once

#include <sys/wait.h>

#include <functional>
#include <string>

namespace slipway::testing {

// A child's outcome: its wait status and the failures it reported.
struct ChildResult {
  int wait_status = -1;
  std::string report;
  bool ExitedZero() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }
  bool KilledBy(int sig) const { return WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == sig; }
};

// Runs `body` in a fork()ed child, which reports failures as text (empty
// means success) and exits 1 if there were any. Always reaps the child; an
// alarm kills a child that hangs.
ChildResult RunInChild(const std::function<std::string()>& body);

// "wait status N" and the report, for a failed expectation's message.
std::string Describe(const ChildResult& r);

}  // namespace slipway::testing

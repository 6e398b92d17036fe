#include "service/cli/interrupt.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace slipway::cli {

namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  return set;
}

}  // namespace

SandboxGuard::SandboxGuard(const DaemonClient& client) : killer_(client.Clone()) {
  sigset_t set = TerminationSignals();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  thread_ = std::thread([this] { Loop(); });
}

SandboxGuard::~SandboxGuard() {
  uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof one);
  thread_.join();
}

void SandboxGuard::Loop() {
  pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    signalfd_siginfo info;
    if (::read(signal_fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      Received(static_cast<int>(info.ssi_signo));
    }
  }
}

void SandboxGuard::Received(int sig) {
  std::function<void(DaemonClient&)> action;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (signal_ == 0) signal_ = sig;
    action = action_;
    if (!action && abortable_) abortable_->Abort();
  }
  // A second Ctrl-C kills again: harmless, and the impatient get an answer.
  if (action) action(*killer_);
}

int SandboxGuard::AbortOnSignal(DaemonClient* client) {
  std::lock_guard<std::mutex> lock(mu_);
  abortable_ = client;
  return signal_;
}

int SandboxGuard::Watch(const std::string& id) {
  return OnSignal([id](DaemonClient& own) { KillContainer(own, id); });
}

int SandboxGuard::OnSignal(std::function<void(DaemonClient& own)> action) {
  std::lock_guard<std::mutex> lock(mu_);
  if (signal_ == 0) action_ = std::move(action);
  return signal_;
}

int SandboxGuard::signal() {
  std::lock_guard<std::mutex> lock(mu_);
  return signal_;
}

int ReportSignal(int sig, const std::string& what) {
  std::fflush(stdout);
  std::fprintf(stderr, "slipway: received SIG%s; %s\n", ::sigabbrev_np(sig), what.c_str());
  return 128 + sig;
}

void KillContainer(DaemonClient& client, const std::string& id) {
  std::string path = "/containers/" + Escape(id);
  auto killed = client.Post(path + "/kill?signal=KILL");
  if (killed.ok() || killed.status().code() != Code::kFailedPrecondition) return;
  (void)client.Post(path + "/stop?timeout=0");
}

}  // namespace slipway::cli

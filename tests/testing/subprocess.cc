#include "tests/testing/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

extern char** environ;

namespace slipway::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "exit " << o.code << (o.hung ? " (hung, killed by the test)" : "") << " after "
            << o.took.count() << " ms\n--- stdout\n"
            << o.out << "\n--- stderr\n"
            << o.err;
}

Child Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto key = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::set<std::string> replaced;
  for (const auto& kv : env) replaced.insert(key(kv));
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!replaced.count(key(*e))) env_s.push_back(*e);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv_p, env_p;
  for (const auto& a : argv) argv_p.push_back(const_cast<char*>(a.c_str()));
  argv_p.push_back(nullptr);
  for (const auto& e : env_s) env_p.push_back(const_cast<char*>(e.c_str()));
  env_p.push_back(nullptr);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return {};
  }
  auto started = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execve(argv_p[0], argv_p.data(), env_p.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out[0]);
    ::close(err[0]);
    return {};
  }
  return {pid, out[0], err[0], started};
}

Outcome Finish(Child& child, seconds deadline) {
  Outcome o;
  if (child.pid < 0) return o;
  auto until = Clock::now() + deadline;
  pollfd fds[2] = {{child.out, POLLIN, 0}, {child.err, POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (left <= 0) {
      o.hung = true;
      ::kill(child.pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        sinks[i]->append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  o.took = std::chrono::duration_cast<milliseconds>(Clock::now() - child.started);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  child = Child{};
  return o;
}

Outcome Execute(const std::vector<std::string>& argv, const std::vector<std::string>& env, seconds deadline) {
  Child child = Spawn(argv, env);
  return Finish(child, deadline);
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace slipway::testing

// A server a test starts (git daemon, an HTTP server): its own process with
// output to a log file, which dies with the test process, and is stopped by
// its pid (never by name).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace slipway::testing {

class ServerProcess {
 public:
  // Starts `argv` (argv[0] a path) in `cwd` (if not empty) with the test's
  // environment plus `env` ("K=V"), stdin /dev/null, stdout and stderr
  // appended to `log_path`. Throws std::runtime_error if it cannot start.
  ServerProcess(const std::vector<std::string>& argv, std::string log_path,
                const std::vector<std::string>& env = {}, const std::string& cwd = "");
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Returns once 127.0.0.1:`port` accepts a connection; throws with the log
  // if the process exits first or 20 seconds pass.
  void WaitForPort(int port);
  // SIGTERM, then SIGKILL if it has not exited after 5 seconds; reaped.
  void Stop();
  pid_t pid() const { return pid_; }
  std::string Log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace slipway::testing

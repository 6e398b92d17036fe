// Runs a binary under test as a user would: its own stdout and stderr
// captured apart, stdin /dev/null, a deadline after which it is killed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace slipway::testing {

struct Outcome {
  int code = -1;  // exit status, or 128 + signal
  std::string out, err;
  bool hung = false;  // still running at the deadline, and killed by the test
  std::chrono::milliseconds took{0};
};
std::ostream& operator<<(std::ostream& os, const Outcome& o);

// A process started by Spawn(): its pid and the read ends of its stdout and
// stderr pipes.
struct Child {
  pid_t pid = -1;
  int out = -1, err = -1;
  std::chrono::steady_clock::time_point started;
};

// Starts `argv` (argv[0] a path) with the test's environment, where each of
// `env` ("K=V") replaces a variable of the same name; stdin is /dev/null and
// every signal has its default action.
Child Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// Reads the child's output until both pipes close, then reaps it. Past
// `deadline` the child is killed and the outcome marked as hung.
Outcome Finish(Child& child, std::chrono::seconds deadline = std::chrono::seconds(60));

// Spawn() then Finish().
Outcome Execute(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                std::chrono::seconds deadline = std::chrono::seconds(60));

bool Contains(const std::string& haystack, const std::string& needle);

}  // namespace slipway::testing

// A real slipwayd for end-to-end tests: DaemonUnderTest starts the binary
// with a private data directory (under $TEST_TMPDIR), state directory
// (/run/slipway-test-XXXXXX), cgroup parent (slipway-test-<pid>-<n>-<random>)
// and loopback port, and talks to it through its REST API (ApiClient) or the
// `slipway` CLI (Cli(), with SLIPWAY_HOST and SLIPWAY_TOKEN_FILE set).
//
// The binaries come from the test's command line, as the BUILD file passes
// them:
//   args = ["$(location //service/daemon:slipwayd)",
//           "$(location //engine/runtime:slipway-monitor)",
//           "$(location //service/cli:slipway)"]
// and the test links //tests/testing:daemon_test_main, whose main() calls
// InitDaemonBinaries(argc, argv) after InitGoogleTest.
//
// The destructor force-removes every container through the API, stops the
// daemon, kills whatever a test left running (monitors and sandbox processes,
// by recorded pid and start time, and by cgroup), and removes the cgroup
// parent in every hierarchy and both directories. Proving that the daemon
// itself left nothing behind is the tests' job: see Leftovers().
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"

namespace slipway::testing {

struct DaemonBinaries {
  std::string slipwayd, monitor, cli;  // absolute paths
};
// Reads argv[1..3] (see above). False, with a message on stderr, if one is
// missing.
bool InitDaemonBinaries(int argc, char** argv);
const DaemonBinaries& Binaries();

// One HTTP answer. status 0: no answer at all (connection refused, timeout).
struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string error;  // httplib's error when status is 0
  std::multimap<std::string, std::string> headers;  // names in lowercase

  // The first value of header `name` (any case), or "".
  std::string Header(const std::string& name) const;

  // The body as JSON; a discarded value if it is not JSON.
  nlohmann::json Json() const;
  // error.code of an API error body ({"error": {"code", "message"}}), or "".
  std::string ErrorCode() const;
};
std::ostream& operator<<(std::ostream& os, const HttpReply& r);
// Success if `r` is an API error: status `status`, a JSON object whose only
// key is "error", holding a string "code" equal to `code` and a non-empty
// string "message".
::testing::AssertionResult IsApiError(const HttpReply& r, int status, const std::string& code);

// Raw requests to slipwayd, with the control token (or another one).
class ApiClient {
 public:
  ApiClient(int port, std::string token) : port_(port), token_(std::move(token)) {}

  // The same client with another token; "" sends no Authorization header.
  ApiClient WithToken(std::string token) const { return ApiClient(port_, std::move(token)); }
  ApiClient WithoutToken() const { return WithToken(""); }

  HttpReply Get(const std::string& path) const;
  HttpReply Delete(const std::string& path) const;
  // A JSON body with Content-Type application/json; null: no body at all.
  HttpReply Post(const std::string& path, const nlohmann::json& body = nullptr) const;
  // Any request: `body` as given, Content-Type `content_type` unless empty,
  // and `headers` ("Name: value") besides Authorization.
  HttpReply Send(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& content_type, const std::vector<std::string>& headers = {}) const;
  // Exactly this request on a socket of its own: the request line, Host,
  // Authorization (unless no token), `headers`, Content-Length when `body` is
  // not empty, Connection: close. For what httplib would not send (a body
  // without Content-Type: httplib adds text/plain).
  HttpReply SendRaw(const std::string& method, const std::string& path, const std::string& body,
                    const std::vector<std::string>& headers = {}) const;

 private:
  int port_;
  std::string token_;
  std::vector<std::string> mounts_at_start_;
};

// Starts, stops and restarts one slipwayd. Not thread-safe, except Api(),
// which any thread may use.
class DaemonUnderTest {
 public:
  // `extra_args` are added to slipwayd's command line (--max-running 8...).
  explicit DaemonUnderTest(std::vector<std::string> extra_args = {});
  // Runs these binaries instead of the command line's (an installed
  // package's); an empty `monitor` passes no --monitor-binary, so that
  // slipwayd finds slipway-monitor itself.
  DaemonUnderTest(std::vector<std::string> extra_args, DaemonBinaries binaries);
  ~DaemonUnderTest();
  DaemonUnderTest(const DaemonUnderTest&) = delete;
  DaemonUnderTest& operator=(const DaemonUnderTest&) = delete;

  // Starts slipwayd and waits (10 s at most) until GET /healthz answers 200,
  // then reads the token. On failure, the message holds the daemon's output.
  ::testing::AssertionResult Start();
  // SIGKILL, as a crash would; reaps it.
  void Kill9();
  // SIGTERM, then waits for it to exit: its exit code (128 + N if a signal
  // ended it), or -1 if it still ran after `deadline` (it is then killed).
  int Terminate(std::chrono::seconds deadline = std::chrono::seconds(30));
  // Sends `sig` to slipwayd, and waits for it to exit: as Terminate().
  void Signal(int sig);
  int WaitForExit(std::chrono::seconds deadline = std::chrono::seconds(30));
  // Start() again, with the same directories, cgroup parent and port.
  ::testing::AssertionResult Restart();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Picks the loopback port Start() will listen on, for a test that must
  // reach slipwayd before Start() returns (a port another process takes
  // meanwhile makes Start() fail rather than move).
  int ChoosePort();
  // Before Start(): slipwayd's data directory is `dir` (an installed
  // package's /var/lib/slipway), which the destructor leaves in place.
  void set_data_dir(std::string dir) { data_dir_ = std::move(dir); }
  std::string Url() const;  // "http://127.0.0.1:PORT"
  int port() const { return port_; }
  const std::string& Token() const { return token_; }
  std::string TokenFile() const { return data_dir_ + "/control.token"; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  // Everything slipwayd wrote to stdout and stderr, all runs appended.
  std::string Log() const;

  // SLIPWAY_HOST and SLIPWAY_TOKEN_FILE, for running the CLI.
  std::vector<std::string> Env() const;
  ApiClient Api() const { return ApiClient(port_, token_); }

  // `slipway ARGS...` against this daemon, waited for (`env` adds to Env()).
  Outcome Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
              std::chrono::seconds deadline = std::chrono::seconds(60)) const;
  // The same, in the background: Finish() it.
  Child SpawnCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) const;

  // --- Shortcuts over the API; each adds a test failure when it fails. ---

  // Imports BusyboxRootfs() as image `name` (POST /api/v1/images/import);
  // returns its id ("sha256:...").
  std::string ImportBusybox(const std::string& name = "busybox");
  // POST /api/v1/containers; returns the id ("" on failure).
  std::string Create(const nlohmann::json& request);
  // Create() then POST .../start.
  std::string CreateAndStart(const nlohmann::json& request);
  // GET /api/v1/containers/ID (null on failure).
  nlohmann::json Inspect(const std::string& id) const;
  // POST /api/v1/containers/ID/wait: the container as it ended.
  nlohmann::json WaitFor(const std::string& id) const;
  // Polls Inspect() until `state` (or a final state other than it, which
  // fails). The container as last seen.
  nlohmann::json WaitForState(const std::string& id, const std::string& state,
                              std::chrono::milliseconds deadline = std::chrono::seconds(20)) const;
  // Polls GET /api/v1/runs/ID until its status is `status` (a failure after
  // `deadline`). The run as last seen.
  nlohmann::json WaitForRun(int64_t id, const std::string& status,
                            std::chrono::milliseconds deadline = std::chrono::seconds(60)) const;
  // GET /api/v1/containers?all=...: the "containers" array.
  std::vector<nlohmann::json> List(bool all = true) const;
  // DELETE /api/v1/containers/ID?force=true for every container.
  void RemoveAll();
  // The value of an unlabelled metric in GET /metrics; -1 if absent.
  double Metric(const std::string& name) const;

  // What sandboxes may leave on the machine, one line each (empty: none):
  // cgroups below the cgroup parent (in every hierarchy), entries of the
  // state directory's sandboxes/ and names/, and lines of
  // /proc/self/mountinfo naming the state or data directory that were not
  // there once the daemon first served. While the daemon runs, the
  // sandboxes its pool prepared (state.json says "pooled", their owner is
  // alive) and their cgroups are not leftovers; once it has stopped, they are.
  std::string Leftovers() const;
  // Ids of the prepared sandboxes of live pooled monitors (sandbox_pool_size).
  std::set<std::string> PooledSandboxes() const;
  // Leftovers() once it is empty, or as it still is after `deadline` (a
  // sandbox's cgroups may go a moment after the API answered).
  std::string LeftoversAfter(std::chrono::milliseconds deadline = std::chrono::seconds(5)) const;

 private:
  ::testing::AssertionResult Launch();
  bool Reap(std::chrono::milliseconds deadline, int* code);
  void KillWhatIsLeft();

  std::vector<std::string> extra_args_;
  std::optional<DaemonBinaries> binaries_;  // else Binaries()
  std::string dir_;                         // scratch: log, HOME, the busybox tar
  std::string data_dir_, state_dir_, cgroup_parent_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string token_;
  std::vector<std::string> mounts_at_start_;
};

// The start time of process `pid` (field 22 of /proc/PID/stat); 0 if it does
// not exist or is a zombie.
uint64_t ProcessStartTime(pid_t pid);
// Whether `pid` still runs and is the process that started at `start_time`.
bool ProcessAlive(pid_t pid, uint64_t start_time);

// Lines in `after` but not in `before`.
std::vector<std::string> Added(std::vector<std::string> before, std::vector<std::string> after);

// A started slipwayd (with `args` added), for a whole suite or a single
// test; nullptr, with a test failure saying why, if it did not start.
std::unique_ptr<DaemonUnderTest> StartDaemon(std::vector<std::string> args = {});
// StartDaemon() that also has BusyboxRootfs() as image `busybox`.
std::unique_ptr<DaemonUnderTest> StartDaemonWithBusybox(std::vector<std::string> args = {});

// Docker's multiplexed stream decoded: stdout and stderr apart. False if it
// is not made of whole frames of streams 1, 2 (and 3, skipped).
bool DecodeFrames(const std::string& data, std::string* out, std::string* err);

}  // namespace slipway::testing

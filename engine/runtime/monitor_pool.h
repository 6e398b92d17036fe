// MonitorPool: slipway-monitors started ahead, each with a prepared sandbox
// (Runtime::Prepare: state directory, cgroups made and joined, namespaces
// made, an init waiting for its spec), so that a start only hands a spec
// over instead of spawning a monitor, creating cgroups and cloning.
//
//   slipwayd (MonitorClient)                     slipway-monitor --pool-fd
//   refill thread: spawn --socketpair------------> Settle; Runtime::Prepare
//                  <---------------- "pooled <id>\n" (or "error ...")
//   Take(); Start(): "run <n>\n" + spec -------> Runtime::Start(spec, prepared)
//                  <---------------- ready line, as an unpooled monitor's
//   Take(); Stage(): "stage <n>\n" + spec -----> Runtime::Stage(spec, prepared)
//                  <---------------- "staged <id> <pid>\n"
//           Release(): "go\n" -----------------> Sandbox::Release
//                  <---------------- ready line
// (monitor.h, PoolOrder.)
//
// Each pooled monitor serves one spec: Take() removes it from the pool, and
// the refill thread starts another in the background. The pool never holds
// secrets: the spec goes straight from the caller to the monitor's socket.
//
// Life and clean-up: a pooled monitor leaves everything it has behind it as
// soon as its socket reaches EOF before a spec (Close(), or the death of the
// process holding the pool, even by SIGKILL), on SIGTERM, or when its
// waiting init dies. What a SIGKILLed pooled monitor leaves is a sandbox
// whose state.json says `pooled` and whose owner is dead:
// Runtime::CollectGarbage() removes it. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/base/fd.h"
#include "engine/base/status.h"
#include "engine/runtime/state.h"

namespace slipway {

// One idle pooled monitor.
struct PooledMonitor {
  std::string id;    // its prepared sandbox
  UniqueFd channel;  // our end of its socket
  ProcessRef monitor;
};

class MonitorPool {
 public:
  // Starts one pooled monitor and returns once it is prepared.
  using Launch = std::function<Result<PooledMonitor>()>;

  // `size` > 0 idle monitors are kept; a refill thread starts at once.
  MonitorPool(int size, Launch launch);
  ~MonitorPool();  // Close(0)
  MonitorPool(const MonitorPool&) = delete;
  MonitorPool& operator=(const MonitorPool&) = delete;

  // An idle monitor that is still alive, or nullopt if none is ready (never
  // waits: the caller starts a monitor the usual way then).
  std::optional<PooledMonitor> Take();

  // Blocks until `size` monitors are idle, or `timeout` passes (false).
  // For benchmarks and tests.
  bool AwaitFull(std::chrono::milliseconds timeout);

  // Stops refilling, closes every idle monitor's socket (each then removes
  // its sandbox and exits) and waits up to `wait` for them to be gone.
  // Idempotent.
  void Close(std::chrono::milliseconds wait);

  int idle() const;
  // Why the last refill failed (Ok if it did not): refills are retried
  // after a pause, so a failure costs only warm starts.
  Status last_error() const;

 private:
  void RefillLoop();

  const int size_;
  const Launch launch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PooledMonitor> idle_;
  Status last_error_;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_take_;
  std::thread refill_;
};

}  // namespace slipway

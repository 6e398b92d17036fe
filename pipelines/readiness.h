// Readiness checks of a run's services: whether a TCP port accepts
// connections on the run's localhost, and the loop that retries a check
// until it passes, its timeout passes or the run is cancelled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

#include "engine/base/status.h"

namespace slipway::pipelines {

// One TCP connect to 127.0.0.1:`port` inside the network namespace of
// process `pid` (a service's init): true if it was accepted, false if it was
// refused or did not answer within `connect_timeout`. The connect is made by
// a thread of its own that joins the namespace (setns(2) moves only the
// calling thread), so slipwayd's other threads stay in the host's.
Result<bool> TcpAcceptsIn(pid_t pid, int port, std::chrono::milliseconds connect_timeout);

// Calls `probe` until it returns true (Ok), returns an error (that error),
// `timeout` passes (kDeadlineExceeded) or `wait` returns false
// (kFailedPrecondition "cancelled").
// Between tries, `wait(d)` waits d (growing from 10 ms to 250 ms, so a
// service that is quick to start is seen quickly and a slow one is not
// polled hard); it returns false to give up (the run was cancelled).
Status RetryUntilReady(const std::function<Result<bool>()>& probe, std::chrono::milliseconds timeout,
                       const std::function<bool(std::chrono::milliseconds)>& wait);

}  // namespace slipway::pipelines

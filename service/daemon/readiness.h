// When slipwayd is ready: once its own API answers. systemd (Type=notify)
// starts the units ordered after slipway.service, and `systemctl start`
// returns, only on READY=1; sending it when the listener merely exists would
// let a first `slipway` call race the API's start-up.
#pragma once

#include <chrono>
#include <string>

#include "engine/base/status.h"
#include "service/daemon/sd_notify.h"

namespace slipway::daemon {

// Asks GET /healthz at `host`:`port` (the API's listen address; a wildcard
// 0.0.0.0 or :: is asked on loopback) until it answers 200, for at most
// `deadline`; then sends READY=1 (with MAINPID) through `notifier`. Nothing
// is asked when `notifier` is not enabled. kDeadlineExceeded, naming the
// last answer or error, if the API never answered: READY=1 is then not sent
// (systemd's TimeoutStartSec fails the start).
Status AnnounceReady(const SdNotifier& notifier, const std::string& host, int port,
                     std::chrono::milliseconds deadline = std::chrono::seconds(30));

}  // namespace slipway::daemon

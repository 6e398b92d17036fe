// For tests linked with :monitor_test_main: the absolute path of
// slipway-monitor, set before any test runs.
#pragma once

#include <string>

namespace slipway::testing {

extern std::string g_monitor;

}  // namespace slipway::testing

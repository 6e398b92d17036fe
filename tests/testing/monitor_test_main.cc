#include "tests/testing/monitor_test_main.h"

#include <gtest/gtest.h>

#include <iostream>

#include "tests/testing/fixtures.h"

namespace slipway::testing {

std::string g_monitor;

}  // namespace slipway::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  slipway::testing::g_monitor =
      slipway::testing::BinaryUnderTest(argc, argv, "engine/runtime/slipway-monitor");
  if (slipway::testing::g_monitor.empty()) {
    std::cerr << "slipway-monitor not found (give its path as the first argument)\n";
    return 1;
  }
  return RUN_ALL_TESTS();
}

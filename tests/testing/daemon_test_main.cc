// main() of the tests that run slipwayd: the binaries under test come as
// the first arguments (see daemon_fixture.h).
#include <gtest/gtest.h>

#include "tests/testing/daemon_fixture.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!slipway::testing::InitDaemonBinaries(argc, argv)) return 2;
  return RUN_ALL_TESTS();
}

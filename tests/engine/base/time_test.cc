#include "engine/base/time.h"

#include <gtest/gtest.h>

namespace slipway {
namespace {

TEST(TimeTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1795942693021), "2026-11-29T08:58:13.021Z");
}

TEST(TimeTest, FloorsBefore1970) {
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
}

TEST(TimeTest, NowIsAfterThisWasWritten) {
  EXPECT_GT(NowUnixMs(), 1795942693021);
}

}  // namespace
}  // namespace slipway

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
TEST(TimeTest, ParsesRfc3339) {
  EXPECT_EQ(ParseRfc3339("2026-11-29T08:58:13.021Z"), 1795942693021);
  EXPECT_EQ(ParseRfc3339("2026-11-29T08:58:13Z"), 1795942693000);
  EXPECT_EQ(ParseRfc3339("2026-11-29t08:58:13.0219999z"), 1795942693021);  // cut, not rounded
  EXPECT_EQ(ParseRfc3339("2026-11-29T10:58:13.021+02:00"), 1795942693021);
  EXPECT_EQ(ParseRfc3339("2026-11-29T07:28:13.021-01:30"), 1795942693021);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800000);
  // Round trip with the formatter.
  EXPECT_EQ(ParseRfc3339(FormatRfc3339Millis(1795942693021)), 1795942693021);
}

TEST(TimeTest, RefusesWhatIsNotRfc3339) {
  for (const char* bad :
       {"", "2026-11-29", "2026-11-29T08:58:13", "2026-11-29 08:58:13Z", "2026-11-29T08:58:13.Z",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T08:60:00Z", "2026-11-29T08:58:13Zjunk", " 2026-11-29T08:58:13Z", "2026-11-29T08:58:13+0200",
        "1795942693021", "+2026-11-29T08:58:13Z", "2026-1-29T08:58:13Z"}) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

}  // namespace slipway

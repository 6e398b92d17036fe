#include "engine/base/time.h"

#include <gtest/gtest.h>

#include "engine/base/time_json.h"

namespace slipway {
namespace {

TEST(TimeTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(1795942693021), "2026-11-29T08:58:13.021Z");
}

TEST(TimeTest, FloorsBefore1970) {
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
}

TEST(TimeTest, ParsesWhatItFormats) {
  for (int64_t ms : {int64_t{0}, int64_t{1795942693021}, int64_t{951782400000} /* 2000-02-29 */}) {
    auto back = ParseRfc3339Millis(FormatRfc3339Millis(ms));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, ms);
  }
  EXPECT_EQ(*ParseRfc3339Millis("2026-11-29T08:58:13Z"), 1795942693000);
  EXPECT_EQ(*ParseRfc3339Millis("2026-11-29T08:58:13.0219999Z"), 1795942693021);
}

TEST(TimeTest, ParseRefusesWhatIsNotAnRfc3339UtcTime) {
  for (const char* bad :
       {"", "2026-11-29", "2026-11-29T08:58:13", "2026-11-29T08:58:13.Z", "2026-11-29 08:58:13Z",
        "2026-11-29T08:58:13+01:00", "2026-13-29T08:58:13Z", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T08:58:13.021Zjunk", "+026-11-29T08:58:13Z", "2026-1-29T08:58:13Z"}) {
    auto r = ParseRfc3339Millis(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    }
  }
}

TEST(TimeTest, JsonTimesAreNullForZero) {
  EXPECT_TRUE(Rfc3339Millis(0).is_null());
  EXPECT_EQ(Rfc3339Millis(1795942693021), "2026-11-29T08:58:13.021Z");
  EXPECT_EQ(*Rfc3339MillisFromJson(nullptr), 0);
  EXPECT_EQ(*Rfc3339MillisFromJson("2026-11-29T08:58:13.021Z"), 1795942693021);
  EXPECT_FALSE(Rfc3339MillisFromJson(1795942693021).ok());
}

TEST(TimeTest, NowIsAfterThisWasWritten) {
  EXPECT_GT(NowUnixMs(), 1795942693021);
}

}  // namespace
}  // namespace slipway

#include "engine/base/units.h"

#include <gtest/gtest.h>

#include <csignal>

namespace slipway {
namespace {

TEST(UnitsTest, BytesInDockersSpelling) {
  EXPECT_EQ(*ParseBytes("64m"), 64 << 20);
  EXPECT_EQ(*ParseBytes("64M"), 64 << 20);
  EXPECT_EQ(*ParseBytes("1g"), int64_t{1} << 30);
  EXPECT_EQ(*ParseBytes("512k"), 512 << 10);
  EXPECT_EQ(*ParseBytes("100b"), 100);
  EXPECT_EQ(*ParseBytes("4096"), 4096);
  EXPECT_EQ(*ParseBytes("1.5g"), int64_t{3} << 29);
  for (const char* bad : {"", "m", "12q", "-5", "1e9", "0", "64 m", "99999999999999t"}) {
    auto r = ParseBytes(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(UnitsTest, DurationsLikeGo) {
  EXPECT_EQ(ParseDuration("30s")->count(), 30000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("2m")->count(), 120000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  for (const char* bad : {"", "5", "5parsecs", "-1s", "0s", "s"})
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
}

TEST(UnitsTest, CpusAsMillis) {
  EXPECT_EQ(*ParseCpus("0.5"), 500);
  EXPECT_EQ(*ParseCpus("2"), 2000);
  for (const char* bad : {"", "abc", "0", "-1", "0.001", "1.5x"}) EXPECT_FALSE(ParseCpus(bad).ok()) << bad;
}

TEST(UnitsTest, SignalsAsDockerNamesThem) {
  EXPECT_EQ(*ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGQUIT"), SIGQUIT);
  EXPECT_EQ(*ParseSignal("sigkill"), SIGKILL);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_EQ(*ParseSignal("RTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(*ParseSignal("SIGRTMAX-1"), SIGRTMAX - 1);
  for (const char* bad : {"", "0", "65", "-1", "SIGFOO", "RTMIN+99", "TERM "})
    EXPECT_FALSE(ParseSignal(bad).ok()) << bad;
}

TEST(UnitsTest, IntsWholeOnly) {
  EXPECT_EQ(*ParseInt("42"), 42);
  EXPECT_EQ(*ParseInt("-7"), -7);
  for (const char* bad : {"", "4x", " 4", "4.0"}) EXPECT_FALSE(ParseInt(bad).has_value()) << bad;
}

}  // namespace
}  // namespace slipway

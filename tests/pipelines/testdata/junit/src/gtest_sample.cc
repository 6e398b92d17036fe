// The GoogleTest sample's source (../gtest.xml): passing, failing, skipped
// and disabled tests, a failure whose message holds "]]>" and markup.
#include <gtest/gtest.h>

TEST(Arithmetic, Adds) { EXPECT_EQ(2 + 2, 4); }

TEST(Arithmetic, Subtracts) { EXPECT_EQ(5 - 3, 3) << "off by one"; }

TEST(Arithmetic, SkipsOnThisMachine) { GTEST_SKIP() << "needs a GPU"; }

TEST(Arithmetic, DISABLED_Divides) { EXPECT_EQ(4 / 2, 2); }

TEST(Markup, FailsWithCdataEnd) { EXPECT_EQ(std::string("a]]>b<c>&"), std::string("x")); }

class Param : public ::testing::TestWithParam<int> {};
TEST_P(Param, IsEven) { EXPECT_EQ(GetParam() % 2, 0); }
INSTANTIATE_TEST_SUITE_P(Numbers, Param, ::testing::Values(2, 3));

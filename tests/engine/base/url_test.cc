#include "engine/base/url.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway {
namespace {

TEST(UrlTest, EncodesAllButUnreserved) {
  EXPECT_EQ(PercentEncode("localhost:5000/app:1"), "localhost%3A5000%2Fapp%3A1");
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b+c&d=e?f#g%h"), "a%20b%2Bc%26d%3De%3Ff%23g%25h");
  EXPECT_EQ(PercentEncode("../x"), "..%2Fx");  // a segment can never become two
  EXPECT_EQ(PercentEncode(std::string("\0\n\x7f\xff", 4)), "%00%0A%7F%FF");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(UrlTest, DecodesWhatEncodeWrote) {
  std::string every;
  for (int c = 0; c < 256; ++c) every.push_back(static_cast<char>(c));
  for (bool plus : {false, true}) {
    auto back = PercentDecode(PercentEncode(every), plus);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, every);
  }
}

TEST(UrlTest, DecodesEitherHexCaseAndPlusOnlyWhenAsked) {
  EXPECT_EQ(PercentDecode("%2f%2F%41", false), "//A");
  EXPECT_EQ(PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(PercentDecode("a+b%2B", false), "a+b+");
  EXPECT_EQ(PercentDecode("", false), "");
}

TEST(UrlTest, RefusesTruncatedAndNonHexEscapes) {
  for (const char* bad : {"%", "%4", "a%", "ab%4", "%%", "%%41", "%G1", "%1G", "%-1", "%+1", "% 1", "%4 ",
                          "ok%zz", "%\xff\xff"}) {
    EXPECT_FALSE(PercentDecode(bad, false).has_value()) << bad;
    EXPECT_FALSE(PercentDecode(bad, true).has_value()) << bad;
  }
}

TEST(UrlTest, DecodesNulAndControlsAsTheBytesTheyAre) {
  // Not cut short at %00 as a C string would be: the caller sees the NUL and
  // refuses it where text is wanted (slipwayd's path and query checks).
  auto v = PercentDecode("id%00.json%0d%0a", false);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, std::string("id\0.json\r\n", 10));
  // A decoded '%' starts no second round of decoding.
  EXPECT_EQ(PercentDecode("%2541", false), "%41");
  EXPECT_EQ(PercentDecode("..%2F..%2Fetc", false), "../../etc");
}

}  // namespace
}  // namespace slipway

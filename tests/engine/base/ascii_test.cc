#include "engine/base/ascii.h"

#include <gtest/gtest.h>

#include <clocale>
#include <string>

namespace slipway {
namespace {

TEST(AsciiTest, MapsOnlyAsciiLetters) {
  EXPECT_EQ(Lower("Bearer REALM=X-Y_z09"), "bearer realm=x-y_z09");
  EXPECT_EQ(Upper("cap_net_Admin"), "CAP_NET_ADMIN");
  EXPECT_EQ(Lower(""), "");
  // The characters next to the letter ranges stay: '@' 'A'-1, '[' 'Z'+1,
  // '`' 'a'-1, '{' 'z'+1.
  EXPECT_EQ(Lower("@AZ[`az{"), "@az[`az{");
  EXPECT_EQ(Upper("@AZ[`az{"), "@AZ[`AZ{");
}

TEST(AsciiTest, LeavesOtherBytesAloneWhateverTheLocale) {
  // UTF-8 "ÄÖ" and Latin-1 bytes, NUL and DEL: a Dockerfile keyword or an
  // HTTP scheme must not match because a locale folded them.
  const std::string odd("\xC3\x84\xC3\x96\xC4\xD6\0\x7f", 8);
  std::setlocale(LC_ALL, "C.UTF-8");
  EXPECT_EQ(Lower(odd), odd);
  EXPECT_EQ(Upper(odd), odd);
  EXPECT_EQ(Lower("FROM\xC4"), "from\xC4");
  std::setlocale(LC_ALL, "C");
}

TEST(AsciiTest, ControlCharactersAreC0DelAndC1InUtf8) {
  EXPECT_FALSE(HasControlChar(""));
  EXPECT_FALSE(HasControlChar("plain name_1.2-x"));
  EXPECT_FALSE(HasControlChar("unicode \xc3\xa9 and \xc2\xa0 (no-break space)"));
  EXPECT_TRUE(HasControlChar(std::string("nul\0here", 8)));
  EXPECT_TRUE(HasControlChar("tab\there"));
  EXPECT_TRUE(HasControlChar("esc\x1b[31m"));
  EXPECT_TRUE(HasControlChar("del\x7f"));
  EXPECT_TRUE(HasControlChar("c1 \xc2\x80"));   // U+0080
  EXPECT_TRUE(HasControlChar("c1 \xc2\x9b"));   // U+009B, CSI
  EXPECT_FALSE(HasControlChar("lone lead \xc2"));  // ill-formed, but no control
}

TEST(AsciiTest, HexEncodeAndIsLowerHex) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x7f\x80\xff", 5)), "00017f80ff");
  EXPECT_TRUE(IsLowerHex("0123456789abcdef"));
  EXPECT_TRUE(IsLowerHex(HexEncode("any bytes \xfe")));
  EXPECT_FALSE(IsLowerHex(""));
  EXPECT_FALSE(IsLowerHex("ABCDEF"));
  EXPECT_FALSE(IsLowerHex("12g4"));
  EXPECT_FALSE(IsLowerHex("sha256:ab"));
}

}  // namespace
}  // namespace slipway

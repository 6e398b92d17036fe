#include "engine/build/expand.h"

#include <gtest/gtest.h>

#include <map>

namespace slipway {
namespace {

using Words = std::vector<std::string>;

class ExpandTest : public ::testing::Test {
 protected:
  VarLookup Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars_.find(std::string(name));
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }

  std::string Ok(std::string_view word, char escape = '\\') {
    Result<std::string> r = Expand(word, Lookup(), escape);
    EXPECT_TRUE(r.ok()) << word << ": " << r.status().message();
    return r.ok() ? *r : "<error>";
  }

  std::string Error(std::string_view word) {
    Result<std::string> r = Expand(word, Lookup());
    EXPECT_FALSE(r.ok()) << word << " -> " << (r.ok() ? *r : "");
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    return r.status().message();
  }

  Words Split(std::string_view text) {
    Result<Words> r = ExpandWords(text, Lookup());
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
    return r.ok() ? *r : Words{};
  }

  std::map<std::string, std::string> vars_ = {
      {"A", "alpha"},
      {"EMPTY", ""},
      {"SPACED", "x  y"},
      {"V", "v1.2.3"},
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
  };
};

TEST_F(ExpandTest, PlainVariables) {
  EXPECT_EQ(Ok("$A"), "alpha");
  EXPECT_EQ(Ok("${A}"), "alpha");
  EXPECT_EQ(Ok("pre-${A}-post"), "pre-alpha-post");
  EXPECT_EQ(Ok("${A}b"), "alphab");
  EXPECT_EQ(Ok("$Ab"), "");  // the name is "Ab"
  EXPECT_EQ(Ok("$A-b/$A.c"), "alpha-b/alpha.c");
  EXPECT_EQ(Ok("$UNSET"), "");
  EXPECT_EQ(Ok("x${UNSET}y"), "xy");
  EXPECT_EQ(Ok("$EMPTY"), "");
  EXPECT_EQ(Ok("${SPACED}"), "x  y");  // no splitting in Expand
  EXPECT_EQ(Ok("/opt/app:$PATH"), "/opt/app:/usr/local/bin:/usr/bin:/bin");
}

TEST_F(ExpandTest, DollarWithoutName) {
  EXPECT_EQ(Ok("$"), "$");
  EXPECT_EQ(Ok("a$"), "a$");
  EXPECT_EQ(Ok("$/x"), "$/x");
  EXPECT_EQ(Ok("100$ %"), "100$ %");
  // Positional and special parameters are never set in a Dockerfile.
  EXPECT_EQ(Ok("$1x"), "x");
  EXPECT_EQ(Ok("a$?b"), "ab");
  EXPECT_EQ(Ok("$$"), "");
}

TEST_F(ExpandTest, DefaultAndAlternative) {
  EXPECT_EQ(Ok("${UNSET:-def}"), "def");
  EXPECT_EQ(Ok("${EMPTY:-def}"), "def");
  EXPECT_EQ(Ok("${A:-def}"), "alpha");
  EXPECT_EQ(Ok("${UNSET-def}"), "def");
  EXPECT_EQ(Ok("${EMPTY-def}"), "");
  EXPECT_EQ(Ok("${A-def}"), "alpha");

  EXPECT_EQ(Ok("${UNSET:+alt}"), "");
  EXPECT_EQ(Ok("${EMPTY:+alt}"), "");
  EXPECT_EQ(Ok("${A:+alt}"), "alt");
  EXPECT_EQ(Ok("${UNSET+alt}"), "");
  EXPECT_EQ(Ok("${EMPTY+alt}"), "alt");
  EXPECT_EQ(Ok("${A+alt}"), "alt");

  EXPECT_EQ(Ok("${UNSET:-}"), "");
  EXPECT_EQ(Ok("${UNSET:-a b}"), "a b");
}

TEST_F(ExpandTest, NestedWords) {
  EXPECT_EQ(Ok("${UNSET:-$A}"), "alpha");
  EXPECT_EQ(Ok("${UNSET:-${ALSO_UNSET:-deep}}"), "deep");
  EXPECT_EQ(Ok("${UNSET:-\"quoted } brace\"}"), "quoted } brace");
  EXPECT_EQ(Ok("${UNSET:-'$A'}"), "$A");
  EXPECT_EQ(Ok("${A:+[$A]}"), "[alpha]");
}

TEST_F(ExpandTest, Required) {
  EXPECT_EQ(Ok("${A:?}"), "alpha");
  EXPECT_EQ(Ok("${EMPTY?}"), "");
  EXPECT_EQ(Error("${UNSET?}"), "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset");
  EXPECT_EQ(Error("${EMPTY:?}"), "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty");
  EXPECT_EQ(Error("${UNSET:?set UNSET first}"),
            "failed to process \"${UNSET:?set UNSET first}\": UNSET: set UNSET first");
}

TEST_F(ExpandTest, PrefixSuffixAndReplace) {
  EXPECT_EQ(Ok("${V#v}"), "1.2.3");
  EXPECT_EQ(Ok("${V#*.}"), "2.3");
  EXPECT_EQ(Ok("${V##*.}"), "3");
  EXPECT_EQ(Ok("${V%.*}"), "v1.2");
  EXPECT_EQ(Ok("${V%%.*}"), "v1");
  EXPECT_EQ(Ok("${V#nomatch}"), "v1.2.3");
  EXPECT_EQ(Ok("${V/./-}"), "v1-2.3");
  EXPECT_EQ(Ok("${V//./-}"), "v1-2-3");
  EXPECT_EQ(Ok("${V//[0-9]/x}"), "v1.2.3");  // no bracket classes here, as in Docker
  EXPECT_EQ(Ok("${PATH//:/ }"), "/usr/local/bin /usr/bin /bin");
  EXPECT_EQ(Ok("${V/1*/X}"), "vX");  // the longest match
  EXPECT_EQ(Ok("${V/?/X}"), "X1.2.3");
  EXPECT_EQ(Ok("${UNSET#x}"), "");
  EXPECT_EQ(Ok("${V#\\v}"), "1.2.3");
}

TEST_F(ExpandTest, Quotes) {
  EXPECT_EQ(Ok("'$A'"), "$A");
  EXPECT_EQ(Ok("\"$A\""), "alpha");
  EXPECT_EQ(Ok("\"a  b\""), "a  b");
  EXPECT_EQ(Ok("'a \"b\" c'"), "a \"b\" c");
  EXPECT_EQ(Ok("\"it's\""), "it's");
  EXPECT_EQ(Ok("x\"$A\"'$A'y"), "xalpha$Ay");
  EXPECT_EQ(Ok("\"\""), "");
  EXPECT_EQ(Ok("\"${A:-x}\""), "alpha");
}

TEST_F(ExpandTest, Escapes) {
  EXPECT_EQ(Ok("\\$A"), "$A");
  EXPECT_EQ(Ok("\\${A}"), "${A}");  // `\$` is a literal $, then `{A}` is plain text
  EXPECT_EQ(Ok("a\\ b"), "a b");
  EXPECT_EQ(Ok("\\\\"), "\\");
  EXPECT_EQ(Ok("C:\\\\dir"), "C:\\dir");
  EXPECT_EQ(Ok("trailing\\"), "trailing");
  EXPECT_EQ(Ok("'\\$A'"), "\\$A");  // nothing escapes inside single quotes
  // Inside double quotes only " $ and the escape itself can be escaped.
  EXPECT_EQ(Ok("\"\\$A\""), "$A");
  EXPECT_EQ(Ok("\"\\\"\""), "\"");
  EXPECT_EQ(Ok("\"a\\nb\""), "a\\nb");
  EXPECT_EQ(Ok("\"\\\\\""), "\\");
}

TEST_F(ExpandTest, BacktickEscape) {
  EXPECT_EQ(Ok("`$A", '`'), "$A");
  EXPECT_EQ(Ok("c:\\windows\\$A", '`'), "c:\\windows\\alpha");
  EXPECT_EQ(Ok("\"``\"", '`'), "`");
}

TEST_F(ExpandTest, Errors) {
  EXPECT_EQ(Error("${A"), "failed to process \"${A\": syntax error: missing '}'");
  EXPECT_EQ(Error("${"), "failed to process \"${\": syntax error: missing '}'");
  EXPECT_EQ(Error("${A:-x"), "failed to process \"${A:-x\": syntax error: missing '}'");
  EXPECT_EQ(Error("${}"), "failed to process \"${}\": syntax error: bad substitution");
  EXPECT_EQ(Error("${:-x}"), "failed to process \"${:-x}\": syntax error: bad substitution");
  EXPECT_EQ(Error("${{A}}"), "failed to process \"${{A}}\": syntax error: bad substitution");
  EXPECT_EQ(Error("${A:3}"), "failed to process \"${A:3}\": unsupported modifier (:3) in substitution");
  EXPECT_EQ(Error("${A B}"), "failed to process \"${A B}\": unsupported modifier ( ) in substitution");
  EXPECT_EQ(Error("\"abc"),
            "failed to process \"\"abc\": unexpected end of statement while looking for matching "
            "double-quote");
  EXPECT_EQ(Error("'abc"),
            "failed to process \"'abc\": unexpected end of statement while looking for matching "
            "single-quote");
  EXPECT_EQ(Error("${A/x"), "failed to process \"${A/x\": syntax error: missing '/' in ${}");
}

TEST_F(ExpandTest, NoLookupMeansEverythingUnset) {
  Result<std::string> r = Expand("a${X:-b}$Y", nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "ab");
}

TEST_F(ExpandTest, Words) {
  EXPECT_EQ(Split("80  443/tcp\t53/udp"), (Words{"80", "443/tcp", "53/udp"}));
  EXPECT_EQ(Split("\"a b\" c"), (Words{"a b", "c"}));
  EXPECT_EQ(Split("a\\ b c"), (Words{"a b", "c"}));
  EXPECT_EQ(Split("$SPACED z"), (Words{"x", "y", "z"}));  // an expanded value splits
  EXPECT_EQ(Split("\"$SPACED\" z"), (Words{"x  y", "z"}));
  EXPECT_EQ(Split("pre$SPACED"), (Words{"prex", "y"}));
  EXPECT_EQ(Split(""), Words{});
  EXPECT_EQ(Split("   "), Words{});
  EXPECT_EQ(Split("$UNSET"), Words{});
  EXPECT_EQ(Split("'' x"), Words{"x"});  // empty words are dropped
  Result<Words> r = ExpandWords("a \"b", Lookup());
  EXPECT_FALSE(r.ok());
}

TEST_F(ExpandTest, HeredocBodiesKeepQuotes) {
  auto body = [&](std::string_view text) {
    Result<std::string> r = ExpandHeredoc(text, Lookup());
    EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
    return r.ok() ? *r : "<error>";
  };
  EXPECT_EQ(body("a=$A \"q $A\" 'single $A'\n"), "a=alpha \"q alpha\" 'single alpha'\n");
  EXPECT_EQ(body("${MISSING:-def} ${V%.*}\n"), "def v1.2\n");
  EXPECT_EQ(body("cost \\$5 and C:\\dir\n"), "cost $5 and C:\\dir\n");
  EXPECT_EQ(body("unbalanced ' and \"\n"), "unbalanced ' and \"\n");
  EXPECT_FALSE(ExpandHeredoc("${A", Lookup()).ok());
}

}  // namespace
}  // namespace slipway

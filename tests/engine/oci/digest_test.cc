#include "engine/oci/digest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/engine/image/test_layers.h"

namespace slipway {
namespace {

const std::string kHex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(DigestTest, ParseAcceptsCanonicalSha256) {
  auto d = Digest::Parse("sha256:" + kHex64);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->hex(), kHex64);
  EXPECT_EQ(d->str(), "sha256:" + kHex64);
}

TEST(DigestTest, ParseRejectsEverythingElse) {
  std::string upper = kHex64;
  upper[3] = 'A';
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), "sha256:",
           kHex64,                                   // no algorithm
           "sha256:" + upper,                        // uppercase
           "sha256:" + kHex64.substr(1),             // 63 digits
           "sha256:" + kHex64 + "0",                 // 65 digits
           "sha512:" + kHex64 + kHex64,              // another algorithm
           "SHA256:" + kHex64,                       //
           "sha256:" + kHex64.substr(0, 62) + "/x",  // path characters
           "sha256:../" + kHex64.substr(3),          //
           "sha256:" + kHex64.substr(0, 63) + "g",   // not hex
           " sha256:" + kHex64,                      //
       }) {
    auto d = Digest::Parse(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), Code::kInvalidArgument) << bad;
    }
  }
  // NUL inside the text must not terminate the check early.
  EXPECT_FALSE(Digest::Parse(std::string("sha256:") + kHex64.substr(0, 63) + std::string(1, '\0')).ok());
}

TEST(DigestTest, Sha256KnownVectors) {
  EXPECT_EQ(Digest::Of("").hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::Of("abc").hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Incremental updates give the same result as one shot.
  Sha256 h;
  h.Update("a");
  h.Update(std::string_view("bc"));
  EXPECT_EQ(h.Finish(), Digest::Of("abc"));
}

TEST(DigestTest, Sha256MatchesSha256sumOnLargeInput) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data += static_cast<char>(i * 7 + (i >> 8));
  Sha256 h;
  for (size_t pos = 0; pos < data.size(); pos += 4093) h.Update(std::string_view(data).substr(pos, 4093));
  EXPECT_EQ(h.Finish().hex(), testing::ExternalSha256(data));
}

TEST(DigestTest, ChainId) {
  Digest l0 = Digest::Of("layer zero");
  Digest l1 = Digest::Of("layer one");
  // One layer: the chain id is the diff id.
  EXPECT_EQ(ChainId(Digest(), l0), l0);
  // Two layers: sha256("sha256:<l0> sha256:<l1>"), computed by sha256sum.
  std::string expected = testing::ExternalSha256("sha256:" + l0.hex() + " sha256:" + l1.hex());
  EXPECT_EQ(ChainId(l0, l1).hex(), expected);
  // Three: chained on the previous chain id, not on the diff ids.
  Digest l2 = Digest::Of("layer two");
  std::string expected3 = testing::ExternalSha256("sha256:" + expected + " sha256:" + l2.hex());
  EXPECT_EQ(ChainId(ChainId(l0, l1), l2).hex(), expected3);
  EXPECT_NE(ChainId(l1, l0), ChainId(l0, l1));
}

}  // namespace
}  // namespace slipway
